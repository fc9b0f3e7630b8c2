//! Sources: where events come from.
//!
//! A source runs until its `shutdown` token is cancelled, sends batches
//! through its [`Fanout`](crate::topology::Fanout), and — if it cares about
//! delivery — stamps them with acknowledgements and waits for them.

pub mod file;
pub mod host_metrics;
pub mod internal_metrics;
pub mod kubernetes_logs;
pub mod pod_metrics;
mod resource;

pub use resource::{host_resource, workload_resource};

use crate::config::components;
use crate::topology::SourceContext;

components! {
    /// A source, by `type`.
    pub enum SourceConfig, built with SourceContext {
        /// Log files, tailed without losing a line.
        File("file", file::FileSourceConfig) => file::build,
        /// The agent's own metrics, as metric events.
        InternalMetrics("internal_metrics", internal_metrics::InternalMetricsConfig) => internal_metrics::build,
        /// Kubernetes container logs under `/var/log/pods`.
        KubernetesLogs("kubernetes_logs", kubernetes_logs::KubernetesLogsConfig) => kubernetes_logs::build,
        /// CPU, memory, load, filesystems, disks, network and processes of the
        /// host, read from procfs, sysfs and statvfs.
        HostMetrics("host_metrics", Box<host_metrics::HostMetricsConfig>) => host_metrics::build,
        /// Node, pod, container and volume usage from the kubelet's
        /// `/stats/summary`, with a cgroup fallback.
        PodMetrics("pod_metrics", Box<pod_metrics::PodMetricsConfig>) => pod_metrics::build,
    }
}
