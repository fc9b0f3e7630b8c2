//! `kv-pipe`: an example log processor. It turns lines in a custom
//! `key=value|key=value` format into attributes and drops health-check
//! requests, in one call per batch.
//!
//! For each record:
//!
//! 1. if the body contains `GET <path>` for one of `drop_paths` (the path
//!    followed by a space, `?`, the separator or the end), the record is
//!    dropped;
//! 2. otherwise the body is split at `separator`; every piece of the form
//!    `key=value` (key not empty) becomes an attribute, a whole number as an
//!    integer, anything else as a string. Pieces without `=` are left alone;
//! 3. if `message_key` is set and the line had that key, the body becomes
//!    its value (and the key is not repeated as an attribute); otherwise
//!    the body stays as it was.
//!
//! A line with no `key=value` piece passes through unchanged.

use neurallog_plugin_sdk::schemars::JsonSchema;
use neurallog_plugin_sdk::{
    Batch, PluginInfo, ProcessError, Processor, Record, Value, export_processor,
};
use serde::Deserialize;

/// Configuration of `kv-pipe`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "neurallog_plugin_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What separates the `key=value` pairs of a line.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Request paths whose `GET` lines are dropped (health checks).
    #[serde(default = "default_drop_paths")]
    pub drop_paths: Vec<String>,
    /// The key whose value becomes the record's body, if any.
    #[serde(default)]
    pub message_key: Option<String>,
}

fn default_separator() -> String {
    "|".to_owned()
}

fn default_drop_paths() -> Vec<String> {
    vec!["/healthz".to_owned()]
}

/// The processor.
pub struct KvPipe;

impl Processor for KvPipe {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Parses `key=value|key=value` lines into attributes and drops health-check requests.",
        )
        .config_schema_of::<Config>()
    }

    fn process(config: &Config, batch: Batch) -> Result<Vec<Record>, ProcessError> {
        if config.separator.is_empty() {
            return Err(ProcessError::InvalidConfig(
                "separator: must not be empty".to_owned(),
            ));
        }
        Ok(batch
            .records
            .into_iter()
            .filter(|record| !is_health_check(&record.body, config))
            .map(|record| parse(record, config))
            .collect())
    }
}

export_processor!(KvPipe);

/// Whether `body` is a `GET` of one of the configured paths.
fn is_health_check(body: &str, config: &Config) -> bool {
    body.match_indices("GET ").any(|(at, _)| {
        let rest = &body[at + 4..];
        config.drop_paths.iter().any(|path| {
            rest.strip_prefix(path.as_str()).is_some_and(|after| {
                after.is_empty()
                    || after.starts_with([' ', '?'])
                    || after.starts_with(config.separator.as_str())
            })
        })
    })
}

/// `record` with the pairs of its body as attributes.
fn parse(mut record: Record, config: &Config) -> Record {
    let mut message = None;
    let mut pairs = Vec::new();
    for piece in record.body.split(config.separator.as_str()) {
        let Some((key, value)) = piece.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        if config.message_key.as_deref() == Some(key) {
            message = Some(value.to_owned());
            continue;
        }
        let value = match value.parse::<i64>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::String(value.to_owned()),
        };
        pairs.push((key.to_owned(), value));
    }
    for (key, value) in pairs {
        record.set_attribute(key, value);
    }
    if let Some(message) = message {
        record.body = message;
    }
    record
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::run_processor;

    use super::*;

    fn bodies(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.body.as_str()).collect()
    }

    #[test]
    fn pairs_become_attributes_and_numbers_integers() {
        let out = run_processor::<KvPipe>(
            "{}",
            Batch::of_bodies(["method=POST|path=/login|status=401|user=bob"]),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let record = &out[0];
        assert_eq!(record.body, "method=POST|path=/login|status=401|user=bob");
        assert_eq!(
            record.attributes,
            [
                ("method".to_owned(), Value::from("POST")),
                ("path".to_owned(), Value::from("/login")),
                ("status".to_owned(), Value::Int(401)),
                ("user".to_owned(), Value::from("bob")),
            ]
        );
    }

    #[test]
    fn health_checks_are_dropped_and_order_kept() {
        let out = run_processor::<KvPipe>(
            "{}",
            Batch::of_bodies([
                "a=1",
                "req=GET /healthz|status=200",
                "req=GET /healthz?full=1",
                "req=GET /healthzx|status=200",
                "req=GET /api|status=200",
            ]),
        )
        .unwrap();
        assert_eq!(
            bodies(&out),
            [
                "a=1",
                "req=GET /healthzx|status=200",
                "req=GET /api|status=200"
            ]
        );
        // Each kept record still names the record it came from.
        assert_eq!(out.iter().map(|r| r.origin).collect::<Vec<_>>(), [0, 3, 4]);
    }

    #[test]
    fn message_key_becomes_the_body_and_other_paths_can_be_dropped() {
        let config = r#"{"separator": ";", "drop_paths": ["/ready"], "message_key": "msg"}"#;
        let out = run_processor::<KvPipe>(
            config,
            Batch::of_bodies(["msg=hello world;level=info", "GET /ready", "plain line"]),
        )
        .unwrap();
        assert_eq!(bodies(&out), ["hello world", "plain line"]);
        assert_eq!(
            out[0].attributes,
            [("level".to_owned(), Value::from("info"))]
        );
        assert!(
            out[1].attributes.is_empty(),
            "a line without pairs is untouched"
        );
    }

    #[test]
    fn a_bad_config_names_the_field() {
        let error = run_processor::<KvPipe>(r#"{"separater": ","}"#, Batch::default())
            .expect_err("a misspelt field is refused");
        let ProcessError::InvalidConfig(message) = error else {
            panic!("expected InvalidConfig, got {error:?}");
        };
        assert!(message.contains("separater"), "{message}");
        let error = run_processor::<KvPipe>(r#"{"separator": ""}"#, Batch::default())
            .expect_err("an empty separator is refused");
        assert_eq!(
            error,
            ProcessError::InvalidConfig("separator: must not be empty".to_owned())
        );
    }

    #[test]
    fn the_schema_lists_the_fields() {
        let schema = KvPipe::info().config_schema;
        for field in ["separator", "drop_paths", "message_key"] {
            assert!(schema.contains(field), "{field} missing from {schema}");
        }
    }
}
