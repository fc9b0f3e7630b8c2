//! OTLP encoding (`sinks::otlp`): the hand-written log encoder and the
//! metrics request, as the disk-queue records that hold them.
//!
//! Events built from the input (strings of any content, NaN and infinite
//! doubles, negative severities, nested attribute values, shared and
//! distinct resources) are encoded, then decoded by `prost` with the
//! `opentelemetry-proto` types, and must come back the same: per resource
//! in order of first appearance, every log record's fields and attributes
//! (shared ones not overridden, then its own, then its flags), every check
//! result, every metric point. Any bytes given to the record decoder
//! return an error or events, never a panic.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoAny, KeyValue, any_value::Value as ProtoValue,
};
use prost::Message as _;

use super::Input;
use crate::event::{
    AnyValue, Attributes, CheckResult, CheckStatus, Event, Histogram, LogFlags, LogRecord, Metric,
    MetricValue, Resource,
};
use crate::sinks::otlp::record;
use crate::sinks::otlp::{CHECK_EVENT_NAME, SCOPE_NAME, SCOPE_VERSION};

/// Run one input: `[mode: u8]` then events, or bytes for the decoder.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte().is_multiple_of(4) {
        let _ = record::decode(input.rest());
        return;
    }
    let resources: Vec<Arc<Resource>> = (0..3)
        .map(|_| Arc::new(Resource::new(attributes(&mut input, 2))))
        .collect();
    let shared: Vec<Arc<Attributes>> = (0..2)
        .map(|_| Arc::new(attributes(&mut input, 2)))
        .collect();
    let mut events = Vec::new();
    for _ in 0..input.byte() % 16 {
        // Distinct `Arc`s with equal content are one resource; equal
        // `Arc`s always are.
        let resource = match input.byte() % 4 {
            3 => Arc::new((*resources[0]).clone()),
            i => Arc::clone(&resources[usize::from(i)]),
        };
        events.push(match input.byte() % 3 {
            0 => Event::Log(log(&mut input, &shared, resource)),
            1 => Event::Check(check(&mut input, resource)),
            _ => Event::Metric(metric(&mut input, resource)),
        });
    }
    let refs: Vec<&Event> = events.iter().collect();
    let records = record::encode(&refs);
    let logs: Vec<&Event> = refs
        .iter()
        .copied()
        .filter(|e| !matches!(e, Event::Metric(_)))
        .collect();
    let metrics: Vec<&Event> = refs
        .iter()
        .copied()
        .filter(|e| matches!(e, Event::Metric(_)))
        .collect();
    let mut expected_records = 0;
    for record in &records {
        match record.split_first() {
            Some((1, payload)) => check_logs(payload, &logs),
            Some((2, _)) => check_metrics(record, &metrics),
            other => panic!("unknown record kind {other:?}"),
        }
        expected_records += 1;
    }
    assert_eq!(
        expected_records,
        usize::from(!logs.is_empty()) + usize::from(!metrics.is_empty()),
        "one record per kind present"
    );
}

// --- building events ---

fn attributes(input: &mut Input<'_>, depth: u8) -> Attributes {
    let mut attributes = Attributes::new();
    for _ in 0..input.byte() % 4 {
        let key = input.short_string(12);
        attributes.insert(key, value(input, depth));
    }
    attributes
}

fn value(input: &mut Input<'_>, depth: u8) -> AnyValue {
    match input.byte() % if depth == 0 { 5 } else { 7 } {
        0 => AnyValue::String(input.short_string(24).into()),
        1 => AnyValue::Bool(input.bool()),
        2 => AnyValue::Int(input.u64() as i64),
        3 => AnyValue::Double(f64::from_bits(input.u64())),
        4 => AnyValue::Bytes(input.short_bytes(16).to_vec()),
        5 => AnyValue::Array(
            (0..input.byte() % 4)
                .map(|_| value(input, depth - 1))
                .collect(),
        ),
        _ => AnyValue::Map(attributes(input, depth - 1)),
    }
}

