//! The judgement: given the certificates a source presented and the time,
//! how many days each has left, what is wrong with it or with the chain,
//! and the resulting status. Pure functions, no host calls.
//!
//! Statuses:
//!
//! - a certificate that has expired or is not valid yet: `critical`;
//! - one with fewer than `critical_days` left: `critical`, fewer than
//!   `warning_days`: `warning`;
//! - an endpoint whose chain TLS clients would reject (wrong host,
//!   self-signed, incomplete chain, untrusted root, other verification
//!   failure): `critical`;
//! - a source that could not be read (endpoint unreachable or not granted,
//!   file missing or unparseable): `unknown`.

use std::fmt;

use neurallog_plugin_sdk::Status;
use neurallog_plugin_sdk::clock::SECONDS_PER_DAY;
use neurallog_plugin_sdk::tls::Verification;

use crate::certificate::CertInfo;

/// The thresholds from the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Fewer days left than this is `warning`.
    pub warning_days: f64,
    /// Fewer days left than this is `critical`.
    pub critical_days: f64,
}

/// Where a certificate sits in its chain or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The server's own certificate (first of an endpoint's chain; a
    /// non-CA certificate in a file).
    Leaf,
    /// A CA certificate that is not self-signed.
    Intermediate,
    /// A self-signed CA certificate.
    Root,
}

/// One certificate, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct CertAssessment {
    /// Index in the chain or file, from 0.
    pub index: usize,
    /// Leaf, intermediate or root.
    pub position: Position,
    /// The certificate.
    pub info: CertInfo,
    /// Days until `not_after` (fractional; negative once expired).
    pub days_left: f64,
    /// `now` is past `not_after`.
    pub expired: bool,
    /// `now` is before `not_before`.
    pub not_yet_valid: bool,
    /// This certificate's status.
    pub status: Status,
}

/// Something wrong with an endpoint's chain as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The leaf is not valid for the name the endpoint was reached by.
    WrongHost {
        /// The name checked.
        name: String,
    },
    /// The leaf is self-signed and not trusted.
    SelfSigned,
    /// The chain does not lead to a trusted root and does not end in a root
    /// either: an intermediate is missing.
    IncompleteChain,
    /// The chain ends in a self-signed root that is not trusted.
    UntrustedRoot,
    /// The host rejected the chain for another reason.
    Rejected {
        /// The host's message.
        reason: String,
    },
}

/// Whether a source is a TLS endpoint or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A TLS endpoint, with the host's verification and the protocol
    /// version once a chain was read.
    Endpoint {
        /// The host's verification of the chain.
        verification: Option<Verification>,
        /// The negotiated TLS version.
        protocol_version: Option<String>,
    },
    /// A certificate file.
    File,
}

/// One endpoint or file, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAssessment {
    /// `host:port` or the file's path (or the pattern that matched nothing).
    pub source: String,
    /// Endpoint or file.
    pub kind: SourceKind,
    /// The certificates, in chain or file order.
    pub certificates: Vec<CertAssessment>,
    /// Chain-level problems (endpoints only).
    pub problems: Vec<ChainProblem>,
    /// Why the source could not be read, if it could not.
    pub error: Option<String>,
    /// The source's status: the worst of its certificates and problems.
    pub status: Status,
}

// === impl Position ===

impl Position {
    /// `leaf`, `intermediate` or `root`, as the `position` label shows it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Position::Leaf => "leaf",
            Position::Intermediate => "intermediate",
            Position::Root => "root",
        }
    }
}

// === impl ChainProblem ===

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::WrongHost { name } => write!(f, "certificate is not valid for {name}"),
            ChainProblem::SelfSigned => f.write_str("self-signed certificate"),
            ChainProblem::IncompleteChain => {
                f.write_str("incomplete chain: no trusted issuer (missing intermediate?)")
            }
            ChainProblem::UntrustedRoot => f.write_str("chain ends in an untrusted root"),
            ChainProblem::Rejected { reason } => write!(f, "rejected: {reason}"),
        }
    }
}

// === impl SourceAssessment ===

impl SourceAssessment {
    /// A source that could not be read: status `unknown`.
    #[must_use]
    pub fn failed(source: impl Into<String>, kind: SourceKind, error: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            kind,
            certificates: Vec::new(),
            problems: Vec::new(),
            error: Some(error.into()),
            status: Status::Unknown,
        }
    }
}

