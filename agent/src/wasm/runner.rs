//! One call into a plugin: a fresh `Store` and instance from the pre-linked
//! component, the call, and, when the sandbox stopped it, which limit did.
//!
//! Two clocks bound a run. Epoch interruption traps a guest that is
//! computing past its deadline (and makes it yield its thread every tick
//! meanwhile). It cannot fire while the guest waits in an async host call
//! (a TLS probe to a black hole, `statvfs` on a dead NFS mount), so an
//! outer `tokio` timeout of deadline plus grace drops the whole call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTableError;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::v0_1;
use super::capture::Capture;
use super::host::{HostState, PluginContext};
use super::limits::{CapHit, LimitTrap, MemoryLimiter};
use super::report::FailureReason;
use super::shared::Shared;

use v0_1::neurallog::plugin::types as wit;

/// The pre-linked component, by contract version.
pub(crate) enum Bindings {
    V0_1(v0_1::CheckPre<HostState>),
}

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
    let stderr = Capture::new(usize::try_from(limits.max_stderr_bytes).unwrap_or(usize::MAX));
    let (mut store, fuel) = match new_store(shared, plugin, stderr.clone(), started) {
        Ok(store) => store,
        Err(message) => return setup_failed(message, started),
    };

    let outer = limits.deadline() + shared.settings.deadline_grace;
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
                limits.deadline()
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

/// A fresh store for one call: WASI with the plugin's grants, the memory
/// limiter, fuel (returned when on) and the epoch deadline.
pub(crate) fn new_store(
    shared: &Shared,
    plugin: &Arc<PluginContext>,
    stderr: Capture,
    started: Instant,
) -> Result<(Store<HostState>, Option<u64>), String> {
    let limits = &plugin.limits;
    let wasi = plugin
        .grants
        .wasi_ctx(stderr)
        .map_err(|error| format!("cannot prepare the sandbox: {error:#}"))?;
    let limiter = MemoryLimiter::new(limits.memory_bytes, shared.budget.clone());
    let deadline = started + limits.deadline();
    let mut store = Store::new(
        &shared.engine,
        HostState::new(plugin.clone(), wasi, limiter, deadline),
    );
    store.limiter(|state| &mut state.limiter);
    store.set_hostcall_fuel(usize::try_from(limits.lift_budget_bytes()).unwrap_or(usize::MAX));
    let fuel = shared
        .settings
        .fuel_enabled
        .then(|| limits.fuel.unwrap_or(u64::MAX));
    if let Some(fuel) = fuel {
        store
            .set_fuel(fuel)
            .map_err(|error| format!("cannot set fuel: {error:#}"))?;
    }
    let deadline_len = limits.deadline();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |ctx| match Instant::now() >= ctx.data().deadline {
        true => Err(LimitTrap::Deadline(deadline_len).into()),
        // Not yet: let other tasks have the thread, check again next tick.
        false => Ok(UpdateDeadline::Yield(1)),
    });
    Ok((store, fuel))
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
pub(crate) fn classify(error: &wasmtime::Error, state: &HostState, stderr: &str) -> Failure {
    let limit = error.chain().find_map(|e| e.downcast_ref::<LimitTrap>());
    let trap = error.chain().find_map(|e| e.downcast_ref::<Trap>());
    let root = error.root_cause().to_string();
    let table_full = error.chain().any(|e| {
        matches!(
            e.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        )
    });
    // wasmtime's error type for this is private: its message is the API.
    if root.contains(LIFT_BUDGET_MESSAGE) {
        return Failure {
            reason: FailureReason::OutputTooLarge,
            message: format!(
                "the plugin handed the host more than its lift budget of {} bytes in one value",
                state.plugin.limits.lift_budget_bytes()
            ),
        };
    }
    if table_full {
        return Failure {
            reason: FailureReason::HandleBudgetExceeded,
            message: format!(
                "more than {} WASI handles (open files, streams) held at once",
                state.plugin.limits.max_open_handles
            ),
        };
    }
    let reason = match (limit, trap, state.limiter.cap_hit()) {
        (Some(LimitTrap::Deadline(_)), ..) | (_, Some(Trap::Interrupt), _) => {
            FailureReason::DeadlineExceeded
        }
        (Some(LimitTrap::HostCalls(_)), ..) => FailureReason::HostCallBudgetExceeded,
        (Some(LimitTrap::StateWrites(_)), ..) => FailureReason::StateWriteBudgetExceeded,
        (_, Some(Trap::OutOfFuel), _) => FailureReason::FuelExhausted,
        // A refused growth, then a trap (the guest's allocator gives up) or a
        // failed instantiation: the cap is what stopped it.
        (_, _, Some(hit)) => {
            let limit = match hit {
                CapHit::Plugin => {
                    format!("memory cap of {} bytes", state.plugin.limits.memory_bytes)
                }
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

/// How wasmtime says a lift ran out of hostcall fuel (the lift budget).
const LIFT_BUDGET_MESSAGE: &str = "too much data is being copied between the host and the guest";

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
