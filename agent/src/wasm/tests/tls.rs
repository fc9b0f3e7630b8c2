//! The `tls` import against real TLS servers on 127.0.0.1 with
//! certificates made here: a test CA, and leaves that are valid, expired,
//! not yet valid, for another name, or self-signed. The verification
//! outcome must be right and the chain the server sent must come back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::support::{host, host_with, load, ok_result};
use crate::wasm::bindings::v0_1::neurallog::plugin::tls::{ProbeError, Verification};
use crate::wasm::host::tls::{Resolved, TlsProber, platform_roots};
use crate::wasm::{FailureReason, Grants, Limits, RunOutcome};

/// A test certificate authority.
struct Ca {
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// A server certificate with its key.
struct Leaf {
    der: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "NeuralLog Test CA");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem_file = dir.path().join("ca.pem");
    std::fs::write(&pem_file, cert.pem()).unwrap();
    Ca {
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
        pem_file,
        _dir: dir,
    }
}

/// A leaf for `names`, valid between the years given, signed by `ca` (or
/// by itself when `ca` is `None`).
fn leaf(names: &[&str], years: (i32, i32), ca: Option<&Ca>) -> Leaf {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Leaf {
        der: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// A TLS server presenting `chain`; returns its address and a count of
/// accepted TCP connections.
async fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut stream) = acceptor.accept(tcp).await {
                    let _ = stream.read(&mut [0u8; 1]).await;
                }
            });
        }
    });
    (addr, accepted)
}

/// A TCP server that accepts and then says nothing.
async fn black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

