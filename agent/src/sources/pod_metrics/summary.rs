//! The kubelet's `/stats/summary` document, the fields the source uses
//! (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`,
//! <https://github.com/kubernetes/kubelet/blob/master/pkg/apis/stats/v1alpha1/types.go>).
//! Every statistic is optional: kubelets of different versions and
//! runtimes leave different ones out.

use serde::Deserialize;

/// The whole document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Summary {
    /// The node.
    pub node: NodeStats,
    /// Every pod on the node.
    #[serde(default)]
    pub pods: Vec<PodStats>,
}

/// Statistics of the node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// The node's name.
    pub node_name: String,
    /// When the node started (RFC 3339).
    pub start_time: Option<String>,
    /// CPU.
    pub cpu: Option<CpuStats>,
    /// Memory.
    pub memory: Option<MemoryStats>,
    /// Network.
    pub network: Option<NetworkStats>,
    /// The root filesystem.
    pub fs: Option<FsStats>,
}

/// Statistics of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// Which pod.
    pub pod_ref: PodRef,
    /// When the pod started.
    pub start_time: Option<String>,
    /// Its containers.
    #[serde(default)]
    pub containers: Vec<ContainerStats>,
    /// CPU of all its containers.
    pub cpu: Option<CpuStats>,
    /// Memory of all its containers.
    pub memory: Option<MemoryStats>,
    /// The pod's network namespace.
    pub network: Option<NetworkStats>,
    /// Its volumes.
    #[serde(default)]
    pub volume: Vec<VolumeStats>,
    /// Ephemeral storage: container writable layers, logs and emptyDir.
    #[serde(rename = "ephemeral-storage")]
    pub ephemeral_storage: Option<FsStats>,
}

/// Identifies a pod.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodRef {
    /// Name.
    pub name: String,
    /// Namespace (absent in some hand-trimmed test documents).
    #[serde(default)]
    pub namespace: String,
    /// UID.
    pub uid: String,
}

/// Statistics of a container.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    /// The container's name in the pod spec.
    pub name: String,
    /// When it started.
    pub start_time: Option<String>,
    /// CPU.
    pub cpu: Option<CpuStats>,
    /// Memory.
    pub memory: Option<MemoryStats>,
    /// Its writable layer.
    pub rootfs: Option<FsStats>,
    /// Its logs.
    pub logs: Option<FsStats>,
}

/// CPU usage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// When sampled (RFC 3339).
    pub time: Option<String>,
    /// Cores in use, in billionths, averaged over the kubelet's window.
    pub usage_nano_cores: Option<u64>,
    /// CPU time since start, in nanoseconds (over all cores).
    pub usage_core_nano_seconds: Option<u64>,
}

/// Memory usage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// Memory available before the limit (or the node's capacity).
    pub available_bytes: Option<u64>,
    /// All memory in use, page cache included.
    pub usage_bytes: Option<u64>,
    /// Usage minus inactive file cache: what the OOM killer and eviction
    /// look at.
    pub working_set_bytes: Option<u64>,
    /// Anonymous and swap cache memory.
    pub rss_bytes: Option<u64>,
    /// Page faults since start.
    pub page_faults: Option<u64>,
    /// Major page faults since start.
    pub major_page_faults: Option<u64>,
}

/// Network usage of a network namespace.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStats {
    /// The default interface's statistics, inline.
    #[serde(flatten)]
    pub default: InterfaceStats,
    /// Every interface.
    #[serde(default)]
    pub interfaces: Vec<InterfaceStats>,
}

/// Network usage of one interface.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStats {
    /// Interface name.
    #[serde(default)]
    pub name: String,
    /// Bytes received.
    pub rx_bytes: Option<u64>,
    /// Receive errors.
    pub rx_errors: Option<u64>,
    /// Bytes transmitted.
    pub tx_bytes: Option<u64>,
    /// Transmit errors.
    pub tx_errors: Option<u64>,
}

/// Usage of a filesystem.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsStats {
    /// Bytes available.
    pub available_bytes: Option<u64>,
    /// Capacity in bytes.
    pub capacity_bytes: Option<u64>,
    /// Bytes used (by this container or pod, on a shared filesystem).
    pub used_bytes: Option<u64>,
    /// Inodes free.
    pub inodes_free: Option<u64>,
    /// Inodes in total.
    pub inodes: Option<u64>,
    /// Inodes used.
    pub inodes_used: Option<u64>,
}

/// Usage of a pod volume.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStats {
    /// The volume's name in the pod spec.
    pub name: String,
    /// The claim, for persistent volumes.
    pub pvc_ref: Option<PvcRef>,
    /// Its filesystem, inline.
    #[serde(flatten)]
    pub fs: FsStats,
}

/// A persistent volume claim.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvcRef {
    /// The claim's name.
    pub name: String,
}
