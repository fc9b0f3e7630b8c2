//! Events of the agent's lifecycle: start, reload.

use std::fmt;

use crate::telemetry::registry;

/// The agent started: publishes `neurallog_agent_build_info`.
#[derive(Debug)]
pub struct BuildInfo;

/// A configuration reload took effect.
#[derive(Debug)]
pub struct ConfigReloaded<'a> {
    /// What triggered it: `sighup` or `file_change`.
    pub trigger: &'a str,
}

/// A reload was refused; the running pipeline carries on unchanged.
#[derive(Debug)]
pub struct ConfigReloadFailed<'a, E: fmt::Display> {
    /// What triggered it.
    pub trigger: &'a str,
    /// Why the new configuration was refused.
    pub error: E,
}

// === impl BuildInfo ===

impl BuildInfo {
    /// Publish the build info gauge and the start time.
    pub fn emit(self) {
        registry()
            .gauge(
                "neurallog_agent_build_info",
                "Build information; the value is always 1.",
                vec![
                    ("version", env!("CARGO_PKG_VERSION").to_owned()),
                    ("wit_package", "neurallog:plugin@0.1.1".to_owned()),
                ],
            )
            .set(1.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        registry()
            .gauge(
                "neurallog_agent_start_time_seconds",
                "When the agent process started, in seconds since the Unix epoch.",
                vec![],
            )
            .set(now);
        // Register the reload counters at zero so that rate() works from the
        // first scrape.
        for result in ["success", "failure"] {
            let _ = reload_counter(result);
        }
    }
}

fn reload_counter(result: &str) -> crate::telemetry::Counter {
    registry().counter(
        "neurallog_agent_config_reloads_total",
        "Configuration reloads, by result.",
        vec![("result", result.to_owned())],
    )
}

// === impl ConfigReloaded ===

impl ConfigReloaded<'_> {
    /// Log and count the reload.
    pub fn emit(self) {
        tracing::info!(trigger = self.trigger, "Configuration reloaded.");
        reload_counter("success").inc();
    }
}

// === impl ConfigReloadFailed ===

impl<E: fmt::Display> ConfigReloadFailed<'_, E> {
    /// Log and count the refused reload.
    pub fn emit(self) {
        tracing::error!(
            trigger = self.trigger,
            error = %self.error,
            "New configuration refused; the running pipeline is unchanged."
        );
        reload_counter("failure").inc();
    }
}
