//! A whole collection against a fake host laid out like `/host/proc`,
//! `/host/sys` and `/host` in a container.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::event::{AnyValue, Metric, Resource};

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn fake_host() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path();
    write(
        host,
        "proc/stat",
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\nbtime 1700000000\nprocesses 10\nprocs_running 2\nprocs_blocked 0\n",
    );
    write(
        host,
        "proc/meminfo",
        "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nBuffers: 50 kB\nCached: 200 kB\nSReclaimable: 10 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
    );
    write(host, "proc/loadavg", "0.50 0.25 0.10 1/100 4242\n");
    write(
        host,
        "proc/net/dev",
        "h\nh\n  eth0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n",
    );
    // diskstats is missing: that collector fails, the others carry on.
    write(
        host,
        "proc/1/mounts",
        &format!(
            "/dev/root {} ext4 rw 0 0\nproc /proc proc rw 0 0\n",
            host.display()
        ),
    );
    std::fs::create_dir_all(host.join("proc/4242")).unwrap();
    write(host, "sys/devices/system/cpu/online", "0\n");
    // node_exporter's other collectors.
    write(
        host,
        "proc/vmstat",
        "pgfault 100\npgmajfault 10\noom_kill 1\n",
    );
    write(host, "proc/net/netstat", "TcpExt: ListenDrops\nTcpExt: 3\n");
    write(host, "proc/net/snmp", "Tcp: InSegs\nTcp: 4\n");
    write(
        host,
        "proc/net/softnet_stat",
        "0000000a 00000000 00000001\n",
    );
    write(host, "proc/sys/fs/file-nr", "5\t0\t100\n");
    write(host, "proc/sys/kernel/random/entropy_avail", "256\n");
    write(host, "proc/mounts", "proc /proc proc rw 0 0\n");
    write(host, "sys/class/net/eth0/mtu", "1400\n");
    write(host, "sys/class/net/eth0/operstate", "up\n");
    write(host, "etc/os-release", "ID=testos\nVERSION_ID=1.5\n");
    dir
}

fn config(host: &Path) -> HostMetricsConfig {
    HostMetricsConfig {
        proc_path: host.join("proc"),
        sys_path: host.join("sys"),
        root_path: host.to_owned(),
        ..HostMetricsConfig::default()
    }
}

fn find<'a>(metrics: &'a [Metric], name: &str, attrs: &[(&str, &str)]) -> Option<&'a Metric> {
    metrics.iter().find(|m| {
        m.name == name
            && attrs
                .iter()
                .all(|(k, v)| m.attributes.get(k).and_then(AnyValue::as_str) == Some(*v))
    })
}

#[test]
fn a_cycle_reads_every_file_below_the_configured_paths() {
    let host = fake_host();
    let resource = Arc::new(Resource::default());
    let mut collector = Collector::new(&config(host.path()), resource).unwrap();
    let cycle = collector.collect_blocking(1_700_000_100_000_000_000);
    let failed: Vec<&str> = cycle.errors.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(failed, ["disk"], "{:?}", cycle.errors);
    let m = &cycle.points.metrics;
    for (name, value) in [
        ("node_vmstat_oom_kill", 1.0),
        ("node_netstat_TcpExt_ListenDrops", 3.0),
        ("node_netstat_Tcp_InSegs", 4.0),
        ("node_softnet_processed_total", 10.0),
        ("node_filefd_maximum", 100.0),
        ("node_entropy_available_bits", 256.0),
        ("node_selinux_enabled", 0.0),
        ("node_network_mtu_bytes", 1400.0),
        ("node_os_version", 1.5),
    ] {
        assert_eq!(
            find(m, name, &[]).and_then(Metric::scalar),
            Some(value),
            "{name}"
        );
    }

    let idle = find(m, "system.cpu.time", &[("cpu", "0"), ("state", "idle")]).unwrap();
    assert_eq!(idle.scalar(), Some(8.0));
    assert_eq!(idle.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(idle.unit, "s");
    assert_eq!(
        find(m, "system.memory.limit", &[]).unwrap().scalar(),
        Some(1_024_000.0)
    );
    assert_eq!(
        find(m, "memory_usage_percent", &[]).unwrap().scalar(),
        Some(75.0)
    );
    assert_eq!(
        find(m, "system.cpu.load_average.15m", &[])
            .unwrap()
            .scalar(),
        Some(0.1)
    );
    assert_eq!(
        find(
            m,
            "system.network.io",
            &[("device", "eth0"), ("direction", "transmit")]
        )
        .unwrap()
        .scalar(),
        Some(20.0)
    );
    assert_eq!(find(m, "system.uptime", &[]).unwrap().scalar(), Some(100.0));
    assert_eq!(
        find(m, "system.process.count", &[]).unwrap().scalar(),
        Some(2.0)
    );
    assert_eq!(
        find(m, "system.cpu.logical.count", &[]).unwrap().scalar(),
        Some(1.0)
    );
    // The host's root filesystem, measured below root_path, is reported as
    // `/`; the proc mount is excluded by type.
    let root = find(
        m,
        "system.filesystem.usage",
        &[("mountpoint", "/"), ("state", "free")],
    )
    .expect("root filesystem");
    assert_eq!(
        root.attributes.get("device"),
        Some(&AnyValue::from("/dev/root"))
    );
    assert!(find(m, "system.filesystem.usage", &[("mountpoint", "/proc")]).is_none());
    // No utilization on the first cycle: it needs two readings.
    assert!(find(m, "cpu_usage_percent", &[]).is_none());

    write(
        host.path(),
        "proc/stat",
        "cpu  150 0 50 850 50 0 0 0 0 0\ncpu0 150 0 50 850 50 0 0 0 0 0\nbtime 1700000000\n",
    );
    let cycle = collector.collect_blocking(1_700_000_101_000_000_000);
    let m = &cycle.points.metrics;
    assert_eq!(
        find(m, "cpu_usage_percent", &[]).unwrap().scalar(),
        Some(50.0)
    );
    assert_eq!(
        find(
            m,
            "system.cpu.utilization",
            &[("cpu", "0"), ("state", "user")]
        )
        .unwrap()
        .scalar(),
        Some(0.5)
    );
}

#[test]
fn a_missing_proc_fails_every_collector_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let mut collector = Collector::new(
        &config(&dir.path().join("nothing")),
        Arc::new(Resource::default()),
    )
    .unwrap();
    let cycle = collector.collect_blocking(1);
    // Only what system calls give: the clock and the kernel's name.
    assert!(
        cycle
            .points
            .metrics
            .iter()
            .all(|m| ["node_time_", "node_timex_", "node_uname_"]
                .iter()
                .any(|p| m.name.starts_with(p))),
        "{:?}",
        cycle.points.metrics
    );
    let mut failed: Vec<&str> = cycle.errors.iter().map(|(k, _)| k.as_str()).collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "cpu",
            "disk",
            "entropy",
            "filefd",
            "filesystem",
            "load",
            "memory",
            "netclass",
            "netstat",
            "network",
            "os",
            "selinux",
            "softnet",
            "system",
            "vmstat",
        ]
    );
    assert!(
        cycle.errors[0].1.to_string().contains("nothing/proc"),
        "{}",
        cycle.errors[0].1
    );
}