/// Judges one certificate at `now` (Unix seconds).
#[must_use]
pub fn assess_certificate(
    index: usize,
    position: Position,
    info: CertInfo,
    now: f64,
    thresholds: Thresholds,
) -> CertAssessment {
    let days_left = (info.not_after as f64 - now) / SECONDS_PER_DAY;
    let expired = now > info.not_after as f64;
    let not_yet_valid = now < info.not_before as f64;
    let status = if expired || not_yet_valid {
        Status::Critical
    } else {
        Status::from_lower_thresholds(days_left, thresholds.warning_days, thresholds.critical_days)
    };
    CertAssessment {
        index,
        position,
        info,
        days_left,
        expired,
        not_yet_valid,
        status,
    }
}

/// Judges the chain an endpoint presented. `expected_name` is the server
/// name (or host) the chain must be valid for.
#[must_use]
pub fn assess_endpoint(
    source: String,
    chain: Vec<CertInfo>,
    verification: Verification,
    protocol_version: String,
    expected_name: &str,
    now: f64,
    thresholds: Thresholds,
) -> SourceAssessment {
    let problems = chain_problems(&chain, &verification, expected_name, now);
    let certificates: Vec<CertAssessment> = chain
        .into_iter()
        .enumerate()
        .map(|(index, info)| {
            let position = match index {
                0 => Position::Leaf,
                _ if info.self_signed => Position::Root,
                _ => Position::Intermediate,
            };
            assess_certificate(index, position, info, now, thresholds)
        })
        .collect();
    let kind = SourceKind::Endpoint {
        verification: Some(verification),
        protocol_version: Some(protocol_version),
    };
    if certificates.is_empty() {
        return SourceAssessment::failed(source, kind, "the server sent no certificate");
    }
    let status = Status::worst_of(
        certificates
            .iter()
            .map(|cert| cert.status)
            .chain(problems.iter().map(|_| Status::Critical)),
    );
    SourceAssessment {
        source,
        kind,
        certificates,
        problems,
        error: None,
        status,
    }
}

/// What makes TLS clients reject the chain, besides expiry (which each
/// certificate's own assessment reports). The host verifies first; its
/// verdict names only the first failure it met, so the name is checked here
/// too whenever the host did not accept the chain.
fn chain_problems(
    chain: &[CertInfo],
    verification: &Verification,
    expected_name: &str,
    now: f64,
) -> Vec<ChainProblem> {
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let name_mismatch = matches!(verification, Verification::NameMismatch(_))
        || (!verification.is_valid() && !leaf.matches_name(expected_name));
    if name_mismatch {
        problems.push(ChainProblem::WrongHost {
            name: expected_name.to_owned(),
        });
    }
    match verification {
        Verification::Valid | Verification::NameMismatch(_) => {}
        Verification::UnknownIssuer(_) => problems.push(if leaf.self_signed {
            ChainProblem::SelfSigned
        } else if chain.len() > 1 && chain.last().is_some_and(|last| last.self_signed) {
            ChainProblem::UntrustedRoot
        } else {
            ChainProblem::IncompleteChain
        }),
        Verification::Expired(reason) | Verification::NotYetValid(reason) => {
            // Normally a certificate's own dates already say so; if the
            // host's clock disagrees with the plugin's, keep the host's word.
            let dated = chain
                .iter()
                .any(|cert| now > cert.not_after as f64 || now < cert.not_before as f64);
            if !dated {
                problems.push(ChainProblem::Rejected {
                    reason: reason.clone(),
                });
            }
        }
        Verification::Invalid(reason) => problems.push(ChainProblem::Rejected {
            reason: reason.clone(),
        }),
    }
    problems
}

/// Judges the certificates of one file.
#[must_use]
pub fn assess_file(
    source: String,
    certificates: Vec<CertInfo>,
    now: f64,
    thresholds: Thresholds,
) -> SourceAssessment {
    let certificates: Vec<CertAssessment> = certificates
        .into_iter()
        .enumerate()
        .map(|(index, info)| {
            let position = match (info.is_ca, info.self_signed) {
                (true, true) => Position::Root,
                (true, false) => Position::Intermediate,
                (false, _) => Position::Leaf,
            };
            assess_certificate(index, position, info, now, thresholds)
        })
        .collect();
    let status = Status::worst_of(certificates.iter().map(|cert| cert.status));
    SourceAssessment {
        source,
        kind: SourceKind::File,
        certificates,
        problems: Vec::new(),
        error: None,
        status,
    }
}

#[cfg(test)]
mod tests;
