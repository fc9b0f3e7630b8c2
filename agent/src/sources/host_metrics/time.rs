//! The clock, as node_exporter's `time` and `timex` collectors report it:
//! the time and time zone (`node_time_seconds`,
//! `node_time_zone_offset_seconds`), the clock sources of
//! `/sys/devices/system/clocksource`, and the kernel clock discipline
//! from `adjtimex(2)` (`node_timex_*`). No OpenTelemetry convention covers
//! them.

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::points::{Points, attrs};
use super::procfs::read_into;

/// `node_time_seconds` (the collection's time) and the local time zone.
pub fn collect_time(points: &mut Points) {
    let now = points.time_unix_nano();
    points.node_gauge(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        now as f64 / 1e9,
        Attributes::new(),
    );
    let (zone, offset) = local_zone((now / 1_000_000_000) as i64);
    points.node_gauge(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        offset as f64,
        attrs([("time_zone", AnyValue::from(zone))]),
    );
}

/// The abbreviation and UTC offset of the local time zone at `unix`
/// (`TZ`, else `/etc/localtime`), from `localtime_r(3)`.
#[allow(
    unsafe_code,
    reason = "localtime_r(3) is the C library's zone database; see the SAFETY note"
)]
fn local_zone(unix: i64) -> (String, libc::c_long) {
    // SAFETY: `tm` is plain data that `localtime_r` fills; `tm_zone` then
    // points to a static string of the C library (or is null).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = unix;
        if libc::localtime_r(&t, &mut tm).is_null() {
            return ("UTC".to_owned(), 0);
        }
        let zone = if tm.tm_zone.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (zone, tm.tm_gmtoff)
    }
}

/// The clock sources: every `clocksourceN` directory below `dir`
/// (`/sys/devices/system/clocksource`), `device` being its index in name
/// order.
pub fn collect_clocksources(dir: &Path, buf: &mut String, points: &mut Points) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("clocksource")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    names.sort_unstable();
    for (index, name) in names.iter().enumerate() {
        let device = index.to_string();
        let source = dir.join(name);
        if read_into(&source.join("available_clocksource"), buf).is_ok() {
            for clocksource in buf.split_ascii_whitespace() {
                points.node_gauge(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    1.0,
                    attrs([
                        ("clocksource", AnyValue::from(clocksource.to_owned())),
                        ("device", AnyValue::from(device.clone())),
                    ]),
                );
            }
        }
        if read_into(&source.join("current_clocksource"), buf).is_ok() {
            points.node_gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                1.0,
                attrs([
                    ("clocksource", AnyValue::from(buf.trim().to_owned())),
                    ("device", AnyValue::from(device.clone())),
                ]),
            );
        }
    }
}

/// What `adjtimex(2)` reports, in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timex {
    /// The call's return value (the clock state; 5 is `TIME_ERROR`).
    pub state: libc::c_int,
    /// `struct timex` fields, as the kernel gives them.
    pub offset: libc::c_long,
    /// Frequency offset, ppm with a 16-bit fraction.
    pub freq: libc::c_long,
    /// Microseconds.
    pub maxerror: libc::c_long,
    /// Microseconds.
    pub esterror: libc::c_long,
    /// `STA_*` bits.
    pub status: libc::c_int,
    /// PLL time constant.
    pub constant: libc::c_long,
    /// Microseconds between ticks.
    pub tick: libc::c_long,
    /// ppm with a 16-bit fraction.
    pub ppsfreq: libc::c_long,
    /// Microseconds, nanoseconds with `STA_NANO`.
    pub jitter: libc::c_long,
    /// Interval duration, seconds as a power of two.
    pub shift: libc::c_int,
    /// ppm with a 16-bit fraction.
    pub stabil: libc::c_long,
    /// Counters of PPS events.
    pub jitcnt: libc::c_long,
    /// Calibration intervals.
    pub calcnt: libc::c_long,
    /// Calibration errors.
    pub errcnt: libc::c_long,
    /// Stability limit exceeded.
    pub stbcnt: libc::c_long,
    /// TAI offset.
    pub tai: libc::c_int,
}

