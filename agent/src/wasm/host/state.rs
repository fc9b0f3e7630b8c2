//! `neurallog:plugin/state`: a small key-value store per plugin, kept
//! across runs and agent restarts.
//!
//! The store lives in memory and is written through to an append-only log,
//! `<state_dir>/<plugin>.state.jsonl`: one JSON line per `set` or `delete`,
//! appended before the plugin is told it succeeded, so a change survives a
//! crash of the agent (and, once flushed shortly after, of the machine). A
//! `set` writes its own record, not the whole store: writes grow with what
//! a plugin changes, not with what it keeps. When the log is more than twice
//! what its live entries take (and past [`COMPACT_FLOOR_BYTES`]), it is
//! rewritten with only those entries, atomically; each compaction follows at
//! least as many appended bytes as it writes, so it at most doubles them.
//!
//! The store's size (key bytes plus value bytes) is capped per plugin, and
//! what one run may write (keys plus values of its `set`s and `delete`s) is
//! capped per run: past it the run stops with `state_write_budget_exceeded`.
//! On disk a run costs at most about four times its budget: values are
//! hex-encoded in the log, and compaction writes at most what was appended.
//!
//! In a plugin worker (see `wasm::worker`) the store is a copy: each change
//! is forwarded to the agent, which appends it to its log and answers
//! before the plugin is told it succeeded; the worker never touches the
//! state directory.
//!
//! A record cut short by a crash at the end of the log is dropped when the
//! log is read. A log that cannot be read otherwise is moved aside to
//! `<plugin>.state.jsonl.corrupt` and the plugin starts empty rather than
//! failing to load. A store in the previous format (`<plugin>.json`, the
//! whole store as one JSON document) is read once and carried over.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::HostState;
use crate::wasm::bindings::v0_1::neurallog::plugin::state::{Host, StateError};
use crate::wasm::fsutil;

/// Version of the previous, whole-store file format.
const LEGACY_FORMAT_VERSION: u32 = 1;

/// Smallest log worth compacting, in bytes.
const COMPACT_FLOOR_BYTES: u64 = 64 << 10;

/// Bytes a record takes beyond its key and hex value (the JSON around them).
const RECORD_OVERHEAD_BYTES: u64 = 32;

/// A plugin's state could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open plugin state {path}")]
pub struct StateOpenError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// One line of the log.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    /// `key` now holds `value` (hex).
    Set { key: String, value: String },
    /// `key` is gone.
    Delete { key: String },
}

/// The previous on-disk form: the whole store, values hex-encoded.
#[derive(Serialize, Deserialize)]
struct LegacyFile {
    version: u32,
    entries: BTreeMap<String, String>,
}

/// The entries and what they take.
#[derive(Debug, Default)]
struct Entries {
    map: BTreeMap<String, Vec<u8>>,
    /// Key plus value bytes of all entries: what the cap is about.
    used: u64,
}

