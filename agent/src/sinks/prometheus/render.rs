//! The Prometheus text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>):
//! families with `# HELP` and `# TYPE`, samples sorted by labels,
//! histograms as cumulative `_bucket{le}`, `_sum` and `_count`.

use std::collections::BTreeMap;

use super::names::{NameKind, label_name, metric_name};
use super::store::{SeriesKey, Stored};
use crate::event::{Histogram, MetricValue};
use crate::telemetry::text_format;

/// Label pairs of a sample, sorted by name.
pub type Labels = Vec<(String, String)>;

/// The type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `untyped`: node_exporter's type for the raw kernel fields of its
    /// `netstat` and `vmstat` collectors.
    Untyped,
}

/// The value of one sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// A counter or gauge value.
    Value(f64),
    /// A histogram.
    Histogram(Histogram),
}

/// Metric families about to be written.
#[derive(Debug, Default)]
pub struct Families {
    families: BTreeMap<String, Family>,
    /// Names that were refused: a family of that name has another type.
    pub conflicts: Vec<String>,
}

#[derive(Debug)]
struct Family {
    kind: Kind,
    /// The first non-empty help text any series brought.
    help: String,
    /// Used when no series had one.
    fallback_help: String,
    samples: BTreeMap<Labels, Sample>,
}

// === impl Kind ===

impl Kind {
    /// The kind a metric value is exposed as.
    pub fn of(value: &MetricValue) -> Kind {
        match value {
            MetricValue::Gauge(_)
            | MetricValue::Sum {
                monotonic: false, ..
            } => Kind::Gauge,
            MetricValue::Sum {
                monotonic: true, ..
            } => Kind::Counter,
            MetricValue::Histogram(_) => Kind::Histogram,
        }
    }

    fn name_kind(self) -> NameKind {
        match self {
            Kind::Counter => NameKind::Counter,
            Kind::Gauge | Kind::Untyped => NameKind::Gauge,
            Kind::Histogram => NameKind::Histogram,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Untyped => "untyped",
        }
    }
}

// === impl Sample ===

impl Sample {
    /// The sample of a stored value.
    pub fn of(value: &MetricValue) -> Sample {
        match value {
            MetricValue::Gauge(v) | MetricValue::Sum { value: v, .. } => Sample::Value(*v),
            MetricValue::Histogram(h) => Sample::Histogram(h.clone()),
        }
    }
}

// === impl Families ===

impl Families {
    /// Set a sample (replacing one with the same labels). A name already
    /// used by a family of another kind is refused and noted in
    /// [`Families::conflicts`].
    pub fn set(&mut self, name: &str, kind: Kind, help: &str, labels: Labels, sample: Sample) {
        if let Some(family) = self.family(name, kind, help, name) {
            family.samples.insert(labels, sample);
        }
    }

    /// Add `value` to a sample (starting from zero): for values
    /// node_exporter reports that are sums of several OpenTelemetry states.
    pub fn add(&mut self, name: &str, kind: Kind, help: &str, labels: Labels, value: f64) {
        if let Some(family) = self.family(name, kind, help, name) {
            let sample = family.samples.entry(labels).or_insert(Sample::Value(0.0));
            if let Sample::Value(total) = sample {
                *total += value;
            }
        }
    }

