//! Configuration of the `kubernetes_logs` source.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate, tagged};
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
    /// Tailing behaviour shared with the `file` source.
    #[serde(flatten)]
    pub tail: TailConfig,
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
}

impl<'de> Deserialize<'de> for KubernetesLogsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_yaml_ng::Mapping::deserialize(deserializer)?;
        let (tail, own) = split_tail_fields(map);
        let own: OwnFields = tagged::inner(own)?;
        let tail: TailConfig = tagged::inner(tail)?;
        Ok(KubernetesLogsConfig {
            pods_dir: own.pods_dir,
            exclude: own.exclude,
            node_name: own.node_name,
            max_merged_line_bytes: own.max_merged_line_bytes,
            multiline: own.multiline,
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
        self.tail.validate(path, errors);
        if let Some(multiline) = &self.multiline {
            multiline.validate(&path.field("multiline"), errors);
        }
    }
}
