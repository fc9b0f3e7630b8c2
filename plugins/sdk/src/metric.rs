//! Metrics: named measurements with a unit and labels.
//!
//! ```
//! use neurallog_plugin_sdk::Metric;
//!
//! let metric = Metric::gauge("cert_expiry_days", 12.5)
//!     .unit("d")
//!     .description("Days until the certificate expires.")
//!     .label("source", "example.com:443")
//!     .label("position", "leaf");
//! assert_eq!(metric.label_value("position"), Some("leaf"));
//! ```
//!
//! Names are `snake_case` with the unit as a suffix where there is one
//! (`backup_size_bytes`), units are UCUM (`d`, `s`, `By`, `%`, `1`), and
//! labels identify one series among the run's metrics. The agent adds the
//! check's name as a `check` label, so do not set that one yourself. Values
//! should be finite: the agent may drop `NaN` and infinities.

/// How a metric's value behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricKind {
    /// A value that can go up and down (days left, percent used).
    #[default]
    Gauge,
    /// A monotonically increasing total since the plugin's state began.
    Counter,
}

/// A metric label: a key and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// Label name, `snake_case`, for example `mountpoint`.
    pub key: String,
    /// Label value.
    pub value: String,
}

/// One measurement a run produced. Build it with [`Metric::gauge`] or
/// [`Metric::counter`] and the chaining methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Metric name, `snake_case`, for example `cert_expiry_days`.
    pub name: String,
    /// Short description (Prometheus `# HELP`). Empty by default.
    pub description: String,
    /// UCUM unit, for example `d`, `By`, `%`, `s`, or `1` (the default).
    pub unit: String,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// The value.
    pub value: f64,
    /// Labels, in the order they were added.
    pub labels: Vec<Label>,
}

// === impl Metric ===

impl Metric {
    /// A gauge: a value that can go up and down.
    #[must_use]
    pub fn gauge(name: impl Into<String>, value: f64) -> Self {
        Self::new(name, MetricKind::Gauge, value)
    }

    /// A counter: a total that only grows (keep it in [`crate::state`]
    /// between runs).
    #[must_use]
    pub fn counter(name: impl Into<String>, value: f64) -> Self {
        Self::new(name, MetricKind::Counter, value)
    }

    fn new(name: impl Into<String>, kind: MetricKind, value: f64) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            unit: "1".to_owned(),
            kind,
            value,
            labels: Vec::new(),
        }
    }

    /// Sets the UCUM unit (`d`, `s`, `By`, `%`, `1`).
    #[must_use]
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Sets the description (Prometheus `# HELP`).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push(Label {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// The value of the label `key`, if set.
    #[must_use]
    pub fn label_value(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|label| label.key == key)
            .map(|label| label.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let metric = Metric::counter("runs_total", 3.0)
            .unit("1")
            .description("Runs.")
            .label("a", "x")
            .label("b", "y");
        assert_eq!(metric.kind, MetricKind::Counter);
        assert_eq!(metric.description, "Runs.");
        assert_eq!(metric.label_value("b"), Some("y"));
        assert_eq!(metric.label_value("c"), None);
        assert_eq!(Metric::gauge("g", 1.0).unit, "1");
    }
}
