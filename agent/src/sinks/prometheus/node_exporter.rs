//! `naming: node_exporter`: host metrics under the names and labels of
//! Prometheus' node_exporter (<https://github.com/prometheus/node_exporter>,
//! its default Linux collectors that read procfs and sysfs), so that
//! dashboards and alerts written for it keep working.
//!
//! Host metrics that follow an OpenTelemetry convention are renamed here;
//! the families no convention covers already carry node_exporter's name
//! (`node_…`, with its help text and labels) and pass through as they are,
//! `untyped` for the raw kernel fields of `netstat` and `vmstat` as there.
//! Under `naming: otel` those `node_…` families are left out: they have no
//! OpenTelemetry name ([`is_node_only`]).
//!
//! Some node_exporter values are sums of OpenTelemetry states
//! (`node_filesystem_size_bytes` = used + free + reserved); those are added
//! up here at render time. OpenTelemetry series with no node_exporter
//! counterpart (`system.cpu.utilization`, the all-CPU `system.cpu.time`)
//! are left out, and metrics this module does not know keep their
//! OpenTelemetry-derived names.

use super::render::{self, Families, Kind, Labels, Sample};
use super::store::{SeriesKey, Stored};
use crate::event::MetricValue;

/// Add `key`'s series under its node_exporter name. Returns `false` when
/// the metric has no node_exporter mapping (the caller then uses the
/// OpenTelemetry name).
pub fn add(families: &mut Families, key: &SeriesKey, stored: &Stored) -> bool {
    let value = match stored.value {
        MetricValue::Gauge(v) | MetricValue::Sum { value: v, .. } => v,
        MetricValue::Histogram(_) => return false,
    };
    if is_node_only(&key.name) {
        let kind = if key.name.starts_with("node_netstat_") || key.name.starts_with("node_vmstat_")
        {
            Kind::Untyped
        } else {
            Kind::of(&stored.value)
        };
        let labels = render::labels(key.labels.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        families.set(
            &key.name,
            kind,
            &stored.description,
            labels,
            Sample::Value(value),
        );
        return true;
    }
    let state = key.label("state");
    let direction = key.label("direction");
    let mut out = Out {
        families,
        value,
        labels: Vec::new(),
    };
    match key.name.as_ref() {
        "system.cpu.time" => {
            // node_exporter has per-CPU series only.
            let (Some(cpu), Some(state)) = (key.label("cpu"), state) else {
                return true;
            };
            let mode = match state {
                "wait" => "iowait",
                "interrupt" => "irq",
                other => other,
            };
            out.labels = labels(&[("cpu", cpu), ("mode", mode)]);
            out.counter(
                "node_cpu_seconds_total",
                "Seconds the CPUs spent in each mode.",
            );
        }
        "system.memory.limit" => out.meminfo("MemTotal"),
        "system.linux.memory.available" => out.meminfo("MemAvailable"),
        "system.memory.shared" => out.meminfo("Shmem"),
        "system.linux.memory.slab.usage" => match state {
            Some("reclaimable") => out.meminfo("SReclaimable"),
            Some("unreclaimable") => out.meminfo("SUnreclaim"),
            _ => {}
        },
        "system.memory.usage" => match state {
            Some("free") => out.meminfo("MemFree"),
            Some("buffered") => out.meminfo("Buffers"),
            Some("cached") => out.meminfo("Cached"),
            Some("slab_reclaimable") => out.meminfo("SReclaimable"),
            _ => {}
        },
        "system.paging.usage" => {
            if state == Some("free") {
                out.meminfo("SwapFree");
            }
            out.add_gauge(
                "node_memory_SwapTotal_bytes",
                "Memory information field SwapTotal_bytes.",
            );
        }
        "system.cpu.load_average.1m" => out.gauge("node_load1", "1m load average."),
        "system.cpu.load_average.5m" => out.gauge("node_load5", "5m load average."),
        "system.cpu.load_average.15m" => out.gauge("node_load15", "15m load average."),
        "system.filesystem.usage" => filesystem(&mut out, key, state),
        "system.filesystem.inodes.usage" => {
            out.labels = filesystem_labels(key);
            out.add_gauge("node_filesystem_files", "Filesystem total file nodes.");
            if state == Some("free") {
                out.gauge(
                    "node_filesystem_files_free",
                    "Filesystem total free file nodes.",
                );
            }
        }
        "system.disk.io" => {
            out.labels = device(key);
            match direction {
                Some("read") => out.counter(
                    "node_disk_read_bytes_total",
                    "The total number of bytes read successfully.",
                ),
                Some("write") => out.counter(
                    "node_disk_written_bytes_total",
                    "The total number of bytes written successfully.",
                ),
                _ => {}
            }
        }
        "system.disk.operations" => {
            out.labels = device(key);
            match direction {
                Some("read") => out.counter(
                    "node_disk_reads_completed_total",
                    "The total number of reads completed successfully.",
                ),
                Some("write") => out.counter(
                    "node_disk_writes_completed_total",
                    "The total number of writes completed successfully.",
                ),
                _ => {}
            }
        }
        "system.disk.merged" => {
            out.labels = device(key);
            match direction {
                Some("read") => out.counter(
                    "node_disk_reads_merged_total",
                    "The total number of reads merged.",
                ),
                Some("write") => out.counter(
                    "node_disk_writes_merged_total",
                    "The number of writes merged.",
                ),
                _ => {}
            }
        }
        "system.disk.operation_time" => {
            out.labels = device(key);
            match direction {
                Some("read") => out.counter(
                    "node_disk_read_time_seconds_total",
                    "The total number of seconds spent by all reads.",
                ),
                Some("write") => out.counter(
                    "node_disk_write_time_seconds_total",
                    "This is the total number of seconds spent by all writes.",
                ),
                _ => {}
            }
        }
        "system.disk.io_time" => {
            out.labels = device(key);
            out.counter(
                "node_disk_io_time_seconds_total",
                "Total seconds spent doing I/Os.",
            );
        }
        "system.disk.weighted_io_time" => {
            out.labels = device(key);
            out.counter(
                "node_disk_io_time_weighted_seconds_total",
                "The weighted # of seconds spent doing I/Os.",
            );
        }
        "system.disk.pending_operations" => {
            out.labels = device(key);
            out.gauge(
                "node_disk_io_now",
                "The number of I/Os currently in progress.",
            );
        }
        "system.network.io" => network(&mut out, key, direction, "bytes"),
        "system.network.packets" => network(&mut out, key, direction, "packets"),
        "system.network.errors" => network(&mut out, key, direction, "errs"),
        "system.network.dropped" => network(&mut out, key, direction, "drop"),
        "system.uptime" => {
            // The host source computes uptime from the kernel's boot time,
            // so this is that boot time again, to the second.
            out.value = (stored.time_unix_nano as f64 / 1e9 - value).round();
            out.gauge("node_boot_time_seconds", "Node boot time, in unixtime.");
        }
        "system.processes.count" => match key.label("status") {
            Some("running") => out.gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
            ),
            Some("blocked") => out.gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
            ),
            _ => {}
        },
        "system.processes.created" => out.counter("node_forks_total", "Total number of forks."),
        "system.paging.faults" => {
            out.untyped_add("pgfault");
            if key.label("type") == Some("major") {
                out.untyped_add("pgmajfault");
            }
        }
        "system.paging.operations" => match (key.label("type"), direction) {
            (Some("minor"), Some("in")) => out.untyped_add("pgpgin"),
            (Some("minor"), Some("out")) => out.untyped_add("pgpgout"),
            (Some("major"), Some("in")) => out.untyped_add("pswpin"),
            (Some("major"), Some("out")) => out.untyped_add("pswpout"),
            _ => {}
        },
        "system.network.conntrack.count" => out.gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
        ),
        "system.network.conntrack.max" => out.gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
        ),
        _ => return false,
    }
    true
}

