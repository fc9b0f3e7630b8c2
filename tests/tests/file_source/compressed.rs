//! Compressed files: looked at again when they change.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use super::config;
use super::open_budget::wait_for_sink;
use crate::support::agent::Agent;

fn gzip(lines: &[String]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for line in lines {
        writeln!(gz, "{line}").unwrap();
    }
    gz.finish().unwrap()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i:02}")).collect()
}

/// The inode of a file skipped as compressed was remembered for good: a
/// new file that reused it, or the file rewritten in place as text, was
/// never read.
#[test]
fn a_file_skipped_as_compressed_is_read_once_rewritten_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join("app.log");
    std::fs::write(&path, gzip(&lines("compressed", 3))).unwrap();
    let ino = std::fs::metadata(&path).unwrap().ino();
    let yaml = config("app.log", "    scan_interval_ms: 300");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    // Scans see it (and skip it: read_gzip is off).
    std::thread::sleep(Duration::from_millis(1000));
    let text = lines("plain", 2);
    std::fs::write(&path, format!("{}\n", text.join("\n"))).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), ino, "same inode");
    wait_for_sink(agent.dir.path(), &text, "the rewritten file");
}
