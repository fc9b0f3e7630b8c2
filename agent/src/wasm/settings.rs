//! Settings of the plugin host as a whole (one per agent), as opposed to
//! the per-plugin [`Limits`](super::Limits) and [`Grants`](super::Grants).
//! The agent's configuration maps onto [`HostSettings`].

use std::path::PathBuf;
use std::time::Duration;

/// Settings for the one [`PluginHost`](super::PluginHost) of an agent.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// Directory for compiled plugin artifacts; `None` compiles every plugin
    /// at every load. Only the agent should be able to write here.
    pub cache_dir: Option<PathBuf>,
    /// Directory holding each plugin's persisted key-value state, one
    /// append-only log per plugin (`<check>.state.jsonl`).
    pub state_dir: PathBuf,
    /// Linear memory and tables all running plugins may hold together, in
    /// bytes. Runs that would take more fail with `memory_exceeded`; the
    /// pooling allocator is sized so one memory never exceeds it.
    pub memory_budget_bytes: u64,
    /// Plugin instances alive at the same time (runs plus `describe` at
    /// load). Further runs wait for a slot.
    pub max_concurrent_instances: u32,
    /// The mount table `fs-stats` reads devices and types from. In a
    /// container, point it at the host's (for example `/host/proc/1/mounts`).
    pub mounts_file: PathBuf,
    /// Turn on fuel metering in the engine. Costs some speed for every
    /// plugin; needed for any plugin whose [`Limits::fuel`](super::Limits)
    /// is set.
    pub fuel_enabled: bool,
    /// Period of the epoch ticker: the granularity of deadlines and how often
    /// a busy plugin yields its thread to other tasks.
    pub epoch_tick: Duration,
    /// Extra time after a plugin's deadline before the outer timeout drops
    /// the run, for a plugin blocked in a host call where epochs cannot fire.
    pub deadline_grace: Duration,
    /// Time reading and compiling one component may take (a cache hit
    /// takes milliseconds; compiling a large component, seconds).
    pub load_timeout: Duration,
}

// === impl HostSettings ===

impl HostSettings {
    /// Safe defaults with the given state directory: no compile cache,
    /// 512 MiB of plugin memory, 8 concurrent instances, `/proc/self/mounts`,
    /// no fuel, a 10 ms epoch tick, 1 s of grace and 60 s to read and
    /// compile a component.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: None,
            state_dir: state_dir.into(),
            memory_budget_bytes: 512 << 20,
            max_concurrent_instances: 8,
            mounts_file: PathBuf::from("/proc/self/mounts"),
            fuel_enabled: false,
            epoch_tick: Duration::from_millis(10),
            deadline_grace: Duration::from_secs(1),
            load_timeout: Duration::from_secs(60),
        }
    }
}
