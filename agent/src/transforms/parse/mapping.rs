//! Timestamps and severities as log lines write them, mapped to the
//! OpenTelemetry log data model
//! (<https://opentelemetry.io/docs/specs/otel/logs/data-model/#field-severitynumber>).

use crate::event::AnyValue;
use crate::time::{civil_from_days, days_from_civil, parse_rfc3339_nanos};

const NANOS: i64 = 1_000_000_000;

/// OpenTelemetry severity numbers of the short names.
pub const TRACE: i32 = 1;
/// `DEBUG`.
pub const DEBUG: i32 = 5;
/// `INFO`.
pub const INFO: i32 = 9;
/// `INFO2`, syslog's notice.
pub const INFO2: i32 = 10;
/// `WARN`.
pub const WARN: i32 = 13;
/// `ERROR`.
pub const ERROR: i32 = 17;
/// `FATAL`.
pub const FATAL: i32 = 21;

/// The severity number of a level as logs write it, in any case.
pub fn severity_of_text(text: &str) -> Option<i32> {
    let mut lower = [0u8; 12];
    let bytes = text.trim().as_bytes();
    if bytes.len() > lower.len() {
        return None;
    }
    for (slot, b) in lower.iter_mut().zip(bytes) {
        *slot = b.to_ascii_lowercase();
    }
    Some(match &lower[..bytes.len()] {
        b"trace" | b"trc" => TRACE,
        b"debug" | b"dbg" | b"d" => DEBUG,
        b"info" | b"information" | b"informational" | b"inf" | b"i" => INFO,
        b"notice" => INFO2,
        b"warn" | b"warning" | b"wrn" | b"w" => WARN,
        b"error" | b"err" | b"e" => ERROR,
        b"crit" | b"critical" => FATAL + 1,
        b"alert" => FATAL + 2,
        b"emerg" | b"emergency" | b"panic" => FATAL + 3,
        b"fatal" | b"ftl" | b"f" => FATAL,
        _ => return None,
    })
}

/// The severity of a syslog severity code (0 emergency to 7 debug), after
/// the data model's syslog mapping, with its keyword as text.
pub fn syslog_severity(code: u8) -> (i32, &'static str) {
    match code {
        0 => (FATAL + 3, "emerg"),
        1 => (FATAL + 2, "alert"),
        2 => (FATAL + 1, "crit"),
        3 => (ERROR, "err"),
        4 => (WARN, "warning"),
        5 => (INFO2, "notice"),
        6 => (INFO, "info"),
        _ => (DEBUG, "debug"),
    }
}

/// The severity of an HTTP response status.
pub fn http_severity(status: u16) -> (i32, &'static str) {
    match status {
        500.. => (ERROR, "ERROR"),
        400..500 => (WARN, "WARN"),
        _ => (INFO, "INFO"),
    }
}

/// The time in an attribute value: RFC 3339, the access-log form, or a
/// Unix time whose unit its size tells.
pub fn time_of_value(value: &AnyValue) -> Option<u64> {
    match value {
        AnyValue::String(text) => time_of_text(text),
        AnyValue::Int(n) => unix_by_size(u64::try_from(*n).ok()?),
        AnyValue::Double(secs) if *secs >= 0.0 && secs.is_finite() => {
            Some((secs * NANOS as f64) as u64)
        }
        _ => None,
    }
}

fn time_of_text(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(nanos) = parse_rfc3339_nanos(text.as_bytes()).or_else(|| clf(text)) {
        return Some(nanos);
    }
    if let Ok(n) = text.parse::<u64>() {
        return unix_by_size(n);
    }
    text.parse::<f64>()
        .ok()
        .filter(|secs| *secs >= 0.0 && secs.is_finite())
        .map(|secs| (secs * NANOS as f64) as u64)
}

/// Seconds, milliseconds, microseconds or nanoseconds, by size: the
/// boundaries sit far from any time a log line carries (1973 to 2286 in
/// seconds).
fn unix_by_size(n: u64) -> Option<u64> {
    match n {
        0..100_000_000_000 => n.checked_mul(1_000_000_000),
        100_000_000_000..100_000_000_000_000 => n.checked_mul(1_000_000),
        100_000_000_000_000..100_000_000_000_000_000 => n.checked_mul(1_000),
        _ => Some(n),
    }
}

/// The month of a three-letter English abbreviation, 1 to 12.
pub fn month(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.as_slice() == name)
        .map(|i| i as u32 + 1)
}

