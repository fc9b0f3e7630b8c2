use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

use super::record::{self, RecordKind};
use super::*;
use crate::event::{
    AnyValue, Attributes, CheckResult, CheckStatus, Event, Histogram, LogFlags, LogRecord, Metric,
    MetricValue, Resource,
};

fn resource(host: &str) -> Arc<Resource> {
    Arc::new(Resource::new(
        Attributes::new()
            .with("host.name", host.to_owned())
            .with("k8s.pod.name", "web-1"),
    ))
}

fn log(body: &str, resource: &Arc<Resource>, shared: &Arc<Attributes>) -> LogRecord {
    let mut log = LogRecord::new(body.to_owned(), Arc::clone(shared), Arc::clone(resource));
    log.time_unix_nano = 1_700_000_000_000_000_001;
    log.observed_time_unix_nano = 1_700_000_000_000_000_002;
    log
}

fn check() -> CheckResult {
    CheckResult {
        name: "tls-api".into(),
        plugin: "cert-expiry".into(),
        status: CheckStatus::Warning,
        summary: "certificate expires in 12 days".into(),
        details: Attributes::new().with("days", 12i64),
        time_unix_nano: 1_700_000_000_000_000_000,
        duration_ms: 12.5,
        resource: resource("node-a"),
    }
}

fn string(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> &str {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn logs_group_by_resource_and_keep_every_field() {
    let a = resource("node-a");
    let a_again = resource("node-a"); // equal, not the same Arc
    let b = resource("node-b");
    let shared = Arc::new(
        Attributes::new()
            .with("log.file.path", "/var/log/app.log")
            .with("log.iostream", "stdout"),
    );
    let mut first = log("first line", &a, &shared);
    first.severity_number = 17;
    first.severity_text = Some("ERROR".into());
    first.attributes.insert("log.iostream", "stderr");
    first.flags.insert(LogFlags::TRUNCATED);
    let events = [
        Event::Log(first),
        Event::Log(log("on b", &b, &shared)),
        Event::Log(log("équal resource", &a_again, &shared)),
        Event::Metric(Metric::gauge("skipped", "1", 1.0, a.clone())),
        Event::Check(check()),
    ];
    let mut out = Vec::new();
    assert_eq!(logs::encode(events.iter(), &mut out), 4);
    let request = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
    assert_eq!(
        request.resource_logs.len(),
        2,
        "one ResourceLogs per resource"
    );

    let on_a = &request.resource_logs[0];
    let attrs = &on_a.resource.as_ref().unwrap().attributes;
    assert_eq!(attrs[0].key, "host.name");
    assert_eq!(string(&attrs[0].value), "node-a");
    let scope = &on_a.scope_logs[0];
    assert_eq!(scope.scope.as_ref().unwrap().name, SCOPE_NAME);
    assert_eq!(scope.scope.as_ref().unwrap().version, SCOPE_VERSION);
    let bodies: Vec<&str> = scope.log_records.iter().map(|r| string(&r.body)).collect();
    assert_eq!(
        bodies,
        [
            "first line",
            "équal resource",
            "certificate expires in 12 days"
        ]
    );

    let first = &scope.log_records[0];
    assert_eq!(first.time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(first.observed_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!(first.severity_number, 17);
    assert_eq!(first.severity_text, "ERROR");
    let keys: Vec<&str> = first.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["log.file.path", "log.iostream", "neurallog.log.truncated"],
        "own attributes override shared ones"
    );
    assert_eq!(string(&first.attributes[1].value), "stderr");

    let check = &scope.log_records[2];
    assert_eq!(check.event_name, CHECK_EVENT_NAME);
    assert_eq!(check.severity_number, 13);
    assert_eq!(check.severity_text, "WARN");
    let keys: Vec<&str> = check.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "check.name",
            "check.plugin",
            "check.status",
            "check.duration_ms",
            "check.details"
        ]
    );

    let on_b = &request.resource_logs[1];
    assert_eq!(string(&on_b.scope_logs[0].log_records[0].body), "on b");
}

#[test]
fn metrics_group_points_by_stream_and_kind() {
    let a = resource("node-a");
    let b = resource("node-b");
    let events = [
        Event::Metric(
            Metric::gauge("cpu_usage_percent", "%", 12.5, a.clone()).with_attribute("cpu", "0"),
        ),
        Event::Metric(
            Metric::gauge("cpu_usage_percent", "%", 50.0, a.clone()).with_attribute("cpu", "1"),
        ),
        Event::Metric(Metric::counter("system.network.io", "By", 1e6, a.clone())),
        Event::Metric(Metric::up_down(
            "system.processes.count",
            "{process}",
            300.0,
            b.clone(),
        )),
        Event::Metric(Metric {
            value: MetricValue::Histogram(Histogram {
                bounds: vec![0.1, 1.0],
                bucket_counts: vec![1, 2, 3],
                sum: 9.5,
                count: 6,
            }),
            ..Metric::gauge("http.server.request.duration", "s", 0.0, a.clone())
        }),
    ];
    let (request, points) = metrics::request(events.iter());
    assert_eq!(points, 5);
    let request = ExportMetricsServiceRequest::decode(request.encode_to_vec().as_slice()).unwrap();
    assert_eq!(request.resource_metrics.len(), 2);
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 3, "two cpu points share one Metric");
    match &metrics[0].data {
        Some(Data::Gauge(g)) => assert_eq!(g.data_points.len(), 2),
        other => panic!("{other:?}"),
    }
    match &metrics[1].data {
        Some(Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 2, "cumulative");
        }
        other => panic!("{other:?}"),
    }
    match &metrics[2].data {
        Some(Data::Histogram(h)) => {
            assert_eq!(h.data_points[0].bucket_counts, [1, 2, 3]);
            assert_eq!(h.data_points[0].explicit_bounds, [0.1, 1.0]);
            assert_eq!(h.data_points[0].sum, Some(9.5));
        }
        other => panic!("{other:?}"),
    }
    match &request.resource_metrics[1].scope_metrics[0].metrics[0].data {
        Some(Data::Sum(s)) => assert!(!s.is_monotonic),
        other => panic!("{other:?}"),
    }
}

