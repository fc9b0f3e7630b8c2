//! Write check plugins for the NeuralLog agent in Rust.
//!
//! A plugin is a WebAssembly component (built for `wasm32-wasip2`) that
//! targets the world `check` of the WIT package `neurallog:plugin@0.1.0`
//! (`wit/plugin.wit`, shipped inside this crate). The agent calls its
//! `describe` once when it loads it, and `run` on every scheduled run, each
//! time in a fresh instance. This crate hides the bindings: implement
//! [`Check`], export it with [`export_check!`], and use the typed wrappers
//! over what the agent offers.
//!
//! ```
//! use neurallog_plugin_sdk::schemars::JsonSchema;
//! use neurallog_plugin_sdk::{Check, CheckResult, Metric, PluginInfo, RunError, Status};
//! use serde::Deserialize;
//!
//! /// Configuration of the `answer` check.
//! #[derive(Deserialize, JsonSchema)]
//! // The derive names `schemars` paths: through the SDK's re-export, the
//! // plugin needs no `schemars` dependency of its own.
//! #[schemars(crate = "neurallog_plugin_sdk::schemars")]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// The value below which the check turns critical.
//!     #[serde(default = "default_minimum")]
//!     minimum: f64,
//! }
//!
//! fn default_minimum() -> f64 {
//!     42.0
//! }
//!
//! struct Answer;
//!
//! impl Check for Answer {
//!     type Config = Config;
//!
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("answer", "0.1.0", "Reports the answer.").config_schema_of::<Config>()
//!     }
//!
//!     fn run(config: Config) -> Result<CheckResult, RunError> {
//!         let value = 42.0;
//!         let status = if value < config.minimum { Status::Critical } else { Status::Ok };
//!         Ok(CheckResult::new(status, format!("the answer is {value}"))
//!             .metric(Metric::gauge("answer_value", value).unit("1")))
//!     }
//! }
//!
//! neurallog_plugin_sdk::export_check!(Answer);
//! # fn main() {
//! # let result = neurallog_plugin_sdk::run_check::<Answer>("{}").unwrap();
//! # assert_eq!(result.status, Status::Ok);
//! # }
//! ```
//!
//! # What a plugin can use
//!
//! | need | use | granted in the agent's config by |
//! | --- | --- | --- |
//! | the time | [`clock::now`] | always available |
//! | log lines | [`info!`], [`warn!`], ... ([`log`]) | always available (lines per run are capped) |
//! | memory between runs | [`state`] (`get_json`/`set_json`) | always available (size is capped) |
//! | a server's TLS chain | [`tls::peer_certificates`] | `grants.tls_targets: ["host:port"]` |
//! | filesystem usage | [`fs_stats`] | `grants.mounts: ["/var"]` |
//! | files | `std::fs` with absolute paths, [`fs::glob`] | `grants.directories: ["/etc/ssl"]` (read-only) |
//! | environment variables | `std::env::var` | `grants.env: ["HOSTNAME"]` |
//!
//! There is no network access besides [`tls`]. Anything not granted fails
//! like a missing file or an `not-allowed` error, never silently.
//!
//! # Testing natively
//!
//! Built for any target other than `wasm32`, the host functions talk to an
//! in-memory mock ([`testing`]), so `cargo test` exercises a check's real
//! code: set the clock, mounts, TLS answers and state, then call
//! [`run_check`] with a JSON config.
//!
//! # Imports of the built component
//!
//! A component built with this SDK imports exactly the interfaces of the
//! `check` world (`neurallog:plugin/log`, `clock`, `tls`, `fs-stats`,
//! `state`, `types`) plus the WASI 0.2 interfaces Rust's standard library
//! uses (`wasi:cli/*`, `wasi:io/*`, `wasi:clocks/*`, `wasi:filesystem/*`,
//! `wasi:random/*`).

// The generated `export!` macro names paths through this crate's name, which
// must therefore also resolve inside the crate itself.
extern crate self as neurallog_plugin_sdk;

mod check;
pub mod clock;
mod columns;
pub mod fs;
pub mod fs_stats;
mod host;
pub mod log;
mod metric;
mod processor;
mod result;
pub mod state;
#[cfg(not(target_family = "wasm"))]
pub mod testing;
pub mod tls;

pub use check::{Check, NoConfig, PluginInfo, RunError, parse_config, run_check};
pub use columns::{ColumnProcessor, Columns, ValueRef, Verdicts, run_column_processor};
pub use metric::{Label, Metric, MetricKind};
pub use processor::{Batch, ProcessError, Processor, Record, Resource, Value, run_processor};
pub use result::{CheckResult, Detail, Status};
#[cfg(feature = "schema")]
pub use schemars;

