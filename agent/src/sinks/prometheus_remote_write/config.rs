//! Configuration of the `prometheus_remote_write` sink.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::sinks::util::auth::{self, AuthConfig, Secret, TenantConfig};
use crate::sinks::util::batch::BatchConfig;
use crate::sinks::util::build::validate_endpoint;
use crate::sinks::util::dead_letter::DeadLetterConfig;
use crate::sinks::util::queue::QueueConfig;
use crate::sinks::util::retry::RetryConfig;
use crate::sinks::util::tls::TlsConfig;

/// Configuration of the `prometheus_remote_write` sink: metrics to a
/// Prometheus remote-write 1.0 receiver (Prometheus with
/// `--web.enable-remote-write-receiver`, Mimir, Thanos, VictoriaMetrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRemoteWriteSinkConfig {
    /// The full write URL, e.g. `https://prometheus:9090/api/v1/write`
    /// (`http://` only when written so).
    pub endpoint: String,
    /// How long one attempt may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How data points are grouped into requests (`max_events` counts data
    /// points).
    #[serde(default)]
    pub batch: BatchConfig,
    /// Resource attributes to add as labels (dots become underscores), in
    /// addition to `job` (from `service.name`) and `instance` (from
    /// `service.instance.id` or `host.name`).
    #[serde(default = "default_resource_labels")]
    pub resource_labels: Vec<String>,
    /// TLS settings for an `https://` endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Authentication.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Headers added to every request; values are treated as secrets.
    #[serde(default)]
    pub headers: IndexMap<String, Secret>,
    /// The tenant header (`X-Scope-OrgID` for Mimir and Cortex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantConfig>,
    /// Backoff between attempts.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Where data points the receiver refuses for good are written.
    #[serde(default)]
    pub dead_letter: DeadLetterConfig,
    /// The disk queue every data point goes through.
    #[serde(default)]
    pub queue: QueueConfig,
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_resource_labels() -> Vec<String> {
    [
        "k8s.node.name",
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.container.name",
    ]
    .map(str::to_owned)
    .to_vec()
}

impl Validate for PrometheusRemoteWriteSinkConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        validate_endpoint(&self.endpoint, self.tls.as_ref(), path, errors);
        if self.timeout_ms == 0 {
            errors.push(path.field("timeout_ms").error("must be at least 1"));
        }
        for (i, key) in self.resource_labels.iter().enumerate() {
            if key.is_empty() {
                errors.push(
                    path.field("resource_labels")
                        .index(i)
                        .error("expected a resource attribute name"),
                );
            }
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