fn log(input: &mut Input<'_>, shared: &[Arc<Attributes>], resource: Arc<Resource>) -> LogRecord {
    let mut log = LogRecord::new(
        input.short_string(64),
        Arc::clone(&shared[usize::from(input.bool())]),
        resource,
    );
    log.time_unix_nano = input.u64();
    log.observed_time_unix_nano = if input.bool() { 0 } else { input.u64() };
    log.severity_number = input.u32() as i32;
    log.severity_text = input.bool().then(|| input.short_string(8).into());
    log.attributes = attributes(input, 2);
    let flags = input.byte();
    for (bit, flag) in [
        LogFlags::TRUNCATED,
        LogFlags::INVALID_UTF8,
        LogFlags::MULTILINE_CUT,
        LogFlags::UNTERMINATED,
    ]
    .into_iter()
    .enumerate()
    {
        if flags & (1 << bit) != 0 {
            log.flags.insert(flag);
        }
    }
    log
}

fn check(input: &mut Input<'_>, resource: Arc<Resource>) -> CheckResult {
    CheckResult {
        name: input.short_string(12).into(),
        plugin: input.short_string(12).into(),
        status: [
            CheckStatus::Ok,
            CheckStatus::Warning,
            CheckStatus::Critical,
            CheckStatus::Unknown,
        ][usize::from(input.byte() % 4)],
        summary: input.short_string(32),
        details: attributes(input, 1),
        time_unix_nano: input.u64(),
        duration_ms: f64::from_bits(input.u64()),
        resource,
    }
}

fn metric(input: &mut Input<'_>, resource: Arc<Resource>) -> Metric {
    let value = match input.byte() % 3 {
        0 => MetricValue::Gauge(f64::from_bits(input.u64())),
        1 => MetricValue::Sum {
            value: f64::from_bits(input.u64()),
            monotonic: input.bool(),
        },
        _ => {
            let bounds: Vec<f64> = (0..input.byte() % 4)
                .map(|_| f64::from_bits(input.u64()))
                .collect();
            MetricValue::Histogram(Histogram {
                bucket_counts: (0..=bounds.len()).map(|_| input.u64()).collect(),
                bounds,
                sum: f64::from_bits(input.u64()),
                count: input.u64(),
            })
        }
    };
    Metric {
        // Few names, so that points share a metric.
        name: Cow::Owned(input.short_string(2)),
        description: Cow::Owned(input.short_string(2)),
        unit: Cow::Owned(input.short_string(2)),
        value,
        attributes: attributes(input, 1),
        time_unix_nano: input.u64(),
        start_time_unix_nano: input.u64(),
        resource,
    }
}

// --- checking logs against prost's decoding ---