/// Where a worker's state changes go: the agent, which persists them.
pub(crate) trait ForwardState: Send + Sync {
    /// Persists `key` set to `value` (`None`: deleted); an error is the
    /// message the plugin sees.
    fn forward(
        &self,
        key: String,
        value: Option<Vec<u8>>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// One plugin's persisted key-value state, shared by all its runs (and by
/// a reloaded copy of the plugin while the old one is still around).
pub(crate) struct PluginState {
    path: PathBuf,
    /// In a worker: where changes are persisted instead of the log.
    forward: Option<Box<dyn ForwardState>>,
    cap: AtomicU64,
    entries: Mutex<Entries>,
    /// Serializes writers so records land in the order changes were made;
    /// holds the log's length.
    writer: tokio::sync::Mutex<u64>,
    /// A flush to disk is scheduled (writes within a run share one).
    sync_scheduled: Arc<AtomicBool>,
}

/// How long after a write its flush to disk waits, so that the writes of
/// one run share one fsync.
const SYNC_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

// === impl PluginState ===

impl PluginState {
    /// Opens (or starts) the state of plugin `name` in `dir`.
    pub(crate) fn open(dir: &Path, name: &str, cap: u64) -> Result<Self, StateOpenError> {
        let path = dir.join(format!("{name}.state.jsonl"));
        let fail = |source| StateOpenError {
            path: path.clone(),
            source,
        };
        fsutil::create_private_dir(dir).map_err(fail)?;
        let legacy = dir.join(format!("{name}.json"));
        let (map, log_len) = match std::fs::read(&path) {
            Ok(bytes) => match replay(&bytes) {
                Some(map) => (map, bytes.len() as u64),
                None => {
                    set_aside(name, &path).map_err(fail)?;
                    (BTreeMap::new(), 0)
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let map = read_legacy(name, &legacy).map_err(fail)?;
                // Carried over as a fresh log, then the old file goes.
                let len = match map.is_empty() {
                    true => 0,
                    false => compact(&path, &map).map_err(fail)?,
                };
                match std::fs::remove_file(&legacy) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(fail(error));
                    }
                    _ => {}
                }
                (map, len)
            }
            Err(error) => return Err(fail(error)),
        };
        let used = map.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        Ok(Self {
            path,
            forward: None,
            cap: AtomicU64::new(cap),
            entries: Mutex::new(Entries { map, used }),
            writer: tokio::sync::Mutex::new(log_len),
            sync_scheduled: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A worker's copy of a plugin's state: `map` as the agent has it, every
    /// change forwarded to `forward` before it counts.
    pub(crate) fn forwarded(
        map: BTreeMap<String, Vec<u8>>,
        cap: u64,
        forward: Box<dyn ForwardState>,
    ) -> Self {
        let used = map.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        Self {
            path: PathBuf::from("(the agent's copy)"),
            forward: Some(forward),
            cap: AtomicU64::new(cap),
            entries: Mutex::new(Entries { map, used }),
            writer: tokio::sync::Mutex::new(0),
            sync_scheduled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Every entry, for a worker's copy.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.entries().map.clone()
    }

    /// Applies a change a worker forwarded, as the plugin's own `set`
    /// (`Some`) or `delete` (`None`) would.
    pub(crate) async fn apply(&self, key: String, value: Option<Vec<u8>>) -> Result<(), String> {
        self.update(key, value).await.map_err(|error| match error {
            StateError::QuotaExceeded(cap) => format!("the state is over its cap of {cap} bytes"),
            StateError::Failed(message) => message,
        })
    }

    /// Changes the size cap (a reload with new limits); existing entries
    /// stay even if they are over it.
    pub(crate) fn set_cap(&self, cap: u64) {
        self.cap.store(cap, Ordering::Relaxed);
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Every update below is a single map operation and its size: never
        // half-done.
        crate::sync::lock(&self.entries)
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries().map.get(key).cloned()
    }

    fn keys(&self) -> Vec<String> {
        self.entries().map.keys().cloned().collect()
    }

    /// Sets (`Some`) or deletes (`None`) `key` and appends the change to the
    /// log; undoes the change if the write fails.
    async fn update(&self, key: String, value: Option<Vec<u8>>) -> Result<(), StateError> {
        let mut log_len = self.writer.lock().await;
        let cap = self.cap.load(Ordering::Relaxed);
        let record = match &value {
            Some(value) => Record::Set {
                key: key.clone(),
                value: hex(value),
            },
            None => Record::Delete { key: key.clone() },
        };
        let previous = {
            let mut entries = self.entries();
            let old = entries
                .map
                .get(&key)
                .map(|v| entry_bytes(&key, v))
                .unwrap_or(0);
            if let Some(value) = &value
                && entries.used - old + entry_bytes(&key, value) > cap
            {
                return Err(StateError::QuotaExceeded(cap));
            }
            let previous = match value {
                Some(value) => {
                    entries.used = entries.used - old + entry_bytes(&key, &value);
                    entries.map.insert(key.clone(), value)
                }
                None => {
                    entries.used -= old;
                    entries.map.remove(&key)
                }
            };
            if record_is_noop(&record, &previous) {
                return Ok(());
            }
            previous
        };
        let written = match &self.forward {
            Some(forward) => {
                let value = self.get(&key);
                forward
                    .forward(key.clone(), value)
                    .await
                    .map(|()| *log_len)
                    .map_err(std::io::Error::other)
            }
            None => self.append(&record, *log_len).await,
        };
        match written {
            Ok(len) => *log_len = len,
            Err(error) => {
                let mut entries = self.entries();
                let Entries { map, used } = &mut *entries;
                if let Some(current) = map.get(&key) {
                    *used -= entry_bytes(&key, current);
                }
                match previous {
                    Some(previous) => {
                        *used += entry_bytes(&key, &previous);
                        map.insert(key, previous);
                    }
                    None => {
                        map.remove(&key);
                    }
                }
                return Err(StateError::Failed(format!(
                    "cannot write {}: {error}",
                    self.path.display()
                )));
            }
        }
        if self.forward.is_none() {
            self.compact_if_worth_it(&mut log_len).await;
            self.schedule_sync();
        }
        Ok(())
    }

    /// Appends `record` to a log of `len` bytes; returns its new length. A
    /// failed append is cut off again, so no torn record stays before the
    /// next one.
    async fn append(&self, record: &Record, len: u64) -> std::io::Result<u64> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)?;
            if let Err(error) = file.write_all(&line) {
                let _ = file.set_len(len);
                return Err(error);
            }
            Ok(len + line.len() as u64)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Rewrites the log with only the live entries once it is more than
    /// twice their size. A failure leaves the (longer, valid) log as it is.
    async fn compact_if_worth_it(&self, log_len: &mut u64) {
        let (live_bytes, map) = {
            let entries = self.entries();
            let live: u64 = entries
                .map
                .iter()
                .map(|(k, v)| k.len() as u64 + 2 * v.len() as u64 + RECORD_OVERHEAD_BYTES)
                .sum();
            if *log_len <= COMPACT_FLOOR_BYTES.max(live.saturating_mul(2)) {
                return;
            }
            (live, entries.map.clone())
        };
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || compact(&path, &map)).await {
            Ok(Ok(len)) => *log_len = len,
            Ok(Err(error)) => {
                tracing::warn!(%error, path = %self.path.display(), live_bytes, "Cannot compact plugin state; the log keeps growing until it can.");
            }
            Err(error) => tracing::warn!(%error, "Plugin state compaction panicked."),
        }
    }
}

impl fmt::Debug for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginState")
            .field("path", &self.path)
            .field("forwarded", &self.forward.is_some())
            .finish_non_exhaustive()
    }
}

// === impl PluginState (durability) ===

impl PluginState {
    /// Flush the state file to disk soon, once for all writes until then.
    fn schedule_sync(&self) {
        if self.sync_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let flag = Arc::clone(&self.sync_scheduled);
        let path = self.path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SYNC_DELAY).await;
            flag.store(false, Ordering::Release);
            let synced = tokio::task::spawn_blocking(move || {
                let result = fsutil::sync_file(&path);
                (path, result)
            })
            .await;
            if let Ok((path, Err(error))) = synced {
                tracing::warn!(%error, path = %path.display(), "Cannot flush plugin state to disk.");
            }
        });
    }
}

