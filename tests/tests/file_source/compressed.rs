//! Compressed files: closed once read, looked at again when they change.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use super::config;
use super::open_budget::{open_paths, wait_for_sink};
use crate::support::agent::Agent;
use crate::support::wait_for;

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

/// Compressed files stayed open once read (filling `max_open_files`), and
/// one seen while still empty was read as text.
#[test]
fn compressed_files_are_closed_once_read_and_one_seen_empty_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut expected = Vec::new();
    for name in ["a", "b", "c"] {
        let lines = lines(name, 5);
        std::fs::write(logs.join(format!("{name}.log.gz")), gzip(&lines)).unwrap();
        expected.extend(lines);
    }
    let plain = lines("d", 2);
    std::fs::write(logs.join("d.log"), format!("{}\n", plain.join("\n"))).unwrap();
    expected.extend(plain);
    let empty = logs.join("e.log.gz");
    std::fs::write(&empty, b"").unwrap();
    let yaml = config(
        "*.log*",
        "    read_gzip: true\n    max_open_files: 2\n    scan_interval_ms: 300",
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    // Scans see e.log.gz empty; then it is written, as logrotate does.
    std::thread::sleep(Duration::from_millis(1000));
    let late = lines("e", 5);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&empty)
        .unwrap()
        .write_all(&gzip(&late))
        .unwrap();
    expected.extend(late);
    wait_for_sink(agent.dir.path(), &expected, "every file");
    wait_for(
        "the compressed files to be closed",
        Duration::from_secs(10),
        || (!open_paths(&agent).iter().any(|p| p.ends_with(".gz"))).then_some(()),
    );
    // Closed, they are not read again by later scans.
    std::thread::sleep(Duration::from_millis(1000));
    wait_for_sink(agent.dir.path(), &expected, "after more scans");
}
