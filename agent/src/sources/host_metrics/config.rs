//! Configuration of the `host_metrics` source.

use std::path::PathBuf;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

/// node_exporter's default `--collector.filesystem.mount-points-exclude`
/// (upstream; Debian's package also excludes `/run`, `/mnt` and `/media`).
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default `--collector.filesystem.fs-types-exclude`: the
/// pseudo and read-only image filesystems.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";
/// node_exporter's default `--collector.diskstats.device-exclude`:
/// partitions, loop and RAM devices.
pub const DEFAULT_DISK_DEVICES_EXCLUDE: &str =
    "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

/// Configuration of the `host_metrics` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostMetricsConfig {
    /// Seconds between collections. CPU utilization and
    /// `cpu_usage_percent` describe the time between two collections.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Where the host's procfs is mounted (`/host/proc` in a container).
    #[serde(default = "default_proc_path")]
    pub proc_path: PathBuf,
    /// Where the host's sysfs is mounted (`/host/sys` in a container).
    #[serde(default = "default_sys_path")]
    pub sys_path: PathBuf,
    /// Where the host's root filesystem is mounted (`/host` in a
    /// container). Filesystems are measured below it and reported by their
    /// mount point on the host.
    #[serde(default = "default_root_path")]
    pub root_path: PathBuf,
    /// Which collectors run.
    #[serde(default = "default_collectors")]
    pub collectors: Vec<CollectorKind>,
    /// CPU series.
    #[serde(default)]
    pub cpu: CpuConfig,
    /// Which filesystems are measured.
    #[serde(default)]
    pub filesystem: FilesystemConfig,
    /// Which block devices are measured.
    #[serde(default)]
    pub disk: DiskConfig,
    /// Which network interfaces are measured.
    #[serde(default)]
    pub network: NetworkConfig,
}

/// A collector of the `host_metrics` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectorKind {
    /// CPU time, utilization and `cpu_usage_percent` (`/proc/stat`).
    Cpu,
    /// Memory, swap and `memory_usage_percent` (`/proc/meminfo`).
    Memory,
    /// Load averages (`/proc/loadavg`).
    Load,
    /// Filesystem space and inodes (mount table and `statvfs`).
    Filesystem,
    /// Block device I/O (`/proc/diskstats`).
    Disk,
    /// Network interface traffic (`/proc/net/dev`).
    Network,
    /// Uptime and process counts (`/proc/stat`, `/proc`).
    System,
    /// Paging and the other default fields of node_exporter's `vmstat`
    /// collector (`/proc/vmstat`).
    Vmstat,
    /// Protocol counters (`/proc/net/netstat`, `snmp`, `snmp6`).
    Netstat,
    /// Socket counts (`/proc/net/sockstat`, `sockstat6`).
    Sockstat,
    /// UDP queue sizes (`/proc/net/udp`, `udp6`).
    UdpQueues,
    /// Per-CPU packet processing (`/proc/net/softnet_stat`).
    Softnet,
    /// ARP entries per interface (`/proc/net/arp`).
    Arp,
    /// Connection tracking (`/proc/sys/net/netfilter`,
    /// `/proc/net/stat/nf_conntrack`).
    Conntrack,
    /// Interface properties (`/sys/class/net`).
    Netclass,
    /// File handles (`/proc/sys/fs/file-nr`).
    Filefd,
    /// Entropy (`/proc/sys/kernel/random`).
    Entropy,
    /// Pressure stall information (`/proc/pressure`).
    Pressure,
    /// Time, time zone and clock sources
    /// (`/sys/devices/system/clocksource`).
    Time,
    /// The kernel's clock discipline (`adjtimex(2)`).
    Timex,
    /// Kernel and host name (`uname(2)`).
    Uname,
    /// The distribution (`os-release(5)` below `root_path`).
    Os,
    /// Whether SELinux is enabled (the mount table).
    Selinux,
}

/// CPU series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuConfig {
    /// Series per CPU, with a `cpu` attribute (`node_cpu_seconds_total`).
    #[serde(default = "default_true")]
    pub per_cpu: bool,
    /// Series of all CPUs together, without a `cpu` attribute. Select the
    /// per-CPU series with `cpu!=""` when both are on.
    #[serde(default = "default_true")]
    pub total: bool,
}

