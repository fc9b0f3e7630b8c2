//! When to retry a request and how long to wait: exponential backoff with
//! full jitter (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>),
//! honouring `Retry-After` (RFC 9110 §10.2.3) when the server sends one.

use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath};

/// The longest `Retry-After` honoured; a larger value is clamped so that a
/// misconfigured server cannot park a sink for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Retry settings of a sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Upper bound of the first wait, in milliseconds. Each failed attempt
    /// doubles the bound up to `max_backoff_ms`; the actual wait is drawn
    /// uniformly below the bound (full jitter).
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Largest bound of a wait, in milliseconds. Requests are retried
    /// without a limit on attempts: data is never given up while the agent
    /// runs.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

/// The wait state of one request.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

// === impl RetryConfig ===

impl RetryConfig {
    /// Check the bounds.
    pub fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.initial_backoff_ms == 0 {
            errors.push(path.field("initial_backoff_ms").error("must be at least 1"));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            errors.push(
                path.field("max_backoff_ms")
                    .error("must be at least initial_backoff_ms"),
            );
        }
    }

    /// A fresh backoff for one request.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.initial_backoff_ms),
            max: Duration::from_millis(self.max_backoff_ms),
            attempt: 0,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

fn default_initial_backoff_ms() -> u64 {
    250
}

fn default_max_backoff_ms() -> u64 {
    30_000
}

// === impl Backoff ===

impl Backoff {
    /// How long to wait before the next attempt. A server's `retry_after`
    /// wins over the computed wait (clamped to [`MAX_RETRY_AFTER`]).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let bound = self.bound();
        self.attempt = self.attempt.saturating_add(1);
        match retry_after {
            Some(after) => after.min(MAX_RETRY_AFTER),
            None => {
                let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
                Duration::from_millis(fastrand::u64(0..=millis))
            }
        }
    }

    /// Attempts that failed so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    fn bound(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Parse a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only
/// HTTP-date form senders may generate (RFC 9110 §5.6.7).
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let rest = value.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let s: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_doubles_up_to_max_and_jitter_stays_below() {
        let config = RetryConfig {
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
        };
        let mut backoff = config.backoff();
        let mut bounds = Vec::new();
        for _ in 0..8 {
            let bound = backoff.bound();
            bounds.push(bound.as_millis());
            let delay = backoff.next_delay(None);
            assert!(delay <= bound, "{delay:?} above {bound:?}");
        }
        assert_eq!(bounds, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
        assert_eq!(backoff.attempts(), 8);
    }

    #[test]
    fn retry_after_wins_and_is_clamped() {
        let mut backoff = RetryConfig::default().backoff();
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(100_000))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        // 1994-11-06T08:49:37Z is 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now + Duration::from_secs(60)
            ),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
    }
}
