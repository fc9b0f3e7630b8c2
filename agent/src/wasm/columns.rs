//! The one shape a batch of log records has between a `wasm` transform and
//! its plugin, whichever world the plugin targets and wherever it runs: by
//! column ([`ColumnBatch`], interface `columns` of the contract), and what
//! comes back ([`Outcome`]).
//!
//! By column, every body is in one string and every timestamp in one list,
//! so handing a batch to a `column-processor` costs the canonical ABI a
//! copy per list, and a worker's frame a copy per list too. A `processor`
//! (world `processor`, a record at a time) gets the same batch turned into
//! records ([`to_rows`]) just before the call.
//!
//! What comes back is, by world, the records a `processor` returned in the
//! order they go on, or a `column-processor`'s verdict per record with its
//! replacements. Either is checked against the batch before anyone uses
//! it ([`check_outcome`]): a worker's answer too, since a worker that has
//! run guest code is not trusted.

use std::ops::Range;

use super::bindings::v0_1_columns::neurallog::plugin::columns::ColumnOutcome;
use super::processor::{
    Attribute, Batch, LogRecord, OutputBound, ProcessFailure, ProcessFailureReason,
    ProcessedRecord, Value,
};
use super::report::FailureReason;

pub use super::bindings::v0_1_columns::neurallog::plugin::columns::ColumnBatch;

/// Verdict: dropped on purpose.
pub const DROP: u8 = 0;
/// Verdict: kept as it came.
pub const KEEP: u8 = 1;
/// Verdict: replaced by its entries in `changed`.
pub const REPLACE: u8 = 2;

/// What a processor made of a batch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// A `processor`'s records, in the order they go on, each naming the
    /// record of the batch it comes from.
    Records(Vec<ProcessedRecord>),
    /// A `column-processor`'s answer: a verdict per record of the batch
    /// ([`DROP`], [`KEEP`], [`REPLACE`]) and the replacements, by origin.
    Verdicts {
        /// One per record of the batch.
        verdicts: Vec<u8>,
        /// The replacements of the records marked [`REPLACE`], in batch
        /// order (a record's own in the order the processor gave them).
        changed: Vec<ProcessedRecord>,
    },
}

// === a batch by column ===

/// How many records `batch` holds.
pub fn len(batch: &ColumnBatch) -> usize {
    batch.body_ends.len()
}

/// Item `i`'s range in a column with `ends` (empty when out of range).
fn range(ends: &[u32], i: usize) -> Range<usize> {
    let at = |j: usize| ends.get(j).map_or(0, |end| *end as usize);
    match ends.get(i) {
        Some(end) => {
            let start = i.checked_sub(1).map_or(0, at);
            start..(*end as usize).max(start)
        }
        None => 0..0,
    }
}

/// Item `i` of a string column: empty when out of range or not on a
/// character boundary, which the agent never sends.
fn text<'a>(column: &'a str, ends: &[u32], i: usize) -> &'a str {
    column.get(range(ends, i)).unwrap_or("")
}

/// Where a column's last item ends. A batch is bounded far below 4 GiB
/// (the transform's batch times the largest line).
fn end_of(column: &str) -> u32 {
    u32::try_from(column.len()).unwrap_or(u32::MAX)
}

/// An empty batch, with room for `records` records of `body_bytes` of
/// bodies in all.
pub fn with_capacity(records: usize, body_bytes: usize) -> ColumnBatch {
    ColumnBatch {
        resources: Vec::new(),
        shared_attributes: Vec::new(),
        resource_of: Vec::with_capacity(records),
        shared_of: Vec::with_capacity(records),
        timestamps: Vec::with_capacity(records),
        severity_numbers: Vec::with_capacity(records),
        severity_texts: String::new(),
        severity_text_ends: Vec::with_capacity(records),
        bodies: String::with_capacity(body_bytes),
        body_ends: Vec::with_capacity(records),
        attribute_keys: String::new(),
        attribute_key_ends: Vec::new(),
        attribute_kinds: Vec::new(),
        attribute_strings: String::new(),
        attribute_string_ends: Vec::new(),
        attribute_numbers: Vec::new(),
        attribute_ends: Vec::with_capacity(records),
    }
}

/// One record's fields, to append to a batch with [`push`].
pub struct NewRecord<'a, A> {
    /// Position of its resource in the batch's `resources`.
    pub resource: u32,
    /// Position of its shared attributes in the batch's
    /// `shared-attributes`.
    pub shared: u32,
    /// Nanoseconds since the Unix epoch.
    pub timestamp: u64,
    /// 0 to 24.
    pub severity_number: u8,
    /// As found in the source.
    pub severity_text: &'a str,
    /// The message.
    pub body: &'a str,
    /// Its own attributes.
    pub attributes: A,
}

