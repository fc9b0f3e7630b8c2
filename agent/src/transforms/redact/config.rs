//! The redact transform's configuration.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

use super::detectors::{SECRETS, pii_detector};

/// Replace secrets (and, if asked, personal data) in log records with a
/// marker, in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Run the built-in secret detectors: `authorization_header`,
    /// `bearer_token`, `url_password`, `aws_access_key`, `aws_secret_key`,
    /// `gcp_api_key`, `gcp_service_account_key`, `private_key` (PEM and
    /// OpenPGP blocks), `jwt`, `github_token`, `slack_token`, `stripe_key`,
    /// `gitlab_token`, `npm_token`, `sendgrid_key`, `sk_api_key` (`sk-…`
    /// keys of AI APIs), `slack_webhook`, `cookie` (the `Cookie` and
    /// `Set-Cookie` headers' pairs) and `secret_field` (the value of a
    /// field named like a password, a secret, a token or a key, also as a
    /// command line's `--password VALUE` and XML's `<password>`).
    #[serde(default = "default_secrets")]
    pub secrets: bool,
    /// Personal-data detectors to run as well: `email`, `credit_card`
    /// (13 to 19 digits, the first 2 to 6, that pass the Luhn check), `ipv4`,
    /// `ipv6`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<String>,
    /// Patterns of your own, each with a `name` (its marker and counter
    /// label) and a `pattern`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<CustomPattern>,
    /// Redact the record's own string attributes too (those a `parse`
    /// found, say), not only its body. Shared attributes and the resource
    /// come from the agent's configuration and are left alone.
    #[serde(default = "default_attributes")]
    pub attributes: bool,
    /// What replaces a value found; `{detector}` stands for the
    /// detector's name. It begins and ends with a character that is not
    /// part of a word (not a letter, a digit or `_`).
    #[serde(default = "default_marker")]
    pub marker: String,
}

/// A pattern of your own to redact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// The detector's name (letters, digits and `_`), used in the marker
    /// and in the `detector` label of
    /// `neurallog_agent_transform_redactions_total`.
    pub name: String,
    /// A regular expression (Rust `regex` syntax). The whole match is
    /// replaced, or only the capture group named `secret` if it has one
    /// (`token=(?P<secret>\w+)` keeps `token=`); with alternatives, the
    /// first group that took part of those whose names start with `secret`.
    pub pattern: String,
}

fn default_secrets() -> bool {
    true
}

fn default_attributes() -> bool {
    true
}

fn default_marker() -> String {
    "[REDACTED:{detector}]".to_owned()
}

// === impl RedactConfig ===

impl Validate for RedactConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        for (i, name) in self.pii.iter().enumerate() {
            if pii_detector(name).is_none() {
                errors.push(path.field("pii").index(i).error(format!(
                    "`{name}` is not a detector: expected `email`, `credit_card`, `ipv4` or `ipv6`"
                )));
            }
        }
        for (i, custom) in self.patterns.iter().enumerate() {
            let path = path.field("patterns").index(i);
            let name = &custom.name;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                errors.push(path.field("name").error(format!(
                    "{name:?} is not a detector name: expected letters, digits and `_`"
                )));
            } else if SECRETS.iter().any(|d| d.name == name)
                || pii_detector(name).is_some()
                || self.patterns[..i].iter().any(|p| p.name == *name)
            {
                errors.push(path.field("name").error(format!(
                    "`{name}` is already a detector's name: expected a name of its own"
                )));
            }
            if let Err(error) = regex::Regex::new(&custom.pattern) {
                errors.push(path.field("pattern").error(format!(
                    "{:?} is not a valid regex: {error}",
                    custom.pattern
                )));
            }
        }
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let shown = self.marker.replace("{detector}", "name");
        if self.marker.is_empty() {
            errors.push(
                path.field("marker")
                    .error("is empty: expected the text that replaces a value found"),
            );
        } else if word(shown.chars().next()) || word(shown.chars().next_back()) {
            // Detectors run one after another over what the ones before
            // left: `Bearer REDACTEDAKIA…` no longer has the word boundary
            // before the AWS key that the next detector looks for.
            errors.push(path.field("marker").error(format!(
                "{:?} starts or ends with a letter, a digit or `_`: expected it to begin and end \
                 with another character, like the default `[REDACTED:{{detector}}]`, so that it \
                 never reads as one word with the text next to it (a secret right after \
                 another could then go unseen)",
                self.marker
            )));
        }
        if !self.secrets && self.pii.is_empty() && self.patterns.is_empty() {
            errors.push(path.error(
                "redacts nothing: expected `secrets: true`, a `pii` detector or a `patterns` entry",
            ));
        }
    }
}
