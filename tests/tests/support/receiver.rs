//! An HTTP receiver on 127.0.0.1 for the shipping sinks, with scriptable
//! faults: down (stopped, then restarted on the same port), a status for a
//! while, 429 with `Retry-After`, slow answers, connections reset in the
//! middle of the body, 413 above a size, OTLP partial success, 401/403 to
//! requests without the expected bearer token. Optional TLS
//! (server-auth or mTLS) from a rustls server config.
//!
//! Every request is recorded; the bodies of the ones answered 2xx are kept
//! decompressed, so a test can count exactly what was delivered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message as _;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};

/// What the receiver does with the next requests.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer 200.
    None,
    /// Answer `status` (with `Retry-After: retry_after` if set) until
    /// `until`, then 200.
    Status {
        /// The status.
        status: u16,
        /// A `Retry-After` value.
        retry_after: Option<String>,
        /// When to stop.
        until: Instant,
    },
    /// Wait this long before answering 200.
    Delay(Duration),
    /// Read part of the body, then reset the connection (RST), `count`
    /// times.
    ResetMidBody {
        /// Connections still to reset.
        count: usize,
    },
    /// Answer 413 to bodies larger than this many bytes (as sent).
    TooLarge(usize),
    /// Answer 400 to every request.
    Reject,
    /// Answer 200 with an OTLP partial success rejecting this many records.
    PartialSuccess(i64),
    /// Answer `status` (401 or 403) to requests without
    /// `Authorization: Bearer <token>`, 200 to the others.
    RequireToken {
        /// The status of a refusal.
        status: u16,
        /// The one token accepted.
        token: String,
    },
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The path.
    pub path: String,
    /// The status it was answered.
    pub status: u16,
    /// Its headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed).
    pub raw: Bytes,
    /// The body decompressed per its Content-Encoding.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug)]
struct State {
    fault: Fault,
    requests: Vec<Captured>,
    resets: usize,
}

/// A running receiver.
pub struct Receiver {
    /// Its address.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Receiver {
    /// Start a plain HTTP receiver on a free port.
    pub fn start() -> Receiver {
        Self::bind_any(None)
    }

    /// Start an HTTPS receiver with `tls`.
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> Receiver {
        Self::bind_any(Some(tls))
    }

    /// A receiver on whichever free port it can bind: a port found free
    /// can be taken by another process before the receiver listens on it
    /// (seen once in a full run), and any port serves a new receiver.
    fn bind_any(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let mut tries = 0;
        loop {
            let mut receiver = Self::down(super::net::free_port());
            receiver.tls = tls.clone();
            match receiver.try_resume() {
                Ok(()) => return receiver,
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && tries < 10 => {
                    tries += 1;
                }
                Err(error) => panic!("bind a receiver's port: {error}"),
            }
        }
    }

