//! The agent's one plugin host, created when the first check or `wasm`
//! transform needs it (an agent without either never starts a wasmtime
//! engine), and the limit on check runs in flight.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::config::{Isolation, PluginsConfig};
use crate::error::Chain;
use crate::topology::BuildError;
use crate::wasm::worker::WorkerOptions;
use crate::wasm::{HostSettings, PluginHost};

/// Instance slots beyond the checks' for processors (`type: wasm`
/// transforms): each keeps one instance, and so one slot of the pool, for
/// as long as it runs, and a reload briefly runs the old one beside the new.
const PROCESSOR_INSTANCE_SLOTS: u32 = 8;

/// Shared by every check and `wasm` transform of the agent.
#[derive(Debug)]
pub struct PluginRuntime {
    config: PluginsConfig,
    /// The executable started as a plugin worker (the agent's own unless
    /// a benchmark or test says otherwise).
    worker_executable: Option<PathBuf>,
    data_dir: PathBuf,
    fuel: bool,
    host: OnceLock<Result<Arc<PluginHost>, String>>,
    slots: Arc<Semaphore>,
}

// === impl PluginRuntime ===

impl PluginRuntime {
    /// A runtime for `config`, keeping its cache and state in `data_dir`.
    /// `fuel` turns on fuel metering (needed by any check with a fuel
    /// limit; it cannot change without a restart).
    pub fn new(config: PluginsConfig, data_dir: &Path, fuel: bool) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_runs.max(1) as usize));
        PluginRuntime {
            config,
            worker_executable: None,
            data_dir: data_dir.to_owned(),
            fuel,
            host: OnceLock::new(),
            slots,
        }
    }

    /// Start plugin workers from `executable` (an agent binary) rather than
    /// from the running executable: for benchmarks and tests, whose own
    /// executable is not the agent.
    pub fn with_worker_executable(mut self, executable: PathBuf) -> Self {
        self.worker_executable = Some(executable);
        self
    }

    /// The plugin host, started on first use.
    pub fn host(&self) -> Result<Arc<PluginHost>, BuildError> {
        self.host
            .get_or_init(|| {
                let mut settings = HostSettings::new(self.data_dir.join("plugin-state"));
                settings.cache_dir = self
                    .config
                    .cache
                    .then(|| self.data_dir.join("plugin-cache"));
                settings.memory_budget_bytes = self.config.memory_budget_bytes;
                settings.max_concurrent_instances = self
                    .config
                    .max_concurrent_runs
                    .saturating_add(2)
                    .saturating_add(PROCESSOR_INSTANCE_SLOTS);
                settings.mounts_file.clone_from(&self.config.mounts_file);
                settings.fuel_enabled = self.fuel;
                PluginHost::new(settings)
                    .map(Arc::new)
                    .map_err(|e| Chain(&e).to_string())
            })
            .clone()
            .map_err(|cause| BuildError::caused("cannot start the plugin host", cause))
    }

    /// Whether fuel metering is on.
    pub fn fuel(&self) -> bool {
        self.fuel
    }

    /// Permits for running checks, `plugins.max_concurrent_runs` of them.
    pub fn slots(&self) -> Arc<Semaphore> {
        Arc::clone(&self.slots)
    }

    /// Where a plugin runs: first-party (built in) or third-party.
    pub fn isolation(&self, first_party: bool) -> Isolation {
        match first_party {
            true => self.config.isolation.first_party,
            false => self.config.isolation.third_party,
        }
    }

    /// How plugin workers are started and confined.
    pub fn worker_options(&self) -> WorkerOptions {
        let worker = &self.config.worker;
        let defaults = WorkerOptions::default();
        WorkerOptions {
            executable: self
                .worker_executable
                .clone()
                .unwrap_or(defaults.executable),
            user: worker.user.clone(),
            group: worker.group.clone(),
            cpu_secs: worker.cpu_secs,
            cgroup: worker.cgroup,
            ..defaults
        }
    }

    /// The directory third-party plugins are named in, if configured.
    pub fn directory(&self) -> Option<&Path> {
        self.config.directory.as_deref()
    }
}
