//! Memory and swap from `/proc/meminfo`
//! (<https://docs.kernel.org/filesystems/proc.html#meminfo>), and the
//! platform's `memory_usage_percent`.
//!
//! `system.memory.usage` is split so that its states add up to
//! `MemTotal`: `free`, `buffered`, `cached`, `slab_reclaimable` as the
//! kernel reports them and `used` for the rest, as the OpenTelemetry
//! Collector does on Linux. `system.linux.memory.available` is the kernel's
//! own estimate, `MemAvailable`, which node_exporter dashboards use.

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::error::HostMetricsError;
use super::points::{Def, Names, Points, attrs};
use super::procfs::parse_error;

const USAGE: Def = Def {
    name: "system.memory.usage",
    unit: "By",
    description: "Bytes of memory in each state; the states add up to the total.",
};
const LIMIT: Def = Def {
    name: "system.memory.limit",
    unit: "By",
    description: "Total usable memory (MemTotal).",
};
const AVAILABLE: Def = Def {
    name: "system.linux.memory.available",
    unit: "By",
    description: "Memory available for starting new applications without swapping (MemAvailable).",
};
const SHARED: Def = Def {
    name: "system.memory.shared",
    unit: "By",
    description: "Shared memory, mostly tmpfs (Shmem).",
};
const SLAB: Def = Def {
    name: "system.linux.memory.slab.usage",
    unit: "By",
    description: "Kernel slab memory, reclaimable (SReclaimable) and not (SUnreclaim).",
};
const PAGING: Def = Def {
    name: "system.paging.usage",
    unit: "By",
    description: "Swap space used and free.",
};
/// The platform's alert metric.
const USAGE_PERCENT: Def = Def {
    name: "memory_usage_percent",
    unit: "%",
    description: "Percentage of memory in use: 100 × (MemTotal − MemAvailable) / MemTotal.",
};

/// The `/proc/meminfo` fields the collector uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemFree`.
    pub free: u64,
    /// `MemAvailable`; `None` before Linux 3.14.
    pub available: Option<u64>,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `SReclaimable`.
    pub slab_reclaimable: u64,
    /// `SUnreclaim`.
    pub slab_unreclaimable: Option<u64>,
    /// `Shmem`.
    pub shared: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
    /// `SwapFree`.
    pub swap_free: Option<u64>,
}

// === impl MemInfo ===

impl MemInfo {
    /// Parse the text of `/proc/meminfo` (read from `path`).
    pub fn parse(path: &Path, text: &str) -> Result<MemInfo, HostMetricsError> {
        let mut info = MemInfo::default();
        let mut saw_total = false;
        for line in text.lines() {
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let slot = match key {
                "MemTotal" => {
                    saw_total = true;
                    &mut info.total
                }
                "MemFree" => &mut info.free,
                "Buffers" => &mut info.buffers,
                "Cached" => &mut info.cached,
                "SReclaimable" => &mut info.slab_reclaimable,
                "MemAvailable" => info.available.insert(0),
                "SUnreclaim" => info.slab_unreclaimable.insert(0),
                "Shmem" => info.shared.insert(0),
                "SwapTotal" => info.swap_total.insert(0),
                "SwapFree" => info.swap_free.insert(0),
                _ => continue,
            };
            *slot = bytes(rest).ok_or_else(|| {
                parse_error(path, format!("{key}: {:?} is not a size", rest.trim()))
            })?;
        }
        if !saw_total {
            return Err(parse_error(path, "no MemTotal line"));
        }
        Ok(info)
    }

    /// `MemAvailable`, or on kernels without it the classic estimate
    /// free + buffers + cached.
    pub fn available(&self) -> u64 {
        self.available
            .unwrap_or(self.free + self.buffers + self.cached)
            .min(self.total)
    }

    /// Add the memory points to `points`.
    pub fn collect(&self, points: &mut Points) {
        let accounted = self.free + self.buffers + self.cached + self.slab_reclaimable;
        let used = self.total.saturating_sub(accounted);
        for (state, value) in [
            ("used", used),
            ("free", self.free),
            ("buffered", self.buffers),
            ("cached", self.cached),
            ("slab_reclaimable", self.slab_reclaimable),
        ] {
            points.up_down(&USAGE, value as f64, state_attr(state));
        }
        points.up_down(&LIMIT, self.total as f64, Attributes::new());
        points.up_down(&AVAILABLE, self.available() as f64, Attributes::new());
        if let Some(shared) = self.shared {
            points.up_down(&SHARED, shared as f64, Attributes::new());
        }
        if let Some(unreclaimable) = self.slab_unreclaimable {
            points.up_down(
                &SLAB,
                self.slab_reclaimable as f64,
                state_attr("reclaimable"),
            );
            points.up_down(&SLAB, unreclaimable as f64, state_attr("unreclaimable"));
        }
        if let (Some(total), Some(free)) = (self.swap_total, self.swap_free) {
            points.up_down(
                &PAGING,
                total.saturating_sub(free) as f64,
                state_attr("used"),
            );
            points.up_down(&PAGING, free as f64, state_attr("free"));
        }
        if self.total > 0 {
            let in_use = self.total - self.available();
            let percent = 100.0 * in_use as f64 / self.total as f64;
            points.gauge(&USAGE_PERCENT, percent, Attributes::new());
        }
    }
}

