//! `neurallog:plugin/state`: a small key-value store per plugin, kept
//! across runs and agent restarts.
//!
//! The store lives in memory and is written through to
//! `<state_dir>/<plugin>.json` (replaced atomically) on every change, so a
//! change a plugin was told succeeded survives a crash. Its size (key bytes
//! plus value bytes) is capped per plugin. A state file that cannot be
//! parsed is moved aside to `<plugin>.json.corrupt` and the plugin starts
//! empty rather than failing to load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::HostState;
use crate::wasm::bindings::v0_1::neurallog::plugin::state::{Host, StateError};
use crate::wasm::fsutil;

/// Version of the state file format.
const FORMAT_VERSION: u32 = 1;

/// A plugin's state could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open plugin state {path}: {source}")]
pub struct StateOpenError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// On-disk form: values hex-encoded so the file stays plain JSON.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    entries: BTreeMap<String, String>,
}

/// One plugin's persisted key-value state, shared by all its runs (and by
/// a reloaded copy of the plugin while the old one is still around).
#[derive(Debug)]
pub(crate) struct PluginState {
    path: PathBuf,
    cap: AtomicU64,
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Serializes writers so files land in the order changes were made.
    writer: tokio::sync::Mutex<()>,
}

// === impl PluginState ===

impl PluginState {
    /// Opens (or starts) the state of plugin `name` in `dir`.
    pub(crate) fn open(dir: &Path, name: &str, cap: u64) -> Result<Self, StateOpenError> {
        let path = dir.join(format!("{name}.json"));
        let fail = |source| StateOpenError {
            path: path.clone(),
            source,
        };
        fsutil::create_private_dir(dir).map_err(fail)?;
        let entries = match std::fs::read(&path) {
            Ok(bytes) => match decode(&bytes) {
                Some(entries) => entries,
                None => {
                    let aside = path.with_extension("json.corrupt");
                    tracing::warn!(plugin = name, path = %path.display(), aside = %aside.display(),
                        "Plugin state is unreadable; starting empty.");
                    std::fs::rename(&path, &aside).map_err(fail)?;
                    BTreeMap::new()
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(fail(error)),
        };
        Ok(Self {
            path,
            cap: AtomicU64::new(cap),
            entries: Mutex::new(entries),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// Changes the size cap (a reload with new limits); existing entries
    /// stay even if they are over it.
    pub(crate) fn set_cap(&self, cap: u64) {
        self.cap.store(cap, Ordering::Relaxed);
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // Every update below is a single map operation: never half-done.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries().get(key).cloned()
    }

    fn keys(&self) -> Vec<String> {
        self.entries().keys().cloned().collect()
    }

    /// Sets (`Some`) or deletes (`None`) `key` and persists the result;
    /// undoes the change if the write fails.
    async fn update(&self, key: String, value: Option<Vec<u8>>) -> Result<(), StateError> {
        let _writer = self.writer.lock().await;
        let cap = self.cap.load(Ordering::Relaxed);
        let deleting = value.is_none();
        let (previous, encoded) = {
            let mut entries = self.entries();
            if let Some(value) = &value {
                let others: u64 = entries
                    .iter()
                    .filter(|(k, _)| **k != key)
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum();
                if others + (key.len() + value.len()) as u64 > cap {
                    return Err(StateError::QuotaExceeded(cap));
                }
            }
            let previous = match value {
                Some(value) => entries.insert(key.clone(), value),
                None => entries.remove(&key),
            };
            if deleting && previous.is_none() {
                return Ok(());
            }
            (previous, encode(&entries))
        };
        let written = match encoded {
            Ok(bytes) => {
                let path = self.path.clone();
                tokio::task::spawn_blocking(move || fsutil::write_atomically(&path, &bytes))
                    .await
                    .map_err(|join| join.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            }
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = written {
            let mut entries = self.entries();
            match previous {
                Some(previous) => entries.insert(key, previous),
                None => entries.remove(&key),
            };
            return Err(StateError::Failed(format!(
                "cannot write {}: {error}",
                self.path.display()
            )));
        }
        Ok(())
    }
}

fn encode(entries: &BTreeMap<String, Vec<u8>>) -> serde_json::Result<Vec<u8>> {
    let file = StateFile {
        version: FORMAT_VERSION,
        entries: entries.iter().map(|(k, v)| (k.clone(), hex(v))).collect(),
    };
    serde_json::to_vec(&file)
}

fn decode(bytes: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    let file: StateFile = serde_json::from_slice(bytes).ok()?;
    if file.version != FORMAT_VERSION {
        return None;
    }
    file.entries
        .into_iter()
        .map(|(k, v)| unhex(&v).map(|v| (k, v)))
        .collect()
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
        Ok(self.plugin.state.update(key, Some(value)).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.budget.charge_host_call()?;
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
