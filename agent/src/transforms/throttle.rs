//! The `throttle` transform: per key, let at most `threshold` log records
//! through in each window of `window_secs`; the excess is dropped,
//! acknowledged (dropping it was asked for) and counted in
//! `neurallog_agent_transform_dropped_events_total`. Metrics and check
//! results pass.
//!
//! ```yaml
//! transforms:
//!   noisy_pods:
//!     type: throttle
//!     inputs: [pods]
//!     threshold: 100
//!     window_secs: 1
//!     key_field: resource.k8s.pod.name
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::event::{Event, LogFlags};
use crate::topology::{BoxedComponent, BuildError, TransformContext};
use crate::transforms::Transform;
use crate::transforms::filter::FieldRef;

/// How many keys are kept before those whose window has passed are
/// forgotten.
const KEYS_BEFORE_PRUNING: usize = 10_000;

/// Let at most `threshold` log records per key through in each window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    /// The most records let through per key in one window.
    pub threshold: u64,
    /// The window's length, in seconds.
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// A field (as in `filter`: `resource.k8s.pod.name`) whose value is the
    /// key; records without it share one key. Without `key_field`, every
    /// record shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_field: Option<String>,
}

fn default_window_secs() -> u64 {
    1
}

/// A built throttle.
#[derive(Debug)]
pub struct Throttle {
    threshold: u64,
    window: Duration,
    key: Option<FieldRef>,
    /// Per key: when its window began and how many records it let through.
    windows: HashMap<String, (Instant, u64)>,
    /// Scratch: the key of the record at hand.
    text: String,
}

/// Build the throttle `config` describes.
pub fn build(config: &ThrottleConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    Ok(super::run(Throttle::new(config)?, cx))
}

// === impl ThrottleConfig ===

impl Validate for ThrottleConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.threshold == 0 {
            errors.push(path.field("threshold").error(
                "must be at least 1 (to drop every record, use a `filter` that keeps none)",
            ));
        }
        if self.window_secs == 0 {
            errors.push(path.field("window_secs").error("must be at least 1"));
        }
        FieldRef::validate_key_field(self.key_field.as_deref(), path, errors);
    }
}

// === impl Throttle ===

impl Throttle {
    /// The throttle `config` describes (which validated).
    pub fn new(config: &ThrottleConfig) -> Result<Throttle, BuildError> {
        let key = FieldRef::parse_key_field(config.key_field.as_deref())?;
        Ok(Throttle {
            threshold: config.threshold,
            window: Duration::from_secs(config.window_secs),
            key,
            windows: HashMap::new(),
            text: String::new(),
        })
    }

    /// Throttle `events` as of `now`.
    pub fn process_at(&mut self, events: &mut Vec<Event>, now: Instant) {
        if self.windows.len() > KEYS_BEFORE_PRUNING {
            let window = self.window;
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        events.retain(|event| {
            let Event::Log(log) = event else {
                return true;
            };
            if log.flags.contains(LogFlags::REPLAYED) {
                // Read again because a sink gave its batch up: it was let
                // through when first read, or would be lost now (its batch
                // is acknowledged once every record in it is handled). A
                // record let go the first time comes through too: more than
                // the rate, rarely, rather than a line lost.
                return true;
            }
            self.text.clear();
            if let Some(key) = &self.key {
                key.write_text(log, &mut self.text);
            }
            let (start, count) = match self.windows.get_mut(self.text.as_str()) {
                Some(slot) => slot,
                None => self.windows.entry(self.text.clone()).or_insert((now, 0)),
            };
            if now.duration_since(*start) >= self.window {
                *start = now;
                *count = 0;
            }
            if *count < self.threshold {
                *count += 1;
                true
            } else {
                false
            }
        });
    }
}

impl Transform for Throttle {
    fn process(&mut self, events: &mut Vec<Event>) {
        self.process_at(events, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Attributes, LogRecord, Resource};

    fn throttle(yaml: &str) -> Throttle {
        let config: ThrottleConfig = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        Throttle::new(&config).unwrap()
    }

    fn logs(pod: &str, n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut log = LogRecord::new(
                    format!("{pod} {i}"),
                    Arc::new(Attributes::new()),
                    Arc::new(Resource::default()),
                );
                log.attributes.insert("pod", pod.to_owned());
                Event::Log(log)
            })
            .collect()
    }

    #[test]
    fn each_key_gets_threshold_records_per_window() {
        let mut t = throttle("{ threshold: 3, window_secs: 10, key_field: attributes.pod }");
        let start = Instant::now();
        let mut batch = logs("a", 5);
        batch.extend(logs("b", 2));
        t.process_at(&mut batch, start);
        assert_eq!(batch.len(), 5, "a: 3 of 5, b: 2 of 2");

        // Later in the same window: a has no room left, b one.
        let mut batch = logs("a", 2);
        batch.extend(logs("b", 2));
        t.process_at(&mut batch, start + Duration::from_secs(9));
        assert_eq!(batch.len(), 1);

        // A new window starts afresh.
        let mut batch = logs("a", 4);
        t.process_at(&mut batch, start + Duration::from_secs(10));
        assert_eq!(batch.len(), 3);
    }

    #[test]
    fn without_a_key_every_record_shares_one_budget() {
        let mut t = throttle("threshold: 2");
        let mut batch = logs("a", 3);
        batch.extend(logs("b", 3));
        t.process_at(&mut batch, Instant::now());
        assert_eq!(batch.len(), 2);
    }

    /// Regression: lines read again after a sink gave their batch up met
    /// a budget their first reading had spent, were dropped "on purpose",
    /// and their batch was acknowledged: lost.
    #[test]
    fn records_read_again_pass_and_spend_no_budget() {
        let mut t = throttle("threshold: 3");
        let start = Instant::now();
        let mut first = logs("a", 3);
        t.process_at(&mut first, start);
        assert_eq!(first.len(), 3);
        let mut again = logs("a", 3);
        for event in &mut again {
            if let Event::Log(log) = event {
                log.flags.insert(LogFlags::REPLAYED);
            }
        }
        again.extend(logs("b", 1));
        t.process_at(&mut again, start + Duration::from_millis(100));
        assert_eq!(again.len(), 3, "the three read again, not the new one");
    }

    #[test]
    fn zero_threshold_or_window_is_refused() {
        let config: ThrottleConfig =
            serde_yaml_ng::from_str("{ threshold: 0, window_secs: 0 }").unwrap();
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains(" threshold: "), "{}", errors[0]);
        assert!(errors[1].contains(" window_secs: "), "{}", errors[1]);
    }
}
