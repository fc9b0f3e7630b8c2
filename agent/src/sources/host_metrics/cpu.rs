//! CPU time by mode, utilization between collections, and the platform's
//! `cpu_usage_percent` (from `/proc/stat`).
//!
//! Names after the OpenTelemetry system semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/system/system-metrics/>):
//! `system.cpu.time{cpu,state}` in seconds and `system.cpu.utilization`
//! as a fraction. Per-CPU series carry `cpu`; the series of all CPUs
//! together have no `cpu` attribute.

use crate::event::{AnyValue, Attributes};

use super::points::{Def, Points, attrs};
use super::stat::{CpuTimes, ProcStat, STATES};

const TIME: Def = Def {
    name: "system.cpu.time",
    unit: "s",
    description: "Seconds each CPU spent in each mode.",
};
const UTILIZATION: Def = Def {
    name: "system.cpu.utilization",
    unit: "1",
    description: "Fraction of CPU time spent in each mode since the previous collection.",
};
const LOGICAL_COUNT: Def = Def {
    name: "system.cpu.logical.count",
    unit: "{cpu}",
    description: "Number of online logical CPUs.",
};
/// The platform's alert metric (`HighCPUUsage: cpu_usage_percent > 80`).
const USAGE_PERCENT: Def = Def {
    name: "cpu_usage_percent",
    unit: "%",
    description: "Percentage of CPU time, over all CPUs, spent not idle (neither idle nor waiting for I/O) since the previous collection.",
};

/// What the CPU collector remembers between collections.
#[derive(Debug, Default)]
pub struct CpuState {
    previous_total: Option<CpuTimes>,
    previous: Vec<(u32, CpuTimes)>,
    labels: Vec<(u32, AnyValue)>,
}

/// Which CPU series to emit.
#[derive(Debug, Clone, Copy)]
pub struct CpuOptions {
    /// Series per CPU (`cpu` attribute).
    pub per_cpu: bool,
    /// Series of all CPUs together (no `cpu` attribute).
    pub total: bool,
    /// `USER_HZ`.
    pub user_hz: f64,
}

// === impl CpuState ===

impl CpuState {
    /// Add the CPU points of `stat` to `points`.
    /// `online` is the number of online CPUs from sysfs, if readable; the
    /// `cpuN` lines of `/proc/stat` are counted otherwise.
    pub fn collect(
        &mut self,
        stat: &ProcStat,
        online: Option<u64>,
        options: CpuOptions,
        points: &mut Points,
    ) {
        if options.per_cpu {
            for (id, times) in &stat.cpus {
                let label = self.label(*id);
                time_points(points, times, options.user_hz, Some(&label));
                guest_points(points, times, options.user_hz, &label);
                let previous = self.previous.iter().find(|(p, _)| p == id).map(|(_, t)| *t);
                if let Some(previous) = previous {
                    utilization_points(points, &previous, times, Some(&label));
                }
            }
        }
        if options.total {
            time_points(points, &stat.total, options.user_hz, None);
            if let Some(previous) = &self.previous_total {
                utilization_points(points, previous, &stat.total, None);
            }
        }
        if let Some(previous) = &self.previous_total
            && let Some(percent) = busy_percent(previous, &stat.total)
        {
            points.gauge(&USAGE_PERCENT, percent, Attributes::new());
        }
        let online = online.or((!stat.cpus.is_empty()).then_some(stat.cpus.len() as u64));
        if let Some(online) = online {
            points.up_down(&LOGICAL_COUNT, online as f64, Attributes::new());
        }
        self.previous_total = Some(stat.total);
        self.previous.clear();
        self.previous.extend_from_slice(&stat.cpus);
    }

    /// The `cpu` attribute value of CPU `id`, built once.
    fn label(&mut self, id: u32) -> AnyValue {
        if let Some((_, label)) = self.labels.iter().find(|(i, _)| *i == id) {
            return label.clone();
        }
        let label = AnyValue::from(id.to_string());
        self.labels.push((id, label.clone()));
        label
    }
}

/// Count the CPUs of a sysfs CPU list (`/sys/devices/system/cpu/online`:
/// `"0-3,5,7-8"`).
pub fn count_cpu_list(text: &str) -> Option<u64> {
    let mut count = 0;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        count += match part.split_once('-') {
            Some((low, high)) => {
                let (low, high): (u64, u64) = (low.parse().ok()?, high.parse().ok()?);
                high.checked_sub(low)? + 1
            }
            None => {
                part.parse::<u64>().ok()?;
                1
            }
        };
    }
    (count > 0).then_some(count)
}

fn time_points(points: &mut Points, times: &CpuTimes, user_hz: f64, cpu: Option<&AnyValue>) {
    for (state, get) in STATES {
        let seconds = get(times) as f64 / user_hz;
        points.counter(&TIME, seconds, attributes(cpu, state));
    }
}

/// `node_cpu_guest_seconds_total`: time spent running guests' virtual
/// CPUs (already inside `user` and `nice`), per CPU. No OpenTelemetry
/// convention covers it.
fn guest_points(points: &mut Points, times: &CpuTimes, user_hz: f64, cpu: &AnyValue) {
    for (mode, ticks) in [("user", times.guest), ("nice", times.guest_nice)] {
        points.node_counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            ticks as f64 / user_hz,
            attrs([("cpu", cpu.clone()), ("mode", AnyValue::from(mode))]),
        );
    }
}

