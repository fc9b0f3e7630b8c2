//! `neurallog:plugin/fs-stats`: usage of a granted mount point through
//! `statvfs(3)`, and the device and filesystem type of each granted mount
//! from the host's mount table (`/proc/self/mounts` format, see
//! `proc_pid_mounts(5)`; the path is configurable for containers).
//!
//! `statvfs` can hang on a dead network filesystem, so it runs on the
//! blocking pool; the run's outer timeout covers it.

use std::path::Path;

use super::HostState;
use crate::wasm::bindings::v0_1::neurallog::plugin::fs_stats::{FsError, FsUsage, Host, Mount};

/// One line of a mount table.
#[derive(Debug, PartialEq, Eq)]
struct MountEntry {
    device: String,
    mount_point: String,
    fs_type: String,
}

impl Host for HostState {
    fn mounts(&mut self) -> wasmtime::Result<Vec<Mount>> {
        self.budget.charge_host_call()?;
        let table = match std::fs::read_to_string(&self.plugin.mounts_file) {
            Ok(text) => parse_mount_table(&text),
            Err(error) => {
                tracing::warn!(
                    plugin = &*self.plugin.name,
                    %error,
                    path = %self.plugin.mounts_file.display(),
                    "Failed to read the mount table."
                );
                Vec::new()
            }
        };
        Ok(self
            .plugin
            .grants
            .mounts()
            .iter()
            .map(|granted| {
                let path = granted.to_string_lossy().into_owned();
                // Later entries shadow earlier ones on the same mount point.
                let entry = table.iter().rev().find(|e| e.mount_point == path);
                Mount {
                    device: entry.map(|e| e.device.clone()).unwrap_or_default(),
                    fs_type: entry.map(|e| e.fs_type.clone()).unwrap_or_default(),
                    path,
                }
            })
            .collect())
    }

    async fn usage(&mut self, path: String) -> wasmtime::Result<Result<FsUsage, FsError>> {
        self.budget.charge_host_call()?;
        let Some(mount) = self.plugin.grants.mount(&path).map(Path::to_owned) else {
            return Ok(Err(FsError::NotAllowed(path)));
        };
        let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&mount)).await;
        Ok(match stat {
            Ok(Ok(stat)) => Ok(usage_of(&stat)),
            Ok(Err(errno)) => Err(FsError::Failed(format!("statvfs {path}: {errno}"))),
            Err(join) => Err(FsError::Failed(format!("statvfs {path}: {join}"))),
        })
    }
}

fn usage_of(stat: &rustix::fs::StatVfs) -> FsUsage {
    let block = stat.f_frsize;
    FsUsage {
        total_bytes: stat.f_blocks.saturating_mul(block),
        free_bytes: stat.f_bfree.saturating_mul(block),
        available_bytes: stat.f_bavail.saturating_mul(block),
        total_inodes: stat.f_files,
        free_inodes: stat.f_ffree,
    }
}

fn parse_mount_table(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            Some(MountEntry {
                device: unescape(fields.next()?),
                mount_point: unescape(fields.next()?),
                fs_type: unescape(fields.next()?),
            })
        })
        .collect()
}

/// Undoes the octal escapes (`\040` for a space) the kernel writes for
/// whitespace and backslashes in mount table fields.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal.map(|d| d.iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0'))) {
            Some(code) if code <= 0xff => {
                out.push(code as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mount_table_with_escapes() {
        let table = "/dev/sda1 / ext4 rw,relatime 0 0\n\
                     tmpfs /run/user\\0401000 tmpfs rw 0 0\n\
                     \n\
                     overlay /var/lib/with\\134slash overlay rw 0 0\n";
        let entries = parse_mount_table(table);
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0],
            MountEntry {
                device: "/dev/sda1".into(),
                mount_point: "/".into(),
                fs_type: "ext4".into()
            }
        );
        assert_eq!(entries[1].mount_point, "/run/user 1000");
        assert_eq!(entries[2].mount_point, "/var/lib/with\\slash");
    }

    #[test]
    fn usage_multiplies_blocks_by_fragment_size() {
        let stat = rustix::fs::statvfs("/").unwrap();
        let usage = usage_of(&stat);
        assert_eq!(usage.total_bytes, stat.f_blocks * stat.f_frsize);
        assert!(usage.available_bytes <= usage.free_bytes);
        assert!(usage.free_bytes <= usage.total_bytes);
    }
}
