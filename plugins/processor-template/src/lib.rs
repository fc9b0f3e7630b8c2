//! `processor-template`: the smallest useful log processor, and the
//! starting point for your own (see `plugins/README.md`).
//!
//! The agent hands it each batch of log records of the `wasm` transform
//! that names it, by column (world `column-processor`), and it says for
//! each record whether it goes on as it came, is dropped, or is replaced.
//! This one drops the records whose body contains one of
//! `drop_if_contains`, and marks every record it keeps with the attribute
//! `add_attribute` (when set) holding the value `add_value`. A record kept
//! as it came costs the agent next to nothing; one it marks is sent back
//! whole.
//!
//! The decision for one record ([`keep`]) is a pure function, so
//! `cargo test` covers it natively without a host; `run_column_processor`
//! runs the whole processor as the agent would.

use neurallog_plugin_sdk::{ColumnProcessor, Columns, PluginInfo, ProcessError, Verdicts};
use schemars::JsonSchema;
use serde::Deserialize;

/// Configuration: the transform's `config:` section.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Records whose body contains any of these are dropped.
    #[serde(default)]
    pub drop_if_contains: Vec<String>,
    /// An attribute set on every record kept, if given.
    #[serde(default)]
    pub add_attribute: Option<String>,
    /// The value of `add_attribute`.
    #[serde(default)]
    pub add_value: String,
}

/// The processor. [`neurallog_plugin_sdk::export_column_processor!`] below
/// makes it the component's `describe` and `process-columns`.
pub struct LineProcessor;

neurallog_plugin_sdk::export_column_processor!(LineProcessor);

impl ColumnProcessor for LineProcessor {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Drops records containing given text and marks the others with an attribute.",
        )
        .config_schema_of::<Config>()
    }

    fn process(
        config: &Config,
        batch: &Columns,
        verdicts: &mut Verdicts,
    ) -> Result<(), ProcessError> {
        if config.drop_if_contains.iter().any(String::is_empty) {
            return Err(ProcessError::InvalidConfig(
                "drop_if_contains: an empty text would drop every record".to_owned(),
            ));
        }
        for i in 0..batch.len() {
            if !keep(config, batch.body(i)) {
                verdicts.drop(i);
            } else if let Some(key) = &config.add_attribute {
                let mut record = batch.record(i);
                record.set_attribute(key.as_str(), config.add_value.as_str());
                verdicts.replace(i, record);
            }
            // Otherwise the record goes on as it came.
        }
        Ok(())
    }
}

/// Whether a record with this body goes on.
pub fn keep(config: &Config, body: &str) -> bool {
    !config
        .drop_if_contains
        .iter()
        .any(|text| body.contains(text.as_str()))
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::{Batch, Record, Value, run_column_processor};

    use super::*;

    fn bodies(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.body.as_str()).collect()
    }

    #[test]
    fn without_config_every_record_goes_on_unchanged() {
        let batch = Batch::of_bodies(["a", "b"]);
        let out = run_column_processor::<LineProcessor>("{}", &batch).unwrap();
        assert_eq!(out, batch.records);
    }

    #[test]
    fn records_containing_a_text_are_dropped_in_order() {
        let config = r#"{"drop_if_contains": ["GET /healthz", "DEBUG"]}"#;
        let batch = Batch::of_bodies(["one", "GET /healthz 200", "two DEBUG", "three"]);
        let out = run_column_processor::<LineProcessor>(config, &batch).unwrap();
        assert_eq!(bodies(&out), ["one", "three"]);
        assert_eq!(out.iter().map(|r| r.origin).collect::<Vec<_>>(), [0, 3]);
    }

    #[test]
    fn kept_records_get_the_attribute() {
        let config = r#"{"add_attribute": "pipeline", "add_value": "edge"}"#;
        let out = run_column_processor::<LineProcessor>(config, &Batch::of_bodies(["a"])).unwrap();
        assert_eq!(out[0].attribute("pipeline"), Some(&Value::from("edge")));
    }

    #[test]
    fn an_empty_text_is_a_config_error() {
        let config = r#"{"drop_if_contains": [""]}"#;
        let error =
            run_column_processor::<LineProcessor>(config, &Batch::of_bodies(["a"])).unwrap_err();
        assert!(
            matches!(&error, ProcessError::InvalidConfig(m) if m.starts_with("drop_if_contains")),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let error = run_column_processor::<LineProcessor>(r#"{"drop": []}"#, &Batch::default())
            .unwrap_err();
        assert!(matches!(error, ProcessError::InvalidConfig(_)), "{error:?}");
    }
}
