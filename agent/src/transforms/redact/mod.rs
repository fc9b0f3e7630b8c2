//! The `redact` transform: find secrets (and, if asked, personal data) in
//! log records and replace each, in place, with a marker such as
//! `[REDACTED:aws_access_key]`. Metrics and check results pass through.
//!
//! ```yaml
//! transforms:
//!   scrub:
//!     type: redact
//!     inputs: [app]
//!     pii: [email, credit_card]
//!     patterns:
//!       - { name: session_id, pattern: 'session=(?P<secret>[0-9a-f]{32})' }
//! ```
//!
//! Most lines hold no secret, so most lines should cost one pass: every
//! built-in detector has literal anchors (`AKIA`, `eyJ`, `://`,
//! `-----BEGIN`...) and one scan finds which of them occur (`anchors`);
//! only the detectors whose anchors were found (and those without any,
//! like card numbers and custom patterns) run their regex. What was
//! redacted is counted per detector; the values never reach the agent's
//! own logs, metrics or `/status`.

mod anchors;
mod config;
mod detectors;
mod redactor;

#[cfg(test)]
mod tests;

pub use config::{CustomPattern, RedactConfig};
pub use detectors::{AUTHORIZATION_SCHEMES, Check, PII, SECRETS, luhn};
pub use redactor::Redactor;

use crate::topology::{BoxedComponent, BuildError, TransformContext};

/// Build the redact transform `config` describes.
pub fn build(config: &RedactConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    let redactor = Redactor::new(config)?.with_metrics(&cx.metrics);
    Ok(super::run(redactor, cx))
}
