//! Network interface counters from `/proc/net/dev`
//! (<https://docs.kernel.org/networking/statistics.html#procfs>).

use std::path::Path;

use crate::event::AnyValue;

use super::config::NameFilter;
use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::procfs::parse_error;

const IO: Def = Def {
    name: "system.network.io",
    unit: "By",
    description: "Bytes received and transmitted by each interface.",
};
const PACKETS: Def = Def {
    name: "system.network.packets",
    unit: "{packet}",
    description: "Packets received and transmitted by each interface.",
};
const ERRORS: Def = Def {
    name: "system.network.errors",
    unit: "{error}",
    description: "Receive and transmit errors of each interface.",
};
const DROPPED: Def = Def {
    name: "system.network.dropped",
    unit: "{packet}",
    description: "Packets dropped on receive and transmit by each interface.",
};

/// Parse `/proc/net/dev` and add the counters of every interface `filter`
/// allows to `points`.
/// The other columns of `/proc/net/dev`, under node_exporter's names (no
/// OpenTelemetry convention covers them): column, name, help.
const EXTRA: [(usize, &str, &str); 8] = [
    (
        4,
        "node_network_receive_fifo_total",
        "Network device statistic receive_fifo.",
    ),
    (
        5,
        "node_network_receive_frame_total",
        "Network device statistic receive_frame.",
    ),
    (
        6,
        "node_network_receive_compressed_total",
        "Network device statistic receive_compressed.",
    ),
    (
        7,
        "node_network_receive_multicast_total",
        "Network device statistic receive_multicast.",
    ),
    (
        12,
        "node_network_transmit_fifo_total",
        "Network device statistic transmit_fifo.",
    ),
    (
        13,
        "node_network_transmit_colls_total",
        "Network device statistic transmit_colls.",
    ),
    (
        14,
        "node_network_transmit_carrier_total",
        "Network device statistic transmit_carrier.",
    ),
    (
        15,
        "node_network_transmit_compressed_total",
        "Network device statistic transmit_compressed.",
    ),
];

/// Add the points of every interface of `/proc/net/dev` that `filter`
/// allows. `no_handler` gives an interface's `rx_nohandler` (from
/// `/sys/class/net/<iface>/statistics`; node_exporter reads it over
/// netlink), `None` where it cannot be read.
pub fn collect(
    path: &Path,
    text: &str,
    filter: &NameFilter,
    mut no_handler: impl FnMut(&str) -> Option<u64>,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    // Two header lines, then `  eth0: rx_bytes rx_packets rx_errs rx_drop
    // rx_fifo rx_frame rx_compressed rx_multicast tx_bytes tx_packets
    // tx_errs tx_drop ...`.
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !filter.allows(name) {
            continue;
        }
        let mut values = [0u64; 16];
        let mut fields = counters.split_ascii_whitespace();
        for slot in &mut values {
            let field = fields
                .next()
                .ok_or_else(|| parse_error(path, format!("{name}: too few columns")))?;
            *slot = field
                .parse()
                .map_err(|_| parse_error(path, format!("{name}: {field:?} is not a number")))?;
        }
        let device = AnyValue::from(name.to_owned());
        for (def, rx, tx) in [
            (&IO, values[0], values[8]),
            (&PACKETS, values[1], values[9]),
            (&ERRORS, values[2], values[10]),
            (&DROPPED, values[3], values[11]),
        ] {
            for (direction, value) in [("receive", rx), ("transmit", tx)] {
                points.counter(
                    def,
                    value as f64,
                    attrs([
                        ("device", device.clone()),
                        ("direction", AnyValue::from(direction)),
                    ]),
                );
            }
        }
        let only_device = || attrs([("device", device.clone())]);
        for (column, name, help) in EXTRA {
            points.node_counter(name, help, values[column] as f64, only_device());
        }
        if let Some(value) = no_handler(name) {
            points.node_counter(
                "node_network_receive_nohandler_total",
                "Network device statistic receive_nohandler.",
                value as f64,
                only_device(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;
    use crate::sources::host_metrics::config::Filter;

    const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  122205    1116    0    0    0     0          0         0   122205    1116    0    0    0     0       0          0
  eth0: 956366690   54838    3    4    0     0          0         0  3084684   30773    5    6    0     0       0          0
";

    #[test]
    fn bytes_packets_errors_and_drops_per_direction() {
        let filter = Filter {
            include: None,
            exclude: Some("^lo$".into()),
        }
        .compile()
        .unwrap();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 16);
        collect(Path::new("d"), NET_DEV, &filter, |_| Some(7), &mut points).unwrap();
        assert_eq!(points.metrics.len(), 8 + 8 + 1);
        let get = |name: &str, direction: &str| {
            points
                .metrics
                .iter()
                .find(|m| {
                    m.name == name
                        && m.attributes.get("direction").and_then(AnyValue::as_str)
                            == Some(direction)
                })
                .map(|m| {
                    assert_eq!(
                        m.attributes.get("device").and_then(AnyValue::as_str),
                        Some("eth0")
                    );
                    m.scalar().unwrap()
                })
        };
        assert_eq!(get("system.network.io", "receive"), Some(956366690.0));
        assert_eq!(get("system.network.io", "transmit"), Some(3084684.0));
        assert_eq!(get("system.network.errors", "transmit"), Some(5.0));
        assert_eq!(get("system.network.dropped", "receive"), Some(4.0));
        let nohandler = points
            .metrics
            .iter()
            .find(|m| m.name == "node_network_receive_nohandler_total")
            .and_then(|m| m.scalar());
        assert_eq!(nohandler, Some(7.0));
        assert!(
            collect(
                Path::new("d"),
                "h\nh\n x: 1 2\n",
                &filter,
                |_| None,
                &mut points
            )
            .is_err()
        );
    }
}
