//! A log processor of world `column-processor` (its batches by column),
//! well-behaved or hostile on demand, for the `wasm` transform's tests and
//! benchmark. The same modes and hostile words as the `processor` guest:
//!
//! - `tag` (the default): replaces every record with itself plus attribute
//!   `processor.batch`, how many batches this instance has processed;
//! - `identity`: keeps every record as it came;
//! - `drop_half`: drops the records whose body has the field `keep=no`.
//!
//! In mode `tag`, a batch holding a record whose body contains one of these
//! words turns it hostile: `TRAP` panics, `LOOP` spins forever, `GROW`
//! allocates until memory runs out, `HUGE` replaces every record with 1000
//! copies, `ERROR` returns the plugin's own error, `ORIGIN` returns a
//! replacement naming an origin outside the batch, `VERDICTS` returns one
//! verdict too few.

use std::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({ path: "../../../wit", world: "neurallog:plugin/column-processor@0.1.1" });

use neurallog::plugin::processing::{Attribute, ProcessedRecord, Value};

/// Batches this instance has processed.
static BATCHES: AtomicU64 = AtomicU64::new(0);

const DROP: u8 = 0;
const KEEP: u8 = 1;
const REPLACE: u8 = 2;

struct Columns;

impl Guest for Columns {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "columns".into(),
            version: "0.1.1".into(),
            description: "Tags, passes or drops records by column; hostile on demand.".into(),
            config_schema: r#"{"type":"object","additionalProperties":false,"properties":{"mode":{"enum":["tag","identity","drop_half"]}}}"#.into(),
        }
    }

    fn process_columns(config: String, batch: ColumnBatch) -> Result<ColumnOutcome, ProcessError> {
        let config: serde_json::Value = serde_json::from_str(&config)
            .map_err(|e| ProcessError::InvalidConfig(e.to_string()))?;
        let mode = config.get("mode").and_then(|m| m.as_str()).unwrap_or("tag");
        let len = batch.body_ends.len();
        let body = |i: usize| {
            let start = if i == 0 {
                0
            } else {
                batch.body_ends[i - 1] as usize
            };
            &batch.bodies[start..batch.body_ends[i] as usize]
        };
        match mode {
            "identity" => {
                return Ok(ColumnOutcome {
                    verdicts: vec![KEEP; len],
                    changed: Vec::new(),
                });
            }
            "drop_half" => {
                let verdicts = (0..len)
                    .map(|i| {
                        if body(i).contains("keep=no") {
                            DROP
                        } else {
                            KEEP
                        }
                    })
                    .collect();
                return Ok(ColumnOutcome {
                    verdicts,
                    changed: Vec::new(),
                });
            }
            _ => {}
        }
        let has = |word: &str| batch.bodies.contains(word);
        if has("TRAP") {
            panic!("columns: deliberate panic on a TRAP record");
        }
        if has("LOOP") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if has("GROW") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut chunk = vec![0u8; 1 << 20];
                for i in (0..chunk.len()).step_by(4096) {
                    chunk[i] = 1;
                }
                hoard.push(std::hint::black_box(chunk));
            }
        }
        if has("ERROR") {
            return Err(ProcessError::Failed("an ERROR record".into()));
        }
        let unchanged = |i: usize| ProcessedRecord {
            origin: i as u32,
            timestamp: batch.timestamps[i],
            severity_number: batch.severity_numbers[i],
            severity_text: None,
            body: None,
            attributes: None,
        };
        if has("HUGE") {
            let changed = (0..len)
                .flat_map(|i| {
                    let mut copy = unchanged(i);
                    copy.body = Some(body(i).to_owned());
                    std::iter::repeat_n(copy, 1000)
                })
                .collect();
            return Ok(ColumnOutcome {
                verdicts: vec![REPLACE; len],
                changed,
            });
        }
        if has("ORIGIN") {
            let mut record = unchanged(0);
            record.origin = u32::MAX;
            return Ok(ColumnOutcome {
                verdicts: vec![REPLACE; len],
                changed: vec![record],
            });
        }
        if has("VERDICTS") {
            return Ok(ColumnOutcome {
                verdicts: vec![KEEP; len - 1],
                changed: Vec::new(),
            });
        }
        let seq = BATCHES.fetch_add(1, Ordering::Relaxed) + 1;
        let changed = (0..len)
            .map(|i| {
                let mut out = unchanged(i);
                let mut attributes = own_attributes(&batch, i);
                attributes.push(Attribute {
                    key: "processor.batch".into(),
                    value: Value::Int(seq as i64),
                });
                out.attributes = Some(attributes);
                out
            })
            .collect();
        Ok(ColumnOutcome {
            verdicts: vec![REPLACE; len],
            changed,
        })
    }
}

/// Record `i`'s own attributes, read back from the columns.
fn own_attributes(batch: &ColumnBatch, i: usize) -> Vec<Attribute> {
    let start = if i == 0 {
        0
    } else {
        batch.attribute_ends[i - 1] as usize
    };
    (start..batch.attribute_ends[i] as usize)
        .map(|a| {
            let range = |ends: &[u32]| {
                let from = if a == 0 { 0 } else { ends[a - 1] as usize };
                from..ends[a] as usize
            };
            let key = batch.attribute_keys[range(&batch.attribute_key_ends)].to_owned();
            let number = batch.attribute_numbers[a];
            let value = match batch.attribute_kinds[a] {
                1 => Value::Int(number as i64),
                2 => Value::Float(f64::from_bits(number)),
                3 => Value::Boolean(number != 0),
                _ => Value::String(
                    batch.attribute_strings[range(&batch.attribute_string_ends)].to_owned(),
                ),
            };
            Attribute { key, value }
        })
        .collect()
}

export!(Columns);
