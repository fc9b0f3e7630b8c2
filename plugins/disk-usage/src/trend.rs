//! The days-to-full estimate: a bounded history of used bytes per mount,
//! kept in the plugin's state, and a least-squares line through it.
//!
//! Each run appends one sample `(time, used bytes)` for each mount. The
//! slope of the ordinary least-squares fit is the growth rate in bytes per
//! second; when it is positive, the space still available divided by it is
//! the time left. The history is bounded by count (`history_samples`) and by
//! age (`history_max_age_secs`), and restarts when the filesystem's size
//! changes (it was resized or another filesystem is mounted there).
//!
//! State: key `history:<mountpoint>`, a JSON object
//! `{"total_bytes": N, "samples": [[unix_seconds, used_bytes], ...]}`
//! (about 25 bytes per sample).

use neurallog_plugin_sdk::clock::SECONDS_PER_DAY;
use neurallog_plugin_sdk::fs_stats::FsUsage;
use neurallog_plugin_sdk::state::{self, StateError};
use serde::{Deserialize, Serialize};

/// Prefix of the state keys holding histories.
pub const KEY_PREFIX: &str = "history:";

/// Fewest samples the estimate is made from.
pub const MIN_SAMPLES: usize = 3;

/// The recent usage of one mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct History {
    /// The filesystem's size when the samples were taken.
    pub total_bytes: u64,
    /// `(unix seconds, used bytes)`, oldest first.
    pub samples: Vec<(i64, u64)>,
}

/// How much history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Most samples kept.
    pub max_samples: usize,
    /// Oldest sample kept, in seconds before now.
    pub max_age_secs: i64,
}

// === impl History ===

impl History {
    /// Appends the sample for `now` and drops what falls outside `window`:
    /// samples too old, samples at or after `now` (the clock went back),
    /// and everything when the filesystem's size changed.
    pub fn record(&mut self, now: i64, usage: &FsUsage, window: Window) {
        if self.total_bytes != usage.total_bytes {
            self.samples.clear();
            self.total_bytes = usage.total_bytes;
        }
        self.samples
            .retain(|(time, _)| *time < now && now - *time <= window.max_age_secs);
        self.samples.push((now, usage.used_bytes()));
        let excess = self.samples.len().saturating_sub(window.max_samples);
        self.samples.drain(..excess);
    }

    /// Days until `available_bytes` are used up at the current growth rate,
    /// or `None` when usage is not growing or there are fewer than
    /// [`MIN_SAMPLES`] samples.
    #[must_use]
    pub fn days_to_full(&self, available_bytes: u64) -> Option<f64> {
        if self.samples.len() < MIN_SAMPLES {
            return None;
        }
        let bytes_per_second = slope(&self.samples)?;
        (bytes_per_second > 0.0)
            .then(|| available_bytes as f64 / bytes_per_second / SECONDS_PER_DAY)
    }
}