/// Include and exclude patterns (regular expressions). A name is collected
/// when it matches `include` (if set) and does not match `exclude` (if
/// set). A filter written in the configuration replaces the default one
/// as a whole; `exclude: null` removes the default exclusion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Collect only names that match.
    #[serde(default)]
    pub include: Option<String>,
    /// Never collect names that match.
    #[serde(default)]
    pub exclude: Option<String>,
}

/// Which filesystems are measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilesystemConfig {
    /// Mount points (as the host sees them). By default node_exporter's
    /// exclusion of `/dev`, `/proc`, `/sys` and container storage.
    #[serde(default = "default_mount_points")]
    pub mount_points: Filter,
    /// Filesystem types. By default pseudo filesystems (`proc`, `sysfs`,
    /// `cgroup2`, `overlay`, `squashfs`...) are excluded, as node_exporter
    /// does.
    #[serde(default = "default_fs_types")]
    pub fs_types: Filter,
    /// How long `statvfs` of all filesystems may take, in milliseconds. A
    /// hung network mount makes filesystem metrics skip (and count an
    /// error) until it returns; the other collectors carry on.
    #[serde(default = "default_stat_timeout_ms")]
    pub stat_timeout_ms: u64,
}

/// Which block devices are measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    /// Device names from `/proc/diskstats`. By default partitions, loop
    /// and RAM devices are excluded, as node_exporter does.
    #[serde(default = "default_disk_devices")]
    pub devices: Filter,
}

/// Which network interfaces are measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Interface names from `/proc/net/dev`. All by default.
    #[serde(default)]
    pub devices: Filter,
}

/// A compiled [`Filter`].
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

// === impl HostMetricsConfig ===

impl HostMetricsConfig {
    /// Whether `kind` runs.
    pub fn runs(&self, kind: CollectorKind) -> bool {
        self.collectors.contains(&kind)
    }
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            interval_secs: default_interval_secs(),
            proc_path: default_proc_path(),
            sys_path: default_sys_path(),
            root_path: default_root_path(),
            collectors: default_collectors(),
            cpu: CpuConfig::default(),
            filesystem: FilesystemConfig::default(),
            disk: DiskConfig::default(),
            network: NetworkConfig::default(),
        }
    }
}

impl Validate for HostMetricsConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.interval_secs == 0 {
            errors.push(path.field("interval_secs").error("must be at least 1"));
        }
        for (field, value, example) in [
            ("proc_path", &self.proc_path, "/host/proc"),
            ("sys_path", &self.sys_path, "/host/sys"),
            ("root_path", &self.root_path, "/host"),
        ] {
            if !value.is_absolute() {
                errors.push(path.field(field).error(format!(
                    "{:?} is not an absolute path: expected for example `{example}`",
                    value.display(),
                )));
            }
        }
        if self.collectors.is_empty() {
            errors.push(path.field("collectors").error(
                "is empty: expected some of cpu, memory, load, filesystem, disk, network, system, vmstat, netstat, sockstat, udp_queues, softnet, arp, conntrack, netclass, filefd, entropy, pressure, time, timex, uname, os, selinux",
            ));
        }
        let fs = path.field("filesystem");
        self.filesystem
            .mount_points
            .validate(&fs.field("mount_points"), errors);
        self.filesystem
            .fs_types
            .validate(&fs.field("fs_types"), errors);
        if self.filesystem.stat_timeout_ms == 0 {
            errors.push(fs.field("stat_timeout_ms").error("must be at least 1"));
        }
        self.disk
            .devices
            .validate(&path.field("disk").field("devices"), errors);
        self.network
            .devices
            .validate(&path.field("network").field("devices"), errors);
    }
}

// === impl Filter ===

impl Filter {
    fn excluding(pattern: &str) -> Self {
        Filter {
            include: None,
            exclude: Some(pattern.to_owned()),
        }
    }

    /// Compile the patterns (validated before).
    pub fn compile(&self) -> Result<NameFilter, regex::Error> {
        Ok(NameFilter {
            include: self.include.as_deref().map(Regex::new).transpose()?,
            exclude: self.exclude.as_deref().map(Regex::new).transpose()?,
        })
    }

    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        for (field, pattern) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(pattern) = pattern
                && let Err(error) = Regex::new(pattern)
            {
                errors.push(
                    path.field(field)
                        .error(format!("{pattern:?} is not a regular expression: {error}")),
                );
            }
        }
    }
}

// === impl NameFilter ===

