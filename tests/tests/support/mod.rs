//! Shared harness: start the agent binary, start peers, wait for things.

#![allow(
    dead_code,
    reason = "each test module uses a different part of the harness"
)]

pub mod agent;
pub mod logs;
pub mod net;
pub mod prometheus;

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

/// The directory of shared fixtures (`../shared/fixtures` beside the
/// repository, or `NEURALLOG_FIXTURES`).
pub fn fixtures() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("NEURALLOG_FIXTURES") {
        return dir.into();
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent");
    let in_repo = repo.join("tests/fixtures");
    if in_repo.exists() {
        in_repo
    } else {
        repo.join("../shared/fixtures")
    }
}
