//! Events of a shipping sink whose credentials the receiver refuses (401,
//! 403): its requests are held and retried, not dead-lettered, and the
//! operator is told through `neurallog_agent_sink_auth_failures_total`, the
//! gauge `neurallog_agent_sink_auth_failing` and a warning that does not
//! repeat with every retry.

use std::time::{Duration, Instant};

use super::sink::{SinkTelemetry, retries_counter};
use crate::sync::lock;
use crate::telemetry::{Counter, Labels, registry};

/// The shortest time between two warnings about refused credentials: a
/// hold can last hours and retries every few seconds.
const AUTH_WARN_INTERVAL: Duration = Duration::from_secs(30);

/// The receiver refused the sink's credentials (401 or 403). The request
/// is held, not dead-lettered: it is sent again after `delay`, with the
/// bearer token file read again.
#[derive(Debug)]
pub struct SinkAuthFailed<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
    /// 401 or 403.
    pub status: u16,
    /// The start of the receiver's answer.
    pub message: &'a str,
    /// How long until the next attempt.
    pub delay: Duration,
}

/// The receiver accepted a request (a 2xx); ends a hold on refused
/// credentials if there was one.
#[derive(Debug)]
pub struct SinkAuthAccepted<'a> {
    /// The sink.
    pub sink: &'a SinkTelemetry,
}

/// Since when a sink's credentials are refused, and when that was last
/// logged: one warning at the start of a hold, then at most one per
/// [`AUTH_WARN_INTERVAL`], shared by the sink's request tasks.
#[derive(Debug, Default)]
pub(super) struct AuthHold {
    since: Option<Instant>,
    warned: Option<Instant>,
    suppressed: u64,
}

pub(super) fn failures_counter(labels: Labels) -> Counter {
    registry().counter(
        "neurallog_agent_sink_auth_failures_total",
        "Requests the receiver answered 401 or 403, by status; each is held and retried, never dead-lettered.",
        labels,
    )
}

// === emit ===

impl SinkAuthFailed<'_> {
    /// Count the refusal, raise the gauge, and warn at the start of a hold
    /// and then at most every 30 s.
    pub fn emit(self) {
        let status = self.status.to_string();
        failures_counter(self.sink.with("status", &status)).inc();
        retries_counter(self.sink, &status).inc();
        let now = Instant::now();
        let mut hold = lock(&self.sink.auth_hold);
        self.sink.auth_failing.set(1.0);
        if let Some(suppressed) = hold.failed(now) {
            tracing::warn!(
                component_id = %self.sink.component().id(),
                status = self.status,
                response = %self.message,
                failing_for_secs = hold.failing_for(now).as_secs(),
                refusals_since_last_warning = suppressed,
                delay_ms = self.delay.as_millis() as u64,
                "Receiver refused the sink's credentials; holding its data and retrying with the bearer token file read again."
            );
        }
    }
}

impl SinkAuthAccepted<'_> {
    /// Lower the gauge and log the end of a hold.
    pub fn emit(self) {
        if !self.sink.auth_failing() {
            return;
        }
        let mut hold = lock(&self.sink.auth_hold);
        self.sink.auth_failing.set(0.0);
        if let Some(failed_for) = hold.accepted(Instant::now()) {
            tracing::info!(
                component_id = %self.sink.component().id(),
                failed_for_secs = failed_for.as_secs(),
                "Receiver accepted the sink's credentials again."
            );
        }
    }
}

// === impl AuthHold ===

impl AuthHold {
    /// A refusal at `now`: `Some(refusals not logged since the last
    /// warning)` when this one should be logged.
    fn failed(&mut self, now: Instant) -> Option<u64> {
        self.since.get_or_insert(now);
        let due = self
            .warned
            .is_none_or(|at| now.duration_since(at) >= AUTH_WARN_INTERVAL);
        if !due {
            self.suppressed += 1;
            return None;
        }
        self.warned = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// An accepted request at `now`: how long the hold lasted, if there was
    /// one.
    fn accepted(&mut self, now: Instant) -> Option<Duration> {
        let since = self.since.take()?;
        *self = AuthHold::default();
        Some(now.duration_since(since))
    }

    fn failing_for(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |at| now.duration_since(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_warns_once_then_at_most_every_interval() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut hold = AuthHold::default();
        assert_eq!(hold.failed(at(0)), Some(0), "the first refusal is logged");
        for secs in 1..30 {
            assert_eq!(hold.failed(at(secs)), None, "refusal at {secs} s");
        }
        assert_eq!(hold.failed(at(30)), Some(29), "then one per interval");
        assert_eq!(hold.failed(at(31)), None);
        assert_eq!(hold.failing_for(at(31)), Duration::from_secs(31));
        assert_eq!(hold.accepted(at(40)), Some(Duration::from_secs(40)));
        assert_eq!(hold.accepted(at(41)), None, "the hold ended once");
        assert_eq!(hold.failed(at(42)), Some(0), "a new hold warns at once");
    }
}
