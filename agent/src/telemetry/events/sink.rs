//! Events of the shipping sinks (`otlp_http`, `prometheus_remote_write`):
//! requests, retries, dead letters, drops and the disk queue (refused
//! credentials are in [`super::auth`]).
//!
//! Every series is registered at zero when the sink starts, so `rate()` and
//! absence alerts work from the first scrape.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::auth::{self, AuthHold};
use super::component::{ComponentError, ComponentMetrics, ErrorStage};
use crate::telemetry::{Counter, Gauge, Histogram, Labels, registry};

/// Request latency buckets, in seconds.
const LATENCY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Metric handles of one shipping sink, resolved when it starts.
#[derive(Debug, Clone)]
pub struct SinkTelemetry {
    component: ComponentMetrics,
    latency: Histogram,
    uncompressed_bytes: Counter,
    dead_lettered: Counter,
    partial_rejected: Counter,
    splits: Counter,
    queue_records: Gauge,
    queue_bytes: Gauge,
    queue_corrupt: Counter,
    queue_dropped: Counter,
    pub(super) auth_failing: Gauge,
    pub(super) auth_hold: Arc<Mutex<AuthHold>>,
}

/// A request got an HTTP response.
#[derive(Debug)]
pub struct SinkRequestCompleted<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// The HTTP status.
    pub status: u16,
    /// How long the request took, response body included.
    pub elapsed: Duration,
}

/// A request got no response: connection refused or reset, timeout.
#[derive(Debug)]
pub struct SinkRequestFailed<'a, E: fmt::Display> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// `connect`, `timeout` or `io`.
    pub error_type: &'static str,
    /// The error.
    pub error: E,
    /// How long until it failed.
    pub elapsed: Duration,
}

/// A batch was delivered (a 2xx).
#[derive(Debug)]
pub struct SinkDelivered<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// Events in it.
    pub events: usize,
    /// Bytes sent, after compression.
    pub bytes: usize,
    /// Bytes before compression.
    pub uncompressed_bytes: usize,
}

/// A request will be retried after `delay`.
#[derive(Debug)]
pub struct SinkRetrying<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// Why: an HTTP status (`503`) or an error type (`connect`).
    pub reason: &'a str,
    /// Attempts that failed so far.
    pub attempt: u32,
    /// How long until the next one.
    pub delay: Duration,
}

/// The receiver answered 413: the request is split in two and retried.
#[derive(Debug)]
pub struct SinkRequestSplit<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// Events in the request that was too large.
    pub events: usize,
    /// Its size in bytes, as sent.
    pub bytes: usize,
}

/// Events were refused for good and written to the dead-letter file.
#[derive(Debug)]
pub struct SinkDeadLettered<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// How many.
    pub events: usize,
    /// The HTTP status that refused them (0 when they could not be encoded).
    pub status: u16,
    /// The start of the receiver's answer, for the operator.
    pub message: &'a str,
    /// The dead-letter file.
    pub path: &'a Path,
}

/// Events were given up without delivery.
#[derive(Debug)]
pub struct SinkEventsDropped<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// How many.
    pub events: u64,
    /// Why: `queue_full`, `disk_full` (the queue's filesystem had no
    /// room), `queue_write_failed`, `dead_letter_full` (an event whose
    /// dead letter alone is over the file's cap), `dead_letter_write_failed`
    /// (the dead-letter file could not be written),
    /// `dead_letter_rotated` (older dead letters deleted by the file's
    /// rotation), `unsupported_event`, `record_too_large` (an event whose
    /// queue record alone is larger than the queue takes).
    pub reason: &'static str,
}

/// Events a sink has no use for (logs fed to a `prometheus` sink): taken
/// as handled, never delivered, and counted as dropped
/// (`unsupported_event`).
#[derive(Debug)]
pub struct SinkEventsUnsupported<'a> {
    /// The sink's metrics.
    pub component: &'a ComponentMetrics,
    /// How many.
    pub events: u64,
}

/// An OTLP receiver accepted a request but rejected part of it.
#[derive(Debug)]
pub struct SinkPartialSuccess<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// Records or data points it rejected.
    pub rejected: u64,
    /// Its explanation.
    pub message: &'a str,
}

/// The disk queue skipped records it could not trust.
#[derive(Debug)]
pub struct QueueRecordsCorrupt<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// How many frames were skipped.
    pub records: u64,
    /// The queue's directory.
    pub dir: &'a Path,
}

/// A disk queue under `data_dir/queues` that no configured sink reads (its
/// sink was removed or renamed) still holds undelivered records.
#[derive(Debug)]
pub struct QueueLeftUnread<'a> {
    /// The queue's directory, named after the sink that wrote it.
    pub dir: &'a Path,
    /// Records past its cursor.
    pub records: u64,
    /// Their bytes on disk.
    pub bytes: u64,
}

