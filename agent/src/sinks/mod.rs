//! Sinks: where events go.
//!
//! Every sink reads [`EventBatch`](crate::event::EventBatch)es from its
//! [`SinkInput`](crate::topology::SinkInput), delivers them, and only then
//! resolves their acknowledgements.

pub mod console;
pub mod encoding;
pub mod file;
pub mod otlp;
pub mod prometheus;
pub mod prometheus_remote_write;
pub mod util;

use crate::config::components;
use crate::topology::SinkContext;

components! {
    /// A sink, by `type`.
    pub enum SinkConfig, built with SinkContext {
        /// JSON lines on standard output.
        Console("console", console::ConsoleSinkConfig) => console::build,
        /// JSON lines in a local file, rotated by size.
        File("file", file::FileSinkConfig) => file::build,
        /// Logs, metrics and check results to an OTLP/HTTP receiver.
        OtlpHttp("otlp_http", otlp::OtlpHttpSinkConfig) => otlp::build,
        /// Metrics served for Prometheus to scrape, on the admin server's
        /// `/metrics` or an address of its own.
        Prometheus("prometheus", prometheus::PrometheusSinkConfig) => prometheus::build,
        /// Metrics to a Prometheus remote-write receiver.
        PrometheusRemoteWrite("prometheus_remote_write", prometheus_remote_write::PrometheusRemoteWriteSinkConfig) => prometheus_remote_write::build,
    }
}
