//! File-source checkpoint files (`sources::file::Checkpoints`).
//!
//! Two modes. Any bytes as the checkpoint file: loading never panics nor
//! fails, and what loads saves and loads back the same. Or entries written
//! by the source, then the file cut at any length: loading gives back
//! either every entry as written or none (the file is set aside and the
//! source starts over, reading again rather than skipping), never an entry
//! that was not written.

use std::path::PathBuf;

use super::Input;
use crate::sources::file::{Checkpoints, Entry, FileId, Fingerprint};

const SOURCE: &str = "app";

/// Run one input: `[mode: u8]` then the file's bytes, or entries and a cut.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir
        .path()
        .join("checkpoints")
        .join(format!("{SOURCE}.json"));
    if input.bool() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the directory");
        std::fs::write(&path, input.rest()).expect("write the checkpoint file");
        let mut loaded = Checkpoints::load(dir.path(), SOURCE).expect("a local file loads");
        assert!(loaded.existed());
        let entries = sorted(&loaded);
        if !entries.is_empty() {
            // Saving writes only when something changed.
            let first = entries[0].clone();
            loaded.set(first);
            loaded.save().expect("save");
            let again = Checkpoints::load(dir.path(), SOURCE).expect("load again");
            assert_eq!(
                sorted(&again),
                entries,
                "what loaded saves and loads back the same"
            );
        }
        return;
    }

    let mut checkpoints = Checkpoints::load(dir.path(), SOURCE).expect("a fresh source");
    for _ in 0..input.byte() % 8 {
        checkpoints.set(Entry {
            id: FileId {
                dev: input.u64(),
                ino: input.u64(),
            },
            fingerprint: Fingerprint {
                len: input.u32(),
                hash: input.u64(),
            },
            offset: input.u64(),
            path: PathBuf::from(input.short_string(24)),
            done: input.bool(),
            updated_unix_secs: input.u64(),
            size: input.u64(),
        });
    }
    let written = sorted(&checkpoints);
    checkpoints.save().expect("save");
    let mut bytes = std::fs::read(&path).unwrap_or_default();
    let cut = input.below(bytes.len() + 1);
    bytes.truncate(cut);
    std::fs::write(&path, &bytes).expect("cut the checkpoint file");

    let loaded = sorted(&Checkpoints::load(dir.path(), SOURCE).expect("a local file loads"));
    assert!(
        loaded.is_empty() || loaded == written,
        "a cut checkpoint file gave entries that were not written: {loaded:?}"
    );
}

/// The entries in a stable order (with the time they were last changed
/// left out: setting one again stamps it).
fn sorted(checkpoints: &Checkpoints) -> Vec<Entry> {
    let mut entries: Vec<Entry> = checkpoints
        .entries()
        .cloned()
        .map(|mut e| {
            e.updated_unix_secs = 0;
            e
        })
        .collect();
    entries.sort_by_key(|e| e.id);
    entries
}