/// Whether metric `name` is a host family under node_exporter's own name,
/// one that no OpenTelemetry convention covers (`node_vmstat_oom_kill`).
pub fn is_node_only(name: &str) -> bool {
    name.starts_with("node_")
}

/// Where one series' value goes.
struct Out<'a> {
    families: &'a mut Families,
    value: f64,
    labels: Labels,
}

impl Out<'_> {
    fn counter(&mut self, name: &str, help: &str) {
        let labels = self.labels.clone();
        self.families
            .set(name, Kind::Counter, help, labels, Sample::Value(self.value));
    }

    fn gauge(&mut self, name: &str, help: &str) {
        let labels = self.labels.clone();
        self.families
            .set(name, Kind::Gauge, help, labels, Sample::Value(self.value));
    }

    fn add_gauge(&mut self, name: &str, help: &str) {
        let labels = self.labels.clone();
        self.families
            .add(name, Kind::Gauge, help, labels, self.value);
    }

    /// A `/proc/vmstat` field, summed over the series that make it up.
    fn untyped_add(&mut self, field: &str) {
        let name = format!("node_vmstat_{field}");
        let help = format!("/proc/vmstat information field {field}.");
        let labels = self.labels.clone();
        self.families
            .add(&name, Kind::Untyped, &help, labels, self.value);
    }

    fn meminfo(&mut self, field: &str) {
        let name = format!("node_memory_{field}_bytes");
        let help = format!("Memory information field {field}_bytes.");
        self.gauge(&name, &help);
    }
}

fn filesystem(out: &mut Out<'_>, key: &SeriesKey, state: Option<&str>) {
    out.labels = filesystem_labels(key);
    out.add_gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
    if matches!(state, Some("free") | Some("reserved")) {
        out.add_gauge(
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
        );
    }
    if state == Some("free") {
        out.gauge(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        );
        let read_only = key.label("mode") == Some("ro");
        let value = std::mem::replace(&mut out.value, if read_only { 1.0 } else { 0.0 });
        out.gauge("node_filesystem_readonly", "Filesystem read-only status.");
        // A filesystem with points was measured without error.
        out.value = 0.0;
        out.gauge(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        );
        out.value = value;
    }
}

fn network(out: &mut Out<'_>, key: &SeriesKey, direction: Option<&str>, statistic: &str) {
    let Some(direction @ ("receive" | "transmit")) = direction else {
        return;
    };
    out.labels = device(key);
    let name = format!("node_network_{direction}_{statistic}_total");
    let help = format!("Network device statistic {direction}_{statistic}.");
    out.counter(&name, &help);
}

fn filesystem_labels(key: &SeriesKey) -> Labels {
    labels(&[
        ("device", key.label("device").unwrap_or("")),
        ("fstype", key.label("type").unwrap_or("")),
        ("mountpoint", key.label("mountpoint").unwrap_or("")),
    ])
}

fn device(key: &SeriesKey) -> Labels {
    labels(&[("device", key.label("device").unwrap_or(""))])
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
