//! The top-level configuration document.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CheckConfig, SinkComponent, SourceConfig, TransformComponent};
use crate::kubelet::KubeletConfig;

/// The agent's configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory for the agent's state: file checkpoints, disk queues, the
    /// plugin cache and plugin state. Created at start-up if missing.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,

    /// The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/status`.
    #[serde(default)]
    pub admin: AdminConfig,

    /// The agent's own log output.
    #[serde(default)]
    pub log: LogConfig,

    /// How long a graceful shutdown (SIGTERM, SIGINT) may spend delivering
    /// in-flight batches before it gives up on them, in seconds. What is not
    /// delivered by then stays unacknowledged and is read again after the
    /// restart.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,

    /// Reload when the configuration file changes on disk (SIGHUP always
    /// reloads).
    #[serde(default = "default_true")]
    pub watch_config: bool,

    /// The WebAssembly plugin host.
    #[serde(default)]
    pub plugins: PluginsConfig,

    /// How to reach this node's kubelet, for the `kubernetes_logs` and
    /// `pod_metrics` sources. A source may set any of these fields itself
    /// (`kubernetes_logs` under its own `kubelet:`), overriding this
    /// block's value for that source.
    #[serde(default)]
    pub kubelet: KubeletConfig,

    /// Sources, by name: where events come from.
    #[serde(default)]
    pub sources: IndexMap<String, SourceConfig>,

    /// Checks, by name: Wasm plugins run on a schedule. Their results can
    /// be named as sink inputs like sources.
    #[serde(default)]
    pub checks: IndexMap<String, CheckConfig>,

    /// Transforms, by name: parse, filter and change events between their
    /// `inputs` (sources, checks or other transforms) and the sinks or
    /// transforms that name them.
    #[serde(default)]
    pub transforms: IndexMap<String, TransformComponent>,

    /// Sinks, by name: where events go. Each names its `inputs`.
    #[serde(default)]
    pub sinks: IndexMap<String, SinkComponent>,
}

// === impl Config ===

impl Config {
    /// Hand the top-level `kubelet:` block to the sources that reach the
    /// kubelet, so that their configuration, which a reload compares,
    /// holds the settings they use: a change to the block rebuilds the
    /// sources it reaches, and only those.
    pub(super) fn share_kubelet(&mut self) {
        for source in self.sources.values_mut() {
            match source {
                SourceConfig::KubernetesLogs(config) => config.kubelet.share(&self.kubelet),
                SourceConfig::PodMetrics(config) => config.share(&self.kubelet),
                SourceConfig::File(_)
                | SourceConfig::InternalMetrics(_)
                | SourceConfig::HostMetrics(_) => {}
            }
        }
    }
}

/// The admin HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the admin endpoints.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address to listen on, `host:port`. Loopback by default: expose it
    /// deliberately (for Prometheus to scrape) by setting `0.0.0.0:9810`.
    #[serde(default = "default_admin_address")]
    pub address: String,
}

/// The agent's own log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Level filter in `tracing` directive syntax: `info`, `debug`,
    /// `info,neurallog_agent::sources=debug`. `RUST_LOG`, when set, wins.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// Output format on stderr.
    #[serde(default)]
    pub format: LogFormat,
}

