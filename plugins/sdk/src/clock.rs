//! The host's wall clock ([`now`]) and a small UTC [`Timestamp`] type.
//!
//! Use [`now`] rather than `std::time::SystemTime::now()`: every check in one
//! agent then agrees on the time, and native tests can set it with
//! [`crate::testing::set_now`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds per day, for converting durations to the `d` unit.
pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// A point in time: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub seconds: i64,
    /// Nanoseconds past `seconds`, below 1,000,000,000.
    pub nanoseconds: u32,
}

/// The current wall-clock time, from the host.
#[must_use]
pub fn now() -> Timestamp {
    crate::host::imp::now()
}

// === impl Timestamp ===

impl Timestamp {
    /// The timestamp `seconds` whole seconds after the epoch.
    #[must_use]
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self {
            seconds,
            nanoseconds: 0,
        }
    }

    /// Seconds since the epoch as a float (nanosecond precision is lost past
    /// about 104 days from the epoch; microseconds survive until 2255).
    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        self.seconds as f64 + f64::from(self.nanoseconds) / 1e9
    }

    /// Seconds from `earlier` to `self`; negative when `earlier` is later.
    #[must_use]
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.seconds - earlier.seconds) as f64
            + (f64::from(self.nanoseconds) - f64::from(earlier.nanoseconds)) / 1e9
    }

    /// The timestamp as RFC 3339 in UTC, to the second:
    /// `2026-11-26T22:33:00Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 in UTC, to the second (`2026-11-26T22:33:00Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(86_400);
        let second_of_day = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        )
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self {
                seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanoseconds: after.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let mut seconds = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                let mut nanoseconds = before.subsec_nanos();
                if nanoseconds > 0 {
                    seconds -= 1;
                    nanoseconds = 1_000_000_000 - nanoseconds;
                }
                Self {
                    seconds,
                    nanoseconds,
                }
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(timestamp: Timestamp) -> Self {
        let nanos = Duration::from_nanos(u64::from(timestamp.nanoseconds));
        if timestamp.seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(timestamp.seconds.unsigned_abs()) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(timestamp.seconds.unsigned_abs()) + nanos
        }
    }
}

/// Year, month and day of the proleptic Gregorian calendar for a count of
/// days since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// <https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small by construction (1..=12 and 1..=31).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_across_leap_years_and_before_the_epoch() {
        assert_eq!(
            Timestamp::from_unix_seconds(0).to_rfc3339(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1_789_000_000).to_rfc3339(),
            "2026-09-10T00:26:40Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(-1).to_rfc3339(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn system_time_round_trips_on_both_sides_of_the_epoch() {
        for timestamp in [
            Timestamp {
                seconds: 1_700_000_000,
                nanoseconds: 5,
            },
            Timestamp {
                seconds: -10,
                nanoseconds: 250_000_000,
            },
        ] {
            assert_eq!(Timestamp::from(SystemTime::from(timestamp)), timestamp);
        }
    }

    #[test]
    fn seconds_since_handles_nanosecond_borrow() {
        let later = Timestamp {
            seconds: 10,
            nanoseconds: 100_000_000,
        };
        let earlier = Timestamp {
            seconds: 8,
            nanoseconds: 600_000_000,
        };
        assert!((later.seconds_since(earlier) - 1.5).abs() < 1e-9);
        assert!((earlier.seconds_since(later) + 1.5).abs() < 1e-9);
    }
}
