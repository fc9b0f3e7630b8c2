//! The series of each metric and their running values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use crate::event::{
    Attributes, Event, Histogram, LogFlags, LogRecord, Metric, MetricValue, Resource,
    now_unix_nanos,
};
use crate::telemetry::Counter;
use crate::telemetry::events::{TransformMetrics, TransformSeriesDropped};
use crate::topology::BuildError;
use crate::transforms::Transform;
use crate::transforms::filter::{Compiled, FieldRef};

use super::config::{LogToMetricConfig, MetricKind};

/// A built log_to_metric transform.
#[derive(Debug)]
pub struct LogToMetric {
    metrics: Vec<MetricState>,
    /// When counting started: the start of every cumulative series.
    started_unix_nano: u64,
    /// Scratch: the label values of the record at hand.
    values: Vec<String>,
    /// Series updated in the batch at hand: (metric, series).
    touched: Vec<(usize, usize)>,
    /// Updates refused in the batch at hand.
    refused: u64,
    /// Hashes label sets: seeded per process, as label values come from
    /// the lines read.
    hasher: foldhash::fast::RandomState,
    dropped_series: Option<(Counter, String)>,
}

#[derive(Debug)]
struct MetricState {
    name: String,
    description: String,
    kind: MetricKind,
    field: Option<FieldRef>,
    labels: Vec<(String, FieldRef)>,
    condition: Option<Compiled>,
    buckets: Vec<f64>,
    max_series: usize,
    /// Series by the hash of their label values (collisions share a slot).
    /// Only hashes of series made are kept: a label set refused past
    /// `max_series` leaves nothing behind.
    index: HashMap<u64, Vec<usize>, foldhash::fast::RandomState>,
    series: Vec<Series>,
}

#[derive(Debug)]
struct Series {
    labels: Vec<String>,
    /// A counter's total or a gauge's last value.
    value: f64,
    histogram: Histogram,
    resource: Arc<Resource>,
    touched: bool,
}

// === impl LogToMetric ===

impl LogToMetric {
    /// The transform `config` describes (which validated).
    pub fn new(config: &LogToMetricConfig) -> Result<LogToMetric, BuildError> {
        let metrics = config
            .metrics
            .iter()
            .map(|spec| {
                let context =
                    |message: String| BuildError::new(format!("metric `{}`: {message}", spec.name));
                let labels = spec
                    .labels
                    .iter()
                    .map(|(label, field)| Ok((label.clone(), FieldRef::parse(field)?)))
                    .collect::<Result<_, String>>()
                    .map_err(context)?;
                Ok(MetricState {
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                    kind: spec.kind,
                    field: spec
                        .field
                        .as_deref()
                        .map(FieldRef::parse)
                        .transpose()
                        .map_err(context)?,
                    labels,
                    condition: spec
                        .condition
                        .as_ref()
                        .map(Compiled::new)
                        .transpose()
                        .map_err(context)?,
                    buckets: spec.buckets.clone(),
                    max_series: spec.max_series,
                    index: HashMap::default(),
                    series: Vec::new(),
                })
            })
            .collect::<Result<_, BuildError>>()?;
        Ok(LogToMetric {
            metrics,
            started_unix_nano: now_unix_nanos(),
            values: Vec::new(),
            touched: Vec::new(),
            refused: 0,
            hasher: foldhash::fast::RandomState::default(),
            dropped_series: None,
        })
    }

    /// Count refused series in the transform's metrics.
    pub fn with_metrics(mut self, metrics: &TransformMetrics) -> Self {
        self.dropped_series = Some((
            metrics.dropped_series(),
            metrics.component().id().to_owned(),
        ));
        self
    }

    /// Updates refused past `max_series` in the last batch.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How many label-set hashes the metrics keep, for tests: one per
    /// series made, however many were refused.
    #[cfg(test)]
    pub(super) fn indexed_hashes(&self) -> usize {
        self.metrics.iter().map(|m| m.index.len()).sum()
    }

