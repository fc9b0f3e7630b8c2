//! Interface properties from `/sys/class/net/<iface>`
//! (<https://docs.kernel.org/admin-guide/abi-testing.html#abi-sys-class-net>),
//! as node_exporter's `netclass` collector reports them: `node_network_up`,
//! `node_network_info` and one gauge per numeric file
//! (`node_network_mtu_bytes`, `node_network_speed_bytes`,
//! `node_network_carrier_changes_total`…). A file the kernel refuses to
//! read for an interface (`carrier` of a down one, `speed` of `lo`) gives
//! no point, as there. No OpenTelemetry convention covers them.

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::config::NameFilter;
use super::points::{Points, attrs};
use super::procfs::read_into;

/// Numeric files: file, node_exporter's name, whether it is a counter.
const NUMERIC: [(&str, &str, &str, bool); 15] = [
    (
        "addr_assign_type",
        "node_network_address_assign_type",
        "Network device property: address_assign_type",
        false,
    ),
    (
        "carrier",
        "node_network_carrier",
        "Network device property: carrier",
        false,
    ),
    (
        "carrier_changes",
        "node_network_carrier_changes_total",
        "Network device property: carrier_changes_total",
        true,
    ),
    (
        "carrier_up_count",
        "node_network_carrier_up_changes_total",
        "Network device property: carrier_up_changes_total",
        true,
    ),
    (
        "carrier_down_count",
        "node_network_carrier_down_changes_total",
        "Network device property: carrier_down_changes_total",
        true,
    ),
    (
        "dev_id",
        "node_network_device_id",
        "Network device property: device_id",
        false,
    ),
    (
        "dormant",
        "node_network_dormant",
        "Network device property: dormant",
        false,
    ),
    (
        "flags",
        "node_network_flags",
        "Network device property: flags",
        false,
    ),
    (
        "ifindex",
        "node_network_iface_id",
        "Network device property: iface_id",
        false,
    ),
    (
        "iflink",
        "node_network_iface_link",
        "Network device property: iface_link",
        false,
    ),
    (
        "link_mode",
        "node_network_iface_link_mode",
        "Network device property: iface_link_mode",
        false,
    ),
    (
        "mtu",
        "node_network_mtu_bytes",
        "Network device property: mtu_bytes",
        false,
    ),
    (
        "name_assign_type",
        "node_network_name_assign_type",
        "Network device property: name_assign_type",
        false,
    ),
    (
        "netdev_group",
        "node_network_net_dev_group",
        "Network device property: net_dev_group",
        false,
    ),
    (
        "speed",
        "node_network_speed_bytes",
        "Network device property: speed_bytes",
        false,
    ),
];
/// After `speed`, as node_exporter orders them.
const TAIL: [(&str, &str, &str); 2] = [
    (
        "tx_queue_len",
        "node_network_transmit_queue_length",
        "Network device property: transmit_queue_length",
    ),
    (
        "type",
        "node_network_protocol_type",
        "Network device property: protocol_type",
    ),
];

/// Add the points of every interface below `class_net`
/// (`/sys/class/net`) that `filter` allows.
pub fn collect(
    class_net: &Path,
    filter: &NameFilter,
    buf: &mut String,
    points: &mut Points,
) -> std::io::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(class_net)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| filter.allows(n))
        .collect();
    names.sort_unstable();
    for name in names {
        collect_interface(&class_net.join(&name), &name, buf, points);
    }
    Ok(())
}

/// The points of one interface directory.
pub fn collect_interface(dir: &Path, name: &str, buf: &mut String, points: &mut Points) {
    let device = AnyValue::from(name.to_owned());
    let mut text = |file: &str| -> String {
        match read_into(&dir.join(file), buf) {
            Ok(()) => buf.trim_end_matches('\n').to_owned(),
            Err(_) => String::new(),
        }
    };
    let operstate = text("operstate");
    points.node_gauge(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        if operstate == "up" { 1.0 } else { 0.0 },
        attrs([("device", device.clone())]),
    );
    points.node_gauge(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        1.0,
        attrs([
            ("address", AnyValue::from(text("address"))),
            ("broadcast", AnyValue::from(text("broadcast"))),
            ("device", device.clone()),
            ("duplex", AnyValue::from(text("duplex"))),
            ("ifalias", AnyValue::from(text("ifalias"))),
            ("operstate", AnyValue::from(operstate)),
        ]),
    );
    let numeric = NUMERIC
        .iter()
        .map(|(f, n, h, c)| (*f, *n, *h, *c))
        .chain(TAIL.iter().map(|(f, n, h)| (*f, *n, *h, false)));
    for (file, name, help, counter) in numeric {
        if read_into(&dir.join(file), buf).is_err() {
            continue;
        }
        let Some(mut value) = parse_int(buf.trim()) else {
            continue;
        };
        if file == "speed" {
            // Mbit/s to bytes/s; -1 (unknown) stays negative, as in
            // node_exporter 1.x.
            value = value * 1000 * 1000 / 8;
        }
        let labels: Attributes = attrs([("device", device.clone())]);
        if counter {
            points.node_counter(name, help, value as f64, labels);
        } else {
            points.node_gauge(name, help, value as f64, labels);
        }
    }
}

