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
pub mod parse;
pub mod redact;
pub mod runner;

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
        /// Replace secrets (and, if asked, personal data) with a marker.
        Redact("redact", redact::RedactConfig) => redact::build,
    }
}
