//! Events every component emits: events in and out, errors.

use std::fmt;

use crate::config::ComponentKind;
use crate::telemetry::{Counter, Labels, registry};

/// Where in a component an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStage {
    /// Receiving or reading input.
    Receiving,
    /// Transforming or encoding.
    Processing,
    /// Sending to a destination.
    Sending,
    /// Being built (on start-up or reload).
    Building,
}

/// Counter handles of one component, resolved once when it starts.
#[derive(Debug, Clone)]
pub struct ComponentMetrics {
    id: String,
    kind: ComponentKind,
    component_type: &'static str,
    received_events: Counter,
    received_bytes: Counter,
    sent_events: Counter,
    sent_bytes: Counter,
}

/// A component failed at something; it carries on (retry, skip) and the
/// failure is logged and counted.
#[derive(Debug)]
pub struct ComponentError<'a, E: fmt::Display> {
    /// The component's metrics.
    pub component: &'a ComponentMetrics,
    /// A stable, `snake_case` error class, e.g. `checkpoint_write_failed`.
    pub error_type: &'static str,
    /// Where it happened.
    pub stage: ErrorStage,
    /// The error itself.
    pub error: E,
}

// === impl ErrorStage ===

impl ErrorStage {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStage::Receiving => "receiving",
            ErrorStage::Processing => "processing",
            ErrorStage::Sending => "sending",
            ErrorStage::Building => "building",
        }
    }
}

// === impl ComponentMetrics ===

impl ComponentMetrics {
    /// Resolve the handles of component `id`.
    pub fn new(id: &str, kind: ComponentKind, component_type: &'static str) -> Self {
        let labels = labels(id, kind, component_type);
        let r = registry();
        ComponentMetrics {
            id: id.to_owned(),
            kind,
            component_type,
            received_events: r.counter(
                "neurallog_agent_component_received_events_total",
                "Events a component received or read.",
                labels.clone(),
            ),
            received_bytes: r.counter(
                "neurallog_agent_component_received_bytes_total",
                "Bytes a component received or read.",
                labels.clone(),
            ),
            sent_events: r.counter(
                "neurallog_agent_component_sent_events_total",
                "Events a component delivered (sinks) or emitted (sources).",
                labels.clone(),
            ),
            sent_bytes: r.counter(
                "neurallog_agent_component_sent_bytes_total",
                "Bytes a sink delivered, after encoding and compression.",
                labels,
            ),
        }
    }

    /// The component's name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Labels identifying the component, for the component's own metrics.
    pub fn labels(&self) -> Labels {
        labels(&self.id, self.kind, self.component_type)
    }

    /// The component read or received `events` events of `bytes` bytes.
    pub fn received(&self, events: usize, bytes: usize) {
        self.received_events.add(events as u64);
        self.received_bytes.add(bytes as u64);
    }

    /// The component emitted or delivered `events` events of `bytes` bytes.
    pub fn sent(&self, events: usize, bytes: usize) {
        self.sent_events.add(events as u64);
        self.sent_bytes.add(bytes as u64);
    }

    /// Events sent so far (for tests and `/status`).
    pub fn sent_events(&self) -> u64 {
        self.sent_events.get()
    }

    /// Events received so far (for tests and `/status`).
    pub fn received_events(&self) -> u64 {
        self.received_events.get()
    }
}

fn labels(id: &str, kind: ComponentKind, component_type: &str) -> Labels {
    let kind = match kind {
        ComponentKind::Source => "source",
        ComponentKind::Check => "check",
        ComponentKind::Sink => "sink",
        ComponentKind::Transform => "transform",
    };
    vec![
        ("component_id", id.to_owned()),
        ("component_kind", kind.to_owned()),
        ("component_type", component_type.to_owned()),
    ]
}

// === impl ComponentError ===

impl<E: fmt::Display> ComponentError<'_, E> {
    /// Log and count the error.
    pub fn emit(self) {
        tracing::warn!(
            component_id = %self.component.id,
            error_type = self.error_type,
            stage = self.stage.as_str(),
            error = %self.error,
            "Component error."
        );
        let mut labels = self.component.labels();
        labels.push(("error_type", self.error_type.to_owned()));
        labels.push(("stage", self.stage.as_str().to_owned()));
        registry()
            .counter(
                "neurallog_agent_component_errors_total",
                "Errors a component met, by error type and stage.",
                labels,
            )
            .inc();
    }
}