/// A sink accepts any server certificate.
#[derive(Debug)]
pub struct InsecureTlsEnabled<'a> {
    /// The sink's name.
    pub component_id: &'a str,
}

/// The bearer token file changed and was read again.
#[derive(Debug)]
pub struct BearerTokenReloaded<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
}

// === impl SinkTelemetry ===

impl SinkTelemetry {
    /// Register the sink's series.
    pub fn new(component: &ComponentMetrics) -> Self {
        let r = registry();
        let labels = component.labels();
        let with = |key: &'static str, value: &str| -> Labels {
            let mut l = labels.clone();
            l.push((key, value.to_owned()));
            l
        };
        for reason in [
            "queue_full",
            "disk_full",
            "queue_write_failed",
            "dead_letter_full",
            "dead_letter_write_failed",
            "dead_letter_rotated",
        ] {
            let _ = dropped_counter(with("reason", reason));
        }
        for status in ["401", "403"] {
            let _ = auth::failures_counter(with("status", status));
        }
        SinkTelemetry {
            component: component.clone(),
            latency: r.histogram(
                "neurallog_agent_sink_request_duration_seconds",
                "Time from sending a request to reading its whole response, in seconds.",
                labels.clone(),
                LATENCY_BOUNDS,
            ),
            uncompressed_bytes: r.counter(
                "neurallog_agent_sink_uncompressed_bytes_total",
                "Bytes a sink delivered, before compression.",
                labels.clone(),
            ),
            dead_lettered: r.counter(
                "neurallog_agent_sink_dead_lettered_events_total",
                "Events refused for good by the receiver and written to the dead-letter file.",
                labels.clone(),
            ),
            partial_rejected: r.counter(
                "neurallog_agent_sink_partial_success_rejected_total",
                "Records or data points an OTLP receiver reported as rejected in a partial success.",
                labels.clone(),
            ),
            splits: r.counter(
                "neurallog_agent_sink_split_requests_total",
                "Requests split in two after a 413 answer.",
                labels.clone(),
            ),
            queue_records: r.gauge(
                "neurallog_agent_sink_queue_records",
                "Records in the sink's disk queue, not yet delivered.",
                labels.clone(),
            ),
            queue_bytes: r.gauge(
                "neurallog_agent_sink_queue_bytes",
                "Bytes of the sink's disk queue, not yet delivered.",
                labels.clone(),
            ),
            queue_corrupt: r.counter(
                "neurallog_agent_sink_queue_corrupt_records_total",
                "Disk queue records skipped because they were torn or failed their CRC.",
                labels.clone(),
            ),
            queue_dropped: r.counter(
                "neurallog_agent_sink_queue_dropped_records_total",
                "Disk queue records deleted undelivered to stay under the queue's size cap.",
                labels.clone(),
            ),
            auth_failing: r.gauge(
                "neurallog_agent_sink_auth_failing",
                "1 while the receiver refuses the sink's credentials (its last answer was 401 or 403) and the sink holds its data, 0 once a request is accepted.",
                labels,
            ),
            auth_hold: Arc::default(),
        }
    }

    /// The sink's component metrics.
    pub fn component(&self) -> &ComponentMetrics {
        &self.component
    }

    /// Publish the queue's size.
    pub fn queue_depth(&self, records: u64, bytes: u64) {
        self.queue_records.set(records as f64);
        self.queue_bytes.set(bytes as f64);
    }

    /// The queue deleted `records` undelivered records to stay under its cap.
    pub fn queue_dropped(&self, records: u64) {
        if records == 0 {
            return;
        }
        self.queue_dropped.add(records);
        SinkEventsDropped {
            sink: self,
            events: records,
            reason: "queue_full",
        }
        .emit();
    }

    /// The queue's size as last published: records and bytes.
    pub fn queue_size(&self) -> (u64, u64) {
        (
            self.queue_records.get() as u64,
            self.queue_bytes.get() as u64,
        )
    }

    /// Dead-lettered events so far (for tests).
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.get()
    }

    /// Whether the receiver refuses the sink's credentials.
    pub fn auth_failing(&self) -> bool {
        self.auth_failing.get() != 0.0
    }

    pub(super) fn with(&self, key: &'static str, value: &str) -> Labels {
        let mut labels = self.component.labels();
        labels.push((key, value.to_owned()));
        labels
    }
}

fn dropped_counter(labels: Labels) -> Counter {
    registry().counter(
        "neurallog_agent_sink_dropped_events_total",
        "Events (or queue records) a sink gave up without delivering them, by reason.",
        labels,
    )
}

pub(super) fn retries_counter(sink: &SinkTelemetry, reason: &str) -> Counter {
    registry().counter(
        "neurallog_agent_sink_retries_total",
        "Requests a sink retried, by reason (HTTP status or error type).",
        sink.with("reason", reason),
    )
}

