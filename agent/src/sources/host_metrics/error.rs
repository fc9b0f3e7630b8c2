//! What can go wrong while collecting host metrics.

use std::path::PathBuf;

/// A collector could not read or understand its input. The other
/// collectors carry on; the failure is logged and counted.
#[derive(Debug, thiserror::Error)]
pub enum HostMetricsError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file did not have the expected format.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// `statvfs` on the mounted filesystems did not return in time (a hung
    /// network mount). Filesystems are skipped until it returns.
    #[error(
        "statvfs of the mounted filesystems took longer than {timeout_ms} ms; filesystem metrics are skipped until it returns"
    )]
    StatTimeout {
        /// The configured limit.
        timeout_ms: u64,
    },
}

// === impl HostMetricsError ===

impl HostMetricsError {
    /// A stable `snake_case` class for the `error_type` label.
    pub fn error_type(&self) -> &'static str {
        match self {
            HostMetricsError::Read { .. } => "read_failed",
            HostMetricsError::Parse { .. } => "parse_failed",
            HostMetricsError::StatTimeout { .. } => "statvfs_timeout",
        }
    }
}
