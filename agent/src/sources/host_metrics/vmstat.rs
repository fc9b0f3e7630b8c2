//! Paging from `/proc/vmstat`: page faults and page/swap traffic under the
//! OpenTelemetry conventions (`system.paging.faults`,
//! `system.paging.operations`), and the other fields node_exporter's
//! `vmstat` collector reports by default (`oom_kill`, `pg*fault*`) under
//! its names (`node_vmstat_<field>`).

use crate::event::{AnyValue, Attributes};

use super::points::{Def, Names, Points, attrs};

const FAULTS: Def = Def {
    name: "system.paging.faults",
    unit: "{fault}",
    description: "Page faults: major (read from disk) and minor.",
};
const OPERATIONS: Def = Def {
    name: "system.paging.operations",
    unit: "{operation}",
    description: "Pages read and written: major (swap) and minor (all paging).",
};

/// node_exporter's default `--collector.vmstat.fields`,
/// `^(oom_kill|pgpg|pswp|pg.*fault).*`.
pub fn default_field(name: &str) -> bool {
    name.starts_with("oom_kill")
        || name.starts_with("pgpg")
        || name.starts_with("pswp")
        || name
            .strip_prefix("pg")
            .is_some_and(|rest| rest.contains("fault"))
}

/// Add the paging points of the text of `/proc/vmstat`.
pub fn collect(text: &str, names: &mut Names, points: &mut Points) {
    let (mut faults, mut major_faults) = (None, None);
    for line in text.lines() {
        let Some((field, value)) = line.split_once(' ') else {
            continue;
        };
        let Some((name, help)) = names.get(field, || {
            default_field(field).then(|| {
                (
                    format!("node_vmstat_{field}"),
                    format!("/proc/vmstat information field {field}."),
                )
            })
        }) else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        let (direction, kind) = match field {
            "pgfault" => {
                faults = Some(value);
                continue;
            }
            "pgmajfault" => {
                major_faults = Some(value);
                continue;
            }
            "pgpgin" => ("in", "minor"),
            "pgpgout" => ("out", "minor"),
            "pswpin" => ("in", "major"),
            "pswpout" => ("out", "major"),
            _ => {
                points.node_gauge(name, help, value as f64, Attributes::new());
                continue;
            }
        };
        points.counter(
            &OPERATIONS,
            value as f64,
            attrs([
                ("direction", AnyValue::from(direction)),
                ("type", AnyValue::from(kind)),
            ]),
        );
    }
    if let (Some(all), Some(major)) = (faults, major_faults) {
        // `pgfault` counts every fault, major ones included.
        for (kind, value) in [("minor", all.saturating_sub(major)), ("major", major)] {
            points.counter(
                &FAULTS,
                value as f64,
                attrs([("type", AnyValue::from(kind))]),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    /// `/proc/vmstat` of the machine the node_exporter comparison ran on.
    const VMSTAT: &str = include_str!("fixtures/vmstat");

    fn value(points: &Points, name: &str, attr: Option<(&str, &str)>) -> Option<f64> {
        points
            .metrics
            .iter()
            .find(|m| {
                m.name == name
                    && attr.is_none_or(|(k, v)| {
                        m.attributes.get(k).and_then(AnyValue::as_str) == Some(v)
                    })
            })
            .and_then(|m| m.scalar())
    }

    #[test]
    fn faults_split_into_minor_and_major_and_the_rest_keep_node_names() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 16);
        collect(VMSTAT, &mut Names::default(), &mut points);
        let field = |name: &str| -> f64 {
            VMSTAT
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap()
        };
        let major = value(&points, "system.paging.faults", Some(("type", "major"))).unwrap();
        let minor = value(&points, "system.paging.faults", Some(("type", "minor"))).unwrap();
        assert_eq!(major, field("pgmajfault"));
        assert_eq!(major + minor, field("pgfault"));
        let mut swap_in = points.metrics.iter().filter(|m| {
            m.name == "system.paging.operations"
                && m.attributes.get("type").and_then(AnyValue::as_str) == Some("major")
                && m.attributes.get("direction").and_then(AnyValue::as_str) == Some("in")
        });
        assert_eq!(
            swap_in.next().and_then(|m| m.scalar()),
            Some(field("pswpin"))
        );
        assert_eq!(
            value(&points, "node_vmstat_oom_kill", None),
            Some(field("oom_kill"))
        );
        assert_eq!(value(&points, "node_vmstat_nr_free_pages", None), None);
    }

    #[test]
    fn the_default_field_filter_is_node_exporters() {
        for yes in [
            "oom_kill",
            "pgpgin",
            "pswpout",
            "pgfault",
            "pgmajfault",
            "pgmajfault_s",
        ] {
            assert!(default_field(yes), "{yes}");
        }
        for no in [
            "nr_free_pages",
            "pgalloc_normal",
            "thp_fault_alloc",
            "workingset_refault",
        ] {
            assert!(!default_field(no), "{no}");
        }
    }
}
