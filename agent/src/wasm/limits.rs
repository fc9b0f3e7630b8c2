//! Per-plugin limits, and the store-side machinery that enforces them: the
//! memory limiter (one cap over *all* of a plugin's memories and tables,
//! inside the host-wide budget) and the per-run budget of host calls, log
//! lines and state writes.
//!
//! [`Limits`] is the one definition of a plugin's limits: the configuration
//! deserializes it (`checks.<name>.limits`), `plugin run` takes it as flags,
//! and the host enforces it, all with the same defaults and the same
//! validation ([`Limits::problems`]). The other limits are enforced where
//! the resource is: handles by the run's resource table (`host`), the lift
//! budget by wasmtime's hostcall fuel (`runner`), output by `output`.
//!
//! wasmtime's own `StoreLimits` caps each memory separately, so a component
//! with two memories could use twice its cap; [`MemoryLimiter`] sums them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

use super::engine::{
    MAX_CORE_INSTANCES_PER_PLUGIN, MAX_MEMORIES_PER_PLUGIN, MAX_TABLES_PER_PLUGIN,
};
use super::quarantine::QuarantinePolicy;

/// What one table element costs, for the memory cap: wasmtime stores a
/// pointer per element.
const TABLE_ELEMENT_BYTES: u64 = size_of::<usize>() as u64;

/// Limits on one plugin: the one definition shared by the configuration
/// (`checks.<name>.limits`), the host, and `plugin run` (its flags), so
/// they cannot disagree. [`Default`] gives the safe defaults, the same
/// everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock deadline of one run (and of `describe` at load), in
    /// milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[arg(long, value_name = "MS", default_value_t = default_timeout_ms())]
    pub timeout_ms: u64,
    /// Memory cap over all of the plugin's linear memories and tables, in
    /// bytes.
    #[serde(default = "default_memory_bytes")]
    #[arg(long, value_name = "BYTES", default_value_t = default_memory_bytes())]
    pub memory_bytes: u64,
    /// Fuel (roughly, WebAssembly instructions) one run may consume; no
    /// limit when absent. Needs fuel metering in the host.
    #[serde(default)]
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Calls into `neurallog:plugin` imports (tls, fs-stats, state, log,
    /// clock) one run may make.
    #[serde(default = "default_max_host_calls")]
    #[arg(long, value_name = "N", default_value_t = default_max_host_calls())]
    pub max_host_calls: u64,
    /// Log lines one run may write; further lines are dropped and counted.
    #[serde(default = "default_max_log_lines")]
    #[arg(long, value_name = "N", default_value_t = default_max_log_lines())]
    pub max_log_lines: u64,
    /// Largest result a run may return, in bytes. Also caps the message of
    /// a plugin's own error and what `describe` returns.
    #[serde(default = "default_max_output_bytes")]
    #[arg(long, value_name = "BYTES", default_value_t = default_max_output_bytes())]
    pub max_output_bytes: u64,
    /// Bytes of the plugin's stderr kept for diagnostics (a panic message).
    #[serde(default = "default_max_stderr_bytes")]
    #[arg(long, value_name = "BYTES", default_value_t = default_max_stderr_bytes())]
    pub max_stderr_bytes: u64,
    /// Size cap of the plugin's key-value state (keys plus values), in
    /// bytes.
    #[serde(default = "default_max_state_bytes")]
    #[arg(long, value_name = "BYTES", default_value_t = default_max_state_bytes())]
    pub max_state_bytes: u64,
    /// Bytes one run may write to its state (keys plus values of its sets,
    /// keys of its deletes). Past it the run stops with
    /// `state_write_budget_exceeded`.
    #[serde(default = "default_max_state_write_bytes")]
    #[arg(long, value_name = "BYTES", default_value_t = default_max_state_write_bytes())]
    pub max_state_write_bytes: u64,
    /// WASI handles (open files and directories, streams, pollables) one
    /// run may hold at once. Every open file is a descriptor of the
    /// agent's, so this bounds what a plugin can take from the agent's own
    /// descriptor limit.
    #[serde(default = "default_max_open_handles")]
    #[arg(long, value_name = "N", default_value_t = default_max_open_handles())]
    pub max_open_handles: u32,
    /// Time one TLS probe may take to connect and handshake, in
    /// milliseconds.
    #[serde(default = "default_tls_timeout_ms")]
    #[arg(long, value_name = "MS", default_value_t = default_tls_timeout_ms())]
    pub tls_timeout_ms: u64,
    /// When repeated failures quarantine the plugin. Not configurable.
    #[serde(skip)]
    #[schemars(skip)]
    #[arg(skip)]
    pub quarantine: QuarantinePolicy,
}

