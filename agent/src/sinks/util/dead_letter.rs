//! The dead-letter file: events a receiver refused for good (a status the
//! protocol does not retry, other than 401 and 403, which hold the data;
//! see [`super::service`]), as JSON lines, so an operator can see and replay
//! them. Each line wraps the event (in the `console` sink's JSON form) with
//! why it was refused:
//!
//! ```json
//! {"time":"…","sink":"ingest","status":400,"response":"…","event":{"kind":"log",…}}
//! ```
//!
//! The file is capped: past half of `max_bytes` it is renamed to `<path>.1`
//! (replacing an older one) and a new file is started, so the two together
//! stay under `max_bytes`. The dead letters of the replaced file are gone:
//! they are counted as dropped (`reason="dead_letter_rotated"`).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath};
use crate::event::Event;
use crate::sinks::encoding::json::JsonEvent;
use crate::time::format_rfc3339_nanos;

/// Where refused events go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// The JSON-lines file. Defaults to
    /// `<data_dir>/dead_letter/<sink name>.jsonl`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Size cap of the file and its one rotated predecessor together, in
    /// bytes. Events that do not fit are counted in
    /// `neurallog_agent_sink_dropped_events_total{reason="dead_letter_full"}`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
}

/// An open dead-letter file.
#[derive(Debug)]
pub struct DeadLetter {
    path: PathBuf,
    sink: String,
    max_file_bytes: u64,
    file: Option<File>,
    size: u64,
    line: Vec<u8>,
}

/// What writing dead letters came to.
#[derive(Debug, Default)]
pub struct Written {
    /// Events written.
    pub events: usize,
    /// Events whose line alone is larger than the file may grow.
    pub dropped: usize,
    /// Events that could not be written (the file or its directory could
    /// not be created, renamed or written), with the first error.
    pub failed: usize,
    /// Why the first of the `failed` failed.
    pub error: Option<std::io::Error>,
    /// Dead letters written earlier, deleted with the older file that a
    /// rotation replaced.
    pub rotated_away: usize,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    sink: &'a str,
    status: u16,
    response: &'a str,
    event: JsonEvent<'a>,
}

// === impl DeadLetterConfig ===

impl DeadLetterConfig {
    /// Check the settings (no I/O).
    pub fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.max_bytes < 64 * 1024 {
            errors.push(
                path.field("max_bytes")
                    .error("must be at least 65536 (64 KiB)"),
            );
        }
        if self.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            errors.push(
                path.field("path")
                    .error("must not be empty: expected a file path"),
            );
        }
    }

    /// The file for sink `sink` under `data_dir`.
    pub fn resolve(&self, data_dir: &Path, sink: &str) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| data_dir.join("dead_letter").join(format!("{sink}.jsonl")))
    }
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        DeadLetterConfig {
            path: None,
            max_bytes: default_max_bytes(),
        }
    }
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}

// === impl DeadLetter ===

