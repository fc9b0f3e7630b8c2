//! Metrics from records: counters by label, gauges, histograms, the bound
//! on series, and conditions.

use std::sync::Arc;

use super::*;
use crate::config::{FieldPath, Validate};
use crate::event::{Attributes, Event, LogRecord, MetricValue, Resource};
use crate::transforms::Transform;

fn transform(yaml: &str) -> LogToMetric {
    let config: LogToMetricConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    LogToMetric::new(&config).unwrap()
}

fn access(status: i64, method: &str, bytes: i64) -> Event {
    let mut log = LogRecord::new(
        format!("{method} / {status}"),
        Arc::new(Attributes::new()),
        Arc::new(Resource::default()),
    );
    log.attributes = Attributes::new()
        .with("http.request.method", method.to_owned())
        .with("http.response.status_code", status)
        .with("http.response.body.size", bytes);
    Event::Log(log)
}

/// (name, labels as `k=v` joined by `,`, value) of each metric point.
fn points(events: &[Event]) -> Vec<(String, String, MetricValue)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Metric(m) => Some((
                m.name.to_string(),
                m.attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                m.value.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn counter(value: f64) -> MetricValue {
    MetricValue::Sum {
        value,
        monotonic: true,
    }
}

const REQUESTS: &str = "
metrics:
  - type: counter
    name: http_requests_total
    labels:
      status: attributes.http.response.status_code
      method: attributes.http.request.method
";

#[test]
fn counters_count_records_by_label_and_stay_cumulative() {
    let mut t = transform(REQUESTS);
    let mut batch = vec![
        access(200, "GET", 10),
        access(503, "GET", 0),
        access(200, "GET", 5),
        access(200, "POST", 1),
    ];
    t.process(&mut batch);
    assert_eq!(
        points(&batch),
        [
            (
                "http_requests_total".into(),
                "status=200,method=GET".into(),
                counter(2.0)
            ),
            (
                "http_requests_total".into(),
                "status=503,method=GET".into(),
                counter(1.0)
            ),
            (
                "http_requests_total".into(),
                "status=200,method=POST".into(),
                counter(1.0)
            ),
        ]
    );
    assert!(
        batch.iter().all(|e| matches!(e, Event::Metric(_))),
        "the records are consumed"
    );
    // Only the series a batch updated go out, with their running totals.
    let mut batch = vec![access(503, "GET", 0)];
    t.process(&mut batch);
    assert_eq!(
        points(&batch),
        [(
            "http_requests_total".into(),
            "status=503,method=GET".into(),
            counter(2.0)
        )]
    );
}

#[test]
fn a_new_series_past_max_series_is_dropped_and_counted() {
    let mut t = transform(&format!("{REQUESTS}    max_series: 2\n"));
    let mut batch = vec![
        access(200, "GET", 0),
        access(404, "GET", 0),
        access(500, "GET", 0),
        access(200, "GET", 0),
        access(502, "GET", 0),
    ];
    t.process(&mut batch);
    assert_eq!(t.refused(), 2);
    assert_eq!(
        points(&batch),
        [
            (
                "http_requests_total".into(),
                "status=200,method=GET".into(),
                counter(2.0)
            ),
            (
                "http_requests_total".into(),
                "status=404,method=GET".into(),
                counter(1.0)
            ),
        ]
    );
}

/// Regression: a label set refused past `max_series` used to leave its
/// hash in the series index, so a label of unbounded cardinality (a path,
/// a client address) grew the transform's memory without bound once the
/// metric was full.
#[test]
fn refused_label_sets_leave_nothing_behind() {
    let mut t = transform(&format!("{REQUESTS}    max_series: 2\n"));
    let mut refused = 0;
    for round in 0..10 {
        let mut batch: Vec<Event> = (0..1000)
            .map(|i| access(1000 * round + i, "GET", 0))
            .collect();
        t.process(&mut batch);
        refused += t.refused();
    }
    assert_eq!(refused, 9_998);
    assert_eq!(t.indexed_hashes(), 2);
}

/// A record read again after a sink gave its batch up was counted when it
/// was first read: it is not counted twice.
#[test]
fn records_read_again_are_not_counted_twice() {
    let mut t = transform(REQUESTS);
    let mut batch = vec![access(200, "GET", 0), access(500, "GET", 0)];
    t.process(&mut batch);
    let mut again = vec![access(200, "GET", 0), access(500, "GET", 0)];
    for event in &mut again {
        if let Event::Log(log) = event {
            log.flags.insert(crate::event::LogFlags::REPLAYED);
        }
    }
    again.push(access(200, "GET", 0));
    t.process(&mut again);
    assert_eq!(
        points(&again),
        [(
            "http_requests_total".into(),
            "status=200,method=GET".into(),
            counter(2.0)
        )]
    );
}

#[test]
fn gauges_histograms_and_conditions() {
    let mut t = transform(
        "
metrics:
  - type: gauge
    name: last_response_bytes
    field: attributes.http.response.body.size
  - type: histogram
    name: response_bytes
    field: attributes.http.response.body.size
    buckets: [10, 100]
  - type: counter
    name: bytes_of_errors
    field: attributes.http.response.body.size
    condition: { field: attributes.http.response.status_code, gt: 499 }
",
    );
    let mut batch = vec![
        access(200, "GET", 5),
        access(500, "GET", 50),
        access(503, "GET", 500),
        access(200, "GET", 10),
    ];
    t.process(&mut batch);
    let got = points(&batch);
    assert_eq!(
        got[0],
        (
            "last_response_bytes".into(),
            String::new(),
            MetricValue::Gauge(10.0)
        )
    );
    let MetricValue::Histogram(h) = &got[1].2 else {
        panic!("{got:?}")
    };
    // 5 and 10 in (..10], 50 in (10, 100], 500 above.
    assert_eq!(
        (h.bucket_counts.as_slice(), h.count, h.sum),
        (&[2, 1, 1][..], 4, 565.0)
    );
    assert_eq!(
        got[2],
        ("bytes_of_errors".into(), String::new(), counter(550.0))
    );
}

#[test]
fn a_record_without_the_value_field_updates_nothing() {
    let mut t = transform("metrics: [{ type: gauge, name: g, field: attributes.missing }]");
    let mut batch = vec![access(200, "GET", 1)];
    t.process(&mut batch);
    assert!(batch.is_empty(), "{:?}", points(&batch));
}

#[test]
fn metrics_and_check_results_pass_through() {
    let mut t = transform(REQUESTS);
    let metric = crate::event::Metric::gauge("up", "1", 1.0, Arc::new(Resource::default()));
    let mut batch = vec![Event::Metric(metric)];
    t.process(&mut batch);
    assert_eq!(
        points(&batch),
        [("up".into(), String::new(), MetricValue::Gauge(1.0))]
    );
}

#[test]
fn bad_metrics_are_refused_with_their_field_path() {
    let config: LogToMetricConfig = serde_yaml_ng::from_str(
        "
metrics:
  - { type: histogram, name: '1bad', field: attributes.x, buckets: [5, 1] }
  - { type: gauge, name: ok, labels: { 'a-b': nowhere } }
  - { type: counter, name: c, max_series: 0, buckets: [1] }
",
    )
    .unwrap();
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "metrics[0].name",
        "metrics[0].buckets",
        "metrics[1]",
        "metrics[1].labels.a-b",
        "metrics[1].labels.a-b",
        "metrics[2].buckets",
        "metrics[2].max_series",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, path) in errors.iter().zip(expected) {
        assert!(
            error.contains(&format!(" {path}: ")),
            "{error} (expected {path})"
        );
    }
}
