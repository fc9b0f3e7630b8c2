//! The [`Processor`] trait a log processor implements, the records it
//! works on, and [`run_processor`] to call it natively in tests.
//!
//! The agent calls a processor once per batch of log records (never per
//! record) with the transform's `config:` as JSON, which the SDK parses into
//! [`Processor::Config`] as it does for checks. The processor returns the
//! records to keep: the same ones, changed ones, several made of one, or
//! none. Each returned record keeps the [`Record::origin`] of the record it
//! came from, which is how the agent knows whose resource and bookkeeping it
//! carries; start from a clone of the input record to keep it right.

use serde::de::DeserializeOwned;

use crate::check::{PluginInfo, RunError, parse_config};

/// A log processor. Implement it on a unit struct and export it with
/// [`export_processor!`](crate::export_processor).
///
/// ```
/// use neurallog_plugin_sdk::{Batch, NoConfig, PluginInfo, ProcessError, Processor, Record};
///
/// /// Drops empty lines.
/// struct NoBlanks;
///
/// impl Processor for NoBlanks {
///     type Config = NoConfig;
///
///     fn info() -> PluginInfo {
///         PluginInfo::new("no-blanks", "0.1.0", "Drops empty lines.")
///     }
///
///     fn process(_config: &NoConfig, batch: Batch) -> Result<Vec<Record>, ProcessError> {
///         Ok(batch.records.into_iter().filter(|r| !r.body.trim().is_empty()).collect())
///     }
/// }
///
/// neurallog_plugin_sdk::export_processor!(NoBlanks);
/// # fn main() {
/// let kept = neurallog_plugin_sdk::run_processor::<NoBlanks>(
///     "{}",
///     Batch::of_bodies(["a", " ", "b"]),
/// ).unwrap();
/// assert_eq!(kept.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(), ["a", "b"]);
/// # }
/// ```
pub trait Processor {
    /// The processor's configuration, deserialized from the JSON the agent
    /// passes. Use `#[serde(deny_unknown_fields)]` so that a typo in the
    /// agent's YAML is reported instead of ignored, and
    /// [`NoConfig`](crate::NoConfig) when it takes none.
    type Config: DeserializeOwned;

    /// Name, version, description and config schema. Called once when the
    /// agent loads the plugin.
    fn info() -> PluginInfo;

    /// Processes one batch and returns the records to keep, in the order
    /// they should go on.
    ///
    /// # Errors
    ///
    /// [`ProcessError::InvalidConfig`] when the config parses but is not
    /// usable, [`ProcessError::Failed`] when the batch cannot be processed.
    /// Either way the agent applies the transform's failure policy to the
    /// whole batch (forwarded as it came, or held and retried): an error
    /// never loses records, but it does not drop them either.
    fn process(config: &Self::Config, batch: Batch) -> Result<Vec<Record>, ProcessError>;
}

/// Why a batch produced no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The configuration is not valid for this plugin; the message names
    /// the field and what was expected.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The batch could not be processed; the message says why.
    #[error("processing failed: {0}")]
    Failed(String),
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A UTF-8 string.
    String(String),
    /// A signed 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// The entity that produced records (a host, a pod, a container).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    /// Resource attributes, for example `k8s.namespace.name`.
    pub attributes: Vec<(String, Value)>,
}

/// One log record (OpenTelemetry log data model).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// In a batch, the record's position; in what `process` returns, the
    /// position of the record it came from.
    pub origin: u32,
    /// When the event happened, in nanoseconds since the Unix epoch; 0 when
    /// unknown.
    pub timestamp_unix_nano: u64,
    /// OpenTelemetry severity number (1 to 24; 0 when unspecified).
    pub severity_number: u8,
    /// Severity text as found in the source (empty when none).
    pub severity_text: String,
    /// The message.
    pub body: String,
    /// The record's own attributes. Those it shares with the other records
    /// of its source are in [`Batch::shared_attributes`] (see
    /// [`Batch::shared_of`]); they stay with the record, and an own
    /// attribute of the same name overrides one of them.
    pub attributes: Vec<(String, Value)>,
    /// Position of the record's shared attributes in
    /// [`Batch::shared_attributes`].
    pub shared_attributes: u32,
    /// Position of the record's resource in [`Batch::resources`]. The
    /// agent keeps the resource of the record's origin.
    pub resource: u32,
}

/// One batch of records, as `process` receives it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// The resources the records belong to, each listed once.
    pub resources: Vec<Resource>,
    /// The attribute sets records share (a file's path), each listed once.
    pub shared_attributes: Vec<Vec<(String, Value)>>,
    /// The records, in the order they were read.
    pub records: Vec<Record>,
}

/// Runs processor `P` on `batch` with the JSON `config`, as the agent would
/// (natively: for tests).
///
/// # Errors
///
/// A config that does not parse, or what [`Processor::process`] returns.
pub fn run_processor<P: Processor>(
    config_json: &str,
    batch: Batch,
) -> Result<Vec<Record>, ProcessError> {
    let config = parse_config::<P::Config>(config_json).map_err(ProcessError::from)?;
    P::process(&config, batch)
}

// === impl Value ===

impl Value {
    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Float(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

// === impl Record ===

impl Record {
    /// The value of attribute `key`, if set.
    #[must_use]
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets attribute `key` to `value`, replacing an earlier value.
    pub fn set_attribute(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.attributes.push((key, value)),
        }
    }
}

// === impl Batch ===

impl Batch {
    /// A batch of records with the given bodies, one empty resource, one
    /// empty set of shared attributes, and nothing else set: for tests.
    #[must_use]
    pub fn of_bodies<S: Into<String>>(bodies: impl IntoIterator<Item = S>) -> Batch {
        let records = bodies
            .into_iter()
            .zip(0u32..)
            .map(|(body, origin)| Record {
                origin,
                body: body.into(),
                ..Record::default()
            })
            .collect();
        Batch {
            resources: vec![Resource::default()],
            shared_attributes: vec![Vec::new()],
            records,
        }
    }

    /// The attributes `record` shares with the others of its source (none
    /// when its index is out of range).
    #[must_use]
    pub fn shared_of(&self, record: &Record) -> &[(String, Value)] {
        usize::try_from(record.shared_attributes)
            .ok()
            .and_then(|i| self.shared_attributes.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// The resource of `record` (an empty one when its index is out of
    /// range).
    #[must_use]
    pub fn resource_of(&self, record: &Record) -> &Resource {
        static EMPTY: Resource = Resource {
            attributes: Vec::new(),
        };
        usize::try_from(record.resource)
            .ok()
            .and_then(|i| self.resources.get(i))
            .unwrap_or(&EMPTY)
    }
}

// === impl ProcessError ===

impl From<RunError> for ProcessError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::InvalidConfig(message) => ProcessError::InvalidConfig(message),
            RunError::Failed(message) => ProcessError::Failed(message),
        }
    }
}
