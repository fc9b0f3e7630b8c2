//! The `pod_metrics` source: CPU, memory, network, filesystem, ephemeral
//! storage and volume usage of the node, its pods and their containers,
//! from the kubelet's `/stats/summary` on this node over HTTPS
//! (<https://kubernetes.io/docs/reference/instrumentation/node-metrics/>),
//! named as the OpenTelemetry Collector's kubeletstats receiver names them
//! (`k8s.pod.cpu.time`, `k8s.pod.memory.working_set`,
//! `container.cpu.usage`...).
//!
//! When the kubelet cannot be reached, pod CPU and memory come from the
//! cgroup v2 files instead ([`cgroup`]); the failure is counted in
//! `neurallog_agent_component_errors_total{error_type="kubelet_..."}` and
//! shown in `/status`.

mod cgroup;
mod config;
pub(crate) mod convert;
mod source;
pub(crate) mod summary;

pub use config::PodMetricsConfig;
pub use source::build;
