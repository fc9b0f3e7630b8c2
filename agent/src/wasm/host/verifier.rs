//! A rustls certificate verifier for probing, not for trusting: it runs the
//! real WebPKI verification (platform roots plus the plugin's extra CAs),
//! records the outcome and the chain, and lets the handshake go on whatever
//! the outcome, so a plugin can report on an expired, self-signed or
//! misnamed certificate. Handshake signatures are still checked, so the
//! peer did hold the leaf's key. Nothing is ever sent over such a
//! connection.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::wasm::bindings::v0_1::neurallog::plugin::tls::Verification;

/// What the verifier saw.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// DER certificates, leaf first, as the server sent them.
    pub(crate) chain: Vec<Vec<u8>>,
    /// The WebPKI outcome.
    pub(crate) verification: Verification,
}

/// Records the chain and WebPKI outcome of one handshake.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    /// `None` when there are no trust roots at all.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    record: Arc<Mutex<Option<Recorded>>>,
}

// === impl RecordingVerifier ===

impl RecordingVerifier {
    pub(crate) fn new(
        webpki: Option<Arc<WebPkiServerVerifier>>,
        provider: Arc<CryptoProvider>,
    ) -> (Self, Arc<Mutex<Option<Recorded>>>) {
        let record = Arc::new(Mutex::new(None));
        let verifier = Self {
            webpki,
            provider,
            record: record.clone(),
        };
        (verifier, record)
    }
}

/// Takes what a verifier recorded.
pub(crate) fn take(record: &Mutex<Option<Recorded>>) -> Option<Recorded> {
    crate::sync::lock(record).take()
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verification = match &self.webpki {
            Some(webpki) => {
                match webpki.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    Ok(_) => Verification::Valid,
                    Err(error) => classify(error),
                }
            }
            None => Verification::UnknownIssuer("no trust roots are configured".into()),
        };
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        *crate::sync::lock(&self.record) = Some(Recorded {
            chain,
            verification,
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Maps a rustls verification error to the WIT outcome.
fn classify(error: rustls::Error) -> Verification {
    let message = error.to_string();
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Verification::Expired(message)
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Verification::NotYetValid(message)
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Verification::NameMismatch(message)
            }
            CertificateError::UnknownIssuer => Verification::UnknownIssuer(message),
            _ => Verification::Invalid(message),
        },
        _ => Verification::Invalid(message),
    }
}