    /// A receiver on `port` that is not listening yet (the ingest is down);
    /// [`Receiver::resume`] starts it.
    pub fn down(port: u16) -> Receiver {
        Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            state: Arc::new(Mutex::new(State {
                fault: Fault::None,
                requests: Vec::new(),
                resets: 0,
            })),
            runtime: None,
            tls: None,
        }
    }

    /// `http://127.0.0.1:port` (or `https://`).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stop listening (connections are refused).
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }

    /// Listen again on the same port.
    pub fn resume(&mut self) {
        self.try_resume().expect("bind the receiver's port");
    }

    fn try_resume(&mut self) -> std::io::Result<()> {
        if self.runtime.is_some() {
            return Ok(());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let listener = runtime.block_on(TcpListener::bind(self.addr))?;
        let state = Arc::clone(&self.state);
        let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                let tls = tls.clone();
                tokio::spawn(async move { connection(stream, state, tls).await });
            }
        });
        self.runtime = Some(runtime);
        Ok(())
    }

    /// Change what the receiver does.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Captured> {
        lock(&self.state).requests.clone()
    }

    /// Move out every request recorded so far, so a long run keeps no
    /// more than what it has not looked at yet.
    pub fn take_requests(&self) -> Vec<Captured> {
        std::mem::take(&mut lock(&self.state).requests)
    }

    /// Connections reset so far.
    pub fn resets(&self) -> usize {
        lock(&self.state).resets
    }

    /// Requests to `path` answered 2xx.
    pub fn accepted(&self, path: &str) -> Vec<Captured> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path && (200..300).contains(&r.status))
            .collect()
    }

    /// The accepted log requests, decoded.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        self.accepted("/v1/logs")
            .iter()
            .map(|r| ExportLogsServiceRequest::decode(r.body.as_slice()).expect("OTLP logs"))
            .collect()
    }

    /// The value of header `name` of every request to `path`.
    pub fn header_values(&self, path: &str, name: &str) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.path == path)
            .filter_map(|r| {
                r.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    /// The bodies of every accepted log record, in arrival order.
    pub fn log_bodies(&self) -> Vec<String> {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        let mut out = Vec::new();
        for request in self.logs() {
            for rl in request.resource_logs {
                for sl in rl.scope_logs {
                    for record in sl.log_records {
                        if let Some(Value::StringValue(s)) = record.body.and_then(|b| b.value) {
                            out.push(s);
                        }
                    }
                }
            }
        }
        out
    }

    /// The accepted metric requests, decoded.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.accepted("/v1/metrics")
            .iter()
            .map(|r| ExportMetricsServiceRequest::decode(r.body.as_slice()).expect("OTLP metrics"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn connection(
    stream: TcpStream,
    state: Arc<Mutex<State>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let reset = {
        let mut s = lock(&state);
        match &mut s.fault {
            Fault::ResetMidBody { count } if *count > 0 => {
                *count -= 1;
                s.resets += 1;
                true
            }
            _ => false,
        }
    };
    if reset {
        return reset_mid_body(stream).await;
    }
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, hyper::Error>(handle(request, state).await) }
    });
    let builder = hyper::server::conn::http1::Builder::new();
    match tls {
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        }
        None => {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}

/// Read the headers and a little of the body, then reset.
async fn reset_mid_body(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    // SO_LINGER 0 makes the close a reset (RST), not an orderly FIN.
    #[allow(deprecated, reason = "a zero linger resets at once; nothing blocks")]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn handle(request: Request<Incoming>, state: Arc<Mutex<State>>) -> Response<Full<Bytes>> {
    let at = Instant::now();
    let path = request.uri().path().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let encoding = headers
        .iter()
        .find(|(k, _)| k == "content-encoding")
        .map(|(_, v)| v.clone());
    let raw = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return respond(400, None, Bytes::new()),
    };
    let fault = lock(&state).fault.clone();
    let authorization = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str());
    let (status, retry_after, answer) = match fault {
        Fault::Status {
            status,
            retry_after,
            until,
        } if Instant::now() < until => (status, retry_after, Bytes::new()),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            (200, None, Bytes::new())
        }
        Fault::TooLarge(max) if raw.len() > max => (413, None, Bytes::new()),
        Fault::Reject => (400, None, Bytes::from_static(b"invalid payload")),
        Fault::PartialSuccess(rejected) => {
            let response = ExportLogsServiceResponse {
                partial_success: Some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: "some records were too old".to_owned(),
                }),
            };
            (200, None, Bytes::from(response.encode_to_vec()))
        }
        Fault::RequireToken { status, token }
            if authorization != Some(format!("Bearer {token}").as_str()) =>
        {
            (
                status,
                None,
                Bytes::from_static(b"invalid or expired token"),
            )
        }
        _ => (200, None, Bytes::new()),
    };
    let body = decompress(encoding.as_deref(), &raw);
    lock(&state).requests.push(Captured {
        path,
        status,
        headers,
        raw,
        body,
        at,
    });
    respond(status, retry_after, answer)
}

fn respond(status: u16, retry_after: Option<String>, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf");
    if let Some(after) = retry_after {
        response = response.header("retry-after", after);
    }
    response
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Decompress a body per its Content-Encoding.
pub fn decompress(encoding: Option<&str>, raw: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    match encoding {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .read_to_end(&mut out)
                .expect("valid gzip");
            out
        }
        Some("zstd") => zstd::stream::decode_all(raw).expect("valid zstd"),
        Some("snappy") => snap::raw::Decoder::new()
            .decompress_vec(raw)
            .expect("valid snappy"),
        _ => raw.to_vec(),
    }
}
