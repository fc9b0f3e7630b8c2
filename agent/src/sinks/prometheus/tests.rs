//! Rendering host metrics in both namings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::Naming;
use super::sink::exporter_for_tests;
use super::store::Store;
use crate::event::{Attributes, Metric, Resource};

fn host() -> Arc<Resource> {
    Arc::new(Resource::new(Attributes::new().with("host.name", "node-1")))
}

fn host_points(host: &Arc<Resource>) -> Vec<Metric> {
    let fs = |state: &'static str, value: f64| {
        Metric::up_down("system.filesystem.usage", "By", value, Arc::clone(host))
            .with_attribute("device", "/dev/vda")
            .with_attribute("mountpoint", "/")
            .with_attribute("type", "ext4")
            .with_attribute("mode", "rw")
            .with_attribute("state", state)
    };
    let mut uptime = Metric::gauge("system.uptime", "s", 1000.25, Arc::clone(host));
    uptime.time_unix_nano = 1_700_001_000_250_000_000;
    vec![
        Metric::counter("system.cpu.time", "s", 12.5, Arc::clone(host))
            .with_description("Seconds each CPU spent in each mode.")
            .with_attribute("cpu", "0")
            .with_attribute("state", "wait"),
        Metric::counter("system.cpu.time", "s", 99.0, Arc::clone(host))
            .with_attribute("state", "idle"),
        Metric::gauge("system.cpu.utilization", "1", 0.25, Arc::clone(host))
            .with_attribute("cpu", "0")
            .with_attribute("state", "user"),
        Metric::up_down("system.memory.limit", "By", 4096.0, Arc::clone(host)),
        Metric::up_down(
            "system.linux.memory.available",
            "By",
            1024.0,
            Arc::clone(host),
        ),
        Metric::up_down("system.paging.usage", "By", 10.0, Arc::clone(host))
            .with_attribute("state", "used"),
        Metric::up_down("system.paging.usage", "By", 30.0, Arc::clone(host))
            .with_attribute("state", "free"),
        fs("used", 600.0),
        fs("free", 300.0),
        fs("reserved", 100.0),
        Metric::counter("system.network.io", "By", 777.0, Arc::clone(host))
            .with_attribute("device", "eth0")
            .with_attribute("direction", "receive"),
        Metric::counter("system.disk.io", "By", 512.0, Arc::clone(host))
            .with_attribute("device", "vda")
            .with_attribute("direction", "write"),
        Metric::gauge(
            "system.cpu.load_average.1m",
            "{thread}",
            0.5,
            Arc::clone(host),
        ),
        uptime,
        Metric::counter("system.paging.faults", "{fault}", 90.0, Arc::clone(host))
            .with_attribute("type", "minor"),
        Metric::counter("system.paging.faults", "{fault}", 10.0, Arc::clone(host))
            .with_attribute("type", "major"),
        Metric::counter(
            "system.paging.operations",
            "{operation}",
            7.0,
            Arc::clone(host),
        )
        .with_attribute("direction", "in")
        .with_attribute("type", "major"),
        Metric::up_down(
            "system.network.conntrack.max",
            "{entry}",
            262144.0,
            Arc::clone(host),
        ),
        Metric::up_down("system.memory.shared", "By", 2048.0, Arc::clone(host)),
        Metric::up_down(
            "system.linux.memory.slab.usage",
            "By",
            64.0,
            Arc::clone(host),
        )
        .with_attribute("state", "unreclaimable"),
        Metric::gauge("node_vmstat_oom_kill", "", 3.0, Arc::clone(host))
            .with_description("/proc/vmstat information field oom_kill."),
        Metric::gauge("node_netstat_Tcp_InSegs", "", 11.0, Arc::clone(host))
            .with_description("Statistic TcpInSegs."),
        Metric::counter("node_softnet_processed_total", "", 5.0, Arc::clone(host))
            .with_description("Number of processed packets")
            .with_attribute("cpu", "1"),
        Metric::gauge("cpu_usage_percent", "%", 42.0, Arc::clone(host))
            .with_description("Percentage of CPU time."),
        Metric::counter(
            "neurallog_agent_component_sent_events_total",
            "",
            5.0,
            Arc::clone(host),
        ),
    ]
}

fn render(naming: Naming) -> String {
    let host = host();
    let mut store = Store::new(Arc::clone(&host), Duration::from_secs(60));
    let now = Instant::now();
    for metric in host_points(&host) {
        store.insert(&metric, now);
    }
    let mut exporter = exporter_for_tests(store, naming, host);
    let mut out = String::new();
    exporter.render(&mut out);
    out
}