/// Output format of the agent's own log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The WebAssembly plugin host, shared by all checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directory of third-party `.wasm` plugins. A check with
    /// `type: wasm` and `plugin: NAME` loads `NAME.wasm` from here; files
    /// that change are reloaded.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Memory all plugin instances together may use, in bytes. Sizes the
    /// instance pool; a run that would exceed it waits for a slot.
    #[serde(default = "default_plugin_memory_budget_bytes")]
    pub memory_budget_bytes: u64,
    /// How many check runs may execute at once.
    #[serde(default = "default_plugin_max_concurrent_runs")]
    pub max_concurrent_runs: u32,
    /// Cache compiled plugins under `data_dir/plugin-cache`, keyed by content
    /// hash and engine settings, so restarts skip compilation.
    #[serde(default = "default_true")]
    pub cache: bool,
    /// The mount table the `fs-stats` import reads devices and filesystem
    /// types from. In a container, the host's: `/host/proc/1/mounts`.
    #[serde(default = "default_mounts_file")]
    pub mounts_file: PathBuf,
    /// Which process runs plugins: `worker` (a separate, confined process
    /// per check and per `wasm` transform: unprivileged user,
    /// `no_new_privs`, seccomp, rlimits) or
    /// `in_process` (inside the agent, faster, but a sandbox escape would
    /// be the agent's). Third-party plugins default to `worker`, the
    /// first-party ones built into the agent to `in_process`.
    #[serde(default)]
    pub isolation: IsolationConfig,
    /// How plugin worker processes are confined.
    #[serde(default)]
    pub worker: WorkerConfig,
}

/// Where plugins run, by origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsolationConfig {
    /// Plugins loaded from files (`plugin:` or `path:`).
    #[serde(default = "default_third_party_isolation")]
    pub third_party: Isolation,
    /// The checks built into the agent (`cert_expiry`, `disk_usage`,
    /// `backup_verify`).
    #[serde(default = "default_first_party_isolation")]
    pub first_party: Isolation,
}

/// Where a plugin runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// In a plugin worker process of its own.
    Worker,
    /// In the agent's process.
    InProcess,
}

/// The plugin worker process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// User the worker runs as when the agent runs as root (a name in
    /// `/etc/passwd`, or a numeric id). It reads granted directories as
    /// this user. When the agent is not root the worker keeps the agent's
    /// user and drops every capability.
    #[serde(default = "default_worker_user")]
    pub user: String,
    /// Group the worker runs as when the agent runs as root (a name in
    /// `/etc/group`, or a numeric id); also its only supplementary group.
    #[serde(default = "default_worker_group")]
    pub group: String,
    /// CPU time one worker may use over its life, in seconds
    /// (`RLIMIT_CPU`); past it the worker is killed and restarted.
    #[serde(default = "default_worker_cpu_secs")]
    pub cpu_secs: u64,
    /// Put each worker in a cgroup of its own under the agent's, when the
    /// agent's cgroup (v2) is writable.
    #[serde(default = "default_true")]
    pub cgroup: bool,
}

// === defaults ===

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/neurallog-agent")
}

fn default_shutdown_timeout_secs() -> u64 {
    30
}

pub(super) fn default_true() -> bool {
    true
}

fn default_admin_address() -> String {
    "127.0.0.1:9810".to_owned()
}

fn default_log_level() -> String {
    "info".to_owned()
}

fn default_plugin_memory_budget_bytes() -> u64 {
    256 * 1024 * 1024
}

fn default_third_party_isolation() -> Isolation {
    Isolation::Worker
}

fn default_first_party_isolation() -> Isolation {
    Isolation::InProcess
}

fn default_worker_user() -> String {
    "nobody".to_owned()
}

fn default_worker_group() -> String {
    "nogroup".to_owned()
}

fn default_worker_cpu_secs() -> u64 {
    3600
}

impl Default for IsolationConfig {
    fn default() -> Self {
        IsolationConfig {
            third_party: default_third_party_isolation(),
            first_party: default_first_party_isolation(),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            user: default_worker_user(),
            group: default_worker_group(),
            cpu_secs: default_worker_cpu_secs(),
            cgroup: true,
        }
    }
}

fn default_mounts_file() -> PathBuf {
    PathBuf::from("/proc/self/mounts")
}

fn default_plugin_max_concurrent_runs() -> u32 {
    4
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            address: default_admin_address(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            directory: None,
            memory_budget_bytes: default_plugin_memory_budget_bytes(),
            max_concurrent_runs: default_plugin_max_concurrent_runs(),
            cache: true,
            mounts_file: default_mounts_file(),
            isolation: IsolationConfig::default(),
            worker: WorkerConfig::default(),
        }
    }
}
