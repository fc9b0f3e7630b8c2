//! Pod CPU and memory from the cgroup v2 filesystem, for when the kubelet
//! cannot be reached (<https://docs.kernel.org/admin-guide/cgroup-v2.html>).
//!
//! The kubelet puts each pod in a cgroup below `kubepods`, by QoS class:
//!
//! ```text
//! systemd driver:  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice
//!                  kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice
//!                  kubepods.slice/kubepods-pod<uid>.slice                      (guaranteed)
//! cgroupfs driver: kubepods/burstable/pod<uid>, kubepods/besteffort/pod<uid>, kubepods/pod<uid>
//! ```
//!
//! From `cpu.stat` (`usage_usec`), `memory.current` and `memory.stat`
//! (`anon`, `inactive_file`, `pgfault`, `pgmajfault`) it derives what the
//! kubelet would report: working set = usage − inactive file cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One pod's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCgroup {
    /// The pod's UID (with dashes).
    pub uid: String,
    /// Its cgroup directory.
    pub path: PathBuf,
}

/// What one pod's cgroup says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// CPU time consumed, microseconds.
    pub cpu_usage_usec: Option<u64>,
    /// `memory.current`.
    pub memory_bytes: Option<u64>,
    /// `anon` of `memory.stat`.
    pub rss_bytes: Option<u64>,
    /// `inactive_file` of `memory.stat`.
    pub inactive_file_bytes: Option<u64>,
    /// `pgfault`.
    pub page_faults: Option<u64>,
    /// `pgmajfault`.
    pub major_page_faults: Option<u64>,
}

/// Every pod cgroup below `cgroup_root` (`<sys>/fs/cgroup`).
pub fn pods(cgroup_root: &Path) -> Vec<PodCgroup> {
    let mut found = Vec::new();
    for top in ["kubepods.slice", "kubepods"] {
        let top = cgroup_root.join(top);
        for entry in children(&top) {
            let name = file_name(&entry);
            if let Some(uid) = pod_uid(&name) {
                found.push(PodCgroup { uid, path: entry });
            } else if is_qos(&name) {
                for pod in children(&entry) {
                    if let Some(uid) = pod_uid(&file_name(&pod)) {
                        found.push(PodCgroup { uid, path: pod });
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| a.uid.cmp(&b.uid));
    found
}

/// Read one pod's usage; files that are missing stay `None`.
pub fn usage(pod: &Path) -> PodUsage {
    let mut usage = PodUsage::default();
    if let Some(stat) = read(&pod.join("cpu.stat")) {
        usage.cpu_usage_usec = field(&stat, "usage_usec");
    }
    usage.memory_bytes = read(&pod.join("memory.current")).and_then(|t| t.trim().parse().ok());
    if let Some(stat) = read(&pod.join("memory.stat")) {
        usage.rss_bytes = field(&stat, "anon");
        usage.inactive_file_bytes = field(&stat, "inactive_file");
        usage.page_faults = field(&stat, "pgfault");
        usage.major_page_faults = field(&stat, "pgmajfault");
    }
    usage
}

/// Pod names by UID from the kubelet's log directories
/// (`<namespace>_<name>_<uid>`; names cannot contain `_`).
pub fn names_from_log_dirs(pod_logs_dir: &Path) -> HashMap<String, (String, String)> {
    children(pod_logs_dir)
        .iter()
        .filter_map(|dir| {
            let name = file_name(dir);
            let mut parts = name.splitn(3, '_');
            let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
            Some((uid.to_owned(), (namespace.to_owned(), pod.to_owned())))
        })
        .collect()
}

impl PodUsage {
    /// Usage minus inactive file cache, as the kubelet computes it.
    pub fn working_set_bytes(&self) -> Option<u64> {
        self.memory_bytes
            .map(|m| m.saturating_sub(self.inactive_file_bytes.unwrap_or(0)))
    }
}

/// `kubepods-burstable-pod12_34.slice` or `pod12-34` → `12-34`.
fn pod_uid(name: &str) -> Option<String> {
    let name = name.strip_suffix(".slice").unwrap_or(name);
    let (_, uid) = name.rsplit_once("pod")?;
    let plausible = uid.len() >= 8
        && uid
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '_' || c == '-');
    plausible.then(|| uid.replace('_', "-"))
}

fn is_qos(name: &str) -> bool {
    matches!(
        name,
        "kubepods-burstable.slice" | "kubepods-besteffort.slice" | "burstable" | "besteffort"
    )
}

fn children(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The value of `key` in a flat-keyed file (`key value` per line).
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_from_both_cgroup_drivers() {
        assert_eq!(
            pod_uid("kubepods-burstable-pod11d454af_149d_40a5_9529_be58b54181ca.slice").as_deref(),
            Some("11d454af-149d-40a5-9529-be58b54181ca")
        );
        assert_eq!(
            pod_uid("pod5795d0c442cb997ff93c49feeb9f6386").as_deref(),
            Some("5795d0c442cb997ff93c49feeb9f6386")
        );
        assert_eq!(pod_uid("kubepods-burstable.slice"), None);
        assert_eq!(pod_uid("cri-containerd-abc.scope"), None);
    }
}
