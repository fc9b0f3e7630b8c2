//! A small Prometheus-style registry for the agent's own metrics.
//!
//! Handles are `Arc`s to atomics, looked up once when a component starts;
//! the hot path is a relaxed atomic add. Rendering follows the Prometheus
//! text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::text_format;

/// Label pairs of one series, sorted by name.
pub type Labels = Vec<(&'static str, String)>;

/// The process-wide registry.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

/// A value that goes up and down (stored as `f64` bits).
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

/// A histogram with fixed bucket bounds.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCell>);

#[derive(Debug)]
struct HistogramCell {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_bits: AtomicU64,
    count: AtomicU64,
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug, Clone)]
enum Series {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

/// The process-wide registry every internal event reports to.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

// === impl Registry ===

impl Registry {
    /// The counter `name` with `labels`, created at zero if new.
    pub fn counter(&self, name: &'static str, help: &'static str, labels: Labels) -> Counter {
        match self.series(name, help, Kind::Counter, labels, || {
            Series::Counter(Counter::default())
        }) {
            Series::Counter(c) => c,
            _ => Counter::default(),
        }
    }

    /// The gauge `name` with `labels`, created at zero if new.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: Labels) -> Gauge {
        match self.series(name, help, Kind::Gauge, labels, || {
            Series::Gauge(Gauge::default())
        }) {
            Series::Gauge(g) => g,
            _ => Gauge::default(),
        }
    }

    /// The histogram `name` with `labels` and bucket `bounds`.
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: Labels,
        bounds: &'static [f64],
    ) -> Histogram {
        let make = || Series::Histogram(Histogram::new(bounds));
        match self.series(name, help, Kind::Histogram, labels, make) {
            Series::Histogram(h) => h,
            _ => Histogram::new(bounds),
        }
    }

    /// Forget every series that has label `key` equal to `value` (a removed
    /// component's), so stale series disappear from `/metrics`.
    pub fn remove_labelled(&self, key: &str, value: &str) {
        let mut families = self.lock();
        for family in families.values_mut() {
            family
                .series
                .retain(|labels, _| !labels.iter().any(|(k, v)| *k == key && v == value));
        }
    }

    /// Render every family in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let families = self.lock();
        for (name, family) in families.iter() {
            if family.series.is_empty() {
                continue;
            }
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            text_format::family_header(out, name, family.help, kind);
            for (labels, series) in &family.series {
                let pairs = labels.iter().map(|(k, v)| (*k, v.as_str()));
                match series {
                    Series::Counter(c) => text_format::sample(out, name, "", pairs, c.get() as f64),
                    Series::Gauge(g) => text_format::sample(out, name, "", pairs, g.get()),
                    Series::Histogram(h) => h.render(out, name, labels),
                }
            }
        }
    }

    /// A snapshot of every scalar series: name, labels, value, is-counter.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, Labels, f64, bool)> {
        let families = self.lock();
        let mut out = Vec::new();
        for (name, family) in families.iter() {
            for (labels, series) in &family.series {
                match series {
                    Series::Counter(c) => {
                        out.push((*name, family.help, labels.clone(), c.get() as f64, true))
                    }
                    Series::Gauge(g) => {
                        out.push((*name, family.help, labels.clone(), g.get(), false))
                    }
                    Series::Histogram(_) => {}
                }
            }
        }
        out
    }

    fn series(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        mut labels: Labels,
        make: impl FnOnce() -> Series,
    ) -> Series {
        labels.sort_by(|a, b| a.0.cmp(b.0));
        let mut families = self.lock();
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        debug_assert_eq!(family.kind, kind, "metric {name} registered with two kinds");
        family.series.entry(labels).or_insert_with(make).clone()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, Family>> {
        crate::sync::lock(&self.families)
    }
}

// === impl Counter ===

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Add `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

// === impl Gauge ===

impl Gauge {
    /// Set the value.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Add `delta` (may be negative).
    pub fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

// === impl Histogram ===

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram(Arc::new(HistogramCell {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }))
    }

    /// Record one observation.
    pub fn observe(&self, value: f64) {
        let cell = &self.0;
        let index = cell
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(cell.bounds.len());
        cell.buckets[index].fetch_add(1, Ordering::Relaxed);
        cell.count.fetch_add(1, Ordering::Relaxed);
        let _ = cell
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &Labels) {
        let cell = &self.0;
        let counts: Vec<u64> = cell
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .collect();
        // `+Inf` and `_count` from the buckets read, so that they agree
        // with the buckets even while observations land.
        let total = counts.iter().sum();
        text_format::histogram(
            out,
            name,
            labels.iter().map(|(k, v)| (*k, v.as_str())),
            cell.bounds,
            counts,
            f64::from_bits(cell.sum_bits.load(Ordering::Relaxed)),
            total,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let registry = Registry::default();
        let c = registry.counter(
            "demo_events_total",
            "Events.",
            vec![("component_id", "a\"b".into())],
        );
        c.add(3);
        registry.gauge("demo_up", "Up.", vec![]).set(1.5);
        let h = registry.histogram("demo_seconds", "Latency.", vec![], &[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(7.0);
        let mut text = String::new();
        registry.render(&mut text);
        assert!(
            text.contains(
                "# TYPE demo_events_total counter\ndemo_events_total{component_id=\"a\\\"b\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("demo_up 1.5\n"));
        assert!(text.contains("demo_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("demo_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("demo_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("demo_seconds_sum 7.55\n"));
        assert!(text.contains("demo_seconds_count 3\n"));
    }

    #[test]
    fn same_labels_share_a_series_and_removal_forgets_it() {
        let registry = Registry::default();
        let a = registry.counter("x_total", "X.", vec![("b", "2".into()), ("a", "1".into())]);
        let b = registry.counter("x_total", "X.", vec![("a", "1".into()), ("b", "2".into())]);
        a.inc();
        b.inc();
        assert_eq!(a.get(), 2);
        registry.remove_labelled("a", "1");
        let mut text = String::new();
        registry.render(&mut text);
        assert!(!text.contains("x_total"), "{text}");
    }
}