fn requests_counter(sink: &SinkTelemetry, status: &str) -> Counter {
    registry().counter(
        "neurallog_agent_sink_http_requests_total",
        "HTTP requests a sink made, by response status (or `connect`, `timeout`, `io` when none came).",
        sink.with("status", status),
    )
}

// === emit ===

impl SinkRequestCompleted<'_> {
    /// Count the request and record its latency.
    pub fn emit(self) {
        tracing::debug!(
            component_id = %self.sink.component.id(),
            status = self.status,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "Request completed."
        );
        requests_counter(self.sink, &self.status.to_string()).inc();
        self.sink.latency.observe(self.elapsed.as_secs_f64());
    }
}

impl<E: fmt::Display> SinkRequestFailed<'_, E> {
    /// Log and count the failure.
    pub fn emit(self) {
        requests_counter(self.sink, self.error_type).inc();
        self.sink.latency.observe(self.elapsed.as_secs_f64());
        ComponentError {
            component: &self.sink.component,
            error_type: self.error_type,
            stage: ErrorStage::Sending,
            error: self.error,
        }
        .emit();
    }
}

impl SinkDelivered<'_> {
    /// Count what was delivered.
    pub fn emit(self) {
        self.sink.component.sent(self.events, self.bytes);
        self.sink
            .uncompressed_bytes
            .add(self.uncompressed_bytes as u64);
    }
}

impl SinkRetrying<'_> {
    /// Log and count the retry.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.sink.component.id(),
            reason = self.reason,
            attempt = self.attempt,
            delay_ms = self.delay.as_millis() as u64,
            "Request failed; retrying."
        );
        retries_counter(self.sink, self.reason).inc();
    }
}

impl SinkRequestSplit<'_> {
    /// Log and count the split.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.sink.component.id(),
            events = self.events,
            bytes = self.bytes,
            "Request too large for the receiver (413); splitting it in two."
        );
        self.sink.splits.inc();
    }
}

impl SinkDeadLettered<'_> {
    /// Log and count the dead letters.
    pub fn emit(self) {
        tracing::error!(
            component_id = %self.sink.component.id(),
            events = self.events,
            status = self.status,
            response = %self.message,
            path = %self.path.display(),
            "Receiver refused events for good; wrote them to the dead-letter file."
        );
        self.sink.dead_lettered.add(self.events as u64);
    }
}

impl SinkEventsDropped<'_> {
    /// Log and count the drop.
    pub fn emit(self) {
        tracing::error!(
            component_id = %self.sink.component.id(),
            events = self.events,
            reason = self.reason,
            "Events dropped without delivery."
        );
        dropped_counter(self.sink.with("reason", self.reason)).add(self.events);
    }
}

impl SinkEventsUnsupported<'_> {
    /// Log and count the drop.
    pub fn emit(self) {
        if self.events == 0 {
            return;
        }
        tracing::warn!(
            component_id = %self.component.id(),
            events = self.events,
            "Events this sink does not take (only metrics) dropped."
        );
        let mut labels = self.component.labels();
        labels.push(("reason", "unsupported_event".to_owned()));
        dropped_counter(labels).add(self.events);
    }
}

impl SinkPartialSuccess<'_> {
    /// Log and count the rejected part.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.sink.component.id(),
            rejected = self.rejected,
            message = %self.message,
            "Receiver accepted the request but rejected part of it."
        );
        self.sink.partial_rejected.add(self.rejected);
    }
}

impl QueueRecordsCorrupt<'_> {
    /// Log and count the skipped records.
    pub fn emit(self) {
        if self.records == 0 {
            return;
        }
        tracing::error!(
            component_id = %self.sink.component.id(),
            records = self.records,
            dir = %self.dir.display(),
            "Disk queue records were torn or corrupt; skipped them."
        );
        self.sink.queue_corrupt.add(self.records);
    }
}

impl QueueLeftUnread<'_> {
    /// Warn: nothing delivers these records unless a sink of that name
    /// comes back.
    pub fn emit(self) {
        if self.records == 0 {
            return;
        }
        let sink = self
            .dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        tracing::warn!(
            sink = %sink,
            records = self.records,
            bytes = self.bytes,
            dir = %self.dir.display(),
            "A disk queue no configured sink reads holds undelivered records: a sink of that name sends them (name the sink back), or delete the directory to discard them."
        );
    }
}

impl InsecureTlsEnabled<'_> {
    /// Warn.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.component_id,
            "tls.insecure_skip_verify is set: the server's certificate is NOT verified, and anyone on the path can impersonate the receiver."
        );
    }
}

impl BearerTokenReloaded<'_> {
    /// Log the rotation.
    pub fn emit(self) {
        tracing::info!(
            component_id = %self.sink.component.id(),
            "Bearer token file changed; using the new token."
        );
    }
}
