//! The log_to_metric transform's configuration.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::transforms::filter::{Condition, FieldRef};

/// Turn log records into metrics: counters, gauges and histograms, with
/// labels from the records' fields. The records themselves are consumed
/// (acknowledged: they were handled); metrics and check results that
/// arrive pass through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogToMetricConfig {
    /// The metrics to make; a record may update several.
    pub metrics: Vec<MetricSpec>,
}

/// One metric made from log records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// `counter`, `gauge` or `histogram`.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// The metric's name. A name without a dot is exposed to Prometheus as
    /// written (`http_requests_total`, `auth_failed_attempts`); a dotted
    /// one after the OpenTelemetry mapping.
    pub name: String,
    /// The `# HELP` line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The field (as in `filter`: `attributes.NAME`, `severity`...) whose
    /// number is the value: a gauge's value, a histogram's observation, the
    /// amount a counter grows by. Required for gauges and histograms; a
    /// counter without one counts records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Labels, by name, each from a field: `status:
    /// attributes.http.response.status_code`. A record without the field
    /// gets the label empty.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Only records matching this condition (as in `filter`) update the
    /// metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// A histogram's bucket upper bounds, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<f64>,
    /// The most label combinations (series) kept for this metric. An update
    /// that would make one more is dropped and counted in
    /// `neurallog_agent_transform_dropped_series_total`: a label fed by an
    /// unbounded field (a user id, a path) cannot blow up the agent's memory
    /// or the metrics backend.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
}

/// What kind of metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A monotonic sum: records counted, or a field's values added up.
    Counter,
    /// The last value of a field.
    Gauge,
    /// The distribution of a field's values in `buckets`.
    Histogram,
}

fn default_max_series() -> usize {
    1000
}

// === impl LogToMetricConfig ===

impl Validate for LogToMetricConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.metrics.is_empty() {
            errors.push(
                path.field("metrics")
                    .error("is empty: expected at least one metric"),
            );
        }
        for (i, metric) in self.metrics.iter().enumerate() {
            metric.validate(&path.field("metrics").index(i), errors);
        }
    }
}

// === impl MetricSpec ===

impl Validate for MetricSpec {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        let name_ok = self
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':'));
        if !name_ok {
            errors.push(path.field("name").error(format!(
                "{:?} is not a metric name: expected a letter or `_`, then letters, digits, `_`, `.` or `:`",
                self.name
            )));
        }
        match (&self.field, self.kind) {
            (Some(field), _) => {
                if let Err(message) = FieldRef::parse(field) {
                    errors.push(path.field("field").error(message));
                }
            }
            (None, MetricKind::Gauge | MetricKind::Histogram) => errors
                .push(path.error("has no `field`: a gauge or histogram takes its values from one")),
            (None, MetricKind::Counter) => {}
        }
        for (label, field) in &self.labels {
            let label_ok = label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !label_ok {
                errors.push(path.field("labels").field(label).error(format!(
                    "`{label}` is not a label name: expected a letter or `_`, then letters, digits or `_`"
                )));
            }
            if let Err(message) = FieldRef::parse(field) {
                errors.push(path.field("labels").field(label).error(message));
            }
        }
        if let Some(condition) = &self.condition {
            condition.validate(&path.field("condition"), errors);
        }
        match self.kind {
            MetricKind::Histogram => {
                if self.buckets.is_empty()
                    || !self.buckets.windows(2).all(|w| w[0] < w[1])
                    || self.buckets.iter().any(|b| !b.is_finite())
                {
                    errors
                        .push(path.field("buckets").error(
                            "expected finite upper bounds in ascending order, at least one",
                        ));
                }
            }
            MetricKind::Counter | MetricKind::Gauge => {
                if !self.buckets.is_empty() {
                    errors.push(
                        path.field("buckets")
                            .error("is set on a metric that is not a histogram"),
                    );
                }
            }
        }
        if self.max_series == 0 {
            errors.push(path.field("max_series").error("must be at least 1"));
        }
    }
}
