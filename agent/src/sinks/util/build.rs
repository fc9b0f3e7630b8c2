//! Building the pieces every shipping sink has from its configuration:
//! endpoint, HTTP client, headers, dead-letter file, disk queue, and its
//! `/status` details.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Uri;
use indexmap::IndexMap;
use serde_json::json;

use super::auth::{AuthConfig, RequestHeaders, Secret, TenantConfig};
use super::batch::BatchConfig;
use super::compression::Codec;
use super::dead_letter::{DeadLetter, DeadLetterConfig};
use super::driver::{self, DriverOptions};
use super::http::HttpClient;
use super::queue::{QueueConfig, QueueSide};
use super::retry::RetryConfig;
use super::service::{Protocol, Service};
use super::tls::TlsConfig;
use crate::config::{ConfigError, FieldPath};
use crate::telemetry::events::{InsecureTlsEnabled, QueueRecordsCorrupt, SinkTelemetry};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// The settings of a shipping sink, borrowed from its configuration.
pub struct ServiceSettings<'a> {
    /// The endpoint.
    pub endpoint: &'a Uri,
    /// TLS settings.
    pub tls: Option<&'a TlsConfig>,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Fixed headers.
    pub headers: &'a IndexMap<String, Secret>,
    /// Auth.
    pub auth: &'a AuthConfig,
    /// Tenant header.
    pub tenant: Option<&'a TenantConfig>,
    /// Retries.
    pub retry: &'a RetryConfig,
    /// Dead letters.
    pub dead_letter: &'a DeadLetterConfig,
    /// Body compression.
    pub codec: Codec,
    /// The disk queue.
    pub queue: &'a QueueConfig,
    /// Request sizes.
    pub batch: &'a BatchConfig,
}

/// Parse and check an endpoint URL: `http` or `https`, a host, no
/// credentials, query or fragment.
pub fn parse_endpoint(endpoint: &str) -> Result<Uri, String> {
    let uri: Uri = endpoint
        .parse()
        .map_err(|e| format!("{endpoint:?} is not a URL ({e}): expected `https://host:port`"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "{endpoint:?} must start with `https://` (or `http://` for plain HTTP)"
            ));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("{endpoint:?} names no host"));
    };
    if authority.as_str().contains('@') {
        return Err(
            "credentials in the URL are not supported (they would show in logs): use auth.bearer_token_file or headers".to_owned(),
        );
    }
    if authority.host().is_empty() {
        return Err(format!("{endpoint:?} names no host"));
    }
    if uri.query().is_some() || endpoint.contains('#') {
        return Err(format!("{endpoint:?} must not have a query or fragment"));
    }
    Ok(uri)
}

/// `base`'s path joined with `suffix` (`/v1/logs`).
pub fn join_path(base: &Uri, suffix: &str) -> Result<Uri, BuildError> {
    let path = base.path().trim_end_matches('/');
    let text = format!(
        "{}://{}{path}{suffix}",
        base.scheme_str().unwrap_or("https"),
        base.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    text.parse()
        .map_err(|e| BuildError::caused(format!("cannot build the URL {text}"), e))
}

/// Validate the endpoint and its TLS settings together.
pub fn validate_endpoint(
    endpoint: &str,
    tls: Option<&TlsConfig>,
    path: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    match parse_endpoint(endpoint) {
        Ok(uri) if uri.scheme_str() == Some("http") && tls.is_some() => {
            errors.push(
                path.field("tls").error(
                    "is set but the endpoint is `http://`: use an `https://` endpoint for TLS",
                ),
            );
        }
        Ok(_) => {}
        Err(message) => errors.push(path.field("endpoint").error(message)),
    }
    if let Some(tls) = tls {
        tls.validate(&path.field("tls"), errors);
    }
}

/// Build a shipping sink speaking `protocol`: its HTTP client (TLS files
/// are read here), headers (the token file is read here), dead-letter file
/// and disk queue, its `/status` details, and the driver that runs them.
pub fn http_sink<P: Protocol>(
    protocol: P,
    settings: ServiceSettings<'_>,
    cx: SinkContext,
) -> Result<BoxedComponent, BuildError> {
    let telemetry = SinkTelemetry::new(&cx.metrics);
    let options = DriverOptions {
        batch: settings.batch.clone(),
        concurrency: settings.concurrency,
        fsync: settings.queue.fsync,
    };
    let queue_config = settings.queue;
    let endpoint = settings.endpoint.clone();
    let service = service(protocol, settings, &cx, &telemetry)?;
    let (queue, queue_dir) = queue(queue_config, &cx, &telemetry)?;
    report_status(&cx, &endpoint, &queue_dir, &telemetry);
    Ok(Box::pin(driver::run(service, queue, options, cx)))
}

/// The service: HTTP client, headers, dead-letter file.
fn service<P: Protocol>(
    protocol: P,
    settings: ServiceSettings<'_>,
    cx: &SinkContext,
    telemetry: &SinkTelemetry,
) -> Result<Arc<Service<P>>, BuildError> {
    if settings.tls.is_some_and(|t| t.insecure_skip_verify) {
        InsecureTlsEnabled {
            component_id: &cx.id,
        }
        .emit();
    }
    let client = HttpClient::new(
        settings.endpoint,
        settings.tls,
        Duration::from_millis(settings.timeout_ms),
        settings.concurrency + 1,
    )
    .map_err(BuildError::from_error)?;
    let headers = RequestHeaders::new(settings.headers, settings.auth, settings.tenant)
        .map_err(BuildError::from_error)?;
    let dead_letter = DeadLetter::new(
        settings.dead_letter.resolve(&cx.globals.data_dir, &cx.id),
        &cx.id,
        settings.dead_letter.max_bytes,
    );
    Ok(Arc::new(Service {
        protocol,
        client,
        headers: Mutex::new(headers),
        codec: settings.codec,
        retry: settings.retry.clone(),
        dead_letter: Mutex::new(dead_letter),
        telemetry: telemetry.clone(),
        hard_stop: cx.hard_stop.clone(),
    }))
}

/// Open the sink's disk queue under `data_dir/queues/<sink>`.
fn queue<S: Copy + PartialEq>(
    config: &QueueConfig,
    cx: &SinkContext,
    telemetry: &SinkTelemetry,
) -> Result<(QueueSide<S>, PathBuf), BuildError> {
    let dir = cx.globals.data_dir.join("queues").join(&*cx.id);
    let mut queue = config.open(&dir).map_err(BuildError::from_error)?;
    QueueRecordsCorrupt {
        sink: telemetry,
        records: queue.take_corrupt(),
        dir: &dir,
    }
    .emit();
    Ok((QueueSide::new(queue, telemetry), dir))
}

/// Report the endpoint, the queue, the dead letters and whether the
/// receiver refuses the credentials on `/status`.
fn report_status(cx: &SinkContext, endpoint: &Uri, queue_dir: &Path, telemetry: &SinkTelemetry) {
    let endpoint = endpoint.to_string();
    let dir = queue_dir.display().to_string();
    let telemetry = telemetry.clone();
    cx.status.set_reporter(move || {
        let (records, bytes) = telemetry.queue_size();
        json!({
            "endpoint": endpoint,
            "queue": { "dir": dir, "records": records, "bytes": bytes },
            "dead_lettered_events": telemetry.dead_lettered(),
            "auth_failing": telemetry.auth_failing(),
        })
    });
}
