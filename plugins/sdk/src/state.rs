//! A small key-value store the host keeps for each check, across runs and
//! agent restarts. Each run is a fresh instance, so this is the only memory a
//! check has: use it for counters and trends (for example disk usage history
//! to estimate days-to-full). The host caps its total size; keep values
//! small and bounded.
//!
//! ```no_run
//! use neurallog_plugin_sdk::state;
//!
//! let runs: u64 = state::get_json("runs")?.unwrap_or(0) + 1;
//! state::set_json("runs", &runs)?;
//! # Ok::<(), state::StateError>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The write would take the plugin's state over its size cap.
    #[error("state quota of {cap_bytes} bytes exceeded")]
    QuotaExceeded {
        /// The cap, in bytes.
        cap_bytes: u64,
    },
    /// The host could not persist the state.
    #[error("state could not be saved: {0}")]
    Failed(String),
    /// The value under `key` is not the JSON [`get_json`] expected, or the
    /// value given to [`set_json`] cannot be serialized.
    #[error("state key {key:?} holds no valid JSON for this type: {source}")]
    Json {
        /// The key read or written.
        key: String,
        /// What serde_json reported.
        source: serde_json::Error,
    },
}

/// The value stored under `key`, if any.
#[must_use]
pub fn get(key: &str) -> Option<Vec<u8>> {
    crate::host::imp::state_get(key)
}

/// Stores `value` under `key`, replacing any earlier value.
///
/// # Errors
///
/// [`StateError::QuotaExceeded`] when the write would exceed the cap, and
/// [`StateError::Failed`] when the host could not persist it.
pub fn set(key: &str, value: &[u8]) -> Result<(), StateError> {
    crate::host::imp::state_set(key, value)
}

/// Removes `key` (nothing happens when it is absent).
pub fn delete(key: &str) {
    crate::host::imp::state_delete(key);
}

/// All keys currently stored, in lexical order.
#[must_use]
pub fn keys() -> Vec<String> {
    crate::host::imp::state_keys()
}

/// The JSON value stored under `key`, deserialized into `T`, or `None` when
/// the key is absent.
///
/// # Errors
///
/// [`StateError::Json`] when the stored bytes are not a valid `T` (for
/// example after the plugin changed its state format); most checks log it
/// and start afresh.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, StateError> {
    get(key)
        .map(|bytes| serde_json::from_slice(&bytes))
        .transpose()
        .map_err(|source| StateError::Json {
            key: key.to_owned(),
            source,
        })
}

/// Stores `value` as JSON under `key`.
///
/// # Errors
///
/// As [`set`], plus [`StateError::Json`] when `value` cannot be serialized.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|source| StateError::Json {
        key: key.to_owned(),
        source,
    })?;
    set(key, &bytes)
}
