//! `neurallog:plugin/clock`: the host's wall clock, so every check in one
//! agent agrees on the time.

use std::time::{SystemTime, UNIX_EPOCH};

use super::HostState;
use crate::wasm::bindings::v0_1::neurallog::plugin::clock::{Host, Instant};

impl Host for HostState {
    fn now(&mut self) -> wasmtime::Result<Instant> {
        self.budget.charge_host_call()?;
        Ok(to_instant(SystemTime::now()))
    }
}

fn to_instant(time: SystemTime) -> Instant {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => Instant {
            seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            nanoseconds: after.subsec_nanos(),
        },
        // Before 1970: whole seconds round down, nanoseconds stay positive.
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => Instant {
                    seconds: -secs,
                    nanoseconds: 0,
                },
                n => Instant {
                    seconds: -secs - 1,
                    nanoseconds: 1_000_000_000 - n,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_on_both_sides_of_the_epoch() {
        let after = to_instant(UNIX_EPOCH + Duration::new(1_700_000_000, 5));
        assert_eq!((after.seconds, after.nanoseconds), (1_700_000_000, 5));
        let before = to_instant(UNIX_EPOCH - Duration::new(1, 250_000_000));
        assert_eq!((before.seconds, before.nanoseconds), (-2, 750_000_000));
    }
}
