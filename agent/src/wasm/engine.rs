//! The agent's one [`wasmtime::Engine`] and the thread that drives its
//! epochs.
//!
//! The engine has epoch interruption on (deadlines), optional fuel, and the
//! pooling instance allocator sized from [`HostSettings`]: one component
//! slot per concurrent instance, and per slot a fixed number of memories,
//! tables and core instances (enough for what `wit-component` emits for a
//! `wasm32-wasip2` guest: the main module plus shims). No single linear
//! memory may exceed the host's memory budget; the budget over all running
//! plugins is enforced by [`MemoryLimiter`](super::limits::MemoryLimiter).

use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::settings::HostSettings;

/// Linear memories one plugin instance may have.
pub(crate) const MAX_MEMORIES_PER_PLUGIN: u32 = 2;
/// Tables one plugin instance may have (main module and shims).
pub(crate) const MAX_TABLES_PER_PLUGIN: u32 = 8;
/// Core module instances one plugin instance may have.
pub(crate) const MAX_CORE_INSTANCES_PER_PLUGIN: u32 = 16;
/// The largest single linear memory the pool hands out, whatever the budget.
const MAX_POOLED_MEMORY_BYTES: u64 = 4 << 30;
/// WebAssembly page size: pool memory sizes are multiples of it.
const WASM_PAGE_BYTES: u64 = 64 << 10;

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A setting is out of range.
    #[error("invalid plugin host setting {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// What was expected.
        reason: String,
    },
    /// wasmtime refused the configuration.
    #[error("cannot create the WebAssembly engine: {0:#}")]
    Config(wasmtime::Error),
    /// The epoch ticker thread could not be started.
    #[error("cannot start the epoch ticker thread")]
    Ticker(#[source] std::io::Error),
}

/// Builds the engine for `settings`.
pub(crate) fn build_engine(settings: &HostSettings) -> Result<Engine, EngineError> {
    let slots = settings.max_concurrent_instances;
    if slots == 0 {
        return Err(EngineError::InvalidSetting {
            setting: "max_concurrent_instances",
            reason: "must be at least 1".into(),
        });
    }
    let max_memory = settings.memory_budget_bytes.min(MAX_POOLED_MEMORY_BYTES) / WASM_PAGE_BYTES
        * WASM_PAGE_BYTES;
    if max_memory == 0 {
        return Err(EngineError::InvalidSetting {
            setting: "memory_budget_bytes",
            reason: format!("must be at least {WASM_PAGE_BYTES} (one WebAssembly page)"),
        });
    }
    if settings.epoch_tick.is_zero() {
        return Err(EngineError::InvalidSetting {
            setting: "epoch_tick",
            reason: "must be above zero".into(),
        });
    }
    let max_memory = usize::try_from(max_memory).map_err(|_| EngineError::InvalidSetting {
        setting: "memory_budget_bytes",
        reason: "does not fit in this platform's address space".into(),
    })?;

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(MAX_CORE_INSTANCES_PER_PLUGIN))
        .total_memories(slots.saturating_mul(MAX_MEMORIES_PER_PLUGIN))
        .total_tables(slots.saturating_mul(MAX_TABLES_PER_PLUGIN))
        .total_stacks(slots)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_PLUGIN)
        .max_memories_per_component(MAX_MEMORIES_PER_PLUGIN)
        .max_tables_per_component(MAX_TABLES_PER_PLUGIN)
        .max_memory_size(max_memory);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(settings.fuel_enabled)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(EngineError::Config)
}

/// A thread that advances the engine's epoch every tick, stopped and joined
/// on drop.
pub(crate) struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

// === impl EpochTicker ===

impl EpochTicker {
    /// Starts ticking `engine` every `tick`. The thread holds only a weak
    /// reference, so it also ends when the engine is gone.
    pub(crate) fn start(engine: &Engine, tick: Duration) -> Result<Self, EngineError> {
        let weak = engine.weak();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(EngineError::Ticker)?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread with `Disconnected`.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
