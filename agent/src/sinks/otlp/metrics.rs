//! Metric events as an OTLP `ExportMetricsServiceRequest`
//! (<https://github.com/open-telemetry/opentelemetry-proto/blob/main/opentelemetry/proto/metrics/v1/metrics.proto>),
//! built from `opentelemetry-proto`'s types: metrics are few next to logs,
//! so clarity wins over the hand-written encoding of the log path.
//!
//! One `ResourceMetrics` per distinct resource, one `ScopeMetrics`
//! (`neurallog-agent`), one `Metric` per name, unit, description and kind
//! with all its data points. Gauges map to `Gauge`, sums to cumulative
//! `Sum` (monotonic or not), histograms to cumulative explicit-bucket
//! `Histogram`.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram as ProtoHistogram, HistogramDataPoint,
    Metric as ProtoMetric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use super::convert::key_values;
use super::logs::{SCOPE_NAME, SCOPE_VERSION};
use crate::event::{Event, Metric, MetricValue, Resource};

/// Build the request for the metric events among `events`; returns it and
/// how many data points it holds.
pub fn request<'a>(
    events: impl Iterator<Item = &'a Event>,
) -> (ExportMetricsServiceRequest, usize) {
    let mut groups: Vec<(&Arc<Resource>, Vec<ProtoMetric>)> = Vec::new();
    let mut count = 0;
    for event in events {
        let Event::Metric(metric) = event else {
            continue;
        };
        count += 1;
        let resource = &metric.resource;
        let index = groups
            .iter()
            .position(|(r, _)| Arc::ptr_eq(r, resource))
            .or_else(|| groups.iter().position(|(r, _)| ***r == **resource))
            .unwrap_or_else(|| {
                groups.push((resource, Vec::new()));
                groups.len() - 1
            });
        add_point(&mut groups[index].1, metric);
    }
    let resource_metrics = groups
        .into_iter()
        .map(|(resource, metrics)| ResourceMetrics {
            resource: Some(ProtoResource {
                attributes: key_values(&resource.attributes),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    (ExportMetricsServiceRequest { resource_metrics }, count)
}

/// The agent's instrumentation scope.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: SCOPE_VERSION.to_owned(),
        ..Default::default()
    }
}

/// Add `metric`'s data point to the `Metric` of the same stream, or a new
/// one.
fn add_point(metrics: &mut Vec<ProtoMetric>, metric: &Metric) {
    let same = |m: &&mut ProtoMetric| {
        m.name == metric.name
            && m.unit == metric.unit
            && m.description == metric.description
            && same_kind(m.data.as_ref(), &metric.value)
    };
    if let Some(existing) = metrics.iter_mut().find(same) {
        push_point(existing.data.as_mut(), metric);
        return;
    }
    let temporality = AggregationTemporality::Cumulative as i32;
    let data = match &metric.value {
        MetricValue::Gauge(_) => Data::Gauge(Gauge::default()),
        MetricValue::Sum { monotonic, .. } => Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: temporality,
            is_monotonic: *monotonic,
        }),
        MetricValue::Histogram(_) => Data::Histogram(ProtoHistogram {
            data_points: Vec::new(),
            aggregation_temporality: temporality,
        }),
    };
    let mut proto = ProtoMetric {
        name: metric.name.to_string(),
        description: metric.description.to_string(),
        unit: metric.unit.to_string(),
        data: Some(data),
        ..Default::default()
    };
    push_point(proto.data.as_mut(), metric);
    metrics.push(proto);
}

fn same_kind(data: Option<&Data>, value: &MetricValue) -> bool {
    match (data, value) {
        (Some(Data::Gauge(_)), MetricValue::Gauge(_)) => true,
        (Some(Data::Sum(sum)), MetricValue::Sum { monotonic, .. }) => {
            sum.is_monotonic == *monotonic
        }
        (Some(Data::Histogram(_)), MetricValue::Histogram(_)) => true,
        _ => false,
    }
}

fn push_point(data: Option<&mut Data>, metric: &Metric) {
    let attributes = key_values(&metric.attributes);
    let number = |value: f64| NumberDataPoint {
        attributes: attributes.clone(),
        start_time_unix_nano: metric.start_time_unix_nano,
        time_unix_nano: metric.time_unix_nano,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    };
    match (data, &metric.value) {
        (Some(Data::Gauge(gauge)), MetricValue::Gauge(v)) => gauge.data_points.push(number(*v)),
        (Some(Data::Sum(sum)), MetricValue::Sum { value, .. }) => {
            sum.data_points.push(number(*value))
        }
        (Some(Data::Histogram(histogram)), MetricValue::Histogram(h)) => {
            histogram.data_points.push(HistogramDataPoint {
                attributes: attributes.clone(),
                start_time_unix_nano: metric.start_time_unix_nano,
                time_unix_nano: metric.time_unix_nano,
                count: h.count,
                sum: Some(h.sum),
                bucket_counts: h.bucket_counts.clone(),
                explicit_bounds: h.bounds.clone(),
                ..Default::default()
            })
        }
        _ => {}
    }
}
