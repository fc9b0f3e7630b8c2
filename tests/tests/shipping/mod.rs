//! Shipping: the real binary's `otlp_http` and `prometheus_remote_write`
//! sinks against a scriptable receiver, the `opentelemetry-proto` Python
//! decoder, a real Prometheus, and real TLS.

mod auth;
pub(crate) mod decode;
mod faults;
mod prometheus;
mod queue;
mod reload;
mod tls;

use std::path::Path;

use crate::support::agent::Agent;

/// `n` varied lines of about 200 bytes, numbered so that losses and
/// duplicates show.
pub fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(6);
            let cut = 120 + (i * 7919) % 60;
            format!(
                "{prefix} {i:07} level=info msg=\"request served\" path=/api/v{} {}",
                i % 5,
                &filler[..cut]
            )
        })
        .collect()
}

/// Append `lines` to `path`.
pub fn append(path: &Path, lines: &[String]) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file");
    let mut text = lines.join("\n");
    text.push('\n');
    file.write_all(text.as_bytes()).expect("write log file");
}

/// The rendered series `metric{labels}` of the sink `ingest` (type
/// `kind`) with `extra` labels, as `/metrics` shows it (labels sorted).
pub fn sink_series(metric: &str, kind: &str, extra: &[(&str, &str)]) -> String {
    let mut labels = vec![
        ("component_id", "ingest"),
        ("component_kind", "sink"),
        ("component_type", kind),
    ];
    labels.extend_from_slice(extra);
    labels.sort();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{metric}{{{}}}", labels.join(","))
}

/// The value of a sink series, 0 when absent.
pub fn sink_metric(agent: &Agent, metric: &str, extra: &[(&str, &str)]) -> f64 {
    agent
        .metric(&sink_series(metric, "otlp_http", extra))
        .unwrap_or(0.0)
}

/// Assert that `got` holds exactly the lines of `want`, each once, in any
/// order; report the first differences, not the whole lists.
pub fn assert_same_lines(mut got: Vec<String>, mut want: Vec<String>) {
    got.sort();
    want.sort();
    let dupes: Vec<&String> = got
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .take(3)
        .collect();
    assert!(dupes.is_empty(), "duplicates received, e.g. {dupes:?}");
    let missing: Vec<&String> = want
        .iter()
        .filter(|l| got.binary_search(l).is_err())
        .take(3)
        .collect();
    let extra: Vec<&String> = got
        .iter()
        .filter(|l| want.binary_search(l).is_err())
        .take(3)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && got.len() == want.len(),
        "received {} lines, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        got.len(),
        want.len()
    );
}