fn utilization_points(
    points: &mut Points,
    previous: &CpuTimes,
    current: &CpuTimes,
    cpu: Option<&AnyValue>,
) {
    let elapsed = current.total().saturating_sub(previous.total());
    if elapsed == 0 {
        return;
    }
    for (state, get) in STATES {
        // A counter that went backwards (some kernels wobble on idle) is
        // treated as no time spent.
        let spent = get(current).saturating_sub(get(previous));
        points.gauge(
            &UTILIZATION,
            spent as f64 / elapsed as f64,
            attributes(cpu, state),
        );
    }
}

/// `100 × (1 − idle share)` between two readings of all CPUs, or `None`
/// when no tick passed.
pub fn busy_percent(previous: &CpuTimes, current: &CpuTimes) -> Option<f64> {
    let elapsed = current.total().saturating_sub(previous.total());
    if elapsed == 0 {
        return None;
    }
    let idle = current.idle_all().saturating_sub(previous.idle_all());
    let busy = elapsed.saturating_sub(idle);
    Some((100.0 * busy as f64 / elapsed as f64).clamp(0.0, 100.0))
}

fn attributes(cpu: Option<&AnyValue>, state: &'static str) -> Attributes {
    match cpu {
        Some(cpu) => attrs([("cpu", cpu.clone()), ("state", AnyValue::from(state))]),
        None => attrs([("state", AnyValue::from(state))]),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{MetricValue, Resource};

    fn times(busy: u64, idle: u64) -> CpuTimes {
        CpuTimes {
            user: busy,
            idle,
            ..CpuTimes::default()
        }
    }

    fn stat(total: CpuTimes, cpus: &[CpuTimes]) -> ProcStat {
        ProcStat {
            total,
            cpus: cpus
                .iter()
                .enumerate()
                .map(|(i, t)| (i as u32, *t))
                .collect(),
            boot_time: 1,
            ..ProcStat::default()
        }
    }

    fn value(points: &Points, name: &str, cpu: Option<&str>, state: Option<&str>) -> Option<f64> {
        points
            .metrics
            .iter()
            .find(|m| {
                m.name == name
                    && m.attributes.get("cpu").and_then(AnyValue::as_str) == cpu
                    && m.attributes.get("state").and_then(AnyValue::as_str) == state
            })
            .and_then(|m| m.scalar())
    }

    #[test]
    fn seconds_are_ticks_over_user_hz_and_counters_start_at_boot() {
        let mut state = CpuState::default();
        let mut points = Points::new(Arc::new(Resource::default()), 10, 7, 64);
        let options = CpuOptions {
            per_cpu: true,
            total: true,
            user_hz: 100.0,
        };
        state.collect(
            &stat(times(250, 750), &[times(100, 400), times(150, 350)]),
            None,
            options,
            &mut points,
        );
        assert_eq!(
            value(&points, "system.cpu.time", Some("1"), Some("user")),
            Some(1.5)
        );
        assert_eq!(
            value(&points, "system.cpu.time", None, Some("idle")),
            Some(7.5)
        );
        let time = &points.metrics[0];
        assert_eq!(
            time.value,
            MetricValue::Sum {
                value: 1.0,
                monotonic: true
            }
        );
        assert_eq!(time.start_time_unix_nano, 7);
        // No utilization before there is a previous reading.
        assert_eq!(
            value(&points, "system.cpu.utilization", None, Some("user")),
            None
        );
        assert_eq!(value(&points, "cpu_usage_percent", None, None), None);
        assert_eq!(
            value(&points, "system.cpu.logical.count", None, None),
            Some(2.0)
        );
    }

    #[test]
    fn utilization_and_usage_percent_come_from_the_delta() {
        let mut state = CpuState::default();
        let options = CpuOptions {
            per_cpu: true,
            total: true,
            user_hz: 100.0,
        };
        let resource = Arc::new(Resource::default());
        let mut first = Points::new(Arc::clone(&resource), 1, 0, 64);
        state.collect(
            &stat(times(100, 100), &[times(50, 50), times(50, 50)]),
            Some(4),
            options,
            &mut first,
        );
        let mut second = Points::new(resource, 2, 0, 64);
        // CPU 0: 30 busy, 70 idle; CPU 1: 90 busy, 10 idle.
        state.collect(
            &stat(times(220, 180), &[times(80, 120), times(140, 60)]),
            Some(4),
            options,
            &mut second,
        );
        let cpu0 = value(&second, "system.cpu.utilization", Some("0"), Some("user")).unwrap();
        assert!((cpu0 - 0.3).abs() < 1e-9, "{cpu0}");
        let total_idle = value(&second, "system.cpu.utilization", None, Some("idle")).unwrap();
        assert!((total_idle - 0.4).abs() < 1e-9, "{total_idle}");
        let percent = value(&second, "cpu_usage_percent", None, None).unwrap();
        assert!((percent - 60.0).abs() < 1e-9, "{percent}");
        assert_eq!(
            value(&second, "system.cpu.logical.count", None, None),
            Some(4.0)
        );
    }

    #[test]
    fn sysfs_cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,5,7-8"), Some(7));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn iowait_counts_as_idle_and_a_stalled_clock_gives_nothing() {
        let before = CpuTimes {
            user: 10,
            idle: 10,
            iowait: 10,
            ..CpuTimes::default()
        };
        let after = CpuTimes {
            user: 20,
            idle: 20,
            iowait: 30,
            ..CpuTimes::default()
        };
        assert_eq!(busy_percent(&before, &after), Some(25.0));
        assert_eq!(busy_percent(&after, &after), None);
    }
}
