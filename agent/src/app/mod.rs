//! The agent's lifecycle: start-up, reload, graceful shutdown.
//!
//! - SIGTERM / SIGINT: sources stop, sinks deliver what they hold within
//!   `shutdown_timeout_secs`, checkpoints are saved, the process exits 0.
//! - SIGHUP, or a change of the configuration file: the new configuration
//!   is loaded and validated first; a bad one is logged and counted
//!   (`neurallog_agent_config_reloads_total{result="failure"}`) and the
//!   running pipeline carries on untouched. A good one replaces only the
//!   components that changed.

mod pipeline;
mod run;
mod watch;

pub use pipeline::Pipeline;
pub use run::{RunError, run};
