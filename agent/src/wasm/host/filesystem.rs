//! `wasi:filesystem/types`: wasmtime-wasi's implementation, with one rule
//! added to `descriptor.open-at`: only regular files and directories are
//! opened.
//!
//! Opening a FIFO blocks in `open(2)` until a writer comes, and reading a
//! character device (a terminal, `/dev/random` on old kernels) can block in
//! `read(2)`; either holds one of the host's blocking threads past the run's
//! deadline, and no timeout can take it back. A granted directory can hold
//! such files (`/var/run`, `/dev` by mistake), so:
//!
//! - A plain read (what every open of a granted, read-only directory is,
//!   following links as `std::fs::File::open` does) is opened here, with
//!   the same sandboxed resolution as wasmtime-wasi's (`cap-primitives`) and
//!   `O_NONBLOCK`, so that the open itself cannot wait; the type is then
//!   checked on the opened descriptor (`fstat`), so what is checked is what
//!   was opened, and anything but a regular file or a directory is closed
//!   and refused with `access`.
//! - Any other request (a write, which a read-only grant refuses before
//!   opening anything; a directory-only open, which fails on a FIFO without
//!   waiting; an open that must not follow a link) first looks up the type
//!   through the same directory handle (`stat-at`, which never blocks) and
//!   is refused the same way, then goes to wasmtime-wasi. A file swapped for
//!   a FIFO between those two steps would be opened; only whoever can write
//!   in the granted directory could do that.
//!
//! Every other `wasi:filesystem/types` function is wasmtime-wasi's; this
//! one replaces its `open-at` in the linker (shadowing), so the guest sees
//! one interface.

use std::path::Path;

use cap_primitives::fs::OpenOptionsExt as _;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::OpenMode;
use wasmtime_wasi::filesystem::{self as wasi_fs, WasiFilesystemView as _};
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, Host as _, HostDescriptor, OpenFlags,
    PathFlags,
};

use super::HostState;

/// The interface as wasmtime-wasi registers it (its WIT package version).
/// Guests importing an older `0.2.x` resolve to it by semver.
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// The function replaced.
const OPEN_AT: &str = "[method]descriptor.open-at";

/// Replaces wasmtime-wasi's `descriptor.open-at` with [`open_at`]. Call
/// after `wasmtime_wasi::p2::add_to_linker_async`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = linker.instance(INTERFACE).and_then(|mut types| {
        types.func_wrap_async(
            OPEN_AT,
            |mut store, (dir, path_flags, path, open_flags, flags)| {
                Box::new(async move {
                    let state = store.data_mut();
                    let opened = open_at(state, dir, path_flags, path, open_flags, flags).await?;
                    Ok((opened,))
                })
            },
        )
    });
    linker.allow_shadowing(false);
    added
}

