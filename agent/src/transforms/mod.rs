//! Transforms: what happens to events between their sources and their
//! sinks (parsing a line into fields, dropping what nobody needs).
//!
//! A transform runs as a task of its own. Its input is a sink's (fed by the
//! fanouts of the components it names), its output a source's
//! [`Fanout`](crate::topology::Fanout) to the sinks and transforms that name
//! it, so backpressure and reloads work as they do between sources and
//! sinks. It works on whole batches and keeps each batch's
//! acknowledgement: a record removed on purpose was handled, and a batch
//! emptied completely is acknowledged as delivered (see [`runner`]).

pub mod filter;
pub mod log_to_metric;
pub mod parse;
pub mod redact;
pub mod route;
pub mod runner;
pub mod sample;
pub mod throttle;
pub mod wasm;

use crate::config::components;
use crate::topology::TransformContext;

pub use runner::{Transform, run};

components! {
    /// A transform, by `type`.
    pub enum TransformConfig, built with TransformContext {
        /// Parse each record's body (JSON, logfmt, a regex, or a preset for
        /// access logs, syslog and klog) into attributes, timestamp and
        /// severity.
        Parse("parse", parse::ParseConfig) => parse::build,
        /// Keep or drop records by conditions on body, severity, attributes
        /// and resource.
        Filter("filter", filter::FilterConfig) => filter::build,
        /// Run each batch through a Wasm processor plugin.
        Wasm("wasm", Box<wasm::WasmTransformConfig>) => wasm::build,
        /// Replace secrets (and, if asked, personal data) with a marker.
        Redact("redact", redact::RedactConfig) => redact::build,
        /// Send records to named outputs by condition.
        Route("route", route::RouteConfig) => route::build,
        /// Count, gauge and bucket log records into metrics.
        LogToMetric("log_to_metric", log_to_metric::LogToMetricConfig) => log_to_metric::build,
        /// Keep one record in N, by count or by a key's hash.
        Sample("sample", sample::SampleConfig) => sample::build,
        /// At most N records per key and window.
        Throttle("throttle", throttle::ThrottleConfig) => throttle::build,
    }
}

// === impl TransformConfig ===

impl TransformConfig {
    /// The transform's named outputs, which consumers name as
    /// `ID.OUTPUT` in their `inputs`. Empty for a transform with one
    /// output, named by its `ID` alone.
    pub fn outputs(&self) -> Vec<&str> {
        match self {
            TransformConfig::Route(route) => route.outputs().collect(),
            _ => Vec::new(),
        }
    }
}

/// The component an input names: `ID` of `ID.OUTPUT` (component names
/// hold no `.`), or the whole input.
pub fn input_component(input: &str) -> &str {
    input
        .split_once('.')
        .map_or(input, |(component, _)| component)
}
