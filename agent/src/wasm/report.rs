//! What one run of a plugin produced, in plain Rust types the rest of the
//! agent uses without depending on the generated bindings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cache::CacheStatus;

/// Overall status of a check, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// All is well.
    Ok,
    /// Attention needed soon.
    Warning,
    /// Attention needed now.
    Critical,
    /// The check could not tell.
    Unknown,
}

// === impl Status ===

impl Status {
    /// Lower-case name, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Unknown => "unknown",
        }
    }

    /// Numeric value for a status gauge: 0 ok, 1 warning, 2 critical,
    /// 3 unknown (the Nagios convention).
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

/// How a metric's value behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Goes up and down.
    Gauge,
    /// Only goes up.
    Counter,
}

/// A metric label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    /// Label name (a valid Prometheus label name).
    pub key: String,
    /// Label value.
    pub value: String,
}

/// One measurement of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric name (a valid Prometheus metric name).
    pub name: String,
    /// Help text.
    pub description: String,
    /// UCUM unit.
    pub unit: String,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// The value; always finite.
    pub value: f64,
    /// Labels identifying the series.
    pub labels: Vec<Label>,
}

/// A free-form key/value detail of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// Detail name.
    pub key: String,
    /// Detail value.
    pub value: String,
}

/// What a successful run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Overall status.
    pub status: Status,
    /// One line for humans.
    pub summary: String,
    /// Measurements, validated.
    pub metrics: Vec<Metric>,
    /// Free-form details.
    pub details: Vec<Detail>,
}

// === impl CheckResult ===

impl CheckResult {
    /// The value of the first detail named `key`.
    pub fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.value.as_str())
    }
}

/// Which error the plugin itself returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginErrorKind {
    /// The configuration is not valid for the plugin.
    InvalidConfig,
    /// The check could not be carried out.
    Failed,
}

/// Why the sandbox stopped or refused a run. Each is a distinct status the
/// agent counts (see [`FailureReason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The guest trapped on its own (a panic, `unreachable`, a bad access).
    Trap,
    /// The run took longer than its deadline.
    DeadlineExceeded,
    /// The plugin's memory cap (or the host's memory budget) was hit.
    MemoryExceeded,
    /// The run used up its fuel.
    FuelExhausted,
    /// The result is larger than the output cap.
    OutputTooLarge,
    /// The result is malformed (bad metric or label name, non-finite value,
    /// duplicate series).
    InvalidOutput,
    /// The run made more host calls than its budget.
    HostCallBudgetExceeded,
    /// The run wrote more to its state than its `max_state_write_bytes`.
    StateWriteBudgetExceeded,
    /// The run held more WASI handles (open files, streams) at once than
    /// its `max_open_handles`.
    HandleBudgetExceeded,
    /// The plugin is quarantined; it was not run.
    Quarantined,
    /// The host could not set up the run (a granted directory is gone, the
    /// instance pool is exhausted): not the plugin's fault.
    Setup,
    /// The plugin worker process died during the run (killed, crashed, or
    /// stopped by its seccomp filter), or is being restarted after that.
    WorkerCrashed,
    /// The plugin worker did not answer within the run's deadline plus
    /// grace; it was killed and is restarted.
    WorkerUnresponsive,
}

// === impl FailureReason ===

impl FailureReason {
    /// `snake_case` name, for an `error_type` label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Trap => "trap",
            FailureReason::DeadlineExceeded => "deadline_exceeded",
            FailureReason::MemoryExceeded => "memory_exceeded",
            FailureReason::FuelExhausted => "fuel_exhausted",
            FailureReason::OutputTooLarge => "output_too_large",
            FailureReason::InvalidOutput => "invalid_output",
            FailureReason::HostCallBudgetExceeded => "host_call_budget_exceeded",
            FailureReason::HandleBudgetExceeded => "handle_budget_exceeded",
            FailureReason::StateWriteBudgetExceeded => "state_write_budget_exceeded",
            FailureReason::Quarantined => "quarantined",
            FailureReason::Setup => "setup",
            FailureReason::WorkerCrashed => "worker_crashed",
            FailureReason::WorkerUnresponsive => "worker_unresponsive",
        }
    }

    /// Whether this failure is the plugin's doing and counts toward
    /// quarantine.
    pub fn counts_toward_quarantine(self) -> bool {
        !matches!(self, FailureReason::Quarantined | FailureReason::Setup)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunOutcome {
    /// The plugin returned a valid result.
    Ok(CheckResult),
    /// The plugin returned an error of its own.
    PluginError {
        /// Which error.
        kind: PluginErrorKind,
        /// The plugin's message.
        message: String,
    },
    /// The sandbox stopped or refused the run.
    Failed {
        /// Why.
        reason: FailureReason,
        /// Details for humans (the trap, the limit, the bad field).
        message: String,
    },
}

// === impl RunOutcome ===

impl RunOutcome {
    /// A `snake_case` label for counting outcomes: `ok`, `invalid_config`,
    /// `failed`, or the [`FailureReason`].
    pub fn label(&self) -> &'static str {
        match self {
            RunOutcome::Ok(_) => "ok",
            RunOutcome::PluginError {
                kind: PluginErrorKind::InvalidConfig,
                ..
            } => "invalid_config",
            RunOutcome::PluginError {
                kind: PluginErrorKind::Failed,
                ..
            } => "failed",
            RunOutcome::Failed { reason, .. } => reason.as_str(),
        }
    }

    /// The failure reason, if the sandbox stopped the run.
    pub fn failure(&self) -> Option<FailureReason> {
        match self {
            RunOutcome::Failed { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Wall-clock time from instantiation to result.
    pub duration: Duration,
    /// What the plugin wrote to stderr (bounded; a panic message shows here).
    pub stderr: String,
    /// Log lines the plugin wrote that were kept.
    pub log_lines: u64,
    /// Log lines dropped over the per-run cap.
    pub logs_dropped: u64,
    /// Calls into `neurallog:plugin` imports.
    pub host_calls: u64,
    /// Fuel used, when fuel is on.
    pub fuel_consumed: Option<u64>,
    /// Highest total of the plugin's memories and tables, in bytes.
    pub peak_memory_bytes: u64,
}

// === impl RunReport ===

impl RunReport {
    /// The report of a run that failed before the plugin ran (or without
    /// a trace of it): nothing logged, no host calls, no memory.
    pub(crate) fn failed(reason: FailureReason, message: String, duration: Duration) -> Self {
        RunReport {
            outcome: RunOutcome::Failed { reason, message },
            duration,
            stderr: String::new(),
            log_lines: 0,
            logs_dropped: 0,
            host_calls: 0,
            fuel_consumed: None,
            peak_memory_bytes: 0,
        }
    }
}

/// The contract version a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Contract {
    /// `neurallog:plugin@0.1.0`: world `check` or `processor`.
    #[serde(rename = "neurallog:plugin@0.1.0")]
    V0_1,
    /// `neurallog:plugin@0.1.1`: world `column-processor`, added in it.
    #[serde(rename = "neurallog:plugin@0.1.1")]
    V0_1_1,
}

/// What a loaded plugin is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Name the plugin gives itself (`describe`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it checks.
    pub description: String,
    /// JSON Schema of its config, or empty.
    pub config_schema: String,
    /// The contract version it was loaded as.
    pub contract: Contract,
    /// SHA-256 of the component (hex).
    pub sha256: String,
    /// Where it was loaded from (a path or an embedded name).
    pub source: String,
    /// Whether its compiled code came from the cache.
    pub cache: CacheStatus,
    /// Time to read, compile (or load from cache) and link it.
    pub load_time: Duration,
}
