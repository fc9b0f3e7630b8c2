//! Events of the metric sources: `host_metrics` and `pod_metrics`.

use std::fmt;
use std::time::Duration;

use super::ComponentMetrics;
use crate::telemetry::registry;

/// Bucket bounds of collection and request durations, in seconds.
const DURATION_BOUNDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// One collector of a metric source failed this cycle; the others still
/// produced points.
#[derive(Debug)]
pub struct CollectorFailed<'a, E: fmt::Display> {
    /// The source's metrics.
    pub component: &'a ComponentMetrics,
    /// The collector: `cpu`, `filesystem`, `kubelet`, `cgroup`...
    pub collector: &'static str,
    /// A stable `snake_case` class: `read_failed`, `kubelet_timeout`...
    pub error_type: &'static str,
    /// The error.
    pub error: E,
    /// It failed the same way last cycle too: counted, logged at debug
    /// only, so a missing file does not write a warning every interval.
    pub repeated: bool,
}

/// A metric source finished a collection cycle.
#[derive(Debug)]
pub struct MetricsCollected<'a> {
    /// The source's metrics.
    pub component: &'a ComponentMetrics,
    /// Points produced.
    pub points: usize,
    /// How long the cycle took.
    pub duration: Duration,
}

/// TLS verification of the kubelet is off (`insecure_skip_verify`).
#[derive(Debug)]
pub struct KubeletVerificationDisabled<'a> {
    /// The source's metrics.
    pub component: &'a ComponentMetrics,
    /// The kubelet endpoint.
    pub endpoint: &'a str,
}

/// The kubelet could not be scraped and pod metrics were read from the
/// cgroup filesystem instead.
#[derive(Debug)]
pub struct PodMetricsFromCgroups<'a> {
    /// The source's metrics.
    pub component: &'a ComponentMetrics,
    /// Pods found.
    pub pods: usize,
    /// The previous cycle fell back too (logged at debug only).
    pub repeated: bool,
}

// === impl CollectorFailed ===

impl<E: fmt::Display> CollectorFailed<'_, E> {
    /// Log and count the failure in `neurallog_agent_component_errors_total`
    /// with `error_type="<collector>_<class>"`.
    pub fn emit(self) {
        let error_type = format!("{}_{}", self.collector, self.error_type);
        if self.repeated {
            tracing::debug!(component_id = %self.component.id(), error_type, error = %self.error, "Metric collector failed again.");
        } else {
            tracing::warn!(component_id = %self.component.id(), error_type, error = %self.error, "Metric collector failed; the other collectors carry on.");
        }
        let mut labels = self.component.labels();
        labels.push(("error_type", error_type));
        labels.push(("stage", "receiving".to_owned()));
        registry()
            .counter(
                "neurallog_agent_component_errors_total",
                "Errors a component met, by error type and stage.",
                labels,
            )
            .inc();
    }
}

// === impl MetricsCollected ===

impl MetricsCollected<'_> {
    /// Log at trace and record the duration.
    pub fn emit(self) {
        tracing::trace!(component_id = %self.component.id(), points = self.points, duration_ms = self.duration.as_secs_f64() * 1e3, "Metrics collected.");
        registry()
            .histogram(
                "neurallog_agent_metrics_collection_seconds",
                "How long one collection cycle of a metric source took.",
                self.component.labels(),
                DURATION_BOUNDS,
            )
            .observe(self.duration.as_secs_f64());
    }
}

// === impl KubeletVerificationDisabled ===

impl KubeletVerificationDisabled<'_> {
    /// Warn once, at start-up.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.component.id(),
            endpoint = self.endpoint,
            "insecure_skip_verify is set: the kubelet's TLS certificate is not verified, so anyone on the path can impersonate it."
        );
    }
}

// === impl PodMetricsFromCgroups ===

impl PodMetricsFromCgroups<'_> {
    /// Log (info the first time) and count the fallback.
    pub fn emit(self) {
        if self.repeated {
            tracing::debug!(component_id = %self.component.id(), pods = self.pods, "Pod metrics read from cgroups again.");
        } else {
            tracing::info!(component_id = %self.component.id(), pods = self.pods, "The kubelet cannot be reached: reading pod metrics from the cgroup filesystem.");
        }
        registry()
            .counter(
                "neurallog_agent_pod_metrics_cgroup_fallbacks_total",
                "Collections of pod metrics read from cgroup files because the kubelet could not be scraped.",
                self.component.labels(),
            )
            .inc();
    }
}
