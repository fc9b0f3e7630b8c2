//! Results of check runs (the Wasm plugins).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::value::{Attributes, Resource};

/// The outcome of a check, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    /// All good.
    Ok,
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
    /// The check could not tell, or the run failed.
    Unknown,
}

/// The result of one run of a check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check's name in the agent configuration.
    pub name: Arc<str>,
    /// The plugin that ran, e.g. `cert-expiry`.
    pub plugin: Arc<str>,
    /// Overall status.
    pub status: CheckStatus,
    /// One line for humans.
    pub summary: String,
    /// Free-form details.
    pub details: Attributes,
    /// When the run finished, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// The producing resource (the host).
    pub resource: Arc<Resource>,
}

// === impl CheckStatus ===

impl CheckStatus {
    /// The lowercase name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Unknown => "unknown",
        }
    }

    /// The numeric value of `neurallog_check_status`: 0 ok, 1 warning,
    /// 2 critical, 3 unknown (the Nagios convention operators know).
    pub fn code(self) -> u8 {
        match self {
            CheckStatus::Ok => 0,
            CheckStatus::Warning => 1,
            CheckStatus::Critical => 2,
            CheckStatus::Unknown => 3,
        }
    }

    /// The OpenTelemetry severity number a log event of this status gets.
    pub fn severity_number(self) -> i32 {
        match self {
            CheckStatus::Ok => 9,        // INFO
            CheckStatus::Warning => 13,  // WARN
            CheckStatus::Critical => 17, // ERROR
            CheckStatus::Unknown => 13,  // WARN
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CheckStatus> for Cow<'static, str> {
    fn from(status: CheckStatus) -> Self {
        Cow::Borrowed(status.as_str())
    }
}
