//! Events of checks (Wasm plugins run on a schedule).

use std::fmt;

use crate::telemetry::{Counter, Histogram, registry};

/// Bucket bounds of check run durations, in seconds.
const DURATION_BOUNDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0];

/// Handles of one check's metrics.
#[derive(Debug, Clone)]
pub struct CheckMetrics {
    check: String,
    duration: Histogram,
}

/// A plugin was loaded (or reloaded after its file changed).
#[derive(Debug)]
pub struct PluginLoaded<'a> {
    /// The check.
    pub check: &'a str,
    /// Plugin name and version from `describe`.
    pub plugin: &'a str,
    /// Its version.
    pub version: &'a str,
    /// Where it came from.
    pub source: &'a str,
}

/// A plugin could not be loaded; the check reports `unknown` and loading is
/// retried. Other checks are not affected.
#[derive(Debug)]
pub struct PluginLoadFailed<'a, E: fmt::Display> {
    /// The check.
    pub check: &'a str,
    /// Why.
    pub error: E,
}

/// The component a plugin worker runs a plugin for: its kind is the label
/// (`check` or `transform`), its name the value.
#[derive(Debug, Clone, Copy)]
pub enum WorkerOwner<'a> {
    /// A check.
    Check(&'a str),
    /// A `wasm` transform (a log processor).
    Transform(&'a str),
}

impl WorkerOwner<'_> {
    /// `check` or `transform`.
    pub fn kind(self) -> &'static str {
        match self {
            WorkerOwner::Check(_) => "check",
            WorkerOwner::Transform(_) => "transform",
        }
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        match self {
            WorkerOwner::Check(name) | WorkerOwner::Transform(name) => name,
        }
    }

    fn label(&self) -> (&'static str, String) {
        (self.kind(), self.name().to_owned())
    }
}

/// A plugin worker process started, loaded its plugin and confined itself.
#[derive(Debug)]
pub struct PluginWorkerStarted<'a> {
    /// The check, or the `wasm` transform, the worker runs the plugin of.
    pub owner: WorkerOwner<'a>,
    /// The worker's process id.
    pub pid: u32,
    /// What the confinement did, one line.
    pub confinement: &'a str,
}

/// A plugin worker process died or stopped answering; its run failed and
/// it is restarted after a backoff.
#[derive(Debug)]
pub struct PluginWorkerDied<'a> {
    /// The check, or the `wasm` transform, the worker runs the plugin of.
    pub owner: WorkerOwner<'a>,
    /// The worker's process id.
    pub pid: u32,
    /// `worker_crashed` or `worker_unresponsive`.
    pub error_type: &'static str,
    /// How it ended (the signal, the exit status).
    pub cause: &'a str,
    /// When the next worker starts at the earliest.
    pub restart_in: std::time::Duration,
    /// Whether it died between jobs: none failed, the next starts a new
    /// worker.
    pub idle: bool,
}

/// A plugin worker was started again after one died.
#[derive(Debug)]
pub struct PluginWorkerRestarted<'a> {
    /// The check, or the `wasm` transform, the worker runs the plugin of.
    pub owner: WorkerOwner<'a>,
    /// The new worker's process id.
    pub pid: u32,
}

/// One run ended.
#[derive(Debug)]
pub struct CheckRunFinished<'a> {
    /// The check's metrics.
    pub metrics: &'a CheckMetrics,
    /// `ok`, `invalid_config`, `failed`, or why the sandbox stopped it.
    pub outcome: &'static str,
    /// How long it took.
    pub seconds: f64,
    /// A message for failed runs.
    pub message: Option<&'a str>,
}

/// The status of a check changed.
#[derive(Debug)]
pub struct CheckStatusChanged<'a> {
    /// The check.
    pub check: &'a str,
    /// The previous status, if any.
    pub from: Option<&'a str>,
    /// The new status.
    pub to: &'a str,
    /// The run's summary.
    pub summary: &'a str,
}

// === impl CheckMetrics ===

impl CheckMetrics {
    /// Resolve the handles of `check`.
    pub fn new(check: &str) -> Self {
        CheckMetrics {
            check: check.to_owned(),
            duration: registry().histogram(
                "neurallog_agent_check_run_duration_seconds",
                "Duration of check runs (load excluded).",
                vec![("check", check.to_owned())],
                DURATION_BOUNDS,
            ),
        }
    }

