//! The `cert-expiry` configuration: which endpoints and files to check and
//! the thresholds in days. `plugins/cert-expiry/README.md` documents it for
//! operators; the JSON Schema returned by `describe` is derived from the doc
//! comments here.

use std::fmt;

use neurallog_plugin_sdk::RunError;
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Configuration of the `cert-expiry` check. At least one endpoint or file
/// is required.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// TLS endpoints to probe, each `"host:port"` (IPv6 as `"[::1]:443"`) or
    /// `{"address": "host:port", "server_name": "name"}` to send a different
    /// SNI name and check the certificate against it. Each must also be
    /// listed in the check's `grants.tls_targets`.
    #[serde(default)]
    #[schemars(with = "Vec<EndpointSpec>")]
    pub endpoints: Vec<Endpoint>,
    /// Certificate files (PEM, possibly several certificates, or DER): absolute
    /// paths or glob patterns such as `/etc/ssl/certs/*.pem` or
    /// `/etc/letsencrypt/live/*/fullchain.pem`, inside directories listed in
    /// the check's `grants.directories`. Files a pattern matches that hold no
    /// certificate (private keys) are skipped.
    #[serde(default)]
    pub files: Vec<String>,
    /// A certificate expiring in fewer days than this makes the check
    /// `warning`.
    #[serde(default = "default_warning_days")]
    pub warning_days: f64,
    /// A certificate expiring in fewer days than this makes the check
    /// `critical` (so does an expired or not-yet-valid one).
    #[serde(default = "default_critical_days")]
    pub critical_days: f64,
}

/// A TLS endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address to connect to (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Name sent as SNI and checked against the certificate; the host when
    /// not set.
    pub server_name: Option<String>,
}

/// How an endpoint is written in the config (for the JSON Schema).
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "only describes the accepted shapes to schemars")]
enum EndpointSpec {
    /// `"host:port"`.
    Address(String),
    /// An address with a server name.
    Full(EndpointObject),
}

/// `{"address": "host:port", "server_name": "name"}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EndpointObject {
    /// `host:port` to connect to.
    address: String,
    /// Name to send as SNI and check the certificate against.
    #[serde(default)]
    server_name: Option<String>,
}

/// The default of [`Config::warning_days`]: 30, as the platform's
/// `CertificateExpiry` alert (`cert_expiry_days < 30`).
#[must_use]
pub fn default_warning_days() -> f64 {
    30.0
}

/// The default of [`Config::critical_days`]: 7.
#[must_use]
pub fn default_critical_days() -> f64 {
    7.0
}

// === impl Config ===

impl Config {
    /// Checks what serde cannot: something to check, and sane thresholds.
    ///
    /// # Errors
    ///
    /// [`RunError::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), RunError> {
        if self.endpoints.is_empty() && self.files.is_empty() {
            return Err(RunError::invalid_config(
                "endpoints",
                "nothing to check: list at least one endpoint or file",
            ));
        }
        for (field, value) in [
            ("warning_days", self.warning_days),
            ("critical_days", self.critical_days),
        ] {
            if !value.is_finite() {
                return Err(RunError::invalid_config(field, "must be a finite number"));
            }
        }
        if self.warning_days < self.critical_days {
            return Err(RunError::invalid_config(
                "warning_days",
                format!(
                    "{} is below critical_days ({})",
                    self.warning_days, self.critical_days
                ),
            ));
        }
        if let Some(index) = self.files.iter().position(|file| !file.starts_with('/')) {
            return Err(RunError::invalid_config(
                &format!("files[{index}]"),
                "must be an absolute path or pattern",
            ));
        }
        Ok(())
    }
}

// === impl Endpoint ===

