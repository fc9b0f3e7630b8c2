//! The `prometheus` exporter sink: keeps the latest value of every series
//! it receives and serves them in the Prometheus text format
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>), on the
//! admin server's `/metrics` or on an address of its own.
//!
//! Counters are monotonic sums exposed with `_total`; gauges and
//! non-monotonic sums as gauges; histograms with cumulative buckets. Names
//! come from the OpenTelemetry-to-Prometheus mapping ([`names`]) or, with
//! `naming: node_exporter`, from node_exporter for host metrics
//! ([`node_exporter`]). A batch is acknowledged once stored; series that
//! stop being updated expire.

mod config;
mod names;
mod node_exporter;
mod render;
mod server;
mod sink;
mod store;

pub use config::{Naming, PrometheusSinkConfig};
pub use names::{NameKind, label_name, metric_name};
pub use sink::build;

#[cfg(test)]
mod tests;
