//! A mock host for native tests (`cargo test`), available on every target
//! but `wasm32`.
//!
//! Built natively, the SDK's host functions ([`crate::clock::now`],
//! [`crate::tls`], [`crate::fs_stats`], [`crate::state`], [`crate::log`])
//! talk to an in-memory mock instead of the agent. Set it up with the
//! functions here, run the check with [`crate::run_check`], and assert on
//! the result, the state it left and the lines it logged. Each test thread
//! has its own mock, starting empty: no mounts, no TLS targets (probes answer
//! `not-allowed`), empty state, and the real clock.
//!
//! ```
//! use neurallog_plugin_sdk::fs_stats::{FsUsage, Mount};
//! use neurallog_plugin_sdk::{clock::Timestamp, testing};
//!
//! testing::reset();
//! testing::set_now(Timestamp::from_unix_seconds(1_700_000_000));
//! testing::add_mount(
//!     Mount { path: "/".into(), device: "/dev/sda1".into(), fs_type: "ext4".into() },
//!     Ok(FsUsage { total_bytes: 100, free_bytes: 10, available_bytes: 5, ..FsUsage::default() }),
//! );
//! assert_eq!(neurallog_plugin_sdk::fs_stats::mounts().len(), 1);
//! assert_eq!(neurallog_plugin_sdk::clock::now().seconds, 1_700_000_000);
//! ```

use std::collections::BTreeMap;

use crate::clock::Timestamp;
use crate::fs_stats::{FsError, FsUsage, Mount};
use crate::host::native::{MockHost, with};
use crate::log::Level;
use crate::tls::{PeerChain, ProbeError};

/// Resets this thread's mock host to empty.
pub fn reset() {
    with(|host| *host = MockHost::default());
}

/// Fixes the time [`crate::clock::now`] returns.
pub fn set_now(now: Timestamp) {
    with(|host| host.now = Some(now));
}

/// Grants a mount, with the usage [`crate::fs_stats::usage`] answers for it.
/// Adding a mount point again replaces the earlier entry, so a test can
/// change usage between runs.
pub fn add_mount(mount: Mount, usage: Result<FsUsage, FsError>) {
    with(|host| {
        match host
            .mounts
            .iter_mut()
            .find(|(granted, _)| granted.path == mount.path)
        {
            Some(entry) => *entry = (mount, usage),
            None => host.mounts.push((mount, usage)),
        }
    });
}

/// Sets what a TLS probe of `host:port` answers.
pub fn set_peer_chain(host: &str, port: u16, answer: Result<PeerChain, ProbeError>) {
    with(|mock| mock.peers.insert((host.to_owned(), port), answer));
}

/// The TLS probes made so far: host, port and server name sent as SNI.
#[must_use]
pub fn probes() -> Vec<(String, u16, Option<String>)> {
    with(|host| host.probes.clone())
}

/// Caps the state's size (keys plus values, in bytes), as the agent does.
pub fn set_state_cap(cap_bytes: Option<u64>) {
    with(|host| host.state_cap_bytes = cap_bytes);
}

/// A copy of the whole key-value state.
#[must_use]
pub fn state() -> BTreeMap<String, Vec<u8>> {
    with(|host| host.state.clone())
}

/// The log lines written so far.
#[must_use]
pub fn logs() -> Vec<(Level, String)> {
    with(|host| host.logs.clone())
}
