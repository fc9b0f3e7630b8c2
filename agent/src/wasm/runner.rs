//! One run of a plugin: a fresh `Store` and instance from the pre-linked
//! component, the call, and the outcome mapped to a [`RunReport`].
//!
//! Two clocks bound a run. Epoch interruption traps a guest that is
//! computing past its deadline (and makes it yield its thread every tick
//! meanwhile). It cannot fire while the guest waits in an async host call
//! (a TLS probe to a black hole, `statvfs` on a dead NFS mount), so an
//! outer `tokio` timeout of deadline plus grace drops the whole call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::v0_1;
use super::capture::Capture;
use super::host::{HostState, PluginContext};
use super::limits::{CapHit, LimitTrap, MemoryLimiter};
use super::loader::{Bindings, LoadedPlugin};
use super::output::{self, OutputError};
use super::plugin_host::Shared;
use super::report::{FailureReason, PluginErrorKind, RunOutcome, RunReport};

use v0_1::neurallog::plugin::types as wit;

/// Which export to call.
pub(crate) enum Call<'a> {
    Describe,
    Run(&'a str),
}

/// What the export returned.
pub(crate) enum Returned {
    Describe(wit::PluginInfo),
    Run(Result<wit::CheckResult, wit::RunError>),
}

/// Why the sandbox stopped a call.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) reason: FailureReason,
    pub(crate) message: String,
}

/// A finished call and what it cost.
pub(crate) struct Execution {
    pub(crate) result: Result<Returned, Failure>,
    pub(crate) duration: Duration,
    pub(crate) stderr: String,
    pub(crate) log_lines: u64,
    pub(crate) logs_dropped: u64,
    pub(crate) host_calls: u64,
    pub(crate) fuel_consumed: Option<u64>,
    pub(crate) peak_memory_bytes: u64,
}

/// Calls one export in a fresh instance.
pub(crate) async fn execute(
    shared: &Shared,
    plugin: &Arc<PluginContext>,
    bindings: &Bindings,
    call: Call<'_>,
) -> Execution {
    let limits = &plugin.limits;
    // `acquire` fails only on a closed semaphore; this one is never closed.
    let _slot = shared.slots.acquire().await.ok();
    let started = Instant::now();
    let stderr = Capture::new(limits.max_stderr_bytes);
    let wasi = match plugin.grants.wasi_ctx(stderr.clone()) {
        Ok(wasi) => wasi,
        Err(error) => {
            return setup_failed(format!("cannot prepare the sandbox: {error:#}"), started);
        }
    };
    let limiter = MemoryLimiter::new(limits.max_memory_bytes, shared.budget.clone());
    let deadline = started + limits.deadline;
    let mut store = Store::new(
        &shared.engine,
        HostState::new(plugin.clone(), wasi, limiter, deadline),
    );
    store.limiter(|state| &mut state.limiter);
    let fuel = shared
        .settings
        .fuel_enabled
        .then(|| limits.fuel.unwrap_or(u64::MAX));
    if let Some(fuel) = fuel
        && let Err(error) = store.set_fuel(fuel)
    {
        return setup_failed(format!("cannot set fuel: {error:#}"), started);
    }
    let deadline_len = limits.deadline;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |ctx| match Instant::now() >= ctx.data().deadline {
        true => Err(LimitTrap::Deadline(deadline_len).into()),
        // Not yet: let other tasks have the thread, check again next tick.
        false => Ok(UpdateDeadline::Yield(1)),
    });

    let outer = limits.deadline + shared.settings.deadline_grace;
    let called = tokio::time::timeout(outer, call_export(&mut store, bindings, call)).await;
    let stderr = stderr.contents();
    let result = match called {
        Ok(Ok(returned)) => Ok(returned),
        Ok(Err(error)) => {
            tracing::debug!(plugin = &*plugin.name, error = ?error, "Plugin call failed.");
            Err(classify(&error, store.data(), &stderr))
        }
        Err(_elapsed) => Err(Failure {
            reason: FailureReason::DeadlineExceeded,
            message: format!(
                "deadline of {:?} exceeded while waiting in a host call (stopped after {outer:?})",
                limits.deadline
            ),
        }),
    };
    let fuel_consumed = fuel.and_then(|initial| Some(initial - store.get_fuel().ok()?));
    let state = store.data();
    Execution {
        result,
        duration: started.elapsed(),
        stderr,
        log_lines: state.budget.log_lines,
        logs_dropped: state.budget.logs_dropped,
        host_calls: state.budget.host_calls,
        fuel_consumed,
        peak_memory_bytes: state.limiter.peak(),
    }
}

async fn call_export(
    store: &mut Store<HostState>,
    bindings: &Bindings,
    call: Call<'_>,
) -> wasmtime::Result<Returned> {
    match bindings {
        Bindings::V0_1(pre) => {
            let check = pre.instantiate_async(&mut *store).await?;
            Ok(match call {
                Call::Describe => Returned::Describe(check.call_describe(&mut *store).await?),
                Call::Run(config) => Returned::Run(check.call_run(&mut *store, config).await?),
            })
        }
    }
}

fn setup_failed(message: String, started: Instant) -> Execution {
    Execution {
        result: Err(Failure {
            reason: FailureReason::Setup,
            message,
        }),
        duration: started.elapsed(),
        stderr: String::new(),
        log_lines: 0,
        logs_dropped: 0,
        host_calls: 0,
        fuel_consumed: None,
        peak_memory_bytes: 0,
    }
}

