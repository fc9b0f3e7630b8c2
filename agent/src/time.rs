//! RFC 3339 timestamps without a calendar library: formatting for JSON
//! output, and the fast parse the CRI log format needs on every line.
//!
//! Days-from-civil after Howard Hinnant's algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>).

use std::fmt::Write as _;

/// Format nanoseconds since the Unix epoch as `2024-05-01T12:00:00.123456789Z`.
pub fn format_rfc3339_nanos(unix_nanos: u64) -> String {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    let nanos = (unix_nanos % 1_000_000_000) as u32;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(30);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    out
}

/// Parse an RFC 3339 timestamp (`Z` or `±hh:mm` offset, 0 to 9 fraction
/// digits) into nanoseconds since the Unix epoch. `None` if malformed or
/// before 1970.
pub fn parse_rfc3339_nanos(text: &[u8]) -> Option<u64> {
    if text.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v: i64 = 0;
        for &b in text.get(range)? {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    };
    if text[4] != b'-'
        || text[7] != b'-'
        || !matches!(text[10], b'T' | b't' | b' ')
        || text[13] != b':'
        || text[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos: i64 = 0;
    if text.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < text.len() && text[pos].is_ascii_digit() {
            if pos - start < 9 {
                nanos = nanos * 10 + i64::from(text[pos] - b'0');
            }
            pos += 1;
        }
        let digits = pos - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match text.get(pos)? {
        b'Z' | b'z' if pos + 1 == text.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == text.len() && text[pos + 3] == b':' => {
            let hours = num(pos + 1..pos + 3)?;
            let minutes = num(pos + 4..pos + 6)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    if secs < 0 {
        return None;
    }
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = 1_714_564_800_123_456_789;
        let text = format_rfc3339_nanos(t);
        assert_eq!(text, "2024-05-01T12:00:00.123456789Z");
        assert_eq!(parse_rfc3339_nanos(text.as_bytes()), Some(t));
    }

    #[test]
    fn parses_cri_timestamps_with_offsets_and_short_fractions() {
        // containerd writes Z with nanoseconds; CRI-O writes a numeric offset.
        assert_eq!(
            parse_rfc3339_nanos(b"2023-06-22T10:10:38.498008916Z"),
            Some(1_687_428_638_498_008_916)
        );
        assert_eq!(
            parse_rfc3339_nanos(b"2023-06-22T12:10:38.49+02:00"),
            Some(1_687_428_638_490_000_000)
        );
        assert_eq!(parse_rfc3339_nanos(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos(b"2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000_000)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"2023-06-22 10:10"[..],
            b"2023-13-01T00:00:00Z",
            b"2023-06-22T10:10:38.Z",
            b"2023-06-22T10:10:38",
            b"1969-12-31T23:59:59Z",
            b"2023-06-22T10:10:38Zjunk",
        ] {
            assert_eq!(
                parse_rfc3339_nanos(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
