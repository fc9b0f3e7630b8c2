//! The WebAssembly plugin host: runs checks and log processors as sandboxed
//! components built against the WIT contract in `wit/`
//! (`neurallog:plugin@0.1.0`, worlds `check` and `processor`).
//!
//! One [`PluginHost`] per agent holds the wasmtime engine (epoch
//! interruption, pooling allocator, optional fuel), the one linker (WASI p2
//! plus the `neurallog:plugin` imports), and the on-disk cache of compiled
//! components. [`PluginHost::load`] turns a [`PluginSource`] into a
//! [`LoadedPlugin`] (compiled once, linked once with `instantiate_pre`,
//! `describe` called once); [`LoadedPlugin::run`] runs it once in a fresh
//! store and instance, under its [`Limits`] and with only its [`Grants`],
//! and returns a [`RunReport`] whose [`RunOutcome`] tells a result from a
//! plugin error from each way the sandbox can stop a run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use neurallog_agent::wasm::{Grants, HostSettings, Limits, PluginHost, PluginSource};
//!
//! let host = PluginHost::new(HostSettings::new("/var/lib/neurallog-agent/plugin-state"))?;
//! let plugin = host
//!     .load(
//!         "cert-expiry",
//!         PluginSource::File { path: "/etc/neurallog-agent/plugins/cert-expiry.wasm".into(), sha256: None },
//!         Limits::default(),
//!         Grants { tls_targets: vec!["example.com:443".into()], ..Grants::default() },
//!     )
//!     .await?;
//! let report = plugin.run(r#"{"targets":["example.com:443"]}"#).await;
//! println!("{}: {:?}", report.outcome.label(), report.outcome);
//! # Ok(()) }
//! ```
//!
//! Layout: `plugin_host` and `settings` (the API), `engine` (engine and
//! ticker), `cache` (compiled artifacts), `limits` and `permissions` (what a
//! plugin may use), `host/` (one file per WIT interface), `source` and
//! `loader` (loading) and `error` (why it failed), `shared` (what the host
//! and its plugins share), `plugin` and `runner` (running), `output`
//! (result validation), `report` (what a plugin is and what a run
//! yields), `processor` (a log processor and its reused instance),
//! `quarantine`, `inspect`, and
//! `worker` (a plugin in a confined process of its own).
//! Versioning is described in `bindings`.

mod bindings;
mod cache;
mod capture;
pub mod columns;
mod engine;
mod error;
mod fsutil;
mod host;
mod inspect;
mod limits;
mod loader;
mod output;
mod permissions;
mod plugin;
mod plugin_host;
mod processor;
mod quarantine;
mod report;
mod runner;
mod settings;
mod shared;
mod source;
pub mod worker;

#[cfg(test)]
pub(crate) mod tests;

pub use cache::CacheStatus;
pub use columns::{ColumnBatch, Outcome};
pub use engine::EngineError;
pub use error::{LoadError, LoadErrorKind};
pub use host::state::StateOpenError;
pub use host::tls::TlsSetupError;
pub use inspect::{InspectError, Inspection, Item};
pub use limits::{LimitProblem, Limits};
pub use permissions::{GrantError, GrantProblem, Grants};
pub use plugin::LoadedPlugin;
pub use plugin_host::{PluginHost, WasmError};
pub use processor::{
    Attribute, Batch, LoadedProcessor, LogRecord, OutputBound, ProcessFailure,
    ProcessFailureReason, ProcessedRecord, ProcessorInstance, Resource, Value, verify_output,
};
pub use quarantine::{QuarantinePolicy, QuarantineStatus};
pub use report::{
    CheckResult, Contract, Detail, FailureReason, Label, Metric, MetricKind, PluginErrorKind,
    PluginInfo, RunOutcome, RunReport, Status,
};
pub use settings::HostSettings;
pub use source::PluginSource;
