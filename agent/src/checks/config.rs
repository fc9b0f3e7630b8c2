//! A check's configuration: which plugin, how often, with what grants and
//! limits, and the plugin's own settings.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

/// A check: a Wasm plugin run on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// The plugin: a first-party check shipped inside the agent
    /// (`cert_expiry`, `disk_usage`, `backup_verify`, `heartbeat`), or
    /// `wasm` for a third-party component named by `plugin` or `path`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `type: wasm`: the plugin's file name without `.wasm` in
    /// `plugins.directory`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// For `type: wasm`: the path of the `.wasm` component.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// For `type: wasm`: the component's expected SHA-256 (hex). A file
    /// that does not match is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Seconds between runs.
    #[serde(default = "default_check_interval_secs")]
    pub interval_secs: u64,
    /// Random delay added to each interval, as a percentage of it, so that
    /// a fleet of agents does not probe the same endpoint in lockstep.
    #[serde(default = "default_check_jitter_percent")]
    pub jitter_percent: u8,
    /// The plugin's own configuration, handed to it as JSON.
    #[serde(default = "empty_object")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub config: serde_json::Value,
    /// What the plugin may touch. Everything not granted is denied.
    #[serde(default)]
    pub grants: crate::wasm::Grants,
    /// Resource limits of one run. A run that hits one fails alone, with
    /// the limit named in its outcome.
    #[serde(default)]
    pub limits: crate::wasm::Limits,
}

// === impl CheckConfig ===

impl Validate for CheckConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        let check = self;
        let first_party = crate::embedded::FIRST_PARTY;
        match check.kind.as_str() {
            "wasm" => {
                if check.plugin.is_none() == check.path.is_none() {
                    errors.push(path.error(
                        "a `type: wasm` check needs exactly one of `plugin` (a name in plugins.directory) or `path` (a .wasm file)",
                    ));
                }
                if let Some(name) = &check.plugin
                    && (name.is_empty() || name.contains('/') || name.contains(".."))
                {
                    errors.push(path.field("plugin").error(format!(
                        "`{name}` is not a plugin name: expected the file name without `.wasm`, no directories"
                    )));
                }
            }
            kind if first_party.iter().any(|p| p.check_type == kind) => {
                for field in ["plugin", "path", "sha256"] {
                    let set = match field {
                        "plugin" => check.plugin.is_some(),
                        "path" => check.path.is_some(),
                        _ => check.sha256.is_some(),
                    };
                    if set {
                        errors.push(path.field(field).error(format!(
                            "only applies to `type: wasm`; `{kind}` is built into the agent"
                        )));
                    }
                }
            }
            other => {
                let mut types: Vec<&str> = first_party.iter().map(|p| p.check_type).collect();
                types.push("wasm");
                errors.push(path.field("type").error(format!(
                    "unknown check type `{other}`, expected one of {}",
                    types.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if let Some(sha) = &check.sha256
            && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()))
        {
            errors.push(path.field("sha256").error("expected 64 hexadecimal digits"));
        }
        if check.interval_secs == 0 {
            errors.push(path.field("interval_secs").error("must be at least 1"));
        }
        if check.jitter_percent > 100 {
            errors.push(
                path.field("jitter_percent")
                    .error("must be between 0 and 100"),
            );
        }
        if !check.config.is_object() {
            errors.push(
                path.field("config")
                    .error("expected a map of the plugin's settings"),
            );
        }
        sandbox_problems(&check.limits, &check.grants, path, errors);
    }
}

/// The problems of a plugin's `limits` and `grants` (a check's or a
/// processor's), at their field paths under `path`.
pub(crate) fn sandbox_problems(
    limits: &crate::wasm::Limits,
    grants: &crate::wasm::Grants,
    path: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    for problem in limits.problems() {
        errors.push(
            path.field("limits")
                .field(problem.field)
                .error(problem.message),
        );
    }
    for problem in grants.problems() {
        errors.push(
            path.field("grants")
                .field(problem.field)
                .index(problem.index)
                .error(problem.message),
        );
    }
}

// === defaults ===

fn default_check_interval_secs() -> u64 {
    60
}

fn default_check_jitter_percent() -> u8 {
    10
}

/// `{}`: a plugin's `config:` when absent.
pub(crate) fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}
