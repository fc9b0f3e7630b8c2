//! Building the data points of one collection: every point of a cycle
//! shares its timestamp and resource, and cumulative points start at boot.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::event::{AnyValue, Attributes, Metric, MetricValue, Resource};

/// Collects the points of one cycle.
#[derive(Debug)]
pub struct Points {
    /// The points so far.
    pub metrics: Vec<Metric>,
    resource: Arc<Resource>,
    time_unix_nano: u64,
    start_unix_nano: u64,
}

/// A static description of one metric: OpenTelemetry name, unit and
/// description.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// The semantic-convention name.
    pub name: &'static str,
    /// UCUM unit.
    pub unit: &'static str,
    /// One line for `# HELP`.
    pub description: &'static str,
}

// === impl Points ===

impl Points {
    /// Points at `time_unix_nano`; cumulative ones count from
    /// `start_unix_nano` (the boot time).
    pub fn new(
        resource: Arc<Resource>,
        time_unix_nano: u64,
        start_unix_nano: u64,
        capacity: usize,
    ) -> Self {
        Points {
            metrics: Vec::with_capacity(capacity),
            resource,
            time_unix_nano,
            start_unix_nano,
        }
    }

    /// The cycle's timestamp.
    pub fn time_unix_nano(&self) -> u64 {
        self.time_unix_nano
    }

    /// Set the start of cumulative streams (known once `/proc/stat` is
    /// read).
    pub fn set_start(&mut self, start_unix_nano: u64) {
        self.start_unix_nano = start_unix_nano;
    }

    /// A monotonic cumulative sum.
    pub fn counter(&mut self, def: &Def, value: f64, attributes: Attributes) {
        self.push(
            def,
            MetricValue::Sum {
                value,
                monotonic: true,
            },
            attributes,
        );
    }

    /// A non-monotonic cumulative sum (a level that is also a sum of its
    /// parts, e.g. memory by state).
    pub fn up_down(&mut self, def: &Def, value: f64, attributes: Attributes) {
        self.push(
            def,
            MetricValue::Sum {
                value,
                monotonic: false,
            },
            attributes,
        );
    }

    /// A counter under node_exporter's own name: a family that no
    /// OpenTelemetry convention covers (see [`crate::sinks`]' prometheus
    /// `naming`). `name` and `help` are static or [`intern`]ed.
    pub fn node_counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        value: f64,
        attributes: Attributes,
    ) {
        self.counter(&node_def(name, help), value, attributes);
    }

    /// A gauge under node_exporter's own name (see [`Points::node_counter`]).
    pub fn node_gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        value: f64,
        attributes: Attributes,
    ) {
        self.gauge(&node_def(name, help), value, attributes);
    }

    /// A gauge.
    pub fn gauge(&mut self, def: &Def, value: f64, attributes: Attributes) {
        self.push(def, MetricValue::Gauge(value), attributes);
    }

    fn push(&mut self, def: &Def, value: MetricValue, attributes: Attributes) {
        let start = match value {
            MetricValue::Sum { .. } => self.start_unix_nano,
            _ => 0,
        };
        self.metrics.push(Metric {
            name: Cow::Borrowed(def.name),
            description: Cow::Borrowed(def.description),
            unit: Cow::Borrowed(def.unit),
            value,
            attributes,
            time_unix_nano: self.time_unix_nano,
            start_time_unix_nano: start,
            resource: Arc::clone(&self.resource),
        });
    }
}

fn node_def(name: &'static str, help: &'static str) -> Def {
    Def {
        name,
        unit: "",
        description: help,
    }
}

/// `text` as a `&'static str`, stored once per distinct text: for the names
/// and help texts built from the field names of kernel files (meminfo,
/// vmstat, netstat, sockstat), a set the kernel bounds, so that the points
/// of every cycle borrow them instead of allocating.
pub fn intern(text: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(name) = names.get(text) {
        return name;
    }
    let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.insert(name);
    name
}

/// The node_exporter name and help text of each field of a kernel file,
/// built and [`intern`]ed the first time the field is seen: later cycles
/// look the field up instead of formatting and filtering it again. `None`
/// remembers a field that is not reported.
#[derive(Debug, Default)]
pub struct Names {
    map: HashMap<String, Option<(&'static str, &'static str)>>,
}

impl Names {
    /// The name and help of `key`, from `make` (name, help; `None` to
    /// skip the field) the first time.
    pub fn get(
        &mut self,
        key: &str,
        make: impl FnOnce() -> Option<(String, String)>,
    ) -> Option<(&'static str, &'static str)> {
        if let Some(found) = self.map.get(key) {
            return *found;
        }
        let made = make().map(|(name, help)| (intern(&name), intern(&help)));
        self.map.insert(key.to_owned(), made);
        made
    }
}

/// Attributes from static keys and values.
pub fn attrs<const N: usize>(pairs: [(&'static str, AnyValue); N]) -> Attributes {
    pairs.into_iter().collect()
}
