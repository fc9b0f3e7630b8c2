//! Builds the test guests in `tests/plugins/` once per test process and
//! makes hosts to load them into.
//!
//! The guests are built with `cargo build --release --target
//! wasm32-wasip2` into `$NEURALLOG_TEST_PLUGINS_TARGET` (default
//! `$HOME/.cache/neurallog-agent/test-plugins-target`, else
//! `target/test-plugins` in the repository). Set
//! `$NEURALLOG_TEST_PLUGINS_DIR` to a directory of prebuilt `.wasm` files
//! to skip the build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use tempfile::TempDir;

use crate::wasm::{Grants, HostSettings, Limits, LoadedPlugin, PluginHost, PluginSource};

/// Directory holding the built `<name>.wasm` files.
fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("NEURALLOG_TEST_PLUGINS_DIR") {
            return PathBuf::from(dir);
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("agent/ has a parent");
        let target = match (
            std::env::var_os("NEURALLOG_TEST_PLUGINS_TARGET"),
            std::env::var_os("HOME"),
        ) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(home)) => {
                Path::new(&home).join(".cache/neurallog-agent/test-plugins-target")
            }
            (None, None) => repo.join("target/test-plugins"),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(repo.join("tests/plugins/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building tests/plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target.join("wasm32-wasip2/release")
    })
}

/// Path of the built test guest `name`.
pub(super) fn plugin_path(name: &str) -> PathBuf {
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
