//! Why a request to the kubelet failed, with a stable class per kind for
//! the `error_type` label.

use std::path::PathBuf;

use http::StatusCode;

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// No connection (refused, DNS, TLS handshake).
    #[error("kubelet at {endpoint} cannot be reached: {message}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// No complete answer within `timeout_ms`.
    #[error("kubelet at {endpoint} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The deadline.
        timeout_ms: u64,
    },
    /// An answer other than 200.
    #[error("kubelet answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The answer could not be read or used.
    #[error("kubelet's answer is not valid: {0}")]
    BadResponse(String),
    /// The token file could not be read.
    #[error("cannot read the token file {}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("TLS: {0}")]
    Tls(String),
}

// === impl KubeletError ===

impl KubeletError {
    /// A stable class for `error_type` (after `kubelet_`).
    pub fn error_type(&self) -> &'static str {
        match self {
            KubeletError::Unreachable { .. } => "unreachable",
            KubeletError::Timeout { .. } => "timeout",
            KubeletError::Status { .. } => "http_status",
            KubeletError::BadResponse(_) => "bad_response",
            KubeletError::Token { .. } => "token_read_failed",
            KubeletError::Tls(_) => "tls_config",
        }
    }
}
