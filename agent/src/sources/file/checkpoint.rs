//! Acknowledged positions, persisted atomically in `data_dir`.
//!
//! One JSON file per source, `data_dir/checkpoints/<source>.json`, written
//! as a temporary file, fsynced, renamed over the old one, and the directory
//! fsynced: a crash leaves either the old or the new file, never a torn one.
//! Offsets only ever record bytes every sink has acknowledged.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fingerprint::{FileId, Fingerprint};

const VERSION: u32 = 1;

/// Finished files remembered (to recognize a compressed or copied rotation
/// of something already read), oldest forgotten first.
const MAX_DONE: usize = 4096;

/// The checkpoints of one source.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    entries: HashMap<FileId, Entry>,
    /// Whether a checkpoint file existed when the source started: files
    /// found then are not "new on first start".
    existed: bool,
    dirty: bool,
    /// Whether a file was added since the last save. Its entry is saved
    /// at once, not at the next interval: a file that appeared (a
    /// rotation's new file) and was read, then rotated away while the
    /// agent was down (killed before the interval), is found again only
    /// through its entry.
    added: bool,
}

/// Where one file stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Device and inode.
    #[serde(flatten)]
    pub id: FileId,
    /// Hash of its first bytes.
    pub fingerprint: Fingerprint,
    /// Every byte before this offset was delivered.
    pub offset: u64,
    /// Where the file was last seen.
    pub path: PathBuf,
    /// The file was read to its end and closed; kept to recognize copies.
    #[serde(default)]
    pub done: bool,
    /// When this entry last changed, seconds since the Unix epoch.
    #[serde(default)]
    pub updated_unix_secs: u64,
    /// How long the file was when the entry was saved: if the file is gone
    /// at the next start, at least `size - offset` bytes were lost with it.
    #[serde(default)]
    pub size: u64,
}

// === impl Entry ===

impl Entry {
    /// Where reading a file found by this entry's inode goes on: its
    /// offset, or its beginning when the fingerprint is too short to tell
    /// the file from one that got the inode since (see
    /// [`Fingerprint::identifies`](super::Fingerprint::identifies)): at
    /// worst lines twice, never lines skipped.
    pub fn resume_offset(&self, fingerprint_bytes: usize) -> u64 {
        if self.fingerprint.identifies(self.offset, fingerprint_bytes) {
            self.offset
        } else {
            0
        }
    }
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<Entry>,
}

/// A checkpoint file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("checkpoint file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

// === impl Checkpoints ===

impl Checkpoints {
    /// Load the checkpoints of `source` from `data_dir`. A file that cannot
    /// be parsed is moved aside (`.corrupt`) and the source starts fresh:
    /// refusing to start would lose more than re-reading.
    pub fn load(data_dir: &Path, source: &str) -> Result<Checkpoints, CheckpointError> {
        let dir = data_dir.join("checkpoints");
        std::fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(format!("{source}.json"));
        let mut checkpoints = Checkpoints {
            path: path.clone(),
            entries: HashMap::new(),
            existed: false,
            dirty: false,
            added: false,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(checkpoints),
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        checkpoints.existed = true;
        match serde_json::from_slice::<OnDisk>(&bytes) {
            Ok(disk) if disk.version == VERSION => {
                checkpoints.entries = disk.files.into_iter().map(|e| (e.id, e)).collect();
            }
            Ok(disk) => {
                tracing::warn!(path = %path.display(), version = disk.version, "Checkpoint file has an unknown version; starting fresh.");
                set_aside(&path);
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "Checkpoint file is corrupt; moved aside, starting fresh.");
                set_aside(&path);
            }
        }
        Ok(checkpoints)
    }

    /// Whether the source has run before (a checkpoint file existed).
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// These checkpoints, as an engine that ran with them leaves them to
    /// the one replacing it: the source has run before, whether or not
    /// they reached the disk.
    pub fn handed_on(mut self) -> Checkpoints {
        self.existed = true;
        self
    }