/// ASCII digits as a number; `None` if empty, not digits, or past `u32`.
pub fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u32, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// The access-log time, `10/Oct/2000:13:55:36 -0700`.
pub fn clf(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let day = digits(&b[0..2])?;
    let month = month(&b[3..6])?;
    let year = digits(&b[7..11])?;
    let secs = seconds_of(i64::from(year), month, day, &b[12..20])?;
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = i64::from(digits(&b[22..24])?) * 3600 + i64::from(digits(&b[24..26])?) * 60;
    to_nanos(secs - sign * offset, 0)
}

/// Seconds since the epoch of a date and `hh:mm:ss`, UTC.
pub fn seconds_of(year: i64, month: u32, day: u32, hms: &[u8]) -> Option<i64> {
    if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' || !(1..=31).contains(&day) {
        return None;
    }
    let (h, m, s) = (
        digits(&hms[0..2])?,
        digits(&hms[3..5])?,
        digits(&hms[6..8])?,
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + m * 60 + s))
}

/// Nanoseconds since the epoch; `None` before 1970.
pub fn to_nanos(secs: i64, nanos: u32) -> Option<u64> {
    u64::try_from(secs)
        .ok()?
        .checked_mul(NANOS as u64)?
        .checked_add(u64::from(nanos))
}

/// A time whose line has no year (syslog RFC 3164, klog): the year that
/// puts it closest before `observed` (allowing a day of clock skew), so a
/// December line read in January lands in December of the year before.
pub fn without_year(
    month: u32,
    day: u32,
    hms: &[u8],
    nanos: u32,
    observed_unix_nanos: u64,
) -> Option<u64> {
    let observed_secs = i64::try_from(observed_unix_nanos / NANOS as u64).ok()?;
    let (year, _, _) = civil_from_days(observed_secs.div_euclid(86_400));
    let this_year = seconds_of(year, month, day, hms)?;
    let secs = if this_year > observed_secs + 86_400 {
        seconds_of(year - 1, month, day, hms)?
    } else {
        this_year
    };
    to_nanos(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339_nanos;

    #[test]
    fn access_log_times_with_offsets() {
        let t = clf("17/May/2015:10:05:03 +0000").unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2015-05-17T10:05:03.000000000Z");
        let t = clf("10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2000-10-10T20:55:36.000000000Z");
        assert_eq!(clf("10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(clf("10/Oct/2000:13:55:36"), None);
    }

    #[test]
    fn a_line_without_a_year_lands_before_it_was_read() {
        let observed = parse_rfc3339_nanos(b"2026-01-02T00:00:00Z").unwrap();
        let t = without_year(12, 31, b"23:59:58", 0, observed).unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2025-12-31T23:59:58.000000000Z");
        let t = without_year(1, 1, b"08:00:00", 5, observed).unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2026-01-01T08:00:00.000000005Z");
    }

    #[test]
    fn unix_times_by_size_and_text() {
        let second = 1_700_000_000u64;
        for value in [
            AnyValue::Int(second as i64),
            AnyValue::Int(second as i64 * 1000),
            AnyValue::Int(second as i64 * 1_000_000),
            AnyValue::Int(second as i64 * 1_000_000_000),
            AnyValue::from("1700000000"),
            AnyValue::Double(1_700_000_000.0),
        ] {
            assert_eq!(
                time_of_value(&value),
                Some(second * 1_000_000_000),
                "{value:?}"
            );
        }
        assert_eq!(
            time_of_value(&AnyValue::from("2023-11-14T22:13:20Z")),
            Some(second * 1_000_000_000)
        );
        assert_eq!(time_of_value(&AnyValue::from("yesterday")), None);
        assert_eq!(time_of_value(&AnyValue::Int(-5)), None);
    }

    #[test]
    fn level_words_map_to_severity_numbers() {
        for (text, number) in [
            ("DEBUG", DEBUG),
            ("info", INFO),
            ("Warning", WARN),
            ("err", ERROR),
            ("FATAL", FATAL),
            ("notice", INFO2),
            (" trace ", TRACE),
        ] {
            assert_eq!(severity_of_text(text), Some(number), "{text}");
        }
        assert_eq!(severity_of_text("loud"), None);
        assert_eq!(severity_of_text("a-very-long-level"), None);
        assert_eq!(http_severity(503), (ERROR, "ERROR"));
        assert_eq!(http_severity(404), (WARN, "WARN"));
        assert_eq!(http_severity(304), (INFO, "INFO"));
        assert_eq!(syslog_severity(3), (ERROR, "err"));
    }
}
