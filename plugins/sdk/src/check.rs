//! The [`Check`] trait a plugin implements, its [`PluginInfo`], the
//! [`RunError`] it may return, and config parsing.
//!
//! The agent passes the check's `config:` section to `run` as a JSON string
//! (`{}` when absent). The SDK parses it into [`Check::Config`] with serde and,
//! when that fails, answers with [`RunError::InvalidConfig`] naming the field
//! path, for example `endpoints[1].port: invalid value: integer 70000,
//! expected u16`.

use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::result::CheckResult;

/// A check plugin. Implement it on a unit struct and export it with
/// [`export_check!`](crate::export_check).
///
/// ```
/// use neurallog_plugin_sdk::{Check, CheckResult, NoConfig, PluginInfo, RunError};
///
/// struct Hello;
///
/// impl Check for Hello {
///     type Config = NoConfig;
///
///     fn info() -> PluginInfo {
///         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "Says hello.")
///     }
///
///     fn run(_config: NoConfig) -> Result<CheckResult, RunError> {
///         Ok(CheckResult::ok("hello"))
///     }
/// }
///
/// neurallog_plugin_sdk::export_check!(Hello);
/// # fn main() {}
/// ```
pub trait Check {
    /// The check's configuration, deserialized from the JSON the agent
    /// passes. Use `#[serde(deny_unknown_fields)]` so that a typo in the
    /// agent's YAML is reported instead of ignored, and [`NoConfig`] when the
    /// check takes none.
    type Config: DeserializeOwned;

    /// Name, version, description and config schema. Called once when the
    /// agent loads the plugin.
    fn info() -> PluginInfo;

    /// Runs the check once. Each run is a fresh instance: keep what must
    /// outlive it in [`crate::state`].
    ///
    /// # Errors
    ///
    /// [`RunError::InvalidConfig`] when the config parses but is not usable
    /// (for example a warning threshold below the critical one), and
    /// [`RunError::Failed`] when the check could not be carried out at all.
    /// Problems with what is being checked (an expired certificate, an
    /// unreachable endpoint) belong in the [`CheckResult`]'s status instead.
    fn run(config: Self::Config) -> Result<CheckResult, RunError>;
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Plugin name, `kebab-case`, for example `cert-expiry`.
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// One paragraph on what the check does.
    pub description: String,
    /// JSON Schema of the configuration `run` accepts, as a JSON document,
    /// or an empty string when the plugin takes none.
    pub config_schema: String,
}

/// Why a run produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The configuration is not valid for this plugin; the message names the
    /// field and what was expected.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The check could not be carried out; the message says why.
    #[error("check failed: {0}")]
    Failed(String),
}

/// The config of a check that takes none: accepts `{}` (or no config at
/// all) and rejects any field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

// === impl PluginInfo ===

impl PluginInfo {
    /// Info with the given name, version and description and no config
    /// schema. Pass `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`
    /// to keep them in step with `Cargo.toml`.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            config_schema: String::new(),
        }
    }

    /// Sets the config schema from a JSON Schema document.
    #[must_use]
    pub fn config_schema(mut self, schema: impl Into<String>) -> Self {
        self.config_schema = schema.into();
        self
    }

    /// Sets the config schema derived from `T` with
    /// `#[derive(schemars::JsonSchema)]` (use the re-export
    /// `neurallog_plugin_sdk::schemars`). Field doc comments become the
    /// schema's descriptions, and `#[serde(default = "...")]` values its
    /// defaults.
    #[cfg(feature = "schema")]
    #[must_use]
    pub fn config_schema_of<T: schemars::JsonSchema>(self) -> Self {
        let schema = schemars::schema_for!(T);
        // Serializing a `Schema` (a JSON value) cannot fail; fall back to no
        // schema rather than trap if it ever did.
        self.config_schema(serde_json::to_string(&schema).unwrap_or_default())
    }
}

// === impl RunError ===

impl RunError {
    /// An [`RunError::InvalidConfig`] for the field at `path` (for example
    /// `sets[0].max_age_secs`), in the same form as parse errors.
    #[must_use]
    pub fn invalid_config(path: &str, message: impl fmt::Display) -> Self {
        RunError::InvalidConfig(format!("{path}: {message}"))
    }

    /// A [`RunError::Failed`] with the given message.
    #[must_use]
    pub fn failed(message: impl fmt::Display) -> Self {
        RunError::Failed(message.to_string())
    }
}

/// Parses a check's JSON config into `T`. An empty string counts as `{}`.
///
/// # Errors
///
/// [`RunError::InvalidConfig`] with the path of the offending field first,
/// for example `sets[0].glob: invalid type: integer `3`, expected a string`.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, RunError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            RunError::InvalidConfig(inner.to_string())
        } else {
            RunError::InvalidConfig(format!("{path}: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| RunError::InvalidConfig(error.to_string()))?;
    Ok(parsed)
}

/// Parses `config_json` and runs check `C`, exactly as the agent's call to
/// the exported `run` does. Use it in native tests to exercise a check end
/// to end against the mock host in [`crate::testing`].
///
/// # Errors
///
/// Whatever parsing the config or [`Check::run`] returns.
pub fn run_check<C: Check>(config_json: &str) -> Result<CheckResult, RunError> {
    C::run(parse_config(config_json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Config {
        items: Vec<Item>,
        #[serde(default)]
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        port: u16,
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let error = parse_config::<Config>(r#"{"items": [{"port": 1}, {"port": 70000}]}"#)
            .expect_err("70000 is not a u16");
        let RunError::InvalidConfig(message) = error else {
            panic!("expected InvalidConfig, got {error:?}");
        };
        assert!(
            message.starts_with("items[1].port: invalid value: integer `70000`"),
            "{message}"
        );
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let error = parse_config::<Config>(r#"{"items": [{"prot": 1}]}"#).expect_err("typo");
        let message = error.to_string();
        assert!(message.contains("unknown field `prot`"), "{message}");
        assert!(message.contains("items[0]"), "{message}");
    }

    #[test]
    fn empty_string_is_an_empty_object() {
        assert_eq!(
            parse_config::<NoConfig>("").expect("empty is {}"),
            NoConfig {}
        );
        assert_eq!(
            parse_config::<NoConfig>(" {} ").expect("{} parses"),
            NoConfig {}
        );
        assert!(parse_config::<NoConfig>(r#"{"x": 1}"#).is_err());
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        assert!(parse_config::<NoConfig>("{} {}").is_err());
    }

    #[test]
    fn invalid_config_helper_formats_like_parse_errors() {
        assert_eq!(
            RunError::invalid_config("warning_days", "must be above critical_days").to_string(),
            "invalid config: warning_days: must be above critical_days"
        );
    }
}
