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
//! [`disk`], [`network`], [`system`] (uptime and processes).

mod collector;
mod config;
mod cpu;
mod disk;
mod error;
mod filesystem;
mod load;
mod memory;
mod network;
mod points;
mod procfs;
mod source;
mod stat;
mod system;

pub use collector::{Collector, Cycle};
pub use config::{
    CollectorKind, CpuConfig, DiskConfig, FilesystemConfig, Filter, HostMetricsConfig,
    NetworkConfig,
};
pub use error::HostMetricsError;
pub use source::build;

#[cfg(test)]
mod tests;
