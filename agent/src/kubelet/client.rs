//! The kubelet's HTTPS API on this node (`/stats/summary`, `/pods`) with
//! the service-account token, within a deadline.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::error::KubeletError;
use super::tls::client_config;
use crate::error::Chain;

/// Largest summary accepted (a node with hundreds of pods sends a few MB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How to reach the kubelet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletSettings {
    /// Base URL, e.g. `https://node-1:10250`.
    pub endpoint: String,
    /// Bearer token file, read again before every request; `None` sends
    /// no token.
    pub token_file: Option<PathBuf>,
    /// CA certificates of the kubelet's serving certificate; the system
    /// roots when absent or missing.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure_skip_verify: bool,
    /// Deadline of one request, connecting included.
    pub timeout: Duration,
}

/// A client for one kubelet.
#[derive(Debug)]
pub struct Kubelet {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    endpoint: String,
    token_file: Option<PathBuf>,
    timeout: Duration,
}

// === impl Kubelet ===

impl Kubelet {
    /// A client as `settings` describe.
    pub fn new(settings: &KubeletSettings) -> Result<Self, KubeletError> {
        let tls = client_config(settings.ca_file.as_deref(), settings.insecure_skip_verify)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let endpoint = settings.endpoint.trim_end_matches('/').to_owned();
        endpoint
            .parse::<Uri>()
            .map_err(|e| KubeletError::Tls(format!("endpoint {endpoint:?}: {e}")))?;
        Ok(Kubelet {
            client,
            endpoint,
            token_file: settings.token_file.clone(),
            timeout: settings.timeout,
        })
    }

    /// The endpoint scraped.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetch `/stats/summary`.
    pub async fn summary(&self) -> Result<Bytes, KubeletError> {
        self.get("/stats/summary").await
    }

    /// Fetch `/pods`: the pods bound to this node.
    pub async fn pods(&self) -> Result<Bytes, KubeletError> {
        self.get("/pods").await
    }

    /// Fetch `path` (starting with `/`).
    pub async fn get(&self, path: &str) -> Result<Bytes, KubeletError> {
        let uri: Uri = format!("{}{path}", self.endpoint)
            .parse()
            .map_err(|e| KubeletError::BadResponse(format!("path {path:?}: {e}")))?;
        let mut request = Request::get(uri);
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
                        message: Chain(&e).to_string(),
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
