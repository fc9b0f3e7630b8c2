//! The files `build.rs` embeds: the SDK's packaged files, the template's
//! `src/lib.rs` and the plugins workspace's `Cargo.lock`.

include!(concat!(env!("OUT_DIR"), "/scaffold_files.rs"));

/// The SDK's embedded file at `path` (relative to its crate root).
pub(super) fn sdk_file(path: &str) -> Option<&'static str> {
    SDK_FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, contents)| *contents)
}
