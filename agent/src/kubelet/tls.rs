//! The TLS client configuration for the kubelet: the configured CA (the
//! cluster CA by default), the system roots when that file is absent, or
//! no verification at all when the operator says so.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use super::error::KubeletError;

/// The client configuration for `ca_file` (or the system roots) or, with
/// `insecure`, for any certificate.
pub fn client_config(ca_file: Option<&Path>, insecure: bool) -> Result<ClientConfig, KubeletError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| KubeletError::Tls(e.to_string()))?;
    if insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(crate::tls::accept_any_certificate(&provider))
            .with_no_client_auth());
    }
    let roots = roots(ca_file)?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, KubeletError> {
    let mut roots = RootCertStore::empty();
    match ca_file.filter(|path| path.exists()) {
        Some(path) => {
            let certs = crate::tls::load_pem_certs(path).map_err(|e| {
                KubeletError::Tls(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(KubeletError::Tls(format!(
                    "CA file {} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    Ok(roots)
}
