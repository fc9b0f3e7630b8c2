//! File identity: device and inode, plus a hash of the first bytes.
//!
//! Device and inode alone are not enough: an inode is reused once a file is
//! deleted, and a copy made by `copytruncate` has a new inode but the old
//! content. The hash of the first `fingerprint_bytes` tells reuse from
//! continuation; the inode tells apart two files that begin alike.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};

/// Device and inode of an open file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

/// A hash of the first `len` bytes of a file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Fingerprint {
    /// How many bytes were hashed (less than the configured length while
    /// the file is shorter).
    pub len: u32,
    /// FNV-1a 64 of those bytes. Stable across versions: it is stored in
    /// checkpoints.
    pub hash: u64,
}

// === impl FileId ===

impl FileId {
    /// The identity of an open file.
    pub fn of(file: &File) -> io::Result<(FileId, u64)> {
        let meta = file.metadata()?;
        Ok((
            FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            },
            meta.len(),
        ))
    }
}

// === impl Fingerprint ===

impl Fingerprint {
    /// Hash the first `max_len` bytes of `file` (fewer if it is shorter).
    pub fn read(file: &File, max_len: usize) -> io::Result<Fingerprint> {
        let mut buf = vec![0u8; max_len];
        let mut filled = 0;
        while filled < max_len {
            match file.read_at(&mut buf[filled..], filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fingerprint::of(&buf[..filled]))
    }

    /// Hash the first `len` bytes of `file`, if it has that many.
    pub fn read_exact(file: &File, len: u32) -> io::Result<Option<Fingerprint>> {
        let fp = Fingerprint::read(file, len as usize)?;
        Ok((fp.len == len).then_some(fp))
    }

    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            len: bytes.len() as u32,
            hash: crate::hash::fnv1a(bytes),
        }
    }

    /// Whether this fingerprint, taken from a file read up to `offset`,
    /// tells a copy of that file from any other: it covers the first
    /// `offset` bytes, or the `configured` length of them. One taken while
    /// the file was empty or shorter matches files that merely begin the
    /// same way (every file, when empty), and a file taken for a copy is
    /// read from `offset`: its first bytes never arrive.
    pub fn identifies(&self, offset: u64, configured: usize) -> bool {
        self.len > 0 && u64::from(self.len) >= offset.min(configured as u64)
    }

    /// Whether `file` still begins with the bytes this fingerprint hashed.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        if self.len == 0 {
            return Ok(true);
        }
        Ok(Fingerprint::read_exact(file, self.len)? == Some(*self))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn fingerprint_is_stable_and_sees_rewrites() {
        // Pinned value: fingerprints are stored in checkpoints.
        assert_eq!(Fingerprint::of(b"hello").hash, 0xa430_d846_80aa_bd0b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"first line\nsecond\n").unwrap();
        let file = File::open(&path).unwrap();
        let fp = Fingerprint::read(&file, 1024).unwrap();
        assert_eq!(fp.len, 18);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert!(fp.matches(&file).unwrap(), "appending keeps the prefix");
        std::fs::write(&path, b"FIRST line\nsecond\nmore\n").unwrap();
        assert!(!fp.matches(&file).unwrap(), "a rewrite changes it");
        std::fs::write(&path, b"first").unwrap();
        assert!(!fp.matches(&file).unwrap(), "a shorter file cannot match");
    }
}
