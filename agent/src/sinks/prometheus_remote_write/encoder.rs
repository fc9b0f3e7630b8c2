//! Metric events as a remote-write `WriteRequest`.
//!
//! - Names: the Prometheus exporter's mapping (`sinks::prometheus::names`:
//!   exact for names without a dot, the OpenTelemetry mapping for dotted
//!   ones), so a metric has one name whether scraped or pushed.
//! - Labels: `__name__`, `job` (the resource's `service.name`),
//!   `instance` (`service.instance.id`, else `host.name`), the resource
//!   attributes listed in `resource_labels`, then the point's attributes
//!   (which win on a clash), all through the same `label_name`;
//!   two keys that map to the same label have their values joined with `;`.
//!   Sorted by name, as the specification requires.
//! - Histograms: cumulative `_bucket{le}` series (with `+Inf`), `_sum` and
//!   `_count`.
//! - Timestamps in milliseconds; one `MetricMetadata` per family.

use std::collections::BTreeMap;

use super::proto::{Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};
use crate::event::{Event, Metric, MetricValue};
use crate::sinks::prometheus::{NameKind as MetricKind, label_name, metric_name};

/// Encode the metric events among `events`; returns the request and how
/// many data points it holds.
pub fn write_request<'a>(
    events: impl Iterator<Item = &'a Event>,
    resource_labels: &[String],
) -> (WriteRequest, usize) {
    let mut request = WriteRequest::default();
    let mut families: BTreeMap<String, MetricMetadata> = BTreeMap::new();
    let mut points = 0;
    for event in events {
        let Event::Metric(metric) = event else {
            continue;
        };
        points += 1;
        let kind = match metric.value {
            MetricValue::Gauge(_)
            | MetricValue::Sum {
                monotonic: false, ..
            } => MetricKind::Gauge,
            MetricValue::Sum {
                monotonic: true, ..
            } => MetricKind::Counter,
            MetricValue::Histogram(_) => MetricKind::Histogram,
        };
        let name = metric_name(&metric.name, &metric.unit, kind);
        let labels = labels(metric, resource_labels);
        let timestamp = i64::try_from(metric.time_unix_nano / 1_000_000).unwrap_or(i64::MAX);
        families
            .entry(name.clone())
            .or_insert_with(|| MetricMetadata {
                r#type: match kind {
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Counter => MetricType::Counter,
                    MetricKind::Histogram => MetricType::Histogram,
                } as i32,
                metric_family_name: name.clone(),
                help: metric.description.to_string(),
                unit: metric.unit.to_string(),
            });
        match &metric.value {
            MetricValue::Gauge(value) | MetricValue::Sum { value, .. } => {
                request
                    .timeseries
                    .push(series(&name, &labels, None, *value, timestamp));
            }
            MetricValue::Histogram(h) => {
                let mut cumulative = 0u64;
                for (i, bound) in h.bounds.iter().enumerate() {
                    cumulative += h.bucket_counts.get(i).copied().unwrap_or(0);
                    let le = ("le", format_bound(*bound));
                    let bucket = format!("{name}_bucket");
                    request.timeseries.push(series(
                        &bucket,
                        &labels,
                        Some(le),
                        cumulative as f64,
                        timestamp,
                    ));
                }
                let bucket = format!("{name}_bucket");
                let inf = ("le", "+Inf".to_owned());
                request.timeseries.push(series(
                    &bucket,
                    &labels,
                    Some(inf),
                    h.count as f64,
                    timestamp,
                ));
                let sum = format!("{name}_sum");
                request
                    .timeseries
                    .push(series(&sum, &labels, None, h.sum, timestamp));
                let count = format!("{name}_count");
                request
                    .timeseries
                    .push(series(&count, &labels, None, h.count as f64, timestamp));
            }
        }
    }
    request.metadata = families.into_values().collect();
    (request, points)
}

