//! The kubelet's HTTPS API: `GET /stats/summary` with the service-account
//! token, within a deadline.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::config::PodMetricsConfig;
use super::tls::client_config;

/// Largest summary accepted (a node with hundreds of pods sends a few MB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// No connection (refused, DNS, TLS handshake).
    #[error("kubelet at {endpoint} cannot be reached: {message}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// No complete answer within `timeout_ms`.
    #[error("kubelet at {endpoint} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The deadline.
        timeout_ms: u64,
    },
    /// An answer other than 200.
    #[error("kubelet answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The answer was not a summary document.
    #[error("kubelet's /stats/summary is not valid: {0}")]
    BadResponse(String),
    /// The token file could not be read.
    #[error("cannot read the token file {}: {source}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A client for one kubelet.
#[derive(Debug)]
pub struct Kubelet {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    endpoint: String,
    summary: Uri,
    token_file: Option<PathBuf>,
    timeout: Duration,
}

// === impl KubeletError ===

impl KubeletError {
    /// A stable class for `error_type` (after `kubelet_`).
    pub fn error_type(&self) -> &'static str {
        match self {
            KubeletError::Unreachable { .. } => "unreachable",
            KubeletError::Timeout { .. } => "timeout",
            KubeletError::Status { .. } => "http_status",
            KubeletError::BadResponse(_) => "bad_response",
            KubeletError::Token { .. } => "token_read_failed",
            KubeletError::Tls(_) => "tls_config",
        }
    }
}

// === impl Kubelet ===

impl Kubelet {
    /// A client for `endpoint` as `config` describes.
    pub fn new(endpoint: &str, config: &PodMetricsConfig) -> Result<Self, KubeletError> {
        let tls = client_config(config.ca_file.as_deref(), config.insecure_skip_verify)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_millis(config.timeout_ms)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let summary = format!("{}/stats/summary", endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|e| KubeletError::Tls(format!("endpoint {endpoint:?}: {e}")))?;
        Ok(Kubelet {
            client,
            endpoint: endpoint.to_owned(),
            summary,
            token_file: config.token_file.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    /// The endpoint scraped.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetch `/stats/summary`.
    pub async fn summary(&self) -> Result<Bytes, KubeletError> {
        let mut request = Request::get(self.summary.clone());
        if let Some(token) = self.token()? {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| KubeletError::BadResponse(e.to_string()))?;
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|e| KubeletError::Unreachable {
                        endpoint: self.endpoint.clone(),
                        message: error_chain(&e),
                    })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| KubeletError::BadResponse(e.to_string()))?
                .to_bytes();
            if status != StatusCode::OK {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)])
                    .trim()
                    .to_owned();
                return Err(KubeletError::Status { status, body: text });
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(KubeletError::Timeout {
                    endpoint: self.endpoint.clone(),
                    timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                })
            })
    }

    /// The token, read again on every scrape; none when no file is
    /// configured or the default file does not exist (outside Kubernetes).
    fn token(&self) -> Result<Option<String>, KubeletError> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(token) => Ok(Some(token.trim().to_owned())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KubeletError::Token {
                path: path.clone(),
                source,
            }),
        }
    }
}

/// An error and its causes, one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
