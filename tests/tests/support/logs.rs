//! Writing sequence-numbered log lines, rotating them like logrotate and
//! kubelet do, and checking what arrived.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A log file written by an application that appends (`O_APPEND`).
pub struct SeqLog {
    /// Where the application writes.
    pub path: PathBuf,
    file: File,
    /// The next sequence number.
    pub next: u64,
    rotations: u32,
}

impl SeqLog {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> SeqLog {
        SeqLog {
            path: path.to_owned(),
            file: open_append(path, true),
            next: 0,
            rotations: 0,
        }
    }

    /// The line with sequence number `seq`: 199 bytes (200 with its
    /// newline), varied.
    pub fn line(seq: u64) -> String {
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let mut line = format!("seq={seq:010} level=info msg=\"request handled\" path=/api/v1/");
        let mut n = seq.wrapping_mul(2_654_435_761);
        while line.len() < 190 {
            line.push_str(words[(n % 8) as usize]);
            line.push(' ');
            n /= 8;
            if n == 0 {
                n = seq + 17;
            }
        }
        line.truncate(199);
        while line.len() < 199 {
            line.push('.');
        }
        line
    }

    /// Append `count` lines at once.
    pub fn write(&mut self, count: u64) {
        let mut buf = String::with_capacity(count as usize * 200);
        for _ in 0..count {
            buf.push_str(&Self::line(self.next));
            buf.push('\n');
            self.next += 1;
        }
        self.file
            .write_all(buf.as_bytes())
            .expect("write log lines");
    }

    /// Append `count` lines at `per_sec` lines per second.
    pub fn write_at_rate(&mut self, count: u64, per_sec: u64) {
        let start = Instant::now();
        let mut written = 0;
        while written < count {
            let due = (start.elapsed().as_secs_f64() * per_sec as f64) as u64 + per_sec / 100;
            let n = due.min(count).saturating_sub(written);
            if n > 0 {
                self.write(n);
                written += n;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Rotate by renaming to `<path>.<n>` and creating a new file.
    pub fn rotate_rename(&mut self) -> PathBuf {
        self.rotations += 1;
        let rotated = numbered(&self.path, self.rotations);
        std::fs::rename(&self.path, &rotated).expect("rename");
        self.file = open_append(&self.path, true);
        rotated
    }

    /// Rotate like logrotate's `copytruncate`: copy to `<path>.<n>`, then
    /// truncate the original, which the application keeps appending to.
    pub fn rotate_copytruncate(&mut self) -> PathBuf {
        self.rotations += 1;
        let rotated = numbered(&self.path, self.rotations);
        std::fs::copy(&self.path, &rotated).expect("copy");
        self.file.set_len(0).expect("truncate");
        rotated
    }

    /// Truncate in place.
    pub fn truncate(&mut self) {
        self.file.set_len(0).expect("truncate");
    }
}

fn open_append(path: &Path, truncate: bool) -> File {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    if truncate {
        let _ = File::create(path);
    }
    options.open(path).expect("open log for append")
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Sequence numbers found in the `body` of JSON lines files, with how often
/// each was seen.
pub fn seqs_in(paths: &[PathBuf]) -> BTreeMap<u64, u32> {
    let mut seen = BTreeMap::new();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(body) = event["body"].as_str() else {
                continue;
            };
            if let Some(seq) = body
                .strip_prefix("seq=")
                .and_then(|r| r.get(..10))
                .and_then(|d| d.parse().ok())
            {
                *seen.entry(seq).or_insert(0) += 1;
            }
        }
    }
    seen
}

/// Check that every number in `0..expected` arrived; returns how many
/// arrived more than once.
pub fn assert_complete(seen: &BTreeMap<u64, u32>, expected: u64) -> u64 {
    let missing: Vec<u64> = (0..expected).filter(|s| !seen.contains_key(s)).collect();
    assert!(
        missing.is_empty(),
        "{} of {expected} lines missing, first ones: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let extra: Vec<&u64> = seen.keys().filter(|s| **s >= expected).collect();
    assert!(extra.is_empty(), "unexpected sequence numbers: {extra:?}");
    seen.values().map(|&n| u64::from(n) - 1).sum()
}
