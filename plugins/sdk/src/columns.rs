//! The [`ColumnProcessor`] trait: a log processor that reads its batch by
//! column ([`Columns`]) and answers with a verdict per record
//! ([`Verdicts`]), and [`run_column_processor`] to call it natively in
//! tests.
//!
//! It does what a [`Processor`](crate::Processor) does, at a fraction of the
//! cost to the agent: the batch reaches the plugin as a few flat buffers
//! (every body in one string, every timestamp in one list...) instead of a
//! string and a list per record, and a record the processor keeps or drops
//! costs one byte of answer. Only the records it changes travel back in
//! full. Prefer it for a processor that keeps or drops most records as they
//! are (a filter, a sampler, a router by content); a processor that
//! rewrites every record gains less.
//!
//! Components built with it target world `column-processor` of
//! `neurallog:plugin@0.1.1`, which agents from 0.1.1 on load.

use serde::de::DeserializeOwned;

use crate::check::{PluginInfo, parse_config};
use crate::processor::{Batch, ProcessError, Record, Resource, Value};

/// A log processor that works by column. Implement it on a unit struct and
/// export it with [`export_column_processor!`](crate::export_column_processor).
///
/// ```
/// use neurallog_plugin_sdk::{
///     Batch, ColumnProcessor, Columns, NoConfig, PluginInfo, ProcessError, Verdicts,
/// };
///
/// /// Drops health checks and tags 5xx lines.
/// struct Quiet;
///
/// impl ColumnProcessor for Quiet {
///     type Config = NoConfig;
///
///     fn info() -> PluginInfo {
///         PluginInfo::new("quiet", "0.1.0", "Drops health checks, tags 5xx lines.")
///     }
///
///     fn process(_config: &NoConfig, batch: &Columns, verdicts: &mut Verdicts) -> Result<(), ProcessError> {
///         for i in 0..batch.len() {
///             let body = batch.body(i);
///             if body.contains("GET /healthz") {
///                 verdicts.drop(i);
///             } else if body.contains("\" 5") {
///                 let mut record = batch.record(i);
///                 record.set_attribute("http.server_error", true);
///                 verdicts.replace(i, record);
///             }
///             // Every other record is kept as it came, at no cost.
///         }
///         Ok(())
///     }
/// }
///
/// neurallog_plugin_sdk::export_column_processor!(Quiet);
/// # fn main() {
/// let out = neurallog_plugin_sdk::run_column_processor::<Quiet>(
///     "{}",
///     &Batch::of_bodies(["GET /healthz 200", "GET / 200", "\"GET /x\" 503"]),
/// ).unwrap();
/// assert_eq!(out.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(), ["GET / 200", "\"GET /x\" 503"]);
/// assert_eq!(out[1].attribute("http.server_error"), Some(&true.into()));
/// # }
/// ```
pub trait ColumnProcessor {
    /// The processor's configuration, deserialized from the JSON the agent
    /// passes, as for [`Processor::Config`](crate::Processor::Config).
    type Config: DeserializeOwned;

    /// Name, version, description and config schema. Called once when the
    /// agent loads the plugin.
    fn info() -> PluginInfo;

    /// Processes one batch: for each record of `batch` that is not to be
    /// kept as it came, say so in `verdicts` ([`Verdicts::drop`],
    /// [`Verdicts::replace`]).
    ///
    /// # Errors
    ///
    /// As for [`Processor::process`](crate::Processor::process): the agent
    /// applies the transform's failure policy to the whole batch, and the
    /// verdicts given so far are ignored.
    fn process(
        config: &Self::Config,
        batch: &Columns,
        verdicts: &mut Verdicts,
    ) -> Result<(), ProcessError>;
}

/// One batch of log records, by column. Record `i` (from 0 to
/// [`len`](Columns::len)` - 1`) is read with [`body`](Columns::body),
/// [`attribute`](Columns::attribute) and the others; [`record`](Columns::record)
/// copies it out whole, to change it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub(crate) resources: Vec<Resource>,
    pub(crate) shared_attributes: Vec<Vec<(String, Value)>>,
    pub(crate) resource_of: Vec<u32>,
    pub(crate) shared_of: Vec<u32>,
    pub(crate) timestamps: Vec<u64>,
    pub(crate) severity_numbers: Vec<u8>,
    pub(crate) severity_texts: String,
    pub(crate) severity_text_ends: Vec<u32>,
    pub(crate) bodies: String,
    pub(crate) body_ends: Vec<u32>,
    pub(crate) attribute_keys: String,
    pub(crate) attribute_key_ends: Vec<u32>,
    pub(crate) attribute_kinds: Vec<u8>,
    pub(crate) attribute_strings: String,
    pub(crate) attribute_string_ends: Vec<u32>,
    pub(crate) attribute_numbers: Vec<u64>,
    pub(crate) attribute_ends: Vec<u32>,
}

