//! A loaded log processor (world `processor`) and the instance that serves
//! its batches.
//!
//! Unlike a check, a processor keeps its instance from one batch to the
//! next: instantiating costs more than processing a small batch. Every call
//! still runs under the plugin's full limits (a fresh deadline, fuel and
//! host-call budget per batch; the memory cap over the instance's life), and
//! an instance that failed in any way (a trap, a limit, a call abandoned
//! past its deadline) is thrown away, so no state of a broken run reaches
//! the next batch.
//!
//! What comes back is checked before anyone uses it: each record must name
//! a record of the batch, and the whole may not exceed the
//! output bound (a multiple of the input, in records and in bytes).
//!
//! A plugin may target either processor world: `processor` (a batch of
//! records) or `column-processor` (the batch by column). Which one is found
//! when it loads; the transform hands both the same [`ColumnBatch`] and
//! gets an [`Outcome`] back (see [`super::columns`]).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;

use super::bindings::v0_1_columns as column_bindings;
use super::bindings::v0_1_processor::{self as bindings, neurallog::plugin::processing};
use super::capture::Capture;
use super::columns::{self, ColumnBatch, Outcome};
use super::error::{LoadError, LoadErrorKind};
use super::host::{HostState, PluginContext};
use super::limits::{Limits, RunBudget};
use super::loader;
use super::output;
use super::permissions::Grants;
use super::report::{Contract, FailureReason, PluginInfo};
use super::runner;
use super::shared::Shared;
use super::source::PluginSource;

/// The record types a processor exchanges with the agent, as generated from
/// the WIT: the transform builds them directly, one copy per record.
pub use processing::{Attribute, Batch, LogRecord, ProcessedRecord, Resource, Value};

/// How much a processor may return, relative to what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputBound {
    /// Records out per record in.
    pub max_records_per_input: u32,
    /// Bytes out (bodies, attributes, severity text) per byte in.
    pub max_bytes_per_input: u32,
}

/// Why a batch was not processed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFailure {
    /// Which limit stopped it, or how the plugin failed.
    pub reason: ProcessFailureReason,
    /// What happened, for the log.
    pub message: String,
}

/// How a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessFailureReason {
    /// The sandbox stopped the call (a trap, a limit).
    Sandbox(FailureReason),
    /// The plugin returned its own error.
    PluginError,
}

/// A processor ready to run: compiled, linked, described.
pub struct LoadedProcessor {
    info: PluginInfo,
    pre: Pre,
    context: Arc<PluginContext>,
    shared: Arc<Shared>,
}

/// The instance serving one transform's batches, created on the first batch
/// and after every failure.
pub struct ProcessorInstance {
    plugin: Arc<LoadedProcessor>,
    live: Option<Live>,
}

/// A processor's component, linked, by the world it targets.
enum Pre {
    Records(bindings::ProcessorPre<HostState>),
    Columns(column_bindings::ColumnProcessorPre<HostState>),
}

/// An instance of either world.
enum Guest {
    Records(bindings::Processor),
    Columns(column_bindings::ColumnProcessor),
}

struct Live {
    store: Store<HostState>,
    processor: Guest,
    stderr: Capture,
    /// The pooling allocator's slot this instance holds while it lives.
    _slot: OwnedSemaphorePermit,
}

// === impl LoadedProcessor ===

impl LoadedProcessor {
    /// What the plugin is.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The transform's name it was loaded under.
    pub fn name(&self) -> &str {
        &self.context.name
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.context.limits
    }

    /// A handle that processes batches, instantiating on first use.
    pub fn instance(self: &Arc<Self>) -> ProcessorInstance {
        ProcessorInstance {
            plugin: Arc::clone(self),
            live: None,
        }
    }
}

impl std::fmt::Debug for LoadedProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedProcessor")
            .field("name", &self.context.name)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// See [`PluginHost::load_processor`](super::PluginHost::load_processor).
