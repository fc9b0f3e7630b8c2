//! Socket counts from `/proc/net/sockstat` and `/proc/net/sockstat6`
//! (node_exporter's `sockstat` collector: `node_sockstat_TCP_inuse`,
//! `node_sockstat_TCP_mem_bytes`…) and the UDP queue sizes of
//! `/proc/net/udp` and `/proc/net/udp6` (its `udp_queues` collector,
//! `node_udp_queues`). No OpenTelemetry convention covers them.

use crate::event::{AnyValue, Attributes};

use super::points::{Names, Points, attrs};

/// Add the counts of one sockstat file: `sockets: used 21`, then
/// `TCP: inuse 2 orphan 0 tw 0 alloc 2 mem 206` lines. `mem` is in pages
/// and is also reported in bytes (`…_mem_bytes`).
pub fn collect(text: &str, page_size: u64, names: &mut Names, points: &mut Points) {
    let mut key = String::with_capacity(32);
    for line in text.lines() {
        let Some((protocol, rest)) = line.split_once(": ") else {
            continue;
        };
        let mut words = rest.split_ascii_whitespace();
        while let (Some(state), Some(value)) = (words.next(), words.next()) {
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            if protocol == "sockets" {
                if state == "used" {
                    points.node_gauge(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                        value as f64,
                        Attributes::new(),
                    );
                }
                continue;
            }
            let mut add = |state: &str, value: u64| {
                key.clear();
                key.push_str(protocol);
                key.push('_');
                key.push_str(state);
                let made = names.get(&key, || {
                    Some((
                        format!("node_sockstat_{protocol}_{state}"),
                        format!("Number of {protocol} sockets in state {state}."),
                    ))
                });
                if let Some((name, help)) = made {
                    points.node_gauge(name, help, value as f64, Attributes::new());
                }
            };
            add(state, value);
            if state == "mem" {
                add("mem_bytes", value.saturating_mul(page_size));
            }
        }
    }
}

/// Add the summed transmit and receive queues of `/proc/net/udp` (`ip` is
/// `v4`) or `/proc/net/udp6` (`v6`): the hexadecimal
/// `tx_queue:rx_queue` column of every socket.
pub fn collect_udp_queues(text: &str, ip: &'static str, points: &mut Points) {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let Some(queues) = line.split_ascii_whitespace().nth(4) else {
            continue;
        };
        let Some((t, r)) = queues.split_once(':') else {
            continue;
        };
        tx += u64::from_str_radix(t, 16).unwrap_or(0);
        rx += u64::from_str_radix(r, 16).unwrap_or(0);
    }
    for (queue, value) in [("tx", tx), ("rx", rx)] {
        points.node_gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            value as f64,
            attrs([("ip", AnyValue::from(ip)), ("queue", AnyValue::from(queue))]),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    /// The files of the machine the node_exporter comparison ran on.
    const SOCKSTAT: &str = include_str!("fixtures/sockstat");
    const SOCKSTAT6: &str = include_str!("fixtures/sockstat6");
    const UDP: &str = include_str!("fixtures/udp");

    fn get(points: &Points, name: &str) -> Option<f64> {
        points
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.scalar())
    }

    #[test]
    fn every_protocol_and_state_and_mem_in_bytes() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 32);
        let mut names = Names::default();
        collect(SOCKSTAT, 4096, &mut names, &mut points);
        collect(SOCKSTAT6, 4096, &mut names, &mut points);
        assert_eq!(get(&points, "node_sockstat_sockets_used"), Some(21.0));
        assert_eq!(get(&points, "node_sockstat_TCP_inuse"), Some(2.0));
        assert_eq!(get(&points, "node_sockstat_TCP_mem"), Some(206.0));
        assert_eq!(
            get(&points, "node_sockstat_TCP_mem_bytes"),
            Some(206.0 * 4096.0)
        );
        assert_eq!(get(&points, "node_sockstat_FRAG_memory"), Some(0.0));
        assert_eq!(get(&points, "node_sockstat_UDPLITE6_inuse"), Some(0.0));
        // sockets_used, TCP ×6, UDP ×3, UDPLITE, RAW, FRAG ×2, and the
        // five IPv6 lines (FRAG6 with two).
        assert_eq!(points.metrics.len(), 1 + 6 + 3 + 1 + 1 + 2 + 6);
        let tw = points
            .metrics
            .iter()
            .find(|m| m.name == "node_sockstat_TCP_tw")
            .unwrap();
        assert_eq!(tw.description, "Number of TCP sockets in state tw.");
    }

    #[test]
    fn udp_queues_add_up_the_hex_columns() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 4);
        collect_udp_queues(UDP, "v4", &mut points);
        assert_eq!(points.metrics.len(), 2);
        assert!(points.metrics.iter().all(|m| m.scalar() == Some(0.0)));
        let busy = format!(
            "{}\n   0: 00000000:0044 00000000:0000 07 00000100:00000A00 00:00000000 00000000     0        0 1 2 0 0\n   1: 00000000:0045 00000000:0000 07 00000001:00000001 00:00000000 00000000     0        0 1 2 0 0\n",
            UDP.lines().next().unwrap()
        );
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 4);
        collect_udp_queues(&busy, "v6", &mut points);
        let tx = points.metrics[0].scalar();
        let rx = points.metrics[1].scalar();
        assert_eq!((tx, rx), (Some(257.0), Some(2561.0)));
        assert_eq!(
            points.metrics[1]
                .attributes
                .get("queue")
                .and_then(AnyValue::as_str),
            Some("rx")
        );
    }
}
