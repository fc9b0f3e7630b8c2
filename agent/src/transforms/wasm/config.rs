//! The `wasm` transform's configuration: which processor plugin, its own
//! settings, its grants and limits, and what happens to a batch it fails.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::config::{empty_object, sandbox_problems};
use crate::config::{ConfigError, FieldPath, Validate};

/// Run each batch of log records through a Wasm processor plugin (world
/// `neurallog:plugin/processor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WasmTransformConfig {
    /// The plugin's file name without `.wasm` in `plugins.directory`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// The path of the `.wasm` component (instead of `plugin`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The component's expected SHA-256 (hex). A file that does not match
    /// is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The plugin's own configuration, handed to it as JSON with every
    /// batch and checked by `validate` against the schema the plugin
    /// publishes.
    #[serde(default = "empty_object")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub config: serde_json::Value,
    /// What the plugin may touch. Everything not granted is denied.
    #[serde(default)]
    pub grants: crate::wasm::Grants,
    /// Resource limits, as for checks; `timeout_ms`, `fuel` and the
    /// host-call and log budgets apply to each batch, `memory_bytes` to the
    /// instance, which serves batch after batch until it fails.
    #[serde(default)]
    pub limits: crate::wasm::Limits,
    /// What happens to a batch the processor fails (a trap, a limit, an
    /// error it returns, output over the bound): `pass` forwards it as it
    /// came, unprocessed, and counts it; `retry` holds it and tries again
    /// with backoff (reloading the plugin's file each time), and the
    /// batch's source waits.
    #[serde(default)]
    pub on_error: OnError,
    /// Most records the processor may return per record it is given (a
    /// split line). More is a failed batch.
    #[serde(default = "default_max_output_records_per_input")]
    pub max_output_records_per_input: u32,
    /// Most bytes (bodies, attributes) the processor may return per byte it
    /// is given. More is a failed batch.
    #[serde(default = "default_max_output_bytes_per_input")]
    pub max_output_bytes_per_input: u32,
}

/// What happens to a batch the processor fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Forward the batch unprocessed (counted in
    /// `neurallog_agent_transform_processor_failures_total`).
    #[default]
    Pass,
    /// Hold the batch and try again with backoff until it is processed.
    Retry,
}

// === impl WasmTransformConfig ===

impl Validate for WasmTransformConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.plugin.is_none() == self.path.is_none() {
            errors.push(path.error(
                "a `type: wasm` transform needs exactly one of `plugin` (a name in plugins.directory) or `path` (a .wasm file)",
            ));
        }
        if let Some(name) = &self.plugin
            && (name.is_empty() || name.contains('/') || name.contains(".."))
        {
            errors.push(path.field("plugin").error(format!(
                "`{name}` is not a plugin name: expected the file name without `.wasm`, no directories"
            )));
        }
        if let Some(sha) = &self.sha256
            && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()))
        {
            errors.push(path.field("sha256").error("expected 64 hexadecimal digits"));
        }
        if !self.config.is_object() {
            errors.push(
                path.field("config")
                    .error("expected a map of the plugin's settings"),
            );
        }
        for (field, value) in [
            (
                "max_output_records_per_input",
                self.max_output_records_per_input,
            ),
            (
                "max_output_bytes_per_input",
                self.max_output_bytes_per_input,
            ),
        ] {
            if value == 0 {
                errors.push(path.field(field).error("must be at least 1"));
            }
        }
        sandbox_problems(&self.limits, &self.grants, path, errors);
    }
}

// === defaults ===

fn default_max_output_records_per_input() -> u32 {
    16
}

fn default_max_output_bytes_per_input() -> u32 {
    8
}
