//! Configuration of the `kubernetes_logs` source.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate, tagged};
use crate::kubelet::{KubeletConfig, KubeletOverrides, present, validate_overrides};
use crate::sources::file::{MultilineConfig, TailConfig, split_tail_fields, validate_globs};

/// Configuration of the `kubernetes_logs` source.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct KubernetesLogsConfig {
    /// kubelet's pod log directory (`podLogsDir`), mounted read-only from
    /// the node.
    #[serde(default = "default_pods_dir")]
    pub pods_dir: PathBuf,
    /// Glob patterns of log files never to read (matched against the path
    /// under `pods_dir`), for example `/var/log/pods/kube-system_*/**`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// This node's name, for `k8s.node.name`. Defaults to the `NODE_NAME`
    /// environment variable (set from the downward API `spec.nodeName`).
    #[serde(default)]
    pub node_name: Option<String>,
    /// Longest record joined from a runtime's partial (`P`) lines, in bytes;
    /// the rest is dropped and the record flagged `truncated`.
    #[serde(default = "default_max_merged_line_bytes")]
    pub max_merged_line_bytes: usize,
    /// Group each container's lines into multiline records (stack traces),
    /// per stdout/stderr, after partial lines are joined.
    #[serde(default)]
    pub multiline: Option<MultilineConfig>,
    /// Pod metadata from this node's kubelet (`/pods`): labels, the owning
    /// workload, and the `neurallog.io/exclude: "true"` opt-out.
    #[serde(default)]
    pub kubelet: KubeletMetadataConfig,
    /// Tailing behaviour shared with the `file` source.
    #[serde(flatten)]
    pub tail: TailConfig,
}

/// Where and how pod metadata is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeletMetadataConfig {
    /// Fetch pod metadata. Off, records carry what the log path says
    /// (namespace, pod, UID, container) and no pod can opt out.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The kubelet's base URL. Overrides the top-level
    /// `kubelet.endpoint` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bearer token file, read again before every request; `null` sends
    /// no token. Overrides the top-level `kubelet.token_file` for this
    /// source.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_file: Option<Option<PathBuf>>,
    /// CA certificates (PEM) of the kubelet's serving certificate.
    /// Overrides the top-level `kubelet.ca_file` for this source.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_file: Option<Option<PathBuf>>,
    /// Do not verify the kubelet's certificate. Overrides the top-level
    /// `kubelet.insecure_skip_verify` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Deadline of one request, in milliseconds. Overrides the top-level
    /// `kubelet.timeout_ms` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Seconds between refreshes of the pod list.
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
    /// Add pod labels as `k8s.pod.label.<key>`.
    #[serde(default = "default_true")]
    pub labels: bool,
    /// Add pod annotations as `k8s.pod.annotation.<key>`.
    #[serde(default)]
    pub annotations: bool,
    /// Add the owning workload: `k8s.deployment.name`,
    /// `k8s.replicaset.name`, `k8s.daemonset.name`, `k8s.statefulset.name`,
    /// `k8s.job.name`.
    #[serde(default = "default_true")]
    pub owner: bool,
    /// Take `service.name` from the well-known labels
    /// `app.kubernetes.io/instance` and `app.kubernetes.io/name`, and
    /// `service.version` from `app.kubernetes.io/version`, when no
    /// `resource.opentelemetry.io/service.*` annotation sets them (the
    /// OpenTelemetry conventions' order). Off: annotations, then the
    /// owning workload's name, then the pod's.
    #[serde(default = "default_true")]
    pub service_from_labels: bool,
    /// The top-level `kubelet:` block with the fields above in its place,
    /// set when the configuration is loaded: what a reload compares.
    #[serde(skip)]
    #[schemars(skip)]
    pub shared: KubeletConfig,
}

fn default_true() -> bool {
    true
}

fn default_refresh_secs() -> u64 {
    30
}

impl Default for KubeletMetadataConfig {
    fn default() -> Self {
        KubeletMetadataConfig {
            enabled: true,
            endpoint: None,
            token_file: None,
            ca_file: None,
            insecure_skip_verify: None,
            timeout_ms: None,
            refresh_secs: default_refresh_secs(),
            labels: true,
            annotations: false,
            owner: true,
            service_from_labels: true,
            shared: KubeletConfig::default(),
        }
    }
}

