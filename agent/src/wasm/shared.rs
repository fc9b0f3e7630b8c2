//! What the plugin host and every plugin it loaded share: the engine, the
//! linker, the compiled-artifact cache, the memory budget and instance
//! slots, the platform trust roots and the live plugin states.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rustls::RootCertStore;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

use super::cache::ArtifactCache;
use super::engine::EpochTicker;
use super::host::state::{PluginState, StateOpenError};
use super::host::{self, HostState};
use super::limits::MemoryBudget;
use super::settings::HostSettings;

/// What the host and all its loaded plugins share.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) cache: Option<ArtifactCache>,
    pub(crate) settings: HostSettings,
    pub(crate) budget: Arc<MemoryBudget>,
    /// One permit per instance slot of the pooling allocator.
    pub(crate) slots: Arc<Semaphore>,
    /// Platform trust roots, read on the first plugin granted a TLS target.
    pub(super) roots: OnceLock<Arc<RootCertStore>>,
    /// Live plugin states by check name, so a reloaded plugin shares its
    /// state with the copy it replaces instead of racing it on disk.
    pub(super) states: Mutex<HashMap<String, Weak<PluginState>>>,
    /// Stops (and joins) the ticker once the last plugin is gone.
    pub(super) _ticker: EpochTicker,
}

// === impl Shared ===

impl Shared {
    pub(crate) fn platform_roots(&self) -> Arc<RootCertStore> {
        self.roots
            .get_or_init(|| Arc::new(host::tls::platform_roots()))
            .clone()
    }

    /// The state of check `name`: the live one if a loaded copy has it,
    /// else opened from disk.
    pub(crate) fn plugin_state(
        &self,
        name: &str,
        cap: u64,
    ) -> Result<Arc<PluginState>, StateOpenError> {
        let mut states = crate::sync::lock(&self.states);
        if let Some(state) = states.get(name).and_then(Weak::upgrade) {
            state.set_cap(cap);
            return Ok(state);
        }
        let state = Arc::new(PluginState::open(&self.settings.state_dir, name, cap)?);
        states.retain(|_, weak| weak.strong_count() > 0);
        states.insert(name.to_owned(), Arc::downgrade(&state));
        Ok(state)
    }
}
