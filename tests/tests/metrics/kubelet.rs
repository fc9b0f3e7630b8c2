//! A fake kubelet: serves a recorded `/stats/summary` over real HTTPS
//! (a CA and a server certificate for 127.0.0.1 made with rcgen) and
//! answers 401 unless the bearer token is right.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What the fake kubelet answers with.
struct State {
    body: Vec<u8>,
    pods: Vec<u8>,
    pods_requests: usize,
    token: String,
    delay: Duration,
    requests: usize,
}

/// A running fake kubelet.
pub struct FakeKubelet {
    /// Its address.
    pub addr: SocketAddr,
    /// The CA certificate (PEM) that signed its serving certificate.
    pub ca_file: PathBuf,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeKubelet {
    /// Serve `body` as `/stats/summary` to clients presenting `token`,
    /// after `delay`. The CA is written into `dir`.
    pub fn start(dir: &Path, body: Vec<u8>, token: &str, delay: Duration) -> FakeKubelet {
        let (ca_pem, cert, key) = certificates();
        let ca_file = dir.join("kubelet-ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            body,
            pods: Vec::new(),
            pods_requests: 0,
            token: token.to_owned(),
            delay,
            requests: 0,
        }));
        let shared = Arc::clone(&state);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        FakeKubelet {
            addr,
            ca_file,
            state,
            runtime: Some(runtime),
        }
    }

    /// Serve `pods` as `/pods` (a PodList) from now on.
    pub fn set_pods(&self, pods: Vec<u8>) {
        self.state.lock().unwrap().pods = pods;
    }

    /// How many `/pods` requests were answered.
    pub fn served_pods(&self) -> usize {
        self.state.lock().unwrap().pods_requests
    }

    /// Serve `body` from now on.
    pub fn set_body(&self, body: Vec<u8>) {
        self.state.lock().unwrap().body = body;
    }

    /// Expect `token` from now on.
    pub fn set_token(&self, token: &str) {
        self.state.lock().unwrap().token = token.to_owned();
    }

    /// Requests answered with 200 so far.
    pub fn served(&self) -> usize {
        self.state.lock().unwrap().requests
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn answer(
    state: &Mutex<State>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let delay = state.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut state = state.lock().unwrap();
    let expected = format!("Bearer {}", state.token);
    let authorized = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    let (status, body) = if !authorized {
        (StatusCode::UNAUTHORIZED, b"Unauthorized".to_vec())
    } else if req.uri().path() == "/pods" && !state.pods.is_empty() {
        state.pods_requests += 1;
        (StatusCode::OK, state.pods.clone())
    } else if req.uri().path() != "/stats/summary" {
        (StatusCode::NOT_FOUND, b"404 page not found".to_vec())
    } else {
        state.requests += 1;
        (StatusCode::OK, state.body.clone())
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// A CA (PEM) and a server certificate and key for 127.0.0.1 it signed.
fn certificates() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fake kubelet CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &*ca).unwrap();
    (
        ca.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}
