//! What `/status` and `/readyz` report: every component and its state.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::config::ComponentKind;
use crate::event::now_unix_nanos;
use crate::sync::lock;
use crate::telemetry::events::ComponentMetrics;
use crate::time::format_rfc3339_nanos;

type Reporter = Box<dyn Fn() -> Value + Send + Sync>;

/// The state of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentState {
    /// Being built.
    Starting,
    /// Running.
    Running,
    /// Draining for shutdown or reload.
    Stopping,
    /// Stopped by an error it could not recover from.
    Failed(String),
}

/// Every component of the running pipeline.
#[derive(Debug, Default)]
pub struct StatusRegistry {
    components: Mutex<IndexMap<(ComponentKind, String), Arc<Entry>>>,
}

/// A component's handle on its own entry.
#[derive(Clone)]
pub struct StatusHandle(Arc<Entry>);

struct Entry {
    kind: ComponentKind,
    id: String,
    component_type: &'static str,
    metrics: ComponentMetrics,
    /// When this instance was built: a reload that leaves the component
    /// alone keeps it, one that rebuilds it shows a new one.
    started_at_unix_nanos: u64,
    state: Mutex<(ComponentState, Instant)>,
    /// The component says itself when it runs (see
    /// [`StatusHandle::defer_running`]).
    deferred: std::sync::atomic::AtomicBool,
    /// An error worth showing while the component runs (a new
    /// configuration that did not build, so this one stayed).
    last_error: Mutex<Option<String>>,
    reporter: Mutex<Option<Reporter>>,
}

// === impl StatusRegistry ===

impl StatusRegistry {
    /// Register a component (replacing an earlier one of the same name).
    pub fn register(
        &self,
        kind: ComponentKind,
        id: &str,
        component_type: &'static str,
        metrics: ComponentMetrics,
    ) -> StatusHandle {
        let entry = Arc::new(Entry {
            kind,
            id: id.to_owned(),
            component_type,
            metrics,
            started_at_unix_nanos: now_unix_nanos(),
            deferred: Default::default(),
            state: Mutex::new((ComponentState::Starting, Instant::now())),
            last_error: Mutex::new(None),
            reporter: Mutex::new(None),
        });
        lock(&self.components).insert((kind, id.to_owned()), Arc::clone(&entry));
        StatusHandle(entry)
    }

    /// Forget a component.
    pub fn remove(&self, kind: ComponentKind, id: &str) {
        lock(&self.components).shift_remove(&(kind, id.to_owned()));
    }

    /// Ready: at least the pipeline was built and every component runs.
    pub fn ready(&self) -> Result<(), String> {
        let components = lock(&self.components);
        for entry in components.values() {
            let state = lock(&entry.state).0.clone();
            if state != ComponentState::Running {
                return Err(format!(
                    "{} {} is {}",
                    kind_name(entry.kind),
                    entry.id,
                    state_name(&state)
                ));
            }
        }
        Ok(())
    }

    /// The JSON document `/status` serves.
    pub fn to_json(&self) -> Value {
        let components = lock(&self.components);
        let list: Vec<Value> = components.values().map(|entry| entry.to_json()).collect();
        json!({ "components": list })
    }
}

impl std::fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusHandle")
            .field("id", &self.0.id)
            .finish()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("id", &self.id).finish()
    }
}

// === impl StatusHandle ===

impl StatusHandle {
    /// Set the component's state.
    pub fn set_state(&self, state: ComponentState) {
        *lock(&self.0.state) = (state, Instant::now());
    }

    /// Keep the component `starting` (and `/readyz` unready) once it is
    /// spawned, until it sets itself running: for a source whose first
    /// look at its inputs is what an operator waits for (the file source
    /// has opened every file that exists). Called before it is spawned.
    pub fn defer_running(&self) {
        self.0
            .deferred
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the component sets itself running.
    pub fn is_deferred(&self) -> bool {
        self.0.deferred.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Record an error that did not stop the component.
    pub fn set_last_error(&self, error: String) {
        *lock(&self.0.last_error) = Some(error);
    }

    /// The component's state.
    pub fn state(&self) -> ComponentState {
        lock(&self.0.state).0.clone()
    }

    /// Install a function that reports component-specific details (files
    /// and offsets, queue depth) as JSON. It runs when `/status` is read.
    /// The entry keeps it for as long as the entry lives, so it must not
    /// hold this handle, or anything that does, except weakly: that cycle
    /// would keep the component's state alive after it is replaced.
    pub fn set_reporter(&self, reporter: impl Fn() -> Value + Send + Sync + 'static) {
        *lock(&self.0.reporter) = Some(Box::new(reporter));
    }
}

// === impl Entry ===

impl Entry {
    fn to_json(&self) -> Value {
        let (state, since) = lock(&self.state).clone();
        let details = lock(&self.reporter).as_ref().map(|report| report());
        let mut value = json!({
            "id": self.id,
            "kind": kind_name(self.kind),
            "type": self.component_type,
            "started_at": format_rfc3339_nanos(self.started_at_unix_nanos),
            "state": state_name(&state),
            "state_seconds": since.elapsed().as_secs(),
            "events_received": self.metrics.received_events(),
            "events_sent": self.metrics.sent_events(),
        });
        if let ComponentState::Failed(error) = &state {
            value["error"] = Value::String(error.clone());
        } else if let Some(error) = lock(&self.last_error).clone() {
            value["error"] = Value::String(error);
        }
        if let Some(details) = details {
            value["details"] = details;
        }
        value
    }
}

fn kind_name(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Source => "source",
        ComponentKind::Check => "check",
        ComponentKind::Sink => "sink",
        ComponentKind::Transform => "transform",
    }
}

fn state_name(state: &ComponentState) -> &'static str {
    match state {
        ComponentState::Starting => "starting",
        ComponentState::Running => "running",
        ComponentState::Stopping => "stopping",
        ComponentState::Failed(_) => "failed",
    }
}
