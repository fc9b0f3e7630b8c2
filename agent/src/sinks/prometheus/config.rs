//! Configuration of the `prometheus` sink.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

/// Configuration of the `prometheus` exporter sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSinkConfig {
    /// Serve `/metrics` on this address (`host:port`) of its own. When
    /// absent, the metrics are added to the admin server's `/metrics`, where
    /// names of the agent's own metrics (`neurallog_agent_*`) are left to
    /// the agent.
    #[serde(default)]
    pub address: Option<String>,
    /// How names are derived: `otel`, the OpenTelemetry-to-Prometheus
    /// mapping (`system_cpu_time_seconds_total`), or `node_exporter`, the
    /// names and labels of node_exporter for host metrics
    /// (`node_cpu_seconds_total{cpu,mode}`). Names without a dot
    /// (`cpu_usage_percent`) are kept as they are in both.
    #[serde(default)]
    pub naming: Naming,
    /// A series not updated for this many seconds disappears. A series
    /// that is updated less often than every `expire_secs / 3` seconds (an
    /// hourly check) stays for three of its own intervals instead.
    #[serde(default = "default_expire_secs")]
    pub expire_secs: u64,
}

/// How exported names are derived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// The OpenTelemetry specification's mapping to Prometheus names.
    #[default]
    Otel,
    /// node_exporter's names and labels for host metrics; other metrics as
    /// with `otel`.
    NodeExporter,
}

// === impl PrometheusSinkConfig ===

impl PrometheusSinkConfig {
    /// The address to serve on, if any (validated before).
    pub fn socket_address(&self) -> Option<Result<SocketAddr, std::net::AddrParseError>> {
        self.address.as_deref().map(str::parse)
    }
}

impl Validate for PrometheusSinkConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if let Some(Err(_)) = self.socket_address() {
            errors.push(path.field("address").error(format!(
                "{:?} is not a socket address: expected `ip:port`, for example `0.0.0.0:9100`",
                self.address.as_deref().unwrap_or_default()
            )));
        }
        if self.expire_secs == 0 {
            errors.push(path.field("expire_secs").error("must be at least 1"));
        }
    }
}

fn default_expire_secs() -> u64 {
    60
}
