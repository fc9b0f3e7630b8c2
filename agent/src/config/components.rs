//! Named components: the closed enums of sources and sinks, tagged by
//! `type`, and checks.
//!
//! The enums deserialize by hand rather than with `#[serde(tag = "type")]`:
//! serde buffers internally tagged content and loses the field path of any
//! error inside it, and an operator needs `sources.app.multiline.max_lines`,
//! not `sources.app`. Each variant's struct is deserialized on its own with
//! its path tracked, and the path travels out inside the error message (see
//! [`tagged`]).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};

use super::error::{ConfigError, FieldPath};
use super::validate::Validate;
use crate::sinks::console::ConsoleSinkConfig;
use crate::sinks::file::FileSinkConfig;
use crate::sinks::otlp::OtlpHttpSinkConfig;
use crate::sinks::prometheus::PrometheusSinkConfig;
use crate::sinks::prometheus_remote_write::PrometheusRemoteWriteSinkConfig;
use crate::sources::file::FileSourceConfig;
use crate::sources::host_metrics::HostMetricsConfig;
use crate::sources::internal_metrics::InternalMetricsConfig;
use crate::sources::kubernetes_logs::KubernetesLogsConfig;
use crate::sources::pod_metrics::PodMetricsConfig;

/// What kind of component a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A source.
    Source,
    /// A check.
    Check,
    /// A sink.
    Sink,
}

/// A source, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Log files, tailed without losing a line.
    File(FileSourceConfig),
    /// The agent's own metrics, as metric events.
    InternalMetrics(InternalMetricsConfig),
    /// Kubernetes container logs under `/var/log/pods`.
    KubernetesLogs(KubernetesLogsConfig),
    /// CPU, memory, load, filesystems, disks, network and processes of the
    /// host, read from procfs, sysfs and statvfs.
    HostMetrics(Box<HostMetricsConfig>),
    /// Node, pod, container and volume usage from the kubelet's
    /// `/stats/summary`, with a cgroup fallback.
    PodMetrics(Box<PodMetricsConfig>),
}

/// A sink, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Console(ConsoleSinkConfig),
    /// JSON lines in a local file, rotated by size.
    File(FileSinkConfig),
    /// Logs, metrics and check results to an OTLP/HTTP receiver.
    OtlpHttp(OtlpHttpSinkConfig),
    /// Metrics to a Prometheus remote-write receiver.
    PrometheusRemoteWrite(PrometheusRemoteWriteSinkConfig),
    /// Metrics served for Prometheus to scrape, on the admin server's
    /// `/metrics` or an address of its own.
    Prometheus(PrometheusSinkConfig),
}

/// A sink and the components it reads from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SinkComponent {
    /// Names of the sources and checks whose events this sink receives.
    pub inputs: Vec<String>,
    /// The sink itself.
    #[serde(flatten)]
    pub sink: SinkConfig,
}

/// A check: a Wasm plugin run on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// The plugin: a first-party check shipped inside the agent
    /// (`cert_expiry`, `disk_usage`, `backup_verify`, `heartbeat`), or
    /// `wasm` for a third-party component named by `plugin` or `path`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `type: wasm`: the plugin's file name without `.wasm` in
    /// `plugins.directory`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// For `type: wasm`: the path of the `.wasm` component.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// For `type: wasm`: the component's expected SHA-256 (hex). A file
    /// that does not match is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Seconds between runs.
    #[serde(default = "default_check_interval_secs")]
    pub interval_secs: u64,
    /// Random delay added to each interval, as a percentage of it, so that
    /// a fleet of agents does not probe the same endpoint in lockstep.
    #[serde(default = "default_check_jitter_percent")]
    pub jitter_percent: u8,
    /// The plugin's own configuration, handed to it as JSON.
    #[serde(default = "empty_object")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub config: serde_json::Value,
    /// What the plugin may touch. Everything not granted is denied.
    #[serde(default)]
    pub grants: crate::wasm::Grants,
    /// Resource limits of one run. A run that hits one fails alone, with
    /// the limit named in its outcome.
    #[serde(default)]
    pub limits: crate::wasm::Limits,
}

// === impl SourceConfig ===

impl SourceConfig {
    /// The `type` names, for error messages.
    pub const TYPES: &[&str] = &[
        "file",
        "internal_metrics",
        "kubernetes_logs",
        "host_metrics",
        "pod_metrics",
    ];

    /// This source's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::File(_) => "file",
            SourceConfig::InternalMetrics(_) => "internal_metrics",
            SourceConfig::KubernetesLogs(_) => "kubernetes_logs",
            SourceConfig::HostMetrics(_) => "host_metrics",
            SourceConfig::PodMetrics(_) => "pod_metrics",
        }
    }
}

impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (tag, rest) = tagged::split(deserializer, Self::TYPES)?;
        match tag.as_str() {
            "file" => tagged::inner(rest).map(SourceConfig::File),
            "internal_metrics" => tagged::inner(rest).map(SourceConfig::InternalMetrics),
            "kubernetes_logs" => tagged::inner(rest).map(SourceConfig::KubernetesLogs),
            "host_metrics" => tagged::inner(rest).map(|c| SourceConfig::HostMetrics(Box::new(c))),
            "pod_metrics" => tagged::inner(rest).map(|c| SourceConfig::PodMetrics(Box::new(c))),
            other => Err(tagged::unknown_type(other, Self::TYPES)),
        }
    }
}

impl Validate for SourceConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        match self {
            SourceConfig::File(c) => c.validate(path, errors),
            SourceConfig::InternalMetrics(c) => c.validate(path, errors),
            SourceConfig::KubernetesLogs(c) => c.validate(path, errors),
            SourceConfig::HostMetrics(c) => c.validate(path, errors),
            SourceConfig::PodMetrics(c) => c.validate(path, errors),
        }
    }
}

