//! OTLP/HTTP as a [`Protocol`]: two endpoints, protobuf bodies, partial
//! success answers
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).

use bytes::Buf as _;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message as _;

use super::record::{self, RecordKind};
use crate::error::Chain;
use crate::event::{Event, EventBatch};
use crate::sinks::util::service::{Protocol, Route};

/// Which OTLP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/logs`: log records and check results.
    Logs,
    /// `/v1/metrics`.
    Metrics,
}

/// OTLP/HTTP with protobuf.
#[derive(Debug)]
pub struct Otlp {
    /// `<endpoint>/v1/logs`.
    pub logs: Uri,
    /// `<endpoint>/v1/metrics`.
    pub metrics: Uri,
}

impl Protocol for Otlp {
    type Signal = Signal;

    fn route(&self, event: &Event) -> Route {
        match event {
            Event::Log(_) => Route::Direct,
            Event::Metric(_) | Event::Check(_) => Route::Queue,
        }
    }

    fn direct_signal(&self) -> Signal {
        Signal::Logs
    }

    fn queue_encode(&self, events: &[&Event]) -> Vec<Vec<u8>> {
        record::encode(events)
    }

    fn queue_decode(&self, data: &[u8]) -> Result<Option<(Signal, Vec<Event>)>, String> {
        let (kind, events) = record::decode(data).map_err(|e| Chain(&e).to_string())?;
        let signal = match kind {
            RecordKind::Logs => Signal::Logs,
            RecordKind::Metrics => Signal::Metrics,
        };
        Ok(Some((signal, events)))
    }

    fn selects(&self, signal: Signal, event: &Event) -> bool {
        match signal {
            Signal::Logs => matches!(event, Event::Log(_) | Event::Check(_)),
            Signal::Metrics => matches!(event, Event::Metric(_)),
        }
    }

    fn encode(&self, signal: Signal, batches: &[EventBatch], out: &mut Vec<u8>) -> usize {
        let events = batches.iter().flat_map(EventBatch::events);
        match signal {
            Signal::Logs => super::logs::encode(events, out),
            Signal::Metrics => {
                let (request, points) = super::metrics::request(events);
                out.reserve(request.encoded_len());
                // Encoding into a Vec cannot run out of room: it grows.
                let _ = request.encode(out);
                points
            }
        }
    }

    fn uri(&self, signal: Signal) -> &Uri {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Metrics => &self.metrics,
        }
    }

    fn headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("neurallog-agent/", env!("CARGO_PKG_VERSION"))),
        );
    }

    /// The OTLP specification's retryable statuses (besides 408 and 429).
    fn retryable(&self, status: StatusCode) -> bool {
        matches!(status.as_u16(), 502..=504)
    }

    fn partial_success(&self, signal: Signal, body: &[u8]) -> Option<(u64, String)> {
        if body.is_empty() {
            return None;
        }
        let (rejected, message) = match signal {
            Signal::Logs => {
                let partial = ExportLogsServiceResponse::decode(body.chunk())
                    .ok()?
                    .partial_success?;
                (partial.rejected_log_records, partial.error_message)
            }
            Signal::Metrics => {
                let partial = ExportMetricsServiceResponse::decode(body.chunk())
                    .ok()?
                    .partial_success?;
                (partial.rejected_data_points, partial.error_message)
            }
        };
        let rejected = u64::try_from(rejected).unwrap_or(0);
        (rejected > 0 || !message.is_empty()).then_some((rejected, message))
    }
}
