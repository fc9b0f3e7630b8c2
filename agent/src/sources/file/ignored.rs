//! Files a scan should not open while they stay as they are: compressed
//! files while `read_gzip` is off, and compressed files read to their end.
//!
//! They are remembered by device and inode *and* a stamp of their size,
//! modification and status-change times. A new file that reuses the inode
//! (created after the old one was deleted) or a file rewritten in place
//! has another stamp, so it is looked at again instead of being skipped
//! for good; so is a compressed file that grew. What a scan no longer
//! finds is forgotten.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;

use super::fingerprint::FileId;

/// The files to skip while unchanged.
#[derive(Debug, Default)]
pub struct Ignored {
    files: HashMap<FileId, Seen>,
    /// Scans so far, to forget what the last one did not find.
    scan: u64,
}

#[derive(Debug)]
struct Seen {
    stamp: Stamp,
    scan: u64,
}

/// What changes when a file is written, truncated or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

// === impl Stamp ===

impl Stamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

// === impl Ignored ===

impl Ignored {
    /// Whether `id` is to be skipped: remembered, with the same stamp. A
    /// changed file is forgotten (and looked at again).
    pub fn contains(&mut self, id: FileId, stamp: Stamp) -> bool {
        match self.files.get_mut(&id) {
            Some(seen) if seen.stamp == stamp => {
                seen.scan = self.scan;
                true
            }
            Some(_) => {
                self.files.remove(&id);
                false
            }
            None => false,
        }
    }

    /// Skip `id` while its stamp stays `stamp`.
    pub fn insert(&mut self, id: FileId, stamp: Stamp) {
        let scan = self.scan;
        self.files.insert(id, Seen { stamp, scan });
    }

    /// Note the start of a scan.
    pub fn start_scan(&mut self) {
        self.scan += 1;
    }

    /// After a scan: forget the files it did not find.
    pub fn forget_unseen(&mut self) {
        let scan = self.scan;
        self.files.retain(|_, seen| seen.scan == scan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(len: u64, ctime: i64) -> Stamp {
        Stamp {
            len,
            mtime: (ctime, 0),
            ctime: (ctime, 0),
        }
    }

    #[test]
    fn a_changed_file_with_the_same_inode_is_looked_at_again() {
        let id = FileId { dev: 1, ino: 7 };
        let mut ignored = Ignored::default();
        ignored.insert(id, stamp(100, 10));
        assert!(ignored.contains(id, stamp(100, 10)));
        // The inode now holds another file (or the file was rewritten).
        assert!(!ignored.contains(id, stamp(100, 11)));
        assert!(
            !ignored.contains(id, stamp(100, 10)),
            "forgotten once changed"
        );
        ignored.insert(id, stamp(100, 10));
        assert!(!ignored.contains(id, stamp(120, 10)), "grown");
    }

    #[test]
    fn files_a_scan_did_not_find_are_forgotten() {
        let (a, b) = (FileId { dev: 1, ino: 1 }, FileId { dev: 1, ino: 2 });
        let mut ignored = Ignored::default();
        ignored.insert(a, stamp(1, 1));
        ignored.insert(b, stamp(1, 1));
        ignored.start_scan();
        assert!(ignored.contains(a, stamp(1, 1)));
        ignored.forget_unseen();
        assert!(ignored.contains(a, stamp(1, 1)));
        assert!(!ignored.contains(b, stamp(1, 1)));
    }

    #[test]
    fn a_stamp_tells_a_rewrite_in_place_from_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gz");
        std::fs::write(&path, b"\x1f\x8b old").unwrap();
        let before = Stamp::of(&std::fs::metadata(&path).unwrap());
        assert_eq!(before, Stamp::of(&std::fs::metadata(&path).unwrap()));
        std::fs::write(&path, b"text now, and longer\n").unwrap();
        assert_ne!(before, Stamp::of(&std::fs::metadata(&path).unwrap()));
    }
}
