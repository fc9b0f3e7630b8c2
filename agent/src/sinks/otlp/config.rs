//! Configuration of the `otlp_http` sink.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::sinks::util::auth::{self, AuthConfig, Secret, TenantConfig};
use crate::sinks::util::batch::BatchConfig;
use crate::sinks::util::build::validate_endpoint;
use crate::sinks::util::compression::Compression;
use crate::sinks::util::dead_letter::DeadLetterConfig;
use crate::sinks::util::queue::QueueConfig;
use crate::sinks::util::retry::RetryConfig;
use crate::sinks::util::tls::TlsConfig;

/// Configuration of the `otlp_http` sink: logs, metrics and check results
/// to an OTLP/HTTP receiver, as protobuf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpSinkConfig {
    /// The receiver's base URL, `https://host:port` (or `http://` for plain
    /// HTTP, only when written so). `/v1/logs` and `/v1/metrics` are
    /// appended to its path, as the OTLP specification says.
    pub endpoint: String,
    /// Body compression: `none`, `gzip` or `zstd`.
    #[serde(default)]
    pub compression: Compression,
    /// How long one attempt (connect, send, read the answer) may take, in
    /// milliseconds, before it is abandoned and retried.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How events are grouped into requests.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Log requests in flight at once. Metrics and check results go one
    /// request at a time, in order, from the disk queue.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// TLS settings for an `https://` endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Authentication.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Headers added to every request. Their values are treated as secrets:
    /// `print-config` shows them redacted.
    #[serde(default)]
    pub headers: IndexMap<String, Secret>,
    /// The tenant header, for a multi-tenant ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantConfig>,
    /// Backoff between attempts.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Where events the receiver refuses for good are written.
    #[serde(default)]
    pub dead_letter: DeadLetterConfig,
    /// The disk queue of metrics and check results.
    #[serde(default)]
    pub queue: QueueConfig,
}

pub(super) fn default_timeout_ms() -> u64 {
    30_000
}

fn default_concurrency() -> usize {
    4
}

impl Validate for OtlpHttpSinkConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        validate_endpoint(&self.endpoint, self.tls.as_ref(), path, errors);
        if self.timeout_ms == 0 {
            errors.push(path.field("timeout_ms").error("must be at least 1"));
        }
        if !(1..=256).contains(&self.concurrency) {
            errors.push(path.field("concurrency").error("must be between 1 and 256"));
        }
        self.batch.validate(&path.field("batch"), errors);
        self.retry.validate(&path.field("retry"), errors);
        self.dead_letter
            .validate(&path.field("dead_letter"), errors);
        self.queue.validate(&path.field("queue"), errors);
        auth::validate(
            &self.headers,
            &self.auth,
            self.tenant.as_ref(),
            path,
            errors,
        );
    }
}
