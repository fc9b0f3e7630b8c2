//! The test-only guest components in `tests/plugins` (hostile and
//! well-behaved), built once per test run (see `tests/plugins/guests.rs`).

use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../../plugins/guests.rs"]
mod guests;

/// Path of the built test component `name` (`looper`, `memhog`, ...).
pub fn test_plugin(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| guests::built_dir(&super::repo_root()))
        .join(format!("{name}.wasm"))
}