/// `open-at`, refusing anything that could block a host thread.
async fn open_at(
    state: &mut HostState,
    dir: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> wasmtime::Result<Result<Resource<Descriptor>, ErrorCode>> {
    let plain_read = open_flags == OpenFlags::empty()
        && flags == DescriptorFlags::READ
        && path_flags.contains(PathFlags::SYMLINK_FOLLOW);
    if plain_read && let Descriptor::Dir(parent) = state.table.get(&dir)? {
        let (handle, perms) = (parent.dir.clone(), parent.perms);
        let name = path.clone();
        let opened = tokio::task::spawn_blocking(move || open_nonblocking(&handle, &name))
            .await
            .map_err(wasmtime::Error::from)?;
        let descriptor = match opened {
            Ok(Opened::File(file)) => {
                Descriptor::File(wasi_fs::File::new(file, perms, OpenMode::READ, false))
            }
            Ok(Opened::Dir(dir)) => {
                Descriptor::Dir(wasi_fs::Dir::new(dir, perms, OpenMode::READ, false))
            }
            Ok(Opened::Refused(kind)) => return Ok(Err(refuse(state, &path, kind))),
            Err(error) => {
                let mut fs = state.filesystem();
                return fs.convert_error_code(FsError::from(error)).map(Err);
            }
        };
        // Past the handle budget this traps (`ResourceTableError::Full`),
        // and the file just opened is closed with `descriptor`.
        return Ok(Ok(state.table.push(descriptor)?));
    }

    let mut fs = state.filesystem();
    // A borrow of the same handle: `open_at` below takes `dir` itself.
    let same_dir = Resource::new_borrow(dir.rep());
    // A failed look-up (no such file) is left to `open_at`, which fails the
    // same way or, for a create, as the grant's permissions say.
    if let Ok(stat) = fs.stat_at(same_dir, path_flags, path.clone()).await
        && !openable(stat.type_)
    {
        return Ok(Err(refuse(state, &path, stat.type_)));
    }
    match fs.open_at(dir, path_flags, path, open_flags, flags).await {
        Ok(opened) => Ok(Ok(opened)),
        // A trap (the handle table full) stays a trap.
        Err(error) => fs.convert_error_code(error).map(Err),
    }
}

/// What [`open_nonblocking`] found.
enum Opened {
    File(std::fs::File),
    Dir(std::fs::File),
    /// Something else, closed again.
    Refused(DescriptorType),
}

/// Opens `path` under `dir` for reading without waiting (a FIFO without a
/// writer opens at once) and tells what it is from the opened descriptor.
/// A regular file gets its blocking mode back, as a normal open gives it.
fn open_nonblocking(dir: &std::fs::File, path: &str) -> std::io::Result<Opened> {
    let mut options = cap_primitives::fs::OpenOptions::new();
    // The flag is one bit: the cast cannot truncate.
    options
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    let file = cap_primitives::fs::open(dir, Path::new(path), &options)?;
    let kind = file.metadata()?.file_type();
    if kind.is_dir() {
        return Ok(Opened::Dir(file));
    }
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt as _;
        let kind = match () {
            _ if kind.is_fifo() => DescriptorType::Fifo,
            _ if kind.is_char_device() => DescriptorType::CharacterDevice,
            _ if kind.is_block_device() => DescriptorType::BlockDevice,
            _ if kind.is_socket() => DescriptorType::Socket,
            _ => DescriptorType::Unknown,
        };
        return Ok(Opened::Refused(kind));
    }
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(Opened::File(file))
}

/// Logs the refusal of `path` (a `kind` that could block) and returns the
/// error the guest sees.
fn refuse(state: &HostState, path: &str, kind: DescriptorType) -> ErrorCode {
    tracing::warn!(plugin = &*state.plugin.name, path = %path.escape_debug(), file_type = ?kind,
        "Plugin tried to open a file that is not a regular file or directory; refused.");
    ErrorCode::Access
}

/// Whether a file of this type can be opened without blocking: a regular
/// file or a directory. A symbolic link is seen here only when the guest
/// asked not to follow it, and then the open fails at once.
fn openable(kind: DescriptorType) -> bool {
    matches!(
        kind,
        DescriptorType::RegularFile | DescriptorType::Directory | DescriptorType::SymbolicLink
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_opened_without_waiting_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.path().join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        std::os::unix::fs::symlink("pipe", dir.path().join("link")).unwrap();
        let handle = std::fs::File::open(dir.path()).unwrap();

        for name in ["pipe", "link"] {
            let opened = open_nonblocking(&handle, name).unwrap();
            assert!(
                matches!(opened, Opened::Refused(DescriptorType::Fifo)),
                "{name}"
            );
        }
        let Opened::File(file) = open_nonblocking(&handle, "file").unwrap() else {
            panic!("a regular file is opened");
        };
        let flags = rustix::fs::fcntl_getfl(&file).unwrap();
        assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
        assert!(matches!(
            open_nonblocking(&handle, ".").unwrap(),
            Opened::Dir(_)
        ));
        // The sandbox still holds: nothing outside the directory.
        assert!(open_nonblocking(&handle, "../etc/passwd").is_err());
        assert!(open_nonblocking(&handle, "/etc/passwd").is_err());
    }

    #[test]
    fn only_files_directories_and_links_are_openable() {
        for kind in [
            DescriptorType::RegularFile,
            DescriptorType::Directory,
            DescriptorType::SymbolicLink,
        ] {
            assert!(openable(kind), "{kind:?}");
        }
        for kind in [
            DescriptorType::Fifo,
            DescriptorType::CharacterDevice,
            DescriptorType::BlockDevice,
            DescriptorType::Socket,
            DescriptorType::Unknown,
        ] {
            assert!(!openable(kind), "{kind:?}");
        }
    }
}
