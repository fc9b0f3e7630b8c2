//! Protocol counters from `/proc/net/netstat`, `/proc/net/snmp` and
//! `/proc/net/snmp6`, as node_exporter's `netstat` collector reports them:
//! `node_netstat_<Protocol>_<Field>` (`node_netstat_Tcp_InSegs`,
//! `node_netstat_Ip6_InOctets`), untyped, for the fields of its default
//! `--collector.netstat.fields`. No OpenTelemetry convention covers them.

use std::sync::OnceLock;

use regex::Regex;

use crate::event::Attributes;

use super::points::{Names, Points};

/// node_exporter's default `--collector.netstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// The default fields' pattern, compiled once (`None` only if it did not
/// compile, which `the_default_fields_pattern_compiles` rules out).
fn fields() -> Option<&'static Regex> {
    static FIELDS: OnceLock<Option<Regex>> = OnceLock::new();
    FIELDS
        .get_or_init(|| Regex::new(DEFAULT_FIELDS).ok())
        .as_ref()
}

/// Kept between cycles: the names of the fields seen, and the key being
/// built.
#[derive(Debug, Default)]
pub struct Scratch {
    names: Names,
    key: String,
}

/// Add the fields of `/proc/net/netstat` or `/proc/net/snmp`: pairs of
/// lines, `Tcp: RtoAlgorithm RtoMin …` then `Tcp: 1 200 …`.
pub fn collect_pairs(text: &str, scratch: &mut Scratch, points: &mut Points) {
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((protocol, names)), Some((_, values))) =
            (names.split_once(": "), values.split_once(": "))
        else {
            continue;
        };
        for (field, value) in names.split(' ').zip(values.split(' ')) {
            scratch.add(protocol, field, value, points);
        }
    }
}

/// Add the fields of `/proc/net/snmp6`: `Ip6InReceives   123` lines, the
/// protocol being the name up to its first `6`.
pub fn collect_snmp6(text: &str, scratch: &mut Scratch, points: &mut Points) {
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(six) = key.find('6') else {
            continue;
        };
        let (protocol, field) = key.split_at(six + 1);
        scratch.add(protocol, field, value, points);
    }
}

impl Scratch {
    fn add(&mut self, protocol: &str, field: &str, value: &str, points: &mut Points) {
        self.key.clear();
        self.key.push_str(protocol);
        self.key.push('_');
        self.key.push_str(field);
        let key = &self.key;
        let Some((name, help)) = self.names.get(key, || {
            fields().is_some_and(|f| f.is_match(key)).then(|| {
                (
                    format!("node_netstat_{key}"),
                    format!("Statistic {protocol}{field}."),
                )
            })
        }) else {
            return;
        };
        let Ok(value) = value.parse::<f64>() else {
            return;
        };
        points.node_gauge(name, help, value, Attributes::new());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    #[test]
    fn the_default_fields_pattern_compiles() {
        assert!(fields().is_some());
    }

    /// The files of the machine the node_exporter comparison ran on.
    const NETSTAT: &str = include_str!("fixtures/netstat");
    const SNMP: &str = include_str!("fixtures/snmp");
    const SNMP6: &str = include_str!("fixtures/snmp6");

    #[test]
    fn the_default_fields_of_the_three_files() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 64);
        let mut scratch = Scratch::default();
        collect_pairs(NETSTAT, &mut scratch, &mut points);
        collect_pairs(SNMP, &mut scratch, &mut points);
        collect_snmp6(SNMP6, &mut scratch, &mut points);
        let mut names: Vec<&str> = points.metrics.iter().map(|m| m.name.as_ref()).collect();
        names.sort_unstable();
        // What node_exporter 1.5 showed on that machine.
        assert_eq!(
            names,
            [
                "node_netstat_Icmp6_InErrors",
                "node_netstat_Icmp6_InMsgs",
                "node_netstat_Icmp6_OutMsgs",
                "node_netstat_Icmp_InErrors",
                "node_netstat_Icmp_InMsgs",
                "node_netstat_Icmp_OutMsgs",
                "node_netstat_Ip6_InOctets",
                "node_netstat_Ip6_OutOctets",
                "node_netstat_IpExt_InOctets",
                "node_netstat_IpExt_OutOctets",
                "node_netstat_Ip_Forwarding",
                "node_netstat_TcpExt_ListenDrops",
                "node_netstat_TcpExt_ListenOverflows",
                "node_netstat_TcpExt_SyncookiesFailed",
                "node_netstat_TcpExt_SyncookiesRecv",
                "node_netstat_TcpExt_SyncookiesSent",
                "node_netstat_TcpExt_TCPSynRetrans",
                "node_netstat_TcpExt_TCPTimeouts",
                "node_netstat_Tcp_ActiveOpens",
                "node_netstat_Tcp_CurrEstab",
                "node_netstat_Tcp_InErrs",
                "node_netstat_Tcp_InSegs",
                "node_netstat_Tcp_OutRsts",
                "node_netstat_Tcp_OutSegs",
                "node_netstat_Tcp_PassiveOpens",
                "node_netstat_Tcp_RetransSegs",
                "node_netstat_Udp6_InDatagrams",
                "node_netstat_Udp6_InErrors",
                "node_netstat_Udp6_NoPorts",
                "node_netstat_Udp6_OutDatagrams",
                "node_netstat_Udp6_RcvbufErrors",
                "node_netstat_Udp6_SndbufErrors",
                "node_netstat_UdpLite6_InErrors",
                "node_netstat_UdpLite_InErrors",
                "node_netstat_Udp_InDatagrams",
                "node_netstat_Udp_InErrors",
                "node_netstat_Udp_NoPorts",
                "node_netstat_Udp_OutDatagrams",
                "node_netstat_Udp_RcvbufErrors",
                "node_netstat_Udp_SndbufErrors",
            ]
        );
        let tcp_in = points
            .metrics
            .iter()
            .find(|m| m.name == "node_netstat_Tcp_InSegs")
            .unwrap();
        assert_eq!(tcp_in.description, "Statistic TcpInSegs.");
        let expected: f64 = {
            let mut lines = SNMP.lines().filter(|l| l.starts_with("Tcp: "));
            let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
            let i = names.split(' ').position(|f| f == "InSegs").unwrap();
            values.split(' ').nth(i).unwrap().parse().unwrap()
        };
        assert_eq!(tcp_in.scalar(), Some(expected));
    }
}
