//! The `file` source with the real binary: rotation with kill -9 in the
//! middle, identity, long and broken lines, a sink that is down, lost
//! filesystem events, more files than descriptors, compressed files.

mod compressed;
mod edge_cases;
mod giving_up;
mod open_budget;
mod rotation;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt as _;
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

/// The sequence numbers a restart may send again, read right after a
/// kill -9 (nothing is saved after it): the lines at or after each file's
/// saved checkpoint offset, and every line of a file the checkpoints do
/// not know. The README promises no more duplicates than these.
pub fn unsaved_after_kill(dir: &Path) -> BTreeSet<u64> {
    let path = dir.join("data/checkpoints/app.json");
    let saved: serde_json::Value = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(serde_json::json!({ "files": [] }));
    let offset_of = |dev: u64, ino: u64| {
        saved["files"].as_array()?.iter().find_map(|entry| {
            (entry["dev"].as_u64() == Some(dev) && entry["ino"].as_u64() == Some(ino))
                .then(|| entry["offset"].as_u64())
                .flatten()
        })
    };
    let mut unsaved = BTreeSet::new();
    for entry in std::fs::read_dir(dir.join("logs")).expect("logs directory") {
        let path = entry.expect("directory entry").path();
        let meta = std::fs::metadata(&path).expect("log file metadata");
        let from = offset_of(meta.dev(), meta.ino()).unwrap_or(0);
        let bytes = std::fs::read(&path).expect("read log file");
        let tail = bytes.get(from as usize..).unwrap_or_default();
        unsaved.extend(tail.split(|&b| b == b'\n').filter_map(|line| {
            std::str::from_utf8(line.get(4..14)?)
                .ok()?
                .parse::<u64>()
                .ok()
        }));
    }
    unsaved
}

/// Every sequence number that arrived more than once lies in `allowed`.
pub fn assert_duplicates_within(seen: &BTreeMap<u64, u32>, allowed: &BTreeSet<u64>) {
    let outside: Vec<u64> = seen
        .iter()
        .filter(|&(seq, &n)| n > 1 && !allowed.contains(seq))
        .map(|(&seq, _)| seq)
        .collect();
    assert!(
        outside.is_empty(),
        "{} lines arrived twice though they lay before the checkpoint saved before the kill, first ones: {:?}",
        outside.len(),
        &outside[..outside.len().min(20)]
    );
}