/// `adjtimex(2)` without changing anything (`modes` 0, which needs no
/// privilege).
#[allow(
    unsafe_code,
    reason = "adjtimex(2) has no safe wrapper in rustix; see the SAFETY note"
)]
pub fn adjtimex() -> std::io::Result<Timex> {
    // SAFETY: a zeroed `struct timex` with `modes == 0` only reads.
    let (state, t) = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        (libc::adjtimex(&mut t), t)
    };
    if state < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Timex {
        state,
        offset: t.offset,
        freq: t.freq,
        maxerror: t.maxerror,
        esterror: t.esterror,
        status: t.status,
        constant: t.constant,
        tick: t.tick,
        ppsfreq: t.ppsfreq,
        jitter: t.jitter,
        shift: t.shift,
        stabil: t.stabil,
        jitcnt: t.jitcnt,
        calcnt: t.calcnt,
        errcnt: t.errcnt,
        stbcnt: t.stbcnt,
        tai: t.tai,
    })
}

/// Add the `node_timex_*` points of `t`.
pub fn collect_timex(t: &Timex, points: &mut Points) {
    const TIME_ERROR: i32 = 5;
    const STA_NANO: i32 = 0x2000;
    const PPM16: f64 = 1_000_000.0 * 65_536.0;
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let gauges: [(&'static str, &'static str, f64); 13] = [
        (
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            if t.state == TIME_ERROR { 0.0 } else { 1.0 },
        ),
        (
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset as f64 / divisor,
        ),
        (
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + t.freq as f64 / PPM16,
        ),
        (
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            t.maxerror as f64 / 1e6,
        ),
        (
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            t.esterror as f64 / 1e6,
        ),
        (
            "node_timex_status",
            "Value of the status array bits.",
            f64::from(t.status),
        ),
        (
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            t.constant as f64,
        ),
        (
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            t.tick as f64 / 1e6,
        ),
        (
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            t.ppsfreq as f64 / PPM16,
        ),
        (
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            t.jitter as f64 / divisor,
        ),
        (
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            f64::from(t.shift),
        ),
        (
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil as f64 / PPM16,
        ),
        (
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            f64::from(t.tai),
        ),
    ];
    for (name, help, value) in gauges {
        points.node_gauge(name, help, value, Attributes::new());
    }
    for (name, help, value) in [
        (
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            t.jitcnt,
        ),
        (
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            t.calcnt,
        ),
        (
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            t.errcnt,
        ),
        (
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt,
        ),
    ] {
        points.node_counter(name, help, value as f64, Attributes::new());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    fn get(points: &Points, name: &str) -> Option<f64> {
        points
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.scalar())
    }

    #[test]
    fn timex_units_follow_node_exporter() {
        // What the comparison machine's kernel returned (unsynchronized).
        let t = Timex {
            state: 5,
            offset: 0,
            freq: 65_536 * 10,
            maxerror: 16_000_000,
            esterror: 16_000_000,
            status: 64,
            constant: 2,
            tick: 10_000,
            ppsfreq: 0,
            jitter: 0,
            shift: 0,
            stabil: 0,
            jitcnt: 0,
            calcnt: 0,
            errcnt: 0,
            stbcnt: 0,
            tai: 0,
        };
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 32);
        collect_timex(&t, &mut points);
        assert_eq!(points.metrics.len(), 17);
        assert_eq!(get(&points, "node_timex_sync_status"), Some(0.0));
        assert_eq!(get(&points, "node_timex_tick_seconds"), Some(0.01));
        assert_eq!(get(&points, "node_timex_maxerror_seconds"), Some(16.0));
        assert_eq!(
            get(&points, "node_timex_frequency_adjustment_ratio"),
            Some(1.00001)
        );
        assert_eq!(get(&points, "node_timex_status"), Some(64.0));
        assert!(adjtimex().is_ok(), "reading needs no privilege");
    }

    #[test]
    fn clocksources_by_directory_index() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("clocksource0");
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("available_clocksource"), "kvm-clock tsc \n").unwrap();
        std::fs::write(source.join("current_clocksource"), "tsc\n").unwrap();
        std::fs::create_dir(dir.path().join("power")).unwrap();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 8);
        collect_clocksources(dir.path(), &mut String::new(), &mut points);
        assert_eq!(points.metrics.len(), 3);
        let current = &points.metrics[2];
        assert_eq!(current.name, "node_time_clocksource_current_info");
        assert_eq!(
            current
                .attributes
                .get("clocksource")
                .and_then(AnyValue::as_str),
            Some("tsc")
        );
        assert_eq!(
            current.attributes.get("device").and_then(AnyValue::as_str),
            Some("0")
        );
    }

    #[test]
    fn time_is_the_collections() {
        let mut points = Points::new(
            Arc::new(Resource::default()),
            1_700_000_000_500_000_000,
            0,
            2,
        );
        collect_time(&mut points);
        assert_eq!(get(&points, "node_time_seconds"), Some(1_700_000_000.5));
        assert_eq!(points.metrics[1].name, "node_time_zone_offset_seconds");
    }
}
