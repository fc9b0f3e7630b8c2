//! Metric data points, after the OpenTelemetry metrics data model.

use std::borrow::Cow;
use std::sync::Arc;

use super::value::{Attributes, Resource};

/// One data point of one metric stream.
#[derive(Debug, Clone)]
pub struct Metric {
    /// The metric name in OpenTelemetry form (`system.cpu.time`) or, for
    /// names the platform's alert rules use, the exact Prometheus name
    /// (`cpu_usage_percent`).
    pub name: Cow<'static, str>,
    /// One-line description (`# HELP`).
    pub description: Cow<'static, str>,
    /// UCUM unit: `s`, `By`, `%`, `1`, `{packet}`...
    pub unit: Cow<'static, str>,
    /// The value and its kind.
    pub value: MetricValue,
    /// Attributes identifying the stream.
    pub attributes: Attributes,
    /// When the value was observed, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// For cumulative sums and histograms, when counting started.
    pub start_time_unix_nano: u64,
    /// The producing resource.
    pub resource: Arc<Resource>,
}

/// The value of a data point.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A value that goes up and down.
    Gauge(f64),
    /// A cumulative sum; `monotonic` sums are counters.
    Sum {
        /// The running total.
        value: f64,
        /// Whether the total only ever grows.
        monotonic: bool,
    },
    /// A cumulative explicit-bucket histogram.
    Histogram(Histogram),
}

/// A cumulative histogram with explicit bucket bounds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending; an implicit `+Inf` follows.
    pub bounds: Vec<f64>,
    /// Count per bucket (not cumulative), `bounds.len() + 1` entries.
    pub bucket_counts: Vec<u64>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

// === impl Metric ===

impl Metric {
    /// A gauge data point observed now.
    pub fn gauge(
        name: impl Into<Cow<'static, str>>,
        unit: impl Into<Cow<'static, str>>,
        value: f64,
        resource: Arc<Resource>,
    ) -> Self {
        Self::point(name, unit, MetricValue::Gauge(value), resource)
    }

    /// A monotonic cumulative sum (a counter) observed now.
    pub fn counter(
        name: impl Into<Cow<'static, str>>,
        unit: impl Into<Cow<'static, str>>,
        value: f64,
        resource: Arc<Resource>,
    ) -> Self {
        Self::point(
            name,
            unit,
            MetricValue::Sum {
                value,
                monotonic: true,
            },
            resource,
        )
    }

    /// A non-monotonic cumulative sum (an up-down counter) observed now.
    pub fn up_down(
        name: impl Into<Cow<'static, str>>,
        unit: impl Into<Cow<'static, str>>,
        value: f64,
        resource: Arc<Resource>,
    ) -> Self {
        Self::point(
            name,
            unit,
            MetricValue::Sum {
                value,
                monotonic: false,
            },
            resource,
        )
    }

    fn point(
        name: impl Into<Cow<'static, str>>,
        unit: impl Into<Cow<'static, str>>,
        value: MetricValue,
        resource: Arc<Resource>,
    ) -> Self {
        Metric {
            name: name.into(),
            description: Cow::Borrowed(""),
            unit: unit.into(),
            value,
            attributes: Attributes::new(),
            time_unix_nano: super::now_unix_nanos(),
            start_time_unix_nano: 0,
            resource,
        }
    }

    /// Set the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Add an attribute.
    #[must_use]
    pub fn with_attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<super::AnyValue>,
    ) -> Self {
        self.attributes.insert(key, value);
        self
    }

    /// Set the start time of a cumulative stream.
    #[must_use]
    pub fn with_start_time(mut self, start_time_unix_nano: u64) -> Self {
        self.start_time_unix_nano = start_time_unix_nano;
        self
    }

    /// The scalar value of a gauge or sum; `None` for a histogram.
    pub fn scalar(&self) -> Option<f64> {
        match &self.value {
            MetricValue::Gauge(v) | MetricValue::Sum { value: v, .. } => Some(*v),
            MetricValue::Histogram(_) => None,
        }
    }
}