/// Tells which limit (if any) stopped the guest. The message is the root
/// cause (the trap or the limit; the wasm backtrace goes to the debug log)
/// and, for a guest's own trap, the last line it wrote to stderr, where
/// Rust puts the panic message.
fn classify(error: &wasmtime::Error, state: &HostState, stderr: &str) -> Failure {
    let limit = error.chain().find_map(|e| e.downcast_ref::<LimitTrap>());
    let trap = error.chain().find_map(|e| e.downcast_ref::<Trap>());
    let root = error.root_cause().to_string();
    let reason = match (limit, trap, state.limiter.cap_hit()) {
        (Some(LimitTrap::Deadline(_)), ..) | (_, Some(Trap::Interrupt), _) => {
            FailureReason::DeadlineExceeded
        }
        (Some(LimitTrap::HostCalls(_)), ..) => FailureReason::HostCallBudgetExceeded,
        (_, Some(Trap::OutOfFuel), _) => FailureReason::FuelExhausted,
        // A refused growth, then a trap (the guest's allocator gives up) or a
        // failed instantiation: the cap is what stopped it.
        (_, _, Some(hit)) => {
            let limit = match hit {
                CapHit::Plugin => format!(
                    "memory cap of {} bytes",
                    state.plugin.limits.max_memory_bytes
                ),
                CapHit::HostBudget => "host-wide plugin memory budget".to_string(),
            };
            return Failure {
                reason: FailureReason::MemoryExceeded,
                message: with_stderr_hint(format!("{limit} reached: {root}"), stderr),
            };
        }
        // A trap code, or an error a host function raised to stop the guest
        // (WASI does for some misuse): the plugin is broken.
        _ => {
            return Failure {
                reason: FailureReason::Trap,
                message: with_stderr_hint(root, stderr),
            };
        }
    };
    Failure {
        reason,
        message: root,
    }
}

/// Longest stderr excerpt added to a failure message, in bytes.
const STDERR_HINT_BYTES: usize = 200;

/// Appends the last meaningful stderr line (a panic message, an allocation
/// failure) to `message`.
fn with_stderr_hint(message: String, stderr: &str) -> String {
    let last = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("note: "));
    match last {
        Some(line) => {
            let mut end = line.len().min(STDERR_HINT_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            format!("{message} (stderr: {})", &line[..end])
        }
        None => message,
    }
}

// === impl LoadedPlugin ===

impl LoadedPlugin {
    /// Runs the check once with `config_json` (the check's `config:` as
    /// JSON, `{}` when absent) in a fresh instance. Never fails: every way a
    /// run can go wrong is a [`RunOutcome`].
    pub async fn run(&self, config_json: &str) -> RunReport {
        let name = &*self.context.name;
        // Bind first: the lock guard must not live into the body.
        let status = self.quarantine();
        if let Some(remaining) = status.remaining {
            return RunReport {
                outcome: RunOutcome::Failed {
                    reason: FailureReason::Quarantined,
                    message: format!(
                        "quarantined for another {remaining:.0?} after {} failed runs; last: {}",
                        status.consecutive_failures,
                        status.last_failure.as_deref().unwrap_or("unknown")
                    ),
                },
                duration: Duration::ZERO,
                stderr: String::new(),
                log_lines: 0,
                logs_dropped: 0,
                host_calls: 0,
                fuel_consumed: None,
                peak_memory_bytes: 0,
            };
        }

        let run = execute(
            &self.shared,
            &self.context,
            &self.bindings,
            Call::Run(config_json),
        )
        .await;
        let max_output = self.context.limits.max_output_bytes;
        let outcome = match run.result {
            Ok(Returned::Run(Ok(result))) => match output::accept(result, max_output) {
                Ok(result) => RunOutcome::Ok(result),
                Err(error @ OutputError::TooLarge { .. }) => {
                    failed(FailureReason::OutputTooLarge, error)
                }
                Err(error @ OutputError::Invalid(_)) => failed(FailureReason::InvalidOutput, error),
            },
            Ok(Returned::Run(Err(wit::RunError::InvalidConfig(message)))) => {
                RunOutcome::PluginError {
                    kind: PluginErrorKind::InvalidConfig,
                    message,
                }
            }
            Ok(Returned::Run(Err(wit::RunError::Failed(message)))) => RunOutcome::PluginError {
                kind: PluginErrorKind::Failed,
                message,
            },
            Ok(Returned::Describe(_)) => failed(FailureReason::Trap, "run returned plugin-info"),
            Err(Failure { reason, message }) => RunOutcome::Failed { reason, message },
        };

        match outcome.failure() {
            Some(reason) if reason.counts_toward_quarantine() => {
                let message = match &outcome {
                    RunOutcome::Failed { message, .. } => message.as_str(),
                    _ => "",
                };
                tracing::warn!(plugin = name, reason = reason.as_str(), %message, "Plugin run failed.");
                let why = format!("{}: {message}", reason.as_str());
                let quarantined = self.quarantine_state().record_failure(Instant::now(), why);
                if let Some(backoff) = quarantined {
                    tracing::warn!(
                        plugin = name,
                        backoff_s = backoff.as_secs(),
                        "Plugin quarantined after repeated failures."
                    );
                }
            }
            Some(reason) => tracing::warn!(
                plugin = name,
                reason = reason.as_str(),
                "Plugin run could not start."
            ),
            None => self.quarantine_state().record_success(),
        }
        if run.logs_dropped > 0 {
            tracing::warn!(
                plugin = name,
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

fn failed(reason: FailureReason, message: impl ToString) -> RunOutcome {
    RunOutcome::Failed {
        reason,
        message: message.to_string(),
    }
}