/// An attribute value, borrowed.
pub enum ValueRef<'a> {
    /// A string.
    String(&'a str),
    /// An integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// Appends `record` to `batch`.
pub fn push<'a, A>(batch: &mut ColumnBatch, record: NewRecord<'_, A>)
where
    A: IntoIterator<Item = (&'a str, ValueRef<'a>)>,
{
    batch.resource_of.push(record.resource);
    batch.shared_of.push(record.shared);
    batch.timestamps.push(record.timestamp);
    batch.severity_numbers.push(record.severity_number);
    batch.severity_texts.push_str(record.severity_text);
    batch.severity_text_ends.push(end_of(&batch.severity_texts));
    batch.bodies.push_str(record.body);
    batch.body_ends.push(end_of(&batch.bodies));
    for (key, value) in record.attributes {
        batch.attribute_keys.push_str(key);
        batch.attribute_key_ends.push(end_of(&batch.attribute_keys));
        let (kind, number) = match value {
            ValueRef::String(s) => {
                batch.attribute_strings.push_str(s);
                (0, 0)
            }
            ValueRef::Int(n) => (1, u64::from_ne_bytes(n.to_ne_bytes())),
            ValueRef::Float(f) => (2, f.to_bits()),
            ValueRef::Bool(b) => (3, u64::from(b)),
        };
        batch.attribute_kinds.push(kind);
        batch.attribute_numbers.push(number);
        batch
            .attribute_string_ends
            .push(end_of(&batch.attribute_strings));
    }
    batch
        .attribute_ends
        .push(u32::try_from(batch.attribute_kinds.len()).unwrap_or(u32::MAX));
}

/// `rows` by column.
pub fn to_columns(rows: &Batch) -> ColumnBatch {
    let bytes = rows.records.iter().map(|r| r.body.len()).sum();
    let mut batch = with_capacity(rows.records.len(), bytes);
    batch.resources = rows.resources.clone();
    batch.shared_attributes = rows.shared_attributes.clone();
    for record in &rows.records {
        let attributes = record.attributes.iter().map(|a| {
            let value = match &a.value {
                Value::String(s) => ValueRef::String(s),
                Value::Int(n) => ValueRef::Int(*n),
                Value::Float(f) => ValueRef::Float(*f),
                Value::Boolean(b) => ValueRef::Bool(*b),
            };
            (a.key.as_str(), value)
        });
        push(
            &mut batch,
            NewRecord {
                resource: record.resource,
                shared: record.shared_attributes,
                timestamp: record.timestamp,
                severity_number: record.severity_number,
                severity_text: &record.severity_text,
                body: &record.body,
                attributes,
            },
        );
    }
    batch
}

/// Record `i`'s own attributes, borrowed from the columns.
fn attributes_of(batch: &ColumnBatch, i: usize) -> impl Iterator<Item = (&str, ValueRef<'_>)> {
    range(&batch.attribute_ends, i).map(|a| {
        let number = batch.attribute_numbers.get(a).copied().unwrap_or(0);
        let value = match batch.attribute_kinds.get(a) {
            Some(1) => ValueRef::Int(i64::from_ne_bytes(number.to_ne_bytes())),
            Some(2) => ValueRef::Float(f64::from_bits(number)),
            Some(3) => ValueRef::Bool(number != 0),
            _ => ValueRef::String(text(
                &batch.attribute_strings,
                &batch.attribute_string_ends,
                a,
            )),
        };
        (
            text(&batch.attribute_keys, &batch.attribute_key_ends, a),
            value,
        )
    })
}

/// Record `i`'s own attributes, owned.
fn own_attributes(batch: &ColumnBatch, i: usize) -> Vec<Attribute> {
    attributes_of(batch, i)
        .map(|(key, value)| Attribute {
            key: key.to_owned(),
            value: match value {
                ValueRef::String(s) => Value::String(s.to_owned()),
                ValueRef::Int(n) => Value::Int(n),
                ValueRef::Float(f) => Value::Float(f),
                ValueRef::Bool(b) => Value::Boolean(b),
            },
        })
        .collect()
}

/// `batch` as records, for a `processor`.
pub fn to_rows(batch: &ColumnBatch) -> Batch {
    let records = (0..len(batch))
        .map(|i| LogRecord {
            origin: u32::try_from(i).unwrap_or(u32::MAX),
            timestamp: batch.timestamps.get(i).copied().unwrap_or(0),
            severity_number: batch.severity_numbers.get(i).copied().unwrap_or(0),
            severity_text: text(&batch.severity_texts, &batch.severity_text_ends, i).to_owned(),
            body: text(&batch.bodies, &batch.body_ends, i).to_owned(),
            attributes: own_attributes(batch, i),
            shared_attributes: batch.shared_of.get(i).copied().unwrap_or(0),
            resource: batch.resource_of.get(i).copied().unwrap_or(0),
        })
        .collect();
    Batch {
        resources: batch.resources.clone(),
        shared_attributes: batch.shared_attributes.clone(),
        records,
    }
}

