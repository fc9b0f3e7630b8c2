//! Configuration of the `pod_metrics` source.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

/// Where a pod's service-account credentials are mounted.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Configuration of the `pod_metrics` source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodMetricsConfig {
    /// Seconds between scrapes. CPU usage is computed between consecutive
    /// scrapes.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// The kubelet's base URL. Default: `https://${NODE_NAME}:10250`, with
    /// `NODE_NAME` from the downward API.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Bearer token file, read again before every scrape (projected
    /// service-account tokens rotate). `null` sends no token.
    #[serde(default = "default_token_file")]
    pub token_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign the kubelet's serving certificate.
    /// When the file does not exist the system roots are used.
    #[serde(default = "default_ca_file")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the kubelet's certificate (self-signed kubelet serving
    /// certificates). Anyone on the path can then impersonate the kubelet;
    /// a warning is logged at start-up.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// How long one request may take, connecting included, in
    /// milliseconds. A slower kubelet counts as an error.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
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
}

// === impl PodMetricsConfig ===

impl PodMetricsConfig {
    /// How to reach the kubelet at `endpoint`.
    pub fn kubelet_settings(&self, endpoint: String) -> crate::kubelet::KubeletSettings {
        crate::kubelet::KubeletSettings {
            endpoint,
            token_file: self.token_file.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
}

impl Validate for PodMetricsConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.interval_secs == 0 {
            errors.push(path.field("interval_secs").error("must be at least 1"));
        }
        if self.timeout_ms == 0 {
            errors.push(path.field("timeout_ms").error("must be at least 1"));
        }
        if let Some(endpoint) = &self.endpoint {
            let ok = endpoint
                .parse::<http::Uri>()
                .ok()
                .filter(|uri| matches!(uri.scheme_str(), Some("https" | "http")))
                .filter(|uri| uri.host().is_some());
            if ok.is_none() {
                errors.push(path.field("endpoint").error(format!(
                    "{endpoint:?} is not a URL: expected for example `https://${{NODE_NAME}}:10250`"
                )));
            }
        }
    }
}

impl Default for PodMetricsConfig {
    fn default() -> Self {
        PodMetricsConfig {
            interval_secs: default_interval_secs(),
            endpoint: None,
            token_file: default_token_file(),
            ca_file: default_ca_file(),
            insecure_skip_verify: false,
            timeout_ms: default_timeout_ms(),
            page_faults: true,
            cgroup_fallback: true,
            sys_path: default_sys_path(),
            pod_logs_dir: default_pod_logs_dir(),
        }
    }
}

// === defaults ===

fn default_interval_secs() -> u64 {
    15
}

fn default_token_file() -> Option<PathBuf> {
    Some(PathBuf::from(SERVICE_ACCOUNT).join("token"))
}

fn default_ca_file() -> Option<PathBuf> {
    Some(PathBuf::from(SERVICE_ACCOUNT).join("ca.crt"))
}

fn default_timeout_ms() -> u64 {
    5_000
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
