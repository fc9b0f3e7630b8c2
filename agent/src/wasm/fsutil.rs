//! File handling for the host's own files and for plugin files.
//!
//! - Atomic replacement (compiled artifacts): write a private temporary
//!   file beside the target, flush it to disk, rename it over the target,
//!   then flush the directory. A crash leaves either the old file or the new
//!   one, never a torn one.
//! - Reading a file that may not be what it claims (a plugin, a cache
//!   artifact): opened once, without blocking (a FIFO does not wait for a
//!   writer), its type and owner checked on the open descriptor (so what is
//!   checked is what is read, whatever happens to the path meanwhile), and
//!   read with a size cap on the read itself (a file that grows, or a device
//!   that never ends, stops at the cap).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` atomically and durably; the file is
/// readable and writable by the agent's user only.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes)
}

/// Flush `path` and its directory to disk.
pub(crate) fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let temp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    // Make the rename itself durable; failing that is not worth an error.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and parents) if needed, private to the agent's user.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Whether [`open_regular`] follows a symbolic link at the path's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Follow it (a plugin file may be a link, as in a Kubernetes ConfigMap
    /// volume); the file it leads to is what is checked.
    Yes,
    /// Refuse it (the host's own files are never links).
    No,
}

/// A file that should be a regular file could not be read as one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// Opening, inspecting or reading it failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// It is a FIFO, a device, a socket or a directory.
    #[error("not a regular file but a {0}")]
    NotRegular(&'static str),
    /// It is larger than the cap (or grew past it while being read).
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
}

/// Opens `path` for reading without blocking and checks, on the opened
/// descriptor, that it is a regular file. Returns the file and what
/// `fstat` said of it, for the caller's own checks (size, owner).
pub(crate) fn open_regular(path: &Path, follow: Follow) -> Result<(File, Metadata), ReadError> {
    let mut flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    if follow == Follow::No {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        // The flags are a few bits: the cast cannot truncate.
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            // O_NOFOLLOW on a link.
            Some(code)
                if code == rustix::io::Errno::LOOP.raw_os_error() && follow == Follow::No =>
            {
                ReadError::NotRegular("symbolic link")
            }
            _ => ReadError::Io(error),
        })?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    let not_regular = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("directory")
    } else if kind.is_fifo() {
        Some("FIFO")
    } else if kind.is_char_device() {
        Some("character device")
    } else if kind.is_block_device() {
        Some("block device")
    } else if kind.is_socket() {
        Some("socket")
    } else {
        Some("special file")
    };
    match not_regular {
        Some(kind) => Err(ReadError::NotRegular(kind)),
        None => Ok((file, meta)),
    }
}

/// Reads the rest of `file`, at most `limit` bytes: one byte more is
/// [`ReadError::TooLarge`]. `meta` (from [`open_regular`]) refuses a file
/// already too large before any byte is read.
pub(crate) fn read_capped(file: File, meta: &Metadata, limit: u64) -> Result<Vec<u8>, ReadError> {
    if meta.size() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.size()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Reads the regular file at `path` (following links), at most `limit`
/// bytes, never blocking on what is not a regular file.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_regular(path, Follow::Yes)?;
    read_capped(file, &meta, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn only_regular_files_are_read_and_never_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plugin.wasm");
        fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular(&file, 9),
            Err(ReadError::TooLarge { limit: 9 })
        ));

        // A FIFO with no writer: refused at once, not waited on.
        let fifo = dir.path().join("fifo.wasm");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read_regular(&fifo, 1 << 20),
            Err(ReadError::NotRegular("FIFO"))
        ));
        // A link to a device: what it leads to is checked.
        let zero = dir.path().join("zero.wasm");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read_regular(&zero, 1 << 20),
            Err(ReadError::NotRegular("character device"))
        ));
        // The host's own files are never links.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            open_regular(&link, Follow::No),
            Err(ReadError::NotRegular("symbolic link"))
        ));
        assert!(matches!(
            read_regular(dir.path(), 1 << 20),
            Err(ReadError::NotRegular("directory"))
        ));
    }
}
