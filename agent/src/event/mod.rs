//! The event model shared by every source and sink.
//!
//! Three kinds of event travel through the pipeline: [`LogRecord`],
//! [`Metric`] and [`CheckResult`]. Each carries an `Arc` to the
//! [`Resource`] that produced it, built once per source (or per file, per
//! pod), so attaching `host.name` or `k8s.pod.name` costs a reference count,
//! not a copy. Events move in [`EventBatch`]es that carry an [`Ack`]: the
//! source learns through it when every sink that received the batch has
//! delivered it.
//!
//! The shapes follow the OpenTelemetry data model
//! (<https://opentelemetry.io/docs/specs/otel/logs/data-model/>,
//! <https://opentelemetry.io/docs/specs/otel/metrics/data-model/>).

mod ack;
mod batch;
mod check;
mod handout;
mod log;
mod metric;
mod text;
mod value;

pub use ack::{Ack, AckReceiver, AckStatus, BatchId};
pub use batch::EventBatch;
pub use check::{CheckResult, CheckStatus};
pub use handout::Handout;
pub use log::{GrowingRecord, LogFlags, LogRecord};
pub use metric::{Histogram, Metric, MetricValue};
pub use text::Text;
pub use value::{AnyValue, Attributes, Resource, offset_in};

/// One event in the pipeline.
#[derive(Debug, Clone)]
pub enum Event {
    /// A log record.
    Log(LogRecord),
    /// A metric data point.
    Metric(Metric),
    /// The result of one run of a check.
    Check(CheckResult),
}

impl Event {
    /// An estimate of the event's encoded size in bytes, used for batching
    /// by bytes. It counts the payload, not the shared resource.
    pub fn size_hint(&self) -> usize {
        match self {
            Event::Log(log) => log.body.len() + log.attributes.size_hint() + 32,
            Event::Metric(metric) => metric.name.len() + metric.attributes.size_hint() + 32,
            Event::Check(check) => check.summary.len() + check.name.len() + 64,
        }
    }

    /// The resource the event belongs to.
    pub fn resource(&self) -> &std::sync::Arc<Resource> {
        match self {
            Event::Log(log) => &log.resource,
            Event::Metric(metric) => &metric.resource,
            Event::Check(check) => &check.resource,
        }
    }
}

impl From<LogRecord> for Event {
    fn from(log: LogRecord) -> Self {
        Event::Log(log)
    }
}

impl From<Metric> for Event {
    fn from(metric: Metric) -> Self {
        Event::Metric(metric)
    }
}

impl From<CheckResult> for Event {
    fn from(check: CheckResult) -> Self {
        Event::Check(check)
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