#[test]
fn queue_records_give_back_the_events() {
    let a = resource("node-a");
    let events = [
        Event::Metric(
            Metric::counter(
                "neurallog_agent_component_sent_events_total",
                "",
                42.0,
                a.clone(),
            )
            .with_attribute("component_id", "out")
            .with_start_time(5),
        ),
        Event::Check(check()),
    ];
    let refs: Vec<&Event> = events.iter().collect();
    let records = record::encode(&refs);
    assert_eq!(records.len(), 2);

    let (kind, metrics) = record::decode(&records[0]).unwrap();
    assert_eq!(kind, RecordKind::Metrics);
    let Event::Metric(m) = &metrics[0] else {
        panic!()
    };
    assert_eq!(m.name, "neurallog_agent_component_sent_events_total");
    assert_eq!(
        m.value,
        MetricValue::Sum {
            value: 42.0,
            monotonic: true
        }
    );
    assert_eq!(
        m.attributes.get("component_id"),
        Some(&AnyValue::from("out"))
    );
    assert_eq!(m.start_time_unix_nano, 5);
    assert_eq!(*m.resource, *a);

    let (kind, checks) = record::decode(&records[1]).unwrap();
    assert_eq!(kind, RecordKind::Logs);
    let Event::Check(c) = &checks[0] else {
        panic!()
    };
    let original = check();
    assert_eq!(c.name, original.name);
    assert_eq!(c.plugin, original.plugin);
    assert_eq!(c.status, original.status);
    assert_eq!(c.summary, original.summary);
    assert_eq!(c.details, original.details);
    assert_eq!(c.duration_ms, original.duration_ms);
    assert_eq!(c.time_unix_nano, original.time_unix_nano);

    assert!(record::decode(&[9, 1, 2]).is_err());
    assert!(record::decode(&[2, 0xff, 0xff]).is_err());
}

