//! A check's loaded plugin, wherever it runs: in the agent's process, or in
//! a plugin worker process of its own (`plugins.isolation`).

use std::sync::Arc;

use serde_json::json;

use super::plan::CheckPlan;
use crate::config::Isolation;
use crate::wasm::worker::{WorkerOptions, WorkerPlugin};
use crate::wasm::{LoadError, LoadedPlugin, PluginHost, PluginInfo, RunReport};

/// A loaded plugin the scheduler runs.
#[derive(Debug, Clone)]
pub enum CheckPlugin {
    /// Runs in the agent's process.
    InProcess(Arc<LoadedPlugin>),
    /// Runs in a worker process.
    Worker(Arc<WorkerPlugin>),
}

// === impl CheckPlugin ===

impl CheckPlugin {
    /// Loads the plan's plugin where its isolation says.
    pub async fn load(
        host: &PluginHost,
        plan: &CheckPlan,
        worker: &WorkerOptions,
    ) -> Result<Self, LoadError> {
        let (name, source) = (&*plan.name, plan.source.clone());
        let (limits, grants) = (plan.limits.clone(), plan.grants.clone());
        Ok(match plan.isolation {
            Isolation::InProcess => {
                CheckPlugin::InProcess(host.load(name, source, limits, grants).await?)
            }
            Isolation::Worker => CheckPlugin::Worker(
                WorkerPlugin::start(host, name, source, limits, grants, worker.clone()).await?,
            ),
        })
    }

    /// What the plugin is.
    pub fn info(&self) -> PluginInfo {
        match self {
            CheckPlugin::InProcess(plugin) => plugin.info().clone(),
            CheckPlugin::Worker(plugin) => plugin.info(),
        }
    }

    /// Runs it once.
    pub async fn run(&self, config_json: &str) -> RunReport {
        match self {
            CheckPlugin::InProcess(plugin) => plugin.run(config_json).await,
            CheckPlugin::Worker(plugin) => plugin.run(config_json).await,
        }
    }

    /// Its quarantine and, in a worker, the worker's state, for `/status`.
    pub fn status_json(&self) -> (serde_json::Value, serde_json::Value) {
        let quarantine = match self {
            CheckPlugin::InProcess(plugin) => plugin.quarantine(),
            CheckPlugin::Worker(plugin) => plugin.quarantine(),
        };
        let quarantine = json!({
            "consecutive_failures": quarantine.consecutive_failures,
            "quarantined_for_secs": quarantine.remaining.map(|d| d.as_secs_f64()),
            "level": quarantine.level,
            "last_failure": quarantine.last_failure,
        });
        let worker = match self {
            CheckPlugin::InProcess(_) => serde_json::Value::Null,
            CheckPlugin::Worker(plugin) => {
                serde_json::to_value(plugin.status()).unwrap_or_default()
            }
        };
        (quarantine, worker)
    }
}
