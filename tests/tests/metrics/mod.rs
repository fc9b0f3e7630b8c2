//! Host and pod metrics, the Prometheus exporter and the platform's alert
//! metrics, against Debian's node_exporter and Prometheus and recorded
//! kubelet responses served over real HTTPS.

mod alerts;
mod exposition;
pub mod kubelet;
mod node_exporter;
mod pod_metrics;

use std::collections::HashMap;
use std::path::PathBuf;

/// The platform's alert rules, `tests/fixtures/seed-alerts.yaml` (a copy of
/// the operations manual's rules; see tests/fixtures/SOURCES.md).
pub fn seed_alerts() -> PathBuf {
    crate::support::fixtures().join("seed-alerts.yaml")
}

/// The samples of a text exposition: `name{labels}` → value.
pub fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}