/// A limit whose value cannot work, found without touching the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitProblem {
    /// The field, as named in the configuration (`timeout_ms`).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Smallest memory cap: a component needs room for its stack and data.
const MIN_MEMORY_BYTES: u64 = 1 << 20;

/// Fewest WASI handles a run may be given: the guest's standard streams
/// and its preopened directories take some before it opens anything.
const MIN_OPEN_HANDLES: u32 = 8;

// === impl Limits ===

impl Limits {
    /// The run's deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The TLS probe timeout.
    pub fn tls_timeout(&self) -> Duration {
        Duration::from_millis(self.tls_timeout_ms)
    }

    /// Bytes the host may allocate to take one value from the guest (a
    /// run's result, `describe`'s info, the arguments of one import call):
    /// wasmtime's "hostcall fuel", charged before anything is copied.
    ///
    /// Without it, a result whose strings all point at one guest buffer
    /// costs the host that buffer's size once per string. A result within
    /// `max_output_bytes` fits (the host's types take at most a few times the
    /// counted size: 8 times leaves room), and so does a state value within
    /// `max_state_bytes`; and the host never copies more in one go than the
    /// plugin's own memory cap.
    pub fn lift_budget_bytes(&self) -> u64 {
        self.max_output_bytes
            .saturating_mul(8)
            .saturating_add(self.max_state_bytes)
            .min(self.memory_bytes)
    }

    /// Every value that cannot work. Pure: the configuration's validation
    /// and the host's both call it; what depends on the host (fuel
    /// metering, its memory budget) the host checks at load.
    pub fn problems(&self) -> Vec<LimitProblem> {
        let mut problems = Vec::new();
        let mut problem = |field, message: &str| {
            problems.push(LimitProblem {
                field,
                message: message.to_owned(),
            })
        };
        if self.timeout_ms == 0 {
            problem("timeout_ms", "must be at least 1");
        }
        if self.memory_bytes < MIN_MEMORY_BYTES {
            problem(
                "memory_bytes",
                "must be at least 1048576 (1 MiB): a component needs room for its stack and data",
            );
        }
        if self.max_open_handles < MIN_OPEN_HANDLES {
            problem(
                "max_open_handles",
                "must be at least 8: the standard streams and preopened directories are handles too",
            );
        }
        if self.tls_timeout_ms == 0 {
            problem("tls_timeout_ms", "must be at least 1");
        }
        problems
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout_ms(),
            memory_bytes: default_memory_bytes(),
            fuel: None,
            max_host_calls: default_max_host_calls(),
            max_log_lines: default_max_log_lines(),
            max_output_bytes: default_max_output_bytes(),
            max_stderr_bytes: default_max_stderr_bytes(),
            max_state_bytes: default_max_state_bytes(),
            max_state_write_bytes: default_max_state_write_bytes(),
            max_open_handles: default_max_open_handles(),
            tls_timeout_ms: default_tls_timeout_ms(),
            quarantine: QuarantinePolicy::default(),
        }
    }
}

// === defaults ===

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_memory_bytes() -> u64 {
    64 << 20
}

fn default_max_host_calls() -> u64 {
    10_000
}

fn default_max_log_lines() -> u64 {
    1_000
}

fn default_max_output_bytes() -> u64 {
    1 << 20
}

fn default_max_stderr_bytes() -> u64 {
    64 << 10
}

fn default_max_state_bytes() -> u64 {
    1 << 20
}

