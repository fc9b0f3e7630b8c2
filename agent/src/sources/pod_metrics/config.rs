//! Configuration of the `pod_metrics` source.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::kubelet::{KubeletConfig, KubeletOverrides, present, validate_overrides};

/// Configuration of the `pod_metrics` source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodMetricsConfig {
    /// Seconds between scrapes. CPU usage is computed between consecutive
    /// scrapes.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// The kubelet's base URL. Overrides the top-level `kubelet.endpoint`
    /// for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bearer token file, read again before every scrape; `null` sends no
    /// token. Overrides the top-level `kubelet.token_file` for this
    /// source.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_file: Option<Option<PathBuf>>,
    /// CA certificates (PEM) that sign the kubelet's serving certificate.
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
    /// How long one request may take, connecting included, in
    /// milliseconds. Overrides the top-level `kubelet.timeout_ms` for this
    /// source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Report memory page faults of nodes, pods and containers.
    #[serde(default = "default_true")]
    pub page_faults: bool,
    /// When the kubelet cannot be scraped, read pod CPU and memory from the
    /// cgroup v2 files under `sys_path` (`fs/cgroup/kubepods.slice/...`).
    #[serde(default = "default_true")]
    pub cgroup_fallback: bool,
    /// Where the host's sysfs is mounted (`/host/sys` in a container).
    #[serde(default = "default_sys_path")]
    pub sys_path: PathBuf,
    /// The kubelet's pod log directory, whose `<namespace>_<pod>_<uid>`
    /// names give the cgroup fallback the names of pods it only knows by
    /// UID.
    #[serde(default = "default_pod_logs_dir")]
    pub pod_logs_dir: PathBuf,
    /// The top-level `kubelet:` block with the fields above in its place,
    /// set when the configuration is loaded: what a reload compares.
    #[serde(skip)]
    #[schemars(skip)]
    pub shared: KubeletConfig,
}

// === impl PodMetricsConfig ===

impl PodMetricsConfig {
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

impl Validate for PodMetricsConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.interval_secs == 0 {
            errors.push(path.field("interval_secs").error("must be at least 1"));
        }
        validate_overrides(&self.overrides(), path, errors);
    }
}

impl Default for PodMetricsConfig {
    fn default() -> Self {
        PodMetricsConfig {
            interval_secs: default_interval_secs(),
            endpoint: None,
            token_file: None,
            ca_file: None,
            insecure_skip_verify: None,
            timeout_ms: None,
            page_faults: true,
            cgroup_fallback: true,
            sys_path: default_sys_path(),
            pod_logs_dir: default_pod_logs_dir(),
            shared: KubeletConfig::default(),
        }
    }
}

// === defaults ===

fn default_interval_secs() -> u64 {
    15
}

fn default_true() -> bool {
    true
}

fn default_sys_path() -> PathBuf {
    PathBuf::from("/sys")
}

fn default_pod_logs_dir() -> PathBuf {
    PathBuf::from("/var/log/pods")
}
