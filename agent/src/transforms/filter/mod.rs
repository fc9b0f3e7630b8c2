//! The `filter` transform: keep or drop log records by a condition on their
//! body, severity, attributes and resource. Metrics and check results pass
//! through untouched.
//!
//! ```yaml
//! transforms:
//!   errors_only:
//!     type: filter
//!     inputs: [access]
//!     keep:
//!       any:
//!         - { field: attributes.http.response.status_code, gt: 499 }
//!         - { field: severity, gt: 16 }
//! ```

mod condition;
mod config;

#[cfg(test)]
mod tests;

pub use condition::{Compiled, FieldRef};
pub use config::{Condition, FilterConfig, Scalar};

use crate::event::Event;
use crate::topology::{BoxedComponent, BuildError, TransformContext};

use super::Transform;

/// A built filter.
#[derive(Debug)]
pub struct Filter {
    condition: Compiled,
    /// Whether records matching the condition are kept (`keep`) or dropped
    /// (`drop`).
    keep_matching: bool,
}

/// Build the filter `config` describes.
pub fn build(config: &FilterConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    Ok(super::run(Filter::new(config)?, cx))
}

// === impl Filter ===

impl Filter {
    /// The filter `config` describes.
    pub fn new(config: &FilterConfig) -> Result<Filter, BuildError> {
        let (condition, keep_matching) = match (&config.keep, &config.drop) {
            (Some(keep), None) => (keep, true),
            (None, Some(drop)) => (drop, false),
            _ => {
                return Err(BuildError::new(
                    "a filter needs exactly one of `keep` and `drop`",
                ));
            }
        };
        let condition = Compiled::new(condition).map_err(BuildError::new)?;
        Ok(Filter {
            condition,
            keep_matching,
        })
    }

    /// Whether `event` stays.
    pub fn keeps(&self, event: &Event) -> bool {
        match event {
            Event::Log(log) => self.condition.matches(log) == self.keep_matching,
            Event::Metric(_) | Event::Check(_) => true,
        }
    }
}

impl Transform for Filter {
    fn process(&mut self, events: &mut Vec<Event>) {
        events.retain(|event| self.keeps(event));
    }
}
