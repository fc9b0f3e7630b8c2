//! Filesystem space and inodes: the mount table of the host's init process
//! (`/proc/1/mounts`, as node_exporter reads it; `/proc/self/mounts` when
//! hidepid hides it) and `statvfs(3)` of each mount point.
//!
//! `system.filesystem.usage` splits each filesystem into `used`, `free`
//! (available to unprivileged users, `f_bavail`) and `reserved` (free but
//! kept for root), so that the three add up to its size.

use std::path::{Path, PathBuf};

use crate::event::{AnyValue, Attributes};

use super::config::NameFilter;
use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::procfs::{Paths, read_into, unescape_octal};

const USAGE: Def = Def {
    name: "system.filesystem.usage",
    unit: "By",
    description: "Filesystem bytes used, free (available to unprivileged users) and reserved for root.",
};
const INODES: Def = Def {
    name: "system.filesystem.inodes.usage",
    unit: "{inode}",
    description: "Filesystem inodes used and free.",
};

/// One mounted filesystem to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mounted device (`/dev/vda1`, `tmpfs`).
    pub device: String,
    /// The mount point as the host sees it.
    pub mountpoint: String,
    /// The filesystem type (`ext4`).
    pub fs_type: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Where the mount point is reachable from the agent.
    pub path: PathBuf,
}

/// Space and inodes of one filesystem, from `statvfs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes in use.
    pub used: u64,
    /// Bytes free for unprivileged users.
    pub free: u64,
    /// Bytes free but reserved for root.
    pub reserved: u64,
    /// Inodes in use.
    pub inodes_used: u64,
    /// Inodes free.
    pub inodes_free: u64,
}

/// The filesystems to measure, from the mount table of the host.
pub fn mounts(
    paths: &Paths,
    mount_points: &NameFilter,
    fs_types: &NameFilter,
    buf: &mut String,
) -> Result<Vec<Mount>, HostMetricsError> {
    let table = paths.proc("1/mounts");
    if let Err(error) = read_into(&table, buf) {
        let fallback = paths.proc("self/mounts");
        if read_into(&fallback, buf).is_err() {
            return Err(error);
        }
    }
    Ok(parse_mounts(paths, buf, mount_points, fs_types))
}

/// Parse a mount table (`device mountpoint type options dump pass`).
pub fn parse_mounts(
    paths: &Paths,
    text: &str,
    mount_points: &NameFilter,
    fs_types: &NameFilter,
) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(device), Some(mountpoint), Some(fs_type), options) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let raw = unescape_octal(mountpoint);
        let mountpoint = paths.strip_root(&raw);
        if !mount_points.allows(mountpoint) || !fs_types.allows(fs_type) {
            continue;
        }
        let mount = Mount {
            device: unescape_octal(device).into_owned(),
            mountpoint: mountpoint.to_owned(),
            fs_type: fs_type.to_owned(),
            read_only: options.is_some_and(|o| o.split(',').any(|o| o == "ro")),
            path: paths.rooted(mountpoint),
        };
        // A later mount on the same point hides the earlier one.
        match mounts.iter_mut().find(|m| m.mountpoint == mount.mountpoint) {
            Some(hidden) => *hidden = mount,
            None => mounts.push(mount),
        }
    }
    mounts
}

/// `statvfs` of `path`. May block for long on a hung network mount: call
/// it off the async threads.
pub fn usage(path: &Path) -> std::io::Result<Usage> {
    let st = rustix::fs::statvfs(path)?;
    let unit = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    let free_all = st.f_bfree.saturating_mul(unit);
    let free = st.f_bavail.saturating_mul(unit);
    Ok(Usage {
        used: st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(unit),
        free,
        reserved: free_all.saturating_sub(free),
        inodes_used: st.f_files.saturating_sub(st.f_ffree),
        inodes_free: st.f_ffree,
    })
}

