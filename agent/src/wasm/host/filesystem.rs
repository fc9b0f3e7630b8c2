//! `wasi:filesystem/types`: wasmtime-wasi's implementation, with one rule
//! added to `descriptor.open-at`: only regular files, directories and
//! symbolic links (which then resolve to one of those or fail) are opened.
//!
//! Opening a FIFO blocks in `open(2)` until a writer comes, and reading a
//! character device (a terminal, `/dev/random` on old kernels) can block in
//! `read(2)`; either holds one of the host's blocking threads past the run's
//! deadline, and no timeout can take it back. A granted directory can hold
//! such files (`/var/run`, `/dev` by mistake), so the type of what a path
//! names is looked up first, through the same sandboxed directory handle
//! (`stat-at`, which does not block on any file type), and anything else is
//! refused with `access` without opening it.
//!
//! The look-up and the open are two steps: a file swapped for a FIFO
//! between them is opened. The guest cannot do that (its directories are
//! read-only); whoever can write in a granted directory can, and granting
//! such a directory to an untrusted plugin is already a trust decision.
//!
//! Every other `wasi:filesystem/types` function is wasmtime-wasi's; this
//! one replaces its `open-at` in the linker (shadowing), so the guest sees
//! one interface.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
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
    let plugin = state.plugin.clone();
    let mut fs = state.filesystem();
    // A borrow of the same handle: `open_at` below takes `dir` itself.
    let same_dir = Resource::new_borrow(dir.rep());
    // A failed look-up (no such file) is left to `open_at`, which fails the
    // same way or, for a create, as the grant's permissions say.
    if let Ok(stat) = fs.stat_at(same_dir, path_flags, path.clone()).await
        && !openable(stat.type_)
    {
        tracing::warn!(plugin = &*plugin.name, path = %path.escape_debug(), file_type = ?stat.type_,
            "Plugin tried to open a file that is not a regular file or directory; refused.");
        return Ok(Err(ErrorCode::Access));
    }
    match fs.open_at(dir, path_flags, path, open_flags, flags).await {
        Ok(opened) => Ok(Ok(opened)),
        // A trap (the handle table full) stays a trap.
        Err(error) => fs.convert_error_code(error).map(Err),
    }
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
