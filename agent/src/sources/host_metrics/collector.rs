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
use super::memory::MemInfo;
use super::points::Points;
use super::procfs::{Paths, read_into};
use super::stat::{ProcStat, user_hz};
use super::{cpu, disk, load, network, system};
use crate::event::Resource;

/// Points a cycle usually yields; sizes the first allocation.
const TYPICAL_POINTS: usize = 256;

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
                    .map(|info| info.collect(points)),
                CollectorKind::Load => self
                    .read("loadavg")
                    .and_then(|path| load::collect(&path, &self.buf, points)),
                CollectorKind::Disk => self
                    .read("diskstats")
                    .and_then(|path| disk::collect(&path, &self.buf, &self.disks, points)),
                CollectorKind::Network => self
                    .read("net/dev")
                    .and_then(|path| network::collect(&path, &self.buf, &self.interfaces, points)),
                CollectorKind::System => system::collect_count(&self.paths.proc, points),
                CollectorKind::Filesystem => filesystem::mounts(
                    &self.paths,
                    &self.mount_points,
                    &self.fs_types,
                    &mut self.buf,
                )
                .map(|found| mounts = Some(found)),
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
        }
    }
}
