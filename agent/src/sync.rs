//! Locking that outlives a panic.
//!
//! The agent's shared state behind a `Mutex` is plain data (maps of
//! atomics, status fields, header maps) that stays consistent when a holder
//! panics between statements, and a panic in one component must not take
//! `/metrics` or `/status` down with it. So a poisoned lock is used as it
//! is, here, in one place.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `mutex`, poisoned or not.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
