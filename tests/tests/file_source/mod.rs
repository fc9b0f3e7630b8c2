//! The `file` source with the real binary: rotation with kill -9 in the
//! middle, identity, long and broken lines, a sink that is down, lost
//! filesystem events, more files than descriptors, compressed files.

mod compressed;
mod edge_cases;
mod open_budget;
mod rotation;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::logs::seqs_in;

/// A file source over `{dir}/logs/<include>` into a file sink `{dir}/out.jsonl`.
pub fn config(include: &str, extra: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: [\"{{dir}}/logs/{include}\"]
    checkpoint_interval_ms: 200
{extra}
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    max_bytes: 4294967296
    inputs: [app]
"
    )
}

/// The JSON lines the sink wrote.
pub fn out(dir: &Path) -> Vec<PathBuf> {
    vec![dir.join("out.jsonl")]
}

/// Wait until `expected` distinct sequence numbers arrived.
pub fn wait_for_seqs(dir: &Path, expected: u64, timeout: Duration) {
    let start = std::time::Instant::now();
    loop {
        let seen = seqs_in(&out(dir));
        if seen.len() as u64 >= expected {
            return;
        }
        if start.elapsed() > timeout {
            let missing: Vec<u64> = (0..expected).filter(|s| !seen.contains_key(s)).collect();
            let checkpoints =
                std::fs::read_to_string(dir.join("data/checkpoints/app.json")).unwrap_or_default();
            panic!(
                "timed out waiting for {expected} distinct lines: {} missing, first {:?}, last {:?}\ncheckpoints: {checkpoints}",
                missing.len(),
                missing.first(),
                missing.last()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every JSON record the sink wrote.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
