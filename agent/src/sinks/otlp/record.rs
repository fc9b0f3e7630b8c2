//! Disk-queue records of the shipping sinks: one kind byte (`1` logs, `2`
//! metrics) followed by an OTLP `ExportLogsServiceRequest` or
//! `ExportMetricsServiceRequest`, exactly as it would be sent uncompressed.
//! A standard, versioned encoding keeps queues readable across agent
//! upgrades and inspectable with any OTLP decoder; reading a record gives
//! back the events, so queued data goes through the same batching, 413
//! splitting and dead-lettering as the rest.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLog;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message as _;

use super::convert::{attributes, from_proto};
use super::logs::{CHECK_EVENT_NAME, FLAG_ATTRIBUTES};
use crate::event::{
    AnyValue, Attributes, CheckResult, CheckStatus, Event, Histogram, LogFlags, LogRecord, Metric,
    MetricValue, Resource,
};

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Log records (and check results).
    Logs,
    /// Metric data points.
    Metrics,
}

/// A record that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Unknown kind byte (a newer agent's record?).
    #[error("unknown record kind {0}")]
    Kind(u8),
    /// Not a valid OTLP message.
    #[error("invalid OTLP payload")]
    Decode(#[from] prost::DecodeError),
}

/// Encode `events` as records: one for metrics, one for logs and checks,
/// each only when there is something to put in it.
pub fn encode(events: &[&Event]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let (request, points) = super::metrics::request(events.iter().copied());
    if points > 0 {
        let mut record = Vec::with_capacity(request.encoded_len() + 1);
        record.push(2);
        // Encoding into a Vec only fails for lack of capacity, and it grows.
        let _ = request.encode(&mut record);
        records.push(record);
    }
    let mut record = vec![1];
    if super::logs::encode(events.iter().copied(), &mut record) > 0 {
        records.push(record);
    }
    records
}

/// Decode a record back into events.
pub fn decode(record: &[u8]) -> Result<(RecordKind, Vec<Event>), RecordError> {
    match record.split_first() {
        Some((1, payload)) => {
            let request = ExportLogsServiceRequest::decode(payload)?;
            Ok((RecordKind::Logs, decode_logs(request)))
        }
        Some((2, payload)) => {
            let request = ExportMetricsServiceRequest::decode(payload)?;
            Ok((RecordKind::Metrics, decode_metrics(request)))
        }
        Some((kind, _)) => Err(RecordError::Kind(*kind)),
        None => Err(RecordError::Kind(0)),
    }
}

fn decode_logs(request: ExportLogsServiceRequest) -> Vec<Event> {
    let mut events = Vec::new();
    for resource_logs in request.resource_logs {
        let resource = Arc::new(Resource::new(attributes(
            resource_logs
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        )));
        let shared = Arc::new(Attributes::new());
        for scope in resource_logs.scope_logs {
            for log in scope.log_records {
                events.push(if log.event_name == CHECK_EVENT_NAME {
                    Event::Check(check(log, &resource))
                } else {
                    Event::Log(log_record(log, &resource, &shared))
                });
            }
        }
    }
    events
}

fn body_text(body: Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match body.map(from_proto) {
        Some(AnyValue::String(s)) => String::from(&*s),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn log_record(log: ProtoLog, resource: &Arc<Resource>, shared: &Arc<Attributes>) -> LogRecord {
    let mut flags = LogFlags::default();
    let mut own = Attributes::new();
    for (key, value) in attributes(log.attributes).iter() {
        match FLAG_ATTRIBUTES.iter().find(|(_, k)| *k == key) {
            Some((flag, _)) if *value == AnyValue::Bool(true) => flags.insert(*flag),
            _ => own.insert(key.to_owned(), value.clone()),
        }
    }
    LogRecord {
        time_unix_nano: log.time_unix_nano,
        observed_time_unix_nano: log.observed_time_unix_nano,
        severity_number: log.severity_number,
        severity_text: (!log.severity_text.is_empty()).then(|| log.severity_text.into()),
        body: body_text(log.body).into(),
        shared_attributes: Arc::clone(shared),
        attributes: own,
        flags,
        resource: Arc::clone(resource),
    }
}

fn check(log: ProtoLog, resource: &Arc<Resource>) -> CheckResult {
    let attrs = attributes(log.attributes);
    let text = |key: &str| -> Arc<str> {
        Arc::from(attrs.get(key).and_then(AnyValue::as_str).unwrap_or(""))
    };
    let status = match attrs.get("check.status").and_then(AnyValue::as_str) {
        Some("ok") => CheckStatus::Ok,
        Some("warning") => CheckStatus::Warning,
        Some("critical") => CheckStatus::Critical,
        _ => CheckStatus::Unknown,
    };
    CheckResult {
        name: text("check.name"),
        plugin: text("check.plugin"),
        status,
        summary: body_text(log.body),
        details: match attrs.get("check.details") {
            Some(AnyValue::Map(map)) => map.clone(),
            _ => Attributes::new(),
        },
        time_unix_nano: log.time_unix_nano,
        duration_ms: match attrs.get("check.duration_ms") {
            Some(AnyValue::Double(d)) => *d,
            _ => 0.0,
        },
        resource: Arc::clone(resource),
    }
}

fn decode_metrics(request: ExportMetricsServiceRequest) -> Vec<Event> {
    let mut events = Vec::new();
    for resource_metrics in request.resource_metrics {
        let resource = Arc::new(Resource::new(attributes(
            resource_metrics
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        )));
        for scope in resource_metrics.scope_metrics {
            for metric in scope.metrics {
                let point = |value, attrs, time, start| {
                    Event::Metric(Metric {
                        name: Cow::Owned(metric.name.clone()),
                        description: Cow::Owned(metric.description.clone()),
                        unit: Cow::Owned(metric.unit.clone()),
                        value,
                        attributes: attributes(attrs),
                        time_unix_nano: time,
                        start_time_unix_nano: start,
                        resource: Arc::clone(&resource),
                    })
                };
                match &metric.data {
                    Some(Data::Gauge(gauge)) => {
                        for dp in &gauge.data_points {
                            let value = MetricValue::Gauge(number(dp.value));
                            let (t, s) = (dp.time_unix_nano, dp.start_time_unix_nano);
                            events.push(point(value, dp.attributes.clone(), t, s));
                        }
                    }
                    Some(Data::Sum(sum)) => {
                        for dp in &sum.data_points {
                            let value = MetricValue::Sum {
                                value: number(dp.value),
                                monotonic: sum.is_monotonic,
                            };
                            let (t, s) = (dp.time_unix_nano, dp.start_time_unix_nano);
                            events.push(point(value, dp.attributes.clone(), t, s));
                        }
                    }
                    Some(Data::Histogram(histogram)) => {
                        for dp in &histogram.data_points {
                            let value = MetricValue::Histogram(Histogram {
                                bounds: dp.explicit_bounds.clone(),
                                bucket_counts: dp.bucket_counts.clone(),
                                sum: dp.sum.unwrap_or(0.0),
                                count: dp.count,
                            });
                            let (t, s) = (dp.time_unix_nano, dp.start_time_unix_nano);
                            events.push(point(value, dp.attributes.clone(), t, s));
                        }
                    }
                    // The agent writes no other kinds.
                    _ => {}
                }
            }
        }
    }
    events
}

fn number(value: Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}
