//! Usage of mounted filesystems, read by the host with `statvfs(3)`.
//!
//! Only the mount points listed under the check's `grants.mounts` in the
//! agent's configuration can be asked for; [`mounts`] lists them.
//!
//! ```no_run
//! use neurallog_plugin_sdk::fs_stats;
//!
//! for mount in fs_stats::mounts() {
//!     let usage = fs_stats::usage(&mount.path)?;
//!     println!("{} ({}): {:.1}% used", mount.path, mount.fs_type, usage.used_percent());
//! }
//! # Ok::<(), fs_stats::FsError>(())
//! ```

/// Space and inode counts of one filesystem, as `statvfs(3)` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsUsage {
    /// Size of the filesystem in bytes.
    pub total_bytes: u64,
    /// Free bytes, including those reserved for root.
    pub free_bytes: u64,
    /// Bytes available to unprivileged users.
    pub available_bytes: u64,
    /// Total inodes (0 when the filesystem does not report them).
    pub total_inodes: u64,
    /// Free inodes.
    pub free_inodes: u64,
}

/// A mount point granted to the plugin, with its device and type from the
/// host's mount table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mount {
    /// Mount point, as granted in the configuration.
    pub path: String,
    /// Device, for example `/dev/sda1` (empty when unknown).
    pub device: String,
    /// Filesystem type, for example `ext4` (empty when unknown).
    pub fs_type: String,
}

/// Why usage could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// The path is not among the mounts granted to this plugin.
    #[error("not allowed (add it to the check's grants.mounts): {0}")]
    NotAllowed(String),
    /// `statvfs` failed; the message carries the OS error.
    #[error("statvfs failed: {0}")]
    Failed(String),
}

/// The mounts granted to this plugin.
#[must_use]
pub fn mounts() -> Vec<Mount> {
    crate::host::imp::mounts()
}

/// Usage of the filesystem mounted at `path`.
///
/// # Errors
///
/// [`FsError::NotAllowed`] when `path` is not a granted mount, and
/// [`FsError::Failed`] when the host's `statvfs` fails.
pub fn usage(path: &str) -> Result<FsUsage, FsError> {
    crate::host::imp::usage(path)
}

// === impl FsUsage ===

impl FsUsage {
    /// Bytes in use: `total - free`, as `df` counts them.
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.free_bytes)
    }

    /// Percent of the space usable by unprivileged users that is in use,
    /// exactly as `df` computes `Use%` (before rounding up):
    /// `used / (used + available) * 100` with `used = total - free`. Blocks
    /// reserved for root count neither as used nor as available, which is
    /// why this reaches 100 while `free` is still above zero. A filesystem
    /// reporting no space at all is 0% used.
    #[must_use]
    pub fn used_percent(&self) -> f64 {
        let used = self.used_bytes() as f64;
        let usable = used + self.available_bytes as f64;
        if usable > 0.0 {
            used * 100.0 / usable
        } else {
            0.0
        }
    }

    /// Percent of inodes in use (`df -i`'s `IUse%` before rounding up), or
    /// `None` when the filesystem reports no inodes (btrfs, some network
    /// filesystems).
    #[must_use]
    pub fn inodes_used_percent(&self) -> Option<f64> {
        if self.total_inodes == 0 {
            return None;
        }
        let used = self.total_inodes.saturating_sub(self.free_inodes) as f64;
        Some(used * 100.0 / self.total_inodes as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_percent_matches_df_with_reserved_blocks() {
        // A 100 GiB ext4 volume with 5% reserved: 60 GiB used, 40 GiB free,
        // 35 GiB available. df shows 60 / (60 + 35) = 63.2%, not 60%.
        let gib = 1 << 30;
        let usage = FsUsage {
            total_bytes: 100 * gib,
            free_bytes: 40 * gib,
            available_bytes: 35 * gib,
            total_inodes: 1000,
            free_inodes: 250,
        };
        assert_eq!(usage.used_bytes(), 60 * gib);
        assert!((usage.used_percent() - 63.157_894_736_842_1).abs() < 1e-9);
        assert_eq!(usage.inodes_used_percent(), Some(75.0));
    }

    #[test]
    fn empty_filesystems_do_not_divide_by_zero() {
        let usage = FsUsage::default();
        assert_eq!(usage.used_percent(), 0.0);
        assert_eq!(usage.inodes_used_percent(), None);
    }
}
