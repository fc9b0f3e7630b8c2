//! Uptime and process counts: `btime`, `procs_running`, `procs_blocked`,
//! `processes`, `ctxt` and `intr` from `/proc/stat`, and the number of processes (the
//! numeric directories of `/proc`).

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::stat::ProcStat;

const UPTIME: Def = Def {
    name: "system.uptime",
    unit: "s",
    description: "Seconds since the system booted.",
};
const PROCESSES_BY_STATUS: Def = Def {
    name: "system.processes.count",
    unit: "{process}",
    description: "Processes runnable (running) or blocked on I/O (blocked).",
};
const CREATED: Def = Def {
    name: "system.processes.created",
    unit: "{process}",
    description: "Processes and threads created since boot.",
};
const PROCESS_COUNT: Def = Def {
    name: "system.process.count",
    unit: "{process}",
    description: "Number of processes.",
};

/// Add uptime and the `/proc/stat` process counters to `points`.
///
/// Uptime is the wall clock minus the boot time the kernel reports, so that
/// the boot time derived from it (`node_boot_time_seconds`) is exact and
/// does not drift between collections.
pub fn collect_stat(stat: &ProcStat, points: &mut Points) {
    let now = points.time_unix_nano() as f64 / 1e9;
    let uptime = (now - stat.boot_time as f64).max(0.0);
    points.gauge(&UPTIME, uptime, Attributes::new());
    for (status, value) in [
        ("running", stat.procs_running),
        ("blocked", stat.procs_blocked),
    ] {
        if let Some(value) = value {
            points.up_down(
                &PROCESSES_BY_STATUS,
                value as f64,
                attrs([("status", AnyValue::from(status))]),
            );
        }
    }
    if let Some(forks) = stat.forks {
        points.counter(&CREATED, forks as f64, Attributes::new());
    }
    // No OpenTelemetry convention: node_exporter's names.
    if let Some(switches) = stat.context_switches {
        points.node_counter(
            "node_context_switches_total",
            "Total number of context switches.",
            switches as f64,
            Attributes::new(),
        );
    }
    if let Some(interrupts) = stat.interrupts {
        points.node_counter(
            "node_intr_total",
            "Total number of interrupts serviced.",
            interrupts as f64,
            Attributes::new(),
        );
    }
}

/// Count the processes: the numeric entries of the procfs root.
pub fn collect_count(proc: &Path, points: &mut Points) -> Result<(), HostMetricsError> {
    let entries = std::fs::read_dir(proc).map_err(|source| HostMetricsError::Read {
        path: proc.to_owned(),
        source,
    })?;
    let count = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.as_encoded_bytes();
            !name.is_empty() && name.iter().all(u8::is_ascii_digit)
        })
        .count();
    points.up_down(&PROCESS_COUNT, count as f64, Attributes::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    #[test]
    fn uptime_is_now_minus_boot_time() {
        let stat = ProcStat {
            boot_time: 1_000,
            procs_running: Some(3),
            procs_blocked: Some(0),
            forks: Some(42),
            ..ProcStat::default()
        };
        let mut points = Points::new(Arc::new(Resource::default()), 1_500_500_000_000, 0, 4);
        collect_stat(&stat, &mut points);
        assert_eq!(points.metrics[0].name, "system.uptime");
        assert_eq!(points.metrics[0].scalar(), Some(500.5));
        assert_eq!(points.metrics.len(), 4);
        assert_eq!(points.metrics[3].scalar(), Some(42.0));
    }

    #[test]
    fn counts_numeric_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["1", "22", "self", "sys", "3a"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 1);
        collect_count(dir.path(), &mut points).unwrap();
        assert_eq!(points.metrics[0].scalar(), Some(2.0));
    }
}