/// The slope of the least-squares line through `samples`, in bytes per
/// second, or `None` when all samples share one time. Times are taken
/// relative to the first sample so that squaring them stays exact in `f64`.
#[must_use]
pub fn slope(samples: &[(i64, u64)]) -> Option<f64> {
    let (first_time, _) = *samples.first()?;
    let count = samples.len() as f64;
    let points: Vec<(f64, f64)> = samples
        .iter()
        .map(|(time, used)| ((time - first_time) as f64, *used as f64))
        .collect();
    let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / count;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / count;
    let covariance: f64 = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

/// The state key of `mount`'s history.
#[must_use]
pub fn state_key(mount: &str) -> String {
    format!("{KEY_PREFIX}{mount}")
}

/// Loads `mount`'s history; an unreadable one (older format, corruption)
/// is logged and started afresh.
#[must_use]
pub fn load(mount: &str) -> History {
    match state::get_json::<History>(&state_key(mount)) {
        Ok(history) => history.unwrap_or_default(),
        Err(error) => {
            neurallog_plugin_sdk::warn!("History of {mount} is unreadable and restarts: {error}.");
            History::default()
        }
    }
}

/// Saves `mount`'s history.
///
/// # Errors
///
/// What the state store reports (typically its size cap).
pub fn save(mount: &str, history: &History) -> Result<(), StateError> {
    state::set_json(&state_key(mount), history)
}

/// Deletes the histories of other mounts whose newest sample is older than
/// `max_age_secs` (or that are unreadable), so that mounts no longer checked
/// do not keep their history forever. Histories that are still fresh are
/// kept: another check using this plugin may share the state and own them.
pub fn forget_stale(checked: &[String], now: i64, max_age_secs: i64) {
    for key in state::keys() {
        let Some(mount) = key.strip_prefix(KEY_PREFIX) else {
            continue;
        };
        if checked.iter().any(|checked| checked == mount) {
            continue;
        }
        let newest = state::get_json::<History>(&key)
            .ok()
            .flatten()
            .and_then(|history| history.samples.last().map(|(time, _)| *time));
        if newest.is_none_or(|time| now.saturating_sub(time) > max_age_secs) {
            state::delete(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn usage(total: u64, used: u64) -> FsUsage {
        FsUsage {
            total_bytes: total,
            free_bytes: total - used,
            available_bytes: total - used,
            total_inodes: 0,
            free_inodes: 0,
        }
    }

    const WINDOW: Window = Window {
        max_samples: 5,
        max_age_secs: 7 * 86_400,
    };

    #[test]
    fn slope_of_a_straight_line_is_exact() {
        let samples: Vec<(i64, u64)> = (0..10)
            .map(|i| (1_700_000_000 + i * 3600, 1000 + i as u64 * 7200))
            .collect();
        let slope = slope(&samples).expect("slope");
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
    }

    #[test]
    fn slope_fits_noisy_data_by_least_squares() {
        // y = 10 + 3x with residuals +1, -1, -1, +1: the fit is still 3.
        let samples = [(0, 11), (1, 12), (2, 15), (3, 20)];
        let slope = slope(&samples).expect("slope");
        assert!((slope - 3.0).abs() < 1e-9, "{slope}");
        assert_eq!(super::slope(&[(5, 1), (5, 9)]), None);
        assert_eq!(super::slope(&[]), None);
    }

    #[test]
    fn days_to_full_follows_the_trend_and_needs_three_samples() {
        let mut history = History::default();
        let total = 100 * GIB;
        // 1 GiB more each day.
        for day in 0..2 {
            history.record(day * 86_400, &usage(total, (50 + day as u64) * GIB), WINDOW);
        }
        assert_eq!(
            history.days_to_full(49 * GIB),
            None,
            "two samples are not a trend"
        );
        history.record(2 * 86_400, &usage(total, 52 * GIB), WINDOW);
        let days = history.days_to_full(48 * GIB).expect("growing");
        assert!((days - 48.0).abs() < 1e-9, "{days}");
    }

    #[test]
    fn shrinking_or_flat_usage_has_no_estimate() {
        let mut history = History::default();
        for (day, used) in [(0, 60), (1, 55), (2, 50)] {
            history.record(day * 86_400, &usage(100 * GIB, used * GIB), WINDOW);
        }
        assert_eq!(history.days_to_full(50 * GIB), None);
        let mut flat = History::default();
        for day in 0..3 {
            flat.record(day * 86_400, &usage(100 * GIB, 10 * GIB), WINDOW);
        }
        assert_eq!(flat.days_to_full(90 * GIB), None);
    }

    #[test]
    fn history_is_bounded_by_count_and_age_and_reset_by_resize() {
        let mut history = History::default();
        for hour in 0..8 {
            history.record(hour * 3600, &usage(1000, 100 + hour as u64), WINDOW);
        }
        let times: Vec<i64> = history.samples.iter().map(|(time, _)| *time).collect();
        assert_eq!(
            times,
            vec![3 * 3600, 4 * 3600, 5 * 3600, 6 * 3600, 7 * 3600]
        );

        history.record(7 * 3600 + 8 * 86_400, &usage(1000, 200), WINDOW);
        assert_eq!(
            history.samples.len(),
            1,
            "a week-old gap empties the history"
        );

        history.record(8 * 3600 + 8 * 86_400, &usage(2000, 200), WINDOW);
        assert_eq!(history.samples, vec![(8 * 3600 + 8 * 86_400, 200)]);
        assert_eq!(history.total_bytes, 2000);
    }

    #[test]
    fn clock_going_back_drops_the_future_samples() {
        let mut history = History::default();
        for time in [100, 200, 300] {
            history.record(time, &usage(1000, 10), WINDOW);
        }
        history.record(150, &usage(1000, 20), WINDOW);
        assert_eq!(history.samples, vec![(100, 10), (150, 20)]);
    }
}
