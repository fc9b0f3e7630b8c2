//! The schedule of one check: run at its interval (plus jitter), load the
//! plugin (and reload a third-party one whose file changed), keep the last
//! result for `/status`, send the results.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use tokio::sync::Semaphore;

use super::plan::CheckPlan;
use super::plugin::CheckPlugin;
use super::results::report_events;
use crate::error::Chain;
use crate::event::{Ack, CheckStatus, Event, EventBatch};
use crate::telemetry::events::{
    CheckMetrics, CheckRunFinished, CheckStatusChanged, PluginLoadFailed, PluginLoaded,
};
use crate::topology::{ComponentState, SourceContext};
use crate::wasm::worker::WorkerOptions;
use crate::wasm::{PluginHost, RunOutcome, RunReport};

/// How long after start-up the first run waits at most: spread out so a
/// restart does not run every check at the same instant.
const MAX_FIRST_DELAY: Duration = Duration::from_secs(5);

/// A plugin that fails to load is tried again after this long at most.
const MAX_LOAD_RETRY: Duration = Duration::from_secs(60);

/// Identifies a version of a plugin file: change it and the plugin reloads.
type FileStamp = (u64, u64, Option<SystemTime>);

struct Scheduler {
    plan: CheckPlan,
    host: Arc<PluginHost>,
    worker: WorkerOptions,
    plugin: Option<CheckPlugin>,
    stamp: Option<FileStamp>,
    last_status: Option<CheckStatus>,
    metrics: CheckMetrics,
    last: Arc<Mutex<serde_json::Value>>,
}

/// Run the check until shutdown.
pub async fn run(
    plan: CheckPlan,
    host: Arc<PluginHost>,
    worker: WorkerOptions,
    slots: Arc<Semaphore>,
    mut cx: SourceContext,
) {
    let last = Arc::new(Mutex::new(json!({ "last_run": null })));
    let report_last = Arc::clone(&last);
    cx.status
        .set_reporter(move || report_last.lock().map(|v| v.clone()).unwrap_or_default());
    let metrics = CheckMetrics::new(&plan.name);
    CheckRunFinished::register(&metrics);
    let mut scheduler = Scheduler {
        plan,
        host,
        worker,
        plugin: None,
        stamp: None,
        last_status: None,
        metrics,
        last,
    };
    let first = scheduler
        .plan
        .interval
        .min(MAX_FIRST_DELAY)
        .mul_f64(fastrand::f64());
    let mut next = tokio::time::Instant::now() + first;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = cx.shutdown.cancelled() => return,
        }
        let started = Instant::now();
        let delay = match scheduler.ensure_loaded(&cx).await {
            Some(plugin) => {
                let report = {
                    let _permit = slots.acquire().await;
                    tokio::select! {
                        report = plugin.run(&scheduler.plan.config_json) => report,
                        () = cx.shutdown.cancelled() => return,
                    }
                };
                scheduler.publish(&plugin, &report, &mut cx).await;
                scheduler.next_delay()
            }
            None => scheduler.plan.interval.min(MAX_LOAD_RETRY),
        };
        let elapsed = started.elapsed();
        next = tokio::time::Instant::now() + delay.saturating_sub(elapsed.min(delay / 2));
    }
}

// === impl Scheduler ===

impl Scheduler {
    /// The loaded plugin, loading or reloading it first if needed.
    async fn ensure_loaded(&mut self, cx: &SourceContext) -> Option<CheckPlugin> {
        let stamp = self.plan.file.as_deref().and_then(|path| {
            std::fs::metadata(path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt as _;
                (m.ino(), m.len(), m.modified().ok())
            })
        });
        if self.plugin.is_some() && (self.plan.file.is_none() || stamp == self.stamp) {
            return self.plugin.clone();
        }
        let result = CheckPlugin::load(&self.host, &self.plan, &self.worker).await;
        match result {
            Ok(plugin) => {
                let info = &plugin.info();
                PluginLoaded {
                    check: &self.plan.name,
                    plugin: &info.name,
                    version: &info.version,
                    source: &info.source,
                }
                .emit();
                cx.status.set_state(ComponentState::Running);
                self.stamp = stamp;
                self.plugin = Some(plugin.clone());
                Some(plugin)
            }
            Err(error) => {
                let message = Chain(&error).to_string();
                PluginLoadFailed {
                    check: &self.plan.name,
                    error: &message,
                }
                .emit();
                // With a working plugin loaded, a bad new file keeps the old
                // one running.
                if let Some(plugin) = &self.plugin {
                    return Some(plugin.clone());
                }
                cx.status.set_state(ComponentState::Failed(format!(
                    "plugin failed to load: {message}"
                )));
                if let Ok(mut last) = self.last.lock() {
                    *last = json!({ "status": "unknown", "load_error": message });
                }
                None
            }
        }
    }

    /// Send the run's events and remember its result.
    async fn publish(&mut self, plugin: &CheckPlugin, report: &RunReport, cx: &mut SourceContext) {
        let info = plugin.info();
        let plugin_name: Arc<str> = Arc::from(info.name.as_str());
        let events = report_events(&self.plan.name, &plugin_name, report, &cx.globals.host);
        let failure = match &report.outcome {
            RunOutcome::Ok(_) => None,
            RunOutcome::PluginError { message, .. } | RunOutcome::Failed { message, .. } => {
                Some(message.as_str())
            }
        };
        CheckRunFinished {
            metrics: &self.metrics,
            outcome: report.outcome.label(),
            seconds: report.duration.as_secs_f64(),
            message: failure,
        }
        .emit();
        let changed = self.last_status != Some(events.status);
        if changed {
            CheckStatusChanged {
                check: &self.plan.name,
                from: self.last_status.map(CheckStatus::as_str),
                to: events.status.as_str(),
                summary: &events.summary,
            }
            .emit();
        }
        self.last_status = Some(events.status);
        let (quarantine, worker) = plugin.status_json();
        // How the plugin's compiled code was had: `{"cache": "hit"}` and
        // the time to read, compile or load it, and link it.
        let mut load = serde_json::to_value(&info.cache).unwrap_or_default();
        load["load_ms"] = (info.load_time.as_secs_f64() * 1000.0).into();
        if let Ok(mut last) = self.last.lock() {
            *last = json!({
                "plugin": info.name,
                "plugin_version": info.version,
                "plugin_load": load,
                "status": events.status.as_str(),
                "summary": events.summary,
                "outcome": report.outcome.label(),
                "duration_ms": report.duration.as_secs_f64() * 1000.0,
                "last_run_unix_secs": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                "metrics": events.metrics.len() - 1,
                "logs_dropped": report.logs_dropped,
                "quarantine": quarantine,
                "worker": worker,
                "result": match &report.outcome { RunOutcome::Ok(result) => serde_json::to_value(result).unwrap_or_default(), _ => serde_json::Value::Null },
            });
        }
        let mut batch = events.metrics;
        if changed {
            batch.push(Event::Check(events.result));
        }
        let count = batch.len();
        cx.metrics.received(count, 0);
        cx.out.send(EventBatch::new(batch, Ack::none())).await;
        cx.metrics.sent(count, 0);
    }

    /// The interval plus its jitter.
    fn next_delay(&self) -> Duration {
        self.plan.interval
            + self
                .plan
                .interval
                .mul_f64(self.plan.jitter * fastrand::f64())
    }
}