fn prober(extra_ca: Option<&Ca>) -> TlsProber {
    let files: Vec<PathBuf> = extra_ca.iter().map(|ca| ca.pem_file.clone()).collect();
    TlsProber::new(&Arc::new(platform_roots()), &files, Duration::from_secs(5)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_chain_with_the_test_ca_granted() {
    let ca = ca();
    let leaf = leaf(&["localhost", "127.0.0.1"], (2020, 2090), Some(&ca));
    let (addr, _) = serve(vec![leaf.der.clone(), ca.der.clone()], leaf.key).await;

    let chain = prober(Some(&ca))
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(chain.verification, Verification::Valid),
        "{:?}",
        chain.verification
    );
    assert_eq!(chain.certificates, vec![leaf.der.to_vec(), ca.der.to_vec()]);
    assert_eq!(chain.protocol_version, "TLSv1.3");

    // No server name: the host is the name, and the leaf has that IP.
    let by_ip = prober(Some(&ca))
        .probe("127.0.0.1", addr.port(), None, &mut Resolved::default())
        .await
        .unwrap();
    assert!(
        matches!(by_ip.verification, Verification::Valid),
        "{:?}",
        by_ip.verification
    );

    // The same chain without the CA granted: platform roots do not know it.
    let untrusted = prober(None)
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(untrusted.verification, Verification::UnknownIssuer(_)),
        "{:?}",
        untrusted.verification
    );
    assert_eq!(untrusted.certificates.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_not_yet_valid_chains_are_returned_with_the_reason() {
    let ca = ca();
    let expired = leaf(&["localhost"], (2000, 2001), Some(&ca));
    let (addr, _) = serve(vec![expired.der.clone(), ca.der.clone()], expired.key).await;
    let chain = prober(Some(&ca))
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    match &chain.verification {
        Verification::Expired(message) => assert!(message.contains("expired"), "{message}"),
        other => panic!("expected expired, got {other:?}"),
    }
    assert_eq!(chain.certificates[0], expired.der.to_vec());

    let future = leaf(&["localhost"], (2090, 2091), Some(&ca));
    let (addr, _) = serve(vec![future.der.clone(), ca.der.clone()], future.key).await;
    let chain = prober(Some(&ca))
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(chain.verification, Verification::NotYetValid(_)),
        "{:?}",
        chain.verification
    );
    assert_eq!(chain.certificates[0], future.der.to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_host_and_self_signed() {
    let ca = ca();
    let other = leaf(&["other.example"], (2020, 2090), Some(&ca));
    let (addr, _) = serve(vec![other.der.clone(), ca.der.clone()], other.key).await;
    let chain = prober(Some(&ca))
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    match &chain.verification {
        Verification::NameMismatch(message) => {
            assert!(message.contains("other.example"), "{message}")
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }

    let selfish = leaf(&["localhost"], (2020, 2090), None);
    let (addr, _) = serve(vec![selfish.der.clone()], selfish.key).await;
    let chain = prober(Some(&ca))
        .probe(
            "127.0.0.1",
            addr.port(),
            Some("localhost"),
            &mut Resolved::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(chain.verification, Verification::UnknownIssuer(_)),
        "{:?}",
        chain.verification
    );
    assert_eq!(chain.certificates, vec![selfish.der.to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failures_and_timeouts() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = prober(None)
        .probe("127.0.0.1", closed.port(), None, &mut Resolved::default())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ProbeError::ConnectFailed(_)),
        "{refused:?}"
    );

    let silent = black_hole().await;
    let quick =
        TlsProber::new(&Arc::new(platform_roots()), &[], Duration::from_millis(200)).unwrap();
    let timed_out = quick
        .probe("127.0.0.1", silent.port(), None, &mut Resolved::default())
        .await
        .unwrap_err();
    assert!(matches!(timed_out, ProbeError::TimedOut), "{timed_out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_probes_a_granted_target_and_is_refused_others() {
    let ca = ca();
    let leaf = leaf(&["localhost"], (2020, 2090), Some(&ca));
    let (addr, accepted) = serve(vec![leaf.der.clone(), ca.der.clone()], leaf.key).await;
    let (host, _dir) = host();
    let config =
        serde_json::json!({ "host": "127.0.0.1", "port": addr.port(), "server_name": "localhost" })
            .to_string();

    // Not granted: refused before any connection is made.
    let ungranted = load(&host, "tlsprobe", Limits::default(), Grants::default()).await;
    let report = ungranted.run(&config).await;
    let refused = format!("not-allowed: 127.0.0.1:{}", addr.port());
    assert_eq!(ok_result(&report).detail("error"), Some(refused.as_str()));
    assert_eq!(accepted.load(Ordering::SeqCst), 0);

    let grants = Grants {
        tls_targets: vec![format!("localhost@127.0.0.1:{}", addr.port())],
        tls_ca_files: vec![ca.pem_file.clone()],
        ..Grants::default()
    };
    let granted = load(&host, "tlsprobe", Limits::default(), grants).await;
    let report = granted.run(&config).await;
    let result = ok_result(&report);
    assert_eq!(result.detail("verification"), Some("valid"));
    assert_eq!(result.detail("chain_len"), Some("2"));
    let lengths = format!("{},{}", leaf.der.len(), ca.der.len());
    assert_eq!(result.detail("chain_der_lengths"), Some(lengths.as_str()));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // The target alone does not let the plugin choose the server name,
    // which would carry whatever it likes to the server.
    let plain = Grants {
        tls_targets: vec![format!("127.0.0.1:{}", addr.port())],
        ..Grants::default()
    };
    let plain = load(&host, "tlsprobe", Limits::default(), plain).await;
    for name in ["localhost", "c2VjcmV0LWZpbGUtY29udGVudA.example"] {
        let config =
            serde_json::json!({ "host": "127.0.0.1", "port": addr.port(), "server_name": name })
                .to_string();
        let report = plain.run(&config).await;
        let refused = format!(
            "not-allowed: 127.0.0.1:{} with that server name",
            addr.port()
        );
        assert_eq!(ok_result(&report).detail("error"), Some(refused.as_str()));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "no connection was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outer_timeout_stops_a_plugin_blocked_in_a_host_call() {
    let silent = black_hole().await;
    let (host, _dir) = host_with(|s| s.deadline_grace = Duration::from_millis(200));
    let limits = Limits {
        timeout_ms: 300,
        tls_timeout_ms: 60_000,
        ..Limits::default()
    };
    let grants = Grants {
        tls_targets: vec![silent.to_string()],
        ..Grants::default()
    };
    let probe = load(&host, "tlsprobe", limits, grants).await;
    let config = serde_json::json!({ "host": "127.0.0.1", "port": silent.port() }).to_string();
    let report = probe.run(&config).await;
    match &report.outcome {
        RunOutcome::Failed { reason, message } => {
            assert_eq!(*reason, FailureReason::DeadlineExceeded);
            assert!(message.contains("waiting in a host call"), "{message}");
        }
        other => panic!("expected a deadline failure, got {other:?}"),
    }
    assert!(report.duration < Duration::from_secs(60));
}