/// What an entry counts toward the cap.
fn entry_bytes(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

/// A delete of a key that was not there changes nothing.
fn record_is_noop(record: &Record, previous: &Option<Vec<u8>>) -> bool {
    matches!(record, Record::Delete { .. }) && previous.is_none()
}

/// Writes `map` as a fresh log replacing the one at `path`; returns its
/// length.
fn compact(path: &Path, map: &BTreeMap<String, Vec<u8>>) -> std::io::Result<u64> {
    let mut bytes = Vec::new();
    for (key, value) in map {
        let record = Record::Set {
            key: key.clone(),
            value: hex(value),
        };
        serde_json::to_writer(&mut bytes, &record)?;
        bytes.push(b'\n');
    }
    fsutil::write_atomically(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// The entries a log leads to, or `None` if it is not a log. A last line
/// without its newline is a record cut short by a crash: dropped.
fn replay(bytes: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    let mut map = BTreeMap::new();
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice(line).ok()? {
            Record::Set { key, value } => {
                map.insert(key, unhex(&value)?);
            }
            Record::Delete { key } => {
                map.remove(&key);
            }
        }
    }
    Some(map)
}

/// The entries of a store in the previous format at `path`, if there is
/// one (an unreadable one is set aside).
fn read_legacy(name: &str, path: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => return Err(error),
    };
    let decoded = serde_json::from_slice::<LegacyFile>(&bytes)
        .ok()
        .filter(|file| file.version == LEGACY_FORMAT_VERSION)
        .and_then(|file| {
            file.entries
                .into_iter()
                .map(|(k, v)| unhex(&v).map(|v| (k, v)))
                .collect()
        });
    match decoded {
        Some(map) => Ok(map),
        None => {
            set_aside(name, path)?;
            Ok(BTreeMap::new())
        }
    }
}

/// Moves an unreadable state file to `<path>.corrupt`.
fn set_aside(name: &str, path: &Path) -> std::io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    tracing::warn!(plugin = name, path = %path.display(), aside = %aside.display(),
        "Plugin state is unreadable; starting empty.");
    std::fs::rename(path, &aside)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.budget.charge_host_call()?;
        Ok(self.plugin.state.get(&key))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), StateError>> {
        self.budget.charge_host_call()?;
        self.budget.charge_state_write(entry_bytes(&key, &value))?;
        Ok(self.plugin.state.update(key, Some(value)).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.budget.charge_host_call()?;
        self.budget.charge_state_write(key.len() as u64)?;
        if let Err(error) = self.plugin.state.update(key, None).await {
            tracing::warn!(
                plugin = &*self.plugin.name,
                ?error,
                "Failed to persist a state delete."
            );
        }
        Ok(())
    }

    fn keys(&mut self) -> wasmtime::Result<Vec<String>> {
        self.budget.charge_host_call()?;
        Ok(self.plugin.state.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn survives_reopening_and_respects_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let state = PluginState::open(dir.path(), "disk", 16).unwrap();
        state.update("a".into(), Some(vec![1, 2, 3])).await.unwrap();
        state.update("b".into(), Some(vec![0xff; 4])).await.unwrap();
        // 1+3 + 1+4 = 9 bytes used; 1+8 more would be 18 > 16.
        assert!(matches!(
            state.update("c".into(), Some(vec![0; 8])).await,
            Err(StateError::QuotaExceeded(16))
        ));
        // Replacing a value counts the new size, not both.
        state.update("b".into(), Some(vec![9; 10])).await.unwrap();
        state.update("a".into(), None).await.unwrap();
        drop(state);

        let reopened = PluginState::open(dir.path(), "disk", 16).unwrap();
        assert_eq!(reopened.keys(), ["b"]);
        assert_eq!(reopened.get("b"), Some(vec![9; 10]));
    }

    #[tokio::test]
    async fn a_corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("disk.json"), b"{not json").unwrap();
        let state = PluginState::open(dir.path(), "disk", 1024).unwrap();
        assert!(state.keys().is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("disk.json.corrupt")).unwrap(),
            b"{not json"
        );
        drop(state);
        std::fs::write(dir.path().join("disk.state.jsonl"), b"{\"set\":1}\n").unwrap();
        let state = PluginState::open(dir.path(), "disk", 1024).unwrap();
        assert!(state.keys().is_empty());
        assert!(dir.path().join("disk.state.jsonl.corrupt").is_file());
    }

    #[tokio::test]
    async fn a_store_in_the_previous_format_is_carried_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("disk.json"),
            br#"{"version":1,"entries":{"a":"0102","b":"ff"}}"#,
        )
        .unwrap();
        let state = PluginState::open(dir.path(), "disk", 1024).unwrap();
        assert_eq!(state.get("a"), Some(vec![1, 2]));
        assert_eq!(state.get("b"), Some(vec![0xff]));
        assert!(!dir.path().join("disk.json").exists());
        drop(state);
        let reopened = PluginState::open(dir.path(), "disk", 1024).unwrap();
        assert_eq!(reopened.keys(), ["a", "b"]);
    }

    #[tokio::test]
    async fn a_set_appends_its_record_and_the_log_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("disk.state.jsonl");
        let state = PluginState::open(dir.path(), "disk", 64 << 10).unwrap();
        // A 60 KiB store: the old format rewrote all of it on every set.
        state
            .update("big".into(), Some(vec![7; 60 << 10]))
            .await
            .unwrap();
        let after_big = std::fs::metadata(&log).unwrap().len();
        state.update("n".into(), Some(vec![1])).await.unwrap();
        let small = std::fs::metadata(&log).unwrap().len() - after_big;
        assert!(small < 64, "one small set appended {small} bytes");

        // Many sets of one key: the log is compacted, never past twice the
        // live entries (or the floor), and every write is kept.
        let mut written = 0u64;
        for i in 0..4_000u32 {
            let value = i.to_le_bytes().to_vec();
            written += 1 + 2 * 4 + RECORD_OVERHEAD_BYTES;
            state.update("n".into(), Some(value)).await.unwrap();
            let len = std::fs::metadata(&log).unwrap().len();
            assert!(len <= 2 * (after_big + 64) + COMPACT_FLOOR_BYTES, "{len}");
        }
        assert!(written > 2 * COMPACT_FLOOR_BYTES);
        drop(state);
        let reopened = PluginState::open(dir.path(), "disk", 64 << 10).unwrap();
        assert_eq!(reopened.get("n"), Some(3999u32.to_le_bytes().to_vec()));
        assert_eq!(reopened.get("big"), Some(vec![7; 60 << 10]));
    }

    #[test]
    fn a_record_cut_short_at_the_end_is_dropped() {
        let log = b"{\"set\":{\"key\":\"a\",\"value\":\"01\"}}\n{\"delete\":{\"key\":\"a\"}}\n{\"set\":{\"key\":\"b\",\"va";
        let map = replay(log).unwrap();
        assert!(map.is_empty(), "{map:?}");
        let torn_in_the_middle = b"{\"set\":{\"key\"\n{\"delete\":{\"key\":\"a\"}}\n";
        assert_eq!(replay(torn_in_the_middle), None);
    }

    #[tokio::test]
    async fn a_failed_write_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let state = PluginState::open(dir.path(), "disk", 1024).unwrap();
        state.update("kept".into(), Some(vec![1])).await.unwrap();
        // Replace the directory the file goes to with a plain file.
        std::fs::remove_dir_all(dir.path()).unwrap();
        std::fs::write(dir.path(), b"").unwrap();
        let err = state
            .update("lost".into(), Some(vec![2]))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Failed(_)), "{err:?}");
        assert_eq!(state.keys(), ["kept"]);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