impl DeadLetter {
    /// A dead-letter file at `path`, opened on first use.
    pub fn new(path: PathBuf, sink: &str, max_bytes: u64) -> Self {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        DeadLetter {
            path,
            sink: sink.to_owned(),
            max_file_bytes: max_bytes / 2,
            file: None,
            size,
            line: Vec::new(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one line per event.
    pub fn write<'a>(
        &mut self,
        status: u16,
        response: &str,
        events: impl Iterator<Item = &'a Event>,
    ) -> Written {
        let mut written = Written::default();
        let time = format_rfc3339_nanos(crate::event::now_unix_nanos());
        for event in events {
            self.line.clear();
            let line = Line {
                time: time.clone(),
                sink: &self.sink,
                status,
                response,
                event: JsonEvent(event),
            };
            if let Err(error) = serde_json::to_writer(&mut self.line, &line) {
                written.fail(error.into());
                continue;
            }
            self.line.push(b'\n');
            match self.append(&mut written.rotated_away) {
                Ok(true) => written.events += 1,
                Ok(false) => written.dropped += 1,
                Err(error) => {
                    // Opened again for the next line: the directory or
                    // the file may be back by then.
                    self.file = None;
                    written.fail(error);
                }
            }
        }
        if let Some(file) = self.file.as_mut() {
            let _ = file.flush();
        }
        written
    }

    /// Append the current line; `Ok(false)` when it can never fit. The
    /// dead letters a rotation deletes are added to `rotated_away`.
    fn append(&mut self, rotated_away: &mut usize) -> std::io::Result<bool> {
        let len = self.line.len() as u64;
        if len > self.max_file_bytes {
            return Ok(false);
        }
        if self.size + len > self.max_file_bytes {
            self.file = None;
            let mut rotated = self.path.as_os_str().to_owned();
            rotated.push(".1");
            let rotated = PathBuf::from(rotated);
            *rotated_away += count_lines(&rotated);
            std::fs::rename(&self.path, rotated)?;
            self.size = 0;
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        if let Some(file) = self.file.as_mut() {
            if let Err(error) = file.write_all(&self.line) {
                // A line torn by a full disk is cut off, so that the next
                // one starts a line of its own.
                let _ = file.set_len(self.size);
                return Err(error);
            }
            self.size += len;
        }
        Ok(true)
    }
}

// === impl Written ===

impl Written {
    fn fail(&mut self, error: std::io::Error) {
        self.failed += 1;
        self.error.get_or_insert(error);
    }
}

/// The lines of the file at `path` (0 if there is none).
fn count_lines(path: &Path) -> usize {
    use std::io::Read as _;
    let Ok(mut file) = File::open(path) else {
        return 0;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = 0;
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Attributes, LogRecord, Resource};

    fn log(body: &str) -> Event {
        Event::Log(LogRecord::new(
            body.to_owned(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        ))
    }

    #[test]
    fn writes_json_lines_and_rotates_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dl").join("sink.jsonl");
        let mut dead = DeadLetter::new(path.clone(), "ingest", 4096);
        let events: Vec<Event> = (0..20).map(|i| log(&format!("line {i}"))).collect();
        let written = dead.write(400, "bad \"payload\"", events.iter());
        assert_eq!(written.events, 20);
        assert_eq!(written.dropped, 0);
        let current = std::fs::read_to_string(&path).unwrap();
        let rotated = std::fs::read_to_string(dir.path().join("dl/sink.jsonl.1")).unwrap();
        assert!(current.len() as u64 <= 2048 && rotated.len() as u64 <= 2048);
        // Every dead letter is in one of the two files, or counted as
        // deleted by a rotation.
        assert!(written.rotated_away > 0, "20 lines rotate more than once");
        assert_eq!(
            current.lines().count() + rotated.lines().count() + written.rotated_away,
            20
        );
        let last: serde_json::Value =
            serde_json::from_str(current.lines().last().unwrap()).unwrap();
        assert_eq!(last["sink"], "ingest");
        assert_eq!(last["status"], 400);
        assert_eq!(last["response"], "bad \"payload\"");
        assert_eq!(last["event"]["body"], "line 19");

        let huge = log(&"x".repeat(5000));
        let written = dead.write(400, "", std::iter::once(&huge));
        assert_eq!(
            (
                written.events,
                written.dropped,
                written.failed,
                written.rotated_away
            ),
            (0, 1, 0, 0)
        );
        assert!(written.error.is_none());
    }

    #[test]
    fn a_file_that_cannot_be_written_is_told_apart_from_a_full_one() {
        let dir = tempfile::tempdir().unwrap();
        // Its directory is a file: nothing can be created under it.
        let blocker = dir.path().join("dl");
        std::fs::write(&blocker, b"").unwrap();
        let mut dead = DeadLetter::new(blocker.join("sink.jsonl"), "ingest", 1 << 20);
        let events: Vec<Event> = (0..3).map(|i| log(&format!("line {i}"))).collect();
        let written = dead.write(400, "", events.iter());
        assert_eq!((written.events, written.dropped, written.failed), (0, 0, 3));
        assert!(written.error.is_some());
        // A full disk: every write fails with ENOSPC.
        let mut dead = DeadLetter::new(PathBuf::from("/dev/full"), "ingest", 1 << 20);
        let written = dead.write(400, "", events.iter());
        assert_eq!((written.events, written.dropped, written.failed), (0, 0, 3));
        assert_eq!(
            written.error.map(|e| e.raw_os_error()),
            Some(Some(rustix::io::Errno::NOSPC.raw_os_error()))
        );
    }
}
