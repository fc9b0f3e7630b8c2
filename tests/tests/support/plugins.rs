//! The test-only guest components in `tests/plugins` (hostile and
//! well-behaved), built once per test run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of the built test component `name` (`looper`, `memhog`, ...).
pub fn test_plugin(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build).join(format!("{name}.wasm"))
}

fn build() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEURALLOG_TEST_PLUGINS_DIR") {
        return PathBuf::from(dir);
    }
    // The same target directory as the plugin host's own tests, so the two
    // share one build.
    let target = std::env::var_os("NEURALLOG_TEST_PLUGINS_TARGET")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| Path::new(&h).join(".cache/neurallog-agent/test-plugins-target"))
        })
        .expect("HOME or NEURALLOG_TEST_PLUGINS_TARGET is set");
    let manifest = super::repo_root().join("tests/plugins/Cargo.toml");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "building tests/plugins failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target.join("wasm32-wasip2/release")
}
