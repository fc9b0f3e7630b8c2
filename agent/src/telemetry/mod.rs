//! The agent's own telemetry: its metrics registry, the typed internal
//! events that update it, and log set-up.
//!
//! Component code does not touch counters directly. It emits an internal
//! event (`events::FileRotated { .. }.emit()`), whose `emit` writes the log
//! line and bumps the counter together, so a log message and its metric
//! never drift apart.

pub mod events;
mod exposition;
mod logging;
mod registry;
pub(crate) mod text_format;

pub use exposition::Exposition;
pub(crate) use logging::escape_controls;
pub use logging::init as init_logging;
pub use registry::{Counter, Gauge, Histogram, Labels, Registry, registry};
