//! The `log_to_metric` transform: count, gauge and bucket log records into
//! metrics, labelled by the records' fields, with a bound on each metric's
//! series. The records are consumed; the metrics go on to the sinks that
//! name the transform (a `prometheus` sink serves them on `/metrics`, the
//! shipping sinks ship them like host metrics).
//!
//! ```yaml
//! transforms:
//!   requests:
//!     type: log_to_metric
//!     inputs: [access]
//!     metrics:
//!       - type: counter
//!         name: http_requests_total
//!         labels:
//!           status: attributes.http.response.status_code
//!           method: attributes.http.request.method
//! ```
//!
//! Values are cumulative from the transform's start: after each batch, a
//! data point of every series the batch updated goes out.

mod aggregator;
mod config;

#[cfg(test)]
mod tests;

pub use aggregator::LogToMetric;
pub use config::{LogToMetricConfig, MetricKind, MetricSpec};

use crate::telemetry::events::TransformMetrics;
use crate::topology::{BoxedComponent, BuildError, TransformContext};

/// Build the log_to_metric transform `config` describes.
pub fn build(
    config: &LogToMetricConfig,
    cx: TransformContext,
) -> Result<BoxedComponent, BuildError> {
    let transform =
        LogToMetric::new(config)?.with_metrics(&TransformMetrics::new(cx.metrics.clone()));
    Ok(super::run(transform, cx))
}
