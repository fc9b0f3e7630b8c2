//! Shared harness: start the agent binary, start peers, wait for things.

#![allow(
    dead_code,
    reason = "each test module uses a different part of the harness"
)]

pub mod agent;
pub mod logs;
pub mod net;
pub mod plugins;
pub mod prometheus;
pub mod tls;

use std::time::{Duration, Instant};

/// Poll `check` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The recorded fixtures (`tests/fixtures`, see `SOURCES.md` there) and
/// the platform's alert rules (`tests/fixtures/seed-alerts.yaml`).
pub fn fixtures() -> std::path::PathBuf {
    repo_root().join("tests/fixtures")
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}
