//! Building the test guests of `tests/plugins/`: one copy of this code,
//! included with `#[path]` by the plugin host's unit tests, the integration
//! tests and the `wasm` bench, which each build the guests once per
//! process.
//!
//! The guests are built with `cargo build --release --target
//! wasm32-wasip2` into `$NEURALLOG_TEST_PLUGINS_TARGET` (default
//! `$HOME/.cache/neurallog-agent/test-plugins-target`, else
//! `target/test-plugins` in the repository), so all three share one build.
//! Set `$NEURALLOG_TEST_PLUGINS_DIR` to a directory of prebuilt `.wasm`
//! files to skip it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the built `<name>.wasm` test guests of the
/// repository at `repo`, building them if needed.
pub fn built_dir(repo: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("NEURALLOG_TEST_PLUGINS_DIR") {
        return PathBuf::from(dir);
    }
    let target = match (
        std::env::var_os("NEURALLOG_TEST_PLUGINS_TARGET"),
        std::env::var_os("HOME"),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(home)) => Path::new(&home).join(".cache/neurallog-agent/test-plugins-target"),
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
}
