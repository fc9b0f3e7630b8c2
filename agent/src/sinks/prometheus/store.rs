//! The latest value of every series the sink received, and when each was
//! last updated.
//!
//! A series is a metric name plus its labels: the data point's attributes
//! and the resource attributes that set it apart from the agent's host
//! (a pod's `k8s.*`). The host's own resource attributes are the same for
//! every series and would only repeat `host.name` everywhere, so they stay
//! out, as in node_exporter's output.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::{Metric, MetricValue, Resource};

/// How many update intervals of its own a series may miss before it
/// expires, when that is longer than `expire_secs` (a check that runs
/// hourly keeps its value for three hours).
const MISSED_UPDATES: u32 = 3;

/// Identifies a series: OpenTelemetry name and attributes, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The metric name as received.
    pub name: Cow<'static, str>,
    /// Attributes as strings, sorted by key.
    pub labels: Vec<(Cow<'static, str>, String)>,
}

/// The latest point of a series.
#[derive(Debug, Clone)]
pub struct Stored {
    /// UCUM unit.
    pub unit: Cow<'static, str>,
    /// Description.
    pub description: Cow<'static, str>,
    /// The value.
    pub value: MetricValue,
    /// When the point was observed, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    updated: Instant,
    interval: Option<Duration>,
}

/// Every series the sink holds.
#[derive(Debug)]
pub struct Store {
    series: HashMap<SeriesKey, Stored>,
    host: Arc<Resource>,
    expire: Duration,
}

// === impl SeriesKey ===

impl SeriesKey {
    /// The value of attribute `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

// === impl Stored ===

impl Stored {
    fn is_live(&self, expire: Duration, now: Instant) -> bool {
        let own = self.interval.map_or(Duration::ZERO, |i| i * MISSED_UPDATES);
        now.saturating_duration_since(self.updated) <= expire.max(own)
    }
}

// === impl Store ===

impl Store {
    /// An empty store; `host`'s resource attributes are not labels, and a
    /// series expires `expire` after its last update at the earliest.
    pub fn new(host: Arc<Resource>, expire: Duration) -> Self {
        Store {
            series: HashMap::new(),
            host,
            expire,
        }
    }

    /// Store `metric` as the latest value of its series.
    pub fn insert(&mut self, metric: &Metric, now: Instant) {
        let key = self.key(metric);
        let previous = self.series.get(&key);
        let interval = previous.map(|p| now.saturating_duration_since(p.updated));
        let stored = Stored {
            unit: metric.unit.clone(),
            description: metric.description.clone(),
            value: metric.value.clone(),
            time_unix_nano: metric.time_unix_nano,
            updated: now,
            interval: interval.or(previous.and_then(|p| p.interval)),
        };
        self.series.insert(key, stored);
    }

    /// Drop the series that missed their updates; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.series.len();
        let expire = self.expire;
        self.series.retain(|_, stored| stored.is_live(expire, now));
        before - self.series.len()
    }

    /// Every series still live at `now`, in no particular order.
    pub fn live(&self, now: Instant) -> impl Iterator<Item = (&SeriesKey, &Stored)> {
        let expire = self.expire;
        self.series
            .iter()
            .filter(move |(_, stored)| stored.is_live(expire, now))
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Every series, in no particular order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &Stored)> {
        self.series.iter()
    }

    fn key(&self, metric: &Metric) -> SeriesKey {
        let mut labels: Vec<(Cow<'static, str>, String)> = metric
            .attributes
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_owned()), v.to_string()))
            .collect();
        if !Arc::ptr_eq(&metric.resource, &self.host) {
            for (k, v) in metric.resource.attributes.iter() {
                let same_as_host = self.host.attributes.get(k) == Some(v);
                if !same_as_host && labels.iter().all(|(key, _)| key != k) {
                    labels.push((Cow::Owned(k.to_owned()), v.to_string()));
                }
            }
        }
        labels.sort();
        SeriesKey {
            name: metric.name.clone(),
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Attributes;

    fn host() -> Arc<Resource> {
        Arc::new(Resource::new(
            Attributes::new()
                .with("host.name", "node-1")
                .with("service.name", "neurallog-agent"),
        ))
    }

    #[test]
    fn latest_value_wins_and_pod_attributes_become_labels() {
        let host = host();
        let mut store = Store::new(Arc::clone(&host), Duration::from_secs(60));
        let now = Instant::now();
        store.insert(&Metric::gauge("a.b", "1", 1.0, Arc::clone(&host)), now);
        store.insert(&Metric::gauge("a.b", "1", 2.0, Arc::clone(&host)), now);
        let mut pod = host.attributes.clone();
        pod.insert("k8s.pod.name", "web-1");
        let pod = Arc::new(Resource::new(pod));
        store.insert(
            &Metric::gauge("a.b", "1", 3.0, pod).with_attribute("state", "x"),
            now,
        );
        assert_eq!(store.len(), 2);
        let mut series: Vec<(&SeriesKey, &Stored)> = store.iter().collect();
        series.sort_by(|a, b| a.0.cmp(b.0));
        assert!(series[0].0.labels.is_empty());
        assert_eq!(series[0].1.value, MetricValue::Gauge(2.0));
        assert_eq!(series[1].0.label("k8s.pod.name"), Some("web-1"));
        assert_eq!(series[1].0.label("state"), Some("x"));
        assert_eq!(series[1].0.label("host.name"), None);
    }

    #[test]
    fn series_expire_after_the_longer_of_expire_secs_and_three_own_intervals() {
        let host = host();
        let mut store = Store::new(Arc::clone(&host), Duration::from_secs(10));
        let t0 = Instant::now();
        let fast = Metric::gauge("fast.one", "1", 1.0, Arc::clone(&host));
        let slow = Metric::gauge("slow.one", "1", 1.0, Arc::clone(&host));
        store.insert(&slow, t0);
        store.insert(&fast, t0 + Duration::from_secs(95));
        store.insert(&slow, t0 + Duration::from_secs(100));
        store.insert(&fast, t0 + Duration::from_secs(100));
        assert_eq!(store.expire(t0 + Duration::from_secs(105)), 0);
        // 20 s after the last update: past both expire_secs and three of
        // the fast series' 5 s intervals, within three of the slow one's
        // 100 s.
        assert_eq!(store.expire(t0 + Duration::from_secs(120)), 1);
        assert_eq!(
            store.iter().next().map(|(k, _)| k.name.as_ref()),
            Some("slow.one")
        );
        // A series seen once expires after expire_secs.
        let once = Metric::gauge("once.only", "1", 1.0, host);
        store.insert(&once, t0 + Duration::from_secs(120));
        assert_eq!(store.expire(t0 + Duration::from_secs(131)), 1);
        assert_eq!(store.expire(t0 + Duration::from_secs(401)), 1);
        assert_eq!(store.len(), 0);
    }
}
