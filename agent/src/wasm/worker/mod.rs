//! Plugin workers: a plugin run in a separate process, so that a sandbox
//! escape is not a compromise of the agent (which runs privileged on every
//! node).
//!
//! The worker is the agent's own executable re-executed with the hidden
//! subcommand `plugin-worker` (packaging does not change). It loads one
//! plugin with a host of its own, then confines itself: an unprivileged
//! user (or, when not started as root, no capabilities), `no_new_privs`,
//! resource limits, a cgroup of its own where the agent may create one, and
//! a seccomp filter allowing only what the Wasm host needs. It talks to the
//! agent over a socketpair in length-prefixed JSON frames.
//!
//! - `protocol`: the messages and their framing.
//! - `client`: the agent's side, [`WorkerPlugin`], what the check scheduler
//!   runs a worker-isolated plugin through; restarts with backoff.
//! - `server`: the worker's side, [`serve`].
//! - `sandbox` and `seccomp`: the worker confining itself; `cgroup`: the
//!   agent placing it.
//! - `logs`: the worker's log lines, forwarded to the agent's log.

mod cgroup;
mod client;
mod logs;
mod protocol;
mod sandbox;
mod seccomp;
mod server;

pub use client::{WorkerOptions, WorkerPlugin, WorkerStatus};
pub use protocol::Confinement;
pub use server::{ESCAPE_TEST_ENV, serve};

/// `error` and its sources, `: `-separated: the one line a worker's error
/// travels as.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