    fn runs(&self, outcome: &str) -> Counter {
        registry().counter(
            "neurallog_agent_check_runs_total",
            "Check runs, by outcome: ok, invalid_config, failed (the plugin's own error), or why the sandbox stopped the run.",
            vec![("check", self.check.clone()), ("outcome", outcome.to_owned())],
        )
    }
}

// === impl PluginLoaded ===

impl PluginLoaded<'_> {
    /// Log the load.
    pub fn emit(self) {
        tracing::info!(
            check = self.check,
            plugin = self.plugin,
            version = self.version,
            source = self.source,
            "Plugin loaded."
        );
    }
}

// === impl PluginLoadFailed ===

impl<E: fmt::Display> PluginLoadFailed<'_, E> {
    /// Log and count the failure.
    pub fn emit(self) {
        tracing::error!(check = self.check, error = %self.error, "Plugin failed to load; the check reports unknown and loading is retried.");
        registry()
            .counter(
                "neurallog_agent_plugin_load_failures_total",
                "Plugins that failed to load (missing file, sha256 mismatch, not a component, a missing import).",
                vec![("check", self.check.to_owned())],
            )
            .inc();
    }
}

// === impl PluginWorkerStarted ===

impl PluginWorkerStarted<'_> {
    /// Log the start.
    pub fn emit(self) {
        tracing::info!(
            component_kind = self.owner.kind(),
            component_id = self.owner.name(),
            pid = self.pid,
            confinement = self.confinement,
            "Plugin worker started."
        );
    }
}

// === impl PluginWorkerDied ===

impl PluginWorkerDied<'_> {
    /// Log and count the death.
    pub fn emit(self) {
        tracing::warn!(
            component_kind = self.owner.kind(),
            component_id = self.owner.name(),
            pid = self.pid,
            error_type = self.error_type,
            cause = self.cause,
            restart_in_ms = self.restart_in.as_millis() as u64,
            "{}",
            if self.idle {
                "Plugin worker died between runs (or batches); the next starts a new one."
            } else {
                "Plugin worker died; its run (or batch) failed and it is restarted."
            }
        );
        registry()
            .counter(
                "neurallog_agent_plugin_worker_failures_total",
                "Plugin worker processes that died (killed, crashed, stopped by seccomp) or stopped answering.",
                vec![
                    self.owner.label(),
                    ("error_type", self.error_type.to_owned()),
                ],
            )
            .inc();
    }
}

// === impl PluginWorkerRestarted ===

impl PluginWorkerRestarted<'_> {
    /// Log and count the restart.
    pub fn emit(self) {
        tracing::info!(
            component_kind = self.owner.kind(),
            component_id = self.owner.name(),
            pid = self.pid,
            "Plugin worker restarted."
        );
        registry()
            .counter(
                "neurallog_agent_plugin_worker_restarts_total",
                "Plugin worker processes started again after one died.",
                vec![self.owner.label()],
            )
            .inc();
    }
}

// === impl CheckRunFinished ===

impl CheckRunFinished<'_> {
    /// Log (failures only) and count the run.
    pub fn emit(self) {
        self.metrics.duration.observe(self.seconds);
        self.metrics.runs(self.outcome).inc();
        if let Some(message) = self.message {
            // A plugin's own error message: escaped, so that it cannot
            // break a line of the text log.
            let message = crate::telemetry::escape_controls(message);
            tracing::warn!(check = %self.metrics.check, outcome = self.outcome, %message, "Check run failed.");
        }
    }

    /// Register the outcome counters at zero, so that rates work from the
    /// first scrape.
    pub fn register(metrics: &CheckMetrics) {
        for outcome in ["ok", "failed"] {
            let _ = metrics.runs(outcome);
        }
    }
}

// === impl CheckStatusChanged ===

impl CheckStatusChanged<'_> {
    /// Log the change.
    pub fn emit(self) {
        tracing::info!(
            check = self.check,
            from = self.from.unwrap_or("none"),
            to = self.to,
            summary = self.summary,
            "Check status changed."
        );
    }
}