/// An attribute value, borrowed from a [`Columns`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// A UTF-8 string.
    String(&'a str),
    /// A signed 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// What a [`ColumnProcessor`] says about each record of its batch: kept as
/// it came (the default), dropped, or replaced by one or more records.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdicts {
    pub(crate) verdicts: Vec<u8>,
    pub(crate) changed: Vec<Record>,
}

/// Verdict: dropped on purpose.
pub(crate) const DROP: u8 = 0;
/// Verdict: kept as it came.
pub(crate) const KEEP: u8 = 1;
/// Verdict: replaced by its entries in `changed`.
pub(crate) const REPLACE: u8 = 2;

/// Runs processor `P` on `batch` with the JSON `config`, as the agent would
/// (natively: for tests), and returns the records it keeps, in order: the
/// same shape as [`run_processor`](crate::run_processor) returns.
///
/// # Errors
///
/// A config that does not parse, or what [`ColumnProcessor::process`]
/// returns.
pub fn run_column_processor<P: ColumnProcessor>(
    config_json: &str,
    batch: &Batch,
) -> Result<Vec<Record>, ProcessError> {
    let config = parse_config::<P::Config>(config_json).map_err(ProcessError::from)?;
    let columns = Columns::from_batch(batch);
    let mut verdicts = Verdicts::keep_all(columns.len());
    P::process(&config, &columns, &mut verdicts)?;
    // Each record's replacements in its place, as the agent puts them.
    verdicts.changed.sort_by_key(|r| r.origin);
    let mut changed = verdicts.changed.into_iter().peekable();
    let mut out = Vec::new();
    for (i, verdict) in verdicts.verdicts.iter().enumerate() {
        match *verdict {
            KEEP => out.push(columns.record(i)),
            REPLACE => {
                while let Some(record) = changed.next_if(|r| r.origin as usize == i) {
                    out.push(record);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

// === impl Columns ===

impl Columns {
    /// `batch` laid out by column, as the agent lays it out: for tests.
    #[must_use]
    pub fn from_batch(batch: &Batch) -> Columns {
        let mut columns = Columns {
            resources: batch.resources.clone(),
            shared_attributes: batch.shared_attributes.clone(),
            ..Columns::default()
        };
        for record in &batch.records {
            columns.resource_of.push(record.resource);
            columns.shared_of.push(record.shared_attributes);
            columns.timestamps.push(record.timestamp_unix_nano);
            columns.severity_numbers.push(record.severity_number);
            columns.severity_texts.push_str(&record.severity_text);
            columns
                .severity_text_ends
                .push(end_of(&columns.severity_texts));
            columns.bodies.push_str(&record.body);
            columns.body_ends.push(end_of(&columns.bodies));
            for (key, value) in &record.attributes {
                columns.attribute_keys.push_str(key);
                columns
                    .attribute_key_ends
                    .push(end_of(&columns.attribute_keys));
                let (kind, number) = match value {
                    Value::String(s) => {
                        columns.attribute_strings.push_str(s);
                        (0, 0)
                    }
                    Value::Int(n) => (1, u64::from_ne_bytes(n.to_ne_bytes())),
                    Value::Float(f) => (2, f.to_bits()),
                    Value::Bool(b) => (3, u64::from(*b)),
                };
                columns.attribute_kinds.push(kind);
                columns.attribute_numbers.push(number);
                columns
                    .attribute_string_ends
                    .push(end_of(&columns.attribute_strings));
            }
            columns
                .attribute_ends
                .push(u32::try_from(columns.attribute_kinds.len()).unwrap_or(u32::MAX));
        }
        columns
    }

    /// How many records the batch holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.body_ends.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.body_ends.is_empty()
    }

    /// Record `i`'s body (empty when `i` is out of range).
    #[must_use]
    pub fn body(&self, i: usize) -> &str {
        slice(&self.bodies, &self.body_ends, i)
    }

    /// Record `i`'s severity text as found in the source (empty when none).
    #[must_use]
    pub fn severity_text(&self, i: usize) -> &str {
        slice(&self.severity_texts, &self.severity_text_ends, i)
    }

    /// Record `i`'s OpenTelemetry severity number (1 to 24; 0 when
    /// unspecified).
    #[must_use]
    pub fn severity_number(&self, i: usize) -> u8 {
        self.severity_numbers.get(i).copied().unwrap_or(0)
    }

    /// When record `i`'s event happened, in nanoseconds since the Unix
    /// epoch; 0 when unknown.
    #[must_use]
    pub fn timestamp_unix_nano(&self, i: usize) -> u64 {
        self.timestamps.get(i).copied().unwrap_or(0)
    }

    /// Record `i`'s own attributes, in order.
    pub fn attributes(&self, i: usize) -> impl Iterator<Item = (&str, ValueRef<'_>)> {
        range(&self.attribute_ends, i).map(|a| self.attribute_at(a))
    }

    /// The value of record `i`'s own attribute `key`, if set. Those it
    /// shares with the other records of its source are in
    /// [`shared_attributes`](Columns::shared_attributes).
    #[must_use]
    pub fn attribute(&self, i: usize, key: &str) -> Option<ValueRef<'_>> {
        self.attributes(i).find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The attributes record `i` shares with the others of its source (a
    /// file's path); they stay with it whatever the verdict, and an own
    /// attribute of the same name overrides one of them.
    #[must_use]
    pub fn shared_attributes(&self, i: usize) -> &[(String, Value)] {
        self.shared_of
            .get(i)
            .and_then(|s| self.shared_attributes.get(usize::try_from(*s).ok()?))
            .map_or(&[], Vec::as_slice)
    }

    /// The resource record `i` belongs to (an empty one when unknown).
    #[must_use]
    pub fn resource(&self, i: usize) -> &Resource {
        static EMPTY: Resource = Resource {
            attributes: Vec::new(),
        };
        self.resource_of
            .get(i)
            .and_then(|r| self.resources.get(usize::try_from(*r).ok()?))
            .unwrap_or(&EMPTY)
    }

    /// Record `i` copied out whole, with `origin` `i`: start from it to
    /// build a replacement for [`Verdicts::replace`].
    #[must_use]
    pub fn record(&self, i: usize) -> Record {
        Record {
            origin: u32::try_from(i).unwrap_or(u32::MAX),
            timestamp_unix_nano: self.timestamp_unix_nano(i),
            severity_number: self.severity_number(i),
            severity_text: self.severity_text(i).to_owned(),
            body: self.body(i).to_owned(),
            attributes: self
                .attributes(i)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            shared_attributes: self.shared_of.get(i).copied().unwrap_or(0),
            resource: self.resource_of.get(i).copied().unwrap_or(0),
        }
    }

    fn attribute_at(&self, a: usize) -> (&str, ValueRef<'_>) {
        let key = slice(&self.attribute_keys, &self.attribute_key_ends, a);
        let number = self.attribute_numbers.get(a).copied().unwrap_or(0);
        let value = match self.attribute_kinds.get(a) {
            Some(1) => ValueRef::Int(i64::from_ne_bytes(number.to_ne_bytes())),
            Some(2) => ValueRef::Float(f64::from_bits(number)),
            Some(3) => ValueRef::Bool(number != 0),
            _ => ValueRef::String(slice(
                &self.attribute_strings,
                &self.attribute_string_ends,
                a,
            )),
        };
        (key, value)
    }
}

/// Where the last item of a column ends.
fn end_of(column: &str) -> u32 {
    u32::try_from(column.len()).unwrap_or(u32::MAX)
}

/// Item `i`'s range in a column with `ends` (empty when out of range).
fn range(ends: &[u32], i: usize) -> std::ops::Range<usize> {
    let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    let Some(&end) = ends.get(i) else {
        return 0..0;
    };
    let start = match i.checked_sub(1) {
        Some(previous) => ends.get(previous).copied().map_or(0, to_usize),
        None => 0,
    };
    start..to_usize(end).max(start)
}

/// Item `i` of a string column (empty when out of range or not on a
/// character boundary, which the agent never sends).
fn slice<'a>(column: &'a str, ends: &[u32], i: usize) -> &'a str {
    column.get(range(ends, i)).unwrap_or("")
}

// === impl ValueRef ===

impl ValueRef<'_> {
    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ValueRef::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether `value` is the same value, without copying it.
    #[must_use]
    pub fn is(&self, value: &Value) -> bool {
        match (*self, value) {
            (ValueRef::String(a), Value::String(b)) => a == b,
            (ValueRef::Int(a), Value::Int(b)) => a == *b,
            (ValueRef::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (ValueRef::Bool(a), Value::Bool(b)) => a == *b,
            _ => false,
        }
    }

    /// An owned copy.
    #[must_use]
    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::String(s) => Value::String(s.to_owned()),
            ValueRef::Int(n) => Value::Int(n),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Bool(b) => Value::Bool(b),
        }
    }
}

// === impl Verdicts ===

impl Verdicts {
    /// Every one of `len` records kept as it came.
    #[must_use]
    pub fn keep_all(len: usize) -> Verdicts {
        Verdicts {
            verdicts: vec![KEEP; len],
            changed: Vec::new(),
        }
    }

    /// Keeps record `i` as it came (undoing a drop or a replacement).
    pub fn keep(&mut self, i: usize) {
        self.set(i, KEEP);
    }

    /// Drops record `i` on purpose: the agent counts it as handled.
    pub fn drop(&mut self, i: usize) {
        self.set(i, DROP);
    }

    /// Replaces record `i` with `record` (whose `origin` is set to `i`).
    /// Called again for the same record, adds another: a record split in
    /// several, which go on in the order they were given.
    pub fn replace(&mut self, i: usize, mut record: Record) {
        // Only a record marked REPLACE has entries in `changed` (`set`
        // removes them when it leaves that verdict), so marking one costs
        // nothing more: replacing every record stays linear.
        let Some(verdict) = self.verdicts.get_mut(i) else {
            return;
        };
        *verdict = REPLACE;
        record.origin = u32::try_from(i).unwrap_or(u32::MAX);
        self.changed.push(record);
    }

    fn set(&mut self, i: usize, verdict: u8) {
        if let Some(slot) = self.verdicts.get_mut(i) {
            if *slot == REPLACE {
                self.changed.retain(|r| r.origin as usize != i);
            }
            *slot = verdict;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoConfig;
    use crate::check::PluginInfo;

    fn batch() -> Batch {
        let mut batch = Batch::of_bodies(["zero", "", "two ☃"]);
        batch.records[1].severity_text = "WARN".into();
        batch.records[1].severity_number = 13;
        batch.records[2].timestamp_unix_nano = 42;
        batch.records[2].attributes = vec![
            ("status".into(), Value::Int(-503)),
            ("path".into(), Value::String("/x".into())),
            ("ratio".into(), Value::Float(0.25)),
            ("ok".into(), Value::Bool(false)),
        ];
        batch
    }

    #[test]
    fn every_record_reads_back_as_it_was() {
        let input = batch();
        let columns = Columns::from_batch(&input);
        assert_eq!(columns.len(), 3);
        for (i, record) in input.records.iter().enumerate() {
            assert_eq!(&columns.record(i), record, "record {i}");
        }
        assert_eq!(columns.attribute(2, "status"), Some(ValueRef::Int(-503)));
        assert_eq!(columns.attribute(2, "path"), Some(ValueRef::String("/x")));
        assert_eq!(columns.attribute(0, "path"), None);
        assert_eq!(columns.body(3), "", "out of range reads empty");
    }

    struct Split;

    impl ColumnProcessor for Split {
        type Config = NoConfig;

        fn info() -> PluginInfo {
            PluginInfo::new("split", "0.1.0", "Splits on spaces, drops empty lines.")
        }

        fn process(
            _: &NoConfig,
            batch: &Columns,
            verdicts: &mut Verdicts,
        ) -> Result<(), ProcessError> {
            for i in 0..batch.len() {
                let body = batch.body(i);
                if body.is_empty() {
                    verdicts.drop(i);
                } else if body.contains(' ') {
                    for word in body.split(' ') {
                        let mut part = batch.record(i);
                        part.body = word.to_owned();
                        verdicts.replace(i, part);
                    }
                }
            }
            Ok(())
        }
    }

    #[test]
    fn kept_dropped_and_split_records_come_out_in_order() {
        let out = run_column_processor::<Split>("{}", &batch()).unwrap();
        let bodies: Vec<&str> = out.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, ["zero", "two", "☃"]);
        assert_eq!(out.iter().map(|r| r.origin).collect::<Vec<_>>(), [0, 2, 2]);
        assert_eq!(out[2].attribute("status"), Some(&Value::Int(-503)));
    }

    #[test]
    fn a_later_verdict_undoes_a_replacement() {
        let mut verdicts = Verdicts::keep_all(2);
        verdicts.replace(1, Record::default());
        verdicts.replace(1, Record::default());
        verdicts.drop(1);
        assert_eq!(verdicts.verdicts, [KEEP, DROP]);
        assert!(verdicts.changed.is_empty());
        verdicts.replace(7, Record::default());
        assert!(verdicts.changed.is_empty(), "out of range is ignored");
    }

    #[test]
    fn a_borrowed_value_is_compared_by_kind_and_value() {
        assert!(ValueRef::String("a").is(&Value::from("a")));
        assert!(!ValueRef::String("1").is(&Value::Int(1)));
        assert!(ValueRef::Int(-3).is(&Value::Int(-3)));
        assert!(!ValueRef::Float(0.5).is(&Value::Float(0.25)));
        assert!(ValueRef::Bool(true).is(&Value::Bool(true)));
    }
}
