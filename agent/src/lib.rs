//! The NeuralLog agent.
//!
//! One process per node: it tails log files and Kubernetes container logs,
//! collects host and pod metrics, runs checks as sandboxed WebAssembly
//! components, and ships everything to the platform's ingest without losing
//! data. See `README.md` for the architecture and the configuration.

pub mod admin;
pub mod app;
pub mod buffers;
pub mod checks;
pub mod cmd;
pub mod config;
pub mod embedded;
pub mod error;
pub mod event;
// Fuzz harnesses, for the `fuzz/` crate and the corpus replay tests; not
// part of the agent's API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod kubelet;
pub mod scaffold;
pub mod sinks;
pub mod sources;
pub(crate) mod sync;
pub mod telemetry;
pub mod time;
pub(crate) mod tls;
pub mod topology;
pub mod transforms;
pub mod wasm;