    /// The entry of `id`, if any.
    pub fn get(&self, id: FileId) -> Option<&Entry> {
        self.entries.get(&id)
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// A finished file with this fingerprint, if one is remembered.
    pub fn find_done(&self, fingerprint: Fingerprint) -> Option<&Entry> {
        self.entries
            .values()
            .find(|e| e.done && e.fingerprint == fingerprint)
    }

    /// Whether a file was added since the last save (to be saved now).
    pub fn added(&self) -> bool {
        self.added
    }

    /// Record `entry`.
    pub fn set(&mut self, mut entry: Entry) {
        if self.entries.get(&entry.id) != Some(&entry) {
            self.added |= !self.entries.contains_key(&entry.id);
            entry.updated_unix_secs = now_secs();
            self.entries.insert(entry.id, entry);
            self.dirty = true;
        }
    }

    /// Move `id`'s offset to `offset`.
    pub fn advance(&mut self, id: FileId, offset: u64) {
        if let Some(entry) = self.entries.get_mut(&id)
            && entry.offset != offset
        {
            entry.offset = offset;
            entry.updated_unix_secs = now_secs();
            self.dirty = true;
        }
    }

    /// Note how long `id` is now (saved with its next change, or now if
    /// it grew).
    pub fn note_size(&mut self, id: FileId, size: u64) {
        if let Some(entry) = self.entries.get_mut(&id)
            && entry.size != size
        {
            entry.size = size;
            self.dirty = true;
        }
    }

    /// Mark `id` finished; it is remembered by fingerprint only.
    pub fn finish(&mut self, id: FileId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.done = true;
            entry.updated_unix_secs = now_secs();
            self.dirty = true;
        }
        let done = self.entries.values().filter(|e| e.done).count();
        if done > MAX_DONE {
            let mut oldest: Vec<(u64, FileId)> = self
                .entries
                .values()
                .filter(|e| e.done)
                .map(|e| (e.updated_unix_secs, e.id))
                .collect();
            oldest.sort_unstable();
            for (_, id) in oldest.into_iter().take(done - MAX_DONE) {
                self.entries.remove(&id);
            }
        }
    }

    /// Forget `id` entirely.
    pub fn remove(&mut self, id: FileId) {
        if self.entries.remove(&id).is_some() {
            self.dirty = true;
        }
    }

    /// Write the file if anything changed.
    pub fn save(&mut self) -> Result<(), CheckpointError> {
        if !self.dirty {
            return Ok(());
        }
        let mut files: Vec<Entry> = self.entries.values().cloned().collect();
        files.sort_by_key(|e| (e.id.dev, e.id.ino));
        let bytes = serde_json::to_vec_pretty(&OnDisk {
            version: VERSION,
            files,
        })
        .unwrap_or_default();
        write_atomically(&self.path, &bytes).map_err(|source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.dirty = false;
        self.added = false;
        Ok(())
    }
}

/// Write `bytes` to `path` so that a crash leaves the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn set_aside(path: &Path) {
    let _ = std::fs::rename(path, path.with_extension("json.corrupt"));
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u64, offset: u64) -> Entry {
        Entry {
            id: FileId { dev: 1, ino },
            fingerprint: Fingerprint::of(b"x"),
            offset,
            path: PathBuf::from(format!("/var/log/{ino}.log")),
            done: false,
            updated_unix_secs: 0,
            size: 0,
        }
    }

    #[test]
    fn saves_and_loads_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpoints::load(dir.path(), "app").unwrap();
        assert!(!cp.existed());
        cp.set(entry(7, 100));
        cp.advance(FileId { dev: 1, ino: 7 }, 250);
        cp.save().unwrap();
        let again = Checkpoints::load(dir.path(), "app").unwrap();
        assert!(again.existed());
        assert_eq!(again.get(FileId { dev: 1, ino: 7 }).unwrap().offset, 250);
        assert!(!dir.path().join("checkpoints/app.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checkpoints")).unwrap();
        std::fs::write(
            dir.path().join("checkpoints/app.json"),
            b"{\"version\":1,\"files\":[{tor",
        )
        .unwrap();
        let cp = Checkpoints::load(dir.path(), "app").unwrap();
        assert_eq!(cp.entries().count(), 0);
        assert!(dir.path().join("checkpoints/app.json.corrupt").exists());
    }
}