pub(crate) async fn load(
    shared: &Arc<Shared>,
    name: &str,
    source: PluginSource,
    limits: Limits,
    grants: Grants,
) -> Result<Arc<LoadedProcessor>, LoadError> {
    let started = Instant::now();
    let fail = |kind| LoadError {
        plugin: name.to_owned(),
        source_name: source.display_name(),
        kind,
    };
    let context = Arc::new(loader::plugin_context(shared, name, limits, grants).map_err(fail)?);
    let (component, sha256, cache) = loader::read_and_compile(shared, &source)
        .await
        .map_err(fail)?;
    let pre = shared
        .linker
        .instantiate_pre(&component)
        .map_err(|e| fail(LoadErrorKind::Link(format!("{e:#}"))))?;
    let (pre, contract) = match bindings::ProcessorPre::new(pre.clone()) {
        Ok(pre) => (Pre::Records(pre), Contract::V0_1),
        Err(records) => match column_bindings::ColumnProcessorPre::new(pre) {
            Ok(pre) => (Pre::Columns(pre), Contract::V0_1_1),
            Err(columns) => {
                return Err(fail(LoadErrorKind::NotAProcessor(format!(
                    "not a `processor` ({records:#}) nor a `column-processor` ({columns:#})"
                ))));
            }
        },
    };
    let load_time = started.elapsed();
    let mut plugin = LoadedProcessor {
        info: PluginInfo {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            config_schema: String::new(),
            contract,
            sha256,
            source: source.display_name(),
            cache,
            load_time,
        },
        pre,
        context,
        shared: Arc::clone(shared),
    };
    let described = plugin.describe().await.map_err(|failure| {
        let reason = match failure.reason {
            ProcessFailureReason::Sandbox(reason) => reason,
            ProcessFailureReason::PluginError => FailureReason::InvalidOutput,
        };
        fail(LoadErrorKind::Describe {
            reason,
            message: failure.message,
        })
    })?;
    plugin.info.name = described.name;
    plugin.info.version = described.version;
    plugin.info.description = described.description;
    plugin.info.config_schema = described.config_schema;
    tracing::info!(plugin = name, version = plugin.info.version.as_str(), cache = %plugin.info.cache,
        load_ms = load_time.as_millis() as u64, "Processor plugin loaded.");
    Ok(Arc::new(plugin))
}

impl LoadedProcessor {
    /// Calls `describe` once in an instance of its own.
    async fn describe(
        &self,
    ) -> Result<super::bindings::v0_1::neurallog::plugin::types::PluginInfo, ProcessFailure> {
        let mut live = self.instantiate().await?;
        let outer = self.context.limits.deadline() + self.shared.settings.deadline_grace;
        let called = tokio::time::timeout(outer, async {
            match &live.processor {
                Guest::Records(guest) => guest.call_describe(&mut live.store).await,
                Guest::Columns(guest) => guest.call_describe(&mut live.store).await,
            }
        })
        .await;
        let info = match called {
            Ok(Ok(info)) => info,
            Ok(Err(error)) => return Err(sandbox_failure(&error, &live)),
            Err(_) => return Err(deadline_in_host_call(&self.context.limits, outer)),
        };
        let max = self.context.limits.max_output_bytes;
        output::check_size("plugin-info", output::info_size(&info), max).map_err(|error| {
            ProcessFailure {
                reason: ProcessFailureReason::Sandbox(FailureReason::OutputTooLarge),
                message: error.to_string(),
            }
        })?;
        Ok(info)
    }

    /// A fresh instance, holding one of the pool's slots.
    async fn instantiate(&self) -> Result<Live, ProcessFailure> {
        let setup = |message: String| ProcessFailure {
            reason: ProcessFailureReason::Sandbox(FailureReason::Setup),
            message,
        };
        let slot = Arc::clone(&self.shared.slots)
            .acquire_owned()
            .await
            .map_err(|_| setup("the plugin host is shutting down".into()))?;
        let limits = &self.context.limits;
        let stderr = Capture::new(usize::try_from(limits.max_stderr_bytes).unwrap_or(usize::MAX));
        let (mut store, _fuel) =
            runner::new_store(&self.shared, &self.context, stderr.clone(), Instant::now())
                .map_err(setup)?;
        let outer = limits.deadline() + self.shared.settings.deadline_grace;
        let instantiated = tokio::time::timeout(outer, async {
            match &self.pre {
                Pre::Records(pre) => pre.instantiate_async(&mut store).await.map(Guest::Records),
                Pre::Columns(pre) => pre.instantiate_async(&mut store).await.map(Guest::Columns),
            }
        })
        .await;
        let processor = match instantiated {
            Ok(Ok(processor)) => processor,
            Ok(Err(error)) => {
                let failure = runner::classify(&error, store.data(), &stderr.contents());
                return Err(ProcessFailure {
                    reason: ProcessFailureReason::Sandbox(failure.reason),
                    message: failure.message,
                });
            }
            Err(_) => return Err(deadline_in_host_call(limits, outer)),
        };
        Ok(Live {
            store,
            processor,
            stderr,
            _slot: slot,
        })
    }
}

// === impl ProcessorInstance ===

impl ProcessorInstance {
    /// The plugin this instance runs.
    pub fn plugin(&self) -> &Arc<LoadedProcessor> {
        &self.plugin
    }

    /// Processes `batch` with `config` (the transform's `config:` as JSON)
    /// and returns what the plugin made of it, checked against the batch
    /// and `bound`. On any failure the instance is discarded; the next call
    /// starts a fresh one.
    pub async fn process(
        &mut self,
        config: &str,
        batch: &ColumnBatch,
        bound: OutputBound,
    ) -> Result<Outcome, ProcessFailure> {
        let live = match self.live.take() {
            Some(live) => live,
            None => self.plugin.instantiate().await?,
        };
        let (live, result) = call(&self.plugin, live, config, batch, bound).await;
        self.live = live;
        result
    }
}

