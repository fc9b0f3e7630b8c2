//! The host_metrics source beside Debian's `prometheus-node-exporter` on
//! the same host, family by family: every `node_*` family node_exporter
//! exposes with its default collectors is either exposed by the agent
//! (`naming: node_exporter`) with the same type, label names and series,
//! and values that agree, or listed in [`LEFT_OUT`] with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::net::{free_port, http_get};
use crate::support::wait_for;

/// node_exporter families the agent leaves out on purpose, with the
/// reason; a name ending in `*` is a prefix. The README's list under
/// "node_exporter naming" says the same.
pub const LEFT_OUT: &[(&str, &str)] = &[
    // node_exporter about itself.
    (
        "node_exporter_build_info",
        "node_exporter's own build; the agent reports neurallog_agent_build_info",
    ),
    (
        "node_scrape_collector_duration_seconds",
        "node_exporter's per-scrape meta-metric; the agent reports neurallog_agent_metrics_collection_seconds",
    ),
    (
        "node_scrape_collector_success",
        "node_exporter's per-scrape meta-metric; a failing collector is logged, counted in neurallog_agent_component_errors_total and listed on /status",
    ),
    (
        "node_textfile_*",
        "textfile collector: metrics written by other programs into a directory are not host metrics the agent reads",
    ),
    // Needs more than procfs and sysfs.
    (
        "node_systemd_*",
        "systemd collector: needs systemd's D-Bus API",
    ),
    (
        "node_selinux_config_mode",
        "needs libselinux's policy files; the agent reports node_selinux_enabled only",
    ),
    (
        "node_selinux_current_mode",
        "needs libselinux's policy files; the agent reports node_selinux_enabled only",
    ),
    (
        "node_disk_filesystem_info",
        "udev filesystem properties; not implemented (node_disk_info carries the udev identity)",
    ),
    (
        "node_disk_device_mapper_info",
        "udev device-mapper properties; not implemented",
    ),
    (
        "node_disk_ata_*",
        "udev ATA properties of physical disks; not implemented",
    ),
    // Hardware and filesystems this machine kind does not have; not
    // implemented.
    (
        "node_hwmon_*",
        "hardware sensors (/sys/class/hwmon): none on this machine kind; not implemented",
    ),
    (
        "node_thermal_zone_*",
        "thermal zones: none on this machine kind; not implemented",
    ),
    (
        "node_cooling_device_*",
        "thermal cooling devices: none on this machine kind; not implemented",
    ),
    (
        "node_cpu_frequency_*",
        "cpufreq: no frequency scaling on this machine kind; not implemented",
    ),
    (
        "node_cpu_scaling_*",
        "cpufreq: no frequency scaling on this machine kind; not implemented",
    ),
    (
        "node_cpu_core_throttles_total",
        "thermal throttling of physical CPUs; not implemented",
    ),
    (
        "node_cpu_package_throttles_total",
        "thermal throttling of physical CPUs; not implemented",
    ),
    (
        "node_schedstat_*",
        "/proc/schedstat: absent from this machine kind's kernel; not implemented",
    ),
    (
        "node_edac_*",
        "memory error correction controllers: none on this machine kind; not implemented",
    ),
    (
        "node_bonding_*",
        "bonded interfaces: none on this machine kind; not implemented",
    ),
    (
        "node_power_supply_*",
        "power supplies: none on this machine kind; not implemented",
    ),
    (
        "node_rapl_*",
        "RAPL power counters (root-only on recent kernels): not implemented",
    ),
    (
        "node_nvme_*",
        "NVMe devices: none on this machine kind; not implemented",
    ),
    (
        "node_infiniband_*",
        "InfiniBand: none on this machine kind; not implemented",
    ),
    (
        "node_fibrechannel_*",
        "Fibre Channel: none on this machine kind; not implemented",
    ),
    (
        "node_tape_*",
        "tape drives: none on this machine kind; not implemented",
    ),
    (
        "node_md_*",
        "software RAID (mdadm): none on this machine kind; not implemented",
    ),
    (
        "node_bcache_*",
        "bcache: none on this machine kind; not implemented",
    ),
    (
        "node_btrfs_*",
        "btrfs: none on this machine kind; not implemented",
    ),
    (
        "node_xfs_*",
        "XFS: none on this machine kind; not implemented",
    ),
    (
        "node_zfs_*",
        "ZFS: none on this machine kind; not implemented",
    ),
    (
        "node_nfs_*",
        "NFS client statistics: no NFS mounts on this machine kind; not implemented",
    ),
    (
        "node_nfsd_*",
        "NFS server statistics: no NFS server on this machine kind; not implemented",
    ),
    (
        "node_ipvs_*",
        "IPVS load balancer: not loaded on this machine kind; not implemented",
    ),
    ("node_dmi_info", "DMI (firmware) identity: not implemented"),
];

