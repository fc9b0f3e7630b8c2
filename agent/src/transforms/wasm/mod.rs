//! The `wasm` transform: each batch of log records goes through a
//! processor plugin (world `neurallog:plugin/processor`), one call per
//! batch, under the same sandbox, limits and grants as checks.
//!
//! ```yaml
//! transforms:
//!   app_fields:
//!     type: wasm
//!     inputs: [app]
//!     plugin: kv-pipe          # plugins.directory/kv-pipe.wasm
//!     config: { separator: "|" }
//!     on_error: pass           # or retry
//! ```
//!
//! The acknowledgement rule is the one of every transform (see
//! [`super::runner`]): the batch's acknowledgement travels with what the
//! processor returned, records it left out were handled, and a batch it
//! emptied is acknowledged as delivered. A batch the processor fails is
//! never dropped: with `on_error: pass` it goes on unprocessed, with
//! `retry` it is held (its source waits) and tried again with backoff,
//! reloading the plugin's file each time so that a fixed plugin is picked
//! up, until it is processed.
//!
//! A processor runs where `plugins.isolation.third_party` puts third-party
//! plugins: by default in a plugin worker process of its own (confined as a
//! check's worker is: its own user, `no_new_privs`, resource limits, a
//! cgroup, seccomp), one round trip per batch; with `in_process`, in the
//! agent. Either way wasmtime's limits hold (epoch deadline, fuel, memory
//! cap), the instance is reused from batch to batch and discarded after any
//! failure, and a worker that dies or hangs fails the batch it held, which
//! `on_error` then handles like any other failure.

mod config;
mod convert;
mod status;

pub use config::{OnError, WasmTransformConfig};
pub use convert::{Prepared, finish, prepare};
pub use status::ProcessorStatus;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Isolation;
use crate::error::Chain;
use crate::event::{Event, EventBatch};
use crate::telemetry::events::{ProcessorBatchFailed, TransformEventsDropped, TransformMetrics};
use crate::topology::{BoxedComponent, BuildError, ComponentState, TransformContext};
use crate::wasm::worker::{WorkerOptions, WorkerPlugin};
use crate::wasm::{
    ColumnBatch, Grants, Limits, LoadedProcessor, Outcome, OutputBound, PluginHost, PluginSource,
    ProcessFailure, ProcessorInstance,
};

/// First wait before a held batch is tried again, or a failed load.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a `wasm` transform's configuration resolves to.
#[derive(Debug, Clone)]
pub struct ProcessorPlan {
    /// The transform's name.
    pub name: Arc<str>,
    /// The component.
    pub source: PluginSource,
    /// Its limits.
    pub limits: Limits,
    /// What it may touch.
    pub grants: Grants,
    /// The plugin's configuration as JSON.
    pub config_json: String,
    /// What becomes of a failed batch.
    pub on_error: OnError,
    /// How much it may return.
    pub bound: OutputBound,
    /// Where it runs: in a worker process (with these options) or in the
    /// agent (`None`).
    pub worker: Option<WorkerOptions>,
}

/// A loaded processor, where its plan put it.
#[derive(Debug)]
pub enum Processor {
    /// In the agent's process.
    InProcess(ProcessorInstance),
    /// In a plugin worker process of its own.
    Worker(Arc<WorkerPlugin>),
}

/// Build the transform `config` describes; its plugin is loaded when it
/// starts (until it loads, its inputs wait).
pub fn build(
    config: &WasmTransformConfig,
    cx: TransformContext,
) -> Result<BoxedComponent, BuildError> {
    let mut plan = ProcessorPlan::new(&cx.id, config, cx.plugins.directory())?;
    if cx.plugins.isolation(false) == Isolation::Worker {
        plan.worker = Some(cx.plugins.worker_options());
    }
    if config.limits.fuel.is_some() && !cx.plugins.fuel() {
        return Err(BuildError::new(
            "limits.fuel needs fuel metering, which is chosen when the agent starts: restart the agent to apply it",
        ));
    }
    let host = cx.plugins.host()?;
    Ok(Box::pin(run(plan, host, cx)))
}

// === impl ProcessorPlan ===

impl ProcessorPlan {
    /// Resolve `config` (already validated) for transform `name`; `plugin`
    /// names a file in `directory`.
    pub fn new(
        name: &str,
        config: &WasmTransformConfig,
        directory: Option<&std::path::Path>,
    ) -> Result<ProcessorPlan, BuildError> {
        Ok(ProcessorPlan {
            name: Arc::from(name),
            source: plugin_source(config, directory)?,
            limits: config.limits.clone(),
            grants: config.grants.clone(),
            config_json: config.config.to_string(),
            on_error: config.on_error,
            bound: OutputBound {
                max_records_per_input: config.max_output_records_per_input,
                max_bytes_per_input: config.max_output_bytes_per_input,
            },
            worker: None,
        })
    }

    /// Load the plugin where the plan says: in a new worker process, or in
    /// the agent.
    pub async fn start(&self, host: &PluginHost) -> Result<Processor, String> {
        match &self.worker {
            Some(options) => WorkerPlugin::start_processor(
                host,
                &self.name,
                self.source.clone(),
                self.limits.clone(),
                self.grants.clone(),
                options.clone(),
            )
            .await
            .map(Processor::Worker)
            .map_err(|error| Chain(&error).to_string()),
            None => Ok(Processor::InProcess(self.load(host).await?.instance())),
        }
    }

