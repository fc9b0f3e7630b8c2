//! What one run of a check reports: a [`Status`], a one-line summary,
//! [`Metric`]s and free-form [`Detail`]s.
//!
//! A check usually evaluates several things (certificates, mounts, backup
//! sets), gives each a status, and reports the worst of them:
//!
//! ```
//! use neurallog_plugin_sdk::{CheckResult, Metric, Status};
//!
//! let statuses = [Status::Ok, Status::Warning, Status::Ok];
//! let result = CheckResult::new(Status::worst_of(statuses), "3 mounts, 1 above 85%")
//!     .metric(Metric::gauge("disk_usage_percent", 91.2).unit("%").label("mountpoint", "/var"))
//!     .detail("/var", "91.2% used");
//! assert_eq!(result.status, Status::Warning);
//! ```

use std::fmt;

use crate::metric::Metric;

/// The outcome of a check.
///
/// The variants are declared in order of severity, so `Ord` compares them by
/// severity: `Ok < Warning < Unknown < Critical`. A definite problem
/// (`Critical`) outranks a check that could not tell (`Unknown`), so that
/// one unreachable endpoint does not hide an expired certificate on another.
/// On the wire (WIT `status`) the cases keep their Nagios-style order `ok`,
/// `warning`, `critical`, `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Status {
    /// Everything is fine.
    #[default]
    Ok,
    /// Something needs attention soon (for example a certificate expiring
    /// within the warning threshold).
    Warning,
    /// The check could not tell (for example an endpoint it could not reach).
    Unknown,
    /// Something needs attention now (an expired certificate, a full disk).
    Critical,
}

/// What one run of a check found: status, summary, metrics and details.
///
/// Build one with [`CheckResult::new`] (or [`CheckResult::ok`] and friends)
/// and the chaining methods; the fields are public so that tests can assert
/// on them directly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckResult {
    /// Overall status of the check.
    pub status: Status,
    /// One line for humans, for example `3 certificates, 1 expires in 5 days`.
    pub summary: String,
    /// Measurements, exported by the agent over OTLP and Prometheus with the
    /// check's name as an extra `check` label.
    pub metrics: Vec<Metric>,
    /// Free-form key/value details, shown in the agent's `/status` and logs.
    pub details: Vec<Detail>,
}

/// A key/value pair of free-form detail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Detail {
    /// Detail name.
    pub key: String,
    /// Detail value.
    pub value: String,
}

// === impl Status ===

impl Status {
    /// The worse of `self` and `other` (see the type's docs for the order).
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }

    /// The worst status of all given, or [`Status::Ok`] when there are none.
    #[must_use]
    pub fn worst_of(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses.into_iter().max().unwrap_or_default()
    }

    /// The status as the agent spells it: `ok`, `warning`, `critical` or
    /// `unknown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Unknown => "unknown",
            Status::Critical => "critical",
        }
    }

    /// Maps a value against "lower is worse" thresholds: `Critical` when
    /// `value < critical`, `Warning` when `value < warning`, else `Ok`.
    /// Used for things like days until a certificate expires.
    #[must_use]
    pub fn from_lower_thresholds(value: f64, warning: f64, critical: f64) -> Status {
        if value < critical {
            Status::Critical
        } else if value < warning {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    /// Maps a value against "higher is worse" thresholds: `Critical` when
    /// `value >= critical`, `Warning` when `value >= warning`, else `Ok`.
    /// Used for things like percent of a disk in use.
    #[must_use]
    pub fn from_upper_thresholds(value: f64, warning: f64, critical: f64) -> Status {
        if value >= critical {
            Status::Critical
        } else if value >= warning {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl CheckResult ===

impl CheckResult {
    /// A result with the given status and summary, and no metrics or details.
    #[must_use]
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Self {
            status,
            summary: summary.into(),
            metrics: Vec::new(),
            details: Vec::new(),
        }
    }

    /// A result with status [`Status::Ok`].
    #[must_use]
    pub fn ok(summary: impl Into<String>) -> Self {
        Self::new(Status::Ok, summary)
    }

    /// A result with status [`Status::Warning`].
    #[must_use]
    pub fn warning(summary: impl Into<String>) -> Self {
        Self::new(Status::Warning, summary)
    }

    /// A result with status [`Status::Critical`].
    #[must_use]
    pub fn critical(summary: impl Into<String>) -> Self {
        Self::new(Status::Critical, summary)
    }

    /// A result with status [`Status::Unknown`].
    #[must_use]
    pub fn unknown(summary: impl Into<String>) -> Self {
        Self::new(Status::Unknown, summary)
    }

    /// Adds one metric.
    #[must_use]
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }

    /// Adds several metrics.
    #[must_use]
    pub fn metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
        self.metrics.extend(metrics);
        self
    }

    /// Adds one detail.
    #[must_use]
    pub fn detail(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.push_detail(key, value);
        self
    }

    /// Adds one metric to a result held by `&mut`.
    pub fn push_metric(&mut self, metric: Metric) {
        self.metrics.push(metric);
    }

    /// Adds one detail to a result held by `&mut`.
    pub fn push_detail(&mut self, key: impl Into<String>, value: impl ToString) {
        self.details.push(Detail {
            key: key.into(),
            value: value.to_string(),
        });
    }

    /// The metrics named `name`, in the order they were added.
    pub fn metrics_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Metric> + 'a {
        self.metrics
            .iter()
            .filter(move |metric| metric.name == name)
    }

    /// The value of the first detail named `key`.
    #[must_use]
    pub fn detail_value(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|detail| detail.key == key)
            .map(|detail| detail.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_outranks_unknown_and_unknown_outranks_warning() {
        assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Ok.worst(Status::Warning), Status::Warning);
        assert_eq!(Status::worst_of([]), Status::Ok);
        assert_eq!(
            Status::worst_of([Status::Ok, Status::Critical, Status::Warning]),
            Status::Critical
        );
    }

    #[test]
    fn thresholds_are_inclusive_on_the_bad_side() {
        assert_eq!(Status::from_lower_thresholds(30.0, 30.0, 7.0), Status::Ok);
        assert_eq!(
            Status::from_lower_thresholds(29.9, 30.0, 7.0),
            Status::Warning
        );
        assert_eq!(
            Status::from_lower_thresholds(6.9, 30.0, 7.0),
            Status::Critical
        );
        assert_eq!(Status::from_upper_thresholds(84.9, 85.0, 95.0), Status::Ok);
        assert_eq!(
            Status::from_upper_thresholds(85.0, 85.0, 95.0),
            Status::Warning
        );
        assert_eq!(
            Status::from_upper_thresholds(95.0, 85.0, 95.0),
            Status::Critical
        );
    }

    #[test]
    fn builder_keeps_metrics_and_details_in_order() {
        let result = CheckResult::warning("two things")
            .metric(Metric::gauge("a", 1.0))
            .metric(Metric::gauge("b", 2.0))
            .metric(Metric::gauge("a", 3.0))
            .detail("k", 42);
        let values: Vec<f64> = result.metrics_named("a").map(|m| m.value).collect();
        assert_eq!(values, vec![1.0, 3.0]);
        assert_eq!(result.detail_value("k"), Some("42"));
        assert_eq!(result.status.to_string(), "warning");
    }
}