/// `statvfs` of every mount; mounts that cannot be measured (permission
/// denied on another user's FUSE mount, a vanished mount) are skipped.
pub fn measure(mounts: Vec<Mount>) -> Vec<(Mount, Usage)> {
    mounts
        .into_iter()
        .filter_map(|mount| match usage(&mount.path) {
            Ok(usage) => Some((mount, usage)),
            Err(error) => {
                tracing::debug!(%error, mountpoint = %mount.mountpoint, "Skipping a filesystem that cannot be measured.");
                None
            }
        })
        .collect()
}

/// Add the points of measured filesystems.
pub fn collect(measured: &[(Mount, Usage)], points: &mut Points) {
    for (mount, usage) in measured {
        let base = attrs([
            ("device", AnyValue::from(mount.device.clone())),
            ("mountpoint", AnyValue::from(mount.mountpoint.clone())),
            ("type", AnyValue::from(mount.fs_type.clone())),
            (
                "mode",
                AnyValue::from(if mount.read_only { "ro" } else { "rw" }),
            ),
        ]);
        let with_state = |state: &'static str| -> Attributes { base.clone().with("state", state) };
        points.up_down(&USAGE, usage.used as f64, with_state("used"));
        points.up_down(&USAGE, usage.free as f64, with_state("free"));
        points.up_down(&USAGE, usage.reserved as f64, with_state("reserved"));
        points.up_down(&INODES, usage.inodes_used as f64, with_state("used"));
        points.up_down(&INODES, usage.inodes_free as f64, with_state("free"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::host_metrics::config::FilesystemConfig;

    const MOUNTS: &str = "proc /proc proc rw,relatime 0 0
/dev/vda / ext4 rw,relatime 0 0
tmpfs /dev/shm tmpfs rw 0 0
/dev/vdb /host/data xfs ro,noatime 0 0
/dev/vdc /host/my\\040disk ext4 rw 0 0
overlay /host/var/lib/docker/overlay2/abc/merged overlay rw 0 0
/dev/vdd /host/data ext4 rw 0 0
";

    #[test]
    fn container_view_strips_the_root_and_applies_node_exporter_filters() {
        let paths = Paths {
            proc: "/host/proc".into(),
            sys: "/host/sys".into(),
            root: "/host".into(),
        };
        let config = FilesystemConfig::default();
        let mounts = parse_mounts(
            &paths,
            MOUNTS,
            &config.mount_points.compile().unwrap(),
            &config.fs_types.compile().unwrap(),
        );
        let seen: Vec<(&str, &str, &str, bool)> = mounts
            .iter()
            .map(|m| {
                (
                    m.device.as_str(),
                    m.mountpoint.as_str(),
                    m.path.to_str().unwrap(),
                    m.read_only,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("/dev/vda", "/", "/host/", false),
                // The later mount on /data hides the read-only one.
                ("/dev/vdd", "/data", "/host/data", false),
                ("/dev/vdc", "/my disk", "/host/my disk", false),
            ]
        );
    }

    #[test]
    fn used_free_and_reserved_add_up_to_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let usage = usage(dir.path()).unwrap();
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        assert_eq!(
            usage.used + usage.free + usage.reserved,
            st.f_blocks * st.f_frsize
        );
        let mount = Mount {
            device: "/dev/x".into(),
            mountpoint: "/x".into(),
            fs_type: "ext4".into(),
            read_only: true,
            path: dir.path().to_owned(),
        };
        let mut points = Points::new(Default::default(), 1, 0, 8);
        collect(&[(mount, usage)], &mut points);
        assert_eq!(points.metrics.len(), 5);
        let first = &points.metrics[0];
        assert_eq!(first.attributes.get("mode"), Some(&AnyValue::from("ro")));
        assert_eq!(first.attributes.get("state"), Some(&AnyValue::from("used")));
        assert_eq!(first.attributes.get("type"), Some(&AnyValue::from("ext4")));
    }
}
