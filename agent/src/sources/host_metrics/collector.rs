//! One collection cycle over every enabled collector.
//!
//! Everything but `statvfs` reads small procfs files and never blocks for
//! long, so it runs inline; `statvfs` can hang on a dead network mount and
//! is run by the source on a blocking thread with a deadline
//! ([`Collector::procfs`] returns the mounts, [`filesystem::measure`]
//! measures them, [`Collector::filesystems`] adds their points).

use std::path::PathBuf;
use std::sync::Arc;

use super::config::{CollectorKind, HostMetricsConfig, NameFilter};
use super::cpu::{CpuOptions, CpuState};
use super::error::HostMetricsError;
use super::filesystem::{self, Mount, Usage};
use super::memory::{self, MemInfo};
use super::netstat::Scratch;
use super::os::OsState;
use super::points::{Names, Points};
use super::procfs::{Paths, read_into};
use super::stat::{ProcStat, user_hz};
use super::{
    cpu, disk, kernel, load, netclass, netkernel, netstat, network, sockstat, system, time, vmstat,
};
use crate::event::Resource;

/// Points a cycle usually yields; sizes the first allocation.
const TYPICAL_POINTS: usize = 1024;

/// Reads the host and turns it into metric points; keeps what utilization
/// needs between cycles.
#[derive(Debug)]
pub struct Collector {
    paths: Paths,
    resource: Arc<Resource>,
    collectors: Vec<CollectorKind>,
    cpu_options: CpuOptions,
    cpu: CpuState,
    mount_points: NameFilter,
    fs_types: NameFilter,
    disks: NameFilter,
    interfaces: NameFilter,
    buf: String,
    /// A second buffer, for files read while `buf` is being parsed.
    small: String,
    netstat: Scratch,
    meminfo_names: Names,
    vmstat_names: Names,
    sockstat_names: Names,
    os: OsState,
    page_size: u64,
    boot_time_unix_nano: u64,
}

/// The outcome of one cycle: the points, and the collectors that failed.
#[derive(Debug)]
pub struct Cycle {
    /// The points collected.
    pub points: Points,
    /// Each failed collector and why. The others still produced points.
    pub errors: Vec<(CollectorKind, HostMetricsError)>,
}

// === impl Collector ===

impl Collector {
    /// A collector for `config` whose points belong to `resource`.
    pub fn new(config: &HostMetricsConfig, resource: Arc<Resource>) -> Result<Self, regex::Error> {
        Ok(Collector {
            paths: Paths {
                proc: config.proc_path.clone(),
                sys: config.sys_path.clone(),
                root: config.root_path.clone(),
            },
            resource,
            collectors: config.collectors.clone(),
            cpu_options: CpuOptions {
                per_cpu: config.cpu.per_cpu,
                total: config.cpu.total,
                user_hz: user_hz(),
            },
            cpu: CpuState::default(),
            mount_points: config.filesystem.mount_points.compile()?,
            fs_types: config.filesystem.fs_types.compile()?,
            disks: config.disk.devices.compile()?,
            interfaces: config.network.devices.compile()?,
            buf: String::with_capacity(16 * 1024),
            small: String::with_capacity(256),
            netstat: Scratch::default(),
            meminfo_names: Names::default(),
            vmstat_names: Names::default(),
            sockstat_names: Names::default(),
            os: OsState::default(),
            page_size: rustix::param::page_size() as u64,
            boot_time_unix_nano: 0,
        })
    }

