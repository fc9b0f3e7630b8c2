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

/// The allocator the agent runs on, named once here so that its binary
/// and the benches that stand for it (`#[global_allocator] static A:
/// neurallog_agent::Allocator = neurallog_agent::ALLOCATOR;`) agree.
///
/// jemalloc rather than glibc's: a batch is built on one thread (a source,
/// a transform) and freed on another (the next transform, a sink), and a
/// free into another thread's glibc arena takes that arena's lock, which
/// the thread building the next batch holds as it allocates. Profiled
/// behind a parse transform, that lock's futex wake-ups and waits were a
/// seventh of the process's CPU. jemalloc (as Vector and Fluent Bit ship
/// with) returns such frees in batches through its thread caches. Its
/// settings (one arena, thread caches up to 1 KiB) are built in from
/// `.cargo/config.toml`.
pub type Allocator = tikv_jemallocator::Jemalloc;

/// The value of [`Allocator`].
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;
