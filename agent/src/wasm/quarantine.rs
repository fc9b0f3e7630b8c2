//! Quarantine of a plugin whose runs keep failing in the sandbox (traps,
//! limits hit, garbage output).
//!
//! After `after_consecutive_failures` such runs in a row the plugin is not
//! run for `initial_backoff`; each failure of the trial run that follows
//! doubles the pause, up to `max_backoff`. One run that gets through (a
//! result, or an error the plugin itself returned) lifts it. The state is
//! visible through [`LoadedPlugin::quarantine`](super::LoadedPlugin::quarantine)
//! for `/status` and metrics.

use std::time::{Duration, Instant};

/// When repeated failures quarantine a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinePolicy {
    /// Failed runs in a row that start a quarantine. Default 3.
    pub after_consecutive_failures: u32,
    /// First quarantine's length. Default 1 min.
    pub initial_backoff: Duration,
    /// Longest quarantine. Default 1 h.
    pub max_backoff: Duration,
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        Self {
            after_consecutive_failures: 3,
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// A plugin's quarantine state, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuarantineStatus {
    /// Sandbox failures since the last good run.
    pub consecutive_failures: u32,
    /// Time left in the current quarantine, `None` when not quarantined.
    pub remaining: Option<Duration>,
    /// Quarantines since the last good run; the next one lasts
    /// `initial_backoff * 2^level`.
    pub level: u32,
    /// Why the last failed run failed.
    pub last_failure: Option<String>,
}

/// The quarantine state machine of one plugin. Time is passed in so the
/// logic is testable without sleeping.
#[derive(Debug)]
pub(crate) struct Quarantine {
    policy: QuarantinePolicy,
    consecutive: u32,
    level: u32,
    until: Option<Instant>,
    last_failure: Option<String>,
}

// === impl Quarantine ===

impl Quarantine {
    pub(crate) fn new(policy: QuarantinePolicy) -> Self {
        Self {
            policy,
            consecutive: 0,
            level: 0,
            until: None,
            last_failure: None,
        }
    }

    /// Time left in quarantine at `now`, if the plugin is in one.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// A run got through the sandbox: lift everything.
    pub(crate) fn record_success(&mut self) {
        self.consecutive = 0;
        self.level = 0;
        self.until = None;
    }

    /// A run failed in the sandbox. Returns the length of the quarantine it
    /// started, if it started one.
    pub(crate) fn record_failure(&mut self, now: Instant, why: String) -> Option<Duration> {
        self.consecutive = self.consecutive.saturating_add(1);
        self.last_failure = Some(why);
        // After a quarantine the next run is a trial: one failure is enough.
        let threshold = self.policy.after_consecutive_failures.max(1);
        if self.level == 0 && self.consecutive < threshold {
            return None;
        }
        let factor = 1u32.checked_shl(self.level).unwrap_or(u32::MAX);
        let backoff = self
            .policy
            .initial_backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff);
        self.level = self.level.saturating_add(1);
        self.until = Some(now + backoff);
        Some(backoff)
    }

    pub(crate) fn status(&self, now: Instant) -> QuarantineStatus {
        QuarantineStatus {
            consecutive_failures: self.consecutive,
            remaining: self.remaining(now),
            level: self.level,
            last_failure: self.last_failure.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> QuarantinePolicy {
        QuarantinePolicy {
            after_consecutive_failures: 3,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(35),
        }
    }

    #[test]
    fn quarantines_after_consecutive_failures_with_doubling_backoff() {
        let t0 = Instant::now();
        let mut q = Quarantine::new(policy());
        assert_eq!(q.record_failure(t0, "trap".into()), None);
        assert_eq!(q.record_failure(t0, "trap".into()), None);
        assert_eq!(
            q.record_failure(t0, "trap".into()),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            q.remaining(t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(q.remaining(t0 + Duration::from_secs(10)), None);

        // The trial run fails: quarantined again at once, twice as long.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(
            q.record_failure(t1, "trap".into()),
            Some(Duration::from_secs(20))
        );
        // Then capped at max_backoff.
        let t2 = t1 + Duration::from_secs(20);
        assert_eq!(
            q.record_failure(t2, "deadline".into()),
            Some(Duration::from_secs(35))
        );
        let status = q.status(t2);
        assert_eq!(status.consecutive_failures, 5);
        assert_eq!(status.level, 3);
        assert_eq!(status.remaining, Some(Duration::from_secs(35)));
        assert_eq!(status.last_failure.as_deref(), Some("deadline"));
    }

    #[test]
    fn a_good_run_lifts_the_quarantine_and_resets_the_count() {
        let t0 = Instant::now();
        let mut q = Quarantine::new(policy());
        for _ in 0..3 {
            q.record_failure(t0, "trap".into());
        }
        q.record_success();
        assert_eq!(q.remaining(t0), None);
        assert_eq!(
            q.record_failure(t0, "trap".into()),
            None,
            "counting starts over"
        );
        assert_eq!(q.status(t0).level, 0);
    }
}
