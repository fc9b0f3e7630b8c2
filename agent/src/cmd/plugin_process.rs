//! `neurallog-agent plugin run` for a processor (world `processor` or
//! `column-processor`):
//! records from a file or stdin, through the plugin in batches, out as JSON
//! lines on stdout.
//!
//! Each input line is a record: a JSON object with any of `body`,
//! `attributes` (an object), `severity_number`, `severity_text`,
//! `timestamp` (Unix nanoseconds) and `resource` (an object of resource
//! attributes), or any other line, taken whole as the body. Each output
//! line is a record the processor returned, in the same shape.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::{EXIT_CONFIG, EXIT_FAILURE, EXIT_OK};
use crate::wasm::{
    Attribute, Batch, LoadedProcessor, LogRecord, OutputBound, ProcessedRecord, Resource, Value,
};

/// How much a processor may return under `plugin run`: the agent's
/// defaults for a `wasm` transform.
const BOUND: OutputBound = OutputBound {
    max_records_per_input: 16,
    max_bytes_per_input: 8,
};

/// Runs `plugin` over the records of `input` (stdin for `-`), `batch_size`
/// at a time; returns the exit code.
pub(super) async fn run(
    plugin: &std::sync::Arc<LoadedProcessor>,
    config_json: &str,
    input: &Path,
    batch_size: usize,
) -> u8 {
    let reader: Box<dyn BufRead> = if input == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(input) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(error) => {
                eprintln!("{}: cannot read the records: {error}", input.display());
                return EXIT_CONFIG;
            }
        }
    };
    let mut instance = plugin.instance();
    let mut pending = Pending::default();
    let mut stdout = std::io::stdout().lock();
    let mut lines = reader.lines();
    loop {
        let line = match lines.next().transpose() {
            Ok(line) => line,
            Err(error) => {
                eprintln!("{}: cannot read the records: {error}", input.display());
                return EXIT_FAILURE;
            }
        };
        let end = line.is_none();
        if let Some(line) = line {
            pending.push(&line);
        }
        if pending.batch.records.len() >= batch_size.max(1)
            || (end && !pending.batch.records.is_empty())
        {
            let batch = std::mem::take(&mut pending);
            let columns = crate::wasm::columns::to_columns(&batch.batch);
            match instance.process(config_json, &columns, BOUND).await {
                Ok(outcome) => {
                    for record in &outcome.into_records(&columns) {
                        let line = to_json(record, &batch.batch);
                        if writeln!(stdout, "{line}").is_err() {
                            return EXIT_FAILURE;
                        }
                    }
                }
                Err(failure) => {
                    eprintln!("error: {failure}");
                    return EXIT_FAILURE;
                }
            }
        }
        if end {
            return EXIT_OK;
        }
    }
}

/// The batch being filled, with its resources by their JSON.
struct Pending {
    batch: Batch,
    resources: Vec<Json>,
}

// === impl Pending ===

impl Default for Pending {
    fn default() -> Self {
        Pending {
            // One empty shared set: records read here share nothing.
            batch: Batch {
                resources: Vec::new(),
                shared_attributes: vec![Vec::new()],
                records: Vec::new(),
            },
            resources: Vec::new(),
        }
    }
}

impl Pending {
    fn push(&mut self, line: &str) {
        let object = match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(object)) => object,
            _ => Map::from_iter([("body".to_owned(), Json::String(line.to_owned()))]),
        };
        let resource_json = object.get("resource").cloned().unwrap_or(json!({}));
        let resource = match self.resources.iter().position(|r| *r == resource_json) {
            Some(index) => index,
            None => {
                self.batch.resources.push(Resource {
                    attributes: attributes(&resource_json),
                });
                self.resources.push(resource_json);
                self.resources.len() - 1
            }
        };
        let text = |key: &str| match object.get(key) {
            Some(Json::String(s)) => s.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => String::new(),
        };
        let number = |key: &str| object.get(key).and_then(Json::as_u64).unwrap_or(0);
        self.batch.records.push(LogRecord {
            origin: u32::try_from(self.batch.records.len()).unwrap_or(u32::MAX),
            timestamp: number("timestamp"),
            severity_number: u8::try_from(number("severity_number").min(24)).unwrap_or(0),
            severity_text: text("severity_text"),
            body: text("body"),
            attributes: attributes(object.get("attributes").unwrap_or(&Json::Null)),
            shared_attributes: 0,
            resource: u32::try_from(resource).unwrap_or(u32::MAX),
        });
    }
}

/// The attributes of a JSON object: numbers that are integers as `int`,
/// other numbers as `float`, booleans, strings, and anything else as its
/// JSON text.
fn attributes(object: &Json) -> Vec<Attribute> {
    let Json::Object(object) = object else {
        return Vec::new();
    };
    object
        .iter()
        .map(|(key, value)| Attribute {
            key: key.clone(),
            value: match value {
                Json::String(s) => Value::String(s.clone()),
                Json::Bool(b) => Value::Boolean(*b),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => Value::String(other.to_string()),
            },
        })
        .collect()
}

/// A returned record as JSON: what it changed, the rest from its origin.
fn to_json(record: &ProcessedRecord, batch: &Batch) -> Json {
    let object = |attributes: &[Attribute]| {
        Json::Object(
            attributes
                .iter()
                .map(|a| {
                    let value = match &a.value {
                        Value::String(s) => json!(s),
                        Value::Int(n) => json!(n),
                        Value::Float(n) => json!(n),
                        Value::Boolean(b) => json!(b),
                    };
                    (a.key.clone(), value)
                })
                .collect(),
        )
    };
    // `check_output` made sure the origin is in the batch.
    let Some(origin) = batch.records.get(record.origin as usize) else {
        return Json::Null;
    };
    let resource = batch
        .resources
        .get(origin.resource as usize)
        .map(|r| object(&r.attributes))
        .unwrap_or(json!({}));
    json!({
        "body": record.body.as_ref().unwrap_or(&origin.body),
        "attributes": object(record.attributes.as_deref().unwrap_or(&origin.attributes)),
        "severity_number": record.severity_number,
        "severity_text": record.severity_text.as_ref().unwrap_or(&origin.severity_text),
        "timestamp": record.timestamp,
        "resource": resource,
    })
}
