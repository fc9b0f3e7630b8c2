//! What a path under `/var/log/pods` says about its container.
//!
//! kubelet lays logs out as
//! `<pods_dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log`, rotated
//! to `<restart>.log.<YYYYMMDD-HHMMSS>` and later gzipped to `.gz` (with a
//! transient `.tmp` while compressing). Namespace and pod names cannot hold
//! `_`, so the directory splits unambiguously (kubelet's own
//! `parsePodUIDFromLogsDirectory` takes the last part as the UID).

use std::path::{Path, PathBuf};

/// The container a log file belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    /// `k8s.namespace.name`.
    pub namespace: String,
    /// `k8s.pod.name`.
    pub pod: String,
    /// `k8s.pod.uid`.
    pub uid: String,
    /// `k8s.container.name`.
    pub container: String,
    /// `k8s.container.restart_count`.
    pub restart_count: u32,
    /// The live file of this container instance (`.../<restart>.log`):
    /// rotations of it share it as their stream.
    pub live_path: PathBuf,
}

/// Parse a pod log path; `None` for anything that is not a container log
/// or one of its rotations (kubelet's `.tmp` files included).
pub fn parse(path: &Path) -> Option<ContainerLog> {
    let file = path.file_name()?.to_str()?;
    let container_dir = path.parent()?;
    let pod_dir = container_dir.parent()?;
    let container = container_dir.file_name()?.to_str()?;
    let pod_part = pod_dir.file_name()?.to_str()?;

    let (restart, rest) = file.split_once(".log")?;
    let restart_count: u32 = restart.parse().ok()?;
    let rotation_ok = rest.is_empty()
        || rest
            .strip_prefix('.')
            .map(|suffix| suffix.strip_suffix(".gz").unwrap_or(suffix))
            .is_some_and(is_rotation_stamp);
    if !rotation_ok {
        return None;
    }

    let mut parts = pod_part.splitn(2, '_');
    let namespace = parts.next()?;
    let (pod, uid) = parts.next()?.rsplit_once('_')?;
    if namespace.is_empty() || pod.is_empty() || uid.is_empty() {
        return None;
    }
    Some(ContainerLog {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        uid: uid.to_owned(),
        container: container.to_owned(),
        restart_count,
        live_path: container_dir.join(format!("{restart}.log")),
    })
}

/// `YYYYMMDD-HHMMSS`, kubelet's rotation timestamp.
fn is_rotation_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 15
        && b[8] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_live_and_rotated_files() {
        let live = parse(Path::new("/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0b3f1e2a-1111-2222-3333-444455556666/coredns/3.log")).unwrap();
        assert_eq!(live.namespace, "kube-system");
        assert_eq!(live.pod, "coredns-5d78c9869d-abcde");
        assert_eq!(live.uid, "0b3f1e2a-1111-2222-3333-444455556666");
        assert_eq!(live.container, "coredns");
        assert_eq!(live.restart_count, 3);
        let rotated = parse(Path::new("/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0b3f1e2a-1111-2222-3333-444455556666/coredns/3.log.20240501-120000")).unwrap();
        assert_eq!(rotated.live_path, live.live_path);
        assert!(parse(Path::new("/var/log/pods/a_b_c/d/0.log.20240501-120000.gz")).is_some());
        assert!(parse(Path::new("/var/log/pods/a_b_c/d/0.log.20240501-120000.tmp")).is_none());
        assert!(parse(Path::new("/var/log/pods/a_b_c/d/notes.txt")).is_none());
        assert!(parse(Path::new("/var/log/pods/ab/d/0.log")).is_none());
    }
}
