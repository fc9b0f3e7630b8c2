//! Real certificates (rcgen) and real TLS servers (rustls) on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate authority that can sign.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, DER.
    pub der: CertificateDer<'static>,
    /// Its certificate, PEM.
    pub pem: String,
}

/// A certificate with its key.
pub struct Issued {
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// The certificate, PEM.
    pub pem: String,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
    /// Signing with it, when it is a CA.
    pub issuer: Option<Issuer<'static, KeyPair>>,
}

/// Validity from `from_days` to `to_days` relative to now.
pub fn validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(from_days);
    params.not_after = now + Duration::days(to_days);
}

/// A self-signed root valid for ten years.
pub fn root_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    validity(&mut params, -1, 3650);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `names`, valid `from_days..to_days` from now, signed
/// by `by` (self-signed without one); `ca` makes it an intermediate.
pub fn issue(
    names: &[&str],
    common_name: &str,
    from_days: i64,
    to_days: i64,
    by: Option<&Issuer<'static, KeyPair>>,
    ca: bool,
) -> Issued {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    validity(&mut params, from_days, to_days);
    let key = KeyPair::generate().expect("key");
    let cert = match by {
        Some(issuer) => params.signed_by(&key, issuer).expect("signed"),
        None => params.self_signed(&key).expect("self-signed"),
    };
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Issued {
        der: cert.der().clone(),
        pem: cert.pem(),
        key: key_der,
        issuer: ca.then(|| Issuer::new(params, key)),
    }
}

// === impl Ca ===

impl Ca {
    /// Its signing side.
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

/// A TLS server on 127.0.0.1 presenting `chain` (leaf first); it completes
/// handshakes and closes. Stops when the test process ends.
pub fn serve(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        use tokio::io::AsyncWriteExt as _;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
    });
    addr
}