fn check_logs(payload: &[u8], events: &[&Event]) {
    let request = ExportLogsServiceRequest::decode(payload).expect("prost decodes the logs");
    // Group as the encoder promises: by resource, in order of first
    // appearance.
    let mut groups: Vec<(&Arc<Resource>, Vec<&Event>)> = Vec::new();
    for event in events {
        let resource = event.resource();
        let index = groups
            .iter()
            .position(|(r, _)| Arc::ptr_eq(r, resource))
            .or_else(|| groups.iter().position(|(r, _)| **r == *resource));
        match index {
            Some(i) => groups[i].1.push(event),
            None => groups.push((resource, vec![event])),
        }
    }
    assert_eq!(
        request.resource_logs.len(),
        groups.len(),
        "one ResourceLogs per resource"
    );
    for (resource_logs, (resource, items)) in request.resource_logs.iter().zip(&groups) {
        let proto_resource = resource_logs.resource.as_ref().expect("a resource");
        assert_key_values(&proto_resource.attributes, resource.attributes.iter());
        let [scope_logs] = resource_logs.scope_logs.as_slice() else {
            panic!("one ScopeLogs per resource");
        };
        let scope = scope_logs.scope.as_ref().expect("a scope");
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            (SCOPE_NAME, SCOPE_VERSION)
        );
        assert_eq!(
            scope_logs.log_records.len(),
            items.len(),
            "every record encoded"
        );
        for (proto, event) in scope_logs.log_records.iter().zip(items) {
            match event {
                Event::Log(log) => {
                    assert_eq!(proto.time_unix_nano, log.time_unix_nano);
                    assert_eq!(proto.observed_time_unix_nano, log.observed_time_unix_nano);
                    assert_eq!(proto.severity_number, log.severity_number);
                    assert_eq!(
                        proto.severity_text,
                        log.severity_text.as_deref().unwrap_or("")
                    );
                    assert_body(proto.body.as_ref(), &log.body);
                    assert_eq!(proto.event_name, "");
                    assert_key_values(&proto.attributes, expected_log_attributes(log));
                }
                Event::Check(check) => {
                    assert_eq!(proto.time_unix_nano, check.time_unix_nano);
                    assert_eq!(proto.observed_time_unix_nano, check.time_unix_nano);
                    assert_eq!(proto.severity_number, check.status.severity_number());
                    assert_body(proto.body.as_ref(), &check.summary);
                    assert_eq!(proto.event_name, CHECK_EVENT_NAME);
                    let duration = AnyValue::Double(check.duration_ms);
                    let details = AnyValue::Map(check.details.clone());
                    let mut expected: Vec<(&str, &AnyValue)> = Vec::new();
                    let (name, plugin, status) = (
                        AnyValue::String(check.name.to_string().into()),
                        AnyValue::String(check.plugin.to_string().into()),
                        AnyValue::from(check.status.as_str()),
                    );
                    expected.push(("check.name", &name));
                    expected.push(("check.plugin", &plugin));
                    expected.push(("check.status", &status));
                    expected.push(("check.duration_ms", &duration));
                    if !check.details.is_empty() {
                        expected.push(("check.details", &details));
                    }
                    assert_key_values(&proto.attributes, expected.into_iter());
                }
                Event::Metric(_) => unreachable!("metrics are filtered out"),
            }
        }
    }
}

/// Shared attributes its own do not override, its own, then its flags.
fn expected_log_attributes(log: &LogRecord) -> impl Iterator<Item = (&str, &AnyValue)> {
    const TRUE: AnyValue = AnyValue::Bool(true);
    let flags = [
        (LogFlags::TRUNCATED, "neurallog.log.truncated"),
        (LogFlags::INVALID_UTF8, "neurallog.log.invalid_utf8"),
        (LogFlags::MULTILINE_CUT, "neurallog.log.multiline_cut"),
        (LogFlags::UNTERMINATED, "neurallog.log.unterminated"),
    ];
    log.shared_attributes
        .iter()
        .filter(|(k, _)| log.attributes.get(k).is_none())
        .chain(log.attributes.iter())
        .chain(
            flags
                .into_iter()
                .filter(|(flag, _)| log.flags.contains(*flag))
                .map(|(_, key)| (key, &TRUE)),
        )
}

fn assert_body(body: Option<&ProtoAny>, text: &str) {
    match body.and_then(|b| b.value.as_ref()) {
        Some(ProtoValue::StringValue(s)) => assert_eq!(s, text, "body"),
        other => panic!("body is not a string: {other:?}"),
    }
}

fn assert_key_values<'a>(
    proto: &[KeyValue],
    expected: impl Iterator<Item = (&'a str, &'a AnyValue)>,
) {
    let expected: Vec<(&str, &AnyValue)> = expected.collect();
    assert_eq!(
        proto.len(),
        expected.len(),
        "attribute count: {proto:?} vs {expected:?}"
    );
    for (kv, (key, value)) in proto.iter().zip(expected) {
        assert_eq!(kv.key, key);
        assert!(
            same_value(kv.value.as_ref(), value),
            "attribute {key}: {:?} vs {value:?}",
            kv.value
        );
    }
}

