//! A log processor (world `processor`) that is well-behaved or hostile on
//! demand, for the `wasm` transform's tests and benchmark.
//!
//! `config.mode` picks what it does with a batch:
//!
//! - `tag` (the default): returns every record, with attribute
//!   `processor.batch` set to how many batches this instance has processed
//!   (1 for the first batch of a fresh instance);
//! - `identity`: returns the batch unchanged;
//! - `drop_half`: drops the records whose body has the field `keep=no`.
//!
//! In mode `tag`, a batch holding a record whose body contains one of these
//! words turns it hostile for that batch: `TRAP` panics, `LOOP` spins
//! forever, `GROW` allocates until memory runs out, `HUGE` returns 1000
//! copies of every record, `ERROR` returns the plugin's own error, `ORIGIN`
//! returns a record naming an origin outside the batch. The other modes do
//! their job and nothing else (no scan of every body for these words), so
//! the benchmark measures the agent, not the guest.

#![allow(
    clippy::too_many_arguments,
    reason = "the bindings wit-bindgen generates for a batch of records take its fields flat"
)]

use std::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/processor@0.1.0" });

use neurallog::plugin::processing::{Attribute, LogRecord, Value};

/// Batches this instance has processed.
static BATCHES: AtomicU64 = AtomicU64::new(0);

struct Processor;

impl Guest for Processor {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "processor".into(),
            version: "0.1.0".into(),
            description: "Tags, passes or drops records; hostile on demand.".into(),
            config_schema: r#"{"type":"object","additionalProperties":false,"properties":{"mode":{"enum":["tag","identity","drop_half"]}}}"#.into(),
        }
    }

    fn process(config: String, batch: Batch) -> Result<Vec<ProcessedRecord>, ProcessError> {
        let config: serde_json::Value = serde_json::from_str(&config)
            .map_err(|e| ProcessError::InvalidConfig(e.to_string()))?;
        let mode = config.get("mode").and_then(|m| m.as_str()).unwrap_or("tag");
        let has = |word: &str| mode == "tag" && batch.records.iter().any(|r| r.body.contains(word));
        if has("TRAP") {
            panic!("processor: deliberate panic on a TRAP record");
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
        if has("HUGE") {
            let copies = batch.records.iter().flat_map(|r| {
                let mut copy = unchanged(r);
                copy.body = Some(r.body.clone());
                std::iter::repeat_n(copy, 1000)
            });
            return Ok(copies.collect());
        }
        if has("ORIGIN") {
            let mut record = unchanged(&batch.records[0]);
            record.origin = u32::MAX;
            return Ok(vec![record]);
        }
        let seq = BATCHES.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(match mode {
            "identity" => batch.records.iter().map(unchanged).collect(),
            "drop_half" => batch
                .records
                .iter()
                .filter(|r| !r.body.contains("keep=no"))
                .map(unchanged)
                .collect(),
            _ => batch
                .records
                .into_iter()
                .map(|r| {
                    let mut out = unchanged(&r);
                    let mut attributes = r.attributes;
                    attributes.push(Attribute {
                        key: "processor.batch".into(),
                        value: Value::Int(seq as i64),
                    });
                    out.attributes = Some(attributes);
                    out
                })
                .collect(),
        })
    }
}

/// `record` returned as it came.
fn unchanged(record: &LogRecord) -> ProcessedRecord {
    ProcessedRecord {
        origin: record.origin,
        timestamp: record.timestamp,
        severity_number: record.severity_number,
        severity_text: None,
        body: None,
        attributes: None,
    }
}

export!(Processor);
