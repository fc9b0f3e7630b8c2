//! Host and pod metrics, the Prometheus exporter and the platform's alert
//! metrics, against Debian's node_exporter and Prometheus and recorded
//! kubelet responses served over real HTTPS.

mod alerts;
mod exposition;
mod kubelet;
mod node_exporter;
mod pod_metrics;

use std::collections::HashMap;
use std::path::PathBuf;

/// `../shared/seed-alerts.yaml`, the platform's alert rules:
/// `NEURALLOG_SEED_ALERTS`, else beside the fixtures directory, else beside
/// the repository.
pub fn seed_alerts() -> PathBuf {
    if let Some(path) = std::env::var_os("NEURALLOG_SEED_ALERTS") {
        return path.into();
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned();
    let candidates = [
        crate::support::fixtures()
            .parent()
            .map(|p| p.join("seed-alerts.yaml")),
        Some(repo.join("../shared/seed-alerts.yaml")),
        Some(repo.join("tests/seed-alerts.yaml")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("seed-alerts.yaml not found beside the fixtures or in ../shared; set NEURALLOG_SEED_ALERTS")
        })
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
