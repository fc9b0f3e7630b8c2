//! Noticing that the configuration file changed.
//!
//! Filesystem events (through `notify`) on the file's directory catch edits
//! at once, including editors that write a new file and rename it, and
//! Kubernetes ConfigMaps that swap a `..data` symlink. Events can be lost
//! (overlayfs, NFS), so the file's content is also compared every few
//! seconds. Either way a reload is only requested when the content really
//! changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
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
        let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
            if result.is_ok() {
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

fn digest(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}
