//! The host simulated in memory, for native builds: `cargo test` of a plugin
//! runs its real code against this mock, which tests set up through
//! [`crate::testing`]. Each test thread has its own mock host, so tests
//! running in parallel do not see each other's state.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use crate::clock::Timestamp;
use crate::fs_stats::{FsError, FsUsage, Mount};
use crate::log::Level;
use crate::state::StateError;
use crate::tls::{PeerChain, ProbeError};

/// Everything a test can set up or inspect.
#[derive(Debug, Default)]
pub(crate) struct MockHost {
    /// The clock; the real time when unset.
    pub(crate) now: Option<Timestamp>,
    /// Granted mounts, in the order `mounts()` lists them, with their usage.
    pub(crate) mounts: Vec<(Mount, Result<FsUsage, FsError>)>,
    /// Answers to TLS probes, by `(host, port)`.
    pub(crate) peers: HashMap<(String, u16), Result<PeerChain, ProbeError>>,
    /// Probes made: host, port and server name.
    pub(crate) probes: Vec<(String, u16, Option<String>)>,
    /// The key-value state.
    pub(crate) state: BTreeMap<String, Vec<u8>>,
    /// State size cap (keys plus values), unlimited when unset.
    pub(crate) state_cap_bytes: Option<u64>,
    /// Log lines written.
    pub(crate) logs: Vec<(Level, String)>,
}

thread_local! {
    pub(crate) static HOST: RefCell<MockHost> = RefCell::new(MockHost::default());
}

/// Runs `f` on this thread's mock host.
pub(crate) fn with<T>(f: impl FnOnce(&mut MockHost) -> T) -> T {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

pub(crate) fn log(level: Level, message: &str) {
    eprintln!("[plugin {level:?}] {message}");
    with(|host| host.logs.push((level, message.to_owned())));
}

pub(crate) fn now() -> Timestamp {
    with(|host| host.now).unwrap_or_else(|| SystemTime::now().into())
}

pub(crate) fn peer_certificates(
    host: &str,
    port: u16,
    server_name: Option<&str>,
) -> Result<PeerChain, ProbeError> {
    with(|mock| {
        mock.probes
            .push((host.to_owned(), port, server_name.map(str::to_owned)));
        mock.peers
            .get(&(host.to_owned(), port))
            .cloned()
            .unwrap_or_else(|| Err(ProbeError::NotAllowed(format!("{host}:{port}"))))
    })
}

pub(crate) fn mounts() -> Vec<Mount> {
    with(|host| host.mounts.iter().map(|(mount, _)| mount.clone()).collect())
}

pub(crate) fn usage(path: &str) -> Result<FsUsage, FsError> {
    with(|host| {
        host.mounts
            .iter()
            .find(|(mount, _)| mount.path == path)
            .map(|(_, usage)| usage.clone())
            .unwrap_or_else(|| Err(FsError::NotAllowed(path.to_owned())))
    })
}

pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
    with(|host| host.state.get(key).cloned())
}

pub(crate) fn state_set(key: &str, value: &[u8]) -> Result<(), StateError> {
    with(|host| {
        if let Some(cap_bytes) = host.state_cap_bytes {
            let others: usize = host
                .state
                .iter()
                .filter(|(other, _)| other.as_str() != key)
                .map(|(other, bytes)| other.len() + bytes.len())
                .sum();
            let total = others + key.len() + value.len();
            if u64::try_from(total).unwrap_or(u64::MAX) > cap_bytes {
                return Err(StateError::QuotaExceeded { cap_bytes });
            }
        }
        host.state.insert(key.to_owned(), value.to_vec());
        Ok(())
    })
}

pub(crate) fn state_delete(key: &str) {
    with(|host| host.state.remove(key));
}

pub(crate) fn state_keys() -> Vec<String> {
    with(|host| host.state.keys().cloned().collect())
}
