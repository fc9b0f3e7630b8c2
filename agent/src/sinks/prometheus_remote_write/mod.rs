//! The `prometheus_remote_write` sink: metrics to a Prometheus remote-write
//! 1.0 receiver (<https://prometheus.io/docs/specs/prw/remote_write_spec/>):
//! protobuf `WriteRequest`s, Snappy block compression,
//! `X-Prometheus-Remote-Write-Version: 0.1.0`.
//!
//! Every data point goes through the sink's disk queue and is sent in
//! order, one request at a time (a receiver refuses samples older than the
//! newest it has of a series, so concurrent requests could lose data).
//! Check results are not sent: their metrics arrive as metric events. Logs
//! cannot be sent: they are counted in
//! `neurallog_agent_sink_dropped_events_total{reason="unsupported_event"}`.

mod config;
mod encoder;
pub mod proto;

pub use config::PrometheusRemoteWriteSinkConfig;
pub use encoder::write_request;

use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use prost::Message as _;

use crate::error::Chain;
use crate::event::{Event, EventBatch};
use crate::sinks::otlp::record::{self, RecordKind};
use crate::sinks::util::build::{ServiceSettings, http_sink, parse_endpoint};
use crate::sinks::util::compression::Codec;
use crate::sinks::util::service::{Protocol, Route};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// The one endpoint of a remote-write sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write;

/// Remote write 1.0.
#[derive(Debug)]
pub struct RemoteWrite {
    uri: Uri,
    resource_labels: Vec<String>,
}

impl Protocol for RemoteWrite {
    type Signal = Write;

    fn route(&self, event: &Event) -> Route {
        match event {
            Event::Metric(_) => Route::Queue,
            Event::Check(_) => Route::Ignore,
            Event::Log(_) => Route::Unsupported,
        }
    }

    fn direct_signal(&self) -> Write {
        Write
    }

    fn queue_encode(&self, events: &[&Event]) -> Vec<Vec<u8>> {
        record::encode(events)
    }

    fn queue_decode(&self, data: &[u8]) -> Result<Option<(Write, Vec<Event>)>, String> {
        match record::decode(data).map_err(|e| Chain(&e).to_string())? {
            (RecordKind::Metrics, events) => Ok(Some((Write, events))),
            (RecordKind::Logs, _) => Ok(None),
        }
    }

    fn selects(&self, _signal: Write, event: &Event) -> bool {
        matches!(event, Event::Metric(_))
    }

    fn encode(&self, _signal: Write, batches: &[EventBatch], out: &mut Vec<u8>) -> usize {
        let events = batches.iter().flat_map(EventBatch::events);
        let (request, points) = write_request(events, &self.resource_labels);
        out.reserve(request.encoded_len());
        // Encoding into a Vec cannot run out of room: it grows.
        let _ = request.encode(out);
        points
    }

    fn uri(&self, _signal: Write) -> &Uri {
        &self.uri
    }

    fn headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            "X-Prometheus-Remote-Write-Version",
            HeaderValue::from_static("0.1.0"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("neurallog-agent/", env!("CARGO_PKG_VERSION"))),
        );
    }

    /// The specification: 5xx may be retried, 4xx (but 429) must not.
    fn retryable(&self, status: StatusCode) -> bool {
        status.is_server_error()
    }
}

/// Build the sink: reads TLS and token files, opens the disk queue.
pub fn build(
    config: &PrometheusRemoteWriteSinkConfig,
    cx: SinkContext,
) -> Result<BoxedComponent, BuildError> {
    let endpoint = parse_endpoint(&config.endpoint).map_err(BuildError::new)?;
    let protocol = RemoteWrite {
        uri: endpoint.clone(),
        resource_labels: config.resource_labels.clone(),
    };
    let settings = ServiceSettings {
        endpoint: &endpoint,
        tls: config.tls.as_ref(),
        timeout_ms: config.timeout_ms,
        concurrency: 1,
        headers: &config.headers,
        auth: &config.auth,
        tenant: config.tenant.as_ref(),
        retry: &config.retry,
        dead_letter: &config.dead_letter,
        codec: Codec::Snappy,
        queue: &config.queue,
        batch: &config.batch,
    };
    http_sink(protocol, settings, cx)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::sinks::util::service::{Disposition, disposition};

    #[test]
    fn statuses_follow_the_remote_write_specification() {
        let protocol = RemoteWrite {
            uri: "http://prometheus:9090/api/v1/write".parse().unwrap(),
            resource_labels: Vec::new(),
        };
        let cases = [
            (200, Disposition::Delivered),
            (204, Disposition::Delivered),
            // Shared with OTLP: refused credentials hold the data.
            (401, Disposition::Hold),
            (403, Disposition::Hold),
            (413, Disposition::Split),
            (408, Disposition::Retry),
            (429, Disposition::Retry),
            // "MUST retry write requests on HTTP 5xx responses".
            (500, Disposition::Retry),
            (502, Disposition::Retry),
            (503, Disposition::Retry),
            // "MUST NOT retry write requests on HTTP 2xx and 4xx responses
            // other than 429".
            (400, Disposition::DeadLetter),
            (404, Disposition::DeadLetter),
        ];
        for (status, want) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(disposition(&protocol, status), want, "{status}");
        }
    }
}
