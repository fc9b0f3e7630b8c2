//! The `sample` transform: keep one log record in `rate`. With `key_field`,
//! the choice is made by a hash of the field's value, so all the records
//! of one key (a trace id, a request id) are kept or dropped together and
//! the sample stays consistent across nodes and restarts. Records dropped
//! are acknowledged (dropping them was asked for) and counted in
//! `neurallog_agent_transform_dropped_events_total`; metrics and check
//! results pass.
//!
//! ```yaml
//! transforms:
//!   some_debug:
//!     type: sample
//!     inputs: [app]
//!     rate: 10
//!     key_field: attributes.trace_id
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::event::Event;
use crate::hash::fnv1a;
use crate::topology::{BoxedComponent, BuildError, TransformContext};
use crate::transforms::Transform;
use crate::transforms::filter::FieldRef;

/// Keep one log record in `rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Keep one record in this many (`1` keeps them all).
    pub rate: u64,
    /// A field (as in `filter`: `attributes.trace_id`) whose value decides:
    /// the records of one value are all kept or all dropped. A record
    /// without it is sampled by count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_field: Option<String>,
}

/// A built sample transform.
#[derive(Debug)]
pub struct Sampler {
    rate: u64,
    key: Option<FieldRef>,
    /// Records sampled by count so far.
    seen: u64,
    /// Scratch: the key of the record at hand.
    text: String,
}

/// Build the sample transform `config` describes.
pub fn build(config: &SampleConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    Ok(super::run(Sampler::new(config)?, cx))
}

// === impl SampleConfig ===

impl Validate for SampleConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.rate == 0 {
            errors.push(path.field("rate").error("must be at least 1"));
        }
        FieldRef::validate_key_field(self.key_field.as_deref(), path, errors);
    }
}

// === impl Sampler ===

impl Sampler {
    /// The sampler `config` describes (which validated).
    pub fn new(config: &SampleConfig) -> Result<Sampler, BuildError> {
        if config.rate == 0 {
            return Err(BuildError::new("`rate` must be at least 1"));
        }
        let key = FieldRef::parse_key_field(config.key_field.as_deref())?;
        Ok(Sampler {
            rate: config.rate,
            key,
            seen: 0,
            text: String::new(),
        })
    }

    fn keeps(&mut self, event: &Event) -> bool {
        let Event::Log(log) = event else {
            return true;
        };
        if let Some(key) = &self.key {
            self.text.clear();
            if key.write_text(log, &mut self.text) {
                return fnv1a(self.text.as_bytes()).is_multiple_of(self.rate);
            }
        }
        let keep = self.seen.is_multiple_of(self.rate);
        self.seen = self.seen.wrapping_add(1);
        keep
    }
}

impl Transform for Sampler {
    fn process(&mut self, events: &mut Vec<Event>) {
        events.retain(|event| self.keeps(event));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Attributes, LogRecord, Resource};

    fn sampler(yaml: &str) -> Sampler {
        let config: SampleConfig = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        Sampler::new(&config).unwrap()
    }

    fn log(body: &str, key: Option<&str>) -> Event {
        let mut log = LogRecord::new(
            body.to_owned(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        if let Some(key) = key {
            log.attributes.insert("trace_id", key.to_owned());
        }
        Event::Log(log)
    }

    fn kept(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Log(log) => Some(log.body.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keeps_one_in_rate_by_count_across_batches() {
        let mut s = sampler("rate: 3");
        let mut first: Vec<Event> = (0..4).map(|i| log(&i.to_string(), None)).collect();
        s.process(&mut first);
        let mut second: Vec<Event> = (4..10).map(|i| log(&i.to_string(), None)).collect();
        s.process(&mut second);
        assert_eq!(kept(&first), ["0", "3"]);
        assert_eq!(kept(&second), ["6", "9"]);
    }

    #[test]
    fn a_keys_records_are_kept_or_dropped_together() {
        let mut s = sampler("{ rate: 4, key_field: attributes.trace_id }");
        let keys: Vec<String> = (0..400).map(|i| format!("trace-{i}")).collect();
        let mut events: Vec<Event> = keys
            .iter()
            .flat_map(|k| (0..3).map(move |n| log(&format!("{k}/{n}"), Some(k))))
            .collect();
        s.process(&mut events);
        let bodies = kept(&events);
        for key in &keys {
            let of_key = bodies
                .iter()
                .filter(|b| b.starts_with(&format!("{key}/")))
                .count();
            assert!(of_key == 0 || of_key == 3, "{key}: {of_key} of 3 kept");
        }
        // About one key in four: 100 expected, the hash is fair enough.
        let kept_keys = bodies.len() / 3;
        assert!(
            (60..=140).contains(&kept_keys),
            "{kept_keys} of 400 keys kept"
        );
        // The same keys again are decided the same way.
        let mut again: Vec<Event> = keys
            .iter()
            .map(|k| log(&format!("{k}/x"), Some(k)))
            .collect();
        s.process(&mut again);
        assert_eq!(again.len(), kept_keys);
    }

    #[test]
    fn rate_zero_is_refused() {
        let config: SampleConfig =
            serde_yaml_ng::from_str("{ rate: 0, key_field: trace }").unwrap();
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains(" rate: "), "{}", errors[0]);
        assert!(errors[1].contains(" key_field: "), "{}", errors[1]);
    }
}