// === impl KubeletMetadataConfig ===

impl KubeletMetadataConfig {
    /// How to reach the kubelet: the top-level block with this source's
    /// own fields in its place.
    pub fn connection(&self) -> KubeletConfig {
        self.shared.overridden(&self.overrides())
    }

    /// Take the top-level `kubelet:` block, as this source uses it.
    pub fn share(&mut self, block: &KubeletConfig) {
        self.shared = block.overridden(&self.overrides());
    }

    fn overrides(&self) -> KubeletOverrides {
        KubeletOverrides {
            endpoint: self.endpoint.clone(),
            token_file: self.token_file.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            timeout_ms: self.timeout_ms,
        }
    }
}

fn default_pods_dir() -> PathBuf {
    PathBuf::from("/var/log/pods")
}

fn default_max_merged_line_bytes() -> usize {
    1024 * 1024
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnFields {
    #[serde(default = "default_pods_dir")]
    pods_dir: PathBuf,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default = "default_max_merged_line_bytes")]
    max_merged_line_bytes: usize,
    #[serde(default)]
    multiline: Option<MultilineConfig>,
    #[serde(default)]
    kubelet: KubeletMetadataConfig,
}

impl OwnFields {
    const FIELDS: &[&str] = &[
        "pods_dir",
        "exclude",
        "node_name",
        "max_merged_line_bytes",
        "multiline",
        "kubelet",
    ];
}

impl<'de> Deserialize<'de> for KubernetesLogsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_yaml_ng::Mapping::deserialize(deserializer)?;
        let (tail, own) = split_tail_fields(map, OwnFields::FIELDS)?;
        let own: OwnFields = tagged::inner(own)?;
        let tail: TailConfig = tagged::inner(tail)?;
        Ok(KubernetesLogsConfig {
            pods_dir: own.pods_dir,
            exclude: own.exclude,
            node_name: own.node_name,
            max_merged_line_bytes: own.max_merged_line_bytes,
            multiline: own.multiline,
            kubelet: own.kubelet,
            tail,
        })
    }
}

impl Validate for KubernetesLogsConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if !self.pods_dir.is_absolute() {
            errors.push(
                path.field("pods_dir")
                    .error("expected an absolute directory path"),
            );
        }
        validate_globs(&self.exclude, &path.field("exclude"), false, errors);
        if self.max_merged_line_bytes < 1024 {
            errors.push(
                path.field("max_merged_line_bytes")
                    .error("must be at least 1024"),
            );
        }
        if self.kubelet.refresh_secs == 0 {
            errors.push(
                path.field("kubelet")
                    .field("refresh_secs")
                    .error("must be at least 1"),
            );
        }
        validate_overrides(&self.kubelet.overrides(), &path.field("kubelet"), errors);
        self.tail.validate(path, errors);
        if let Some(multiline) = &self.multiline {
            multiline.validate(&path.field("multiline"), errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_fields() -> Vec<&'static str> {
        let mut fields = [OwnFields::FIELDS, TailConfig::FIELDS].concat();
        fields.sort_unstable();
        fields
    }

    #[test]
    fn own_and_tail_fields_are_all_the_fields_of_the_source() {
        let schema = schemars::schema_for!(KubernetesLogsConfig);
        let mut names: Vec<&str> = schema.as_object().unwrap()["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, all_fields());
    }

    #[test]
    fn unknown_field_lists_own_and_tail_fields_sorted() {
        let error = serde_yaml_ng::from_str::<KubernetesLogsConfig>("pod_dir: /var/log/pods\n")
            .unwrap_err()
            .to_string();
        let list: Vec<String> = all_fields().iter().map(|f| format!("`{f}`")).collect();
        assert_eq!(
            error,
            format!(
                "\u{1}pod_dir\u{1}unknown field `pod_dir` (did you mean `pods_dir`?), expected one of {}",
                list.join(", ")
            )
        );
    }
}