    /// Load the plugin in the agent's process.
    pub async fn load(&self, host: &PluginHost) -> Result<Arc<LoadedProcessor>, String> {
        host.load_processor(
            &self.name,
            self.source.clone(),
            self.limits.clone(),
            self.grants.clone(),
        )
        .await
        .map_err(|error| Chain(&error).to_string())
    }
}

/// The component `config` names: `path`, or `plugin` in `directory`.
pub fn plugin_source(
    config: &WasmTransformConfig,
    directory: Option<&std::path::Path>,
) -> Result<PluginSource, BuildError> {
    let path: PathBuf = match (&config.path, &config.plugin) {
        (Some(path), _) => path.clone(),
        (None, Some(plugin)) => directory
            .ok_or_else(|| {
                BuildError::new(format!(
                    "`plugin: {plugin}` names a file in plugins.directory, which is not set"
                ))
            })?
            .join(format!("{plugin}.wasm")),
        (None, None) => {
            return Err(BuildError::new(
                "a `type: wasm` transform needs `plugin` or `path`",
            ));
        }
    };
    Ok(PluginSource::File {
        path,
        sha256: config.sha256.clone(),
    })
}

/// Load the plugin (waiting, with backoff, until it loads), then process
/// every batch of the input until it ends.
async fn run(plan: ProcessorPlan, host: Arc<PluginHost>, cx: TransformContext) {
    let TransformContext {
        mut input,
        mut out,
        metrics,
        status,
        ..
    } = cx;
    let metrics = TransformMetrics::new(metrics);
    let report = ProcessorStatus::new(Some(status.clone()));
    status.set_reporter(report.reporter());
    let stop = input.stop_token().clone();
    let mut backoff = FIRST_BACKOFF;
    let mut instance = loop {
        match plan.start(&host).await {
            Ok(processor) => break processor,
            Err(error) => {
                tracing::error!(component_id = %plan.name, %error, retry_in_ms = backoff.as_millis() as u64,
                    "Processor plugin not loaded; the transform's inputs wait for it.");
                status.set_state(ComponentState::Failed(error));
                // Stopped (replaced or removed by a reload), it ends: what
                // its inputs queued is dropped unacknowledged, to be read
                // again.
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    report.loaded(&instance);
    status.set_state(ComponentState::Running);
    while let Some(batch) = input.recv().await {
        let received = batch.len();
        let (events, ack) = batch.into_parts();
        let Some(events) = process(
            &plan,
            &host,
            &mut instance,
            events,
            &metrics,
            &report,
            &stop,
        )
        .await
        else {
            // Stopped while holding a batch for a retry: it goes back
            // unacknowledged, as does what is queued behind it.
            return;
        };
        let sent = events.len();
        metrics.component().received(received, 0);
        metrics.component().sent(sent, 0);
        TransformEventsDropped {
            metrics: &metrics,
            count: received.saturating_sub(sent),
        }
        .emit();
        if events.is_empty() {
            ack.resolve(crate::event::AckStatus::Delivered);
        } else {
            out.hand_on(EventBatch::new(events, ack)).await;
        }
    }
}

/// One batch through the processor, by the failure policy: what to send
/// on. With `retry` it returns once the batch is processed, or `None` once
/// `stop` is cancelled while it is held (the caller must not acknowledge
/// it). Failures, a held batch and a processor loaded again go to `report`.
pub async fn process(
    plan: &ProcessorPlan,
    host: &PluginHost,
    instance: &mut Processor,
    events: Vec<Event>,
    metrics: &TransformMetrics,
    report: &ProcessorStatus,
    stop: &CancellationToken,
) -> Option<Vec<Event>> {
    let prepared = prepare(&events);
    let records = crate::wasm::columns::len(&prepared.batch);
    if records == 0 {
        return Some(events);
    }
    let mut backoff = FIRST_BACKOFF;
    loop {
        let failure = match instance
            .process(&plan.config_json, &prepared.batch, plan.bound)
            .await
        {
            Ok(returned) => {
                report.processed();
                return Some(finish(prepared, events, returned));
            }
            Err(failure) => failure,
        };
        let action = match plan.on_error {
            OnError::Pass => "passed",
            OnError::Retry => "held",
        };
        ProcessorBatchFailed {
            metrics: metrics.component(),
            reason: failure.reason_str(),
            action,
            records,
            message: &failure.message,
        }
        .emit();
        report.failed(records, &failure, plan.on_error == OnError::Retry);
        if plan.on_error == OnError::Pass {
            return Some(events);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => return None,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        // The plugin may have been fixed: take its file as it is now.
        match plan.start(host).await {
            Ok(processor) => {
                report.loaded(&processor);
                *instance = processor;
            }
            Err(error) => {
                tracing::warn!(component_id = %plan.name, %error, "Processor plugin not reloaded; trying the batch with the one loaded.");
            }
        }
    }
}

// === impl Processor ===

impl Processor {
    /// Process `batch` (see [`ProcessorInstance::process`]).
    pub async fn process(
        &mut self,
        config: &str,
        batch: &ColumnBatch,
        bound: OutputBound,
    ) -> Result<Outcome, ProcessFailure> {
        match self {
            Processor::InProcess(instance) => instance.process(config, batch, bound).await,
            Processor::Worker(worker) => worker.process(config, batch, bound).await,
        }
    }
}

#[cfg(test)]
mod tests;
