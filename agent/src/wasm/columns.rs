//! A batch for a `column-processor` (interface `columns`), and its answer
//! turned back into the records a `processor` would have returned.
//!
//! The transform builds one kind of batch ([`Batch`], a record at a time)
//! whatever world its plugin targets, so a plugin worker, the output bound
//! and the transform's bookkeeping see one shape. For a column processor
//! the batch is laid out by column just before the call: a few appends per
//! record into lists the canonical ABI copies in one piece each, instead of
//! a call into the guest's allocator for every string and list. The
//! verdicts come back as one byte per record; a record kept as it came
//! becomes a [`ProcessedRecord`] that changes nothing.

use super::bindings::v0_1_columns::neurallog::plugin::columns::{ColumnBatch, ColumnOutcome};
use super::processor::{Attribute, Batch, ProcessedRecord, Value};

/// Verdict: dropped on purpose.
const DROP: u8 = 0;
/// Verdict: kept as it came.
const KEEP: u8 = 1;
/// Verdict: replaced by its entries in `changed`.
const REPLACE: u8 = 2;

/// `batch` by column.
pub fn to_columns(batch: &Batch) -> ColumnBatch {
    let n = batch.records.len();
    let body_bytes = batch.records.iter().map(|r| r.body.len()).sum();
    let mut columns = ColumnBatch {
        resources: batch.resources.clone(),
        shared_attributes: batch.shared_attributes.clone(),
        resource_of: Vec::with_capacity(n),
        shared_of: Vec::with_capacity(n),
        timestamps: Vec::with_capacity(n),
        severity_numbers: Vec::with_capacity(n),
        severity_texts: String::new(),
        severity_text_ends: Vec::with_capacity(n),
        bodies: String::with_capacity(body_bytes),
        body_ends: Vec::with_capacity(n),
        attribute_keys: String::new(),
        attribute_key_ends: Vec::new(),
        attribute_kinds: Vec::new(),
        attribute_strings: String::new(),
        attribute_string_ends: Vec::new(),
        attribute_numbers: Vec::new(),
        attribute_ends: Vec::with_capacity(n),
    };
    for record in &batch.records {
        columns.resource_of.push(record.resource);
        columns.shared_of.push(record.shared_attributes);
        columns.timestamps.push(record.timestamp);
        columns.severity_numbers.push(record.severity_number);
        columns.severity_texts.push_str(&record.severity_text);
        columns
            .severity_text_ends
            .push(end(&columns.severity_texts));
        columns.bodies.push_str(&record.body);
        columns.body_ends.push(end(&columns.bodies));
        for attribute in &record.attributes {
            push_attribute(&mut columns, attribute);
        }
        columns.attribute_ends.push(count(&columns.attribute_kinds));
    }
    columns
}

fn push_attribute(columns: &mut ColumnBatch, attribute: &Attribute) {
    columns.attribute_keys.push_str(&attribute.key);
    columns
        .attribute_key_ends
        .push(end(&columns.attribute_keys));
    let (kind, number) = match &attribute.value {
        Value::String(s) => {
            columns.attribute_strings.push_str(s);
            (0, 0)
        }
        Value::Int(n) => (1, u64::from_ne_bytes(n.to_ne_bytes())),
        Value::Float(f) => (2, f.to_bits()),
        Value::Boolean(b) => (3, u64::from(*b)),
    };
    columns.attribute_kinds.push(kind);
    columns.attribute_numbers.push(number);
    columns
        .attribute_string_ends
        .push(end(&columns.attribute_strings));
}

/// Where a column's last item ends. A batch is bounded far below 4 GiB
/// (the transform's batch size times the largest line); saturating keeps a
/// wrong bound a wrong range the guest sees, never a wrap.
fn end(column: &str) -> u32 {
    u32::try_from(column.len()).unwrap_or(u32::MAX)
}

fn count<T>(column: &[T]) -> u32 {
    u32::try_from(column.len()).unwrap_or(u32::MAX)
}

