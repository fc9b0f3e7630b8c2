//! `neurallog:plugin/tls`: the certificate chain a granted `host:port`
//! presents, with the host's own verification of it.
//!
//! Only targets in the plugin's grants are contacted, with the server name
//! the grant allows (see `permissions`), at the granted host as the grant
//! spells it. A host name is resolved once per run: every probe of the run
//! connects to the addresses that first lookup gave, so a name that
//! changes its answer mid-run (DNS rebinding) cannot move the run's probes
//! elsewhere. Resolving, connecting and the handshake share one timeout. The
//! chain is returned even when the handshake fails after the certificate
//! arrived (a server that wants a client certificate, say).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::HostState;
use super::verifier::{self, RecordingVerifier};
use crate::wasm::bindings::v0_1::neurallog::plugin::tls::{Host, PeerChain, ProbeError};

/// The TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// An extra CA file could not be read or holds no certificate.
    #[error("tls_ca_files: {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("cannot build the TLS verifier: {0}")]
    Verifier(String),
}

/// The addresses each host name resolved to in this run.
#[derive(Debug, Default)]
pub(crate) struct Resolved(HashMap<(String, u16), Vec<SocketAddr>>);

/// One plugin's TLS prober: its trust roots and timeout.
#[derive(Debug)]
pub(crate) struct TlsProber {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    timeout: Duration,
}

// === impl TlsProber ===

impl TlsProber {
    /// A prober trusting `platform_roots` plus the CAs in `extra_ca_files`.
    pub(crate) fn new(
        platform_roots: &Arc<RootCertStore>,
        extra_ca_files: &[PathBuf],
        timeout: Duration,
    ) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match extra_ca_files {
            [] => platform_roots.clone(),
            files => {
                let mut roots = RootCertStore::clone(platform_roots);
                for path in files {
                    for cert in read_ca_file(path)? {
                        roots.add(cert).map_err(|e| TlsSetupError::CaFile {
                            path: path.clone(),
                            reason: e.to_string(),
                        })?;
                    }
                }
                Arc::new(roots)
            }
        };
        let webpki = match roots.is_empty() {
            true => None,
            false => Some(
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsSetupError::Verifier(e.to_string()))?,
            ),
        };
        Ok(Self {
            webpki,
            provider,
            timeout,
        })
    }

    /// Connects to `host:port` (resolved once per run, in `resolved`),
    /// handshakes with `server_name` (or `host`) as SNI, and returns what
    /// the server presented. The caller checks the grant.
    pub(crate) async fn probe(
        &self,
        host: &str,
        port: u16,
        server_name: Option<&str>,
        resolved: &mut Resolved,
    ) -> Result<PeerChain, ProbeError> {
        let sni = server_name.unwrap_or(host);
        let name = ServerName::try_from(sni.to_owned()).map_err(|e| {
            ProbeError::HandshakeFailed(format!("invalid server name {sni:?}: {e}"))
        })?;
        let (verifier, record) = RecordingVerifier::new(self.webpki.clone(), self.provider.clone());
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeError::HandshakeFailed(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(config));
        let attempt = async {
            let addrs = resolved.lookup(host, port).await?;
            let tcp = TcpStream::connect(&addrs[..])
                .await
                .map_err(|e| ProbeError::ConnectFailed(format!("{host}:{port}: {e}")))?;
            let handshake = connector.connect(name, tcp).await;
            let recorded = verifier::take(&record);
            match (handshake, recorded) {
                (Ok(mut stream), Some(seen)) => {
                    let version = stream
                        .get_ref()
                        .1
                        .protocol_version()
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .replace("TLSv1_", "TLSv1.");
                    let _ = stream.shutdown().await;
                    Ok(PeerChain {
                        certificates: seen.chain,
                        verification: seen.verification,
                        protocol_version: version,
                    })
                }
                // The certificate came, then the handshake broke off.
                (Err(_), Some(seen)) => Ok(PeerChain {
                    certificates: seen.chain,
                    verification: seen.verification,
                    protocol_version: String::new(),
                }),
                (Err(error), None) => Err(ProbeError::HandshakeFailed(error.to_string())),
                (Ok(_), None) => Err(ProbeError::HandshakeFailed(
                    "the server sent no certificate".into(),
                )),
            }
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or(Err(ProbeError::TimedOut))
    }
}

// === impl Resolved ===

impl Resolved {
    /// The addresses of `host:port`: looked up the first time in a run,
    /// the same ones after.
    async fn lookup(&mut self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ProbeError> {
        let key = (host.to_owned(), port);
        if let Some(addrs) = self.0.get(&key) {
            return Ok(addrs.clone());
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ProbeError::ConnectFailed(format!("{host}:{port}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(ProbeError::ConnectFailed(format!(
                "{host}:{port}: the name has no address"
            )));
        }
        self.0.insert(key, addrs.clone());
        Ok(addrs)
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let fail = |reason: String| TlsSetupError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// The platform's trust roots (rustls-native-certs). Unreadable entries
/// are logged and skipped; none at all leaves probes reporting
/// `unknown-issuer` for every chain.
pub(crate) fn platform_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "Failed to load a platform trust root.");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 || added == 0 {
        tracing::warn!(added, ignored, "Platform trust roots loaded with problems.");
    }
    roots
}

impl Host for HostState {
    async fn peer_certificates(
        &mut self,
        host: String,
        port: u16,
        server_name: Option<String>,
    ) -> wasmtime::Result<Result<PeerChain, ProbeError>> {
        self.budget.charge_host_call()?;
        let grants = &self.plugin.grants;
        let Some(probe) = grants.tls_probe(&host, port, server_name.as_deref()) else {
            let refused = match grants.allows_tls(&host, port) {
                // The target is granted, the server name is not.
                true => format!("{host}:{port} with that server name"),
                false => format!("{host}:{port}"),
            };
            return Ok(Err(ProbeError::NotAllowed(refused)));
        };
        let plugin = self.plugin.clone();
        Ok(plugin
            .tls
            .probe(
                &probe.host,
                probe.port,
                Some(&probe.server_name),
                &mut self.resolved,
            )
            .await)
    }
}