/// The labels of a point, without `__name__`, keyed by label name.
fn labels(metric: &Metric, resource_labels: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let resource = &metric.resource.attributes;
    if let Some(job) = resource.get("service.name") {
        out.insert("job".to_owned(), job.to_string());
    }
    if let Some(instance) = resource
        .get("service.instance.id")
        .or_else(|| resource.get("host.name"))
    {
        out.insert("instance".to_owned(), instance.to_string());
    }
    for key in resource_labels {
        if let Some(value) = resource.get(key) {
            out.insert(label_name(key), value.to_string());
        }
    }
    let mut own: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in metric.attributes.iter() {
        let value = value.to_string();
        own.entry(label_name(key))
            .and_modify(|v| {
                v.push(';');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out.extend(own);
    out
}

fn series(
    name: &str,
    labels: &BTreeMap<String, String>,
    extra: Option<(&str, String)>,
    value: f64,
    timestamp: i64,
) -> TimeSeries {
    let mut list: Vec<Label> = Vec::with_capacity(labels.len() + 2);
    list.push(Label {
        name: "__name__".to_owned(),
        value: name.to_owned(),
    });
    list.extend(
        labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Label {
                name: k.clone(),
                value: v.clone(),
            }),
    );
    if let Some((k, v)) = extra {
        list.push(Label {
            name: k.to_owned(),
            value: v,
        });
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels: list,
        samples: vec![Sample { value, timestamp }],
    }
}

/// A bucket bound as Prometheus writes it (`0.5`, `1`, `+Inf`).
fn format_bound(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_owned()
    } else if bound == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{bound}")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Attributes, Histogram, Resource};

    fn resource() -> Arc<Resource> {
        Arc::new(Resource::new(
            Attributes::new()
                .with("host.name", "node-1")
                .with("service.name", "neurallog-agent")
                .with("k8s.pod.name", "web-1"),
        ))
    }

    fn label_pairs(series: &TimeSeries) -> Vec<(String, String)> {
        series
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }

    #[test]
    fn maps_names_labels_and_timestamps() {
        let events = [
            Event::Metric(
                Metric::gauge("cpu_usage_percent", "%", 42.5, resource())
                    .with_attribute("cpu", "total")
                    .with_attribute("k8s.pod.name", "override"),
            ),
            Event::Metric(Metric::counter(
                "system.network.io",
                "By",
                1024.0,
                resource(),
            )),
        ];
        let (request, points) = write_request(events.iter(), &["k8s.pod.name".to_owned()]);
        assert_eq!(points, 2);
        let cpu = &request.timeseries[0];
        assert_eq!(
            label_pairs(cpu),
            [
                ("__name__", "cpu_usage_percent"),
                ("cpu", "total"),
                ("instance", "node-1"),
                ("job", "neurallog-agent"),
                ("k8s_pod_name", "override"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(cpu.samples[0].value, 42.5);
        let Event::Metric(m) = &events[0] else {
            unreachable!()
        };
        assert_eq!(
            cpu.samples[0].timestamp,
            (m.time_unix_nano / 1_000_000) as i64
        );
        assert_eq!(
            request.timeseries[1].labels[0].value,
            "system_network_io_bytes_total"
        );
        let types: Vec<(String, i32)> = request
            .metadata
            .iter()
            .map(|m| (m.metric_family_name.clone(), m.r#type))
            .collect();
        assert_eq!(
            types,
            [
                ("cpu_usage_percent".to_owned(), MetricType::Gauge as i32),
                (
                    "system_network_io_bytes_total".to_owned(),
                    MetricType::Counter as i32
                )
            ]
        );
    }

    #[test]
    fn histograms_become_cumulative_buckets_sum_and_count() {
        let metric = Metric {
            value: MetricValue::Histogram(Histogram {
                bounds: vec![0.1, 1.0],
                bucket_counts: vec![2, 3, 1],
                sum: 4.2,
                count: 6,
            }),
            ..Metric::gauge("http.server.request.duration", "s", 0.0, resource())
        };
        let events = [Event::Metric(metric)];
        let (request, _) = write_request(events.iter(), &[]);
        let rows: Vec<(String, Option<String>, f64)> = request
            .timeseries
            .iter()
            .map(|s| {
                let name = s
                    .labels
                    .iter()
                    .find(|l| l.name == "__name__")
                    .unwrap()
                    .value
                    .clone();
                let le = s
                    .labels
                    .iter()
                    .find(|l| l.name == "le")
                    .map(|l| l.value.clone());
                (name, le, s.samples[0].value)
            })
            .collect();
        let base = "http_server_request_duration_seconds";
        assert_eq!(
            rows,
            [
                (format!("{base}_bucket"), Some("0.1".to_owned()), 2.0),
                (format!("{base}_bucket"), Some("1".to_owned()), 5.0),
                (format!("{base}_bucket"), Some("+Inf".to_owned()), 6.0),
                (format!("{base}_sum"), None, 4.2),
                (format!("{base}_count"), None, 6.0),
            ]
        );
    }

    #[test]
    fn clashing_label_names_join_their_values() {
        let metric = Metric::gauge("x", "", 1.0, resource())
            .with_attribute("a.b", "1")
            .with_attribute("a_b", "2");
        let events = [Event::Metric(metric)];
        let (request, _) = write_request(events.iter(), &[]);
        let ab = request.timeseries[0]
            .labels
            .iter()
            .find(|l| l.name == "a_b")
            .unwrap();
        assert_eq!(ab.value, "1;2");
    }
}
