//! What a check's configuration resolves to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::runtime::PluginRuntime;
use crate::config::{CheckConfig, Isolation};
use crate::embedded;
use crate::topology::BuildError;
use crate::wasm::{Grants, Limits, PluginSource};

/// A check ready to be scheduled.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    /// The check's name.
    pub name: Arc<str>,
    /// The component.
    pub source: PluginSource,
    /// The component's file, for third-party plugins (watched for changes).
    pub file: Option<PathBuf>,
    /// Limits of one run.
    pub limits: Limits,
    /// What the plugin may touch.
    pub grants: Grants,
    /// Time between runs.
    pub interval: Duration,
    /// Random extra delay, as a share of the interval (0 to 1).
    pub jitter: f64,
    /// The plugin's configuration as JSON.
    pub config_json: String,
    /// Where the plugin runs.
    pub isolation: Isolation,
}

// === impl CheckPlan ===

impl CheckPlan {
    /// Resolve `config` (already validated) for check `name`.
    pub fn new(
        name: &str,
        config: &CheckConfig,
        runtime: &PluginRuntime,
    ) -> Result<CheckPlan, BuildError> {
        let (source, file) = plugin_source(config, runtime.directory())?;
        if config.limits.fuel.is_some() && !runtime.fuel() {
            return Err(BuildError::new(
                "limits.fuel needs fuel metering, which is chosen when the agent starts: restart the agent to apply it",
            ));
        }
        let limits = config.limits.clone();
        let isolation = runtime.isolation(file.is_none());
        let grants = config.grants.clone();
        Ok(CheckPlan {
            name: Arc::from(name),
            source,
            file,
            limits,
            grants,
            interval: Duration::from_secs(config.interval_secs),
            jitter: f64::from(config.jitter_percent.min(100)) / 100.0,
            config_json: config.config.to_string(),
            isolation,
        })
    }
}

/// The component `config` names: a first-party plugin built into the
/// agent, or a file (`path`, or `plugin` in the plugins `directory`), which
/// is returned too.
pub fn plugin_source(
    config: &CheckConfig,
    directory: Option<&Path>,
) -> Result<(PluginSource, Option<PathBuf>), BuildError> {
    if let Some(plugin) = embedded::find(&config.kind) {
        let source = PluginSource::Embedded {
            name: plugin.name,
            bytes: plugin.bytes,
        };
        return Ok((source, None));
    }
    let path = match (&config.path, &config.plugin) {
        (Some(path), _) => path.clone(),
        (None, Some(plugin)) => directory
            .ok_or_else(|| {
                BuildError::new(format!(
                    "`plugin: {plugin}` names a file in plugins.directory, which is not set"
                ))
            })?
            .join(format!("{plugin}.wasm")),
        (None, None) => {
            return Err(BuildError::new(
                "a `type: wasm` check needs `plugin` or `path`",
            ));
        }
    };
    let source = PluginSource::File {
        path: path.clone(),
        sha256: config.sha256.clone(),
    };
    Ok((source, Some(path)))
}