#[test]
fn statuses_follow_the_otlp_specification() {
    use crate::sinks::util::service::{Disposition, disposition};
    use http::StatusCode;

    let otlp = Otlp {
        logs: "http://ingest:4318/v1/logs".parse().unwrap(),
        metrics: "http://ingest:4318/v1/metrics".parse().unwrap(),
    };
    let cases = [
        (200, Disposition::Delivered),
        (202, Disposition::Delivered),
        // The credentials, not the data: held until a token is accepted.
        (401, Disposition::Hold),
        (403, Disposition::Hold),
        // The specification's retryable statuses, and a timeout.
        (408, Disposition::Retry),
        (429, Disposition::Retry),
        (502, Disposition::Retry),
        (503, Disposition::Retry),
        (504, Disposition::Retry),
        (413, Disposition::Split),
        // "All other 4xx or 5xx response status codes MUST NOT be retried."
        (400, Disposition::DeadLetter),
        (404, Disposition::DeadLetter),
        (415, Disposition::DeadLetter),
        (500, Disposition::DeadLetter),
        (501, Disposition::DeadLetter),
        (505, Disposition::DeadLetter),
        (302, Disposition::DeadLetter),
    ];
    for (status, want) in cases {
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(disposition(&otlp, status), want, "{status}");
    }
}

/// Records of many files, interleaved: each keeps its own file's shared
/// attributes, whether they are copied as encoded once per request or (past
/// the lists kept) encoded again, through the same `Arc` or a copy, and
/// with flags or attributes of its own.
#[test]
fn records_of_many_files_interleaved_keep_their_files_attributes() {
    let node = resource("node-a");
    let files: Vec<Arc<Attributes>> = (0..40)
        .map(|i| {
            Arc::new(
                Attributes::new()
                    .with("log.file.path", format!("/var/log/app-{i}.log"))
                    .with("log.file.name", format!("app-{i}.log")),
            )
        })
        .collect();
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for n in 0..400usize {
        let file = (n * 7) % files.len();
        // Every other record holds a copy of its file's list (a source
        // renews its copy every so many records).
        let shared = match n % 2 {
            0 => Arc::clone(&files[file]),
            _ => Arc::new(Attributes::clone(&files[file])),
        };
        let resource = match n % 4 {
            1 => Arc::new(Resource::clone(&node)),
            _ => Arc::clone(&node),
        };
        let mut record = log(&format!("line {n}"), &resource, &shared);
        let mut keys = vec![
            (
                "log.file.path".to_owned(),
                format!("/var/log/app-{file}.log"),
            ),
            ("log.file.name".to_owned(), format!("app-{file}.log")),
        ];
        if n % 5 == 0 {
            record.attributes.insert("log.file.name", "renamed");
            keys[1].1 = "renamed".to_owned();
        }
        if n % 3 == 0 {
            record.flags.insert(LogFlags::INVALID_UTF8);
        }
        expected.push((format!("line {n}"), keys, n % 3 == 0));
        events.push(Event::Log(record));
    }
    let mut out = Vec::new();
    assert_eq!(logs::encode(events.iter(), &mut out), 400);
    let request = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
    assert_eq!(request.resource_logs.len(), 1, "copies of one resource");
    let records = &request.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(records.len(), expected.len());
    for (record, (body, keys, invalid)) in records.iter().zip(&expected) {
        assert_eq!(string(&record.body), body);
        let mut got: Vec<(String, String)> = Vec::new();
        let mut flagged = false;
        for kv in &record.attributes {
            match kv.key.as_str() {
                "neurallog.log.invalid_utf8" => flagged = true,
                key => got.push((key.to_owned(), string(&kv.value).to_owned())),
            }
        }
        got.sort();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(got, want, "{body}");
        assert_eq!(flagged, *invalid, "{body}");
    }
}