    /// Update every metric `log` counts in.
    pub fn observe(&mut self, log: &LogRecord) {
        for (m, metric) in self.metrics.iter_mut().enumerate() {
            if metric.condition.as_ref().is_some_and(|c| !c.matches(log)) {
                continue;
            }
            let value = match (&metric.field, metric.kind) {
                (Some(field), _) => match field.number(log) {
                    Some(value) if value.is_finite() => value,
                    _ => continue,
                },
                (None, MetricKind::Counter) => 1.0,
                (None, MetricKind::Gauge | MetricKind::Histogram) => continue,
            };
            if metric.kind == MetricKind::Counter && value < 0.0 {
                continue;
            }
            self.values.resize_with(metric.labels.len(), String::new);
            let mut hasher = self.hasher.build_hasher();
            for ((_, field), text) in metric.labels.iter().zip(&mut self.values) {
                text.clear();
                field.write_text(log, text);
                text.hash(&mut hasher);
            }
            let values = &self.values[..metric.labels.len()];
            let Some(s) = metric.series_for(hasher.finish(), values, &log.resource) else {
                self.refused += 1;
                continue;
            };
            let series = &mut metric.series[s];
            match metric.kind {
                MetricKind::Counter => series.value += value,
                MetricKind::Gauge => series.value = value,
                MetricKind::Histogram => {
                    let bucket = metric.buckets.partition_point(|bound| *bound < value);
                    series.histogram.bucket_counts[bucket] += 1;
                    series.histogram.sum += value;
                    series.histogram.count += 1;
                }
            }
            if !series.touched {
                series.touched = true;
                self.touched.push((m, s));
            }
        }
    }

    /// A data point of every series updated since the last call.
    pub fn drain_points(&mut self, out: &mut Vec<Event>) {
        let now = now_unix_nanos();
        for (m, s) in self.touched.drain(..) {
            let metric = &mut self.metrics[m];
            let series = &mut metric.series[s];
            series.touched = false;
            let value = match metric.kind {
                MetricKind::Counter => MetricValue::Sum {
                    value: series.value,
                    monotonic: true,
                },
                MetricKind::Gauge => MetricValue::Gauge(series.value),
                MetricKind::Histogram => MetricValue::Histogram(series.histogram.clone()),
            };
            let attributes: Attributes = metric
                .labels
                .iter()
                .zip(&series.labels)
                .filter(|(_, value)| !value.is_empty())
                .map(|((label, _), value)| (label.clone(), value.clone()))
                .collect();
            out.push(Event::Metric(Metric {
                name: Cow::Owned(metric.name.clone()),
                description: Cow::Owned(metric.description.clone()),
                unit: Cow::Borrowed(""),
                value,
                attributes,
                time_unix_nano: now,
                start_time_unix_nano: self.started_unix_nano,
                resource: Arc::clone(&series.resource),
            }));
        }
    }
}

impl Transform for LogToMetric {
    fn process(&mut self, events: &mut Vec<Event>) {
        self.refused = 0;
        events.retain(|event| match event {
            // One read again (a sink gave its batch up) was counted when
            // it was first read.
            Event::Log(log) if log.flags.contains(LogFlags::REPLAYED) => false,
            Event::Log(log) => {
                self.observe(log);
                false
            }
            Event::Metric(_) | Event::Check(_) => true,
        });
        self.drain_points(events);
        if let Some((counter, component_id)) = &self.dropped_series {
            TransformSeriesDropped {
                counter,
                component_id,
                count: self.refused,
            }
            .emit();
        }
    }
}

// === impl MetricState ===

impl MetricState {
    /// The series with label `values` (whose hash is `hash`), made if new
    /// and there is room; `None` past `max_series`.
    fn series_for(
        &mut self,
        hash: u64,
        values: &[String],
        resource: &Arc<Resource>,
    ) -> Option<usize> {
        let mut known = self.index.get(&hash).into_iter().flatten();
        if let Some(&s) = known.find(|&&s| self.series[s].labels == values) {
            return Some(s);
        }
        if self.series.len() >= self.max_series {
            return None;
        }
        let s = self.series.len();
        self.series.push(Series {
            labels: values.to_vec(),
            value: 0.0,
            histogram: Histogram {
                bounds: self.buckets.clone(),
                bucket_counts: vec![0; self.buckets.len() + 1],
                sum: 0.0,
                count: 0,
            },
            resource: Arc::clone(resource),
            touched: false,
        });
        self.index.entry(hash).or_default().push(s);
        Some(s)
    }
}