/// The agent's filters for disks, mount points and filesystem types are
/// upstream node_exporter's defaults; Debian's package changes some of
/// them (it keeps zram devices, leaves out `lo` from `netdev` and `/run`,
/// `/mnt`, `/media` from `filesystem`). node_exporter is started with the
/// upstream ones so that both see the same devices.
const FILTERS: [(&str, &str); 4] = [
    (
        "--collector.diskstats.device-exclude",
        "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$",
    ),
    (
        "--collector.filesystem.mount-points-exclude",
        "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    ),
    (
        "--collector.filesystem.fs-types-exclude",
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$",
    ),
    ("--collector.netdev.device-exclude", "^$"),
];

/// A running node_exporter on 127.0.0.1.
pub struct NodeExporter {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
}

impl NodeExporter {
    /// Start it with its default collectors and upstream's device filters.
    pub fn start() -> NodeExporter {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address={addr}"))
            .args(
                FILTERS
                    .iter()
                    .map(|(flag, value)| format!("{flag}={value}")),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-node-exporter (Debian package; ./x setup installs it)");
        let exporter = NodeExporter { child, addr };
        wait_for("node_exporter to answer", Duration::from_secs(20), || {
            http_get(addr, "/metrics").filter(|(code, _)| *code == 200)
        });
        exporter
    }

    /// Its page now.
    pub fn page(&self) -> String {
        http_get(self.addr, "/metrics")
            .expect("node_exporter answers")
            .1
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CONFIG: &str = "
data_dir: {data_dir}
sources:
  host:
    type: host_metrics
    interval_secs: 1
sinks:
  node:
    type: prometheus
    naming: node_exporter
    inputs: [host]
";

/// One family of a text exposition.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    /// `{labels}` as rendered (sorted by name on both sides) → value.
    series: BTreeMap<String, f64>,
    label_names: BTreeSet<String>,
}

/// The `node_*` families of a page.
fn families(page: &str) -> BTreeMap<String, Family> {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.entry(name.to_owned()).or_default().kind = kind.to_owned();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.find('{') {
            Some(i) => series.split_at(i),
            None => (series, ""),
        };
        let family = out.entry(name.to_owned()).or_default();
        family.label_names.extend(label_names(labels));
        family
            .series
            .insert(labels.to_owned(), value.parse().unwrap_or(f64::NAN));
    }
    out.retain(|name, _| name.starts_with("node_"));
    out
}

/// The label names of `{a="x",b="y\"z"}`.
fn label_names(labels: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = labels.trim_start_matches('{');
    while let Some((name, after)) = rest.split_once("=\"") {
        names.push(name.trim_start_matches(',').to_owned());
        let mut escaped = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                let close = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map_or(after.len(), |(i, _)| i + 1);
        rest = &after[end..];
    }
    names
}

/// How far an agent value may lie outside the bracket of node_exporter's
/// two scrapes: absolute and relative slack by family prefix. Counters
/// (and the time) get none: their value was read between the scrapes.
/// Gauges that move on their own get some.
fn slack(family: &str, mem_total: f64) -> (f64, f64) {
    // The suite runs other tests beside this one: system-wide counts of
    // processes, sockets and file handles may swing between two reads.
    const SLACK: &[(&str, f64, f64)] = &[
        ("node_boot_time_seconds", 1.0, 0.0),
        ("node_load", 1.0, 0.5),
        ("node_procs_", 32.0, 0.0),
        ("node_filefd_allocated", 1024.0, 1.0),
        ("node_sockstat_", 1024.0, 1.0),
        ("node_netstat_Tcp_CurrEstab", 1024.0, 1.0),
        ("node_udp_queues", 1e6, 1.0),
        ("node_nf_conntrack_entries", 1024.0, 1.0),
        ("node_arp_entries", 2.0, 0.0),
        ("node_disk_io_now", 64.0, 0.0),
        ("node_filesystem_avail_bytes", 0.0, 0.02),
        ("node_filesystem_free_bytes", 0.0, 0.02),
        ("node_filesystem_files_free", 0.0, 0.02),
        ("node_timex_", 1.0, 0.01),
        ("node_entropy_available_bits", 256.0, 0.0),
    ];
    if family.starts_with("node_memory_") && family.ends_with("_bytes") {
        return (0.05 * mem_total, 0.0);
    }
    if family.starts_with("node_memory_") {
        return (64.0, 0.0);
    }
    SLACK
        .iter()
        .find(|(prefix, _, _)| family.starts_with(prefix))
        .map_or((0.0, 0.0), |(_, abs, rel)| (*abs, *rel))
}

fn left_out(family: &str) -> Option<&'static str> {
    LEFT_OUT.iter().find_map(|(name, reason)| {
        let hit = match name.strip_suffix('*') {
            Some(prefix) => family.starts_with(prefix),
            None => family == *name,
        };
        hit.then_some(*reason)
    })
}

#[test]
fn every_node_exporter_family_is_exposed_alike_or_left_out_on_purpose() {
    let exporter = NodeExporter::start();
    let mut agent = Agent::start(CONFIG);
    agent.wait_ready();
    wait_for("a first collection", Duration::from_secs(20), || {
        agent.metric("node_memory_MemTotal_bytes")
    });

    // node_exporter, then an agent collection made after it, then
    // node_exporter again: every counter of the agent lies between the two.
    let before = families(&exporter.page());
    let cycles = collections(&agent);
    // The second collection finished after this point started after the
    // read; one more makes sure its batch reached the sink.
    wait_for(
        "collections after the first read",
        Duration::from_secs(30),
        || (collections(&agent) >= cycles + 3.0).then_some(()),
    );
    let (_, text) = agent.get("/metrics");
    let after = families(&exporter.page());
    let ours = families(&text);
    let mem_total = ours
        .get("node_memory_MemTotal_bytes")
        .and_then(|f| f.series.values().next().copied())
        .unwrap_or(0.0);

    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut failures = Vec::new();
    let (mut equal, mut omitted) = (0, 0);
    for (name, theirs) in &before {
        let mine = ours.get(name);
        let row = |result: String| {
            [
                name.clone(),
                theirs.series.len().to_string(),
                mine.map_or(0, |f| f.series.len()).to_string(),
                result,
            ]
        };
        if let Some(reason) = left_out(name) {
            if mine.is_some() {
                failures.push(format!(
                    "{name}: listed as left out, but the agent exposes it"
                ));
                rows.push(row("LISTED BUT EXPOSED".into()));
            } else {
                omitted += 1;
                rows.push(row(format!("left out: {reason}")));
            }
            continue;
        }
        let Some(mine) = mine else {
            failures.push(format!("{name}: missing from the agent"));
            rows.push(row("MISSING".into()));
            continue;
        };
        let mut problems = Vec::new();
        if mine.kind != theirs.kind {
            problems.push(format!(
                "type {} vs node_exporter's {}",
                mine.kind, theirs.kind
            ));
        }
        if mine.label_names != theirs.label_names {
            problems.push(format!(
                "labels {:?} vs node_exporter's {:?}",
                mine.label_names, theirs.label_names
            ));
        }
        let (abs, rel) = slack(name, mem_total);
        let later = after.get(name);
        for (labels, first) in &theirs.series {
            let second = later.and_then(|f| f.series.get(labels)).unwrap_or(first);
            let (lo, hi) = (first.min(*second), first.max(*second));
            // And a rounding error's worth: node_exporter may divide in
            // another order (ms × 0.001 against ms / 1000).
            let margin = abs + (rel + 1e-12) * hi.abs().max(lo.abs());
            match mine.series.get(labels) {
                None => problems.push(format!("no series {labels}")),
                Some(v) if *v >= lo - margin && *v <= hi + margin => {}
                Some(v) if v.is_nan() && first.is_nan() => {}
                Some(v) => problems.push(format!(
                    "{labels}: agent {v}, node_exporter {first} then {second} (slack {margin})"
                )),
            }
        }
        if problems.is_empty() {
            equal += 1;
            rows.push(row("equal".into()));
        } else {
            failures.push(format!("{name}: {}", problems.join("; ")));
            rows.push(row(format!("DIFFERENT: {}", problems.join("; "))));
        }
    }

    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(6).max(6);
    let mut table = format!(
        "| {:width$} | node_exporter series | agent series | result |\n|{}|---:|---:|---|\n",
        "family",
        "-".repeat(width + 2)
    );
    for [family, theirs, mine, result] in &rows {
        table.push_str(&format!(
            "| {family:width$} | {theirs} | {mine} | {result} |\n"
        ));
    }
    println!("{table}");
    println!(
        "families compared {}, equal {equal}, left out on purpose {omitted}",
        before.len()
    );
    assert!(
        failures.is_empty(),
        "families that are neither equal nor left out on purpose:\n{}\n\n{table}",
        failures.join("\n")
    );
    assert!(
        before.len() > 150 && equal > 150,
        "node_exporter showed {} families",
        before.len()
    );
}

#[test]
fn label_names_are_read_past_escaped_quotes() {
    assert_eq!(
        label_names(r#"{a="x",b="y\"z,c=\"w",c="1"}"#),
        ["a", "b", "c"]
    );
    assert!(label_names("").is_empty());
    assert!(left_out("node_hwmon_temp_celsius").is_some());
    assert_eq!(left_out("node_memory_MemFree_bytes"), None);
}

/// Collection cycles the host source has finished.
fn collections(agent: &Agent) -> f64 {
    agent
        .metric("neurallog_agent_metrics_collection_seconds_count{component_id=\"host\",component_kind=\"source\",component_type=\"host_metrics\"}")
        .unwrap_or(0.0)
}