/// A decimal, or hexadecimal with `0x` (`dev_id`, `flags`).
fn parse_int(text: &str) -> Option<i64> {
    match text.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;
    use crate::sources::host_metrics::config::Filter;

    /// `/sys/class/net/eth0` of the machine the node_exporter comparison ran
    /// on; `speed` there is -1, `carrier` and `dormant` readable.
    const ETH0: &[(&str, &str)] = &[
        ("addr_assign_type", "0"),
        ("address", "02:fc:00:00:00:01"),
        ("broadcast", "ff:ff:ff:ff:ff:ff"),
        ("carrier", "1"),
        ("carrier_changes", "2"),
        ("carrier_down_count", "1"),
        ("carrier_up_count", "1"),
        ("dev_id", "0x0"),
        ("dormant", "0"),
        ("duplex", "unknown"),
        ("flags", "0x1003"),
        ("ifalias", ""),
        ("ifindex", "4"),
        ("iflink", "4"),
        ("link_mode", "0"),
        ("mtu", "1400"),
        ("name_assign_type", "1"),
        ("netdev_group", "0"),
        ("operstate", "up"),
        ("speed", "-1"),
        ("tx_queue_len", "1000"),
        ("type", "1"),
    ];

    #[test]
    fn an_interface_as_node_exporter_shows_it() {
        let root = tempfile::tempdir().unwrap();
        let eth0 = root.path().join("eth0");
        std::fs::create_dir(&eth0).unwrap();
        for (file, value) in ETH0 {
            std::fs::write(eth0.join(file), format!("{value}\n")).unwrap();
        }
        // ifb0: down, no carrier file to read.
        let ifb0 = root.path().join("ifb0");
        std::fs::create_dir(&ifb0).unwrap();
        std::fs::write(ifb0.join("operstate"), "down\n").unwrap();
        std::fs::write(ifb0.join("mtu"), "1500\n").unwrap();
        std::fs::write(root.path().join("bonding_masters"), "\n").unwrap();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 64);
        let all = Filter::default().compile().unwrap();
        collect(root.path(), &all, &mut String::new(), &mut points).unwrap();
        let get = |name: &str, device: &str| {
            points
                .metrics
                .iter()
                .find(|m| {
                    m.name == name
                        && m.attributes.get("device").and_then(AnyValue::as_str) == Some(device)
                })
                .and_then(|m| m.scalar())
        };
        assert_eq!(get("node_network_up", "eth0"), Some(1.0));
        assert_eq!(get("node_network_flags", "eth0"), Some(4099.0));
        assert_eq!(get("node_network_speed_bytes", "eth0"), Some(-125000.0));
        assert_eq!(get("node_network_mtu_bytes", "eth0"), Some(1400.0));
        assert_eq!(get("node_network_carrier_changes_total", "eth0"), Some(2.0));
        assert_eq!(get("node_network_protocol_type", "eth0"), Some(1.0));
        assert_eq!(get("node_network_up", "ifb0"), Some(0.0));
        assert_eq!(get("node_network_carrier", "ifb0"), None);
        assert_eq!(get("node_network_mtu_bytes", "ifb0"), Some(1500.0));
        let info = points
            .metrics
            .iter()
            .find(|m| m.name == "node_network_info")
            .unwrap();
        assert_eq!(
            info.attributes.get("duplex").and_then(AnyValue::as_str),
            Some("unknown")
        );
        assert_eq!(
            info.attributes.get("address").and_then(AnyValue::as_str),
            Some("02:fc:00:00:00:01")
        );
        assert_eq!(
            points
                .metrics
                .iter()
                .filter(|m| m.name == "node_network_up")
                .count(),
            2,
            "files are not interfaces"
        );
    }
}