/// The records `outcome` keeps, in order, as a `processor` would have
/// returned them for `batch`; or what is wrong with it.
pub fn from_outcome(outcome: ColumnOutcome, batch: &Batch) -> Result<Vec<ProcessedRecord>, String> {
    let ColumnOutcome { verdicts, changed } = outcome;
    if verdicts.len() != batch.records.len() {
        return Err(format!(
            "{} verdicts returned for a batch of {} records",
            verdicts.len(),
            batch.records.len()
        ));
    }
    if let Some(i) = verdicts.iter().position(|v| *v > REPLACE) {
        return Err(format!(
            "verdict {} for record {i}, expected 0 (drop), 1 (keep) or 2 (replace)",
            verdicts[i]
        ));
    }
    for (i, record) in changed.iter().enumerate() {
        match verdicts.get(record.origin as usize) {
            Some(&REPLACE) => {}
            Some(verdict) => {
                return Err(format!(
                    "changed record {i} names origin {}, whose verdict is {verdict}, not 2 (replace)",
                    record.origin
                ));
            }
            None => {
                return Err(format!(
                    "changed record {i} names origin {} in a batch of {} records",
                    record.origin,
                    batch.records.len()
                ));
            }
        }
    }
    // Replacements go in their origin's place, in the order they came: a
    // stable sort by origin, which a processor that wrote them in batch
    // order (the usual case) does not need.
    let mut changed = changed;
    if !changed.is_sorted_by_key(|r| r.origin) {
        changed.sort_by_key(|r| r.origin);
    }
    let kept = verdicts.iter().filter(|v| **v == KEEP).count();
    let mut out = Vec::with_capacity(kept + changed.len());
    let mut replacements = changed.into_iter().peekable();
    for (verdict, record) in verdicts.iter().zip(&batch.records) {
        match *verdict {
            KEEP => out.push(ProcessedRecord {
                origin: record.origin,
                timestamp: record.timestamp,
                severity_number: record.severity_number,
                severity_text: None,
                body: None,
                attributes: None,
            }),
            REPLACE => {
                while let Some(replacement) = replacements.next_if(|r| r.origin == record.origin) {
                    out.push(replacement);
                }
            }
            _ => debug_assert_eq!(*verdict, DROP),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm::processor::{LogRecord, Resource};

    fn batch(bodies: &[&str]) -> Batch {
        Batch {
            resources: vec![Resource {
                attributes: Vec::new(),
            }],
            shared_attributes: vec![Vec::new()],
            records: bodies
                .iter()
                .zip(0u32..)
                .map(|(body, origin)| LogRecord {
                    origin,
                    timestamp: u64::from(origin) + 100,
                    severity_number: 9,
                    severity_text: if origin == 1 {
                        "WARN".into()
                    } else {
                        String::new()
                    },
                    body: (*body).to_owned(),
                    attributes: if origin == 2 {
                        vec![
                            Attribute {
                                key: "status".into(),
                                value: Value::Int(-503),
                            },
                            Attribute {
                                key: "path".into(),
                                value: Value::String("/x".into()),
                            },
                            Attribute {
                                key: "ratio".into(),
                                value: Value::Float(0.5),
                            },
                            Attribute {
                                key: "ok".into(),
                                value: Value::Boolean(true),
                            },
                        ]
                    } else {
                        Vec::new()
                    },
                    shared_attributes: 0,
                    resource: 0,
                })
                .collect(),
        }
    }

    fn replacement(origin: u32, body: &str) -> ProcessedRecord {
        ProcessedRecord {
            origin,
            timestamp: 7,
            severity_number: 13,
            severity_text: None,
            body: Some(body.to_owned()),
            attributes: None,
        }
    }

    /// Record `i`'s range of a column with ends.
    fn range(ends: &[u32], i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        start..ends[i] as usize
    }

    #[test]
    fn every_field_of_every_record_is_found_at_its_offsets() {
        let input = batch(&["first", "", "third one"]);
        let columns = to_columns(&input);
        assert_eq!(columns.body_ends, [5, 5, 14]);
        for (i, record) in input.records.iter().enumerate() {
            assert_eq!(&columns.bodies[range(&columns.body_ends, i)], record.body);
            assert_eq!(
                &columns.severity_texts[range(&columns.severity_text_ends, i)],
                record.severity_text
            );
            assert_eq!(columns.timestamps[i], record.timestamp);
            assert_eq!(columns.severity_numbers[i], record.severity_number);
            let own: Vec<Attribute> = range(&columns.attribute_ends, i)
                .map(|a| {
                    let number = columns.attribute_numbers[a];
                    Attribute {
                        key: columns.attribute_keys[range(&columns.attribute_key_ends, a)]
                            .to_owned(),
                        value: match columns.attribute_kinds[a] {
                            0 => Value::String(
                                columns.attribute_strings[range(&columns.attribute_string_ends, a)]
                                    .to_owned(),
                            ),
                            1 => Value::Int(i64::from_ne_bytes(number.to_ne_bytes())),
                            2 => Value::Float(f64::from_bits(number)),
                            _ => Value::Boolean(number != 0),
                        },
                    }
                })
                .collect();
            // The generated types compare by their debug form only.
            assert_eq!(
                format!("{own:?}"),
                format!("{:?}", record.attributes),
                "record {i}"
            );
        }
    }

    #[test]
    fn verdicts_keep_drop_and_replace_in_batch_order() {
        let input = batch(&["a", "b", "c", "d"]);
        let outcome = ColumnOutcome {
            verdicts: vec![KEEP, DROP, REPLACE, REPLACE],
            // Out of order: the second of record 2's parts comes last.
            changed: vec![
                replacement(2, "c1"),
                replacement(3, "d1"),
                replacement(2, "c2"),
            ],
        };
        let out = from_outcome(outcome, &input).unwrap();
        let summary: Vec<(u32, Option<&str>)> =
            out.iter().map(|r| (r.origin, r.body.as_deref())).collect();
        assert_eq!(
            summary,
            [(0, None), (2, Some("c1")), (2, Some("c2")), (3, Some("d1"))]
        );
        // A kept record keeps its own timestamp and severity.
        assert_eq!((out[0].timestamp, out[0].severity_number), (100, 9));
    }

    #[test]
    fn a_replaced_record_with_no_replacements_is_dropped() {
        let input = batch(&["a", "b"]);
        let outcome = ColumnOutcome {
            verdicts: vec![REPLACE, KEEP],
            changed: Vec::new(),
        };
        let out = from_outcome(outcome, &input).unwrap();
        assert_eq!(out.iter().map(|r| r.origin).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn wrong_verdicts_or_stray_replacements_are_refused() {
        let input = batch(&["a", "b"]);
        let refused = |verdicts: Vec<u8>, changed: Vec<ProcessedRecord>| {
            from_outcome(ColumnOutcome { verdicts, changed }, &input).unwrap_err()
        };
        assert!(refused(vec![KEEP], Vec::new()).contains("1 verdicts returned for a batch of 2"));
        assert!(refused(vec![KEEP, 3], Vec::new()).contains("verdict 3 for record 1"));
        assert!(
            refused(vec![KEEP, KEEP], vec![replacement(1, "x")])
                .contains("names origin 1, whose verdict is 1")
        );
        assert!(
            refused(vec![REPLACE, KEEP], vec![replacement(9, "x")])
                .contains("names origin 9 in a batch of 2")
        );
    }
}