impl Endpoint {
    /// Parses `host:port` (`[v6]:port` for IPv6).
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with `address`.
    pub fn parse(address: &str, server_name: Option<String>) -> Result<Self, String> {
        let expected = || format!("{address:?} is not host:port");
        let (host, port) = address.rsplit_once(':').ok_or_else(expected)?;
        let host = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.strip_suffix(']').ok_or_else(expected)?,
            None if host.contains(':') => {
                return Err(format!("{address:?}: write IPv6 as [addr]:port"));
            }
            None => host,
        };
        if host.is_empty() {
            return Err(expected());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("{address:?}: port must be 1 to 65535"))?;
        let server_name = server_name.filter(|name| !name.is_empty());
        Ok(Self {
            host: host.to_owned(),
            port,
            server_name,
        })
    }

    /// `host:port` as the `source` label shows it (`[v6]:port` for IPv6).
    #[must_use]
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The name the certificate must be valid for.
    #[must_use]
    pub fn expected_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EndpointVisitor;

        impl<'de> Visitor<'de> for EndpointVisitor {
            type Value = Endpoint;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""host:port" or {"address": "host:port", "server_name": "..."}"#)
            }

            fn visit_str<E: de::Error>(self, address: &str) -> Result<Endpoint, E> {
                Endpoint::parse(address, None).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Endpoint, A::Error> {
                let object =
                    EndpointObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Endpoint::parse(&object.address, object.server_name).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(EndpointVisitor)
    }
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::parse_config;

    use super::*;

    #[test]
    fn defaults_match_the_platform_alert() {
        let config: Config = parse_config(r#"{"endpoints": ["example.com:443"]}"#).expect("valid");
        assert_eq!(config.warning_days, 30.0);
        assert_eq!(config.critical_days, 7.0);
        assert!(config.files.is_empty());
        config.validate().expect("valid");
    }

    #[test]
    fn endpoints_accept_strings_objects_and_ipv6() {
        let config: Config = parse_config(
            r#"{"endpoints": ["example.com:443", "[::1]:8443",
                {"address": "10.0.0.1:443", "server_name": "internal.example"}]}"#,
        )
        .expect("valid");
        assert_eq!(config.endpoints[0].address(), "example.com:443");
        assert_eq!(config.endpoints[0].expected_name(), "example.com");
        assert_eq!(config.endpoints[1].host, "::1");
        assert_eq!(config.endpoints[1].address(), "[::1]:8443");
        assert_eq!(config.endpoints[2].host, "10.0.0.1");
        assert_eq!(config.endpoints[2].expected_name(), "internal.example");
    }

    #[test]
    fn bad_endpoints_name_the_entry() {
        let error = parse_config::<Config>(r#"{"endpoints": ["ok.example:443", "nope"]}"#)
            .expect_err("no port");
        assert!(
            error
                .to_string()
                .contains(r#"endpoints[1]: "nope" is not host:port"#),
            "{error}"
        );
        let error = parse_config::<Config>(r#"{"endpoints": [{"address": "a:1", "sni": "b"}]}"#)
            .expect_err("unknown field");
        assert!(error.to_string().contains("unknown field `sni`"), "{error}");
        let error = parse_config::<Config>(r#"{"endpoints": ["a:99999"]}"#).expect_err("port");
        assert!(
            error.to_string().contains("port must be 1 to 65535"),
            "{error}"
        );
    }

    #[test]
    fn validation_rejects_nothing_to_do_and_inverted_thresholds() {
        let empty: Config = parse_config("{}").expect("parses");
        assert!(empty.validate().is_err());
        let inverted: Config =
            parse_config(r#"{"files": ["/a.pem"], "warning_days": 5, "critical_days": 10}"#)
                .expect("parses");
        let error = inverted.validate().expect_err("inverted");
        assert_eq!(
            error.to_string(),
            "invalid config: warning_days: 5 is below critical_days (10)"
        );
        let relative: Config = parse_config(r#"{"files": ["certs/*.pem"]}"#).expect("parses");
        assert!(
            relative
                .validate()
                .expect_err("relative")
                .to_string()
                .contains("files[0]")
        );
    }
}