impl NameFilter {
    /// Whether `name` is collected.
    pub fn allows(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|re| re.is_match(name))
            && !self.exclude.as_ref().is_some_and(|re| re.is_match(name))
    }
}

// === defaults ===

fn default_interval_secs() -> u64 {
    10
}

fn default_proc_path() -> PathBuf {
    PathBuf::from("/proc")
}

fn default_sys_path() -> PathBuf {
    PathBuf::from("/sys")
}

fn default_root_path() -> PathBuf {
    PathBuf::from("/")
}

fn default_true() -> bool {
    true
}

fn default_collectors() -> Vec<CollectorKind> {
    vec![
        CollectorKind::Cpu,
        CollectorKind::Memory,
        CollectorKind::Load,
        CollectorKind::Filesystem,
        CollectorKind::Disk,
        CollectorKind::Network,
        CollectorKind::System,
        CollectorKind::Vmstat,
        CollectorKind::Netstat,
        CollectorKind::Sockstat,
        CollectorKind::UdpQueues,
        CollectorKind::Softnet,
        CollectorKind::Arp,
        CollectorKind::Conntrack,
        CollectorKind::Netclass,
        CollectorKind::Filefd,
        CollectorKind::Entropy,
        CollectorKind::Pressure,
        CollectorKind::Time,
        CollectorKind::Timex,
        CollectorKind::Uname,
        CollectorKind::Os,
        CollectorKind::Selinux,
    ]
}

fn default_mount_points() -> Filter {
    Filter::excluding(DEFAULT_MOUNT_POINTS_EXCLUDE)
}

fn default_fs_types() -> Filter {
    Filter::excluding(DEFAULT_FS_TYPES_EXCLUDE)
}

fn default_stat_timeout_ms() -> u64 {
    5_000
}

fn default_disk_devices() -> Filter {
    Filter::excluding(DEFAULT_DISK_DEVICES_EXCLUDE)
}

impl Default for CpuConfig {
    fn default() -> Self {
        CpuConfig {
            per_cpu: true,
            total: true,
        }
    }
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            mount_points: default_mount_points(),
            fs_types: default_fs_types(),
            stat_timeout_ms: default_stat_timeout_ms(),
        }
    }
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            devices: default_disk_devices(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filters_match_node_exporter() {
        let fs = FilesystemConfig::default();
        let mounts = fs.mount_points.compile().unwrap();
        let types = fs.fs_types.compile().unwrap();
        for excluded in [
            "/dev",
            "/dev/shm",
            "/proc",
            "/sys/fs/cgroup",
            "/var/lib/docker/overlay2/x",
        ] {
            assert!(!mounts.allows(excluded), "{excluded}");
        }
        for kept in ["/", "/home", "/var/lib/docker", "/run", "/devices"] {
            assert!(mounts.allows(kept), "{kept}");
        }
        for excluded in ["proc", "sysfs", "cgroup2", "overlay", "squashfs"] {
            assert!(!types.allows(excluded), "{excluded}");
        }
        assert!(types.allows("ext4") && types.allows("tmpfs") && types.allows("xfs"));
        let disks = DiskConfig::default().devices.compile().unwrap();
        for excluded in ["sda1", "vda2", "nvme0n1p1", "loop0", "ram3", "zram0"] {
            assert!(!disks.allows(excluded), "{excluded}");
        }
        for kept in ["sda", "vda", "nvme0n1", "dm-0", "md0"] {
            assert!(disks.allows(kept), "{kept}");
        }
    }

    #[test]
    fn include_and_exclude_combine() {
        let filter = Filter {
            include: Some("^eth".into()),
            exclude: Some("^eth1$".into()),
        }
        .compile()
        .unwrap();
        assert!(filter.allows("eth0"));
        assert!(!filter.allows("eth1"));
        assert!(!filter.allows("lo"));
        assert!(NameFilter::default().allows("anything"));
    }

    #[test]
    fn validation_names_the_field() {
        let config = HostMetricsConfig {
            interval_secs: 0,
            proc_path: "proc".into(),
            network: NetworkConfig {
                devices: Filter {
                    include: Some("(".into()),
                    exclude: None,
                },
            },
            ..HostMetricsConfig::default()
        };
        let mut errors = Vec::new();
        config.validate(
            &FieldPath::root().field("sources").field("host"),
            &mut errors,
        );
        let locations: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(
            locations,
            [
                "sources.host.interval_secs",
                "sources.host.proc_path",
                "sources.host.network.devices.include"
            ]
        );
    }
}