/// The fields that reach node_exporter's names through the OpenTelemetry
/// series above (the prometheus sink maps them back).
const MAPPED: [&str; 10] = [
    "MemTotal",
    "Shmem",
    "SUnreclaim",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SReclaimable",
    "SwapTotal",
    "SwapFree",
];

/// Every other field of `/proc/meminfo` under node_exporter's name
/// (collector `meminfo`): `Active(anon)` becomes `Active_anon`, and a field
/// in kB is multiplied by 1024 and named `…_bytes`
/// (`node_memory_Active_anon_bytes`); a field without a unit keeps its name
/// (`node_memory_HugePages_Total`). Malformed lines are skipped.
pub fn collect_fields(text: &str, names: &mut Names, points: &mut Points) {
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(field) = key.strip_suffix(':') else {
            continue;
        };
        let Ok(mut value) = value.parse::<f64>() else {
            continue;
        };
        // node_exporter presumes kB.
        let in_kb = parts.next().is_some();
        if in_kb {
            value *= 1024.0;
        }
        // The key with its colon stands for a field without unit.
        let cache_key = if in_kb { field } else { key };
        let Some((name, help)) = names.get(cache_key, || {
            if MAPPED.contains(&field) {
                return None;
            }
            let mut name = String::from("node_memory_");
            match field.split_once('(') {
                Some((head, tail)) => {
                    name.push_str(head);
                    name.push('_');
                    name.push_str(tail.trim_end_matches(')'));
                }
                None => name.push_str(field),
            }
            if in_kb {
                name.push_str("_bytes");
            }
            let help = format!(
                "Memory information field {}.",
                &name["node_memory_".len()..]
            );
            Some((name, help))
        }) else {
            continue;
        };
        points.node_gauge(name, help, value, Attributes::new());
    }
}

fn state_attr(state: &'static str) -> Attributes {
    attrs([("state", AnyValue::from(state))])
}

/// `"   24684084 kB"` → bytes. Lines without a unit are plain counts.
fn bytes(text: &str) -> Option<u64> {
    let mut parts = text.split_ascii_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(value),
        Some("kB") => value.checked_mul(1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    const MEMINFO: &str = "MemTotal:       24684084 kB
MemFree:        12760352 kB
MemAvailable:   23832480 kB
Buffers:           35368 kB
Cached:         10930560 kB
SwapCached:            0 kB
SReclaimable:     500000 kB
SUnreclaim:       100000 kB
SwapTotal:       1000000 kB
SwapFree:         250000 kB
HugePages_Total:       0
";

    #[test]
    fn states_add_up_to_the_total_and_percent_uses_mem_available() {
        let info = MemInfo::parse(Path::new("/proc/meminfo"), MEMINFO).unwrap();
        assert_eq!(info.total, 24684084 * 1024);
        assert_eq!(info.available, Some(23832480 * 1024));
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 16);
        info.collect(&mut points);
        let sum: f64 = points
            .metrics
            .iter()
            .filter(|m| m.name == "system.memory.usage")
            .filter_map(|m| m.scalar())
            .sum();
        assert_eq!(sum, info.total as f64);
        let percent = points
            .metrics
            .iter()
            .find(|m| m.name == "memory_usage_percent")
            .and_then(|m| m.scalar())
            .unwrap();
        let expected = 100.0 * (24684084.0 - 23832480.0) / 24684084.0;
        assert!((percent - expected).abs() < 1e-9);
        let swap_used = points
            .metrics
            .iter()
            .find(|m| {
                m.name == "system.paging.usage"
                    && m.attributes.get("state").and_then(AnyValue::as_str) == Some("used")
            })
            .and_then(|m| m.scalar());
        assert_eq!(swap_used, Some(750000.0 * 1024.0));
    }

    /// `/proc/meminfo` of the machine the node_exporter comparison ran on
    /// (Linux 6.18).
    const MEMINFO_6_18: &str = include_str!("fixtures/meminfo");

    #[test]
    fn other_fields_keep_node_exporters_names() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 64);
        let mut names = Names::default();
        collect_fields(MEMINFO_6_18, &mut names, &mut points);
        collect_fields(MEMINFO_6_18, &mut names, &mut points);
        let get = |name: &str| {
            points
                .metrics
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.scalar())
        };
        assert_eq!(get("node_memory_Active_anon_bytes"), Some(68.0 * 1024.0));
        assert_eq!(get("node_memory_HugePages_Total"), Some(0.0));
        assert_eq!(get("node_memory_Hugepagesize_bytes"), Some(2048.0 * 1024.0));
        assert_eq!(
            get("node_memory_MemTotal_bytes"),
            None,
            "mapped from OpenTelemetry"
        );
        let active = points
            .metrics
            .iter()
            .find(|m| m.name == "node_memory_Active_bytes")
            .unwrap();
        assert_eq!(active.description, "Memory information field Active_bytes.");
        // Twice, the second time from the cache.
        assert_eq!(
            points.metrics.len(),
            2 * (MEMINFO_6_18.lines().count() - MAPPED.len())
        );
    }

    #[test]
    fn old_kernels_without_mem_available_estimate_it() {
        let info = MemInfo::parse(
            Path::new("m"),
            "MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n",
        )
        .unwrap();
        assert_eq!(info.available(), 35 * 1024);
        assert!(MemInfo::parse(Path::new("m"), "MemFree: 1 kB\n").is_err());
        assert!(MemInfo::parse(Path::new("m"), "MemTotal: x kB\n").is_err());
    }
}
