//! A loaded plugin and its runs: each [`LoadedPlugin::run`] is one call in
//! a fresh instance (see `runner`), its result validated (see `output`),
//! its failures logged and fed to the quarantine.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::telemetry::escape_controls;

use super::bindings::v0_1;
use super::host::PluginContext;
use super::limits::Limits;
use super::output::{self, OutputError};
use super::quarantine::{Quarantine, QuarantineStatus};
use super::report::PluginInfo;
use super::report::{FailureReason, PluginErrorKind, RunOutcome, RunReport};
use super::runner::{self, Bindings, Call, Failure, Returned};
use super::shared::Shared;

use v0_1::neurallog::plugin::types as wit;

/// A plugin ready to run: compiled, linked, described.
pub struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) bindings: Bindings,
    pub(crate) context: Arc<PluginContext>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) quarantine: Mutex<Quarantine>,
}

// === impl LoadedPlugin ===

impl LoadedPlugin {
    /// What the plugin is.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The check's name it was loaded under.
    pub fn name(&self) -> &str {
        &self.context.name
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.context.limits
    }

    /// Its quarantine state now.
    pub fn quarantine(&self) -> QuarantineStatus {
        self.quarantine_state().status(Instant::now())
    }

    pub(crate) fn quarantine_state(&self) -> MutexGuard<'_, Quarantine> {
        // Quarantine updates are single assignments: never half-done.
        crate::sync::lock(&self.quarantine)
    }
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.context.name)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

// === impl LoadedPlugin (runs) ===

impl LoadedPlugin {
    /// Runs the check once with `config_json` (the check's `config:` as
    /// JSON, `{}` when absent) in a fresh instance. Never fails: every way a
    /// run can go wrong is a [`RunOutcome`].
    pub async fn run(&self, config_json: &str) -> RunReport {
        // Bind first: the quarantine lock must not be held into the body.
        let status = self.quarantine();
        if let Some(report) = quarantined_report(&status) {
            return report;
        }
        let report = self.run_once(config_json).await;
        record(self.name(), &self.quarantine, &report.outcome);
        report
    }

    /// One run without the quarantine: what a plugin worker does for the
    /// agent, which keeps the quarantine on its side.
    pub(crate) async fn run_once(&self, config_json: &str) -> RunReport {
        let call = Call::Run(config_json);
        let run = runner::execute(&self.shared, &self.context, &self.bindings, call).await;
        let outcome = outcome_of(run.result, self.context.limits.max_output_bytes);
        if run.logs_dropped > 0 {
            tracing::warn!(
                plugin = self.name(),
                dropped = run.logs_dropped,
                "Plugin log lines over the per-run cap were dropped."
            );
        }
        RunReport {
            outcome,
            duration: run.duration,
            stderr: run.stderr,
            log_lines: run.log_lines,
            logs_dropped: run.logs_dropped,
            host_calls: run.host_calls,
            fuel_consumed: run.fuel_consumed,
            peak_memory_bytes: run.peak_memory_bytes,
        }
    }
}

/// The report of a run refused because the plugin is quarantined, if it is.
pub(crate) fn quarantined_report(status: &QuarantineStatus) -> Option<RunReport> {
    let remaining = status.remaining?;
    let message = format!(
        "quarantined for another {remaining:.0?} after {} failed runs; last: {}",
        status.consecutive_failures,
        status.last_failure.as_deref().unwrap_or("unknown")
    );
    Some(RunReport::failed(
        FailureReason::Quarantined,
        message,
        Duration::ZERO,
    ))
}

/// Logs a failed run of plugin `name` and feeds its quarantine.
pub(crate) fn record(name: &str, quarantine: &Mutex<Quarantine>, outcome: &RunOutcome) {
    // Quarantine updates are single assignments: never half-done.
    let state = || crate::sync::lock(quarantine);
    match outcome {
        RunOutcome::Failed { reason, message } if reason.counts_toward_quarantine() => {
            let escaped = escape_controls(message);
            tracing::warn!(plugin = name, reason = reason.as_str(), message = %escaped, "Plugin run failed.");
            let why = format!("{}: {message}", reason.as_str());
            let quarantined = state().record_failure(Instant::now(), why);
            if let Some(backoff) = quarantined {
                tracing::warn!(
                    plugin = name,
                    backoff_s = backoff.as_secs(),
                    "Plugin quarantined after repeated failures."
                );
            }
        }
        RunOutcome::Failed { reason, message } => {
            let message = escape_controls(message);
            tracing::warn!(plugin = name, reason = reason.as_str(), %message, "Plugin run could not start.");
        }
        RunOutcome::Ok(_) | RunOutcome::PluginError { .. } => {
            state().record_success();
        }
    }
}

/// Maps what a run returned to its outcome, validating a result.
fn outcome_of(returned: Result<Returned, Failure>, max_output: u64) -> RunOutcome {
    match returned {
        Ok(Returned::Run(Ok(result))) => match output::accept(result, max_output) {
            Ok(result) => RunOutcome::Ok(result),
            Err(error @ OutputError::TooLarge { .. }) => {
                failed(FailureReason::OutputTooLarge, error)
            }
            Err(error @ OutputError::Invalid(_)) => failed(FailureReason::InvalidOutput, error),
        },
        Ok(Returned::Run(Err(error))) => {
            let (kind, message) = match error {
                wit::RunError::InvalidConfig(message) => (PluginErrorKind::InvalidConfig, message),
                wit::RunError::Failed(message) => (PluginErrorKind::Failed, message),
            };
            // The plugin's error message is output too, under the same cap.
            match output::check_size("error message", message.len() as u64, max_output) {
                Ok(()) => RunOutcome::PluginError { kind, message },
                Err(error) => failed(FailureReason::OutputTooLarge, error),
            }
        }
        Ok(Returned::Describe(_)) => failed(FailureReason::Trap, "run returned plugin-info"),
        Err(Failure { reason, message }) => RunOutcome::Failed { reason, message },
    }
}

fn failed(reason: FailureReason, message: impl ToString) -> RunOutcome {
    RunOutcome::Failed {
        reason,
        message: message.to_string(),
    }
}