    /// Run every procfs collector at `time_unix_nano`. Returns the cycle
    /// and, when the filesystem collector runs, the mounts to measure.
    pub fn procfs(&mut self, time_unix_nano: u64) -> (Cycle, Option<Vec<Mount>>) {
        let mut cycle = Cycle {
            points: Points::new(
                Arc::clone(&self.resource),
                time_unix_nano,
                self.boot_time_unix_nano,
                TYPICAL_POINTS,
            ),
            errors: Vec::new(),
        };
        let collectors = self.collectors.clone();
        if self.runs(CollectorKind::Cpu) || self.runs(CollectorKind::System) {
            match self.proc_stat() {
                Ok(stat) => {
                    self.boot_time_unix_nano = stat.boot_time.saturating_mul(1_000_000_000);
                    cycle.points.set_start(self.boot_time_unix_nano);
                    if self.runs(CollectorKind::Cpu) {
                        let online = self.online_cpus();
                        self.cpu
                            .collect(&stat, online, self.cpu_options, &mut cycle.points);
                    }
                    if self.runs(CollectorKind::System) {
                        system::collect_stat(&stat, &mut cycle.points);
                    }
                }
                Err(error) => {
                    let kind = if self.runs(CollectorKind::Cpu) {
                        CollectorKind::Cpu
                    } else {
                        CollectorKind::System
                    };
                    cycle.errors.push((kind, error));
                }
            }
        }
        let mut mounts = None;
        for kind in collectors {
            let points = &mut cycle.points;
            let result = match kind {
                CollectorKind::Cpu => Ok(()),
                CollectorKind::Memory => self
                    .read("meminfo")
                    .and_then(|path| MemInfo::parse(&path, &self.buf))
                    .map(|info| {
                        info.collect(points);
                        memory::collect_fields(&self.buf, &mut self.meminfo_names, points);
                    }),
                CollectorKind::Load => self
                    .read("loadavg")
                    .and_then(|path| load::collect(&path, &self.buf, points)),
                CollectorKind::Disk => self.read("diskstats").and_then(|path| {
                    let udev = self.paths.rooted("/run/udev/data");
                    let udev = udev.is_dir().then_some(udev.as_path());
                    disk::collect(&path, &self.buf, &self.disks, udev, points)
                }),
                CollectorKind::Network => self.read("net/dev").and_then(|path| {
                    let class_net = self.paths.sys("class/net");
                    let small = &mut self.small;
                    let no_handler = |device: &str| {
                        let file = class_net.join(device).join("statistics/rx_nohandler");
                        read_into(&file, small).ok()?;
                        small.trim().parse().ok()
                    };
                    network::collect(&path, &self.buf, &self.interfaces, no_handler, points)
                }),
                CollectorKind::System => system::collect_count(&self.paths.proc, points),
                CollectorKind::Filesystem => filesystem::mounts(
                    &self.paths,
                    &self.mount_points,
                    &self.fs_types,
                    &mut self.buf,
                )
                .map(|found| mounts = Some(found)),
                CollectorKind::Vmstat => self
                    .read("vmstat")
                    .map(|_| vmstat::collect(&self.buf, &mut self.vmstat_names, points)),
                CollectorKind::Netstat => self.netstat(points),
                CollectorKind::Sockstat => self.sockstat(points),
                CollectorKind::UdpQueues => self.udp_queues(points),
                CollectorKind::Softnet => self
                    .read("net/softnet_stat")
                    .and_then(|path| netkernel::collect_softnet(&path, &self.buf, points)),
                CollectorKind::Arp => self.read_optional("net/arp").map(|found| {
                    if found {
                        netkernel::collect_arp(&self.buf, points);
                    }
                }),
                CollectorKind::Conntrack => self.conntrack(points),
                CollectorKind::Netclass => {
                    let class_net = self.paths.sys("class/net");
                    netclass::collect(&class_net, &self.interfaces, &mut self.buf, points).map_err(
                        |source| HostMetricsError::Read {
                            path: class_net,
                            source,
                        },
                    )
                }
                CollectorKind::Filefd => self
                    .read("sys/fs/file-nr")
                    .and_then(|path| kernel::collect_filefd(&path, &self.buf, points)),
                CollectorKind::Entropy => self.entropy(points),
                CollectorKind::Pressure => self.pressure(points),
                CollectorKind::Time => {
                    time::collect_time(points);
                    let dir = self.paths.sys("devices/system/clocksource");
                    time::collect_clocksources(&dir, &mut self.buf, points);
                    Ok(())
                }
                CollectorKind::Timex => time::adjtimex()
                    .map(|t| time::collect_timex(&t, points))
                    .map_err(|source| HostMetricsError::Read {
                        path: "adjtimex(2)".into(),
                        source,
                    }),
                CollectorKind::Uname => {
                    kernel::collect_uname(points);
                    Ok(())
                }
                CollectorKind::Os => self.os.collect(&self.paths.root, &mut self.buf, points),
                CollectorKind::Selinux => self
                    .read("mounts")
                    .map(|_| kernel::collect_selinux(&self.buf, points)),
            };
            if let Err(error) = result {
                cycle.errors.push((kind, error));
            }
        }
        (cycle, mounts)
    }

    /// Add the points of measured filesystems to `cycle`.
    pub fn filesystems(&self, measured: &[(Mount, Usage)], cycle: &mut Cycle) {
        filesystem::collect(measured, &mut cycle.points);
    }

    /// A whole cycle on this thread, `statvfs` included (benchmarks and
    /// tests).
    pub fn collect_blocking(&mut self, time_unix_nano: u64) -> Cycle {
        let (mut cycle, mounts) = self.procfs(time_unix_nano);
        if let Some(mounts) = mounts {
            let measured = filesystem::measure(mounts);
            self.filesystems(&measured, &mut cycle);
        }
        cycle
    }

    fn runs(&self, kind: CollectorKind) -> bool {
        self.collectors.contains(&kind)
    }