/// Records `part` of `batch`, as a batch of its own (its first record is
/// record 0).
pub fn slice(batch: &ColumnBatch, part: Range<usize>) -> ColumnBatch {
    let mut out = with_capacity(part.len(), 0);
    out.resources = batch.resources.clone();
    out.shared_attributes = batch.shared_attributes.clone();
    for i in part {
        let attributes = attributes_of(batch, i);
        push(
            &mut out,
            NewRecord {
                resource: batch.resource_of.get(i).copied().unwrap_or(0),
                shared: batch.shared_of.get(i).copied().unwrap_or(0),
                timestamp: batch.timestamps.get(i).copied().unwrap_or(0),
                severity_number: batch.severity_numbers.get(i).copied().unwrap_or(0),
                severity_text: text(&batch.severity_texts, &batch.severity_text_ends, i),
                body: text(&batch.bodies, &batch.body_ends, i),
                attributes,
            },
        );
    }
    out
}

/// Bytes of what a processor may change in record `i`: body, severity
/// text and own attributes (8 for a number, 1 for a boolean).
pub fn record_bytes(batch: &ColumnBatch, i: usize) -> u64 {
    let attributes: usize = range(&batch.attribute_ends, i)
        .map(|a| {
            range(&batch.attribute_key_ends, a).len()
                + match batch.attribute_kinds.get(a) {
                    Some(1 | 2) => 8,
                    Some(3) => 1,
                    _ => range(&batch.attribute_string_ends, a).len(),
                }
        })
        .sum();
    (range(&batch.body_ends, i).len() + range(&batch.severity_text_ends, i).len() + attributes)
        as u64
}

/// Bytes of a batch's records (as [`record_bytes`]), at least one page so
/// that a tiny batch may still grow a little.
pub fn batch_bytes(batch: &ColumnBatch) -> u64 {
    let attributes = batch.attribute_keys.len()
        + batch.attribute_strings.len()
        + batch
            .attribute_kinds
            .iter()
            .map(|k| match k {
                1 | 2 => 8,
                3 => 1,
                _ => 0,
            })
            .sum::<usize>();
    ((batch.bodies.len() + batch.severity_texts.len() + attributes) as u64).max(4096)
}

/// The most bytes a processor may return for `batch`.
pub fn max_output_bytes(batch: &ColumnBatch, bound: OutputBound) -> u64 {
    batch_bytes(batch).saturating_mul(u64::from(bound.max_bytes_per_input))
}

// === impl Outcome ===

impl Outcome {
    /// A `column-processor`'s answer, its replacements put in batch order
    /// (a stable sort by origin, which a processor that wrote them in
    /// batch order, the usual case, does not need).
    pub fn from_columns(answer: ColumnOutcome) -> Outcome {
        let ColumnOutcome {
            verdicts,
            mut changed,
        } = answer;
        if !changed.is_sorted_by_key(|r| r.origin) {
            changed.sort_by_key(|r| r.origin);
        }
        Outcome::Verdicts { verdicts, changed }
    }

