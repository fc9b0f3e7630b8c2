//! Shipping: the real binary's `otlp_http` and `prometheus_remote_write`
//! sinks against a scriptable receiver, the `opentelemetry-proto` Python
//! decoder, a real Prometheus, and real TLS.

mod decode;

use std::path::Path;
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::wait_for;

/// `n` varied lines of about 200 bytes, numbered so that losses and
/// duplicates show.
pub fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(6);
            let cut = 120 + (i * 7919) % 60;
            format!("{prefix} {i:07} level=info msg=\"request served\" path=/api/v{} {}", i % 5, &filler[..cut])
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

/// Wait until `agent`'s `/metrics` series `series` reaches `value`.
pub fn wait_metric(agent: &Agent, series: &str, value: f64, timeout: Duration) {
    wait_for(&format!("{series} >= {value}"), timeout, || {
        agent.metric(series).filter(|v| *v >= value).map(|_| ())
    });
}

/// The `component_id` labels of a sink named `name` of `type`.
pub fn sink_labels(name: &str, kind: &str) -> String {
    format!("component_id=\"{name}\",component_kind=\"sink\",component_type=\"{kind}\"")
}

/// Assert that `got` holds exactly the lines of `want`, each once, in any
/// order; report the first differences, not the whole lists.
pub fn assert_same_lines(mut got: Vec<String>, mut want: Vec<String>) {
    got.sort();
    want.sort();
    let dupes: Vec<&String> = got.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).take(3).collect();
    assert!(dupes.is_empty(), "duplicates received, e.g. {dupes:?}");
    let missing: Vec<&String> = want.iter().filter(|l| got.binary_search(l).is_err()).take(3).collect();
    let extra: Vec<&String> = got.iter().filter(|l| want.binary_search(l).is_err()).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && got.len() == want.len(),
        "received {} lines, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        got.len(),
        want.len()
    );
}