#[test]
fn otel_naming_adds_units_and_total_and_keeps_platform_names() {
    let text = render(Naming::Otel);
    for line in [
        "# HELP system_cpu_time_seconds_total Seconds each CPU spent in each mode.\n",
        "# TYPE system_cpu_time_seconds_total counter\n",
        "system_cpu_time_seconds_total{cpu=\"0\",state=\"wait\"} 12.5\n",
        "system_cpu_time_seconds_total{state=\"idle\"} 99\n",
        "# TYPE system_cpu_utilization_ratio gauge\n",
        "system_memory_limit_bytes 4096\n",
        "system_filesystem_usage_bytes{device=\"/dev/vda\",mode=\"rw\",mountpoint=\"/\",state=\"free\",type=\"ext4\"} 300\n",
        "system_network_io_bytes_total{device=\"eth0\",direction=\"receive\"} 777\n",
        "system_cpu_load_average_1m 0.5\n",
        "# TYPE cpu_usage_percent gauge\ncpu_usage_percent 42\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    for line in [
        "system_paging_faults_total{type=\"major\"} 10\n",
        "system_memory_shared_bytes 2048\n",
        "system_network_conntrack_max 262144\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Families with no OpenTelemetry name are node_exporter's only.
    assert!(!text.contains("node_"), "{text}");
    assert!(!text.contains("host_name"), "{text}");
    // The agent's own names belong to the admin page's registry.
    assert!(!text.contains("neurallog_agent_"), "{text}");
}

#[test]
fn node_exporter_naming_matches_node_exporter() {
    let text = render(Naming::NodeExporter);
    for line in [
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n",
        "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 12.5\n",
        "node_memory_MemTotal_bytes 4096\n",
        "node_memory_MemAvailable_bytes 1024\n",
        "node_memory_SwapTotal_bytes 40\n",
        "node_memory_SwapFree_bytes 30\n",
        "node_filesystem_size_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 1000\n",
        "node_filesystem_avail_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 300\n",
        "node_filesystem_free_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 400\n",
        "node_filesystem_readonly{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 0\n",
        "node_network_receive_bytes_total{device=\"eth0\"} 777\n",
        "node_disk_written_bytes_total{device=\"vda\"} 512\n",
        "# TYPE node_load1 gauge\nnode_load1 0.5\n",
        "node_boot_time_seconds 1700000000\n",
        "cpu_usage_percent 42\n",
        "node_filesystem_device_error{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 0\n",
        "# TYPE node_vmstat_pgfault untyped\nnode_vmstat_pgfault 100\n",
        "# TYPE node_vmstat_pgmajfault untyped\nnode_vmstat_pgmajfault 10\n",
        "node_vmstat_pswpin 7\n",
        "# HELP node_vmstat_oom_kill /proc/vmstat information field oom_kill.\n# TYPE node_vmstat_oom_kill untyped\nnode_vmstat_oom_kill 3\n",
        "# TYPE node_netstat_Tcp_InSegs untyped\nnode_netstat_Tcp_InSegs 11\n",
        "# HELP node_softnet_processed_total Number of processed packets\n# TYPE node_softnet_processed_total counter\nnode_softnet_processed_total{cpu=\"1\"} 5\n",
        "# TYPE node_nf_conntrack_entries_limit gauge\nnode_nf_conntrack_entries_limit 262144\n",
        "node_memory_Shmem_bytes 2048\n",
        "node_memory_SUnreclaim_bytes 64\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("system_paging"), "{text}");
    // No node_exporter counterpart: the all-CPU total is dropped, and
    // utilization keeps its OpenTelemetry name.
    assert!(!text.contains("mode=\"idle\""), "{text}");
    assert!(text.contains("system_cpu_utilization_ratio{cpu=\"0\",state=\"user\"} 0.25\n"));
    assert!(!text.contains("system_filesystem"), "{text}");
}

/// Regression: the names of skipped metrics were remembered (to warn once
/// each) without bound; a plugin emitting ever new names grew the set.
#[test]
fn skipped_names_are_remembered_up_to_a_bound() {
    let host = host();
    let now = Instant::now();
    let mut store = Store::new(Arc::clone(&host), Duration::from_secs(60));
    let mut exporter = {
        for i in 0..3000 {
            let name = format!("neurallog_agent_not_mine_{i}");
            store.insert(&Metric::gauge(name, "", 1.0, Arc::clone(&host)), now);
        }
        exporter_for_tests(store, Naming::Otel, host)
    };
    let mut out = String::new();
    exporter.render(&mut out);
    assert!(!out.contains("not_mine"), "reserved names are skipped");
    assert!(
        (1..=1024).contains(&exporter.warned_len()),
        "{}",
        exporter.warned_len()
    );
}
