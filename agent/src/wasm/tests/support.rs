//! The test guests in `tests/plugins/`, built once per test process (see
//! `tests/plugins/guests.rs`), and hosts to load them into.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tempfile::TempDir;

use crate::wasm::{Grants, HostSettings, Limits, LoadedPlugin, PluginHost, PluginSource};

#[path = "../../../../tests/plugins/guests.rs"]
mod guests;

/// Directory holding the built `<name>.wasm` files.
fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        guests::built_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("agent/ has a parent"),
        )
    })
}

/// Path of the built test guest `name`.
pub(crate) fn plugin_path(name: &str) -> PathBuf {
    let path = plugins_dir().join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The source of test guest `name`, unpinned.
pub(super) fn source(name: &str) -> PluginSource {
    PluginSource::File {
        path: plugin_path(name),
        sha256: None,
    }
}

/// A compile cache shared by the tests that do not test the cache, so each
/// guest is compiled once per process.
fn shared_cache() -> PathBuf {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    // The host creates `cache` itself, private (a `TempDir` has the
    // umask's mode, which the cache refuses).
    DIR.get_or_init(|| TempDir::new().expect("temp dir"))
        .path()
        .join("cache")
}

/// A host with its own state directory (in the returned `TempDir`),
/// adjusted by `adjust`.
pub(super) fn host_with(adjust: impl FnOnce(&mut HostSettings)) -> (PluginHost, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let mut settings = HostSettings::new(dir.path().join("state"));
    settings.cache_dir = Some(shared_cache());
    adjust(&mut settings);
    (PluginHost::new(settings).expect("host starts"), dir)
}

/// A host with default settings.
pub(super) fn host() -> (PluginHost, TempDir) {
    host_with(|_| {})
}

/// Loads test guest `name` (also the check's name).
pub(super) async fn load(
    host: &PluginHost,
    name: &str,
    limits: Limits,
    grants: Grants,
) -> Arc<LoadedPlugin> {
    match host.load(name, source(name), limits, grants).await {
        Ok(plugin) => plugin,
        Err(error) => panic!("{error}: {}", error.kind),
    }
}

/// The details of an `Ok` outcome, or a panic showing the outcome.
pub(super) fn ok_result(report: &crate::wasm::RunReport) -> &crate::wasm::CheckResult {
    match &report.outcome {
        crate::wasm::RunOutcome::Ok(result) => result,
        other => panic!("expected ok, got {other:?}\nstderr: {}", report.stderr),
    }
}
