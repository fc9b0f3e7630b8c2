//! Authentication and tenancy headers of HTTP sinks: a fixed headers map,
//! `Authorization: Bearer <token>` read from a file (re-read when the file
//! changes, and after every refusal of the token, so rotated secrets take
//! effect without a restart), and a tenant header.
//!
//! Secrets are held in [`Secret`], which never prints or serializes its
//! value: they stay out of logs, `/status` and `print-config`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{ConfigError, FieldPath};

/// What a [`Secret`] serializes and prints as.
pub const REDACTED: &str = "<redacted>";

/// A string that must not be shown: it prints and serializes as
/// `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

/// Authentication of a sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// A file holding a bearer token, sent as `Authorization: Bearer
    /// <token>` (surrounding whitespace is trimmed). The file is checked
    /// before each request and re-read when it changed, so a rotated token
    /// is used without a restart.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
}

/// The tenant a sink's data belongs to, sent as a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The header's name.
    #[serde(default = "default_tenant_header")]
    pub header: String,
    /// The tenant's id. Empty (an unset `${VAR:-}`) sends no header, so one
    /// configuration serves single- and multi-tenant ingests.
    pub id: String,
}

/// Errors building or refreshing the headers.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token file cannot be read.
    #[error("cannot read bearer token file {path}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file is empty or holds bytes a header cannot carry.
    #[error("bearer token file {path} holds no usable token (empty, or not a valid header value)")]
    BadToken {
        /// The file.
        path: PathBuf,
    },
    /// A header name or value is invalid.
    #[error("header {name:?} is not a valid HTTP header")]
    Header {
        /// The header's name.
        name: String,
    },
}

/// The headers a sink adds to every request.
#[derive(Debug)]
pub struct RequestHeaders {
    fixed: HeaderMap,
    token: Option<TokenFile>,
}

#[derive(Debug)]
struct TokenFile {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    value: HeaderValue,
}

// === impl Secret ===

impl Secret {
    /// Wrap `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

// === impl TenantConfig ===

fn default_tenant_header() -> String {
    "X-Scope-OrgID".to_owned()
}

// === validation ===

/// Check headers, auth and tenant settings (no I/O).
pub fn validate(
    headers: &IndexMap<String, Secret>,
    auth: &AuthConfig,
    tenant: Option<&TenantConfig>,
    path: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    for (name, value) in headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(
                path.field("headers")
                    .field(name)
                    .error("is not a valid HTTP header name"),
            );
        } else if HeaderValue::from_str(value.expose()).is_err() {
            // The value is a secret: say what is wrong without echoing it.
            errors.push(path.field("headers").field(name).error(
                "the value is not a valid HTTP header value (control characters or non-ASCII)",
            ));
        }
        if name.eq_ignore_ascii_case("authorization") && auth.bearer_token_file.is_some() {
            errors.push(path.field("headers").field(name).error(
                "conflicts with auth.bearer_token_file: set the Authorization header one way",
            ));
        }
    }
    if let Some(file) = &auth.bearer_token_file
        && file.as_os_str().is_empty()
    {
        errors.push(
            path.field("auth")
                .field("bearer_token_file")
                .error("must not be empty: expected a file path"),
        );
    }
    if let Some(tenant) = tenant {
        let path = path.field("tenant");
        if HeaderName::from_bytes(tenant.header.as_bytes()).is_err() {
            errors.push(path.field("header").error(format!(
                "{:?} is not a valid HTTP header name",
                tenant.header
            )));
        }
        if HeaderValue::from_str(&tenant.id).is_err() {
            errors.push(
                path.field("id")
                    .error("expected a tenant id of visible ASCII characters"),
            );
        }
    }
}

// === impl RequestHeaders ===

impl RequestHeaders {
    /// Build the headers, reading the token file once.
    pub fn new(
        headers: &IndexMap<String, Secret>,
        auth: &AuthConfig,
        tenant: Option<&TenantConfig>,
    ) -> Result<Self, AuthError> {
        let mut fixed = HeaderMap::new();
        for (name, value) in headers {
            let bad = || AuthError::Header { name: name.clone() };
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| bad())?;
            value.set_sensitive(true);
            fixed.insert(header, value);
        }
        if let Some(tenant) = tenant.filter(|t| !t.id.is_empty()) {
            let bad = || AuthError::Header {
                name: tenant.header.clone(),
            };
            let header = HeaderName::from_bytes(tenant.header.as_bytes()).map_err(|_| bad())?;
            fixed.insert(
                header,
                HeaderValue::from_str(&tenant.id).map_err(|_| bad())?,
            );
        }
        let token = match &auth.bearer_token_file {
            Some(path) => Some(TokenFile::load(path)?),
            None => None,
        };
        Ok(RequestHeaders { fixed, token })
    }

    /// Re-read the token file if it changed. On failure the last good token
    /// stays in use and the error is returned for the caller to report.
    pub fn refresh(&mut self) -> Result<bool, AuthError> {
        match &mut self.token {
            Some(token) => token.refresh(false),
            None => Ok(false),
        }
    }

    /// Re-read the token file whether or not it looks changed: after the
    /// receiver refused the token, a rewrite that kept the file's size and
    /// modification time must not go unnoticed. Returns whether the token
    /// changed; on failure the last good token stays in use.
    pub fn reload(&mut self) -> Result<bool, AuthError> {
        match &mut self.token {
            Some(token) => token.refresh(true),
            None => Ok(false),
        }
    }

    /// Add the headers to a request's.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.fixed {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(token) = &self.token {
            headers.insert(http::header::AUTHORIZATION, token.value.clone());
        }
    }
}

