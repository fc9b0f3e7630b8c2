//! Events of transforms: records dropped on purpose, lines that did not
//! parse.

use crate::telemetry::{Counter, registry};

use super::ComponentMetrics;

/// Counter handles of one transform, beside its [`ComponentMetrics`]
/// (records in and out).
#[derive(Debug, Clone)]
pub struct TransformMetrics {
    component: ComponentMetrics,
    dropped: Counter,
    parse_failures: Counter,
}

/// Records a transform removed on purpose (a filter's decision, a parse
/// failure set to `drop`): handled, so acknowledged, not lost.
#[derive(Debug)]
pub struct TransformEventsDropped<'a> {
    /// The transform's metrics.
    pub metrics: &'a TransformMetrics,
    /// How many.
    pub count: usize,
}

/// Records whose body did not parse. Never logged per line: the line could
/// hold anything, secrets included.
#[derive(Debug)]
pub struct TransformParseFailed<'a> {
    /// The transform's metrics.
    pub metrics: &'a TransformMetrics,
    /// How many.
    pub count: usize,
}

// === impl TransformMetrics ===

impl TransformMetrics {
    /// Resolve the handles of the transform `component` describes.
    pub fn new(component: ComponentMetrics) -> Self {
        let labels = component.labels();
        let r = registry();
        TransformMetrics {
            dropped: r.counter(
                "neurallog_agent_transform_dropped_events_total",
                "Events a transform dropped on purpose (filtered out, or unparsed with `on_failure: drop`).",
                labels.clone(),
            ),
            parse_failures: r.counter(
                "neurallog_agent_transform_parse_failures_total",
                "Records whose body a parse transform could not parse.",
                labels,
            ),
            component,
        }
    }

    /// The component's metrics (records in and out).
    pub fn component(&self) -> &ComponentMetrics {
        &self.component
    }

    /// Events dropped so far (for tests).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Parse failures so far (for tests).
    pub fn parse_failures(&self) -> u64 {
        self.parse_failures.get()
    }
}

// === impl TransformEventsDropped ===

impl TransformEventsDropped<'_> {
    /// Count the records.
    pub fn emit(self) {
        if self.count == 0 {
            return;
        }
        tracing::trace!(
            component_id = %self.metrics.component.id(),
            count = self.count,
            "Transform dropped events."
        );
        self.metrics.dropped.add(self.count as u64);
    }
}

// === impl TransformParseFailed ===

impl TransformParseFailed<'_> {
    /// Count the records.
    pub fn emit(self) {
        if self.count == 0 {
            return;
        }
        tracing::trace!(
            component_id = %self.metrics.component.id(),
            count = self.count,
            "Records did not parse."
        );
        self.metrics.parse_failures.add(self.count as u64);
    }
}
