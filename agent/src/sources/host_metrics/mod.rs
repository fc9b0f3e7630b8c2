//! The `host_metrics` source: CPU, memory, load, filesystems, disks,
//! network interfaces, uptime and process counts of the host, read from
//! procfs (<https://docs.kernel.org/filesystems/proc.html>), sysfs and
//! `statvfs(3)`, named after the OpenTelemetry system semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/system/system-metrics/>),
//! plus the platform's alert metrics `cpu_usage_percent` and
//! `memory_usage_percent`.
//!
//! Every path is configurable (`proc_path`, `sys_path`, `root_path`), so
//! that an agent in a container reads the host through `/host/proc`,
//! `/host/sys` and `/host`. That is why the collectors read the files
//! themselves: libraries such as `sysinfo` always read the agent's own
//! `/proc`. Semantics follow node_exporter where it has a counterpart, so
//! that the `prometheus` sink's `naming: node_exporter` matches it.
//!
//! One file per collector: [`cpu`], [`memory`], [`load`], [`filesystem`],
//! [`disk`], [`network`], [`system`] (uptime and processes), and for
//! node_exporter's other default collectors [`vmstat`], [`netstat`],
//! [`sockstat`] (with `udp_queues`), [`netkernel`] (softnet, ARP,
//! conntrack), [`netclass`], [`kernel`] (filefd, entropy, pressure, uname,
//! SELinux), [`time`] (time and timex) and [`os`]. Families that no
//! OpenTelemetry convention covers are emitted under node_exporter's own
//! names (`node_…`, see [`points::Points::node_gauge`]).

mod collector;
mod config;
mod cpu;
mod disk;
mod error;
mod filesystem;
mod kernel;
mod load;
mod memory;
mod netclass;
mod netkernel;
mod netstat;
mod network;
mod os;
mod points;
mod procfs;
mod sockstat;
mod source;
mod stat;
mod system;
mod time;
mod vmstat;

pub use collector::{Collector, Cycle};
pub use config::{
    CollectorKind, CpuConfig, DiskConfig, FilesystemConfig, Filter, HostMetricsConfig,
    NetworkConfig,
};
pub use error::HostMetricsError;
pub use source::build;

#[cfg(test)]
mod tests;
