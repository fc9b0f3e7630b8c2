//! Log lines from the plugin, forwarded to the agent's log with the check's
//! name. The host caps the number of lines per run, so log what an operator
//! needs, not every step.
//!
//! ```
//! use neurallog_plugin_sdk::{info, warn};
//!
//! let mount = "/var";
//! info!("Checked {mount}.");
//! warn!("State for {mount} was unreadable and is reset.");
//! ```
//!
//! Natively (in `cargo test`) the lines go to stderr and are recorded for
//! [`crate::testing::logs`].

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very verbose tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the check worked around.
    Warn,
    /// Something failed.
    Error,
}

/// Writes one log line at `level`.
pub fn log(level: Level, message: &str) {
    crate::host::imp::log(level, message);
}

/// Writes one line at [`Level::Trace`]. Takes `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Writes one line at [`Level::Debug`]. Takes `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Writes one line at [`Level::Info`]. Takes `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Writes one line at [`Level::Warn`]. Takes `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Writes one line at [`Level::Error`]. Takes `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}