/// Exports a type implementing [`Check`] as the component's `describe` and
/// `run`. Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// neurallog_plugin_sdk::export_check!(MyCheck);
/// ```
///
/// It expands to nothing outside `wasm32` builds, so the crate still builds
/// and tests natively. The crate must be a `cdylib` (`[lib] crate-type =
/// ["cdylib"]`, as in `plugins/template`) for `cargo build --target
/// wasm32-wasip2` to emit a component.
#[macro_export]
macro_rules! export_check {
    ($check:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct NeurallogCheckExport;

            impl $crate::__private::Guest for NeurallogCheckExport {
                fn describe() -> $crate::__private::WitPluginInfo {
                    $crate::__private::describe::<$check>()
                }

                fn run(
                    config: ::std::string::String,
                ) -> ::std::result::Result<
                    $crate::__private::WitCheckResult,
                    $crate::__private::WitRunError,
                > {
                    $crate::__private::run::<$check>(&config)
                }
            }

            $crate::__private::bindings::export!(
                NeurallogCheckExport with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Exports a type implementing [`Processor`] as the component's `describe`
/// and `process` (world `processor`). Invoke it once, at the top level of
/// the plugin crate, and never together with [`export_check!`]: a
/// component is either a check or a processor.
///
/// ```ignore
/// neurallog_plugin_sdk::export_processor!(MyProcessor);
/// ```
///
/// Like [`export_check!`], it expands to nothing outside `wasm32` builds.
#[macro_export]
macro_rules! export_processor {
    ($processor:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct NeurallogProcessorExport;

            impl $crate::__private::ProcessorGuest for NeurallogProcessorExport {
                fn describe() -> $crate::__private::WitPluginInfo {
                    $crate::__private::describe_processor::<$processor>()
                }

                fn process(
                    config: ::std::string::String,
                    batch: $crate::__private::WitBatch,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::__private::WitProcessedRecord>,
                    $crate::__private::WitProcessError,
                > {
                    $crate::__private::process::<$processor>(&config, batch)
                }
            }

            $crate::__private::processor_bindings::export!(
                NeurallogProcessorExport with_types_in $crate::__private::processor_bindings
            );
        };
    };
}

/// Exports a type implementing [`ColumnProcessor`] as the component's
/// `describe` and `process-columns` (world `column-processor`). Invoke it
/// once, at the top level of the plugin crate, and never together with
/// [`export_check!`] or [`export_processor!`].
///
/// ```ignore
/// neurallog_plugin_sdk::export_column_processor!(MyProcessor);
/// ```
///
/// Like [`export_check!`], it expands to nothing outside `wasm32` builds.
#[macro_export]
macro_rules! export_column_processor {
    ($processor:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct NeurallogColumnProcessorExport;

            impl $crate::__private::ColumnProcessorGuest for NeurallogColumnProcessorExport {
                fn describe() -> $crate::__private::WitPluginInfo {
                    $crate::__private::describe_column_processor::<$processor>()
                }

                fn process_columns(
                    config: ::std::string::String,
                    batch: $crate::__private::WitColumnBatch,
                ) -> ::std::result::Result<
                    $crate::__private::WitColumnOutcome,
                    $crate::__private::WitProcessError,
                > {
                    $crate::__private::process_columns::<$processor>(&config, batch)
                }
            }

            $crate::__private::column_processor_bindings::export!(
                NeurallogColumnProcessorExport with_types_in $crate::__private::column_processor_bindings
            );
        };
    };
}

/// Used by [`export_check!`], [`export_processor!`] and
/// [`export_column_processor!`]; not part of the public API.
#[cfg(target_family = "wasm")]
#[doc(hidden)]
pub mod __private {
    pub use crate::host::bindings;
    pub use crate::host::bindings::Guest;
    pub use crate::host::bindings::neurallog::plugin::types::{
        CheckResult as WitCheckResult, PluginInfo as WitPluginInfo, RunError as WitRunError,
    };
    pub use crate::host::column_processor_bindings;
    pub use crate::host::column_processor_bindings::Guest as ColumnProcessorGuest;
    pub use crate::host::column_processor_bindings::neurallog::plugin::columns::{
        ColumnBatch as WitColumnBatch, ColumnOutcome as WitColumnOutcome,
    };
    pub use crate::host::processor_bindings;
    pub use crate::host::processor_bindings::Guest as ProcessorGuest;
    pub use crate::host::processor_bindings::neurallog::plugin::processing::{
        Batch as WitBatch, ProcessError as WitProcessError, ProcessedRecord as WitProcessedRecord,
    };
    pub use crate::host::wasm::{
        describe, describe_column_processor, describe_processor, process, process_columns, run,
    };
    pub use wit_bindgen;
}