// === impl TokenFile ===

impl TokenFile {
    fn load(path: &Path) -> Result<Self, AuthError> {
        let stamp = stamp(path);
        let value = read_token(path)?;
        Ok(TokenFile {
            path: path.to_owned(),
            stamp,
            value,
        })
    }

    fn refresh(&mut self, force: bool) -> Result<bool, AuthError> {
        let stamp = stamp(&self.path);
        if !force && stamp.is_some() && stamp == self.stamp {
            return Ok(false);
        }
        let value = read_token(&self.path)?;
        self.stamp = stamp;
        let changed = value != self.value;
        self.value = value;
        Ok(changed)
    }
}

/// Modification time and size: a rotated file (Kubernetes swaps a symlink,
/// operators rewrite in place) changes one of them.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read_token(path: &Path) -> Result<HeaderValue, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim();
    let bad = || AuthError::BadToken {
        path: path.to_owned(),
    };
    if token.is_empty() {
        return Err(bad());
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| bad())?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_shows() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
        let back: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(back.expose(), "hunter2");
        assert_eq!(back, secret);
    }

    #[test]
    fn token_is_reread_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let auth = AuthConfig {
            bearer_token_file: Some(path.clone()),
        };
        let tenant = TenantConfig {
            header: "X-Tenant".into(),
            id: "acme".into(),
        };
        let mut fixed = IndexMap::new();
        fixed.insert("X-Api-Key".to_owned(), Secret::new("k"));
        let mut headers = RequestHeaders::new(&fixed, &auth, Some(&tenant)).unwrap();
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert_eq!(map["authorization"], "Bearer first");
        assert_eq!(map["x-tenant"], "acme");
        assert_eq!(map["x-api-key"], "k");
        assert!(!headers.refresh().unwrap(), "unchanged file is not re-read");

        std::fs::write(&path, "second-token").unwrap();
        assert!(headers.refresh().unwrap());
        headers.apply(&mut map);
        assert_eq!(map["authorization"], "Bearer second-token");

        std::fs::remove_file(&path).unwrap();
        assert!(headers.refresh().is_err());
        headers.apply(&mut map);
        assert_eq!(
            map["authorization"], "Bearer second-token",
            "the last good token stays in use"
        );
    }

    #[test]
    fn reload_reads_a_token_rewritten_with_the_same_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "aaaa").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let auth = AuthConfig {
            bearer_token_file: Some(path.clone()),
        };
        let mut headers = RequestHeaders::new(&IndexMap::new(), &auth, None).unwrap();

        std::fs::write(&path, "bbbb").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert!(!headers.refresh().unwrap(), "the stamp looks unchanged");
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert_eq!(map["authorization"], "Bearer aaaa");

        assert!(headers.reload().unwrap());
        headers.apply(&mut map);
        assert_eq!(map["authorization"], "Bearer bbbb");
        assert!(!headers.reload().unwrap(), "read again, but the same token");
    }

    #[test]
    fn an_empty_tenant_id_sends_no_header() {
        let tenant = TenantConfig {
            header: "X-Tenant".into(),
            id: String::new(),
        };
        let mut errors = Vec::new();
        let auth = AuthConfig::default();
        validate(
            &IndexMap::new(),
            &auth,
            Some(&tenant),
            &FieldPath::root(),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let headers = RequestHeaders::new(&IndexMap::new(), &auth, Some(&tenant)).unwrap();
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert!(!map.contains_key("x-tenant"), "{map:?}");
    }

    #[test]
    fn validation_does_not_echo_secret_values() {
        let mut headers = IndexMap::new();
        headers.insert("X-Key".to_owned(), Secret::new("bad\nsecret"));
        headers.insert("Authorization".to_owned(), Secret::new("Basic x"));
        let auth = AuthConfig {
            bearer_token_file: Some("/run/token".into()),
        };
        let mut errors = Vec::new();
        validate(&headers, &auth, None, &FieldPath::root(), &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        for error in &errors {
            assert!(!error.message.contains("secret"), "{error}");
        }
    }
}