    fn proc_stat(&mut self) -> Result<ProcStat, HostMetricsError> {
        let path = self.read("stat")?;
        ProcStat::parse(&path, &self.buf)
    }

    /// Online CPUs from sysfs; `None` where sysfs is not mounted.
    fn online_cpus(&mut self) -> Option<u64> {
        let path = self.paths.sys("devices/system/cpu/online");
        read_into(&path, &mut self.buf).ok()?;
        cpu::count_cpu_list(&self.buf)
    }

    /// Read `relative` below procfs into the shared buffer.
    fn read(&mut self, relative: &str) -> Result<PathBuf, HostMetricsError> {
        let path = self.paths.proc(relative);
        read_into(&path, &mut self.buf)?;
        Ok(path)
    }

    /// Read a file that some kernels do not have (no IPv6, no PSI, no
    /// conntrack module): `false` when it does not exist, which
    /// node_exporter does not count as a failure either.
    fn read_optional(&mut self, relative: &str) -> Result<bool, HostMetricsError> {
        match self.read(relative) {
            Ok(_) => Ok(true),
            Err(HostMetricsError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// A one-number file below procfs, `None` when it does not exist.
    fn read_number(&mut self, relative: &str) -> Result<Option<u64>, HostMetricsError> {
        if !self.read_optional(relative)? {
            return Ok(None);
        }
        let path = self.paths.proc(relative);
        super::procfs::number(&path, relative, Some(self.buf.trim())).map(Some)
    }

    fn netstat(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        for file in ["net/netstat", "net/snmp"] {
            self.read(file)?;
            netstat::collect_pairs(&self.buf, &mut self.netstat, points);
        }
        if self.read_optional("net/snmp6")? {
            netstat::collect_snmp6(&self.buf, &mut self.netstat, points);
        }
        Ok(())
    }

    fn sockstat(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        for file in ["net/sockstat", "net/sockstat6"] {
            if self.read_optional(file)? {
                sockstat::collect(&self.buf, self.page_size, &mut self.sockstat_names, points);
            }
        }
        Ok(())
    }

    fn udp_queues(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            if self.read_optional(file)? {
                sockstat::collect_udp_queues(&self.buf, ip, points);
            }
        }
        Ok(())
    }

    fn conntrack(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        // Without the module loaded there is no table, and no series.
        let Some(count) = self.read_number("sys/net/netfilter/nf_conntrack_count")? else {
            return Ok(());
        };
        let max = self.read_number("sys/net/netfilter/nf_conntrack_max")?;
        netkernel::collect_conntrack(count, max, points);
        if self.read_optional("net/stat/nf_conntrack")? {
            netkernel::collect_conntrack_stat(&self.buf, points);
        }
        Ok(())
    }

    fn entropy(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        let available = self
            .read_number("sys/kernel/random/entropy_avail")?
            .ok_or_else(|| {
                super::procfs::parse_error(
                    &self.paths.proc("sys/kernel/random/entropy_avail"),
                    "missing",
                )
            })?;
        let pool_size = self.read_number("sys/kernel/random/poolsize")?;
        kernel::collect_entropy(available, pool_size, points);
        Ok(())
    }

    fn pressure(&mut self, points: &mut Points) -> Result<(), HostMetricsError> {
        for resource in ["cpu", "io", "memory"] {
            let relative = format!("pressure/{resource}");
            if self.read_optional(&relative)? {
                let path = self.paths.proc(&relative);
                kernel::collect_pressure(&path, resource, &self.buf, points)?;
            }
        }
        Ok(())
    }
}

// === impl CollectorKind ===

impl CollectorKind {
    /// The collector's name in configuration and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorKind::Cpu => "cpu",
            CollectorKind::Memory => "memory",
            CollectorKind::Load => "load",
            CollectorKind::Filesystem => "filesystem",
            CollectorKind::Disk => "disk",
            CollectorKind::Network => "network",
            CollectorKind::System => "system",
            CollectorKind::Vmstat => "vmstat",
            CollectorKind::Netstat => "netstat",
            CollectorKind::Sockstat => "sockstat",
            CollectorKind::UdpQueues => "udp_queues",
            CollectorKind::Softnet => "softnet",
            CollectorKind::Arp => "arp",
            CollectorKind::Conntrack => "conntrack",
            CollectorKind::Netclass => "netclass",
            CollectorKind::Filefd => "filefd",
            CollectorKind::Entropy => "entropy",
            CollectorKind::Pressure => "pressure",
            CollectorKind::Time => "time",
            CollectorKind::Timex => "timex",
            CollectorKind::Uname => "uname",
            CollectorKind::Os => "os",
            CollectorKind::Selinux => "selinux",
        }
    }
}
