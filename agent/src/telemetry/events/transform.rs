//! Events of transforms: records dropped on purpose, lines that did not
//! parse, secrets redacted.

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

/// The redaction counters of one `redact` transform, one per detector.
#[derive(Debug, Clone)]
pub struct RedactionMetrics {
    component_id: String,
    by_detector: Vec<Counter>,
}

/// Values a `redact` transform replaced, by detector. Only counts: the
/// values themselves never reach the agent's logs or metrics.
#[derive(Debug)]
pub struct TransformRedacted<'a> {
    /// The transform's redaction counters.
    pub metrics: &'a RedactionMetrics,
    /// Replacements per detector, in the order the counters were made.
    pub counts: &'a [u64],
}

/// Updates a `log_to_metric` transform refused because they would have
/// made a new series past its metric's `max_series`.
#[derive(Debug)]
pub struct TransformSeriesDropped<'a> {
    /// The transform's counter.
    pub counter: &'a Counter,
    /// The transform's name.
    pub component_id: &'a str,
    /// How many.
    pub count: u64,
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

    /// The counter of updates refused past a `log_to_metric` metric's
    /// `max_series`.
    pub fn dropped_series(&self) -> Counter {
        registry().counter(
            "neurallog_agent_transform_dropped_series_total",
            "Updates a log_to_metric transform refused because they would have made a series past its metric's max_series.",
            self.component.labels(),
        )
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

// === impl RedactionMetrics ===

impl RedactionMetrics {
    /// Resolve one counter per detector name of the transform `component`
    /// describes, in the order given.
    pub fn new<'a>(
        component: &ComponentMetrics,
        detectors: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let r = registry();
        let by_detector = detectors
            .into_iter()
            .map(|detector| {
                let mut labels = component.labels();
                labels.push(("detector", detector.to_owned()));
                labels.sort();
                r.counter(
                    "neurallog_agent_transform_redactions_total",
                    "Values a redact transform replaced with its marker, by detector.",
                    labels,
                )
            })
            .collect();
        RedactionMetrics {
            component_id: component.id().to_owned(),
            by_detector,
        }
    }

    /// Replacements so far by the detector at `index` (for tests).
    pub fn redactions(&self, index: usize) -> u64 {
        self.by_detector.get(index).map_or(0, Counter::get)
    }
}

// === impl TransformRedacted ===

impl TransformRedacted<'_> {
    /// Count the replacements.
    pub fn emit(self) {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return;
        }
        tracing::trace!(
            component_id = %self.metrics.component_id,
            count = total,
            "Transform redacted values."
        );
        for (counter, count) in self.metrics.by_detector.iter().zip(self.counts) {
            if *count > 0 {
                counter.add(*count);
            }
        }
    }
}

// === impl TransformSeriesDropped ===

impl TransformSeriesDropped<'_> {
    /// Count the updates.
    pub fn emit(self) {
        if self.count == 0 {
            return;
        }
        tracing::trace!(
            component_id = %self.component_id,
            count = self.count,
            "Series over max_series dropped."
        );
        self.counter.add(self.count);
    }
}
