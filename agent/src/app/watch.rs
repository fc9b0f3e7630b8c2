//! Noticing that the configuration file changed.
//!
//! Filesystem events (through `notify`) on the file's directory catch edits
//! at once, including editors that write a new file and rename it, and
//! Kubernetes ConfigMaps that swap a `..data` symlink. Events can be lost
//! (overlayfs, NFS), so the file's content is also compared every few
//! seconds. Either way a reload is only requested when the content really
//! changed.
//!
//! Only events that can change the content count: a write, creation,
//! rename or removal of the file, or of a `..` entry (a ConfigMap's
//! `..data` swap). Opening or reading it does not, nor anything done to
//! other files of its directory (logs or the data directory next to it).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

/// How often the content is compared when no event arrives.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Watches one file; `changed()` resolves when its content differs from the
/// content last loaded.
pub struct ConfigWatcher {
    path: PathBuf,
    last: Option<[u8; 32]>,
    events: mpsc::Receiver<()>,
    _watcher: Option<notify::RecommendedWatcher>,
}

// === impl ConfigWatcher ===

impl ConfigWatcher {
    /// Watch `path`, taking its current content as loaded.
    pub fn new(path: &Path) -> Self {
        let (tx, events) = mpsc::channel(1);
        let name = path.file_name().unwrap_or_default().to_owned();
        let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
            if result.is_ok_and(|event| may_change(&event, &name)) {
                let _ = tx.try_send(());
            }
        })
        .and_then(|mut watcher| {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        let watcher = match watcher {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "Cannot watch the configuration file for changes; polling it instead.");
                None
            }
        };
        ConfigWatcher {
            path: path.to_owned(),
            last: digest(path),
            events,
            _watcher: watcher,
        }
    }

    /// Mark the current content as loaded.
    pub fn mark_loaded(&mut self) {
        self.last = digest(&self.path);
    }

    /// Resolve once the content differs from what was last loaded.
    pub async fn changed(&mut self) {
        loop {
            tokio::select! {
                _ = self.events.recv() => {
                    // Let an editor finish writing before reading.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
            let now = digest(&self.path);
            if now.is_some() && now != self.last {
                return;
            }
        }
    }
}

/// Whether `event`, in the directory of the configuration file `name`,
/// may have changed its content. Comparing the content reads the file:
/// were opening it a change, each comparison would ask for the next one.
fn may_change(event: &notify::Event, name: &OsStr) -> bool {
    if event.need_rescan() {
        return true;
    }
    let writes = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    let ours = |path: &PathBuf| {
        path.file_name()
            .is_some_and(|n| n == name || n.as_encoded_bytes().starts_with(b".."))
    };
    writes && (event.paths.is_empty() || event.paths.iter().any(ours))
}

fn digest(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use super::*;

    /// The real events of reading the file, then of changing it, in
    /// order: reading it (as each comparison does) is no change; writing
    /// it in place, replacing it by a rename, and a ConfigMap's `..data`
    /// swap are; so is nothing done to a log file next to it.
    #[test]
    fn reading_the_file_is_no_change_and_writing_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.yaml");
        std::fs::write(&config, "sources: {}\n").unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(&log, "").unwrap();
        let (tx, rx) = std_mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
            let _ = tx.send(e.unwrap());
        })
        .unwrap();
        watcher
            .watch(dir.path(), RecursiveMode::NonRecursive)
            .unwrap();
        let name = OsStr::new("agent.yaml");
        // Everything up to the next change of the file: whether any of it
        // counted as one.
        let counted_until_change = |marker: &Path| {
            let mut counted = Vec::new();
            loop {
                let event = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
                if may_change(&event, name) {
                    counted.push(event.clone());
                }
                if event.paths.iter().any(|p| p == marker)
                    && !matches!(event.kind, EventKind::Access(_))
                {
                    return counted;
                }
            }
        };

        for _ in 0..3 {
            assert!(digest(&config).is_some());
        }
        std::fs::write(&log, "a line\n").unwrap();
        let marker = dir.path().join("marker");
        std::fs::write(&marker, "").unwrap();
        let counted = counted_until_change(&marker);
        assert!(
            counted.is_empty(),
            "reads and a log write counted: {counted:?}"
        );

        std::fs::write(&config, "sources: {a: 1}\n").unwrap();
        assert!(!counted_until_change(&config).is_empty());

        let edited = dir.path().join(".agent.yaml.tmp");
        std::fs::write(&edited, "sources: {b: 1}\n").unwrap();
        std::fs::rename(&edited, &config).unwrap();
        assert!(!counted_until_change(&config).is_empty());

        let swap = dir.path().join("..data_tmp");
        std::fs::write(&swap, "").unwrap();
        std::fs::rename(&swap, dir.path().join("..data")).unwrap();
        assert!(!counted_until_change(&dir.path().join("..data")).is_empty());
    }
}