fn default_max_state_write_bytes() -> u64 {
    4 << 20
}

fn default_max_open_handles() -> u32 {
    64
}

fn default_tls_timeout_ms() -> u64 {
    5_000
}

/// A limit the host enforced by trapping the guest. Carried inside the
/// `wasmtime::Error` so the runner can tell it from a guest's own trap.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitTrap {
    /// The run's deadline passed while the guest was executing.
    #[error("deadline of {0:?} exceeded")]
    Deadline(Duration),
    /// The guest made more host calls than its budget allows.
    #[error("more than {0} host calls in one run")]
    HostCalls(u64),
    /// The guest wrote more to its state than its budget allows.
    #[error("more than {0} bytes written to the plugin's state in one run")]
    StateWrites(u64),
}

/// Memory all running plugins may hold together, shared by every store.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    total: u64,
    used: AtomicU64,
}

// === impl MemoryBudget ===

impl MemoryBudget {
    pub(crate) fn new(total: u64) -> Self {
        Self {
            total,
            used: AtomicU64::new(0),
        }
    }

    /// Bytes currently held by all plugins.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn try_reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.total)
            })
            .is_ok()
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Which cap stopped a growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CapHit {
    /// The plugin's own `max_memory_bytes`.
    Plugin,
    /// The host-wide `memory_budget_bytes`.
    HostBudget,
}

/// A [`ResourceLimiter`] over the sum of one store's memories and tables.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    cap: u64,
    used: u64,
    peak: u64,
    /// Growth granted by the last `*_growing` call, undone if it then fails.
    pending: u64,
    cap_hit: Option<CapHit>,
    budget: Arc<MemoryBudget>,
}

// === impl MemoryLimiter ===

impl MemoryLimiter {
    pub(crate) fn new(cap: u64, budget: Arc<MemoryBudget>) -> Self {
        Self {
            cap,
            used: 0,
            peak: 0,
            pending: 0,
            cap_hit: None,
            budget,
        }
    }

    /// Highest total of memories and tables this store reached, in bytes.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// The cap that refused a growth, if any did.
    pub(crate) fn cap_hit(&self) -> Option<CapHit> {
        self.cap_hit
    }

    fn grow(&mut self, delta: u64) -> bool {
        self.pending = 0;
        if self.used.saturating_add(delta) > self.cap {
            self.cap_hit = Some(CapHit::Plugin);
            return false;
        }
        if !self.budget.try_reserve(delta) {
            self.cap_hit = Some(CapHit::HostBudget);
            return false;
        }
        self.used += delta;
        self.peak = self.peak.max(self.used);
        self.pending = delta;
        true
    }

    fn undo_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.used -= pending;
        self.budget.release(pending);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(desired.saturating_sub(current) as u64))
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.undo_pending();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let elements = desired.saturating_sub(current) as u64;
        Ok(self.grow(elements.saturating_mul(TABLE_ELEMENT_BYTES)))
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.undo_pending();
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES_PER_PLUGIN as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES_PER_PLUGIN as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES_PER_PLUGIN as usize
    }
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        // The store and its memories go with the limiter.
        self.budget.release(self.used);
    }
}

/// Per-run counters of host calls, log lines and state writes.
#[derive(Debug)]
pub(crate) struct RunBudget {
    max_host_calls: u64,
    max_log_lines: u64,
    max_state_write_bytes: u64,
    /// Bytes written to the state so far.
    pub(crate) state_written_bytes: u64,
    /// Host calls made so far.
    pub(crate) host_calls: u64,
    /// Log lines kept so far.
    pub(crate) log_lines: u64,
    /// Log lines dropped over the cap.
    pub(crate) logs_dropped: u64,
}

// === impl RunBudget ===