// === impl SinkConfig ===

impl SinkConfig {
    /// The `type` names, for error messages.
    pub const TYPES: &[&str] = &[
        "console",
        "file",
        "otlp_http",
        "prometheus",
        "prometheus_remote_write",
    ];

    /// This sink's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::Console(_) => "console",
            SinkConfig::File(_) => "file",
            SinkConfig::OtlpHttp(_) => "otlp_http",
            SinkConfig::PrometheusRemoteWrite(_) => "prometheus_remote_write",
            SinkConfig::Prometheus(_) => "prometheus",
        }
    }
}

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (tag, rest) = tagged::split(deserializer, Self::TYPES)?;
        match tag.as_str() {
            "console" => tagged::inner(rest).map(SinkConfig::Console),
            "file" => tagged::inner(rest).map(SinkConfig::File),
            "otlp_http" => tagged::inner(rest).map(SinkConfig::OtlpHttp),
            "prometheus_remote_write" => tagged::inner(rest).map(SinkConfig::PrometheusRemoteWrite),
            "prometheus" => tagged::inner(rest).map(SinkConfig::Prometheus),
            other => Err(tagged::unknown_type(other, Self::TYPES)),
        }
    }
}

impl Validate for SinkConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        match self {
            SinkConfig::Console(c) => c.validate(path, errors),
            SinkConfig::File(c) => c.validate(path, errors),
            SinkConfig::OtlpHttp(c) => c.validate(path, errors),
            SinkConfig::PrometheusRemoteWrite(c) => c.validate(path, errors),
            SinkConfig::Prometheus(c) => c.validate(path, errors),
        }
    }
}

// === impl SinkComponent ===

impl<'de> Deserialize<'de> for SinkComponent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = tagged::mapping(deserializer)?;
        let inputs = match map.remove("inputs") {
            Some(value) => tagged::inner_at("inputs", value)?,
            None => {
                return Err(D::Error::custom(
                    "missing field `inputs`: a sink names the sources and checks it reads from",
                ));
            }
        };
        let sink = SinkConfig::deserialize(serde_yaml_ng::Value::Mapping(map))
            .map_err(D::Error::custom)?;
        Ok(SinkComponent { inputs, sink })
    }
}

// === defaults ===

fn default_check_interval_secs() -> u64 {
    60
}

fn default_check_jitter_percent() -> u8 {
    10
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Deserialization of `type`-tagged maps with field paths kept.
pub mod tagged {
    use super::*;
    use serde_yaml_ng::{Mapping, Value};

    /// Marks an error message that carries a field path relative to the
    /// value being deserialized: `\u{1}path\u{1}message`. `config::load`
    /// joins it to the outer path.
    pub(crate) const MARK: char = '\u{1}';

    /// The map at this position.
    pub(crate) fn mapping<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mapping, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Mapping(map) => Ok(map),
            Value::Null => Ok(Mapping::new()),
            other => Err(D::Error::custom(format!(
                "expected a map with a `type` field, found {}",
                describe(&other)
            ))),
        }
    }

    /// The `type` and the remaining fields of the map at this position.
    pub(crate) fn split<'de, D: Deserializer<'de>>(
        deserializer: D,
        types: &[&str],
    ) -> Result<(String, Mapping), D::Error> {
        let mut map = mapping(deserializer)?;
        match map.remove("type") {
            Some(Value::String(tag)) => Ok((tag, map)),
            Some(other) => Err(D::Error::custom(format!(
                "{MARK}type{MARK}expected a string, one of {}, found {}",
                list(types),
                describe(&other)
            ))),
            None => Err(D::Error::custom(format!(
                "missing field `type`, expected one of {}",
                list(types)
            ))),
        }
    }

    /// Deserialize the rest of a tagged map, keeping the inner path.
    pub(crate) fn inner<T: DeserializeOwned, E: serde::de::Error>(rest: Mapping) -> Result<T, E> {
        serde_path_to_error::deserialize(Value::Mapping(rest)).map_err(|e| {
            let path = e.path().to_string();
            E::custom(prefix(&path, &e.into_inner().to_string()))
        })
    }

    /// Deserialize one field's value, keeping its path.
    pub(crate) fn inner_at<T: DeserializeOwned, E: serde::de::Error>(
        field: &str,
        value: Value,
    ) -> Result<T, E> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." {
                field.to_owned()
            } else {
                format!("{field}{}", join(&inner))
            };
            E::custom(prefix(&path, &e.into_inner().to_string()))
        })
    }

    /// The error for an unknown `type`.
    pub(crate) fn unknown_type<E: serde::de::Error>(tag: &str, types: &[&str]) -> E {
        E::custom(format!(
            "{MARK}type{MARK}unknown component type `{tag}`, expected one of {}",
            list(types)
        ))
    }

    fn join(inner: &str) -> String {
        if inner.starts_with('[') {
            inner.to_owned()
        } else {
            format!(".{inner}")
        }
    }

    /// Put `path` in front of `message`, merging with a path the message
    /// already carries.
    fn prefix(path: &str, message: &str) -> String {
        let path = if path == "." { "" } else { path };
        match message.strip_prefix(MARK).and_then(|m| m.split_once(MARK)) {
            Some((nested, message)) if path.is_empty() => format!("{MARK}{nested}{MARK}{message}"),
            Some((nested, message)) => format!("{MARK}{path}{}{MARK}{message}", join(nested)),
            None if path.is_empty() => message.to_owned(),
            None => format!("{MARK}{path}{MARK}{message}"),
        }
    }

    fn list(types: &[&str]) -> String {
        types
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn describe(value: &Value) -> &'static str {
        match value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a map",
            Value::Tagged(_) => "a tagged value",
        }
    }
}
