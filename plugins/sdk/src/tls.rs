//! The TLS certificate chain a server presents, read by the host.
//!
//! A plugin has no network access of its own. [`peer_certificates`] asks the
//! host to connect to `host:port`, perform a TLS handshake and return the
//! chain the server sent, together with the host's own verification of it.
//! The chain comes back even when verification fails, so a check can report
//! on expired, self-signed or misnamed certificates. Only the targets listed
//! under the check's `grants.tls_targets` in the agent's configuration can be
//! probed.
//!
//! ```no_run
//! use neurallog_plugin_sdk::tls::{self, Verification};
//!
//! let chain = tls::peer_certificates("example.com", 443, None)?;
//! if let Verification::NameMismatch(why) = &chain.verification {
//!     println!("wrong host: {why}");
//! }
//! println!("{} certificates over {}", chain.certificates.len(), chain.protocol_version);
//! # Ok::<(), tls::ProbeError>(())
//! ```

/// What the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerChain {
    /// DER-encoded certificates in the order the server sent them; the leaf
    /// comes first.
    pub certificates: Vec<Vec<u8>>,
    /// The host's verification of the chain for the server name.
    pub verification: Verification,
    /// The negotiated protocol version, for example `TLSv1.3`.
    pub protocol_version: String,
}

/// How the host's verification of a chain turned out. Each failure carries
/// the host's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The chain is valid for the server name against the host's trust roots
    /// (and any extra CA files configured for the plugin).
    Valid,
    /// The leaf is not valid for the server name asked for.
    NameMismatch(String),
    /// A certificate in the chain has expired.
    Expired(String),
    /// A certificate in the chain is not valid yet.
    NotYetValid(String),
    /// No trust root signs the chain (self-signed or incomplete chain).
    UnknownIssuer(String),
    /// Any other reason verification failed.
    Invalid(String),
}

/// Why no chain could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The target is not among the TLS targets granted to this plugin.
    #[error("not allowed (add it to the check's grants.tls_targets): {0}")]
    NotAllowed(String),
    /// The TCP connection failed (refused, unreachable, DNS).
    #[error("connection failed: {0}")]
    ConnectFailed(String),
    /// The TLS handshake failed before the server sent a certificate.
    #[error("TLS handshake failed: {0}")]
    HandshakeFailed(String),
    /// The probe did not finish within the host's deadline.
    #[error("timed out")]
    TimedOut,
}

/// Connects to `host:port`, performs a TLS handshake sending `server_name`
/// as SNI (or `host` when `None`), and returns the chain the server
/// presented.
///
/// # Errors
///
/// A [`ProbeError`] when the target is not granted, cannot be reached, the
/// handshake fails before a certificate is sent, or the probe times out.
pub fn peer_certificates(
    host: &str,
    port: u16,
    server_name: Option<&str>,
) -> Result<PeerChain, ProbeError> {
    crate::host::imp::peer_certificates(host, port, server_name)
}

// === impl Verification ===

impl Verification {
    /// Whether the host found the chain valid.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        matches!(self, Verification::Valid)
    }

    /// A short name for the outcome: `valid`, `name-mismatch`, `expired`,
    /// `not-yet-valid`, `unknown-issuer` or `invalid`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Verification::Valid => "valid",
            Verification::NameMismatch(_) => "name-mismatch",
            Verification::Expired(_) => "expired",
            Verification::NotYetValid(_) => "not-yet-valid",
            Verification::UnknownIssuer(_) => "unknown-issuer",
            Verification::Invalid(_) => "invalid",
        }
    }

    /// The host's message, empty for [`Verification::Valid`].
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Verification::Valid => "",
            Verification::NameMismatch(message)
            | Verification::Expired(message)
            | Verification::NotYetValid(message)
            | Verification::UnknownIssuer(message)
            | Verification::Invalid(message) => message,
        }
    }
}
