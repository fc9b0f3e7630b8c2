//! [`PluginHost`]: the one plugin host of an agent. It owns the engine, the
//! linker, the epoch ticker, the compiled-artifact cache and the host-wide
//! memory budget, and loads plugins into [`LoadedPlugin`]s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;
use wasmtime::component::Linker;

use super::cache::ArtifactCache;
use super::engine::{self, EngineError, EpochTicker};
use super::error::LoadError;
use super::fsutil;
use super::host::state::{PluginState, StateOpenError};
use super::host::{self};
use super::inspect::{self, InspectError, Inspection};
use super::limits::{Limits, MemoryBudget};
use super::loader;
use super::permissions::Grants;
use super::plugin::LoadedPlugin;
use super::processor::LoadedProcessor;
use super::settings::HostSettings;
use super::shared::Shared;
use super::source::PluginSource;

/// The plugin host could not start.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The engine or its ticker.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The host functions could not be linked (a bug).
    #[error("cannot link the plugin host functions: {0:#}")]
    Linker(wasmtime::Error),
    /// A directory the host writes to cannot be created.
    #[error("cannot use {what} directory {path}")]
    Dir {
        /// Which directory.
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The plugin host: one per agent.
pub struct PluginHost {
    shared: Arc<Shared>,
}

// === impl PluginHost ===

impl PluginHost {
    /// Builds the engine, linker and ticker, and creates the cache and state
    /// directories.
    pub fn new(settings: HostSettings) -> Result<Self, WasmError> {
        let engine = engine::build_engine(&settings)?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(WasmError::Linker)?;
        let cache = match &settings.cache_dir {
            Some(dir) => {
                Some(
                    ArtifactCache::open(dir, &engine).map_err(|source| WasmError::Dir {
                        what: "plugin cache",
                        path: dir.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        fsutil::create_private_dir(&settings.state_dir).map_err(|source| WasmError::Dir {
            what: "plugin state",
            path: settings.state_dir.clone(),
            source,
        })?;
        let ticker = EpochTicker::start(&engine, settings.epoch_tick)?;
        Ok(Self {
            shared: Arc::new(Shared {
                budget: Arc::new(MemoryBudget::new(settings.memory_budget_bytes)),
                slots: Arc::new(Semaphore::new(settings.max_concurrent_instances as usize)),
                engine,
                linker,
                cache,
                settings,
                roots: OnceLock::new(),
                states: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        })
    }

    /// Loads a plugin: reads and checks it (sha256 pin), compiles it (or
    /// takes it from the cache), links it against the host's imports, and
    /// calls its `describe` once. `name` is the check's name; it names the
    /// plugin's state file and its log lines.
    pub async fn load(
        &self,
        name: &str,
        source: PluginSource,
        limits: Limits,
        grants: Grants,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        loader::load(&self.shared, name, source, limits, grants).await
    }

    /// Loads a log processor (world `processor`) as [`load`](Self::load)
    /// loads a check: same checks, sandbox, limits and grants, `describe`
    /// called once. `name` is the transform's name.
    pub async fn load_processor(
        &self,
        name: &str,
        source: PluginSource,
        limits: Limits,
        grants: Grants,
    ) -> Result<Arc<LoadedProcessor>, LoadError> {
        super::processor::load(&self.shared, name, source, limits, grants).await
    }

    /// Describes a component for `plugin inspect`: the contract it targets,
    /// its imports and exports, and whether this host can run it.
    pub async fn inspect(&self, source: PluginSource) -> Result<Inspection, InspectError> {
        inspect::inspect(&self.shared, source).await
    }

    /// Bytes of linear memory and tables all running plugins hold now.
    pub fn memory_in_use(&self) -> u64 {
        self.shared.budget.used()
    }

    /// The persisted state of check `name` (shared with any loaded copy),
    /// for a plugin worker's changes.
    pub(crate) fn plugin_state(
        &self,
        name: &str,
        cap: u64,
    ) -> Result<Arc<PluginState>, StateOpenError> {
        self.shared.plugin_state(name, cap)
    }

    /// Makes `state` the state of check `name` for as long as it lives: a
    /// worker's forwarded copy, used by the next load instead of a file.
    pub(crate) fn preset_state(&self, name: &str, state: &Arc<PluginState>) {
        let mut states = crate::sync::lock(&self.shared.states);
        states.insert(name.to_owned(), Arc::downgrade(state));
    }

    /// The settings the host was built with.
    pub fn settings(&self) -> &HostSettings {
        &self.shared.settings
    }
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}