/// One call of `process` in `live`, which is handed back if it is still
/// sound.
async fn call(
    plugin: &LoadedProcessor,
    mut live: Live,
    config: &str,
    batch: &ColumnBatch,
    bound: OutputBound,
) -> (Option<Live>, Result<Outcome, ProcessFailure>) {
    let limits = &plugin.context.limits;
    let max_bytes = columns::max_output_bytes(batch, bound);
    // A fresh budget for every batch, as a check gets for every run.
    let state = live.store.data_mut();
    state.deadline = Instant::now() + limits.deadline();
    state.budget = RunBudget::new(limits);
    live.store.set_epoch_deadline(1);
    // The host may copy up to the output bound out of the guest (plus
    // room for the host's own types), never more than the plugin's
    // memory cap.
    let lift = max_bytes
        .saturating_mul(8)
        .max(limits.lift_budget_bytes())
        .min(limits.memory_bytes);
    live.store
        .set_hostcall_fuel(usize::try_from(lift).unwrap_or(usize::MAX));
    if plugin.shared.settings.fuel_enabled
        && let Err(error) = live.store.set_fuel(limits.fuel.unwrap_or(u64::MAX))
    {
        let failure = ProcessFailure {
            reason: ProcessFailureReason::Sandbox(FailureReason::Setup),
            message: format!("cannot set fuel: {error:#}"),
        };
        return (None, Err(failure));
    }

    let outer = limits.deadline() + plugin.shared.settings.deadline_grace;
    let called = tokio::time::timeout(outer, async {
        match &live.processor {
            Guest::Records(guest) => {
                let rows = columns::to_rows(batch);
                let answer = guest.call_process(&mut live.store, config, &rows).await?;
                Ok(answer.map(Outcome::Records))
            }
            Guest::Columns(guest) => {
                let answer = guest
                    .call_process_columns(&mut live.store, config, batch)
                    .await?;
                Ok(answer.map(Outcome::from_columns))
            }
        }
    })
    .await;
    let dropped = live.store.data().budget.logs_dropped;
    if dropped > 0 {
        tracing::warn!(
            plugin = plugin.name(),
            dropped,
            "Processor log lines over the per-batch cap were dropped."
        );
    }
    match called {
        Ok(Ok(Ok(outcome))) => match columns::check_outcome(&outcome, batch, bound, max_bytes) {
            Ok(()) => (Some(live), Ok(outcome)),
            Err(failure) => (None, Err(failure)),
        },
        Ok(Ok(Err(error))) => {
            let message = match error {
                processing::ProcessError::InvalidConfig(message) => {
                    format!("invalid config: {message}")
                }
                processing::ProcessError::Failed(message) => message,
            };
            let failure = match output::check_size(
                "error message",
                message.len() as u64,
                limits.max_output_bytes,
            ) {
                Ok(()) => ProcessFailure {
                    reason: ProcessFailureReason::PluginError,
                    message,
                },
                Err(error) => ProcessFailure {
                    reason: ProcessFailureReason::Sandbox(FailureReason::OutputTooLarge),
                    message: error.to_string(),
                },
            };
            // The plugin answered: its instance is sound.
            (Some(live), Err(failure))
        }
        Ok(Err(error)) => (None, Err(sandbox_failure(&error, &live))),
        Err(_) => (None, Err(deadline_in_host_call(limits, outer))),
    }
}

impl std::fmt::Debug for ProcessorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessorInstance")
            .field("plugin", &self.plugin.name())
            .field("live", &self.live.is_some())
            .finish()
    }
}

// === impl ProcessFailure ===

impl ProcessFailure {
    /// `snake_case` name of the reason, for a metric label.
    pub fn reason_str(&self) -> &'static str {
        match self.reason {
            ProcessFailureReason::Sandbox(reason) => reason.as_str(),
            ProcessFailureReason::PluginError => "plugin_error",
        }
    }
}

impl std::fmt::Display for ProcessFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason_str(), self.message)
    }
}

/// The failure of a call the sandbox stopped.
fn sandbox_failure(error: &wasmtime::Error, live: &Live) -> ProcessFailure {
    let failure = runner::classify(error, live.store.data(), &live.stderr.contents());
    ProcessFailure {
        reason: ProcessFailureReason::Sandbox(failure.reason),
        message: failure.message,
    }
}

fn deadline_in_host_call(limits: &Limits, outer: std::time::Duration) -> ProcessFailure {
    ProcessFailure {
        reason: ProcessFailureReason::Sandbox(FailureReason::DeadlineExceeded),
        message: format!(
            "deadline of {:?} exceeded while waiting in a host call (stopped after {outer:?})",
            limits.deadline()
        ),
    }
}

/// Checks what a processor returned for `batch` against it and `bound`, as
/// [`ProcessorInstance::process`] does. The agent checks again what a
/// plugin worker sends back: once it has run guest code, a worker is not
/// trusted.
pub fn verify_output(
    outcome: &Outcome,
    batch: &ColumnBatch,
    bound: OutputBound,
) -> Result<(), ProcessFailure> {
    columns::check_outcome(
        outcome,
        batch,
        bound,
        columns::max_output_bytes(batch, bound),
    )
}
