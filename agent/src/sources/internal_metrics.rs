//! The `internal_metrics` source: the agent's own metrics (what `/metrics`
//! shows) as metric events, so they can be shipped like any other.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::event::{Ack, Attributes, Event, EventBatch, Metric, MetricValue, now_unix_nanos};
use crate::telemetry::registry;
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Configuration of the `internal_metrics` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InternalMetricsConfig {
    /// Seconds between snapshots.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
}

fn default_interval_secs() -> u64 {
    15
}

impl Validate for InternalMetricsConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.interval_secs == 0 {
            errors.push(path.field("interval_secs").error("must be at least 1"));
        }
    }
}

/// Build the source.
pub fn build(
    config: &InternalMetricsConfig,
    cx: SourceContext,
) -> Result<BoxedComponent, BuildError> {
    let interval = Duration::from_secs(config.interval_secs);
    Ok(Box::pin(run(interval, cx)))
}

async fn run(interval: Duration, mut cx: SourceContext) {
    let start = now_unix_nanos();
    let resource = Arc::clone(&cx.globals.host);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = cx.shutdown.cancelled() => return,
        }
        let events: Vec<Event> = registry()
            .snapshot()
            .into_iter()
            .map(|(name, help, labels, value, is_counter)| {
                let attributes: Attributes = labels.into_iter().collect();
                let value = if is_counter {
                    MetricValue::Sum {
                        value,
                        monotonic: true,
                    }
                } else {
                    MetricValue::Gauge(value)
                };
                Event::Metric(Metric {
                    name: Cow::Borrowed(name),
                    description: Cow::Borrowed(help),
                    unit: Cow::Borrowed(""),
                    value,
                    attributes,
                    time_unix_nano: now_unix_nanos(),
                    start_time_unix_nano: start,
                    resource: Arc::clone(&resource),
                })
            })
            .collect();
        cx.metrics.received(events.len(), 0);
        cx.metrics.sent(events.len(), 0);
        cx.out.send(EventBatch::new(events, Ack::none())).await;
    }
}
