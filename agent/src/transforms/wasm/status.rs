//! What `/status` shows of a `wasm` transform beyond its state: the plugin
//! it runs, where (in the agent, or in a worker process with its pid,
//! restarts and confinement), how many batches failed, and the batch it
//! holds while `on_error: retry` tries it again. An operator whose logs
//! stopped behind a processor reads why here, not only in the log.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::Processor;
use crate::event::now_unix_nanos;
use crate::sync::lock;
use crate::time::format_rfc3339_nanos;
use crate::topology::StatusHandle;
use crate::wasm::ProcessFailure;

/// A `wasm` transform's report, shared by its task and `/status`.
#[derive(Debug, Default)]
pub struct ProcessorStatus {
    state: Arc<Mutex<State>>,
    /// The component's entry, whose `last_error` a failure sets.
    handle: Option<StatusHandle>,
}

#[derive(Debug, Default)]
struct State {
    processor: Option<Running>,
    /// Times a processor was loaded: once at the start, then again for
    /// each retry of a held batch (a worker started again by its own
    /// client counts under the worker's `restarts` instead).
    loads: u64,
    batches_failed: u64,
    holding: Option<Holding>,
}

/// The processor loaded last.
#[derive(Debug)]
enum Running {
    InProcess(Value),
    Worker(Arc<crate::wasm::worker::WorkerPlugin>),
}

/// A batch held for `retry`.
#[derive(Debug)]
struct Holding {
    records: usize,
    attempts: u32,
    since_unix_nanos: u64,
    reason: &'static str,
}

// === impl ProcessorStatus ===

impl ProcessorStatus {
    /// A report that also sets `handle`'s last error on each failure.
    pub fn new(handle: Option<StatusHandle>) -> Self {
        ProcessorStatus {
            state: Arc::default(),
            handle,
        }
    }

    /// `processor` was loaded and serves the batches from now on.
    pub fn loaded(&self, processor: &Processor) {
        let running = match processor {
            Processor::InProcess(instance) => Running::InProcess(
                serde_json::to_value(instance.plugin().info()).unwrap_or_default(),
            ),
            Processor::Worker(worker) => Running::Worker(Arc::clone(worker)),
        };
        let mut state = lock(&self.state);
        state.processor = Some(running);
        state.loads += 1;
    }

    /// A batch of `records` failed; `held` when it is kept to be tried
    /// again.
    pub fn failed(&self, records: usize, failure: &ProcessFailure, held: bool) {
        let reason = failure.reason_str();
        {
            let mut state = lock(&self.state);
            state.batches_failed += 1;
            state.holding = held.then(|| match state.holding.take() {
                Some(holding) => Holding {
                    attempts: holding.attempts + 1,
                    reason,
                    ..holding
                },
                None => Holding {
                    records,
                    attempts: 1,
                    since_unix_nanos: now_unix_nanos(),
                    reason,
                },
            });
        }
        if let Some(handle) = &self.handle {
            let action = if held {
                "held, to be tried again"
            } else {
                "passed on unprocessed"
            };
            handle.set_last_error(format!(
                "a batch of {records} records failed ({reason}), {action}: {}",
                failure.message
            ));
        }
    }

    /// The batch it held (if any) went through.
    pub fn processed(&self) {
        lock(&self.state).holding = None;
    }

    /// The JSON `/status` shows under the transform's `details`.
    pub fn to_json(&self) -> Value {
        to_json(&lock(&self.state))
    }

    /// What `/status` calls for the details. It holds the report weakly:
    /// the status entry holds the reporter, and the report (through the
    /// transform's task) the entry, so a strong hold would keep both, and
    /// the processor's worker, alive after the transform is replaced.
    pub fn reporter(&self) -> impl Fn() -> Value + Send + Sync + 'static {
        let state = Arc::downgrade(&self.state);
        move || {
            state
                .upgrade()
                .map_or(Value::Null, |state| to_json(&lock(&state)))
        }
    }
}

/// The details of `state`.
fn to_json(state: &State) -> Value {
    let (isolation, plugin, worker) = match &state.processor {
        None => (Value::Null, Value::Null, Value::Null),
        Some(Running::InProcess(info)) => (json!("in_process"), info.clone(), Value::Null),
        Some(Running::Worker(worker)) => (
            json!("worker"),
            serde_json::to_value(worker.info()).unwrap_or_default(),
            serde_json::to_value(worker.status()).unwrap_or_default(),
        ),
    };
    let holding = state.holding.as_ref().map(|holding| {
        json!({
            "records": holding.records,
            "attempts": holding.attempts,
            "since": format_rfc3339_nanos(holding.since_unix_nanos),
            "reason": holding.reason,
        })
    });
    json!({
        "isolation": isolation,
        "plugin": plugin,
        "worker": worker,
        "loads": state.loads,
        "batches_failed": state.batches_failed,
        "holding": holding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ComponentKind;
    use crate::telemetry::events::ComponentMetrics;
    use crate::topology::StatusRegistry;

    fn details(registry: &StatusRegistry) -> Value {
        registry.to_json()["components"][0]["details"].clone()
    }

    /// The status entry shows the report while the transform runs, and
    /// does not keep it (or the worker it names) once the transform is
    /// gone: the entry and the report would otherwise hold each other.
    #[test]
    fn the_status_entry_does_not_keep_the_report_alive() {
        let registry = StatusRegistry::default();
        let metrics = ComponentMetrics::new("proc", ComponentKind::Transform, "wasm");
        let handle = registry.register(ComponentKind::Transform, "proc", "wasm", metrics);
        let report = ProcessorStatus::new(Some(handle.clone()));
        handle.set_reporter(report.reporter());
        let failure = ProcessFailure {
            reason: crate::wasm::ProcessFailureReason::PluginError,
            message: "no".into(),
        };
        report.failed(3, &failure, true);
        assert_eq!(details(&registry)["holding"]["records"], 3);
        assert_eq!(details(&registry)["batches_failed"], 1);
        drop(report);
        assert_eq!(details(&registry), Value::Null);
    }
}