impl RunBudget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_host_calls: limits.max_host_calls,
            max_log_lines: limits.max_log_lines,
            max_state_write_bytes: limits.max_state_write_bytes,
            state_written_bytes: 0,
            host_calls: 0,
            log_lines: 0,
            logs_dropped: 0,
        }
    }

    /// Counts one host call; traps the guest once over budget.
    pub(crate) fn charge_host_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.max_host_calls {
            return Err(LimitTrap::HostCalls(self.max_host_calls).into());
        }
        Ok(())
    }

    /// Counts `bytes` written to the state; traps the guest once over
    /// budget, before the write.
    pub(crate) fn charge_state_write(&mut self, bytes: u64) -> wasmtime::Result<()> {
        self.state_written_bytes = self.state_written_bytes.saturating_add(bytes);
        if self.state_written_bytes > self.max_state_write_bytes {
            return Err(LimitTrap::StateWrites(self.max_state_write_bytes).into());
        }
        Ok(())
    }

    /// Whether one more log line may be kept; counts it either way.
    pub(crate) fn admit_log_line(&mut self) -> bool {
        if self.log_lines < self.max_log_lines {
            self.log_lines += 1;
            true
        } else {
            self.logs_dropped += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_caps_the_sum_of_all_memories_and_tables() {
        let budget = Arc::new(MemoryBudget::new(1 << 30));
        let mut limiter = MemoryLimiter::new(64 << 20, budget.clone());
        // Two memories of 30 MiB each fit under 64 MiB...
        assert!(limiter.memory_growing(0, 30 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 30 << 20, None).unwrap());
        // ...a third 30 MiB does not, though each memory alone is under the cap.
        assert!(!limiter.memory_growing(0, 30 << 20, None).unwrap());
        assert_eq!(limiter.cap_hit(), Some(CapHit::Plugin));
        // Tables count too: 4 MiB left is 512 Ki elements of 8 bytes.
        let left = (4 << 20) / TABLE_ELEMENT_BYTES as usize;
        assert!(limiter.table_growing(0, left, None).unwrap());
        assert!(!limiter.table_growing(left, left + 1, None).unwrap());
        assert_eq!(limiter.peak(), 64 << 20);
        assert_eq!(budget.used(), 64 << 20);
        drop(limiter);
        assert_eq!(budget.used(), 0, "dropping the store returns its memory");
    }

    #[test]
    fn failed_growth_is_given_back() {
        let budget = Arc::new(MemoryBudget::new(1 << 30));
        let mut limiter = MemoryLimiter::new(64 << 20, budget.clone());
        assert!(limiter.memory_growing(0, 60 << 20, None).unwrap());
        limiter
            .memory_grow_failed(wasmtime::format_err!("mmap failed"))
            .unwrap();
        assert_eq!(budget.used(), 0);
        assert!(limiter.memory_growing(0, 60 << 20, None).unwrap());
        assert_eq!(limiter.cap_hit(), None);
    }

    #[test]
    fn host_budget_is_shared_between_stores() {
        let budget = Arc::new(MemoryBudget::new(100 << 20));
        let mut a = MemoryLimiter::new(64 << 20, budget.clone());
        let mut b = MemoryLimiter::new(64 << 20, budget.clone());
        assert!(a.memory_growing(0, 60 << 20, None).unwrap());
        assert!(!b.memory_growing(0, 60 << 20, None).unwrap());
        assert_eq!(b.cap_hit(), Some(CapHit::HostBudget));
        drop(a);
        assert!(b.memory_growing(0, 60 << 20, None).unwrap());
    }

    #[test]
    fn run_budget_traps_past_host_calls_and_drops_log_lines() {
        let limits = Limits {
            max_host_calls: 3,
            max_log_lines: 2,
            ..Limits::default()
        };
        let mut budget = RunBudget::new(&limits);
        for _ in 0..3 {
            budget.charge_host_call().unwrap();
        }
        let err = budget.charge_host_call().unwrap_err();
        assert!(matches!(
            err.downcast_ref::<LimitTrap>(),
            Some(LimitTrap::HostCalls(3))
        ));
        let kept: Vec<bool> = (0..5).map(|_| budget.admit_log_line()).collect();
        assert_eq!(kept, [true, true, false, false, false]);
        assert_eq!(budget.logs_dropped, 3);
    }
}
