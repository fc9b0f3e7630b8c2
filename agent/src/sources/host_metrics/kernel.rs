//! Small kernel files with node_exporter names and no OpenTelemetry
//! convention: file handles (`/proc/sys/fs/file-nr`, collector `filefd`),
//! entropy (`/proc/sys/kernel/random`, `entropy`), pressure stall
//! information (`/proc/pressure`, `pressure`), `uname(2)` (`uname`) and
//! SELinux (`selinux`).

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::error::HostMetricsError;
use super::points::{Points, attrs};
use super::procfs::{number, parse_error};

/// `/proc/sys/fs/file-nr`: `allocated  unused  maximum`.
pub fn collect_filefd(
    path: &Path,
    text: &str,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    let mut fields = text.split_ascii_whitespace();
    let allocated = number(path, "allocated", fields.next())?;
    let maximum = number(path, "maximum", fields.nth(1))?;
    points.node_gauge(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        allocated as f64,
        Attributes::new(),
    );
    points.node_gauge(
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        maximum as f64,
        Attributes::new(),
    );
    Ok(())
}

/// `entropy_avail` and `poolsize` of `/proc/sys/kernel/random`.
pub fn collect_entropy(available: u64, pool_size: Option<u64>, points: &mut Points) {
    points.node_gauge(
        "node_entropy_available_bits",
        "Bits of available entropy.",
        available as f64,
        Attributes::new(),
    );
    if let Some(size) = pool_size {
        points.node_gauge(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            size as f64,
            Attributes::new(),
        );
    }
}

/// One file of `/proc/pressure` (`cpu`, `io`, `memory`): the `total=`
/// microseconds of its `some` line (waiting) and, but for `cpu`, of its
/// `full` line (stalled), as node_exporter 1.5 reports them.
pub fn collect_pressure(
    path: &Path,
    resource: &str,
    text: &str,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    for line in text.lines() {
        let Some((kind, rest)) = line.split_once(' ') else {
            continue;
        };
        let total = rest
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix("total="))
            .ok_or_else(|| parse_error(path, format!("{kind}: no total")))?;
        let total: u64 = total
            .parse()
            .map_err(|_| parse_error(path, format!("{kind}: {total:?} is not a number")))?;
        // As node_exporter divides, to the last bit.
        let seconds = total as f64 / 1000.0 / 1000.0;
        let (name, help) = match (resource, kind) {
            ("cpu", "some") => (
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
            ),
            ("io", "some") => (
                "node_pressure_io_waiting_seconds_total",
                "Total time in seconds that processes have waited due to IO congestion",
            ),
            ("io", "full") => (
                "node_pressure_io_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IO congestion",
            ),
            ("memory", "some") => (
                "node_pressure_memory_waiting_seconds_total",
                "Total time in seconds that processes have waited for memory",
            ),
            ("memory", "full") => (
                "node_pressure_memory_stalled_seconds_total",
                "Total time in seconds no process could make progress due to memory congestion",
            ),
            _ => continue,
        };
        points.node_counter(name, help, seconds, Attributes::new());
    }
    Ok(())
}

/// `uname(2)` of the agent's kernel, which is the host's (containers share
/// it), as `node_uname_info`. The node name is the host name only when the
/// agent shares the host's UTS namespace, as node_exporter's does.
pub fn collect_uname(points: &mut Points) {
    let uname = rustix::system::uname();
    let text = |s: &std::ffi::CStr| AnyValue::from(s.to_string_lossy().into_owned());
    points.node_gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        1.0,
        attrs([
            ("domainname", text(uname.domainname())),
            ("machine", text(uname.machine())),
            ("nodename", text(uname.nodename())),
            ("release", text(uname.release())),
            ("sysname", text(uname.sysname())),
            ("version", text(uname.version())),
        ]),
    );
}

/// `node_selinux_enabled`: whether a `selinuxfs` is mounted (the mount
/// table's text). The modes node_exporter adds when it is enabled are not
/// reported.
pub fn collect_selinux(mounts: &str, points: &mut Points) {
    let enabled = mounts
        .lines()
        .any(|line| line.split_ascii_whitespace().nth(2) == Some("selinuxfs"));
    points.node_gauge(
        "node_selinux_enabled",
        "SELinux is enabled, 1 is true, 0 is false",
        if enabled { 1.0 } else { 0.0 },
        Attributes::new(),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    fn points() -> Points {
        Points::new(Arc::new(Resource::default()), 1, 0, 8)
    }

    #[test]
    fn file_handles_are_the_first_and_third_numbers() {
        let mut p = points();
        collect_filefd(Path::new("f"), "427\t0\t2466290\n", &mut p).unwrap();
        assert_eq!(p.metrics[0].scalar(), Some(427.0));
        assert_eq!(p.metrics[1].name, "node_filefd_maximum");
        assert_eq!(p.metrics[1].scalar(), Some(2466290.0));
        assert!(collect_filefd(Path::new("f"), "1 2\n", &mut p).is_err());
    }

    #[test]
    fn pressure_totals_are_seconds_and_cpu_has_no_stalled() {
        let mut p = points();
        let io = include_str!("fixtures/pressure_io");
        collect_pressure(Path::new("io"), "io", io, &mut p).unwrap();
        assert_eq!(p.metrics[0].name, "node_pressure_io_waiting_seconds_total");
        assert_eq!(p.metrics[0].scalar(), Some(689.148441));
        assert_eq!(p.metrics[1].name, "node_pressure_io_stalled_seconds_total");
        assert_eq!(p.metrics[1].scalar(), Some(234.278513));
        let cpu = include_str!("fixtures/pressure_cpu");
        collect_pressure(Path::new("cpu"), "cpu", cpu, &mut p).unwrap();
        assert_eq!(p.metrics.len(), 3);
        assert!(collect_pressure(Path::new("x"), "io", "some avg10=1\n", &mut p).is_err());
    }

    #[test]
    fn selinux_is_enabled_when_selinuxfs_is_mounted() {
        let mut p = points();
        collect_selinux("proc /proc proc rw 0 0\n", &mut p);
        collect_selinux("selinuxfs /sys/fs/selinux selinuxfs rw 0 0\n", &mut p);
        assert_eq!(p.metrics[0].scalar(), Some(0.0));
        assert_eq!(p.metrics[1].scalar(), Some(1.0));
    }

    #[test]
    fn uname_has_node_exporters_labels() {
        let mut p = points();
        collect_uname(&mut p);
        let m = &p.metrics[0];
        assert_eq!(
            m.attributes.get("sysname").and_then(AnyValue::as_str),
            Some("Linux")
        );
        assert_eq!(m.attributes.iter().count(), 6);
    }
}
