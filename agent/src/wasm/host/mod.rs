//! The host side of the `neurallog:plugin` imports, one file per WIT
//! interface, and the per-run store data they work on.
//!
//! Every import first charges the run's host-call budget, so a guest that
//! floods the host traps with a clear reason. WASI p2 comes from
//! `wasmtime-wasi`, restricted by the plugin's [`Grants`](super::Grants),
//! with `open-at` replaced (`filesystem`) so nothing that can block a host
//! thread is opened.

mod clock;
mod filesystem;
mod fs_stats;
mod log;
pub(crate) mod state;
pub(crate) mod tls;
mod verifier;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::v0_1;
use super::limits::{Limits, MemoryLimiter, RunBudget};
use super::permissions::CheckedGrants;
use state::PluginState;
use tls::TlsProber;

/// What every run of one plugin shares: its identity, grants and limits,
/// its TLS client, its persisted state.
#[derive(Debug)]
pub(crate) struct PluginContext {
    /// The check's name, as given to `load`.
    pub(crate) name: Arc<str>,
    pub(crate) grants: CheckedGrants,
    pub(crate) limits: Limits,
    pub(crate) tls: TlsProber,
    pub(crate) mounts_file: PathBuf,
    pub(crate) state: Arc<PluginState>,
}

/// The data of one run's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) plugin: Arc<PluginContext>,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) budget: RunBudget,
    /// What the run's TLS probes resolved, kept for the whole run.
    pub(crate) resolved: tls::Resolved,
    /// When the run must end, checked on every epoch tick.
    pub(crate) deadline: Instant,
}

// === impl HostState ===

impl HostState {
    pub(crate) fn new(
        plugin: Arc<PluginContext>,
        wasi: WasiCtx,
        limiter: MemoryLimiter,
        deadline: Instant,
    ) -> Self {
        let budget = RunBudget::new(&plugin.limits);
        // Every WASI handle (an open file or directory, a stream, a
        // pollable) is an entry here, and every open file holds one of the
        // agent's descriptors: capping the table caps both. A push past the
        // cap fails with `ResourceTableError::Full`, which traps the guest.
        let mut table = ResourceTable::new();
        table.set_max_capacity(plugin.limits.max_open_handles as usize);
        Self {
            wasi,
            table,
            plugin,
            limiter,
            budget,
            resolved: tls::Resolved::default(),
            deadline,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl v0_1::neurallog::plugin::types::Host for HostState {}

/// Adds WASI p2 and every `neurallog:plugin@0.1.0` import to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    filesystem::add_to_linker(linker)?;
    v0_1::Check::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}
