//! The HTTP/1.1 client of a shipping sink (hyper with rustls), and what one
//! attempt of a request came to.
//!
//! `http://` is used only when the endpoint says so; an `https://`
//! endpoint's connector refuses plain HTTP.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::retry::parse_retry_after;
use super::tls::{TlsConfig, TlsError, client_config};
use crate::error::Chain;

/// How much of a response body is read: enough for an OTLP partial-success
/// message or an error text.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How long establishing a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A sink's HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

/// A response, read whole (up to a limit).
#[derive(Debug)]
pub struct Response {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, possibly cut at 64 KiB.
    pub body: Bytes,
}

/// An attempt that got no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The connection could not be made (refused, DNS, TLS handshake).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No complete response within `timeout_ms`.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The connection broke while sending or receiving.
    #[error("connection failed: {0}")]
    Io(String),
}

// === impl HttpClient ===

impl HttpClient {
    /// A client for `endpoint` with `tls` settings; `timeout` bounds each
    /// attempt and `max_idle` the kept-alive connections.
    pub fn new(
        endpoint: &Uri,
        tls: Option<&TlsConfig>,
        timeout: Duration,
        max_idle: usize,
    ) -> Result<Self, TlsError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let builder = HttpsConnectorBuilder::new().with_tls_config(client_config(tls)?);
        let mut builder = if endpoint.scheme_str() == Some("http") {
            builder.https_or_http()
        } else {
            builder.https_only()
        };
        if let Some(name) = tls.map(TlsConfig::server_name).transpose()?.flatten() {
            builder = builder.with_server_name_resolver(FixedServerNameResolver::new(name));
        }
        let connector = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(max_idle)
            .build(connector);
        Ok(HttpClient { client, timeout })
    }

    /// Send `request` once; the whole exchange is bounded by the timeout.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response, SendError> {
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Timeout(self.timeout)),
        }
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Response, SendError> {
        let response = self.client.request(request).await.map_err(|error| {
            let text = Chain(&error).to_string();
            if error.is_connect() {
                SendError::Connect(text)
            } else {
                SendError::Io(text)
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            // A body over the limit is an error text nobody needs whole.
            Err(error) if error.is::<http_body_util::LengthLimitError>() => Bytes::new(),
            Err(error) => return Err(SendError::Io(error.to_string())),
        };
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

// === impl Response ===

impl Response {
    /// The `Retry-After` delay, if the server sent a valid one.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, SystemTime::now())
    }

    /// The start of the body as text, for logs and dead letters.
    pub fn message(&self) -> String {
        let end = self.body.len().min(512);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }
}

// === impl SendError ===

impl SendError {
    /// The error class, for metrics: `connect`, `timeout` or `io`.
    pub fn error_type(&self) -> &'static str {
        match self {
            SendError::Connect(_) => "connect",
            SendError::Timeout(_) => "timeout",
            SendError::Io(_) => "io",
        }
    }
}

/// Time one attempt.
pub async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}