    /// How many records go on.
    pub fn len(&self) -> usize {
        match self {
            Outcome::Records(records) => records.len(),
            Outcome::Verdicts { verdicts, changed } => {
                verdicts.iter().filter(|v| **v == KEEP).count() + changed.len()
            }
        }
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records that go on as a `processor` would have returned them:
    /// a record kept as it came changes nothing.
    pub fn into_records(self, batch: &ColumnBatch) -> Vec<ProcessedRecord> {
        match self {
            Outcome::Records(records) => records,
            Outcome::Verdicts { verdicts, changed } => {
                let mut changed = changed.into_iter().peekable();
                let mut out = Vec::new();
                for (i, verdict) in verdicts.iter().enumerate() {
                    let origin = u32::try_from(i).unwrap_or(u32::MAX);
                    match *verdict {
                        KEEP => out.push(ProcessedRecord {
                            origin,
                            timestamp: batch.timestamps.get(i).copied().unwrap_or(0),
                            severity_number: batch.severity_numbers.get(i).copied().unwrap_or(0),
                            severity_text: None,
                            body: None,
                            attributes: None,
                        }),
                        REPLACE => out.extend(std::iter::from_fn(|| {
                            changed.next_if(|r| r.origin == origin)
                        })),
                        _ => {}
                    }
                }
                out
            }
        }
    }

    /// The outcome of a part of a batch that started at record `offset`,
    /// as the whole batch's.
    pub fn shifted(self, offset: u32) -> Outcome {
        let shift = |records: Vec<ProcessedRecord>| -> Vec<ProcessedRecord> {
            records
                .into_iter()
                .map(|r| ProcessedRecord {
                    origin: r.origin.saturating_add(offset),
                    ..r
                })
                .collect()
        };
        match self {
            Outcome::Records(records) => Outcome::Records(shift(records)),
            Outcome::Verdicts { verdicts, changed } => Outcome::Verdicts {
                verdicts,
                changed: shift(changed),
            },
        }
    }

    /// The outcomes of consecutive parts of a batch (each already
    /// [`shifted`](Outcome::shifted)) as one; `None` when they are not all
    /// of one kind (a plugin replaced by one of the other world between
    /// two parts).
    pub fn concat(parts: Vec<Outcome>) -> Option<Outcome> {
        let mut whole = Outcome::Records(Vec::new());
        for (i, part) in parts.into_iter().enumerate() {
            whole = match (whole, part) {
                (_, part) if i == 0 => part,
                (Outcome::Records(mut all), Outcome::Records(more)) => {
                    all.extend(more);
                    Outcome::Records(all)
                }
                (
                    Outcome::Verdicts {
                        mut verdicts,
                        mut changed,
                    },
                    Outcome::Verdicts {
                        verdicts: more_verdicts,
                        changed: more_changed,
                    },
                ) => {
                    verdicts.extend(more_verdicts);
                    changed.extend(more_changed);
                    Outcome::Verdicts { verdicts, changed }
                }
                _ => return None,
            };
        }
        Some(whole)
    }
}

/// Bytes a processor sent back for a record: what it changed.
fn processed_bytes(record: &ProcessedRecord) -> u64 {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len) as u64;
    let attributes = record.attributes.as_deref().map_or(0, |attributes| {
        attributes
            .iter()
            .map(|a| {
                a.key.len()
                    + match &a.value {
                        Value::String(s) => s.len(),
                        Value::Int(_) | Value::Float(_) => 8,
                        Value::Boolean(_) => 1,
                    }
            })
            .sum::<usize>() as u64
    });
    text(&record.body) + text(&record.severity_text) + attributes
}

/// Checks `outcome` against the batch it answers and `bound`: every record
/// names a record of the batch, verdicts cover the batch and replacements
/// stand for records marked so, and no more records or bytes than the
/// bound allow.
pub fn check_outcome(
    outcome: &Outcome,
    batch: &ColumnBatch,
    bound: OutputBound,
    max_bytes: u64,
) -> Result<(), ProcessFailure> {
    let invalid = |message: String| ProcessFailure {
        reason: ProcessFailureReason::Sandbox(FailureReason::InvalidOutput),
        message,
    };
    let too_large = |message: String| ProcessFailure {
        reason: ProcessFailureReason::Sandbox(FailureReason::OutputTooLarge),
        message,
    };
    let n = len(batch);
    let records = match outcome {
        Outcome::Records(records) => records,
        Outcome::Verdicts { verdicts, changed } => {
            if verdicts.len() != n {
                return Err(invalid(format!(
                    "{} verdicts returned for a batch of {n} records",
                    verdicts.len()
                )));
            }
            if let Some(i) = verdicts.iter().position(|v| *v > REPLACE) {
                return Err(invalid(format!(
                    "verdict {} for record {i}, expected 0 (drop), 1 (keep) or 2 (replace)",
                    verdicts[i]
                )));
            }
            for (i, record) in changed.iter().enumerate() {
                match verdicts.get(record.origin as usize) {
                    Some(&REPLACE) => {}
                    Some(verdict) => {
                        return Err(invalid(format!(
                            "changed record {i} names origin {}, whose verdict is {verdict}, not 2 (replace)",
                            record.origin
                        )));
                    }
                    None => {}
                }
            }
            if !changed.is_sorted_by_key(|r| r.origin) {
                return Err(invalid("replacements out of batch order".into()));
            }
            changed
        }
    };
    let max_records = n
        .max(1)
        .saturating_mul(bound.max_records_per_input as usize);
    let returned = outcome.len();
    if returned > max_records {
        return Err(too_large(format!(
            "{returned} records returned for {n} given (at most {} per record)",
            bound.max_records_per_input
        )));
    }
    let bytes: u64 = records.iter().map(processed_bytes).sum();
    if bytes > max_bytes {
        return Err(too_large(format!(
            "{bytes} bytes returned, over the bound of {max_bytes} ({} times the batch)",
            bound.max_bytes_per_input
        )));
    }
    for (i, record) in records.iter().enumerate() {
        if record.origin as usize >= n {
            return Err(invalid(format!(
                "record {i} names origin {} in a batch of {n} records",
                record.origin
            )));
        }
        if record.severity_number > 24 {
            return Err(invalid(format!(
                "record {i} has severity number {}, expected 0 to 24",
                record.severity_number
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