/// Whether a decoded value is `value` (doubles compared by their bits, so
/// that NaN equals itself).
fn same_value(proto: Option<&ProtoAny>, value: &AnyValue) -> bool {
    let Some(proto) = proto.and_then(|p| p.value.as_ref()) else {
        return false;
    };
    match (proto, value) {
        (ProtoValue::StringValue(a), AnyValue::String(b)) => **a == **b,
        (ProtoValue::BoolValue(a), AnyValue::Bool(b)) => a == b,
        (ProtoValue::IntValue(a), AnyValue::Int(b)) => a == b,
        (ProtoValue::DoubleValue(a), AnyValue::Double(b)) => a.to_bits() == b.to_bits(),
        (ProtoValue::BytesValue(a), AnyValue::Bytes(b)) => a == b,
        (ProtoValue::ArrayValue(a), AnyValue::Array(b)) => {
            a.values.len() == b.len() && a.values.iter().zip(b).all(|(x, y)| same_value(Some(x), y))
        }
        (ProtoValue::KvlistValue(a), AnyValue::Map(b)) => {
            a.values.len() == b.len()
                && a.values
                    .iter()
                    .zip(b.iter())
                    .all(|(kv, (k, v))| kv.key == k && same_value(kv.value.as_ref(), v))
        }
        _ => false,
    }
}

// --- checking metrics through the record decoder ---

fn check_metrics(record: &[u8], events: &[&Event]) {
    let (_, decoded) = record::decode(record).expect("a metrics record decodes");
    assert_eq!(decoded.len(), events.len(), "every point encoded once");
    // Points are regrouped by resource and metric: compare as multisets.
    let mut left: Vec<&Metric> = decoded
        .iter()
        .map(|e| match e {
            Event::Metric(m) => m,
            other => panic!("a metrics record decoded to {other:?}"),
        })
        .collect();
    for event in events {
        let Event::Metric(metric) = event else {
            unreachable!("logs are filtered out");
        };
        let found = left
            .iter()
            .position(|m| same_metric(m, metric))
            .unwrap_or_else(|| panic!("point not decoded: {metric:?}\ndecoded: {left:?}"));
        left.swap_remove(found);
    }
}

fn same_metric(a: &Metric, b: &Metric) -> bool {
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    let same_value = match (&a.value, &b.value) {
        (MetricValue::Gauge(x), MetricValue::Gauge(y)) => x.to_bits() == y.to_bits(),
        (
            MetricValue::Sum {
                value: x,
                monotonic: m,
            },
            MetricValue::Sum {
                value: y,
                monotonic: n,
            },
        ) => x.to_bits() == y.to_bits() && m == n,
        (MetricValue::Histogram(x), MetricValue::Histogram(y)) => {
            bits(&x.bounds) == bits(&y.bounds)
                && x.bucket_counts == y.bucket_counts
                && x.sum.to_bits() == y.sum.to_bits()
                && x.count == y.count
        }
        _ => false,
    };
    let same_attributes = |x: &Attributes, y: &Attributes| {
        x.len() == y.len()
            && x.iter()
                .zip(y.iter())
                .all(|((k, v), (l, w))| k == l && same_value_bits(v, w))
    };
    same_value
        && a.name == b.name
        && a.description == b.description
        && a.unit == b.unit
        && a.time_unix_nano == b.time_unix_nano
        && a.start_time_unix_nano == b.start_time_unix_nano
        && same_attributes(&a.attributes, &b.attributes)
        && same_attributes(&a.resource.attributes, &b.resource.attributes)
}

/// `AnyValue` equality with doubles compared by their bits.
fn same_value_bits(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::Double(x), AnyValue::Double(y)) => x.to_bits() == y.to_bits(),
        (AnyValue::Array(x), AnyValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value_bits(v, w))
        }
        (AnyValue::Map(x), AnyValue::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k, v), (l, w))| k == l && same_value_bits(v, w))
        }
        _ => a == b,
    }
}
