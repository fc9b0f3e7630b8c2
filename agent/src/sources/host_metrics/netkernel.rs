//! The kernel's network stack beyond interfaces, as node_exporter reports
//! it: per-CPU packet processing (`/proc/net/softnet_stat`, collector
//! `softnet`), ARP entries per interface (`/proc/net/arp`, `arp`) and
//! connection tracking (`/proc/sys/net/netfilter`,
//! `/proc/net/stat/nf_conntrack`, `conntrack`). The conntrack table's size
//! and limit follow the OpenTelemetry conventions
//! (`system.network.conntrack.count`, `.max`); the rest keep node_exporter's
//! names.

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::procfs::parse_error;

const CONNTRACK_COUNT: Def = Def {
    name: "system.network.conntrack.count",
    unit: "{entry}",
    description: "Entries in the connection tracking table.",
};
const CONNTRACK_MAX: Def = Def {
    name: "system.network.conntrack.max",
    unit: "{entry}",
    description: "Size limit of the connection tracking table.",
};

/// `/proc/net/softnet_stat`: one line of hexadecimal counters per CPU
/// (processed, dropped, time squeezed, …), `cpu` being the line's index as
/// in node_exporter 1.5.
pub fn collect_softnet(
    path: &Path,
    text: &str,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    for (cpu, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let mut next = |what: &str| {
            fields
                .next()
                .and_then(|f| u64::from_str_radix(f, 16).ok())
                .ok_or_else(|| parse_error(path, format!("line {}: no {what}", cpu + 1)))
        };
        let (processed, dropped, squeezed) =
            (next("processed")?, next("dropped")?, next("time_squeeze")?);
        let cpu = AnyValue::from(cpu.to_string());
        for (name, help, value) in [
            (
                "node_softnet_processed_total",
                "Number of processed packets",
                processed,
            ),
            (
                "node_softnet_dropped_total",
                "Number of dropped packets",
                dropped,
            ),
            (
                "node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota",
                squeezed,
            ),
        ] {
            points.node_counter(name, help, value as f64, attrs([("cpu", cpu.clone())]));
        }
    }
    Ok(())
}

/// `/proc/net/arp`: the entries of each interface (`node_arp_entries`).
pub fn collect_arp(text: &str, points: &mut Points) {
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for line in text.lines().skip(1) {
        let Some(device) = line.split_ascii_whitespace().nth(5) else {
            continue;
        };
        match counts.iter_mut().find(|(d, _)| *d == device) {
            Some((_, n)) => *n += 1,
            None => counts.push((device, 1)),
        }
    }
    for (device, count) in counts {
        points.node_gauge(
            "node_arp_entries",
            "ARP entries by device",
            count as f64,
            attrs([("device", AnyValue::from(device.to_owned()))]),
        );
    }
}

/// The table's size and limit (`nf_conntrack_count`, `nf_conntrack_max`).
pub fn collect_conntrack(count: u64, max: Option<u64>, points: &mut Points) {
    points.up_down(&CONNTRACK_COUNT, count as f64, Attributes::new());
    if let Some(max) = max {
        points.up_down(&CONNTRACK_MAX, max as f64, Attributes::new());
    }
}

/// `/proc/net/stat/nf_conntrack`: a header, then one line of hexadecimal
/// counters per CPU, summed by column name.
pub fn collect_conntrack_stat(text: &str, points: &mut Points) {
    const STATS: [(&str, &str, &str); 8] = [
        (
            "found",
            "node_nf_conntrack_stat_found",
            "Number of searched entries which were successful.",
        ),
        (
            "invalid",
            "node_nf_conntrack_stat_invalid",
            "Number of packets seen which can not be tracked.",
        ),
        (
            "ignore",
            "node_nf_conntrack_stat_ignore",
            "Number of packets seen which are already connected to a conntrack entry.",
        ),
        (
            "insert",
            "node_nf_conntrack_stat_insert",
            "Number of entries inserted into the list.",
        ),
        (
            "insert_failed",
            "node_nf_conntrack_stat_insert_failed",
            "Number of entries for which list insertion was attempted but failed.",
        ),
        (
            "drop",
            "node_nf_conntrack_stat_drop",
            "Number of packets dropped due to conntrack failure.",
        ),
        (
            "early_drop",
            "node_nf_conntrack_stat_early_drop",
            "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
        ),
        (
            "search_restart",
            "node_nf_conntrack_stat_search_restart",
            "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
        ),
    ];
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return;
    };
    let columns: Vec<Option<usize>> = STATS
        .iter()
        .map(|(column, _, _)| header.split_ascii_whitespace().position(|h| h == *column))
        .collect();
    let mut sums = [0u64; STATS.len()];
    for line in lines {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        for (sum, column) in sums.iter_mut().zip(&columns) {
            if let Some(value) = column
                .and_then(|c| fields.get(c))
                .and_then(|f| u64::from_str_radix(f, 16).ok())
            {
                *sum += value;
            }
        }
    }
    for ((_, name, help), (sum, column)) in STATS.iter().zip(sums.iter().zip(&columns)) {
        if column.is_some() {
            points.node_gauge(name, help, *sum as f64, Attributes::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    fn points() -> Points {
        Points::new(Arc::new(Resource::default()), 1, 0, 16)
    }

    #[test]
    fn softnet_counters_per_cpu_line() {
        let mut p = points();
        collect_softnet(
            Path::new("s"),
            include_str!("fixtures/softnet_stat"),
            &mut p,
        )
        .unwrap();
        assert_eq!(p.metrics.len(), 6);
        assert_eq!(p.metrics[0].scalar(), Some(0x002bea19 as f64));
        assert_eq!(p.metrics[2].name, "node_softnet_times_squeezed_total");
        assert_eq!(p.metrics[2].scalar(), Some(3.0));
        assert_eq!(
            p.metrics[3]
                .attributes
                .get("cpu")
                .and_then(AnyValue::as_str),
            Some("1")
        );
        assert!(collect_softnet(Path::new("s"), "zz 1 2\n", &mut p).is_err());
    }

    #[test]
    fn arp_entries_per_device() {
        let mut p = points();
        let text = format!(
            "{}10.0.0.2 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n10.1.0.1 0x1 0x2 aa:bb:cc:dd:ee:00 * eth1\n",
            include_str!("fixtures/arp")
        );
        collect_arp(&text, &mut p);
        assert_eq!(p.metrics.len(), 2);
        assert_eq!(p.metrics[0].scalar(), Some(2.0));
        assert_eq!(
            p.metrics[1]
                .attributes
                .get("device")
                .and_then(AnyValue::as_str),
            Some("eth1")
        );
    }

    #[test]
    fn conntrack_stats_sum_cpus_by_column_name() {
        let mut p = points();
        collect_conntrack_stat(include_str!("fixtures/nf_conntrack_stat"), &mut p);
        assert_eq!(p.metrics.len(), 8);
        assert!(p.metrics.iter().all(|m| m.scalar() == Some(0.0)));
        let mut p = points();
        collect_conntrack_stat(
            "entries found invalid drop\n00000001 0000000a 00000001 00000002\n00000001 00000001 00000000 00000003\n",
            &mut p,
        );
        let get = |n: &str| {
            p.metrics
                .iter()
                .find(|m| m.name == n)
                .and_then(|m| m.scalar())
        };
        assert_eq!(get("node_nf_conntrack_stat_found"), Some(11.0));
        assert_eq!(get("node_nf_conntrack_stat_drop"), Some(5.0));
        assert_eq!(get("node_nf_conntrack_stat_insert"), None, "no such column");
    }
}