    /// Add a stored series as `name` (from [`otel_name`]).
    pub fn add_series(&mut self, name: &str, kind: Kind, key: &SeriesKey, stored: &Stored) {
        let labels = labels(key.labels.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        if let Some(family) = self.family(name, kind, &stored.description, &key.name) {
            family.samples.insert(labels, Sample::of(&stored.value));
        }
    }

    /// Whether no family holds a sample.
    pub fn is_empty(&self) -> bool {
        self.families.values().all(|f| f.samples.is_empty())
    }

    /// Write every family in the text format.
    pub fn write(&self, out: &mut String) {
        for (name, family) in &self.families {
            if family.samples.is_empty() {
                continue;
            }
            let help = if family.help.is_empty() {
                &family.fallback_help
            } else {
                &family.help
            };
            text_format::family_header(out, name, help, family.kind.as_str());
            for (labels, sample) in &family.samples {
                let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match sample {
                    Sample::Value(value) => text_format::sample(out, name, "", pairs, *value),
                    Sample::Histogram(h) => text_format::histogram(
                        out,
                        name,
                        pairs,
                        &h.bounds,
                        h.bucket_counts.iter().copied(),
                        h.sum,
                        h.count,
                    ),
                }
            }
        }
    }

    fn family(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        fallback_help: &str,
    ) -> Option<&mut Family> {
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind,
                help: String::new(),
                fallback_help: fallback_help.to_owned(),
                samples: BTreeMap::new(),
            });
        if family.kind != kind {
            if !self.conflicts.iter().any(|c| c == name) {
                self.conflicts.push(name.to_owned());
            }
            return None;
        }
        if family.help.is_empty() && !help.is_empty() {
            family.help = help.to_owned();
        }
        Some(family)
    }
}

/// The OpenTelemetry-to-Prometheus name and the kind of a stored series.
pub fn otel_name(key: &SeriesKey, stored: &Stored) -> (String, Kind) {
    let kind = Kind::of(&stored.value);
    (metric_name(&key.name, &stored.unit, kind.name_kind()), kind)
}

/// Prometheus labels from attribute pairs: names sanitized and sorted; of
/// two attributes that sanitize to the same name the first is kept.
pub fn labels<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Labels {
    let mut out: Labels = Vec::new();
    for (key, value) in pairs {
        let name = label_name(key);
        if !name.is_empty() && out.iter().all(|(n, _)| *n != name) {
            out.push((name, value.to_owned()));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(families: &Families) -> String {
        let mut out = String::new();
        families.write(&mut out);
        out
    }

    #[test]
    fn families_are_sorted_typed_and_escaped() {
        let mut f = Families::default();
        f.set(
            "b_total",
            Kind::Counter,
            "Line one\nback\\slash",
            labels([("z.k", "v\"q"), ("a", "1")].into_iter()),
            Sample::Value(3.0),
        );
        f.set("a", Kind::Gauge, "A.", Vec::new(), Sample::Value(0.5));
        f.set("a", Kind::Counter, "A.", Vec::new(), Sample::Value(1.0));
        assert_eq!(f.conflicts, ["a"]);
        assert_eq!(
            text(&f),
            "# HELP a A.\n# TYPE a gauge\na 0.5\n\
             # HELP b_total Line one\\nback\\\\slash\n# TYPE b_total counter\n\
             b_total{a=\"1\",z_k=\"v\\\"q\"} 3\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let mut f = Families::default();
        f.set(
            "lat_seconds",
            Kind::Histogram,
            "Latency.",
            labels([("route", "/")].into_iter()),
            Sample::Histogram(Histogram {
                bounds: vec![0.1, 1.0],
                bucket_counts: vec![2, 3, 1],
                sum: 4.5,
                count: 6,
            }),
        );
        assert_eq!(
            text(&f),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{route=\"/\",le=\"0.1\"} 2\n\
             lat_seconds_bucket{route=\"/\",le=\"1\"} 5\n\
             lat_seconds_bucket{route=\"/\",le=\"+Inf\"} 6\n\
             lat_seconds_sum{route=\"/\"} 4.5\n\
             lat_seconds_count{route=\"/\"} 6\n"
        );
    }

    #[test]
    fn add_sums_parts_into_one_sample() {
        let mut f = Families::default();
        for part in [1.0, 2.0, 3.5] {
            f.add("size_bytes", Kind::Gauge, "Size.", Vec::new(), part);
        }
        assert_eq!(
            text(&f),
            "# HELP size_bytes Size.\n# TYPE size_bytes gauge\nsize_bytes 6.5\n"
        );
    }
}
