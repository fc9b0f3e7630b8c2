//! TLS for HTTP sinks with rustls: the system's roots plus an extra CA
//! file, an optional client certificate (mTLS), an optional server-name
//! override, and an explicit, loudly warned `insecure_skip_verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath};

/// TLS settings of a sink (only for `https://` endpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates trusted in addition to the system's
    /// roots (for an ingest behind a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate chain, presented for mutual TLS. Needs
    /// `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name to verify the server's certificate against (and send as
    /// SNI) instead of the endpoint's host, e.g. when connecting by IP.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any server certificate. Disables the protection TLS gives
    /// against impersonation; for lab set-ups only. The agent warns about it
    /// at start-up.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Why a TLS configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or parsed.
    #[error("cannot load {what} from {path}: {message}")]
    Pem {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refused the settings (a key that does not match, no roots).
    #[error("invalid TLS settings")]
    Rustls(#[from] rustls::Error),
    /// `server_name` is not a DNS name or IP address.
    #[error("tls.server_name {0:?} is not a DNS name or IP address")]
    ServerName(String),
}

// === impl TlsConfig ===

impl TlsConfig {
    /// Check the settings (no I/O).
    pub fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.cert_file.is_some() != self.key_file.is_some() {
            errors.push(
                path.error(
                    "cert_file and key_file go together: set both for mutual TLS, or neither",
                ),
            );
        }
        for (field, file) in [
            ("ca_file", &self.ca_file),
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
        ] {
            if file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
                errors.push(
                    path.field(field)
                        .error("must not be empty: expected a file path"),
                );
            }
        }
        if let Some(name) = &self.server_name
            && ServerName::try_from(name.as_str()).is_err()
        {
            errors.push(
                path.field("server_name")
                    .error(format!("{name:?} is not a DNS name or IP address")),
            );
        }
    }

    /// The server name override, parsed.
    pub fn server_name(&self) -> Result<Option<ServerName<'static>>, TlsError> {
        self.server_name
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name.clone()))
            })
            .transpose()
    }
}

/// The rustls client configuration `config` describes (defaults when
/// `None`): reads the CA, certificate and key files.
pub fn client_config(config: Option<&TlsConfig>) -> Result<ClientConfig, TlsError> {
    let default = TlsConfig::default();
    let config = config.unwrap_or(&default);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = if config.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(crate::tls::accept_any_certificate(&provider))
    } else {
        builder.with_root_certificates(roots(config.ca_file.as_deref())?)
    };
    let tls = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "a client certificate chain")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
                what: "a private key",
                path: key.clone(),
                message: e.to_string(),
            })?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(tls)
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    // A system without a CA bundle still works with `ca_file`; certificates
    // the platform store holds but rustls cannot parse are skipped.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for cert in load_certs(path, "CA certificates")? {
            roots.add(cert)?;
        }
    }
    Ok(roots)
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    crate::tls::load_pem_certs(path).map_err(|message| TlsError::Pem {
        what,
        path: path.to_owned(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_and_key_go_together() {
        let config = TlsConfig {
            cert_file: Some("/c.pem".into()),
            server_name: Some("not a name!".into()),
            ..TlsConfig::default()
        };
        let mut errors = Vec::new();
        config.validate(&FieldPath::root().field("tls"), &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].message.contains("cert_file and key_file"));
        assert_eq!(errors[1].location, "tls.server_name");
    }

    #[test]
    fn missing_ca_file_names_the_file() {
        let config = TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        };
        let error = client_config(Some(&config)).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn loads_a_generated_chain_and_client_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = dir.path().join("cert.pem");
        std::fs::write(&pem, cert.pem()).unwrap();
        let keyfile = dir.path().join("key.pem");
        std::fs::write(&keyfile, key.serialize_pem()).unwrap();
        let config = TlsConfig {
            ca_file: Some(pem.clone()),
            cert_file: Some(pem),
            key_file: Some(keyfile),
            ..TlsConfig::default()
        };
        let tls = client_config(Some(&config)).unwrap();
        assert!(tls.client_auth_cert_resolver.has_certs());
    }
}
