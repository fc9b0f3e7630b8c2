//! Events of the `prometheus` exporter sink.

use std::net::SocketAddr;

use super::ComponentMetrics;
use crate::telemetry::registry;

/// The exporter serves on its own address.
#[derive(Debug)]
pub struct PrometheusExporterListening<'a> {
    /// The sink's metrics.
    pub component: &'a ComponentMetrics,
    /// The bound address.
    pub address: SocketAddr,
}

/// The exporter holds this many series after a batch or an expiry sweep.
#[derive(Debug)]
pub struct PrometheusSeriesStored<'a> {
    /// The sink's metrics.
    pub component: &'a ComponentMetrics,
    /// Series held.
    pub series: usize,
}

/// Series not updated within `expire_secs` were dropped.
#[derive(Debug)]
pub struct PrometheusSeriesExpired<'a> {
    /// The sink's metrics.
    pub component: &'a ComponentMetrics,
    /// How many.
    pub count: usize,
}

/// A metric cannot be exposed (its name is the agent's own, or its family
/// already has another type). Emitted once per name.
#[derive(Debug)]
pub struct PrometheusMetricSkipped<'a> {
    /// The sink's metrics.
    pub component: &'a ComponentMetrics,
    /// The exposed name.
    pub name: &'a str,
    /// Why: `reserved_name` or `type_conflict`.
    pub reason: &'static str,
}

// === impl PrometheusExporterListening ===

impl PrometheusExporterListening<'_> {
    /// Log the address.
    pub fn emit(self) {
        tracing::info!(component_id = %self.component.id(), address = %self.address, "Prometheus exporter listening.");
    }
}

// === impl PrometheusSeriesStored ===

impl PrometheusSeriesStored<'_> {
    /// Set `neurallog_agent_prometheus_series`.
    pub fn emit(self) {
        registry()
            .gauge(
                "neurallog_agent_prometheus_series",
                "Series a prometheus exporter sink holds.",
                self.component.labels(),
            )
            .set(self.series as f64);
    }
}

// === impl PrometheusSeriesExpired ===

impl PrometheusSeriesExpired<'_> {
    /// Log at debug and count.
    pub fn emit(self) {
        tracing::debug!(component_id = %self.component.id(), count = self.count, "Stale series expired.");
        registry()
            .counter(
                "neurallog_agent_prometheus_expired_series_total",
                "Series a prometheus exporter sink dropped because they were not updated within expire_secs.",
                self.component.labels(),
            )
            .add(self.count as u64);
    }
}

// === impl PrometheusMetricSkipped ===

impl PrometheusMetricSkipped<'_> {
    /// Warn and count.
    pub fn emit(self) {
        tracing::warn!(component_id = %self.component.id(), name = self.name, reason = self.reason, "Metric not exposed.");
        let mut labels = self.component.labels();
        labels.push(("reason", self.reason.to_owned()));
        registry()
            .counter(
                "neurallog_agent_prometheus_skipped_metrics_total",
                "Metric names a prometheus exporter sink could not expose, by reason.",
                labels,
            )
            .inc();
    }
}
