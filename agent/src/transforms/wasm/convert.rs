//! Between the agent's events and the batch a processor sees.
//!
//! A batch goes to the processor by column (see [`crate::wasm::columns`]):
//! its log records' bodies, timestamps, severities and own attributes, and,
//! each listed once, the attribute sets they share with their source (a
//! file's path) and the resources they belong to. Values the WIT cannot
//! carry (bytes, arrays, maps) go as their text and come back as strings.
//! Metrics and check results do not go to the processor: they pass by it.
//!
//! What comes back names, for each record, the record it came from: a
//! verdict per record (kept as it came, dropped, replaced), or, from a
//! `processor`, each record with its `origin`. The new record is that one,
//! with what the processor changed; a body or attribute list it left
//! unchanged is not sent back at all, so the agent's own copy (its body
//! still a view into the read buffer) goes on.

use std::sync::Arc;

use crate::event::{AnyValue, Attributes, Event, LogRecord};
use crate::wasm::columns::{self, DROP, NewRecord, REPLACE, ValueRef};
use crate::wasm::{
    Attribute, ColumnBatch, Outcome, ProcessedRecord, Resource as WitResource, Value,
};

/// A batch ready for the processor.
#[derive(Debug)]
pub struct Prepared {
    /// What the processor is given.
    pub batch: ColumnBatch,
    /// Position in the events of each log record, by origin.
    positions: Vec<usize>,
}

/// The processor's view of the log records in `events`.
pub fn prepare(events: &[Event]) -> Prepared {
    let (logs, body_bytes) = events.iter().fold((0, 0), |(n, bytes), event| match event {
        Event::Log(log) => (n + 1, bytes + log.body.len()),
        _ => (n, bytes),
    });
    let mut positions = Vec::with_capacity(logs);
    let mut batch = columns::with_capacity(logs, body_bytes);
    // Records of one batch nearly always share one resource and one
    // attribute set: a linear search over a handful beats hashing.
    let mut resources: Vec<*const crate::event::Resource> = Vec::new();
    let mut shared: Vec<*const Attributes> = Vec::new();
    for (position, event) in events.iter().enumerate() {
        let Event::Log(log) = event else { continue };
        let resource = index_of(&mut resources, Arc::as_ptr(&log.resource), || {
            batch.resources.push(WitResource {
                attributes: to_wit_attributes(&log.resource.attributes),
            });
        });
        let shared_attributes = index_of(&mut shared, Arc::as_ptr(&log.shared_attributes), || {
            batch
                .shared_attributes
                .push(to_wit_attributes(&log.shared_attributes));
        });
        // Values the WIT cannot carry go as their text: rendered first,
        // borrowed by the push.
        let rendered: Vec<String> = log
            .attributes
            .iter()
            .filter(|(_, value)| needs_text(value))
            .map(|(_, value)| value.to_string())
            .collect();
        let mut rendered = rendered.iter();
        let attributes = log.attributes.iter().map(|(key, value)| {
            let value = match value {
                AnyValue::String(s) => ValueRef::String(s),
                AnyValue::Bool(b) => ValueRef::Bool(*b),
                AnyValue::Int(n) => ValueRef::Int(*n),
                AnyValue::Double(n) => ValueRef::Float(*n),
                AnyValue::Bytes(_) | AnyValue::Array(_) | AnyValue::Map(_) => {
                    ValueRef::String(rendered.next().map_or("", String::as_str))
                }
            };
            (key, value)
        });
        columns::push(
            &mut batch,
            NewRecord {
                resource,
                shared: shared_attributes,
                timestamp: log.time_unix_nano,
                severity_number: u8::try_from(log.severity_number.clamp(0, 24)).unwrap_or(0),
                severity_text: log.severity_text.as_deref().unwrap_or(""),
                body: &log.body,
                attributes,
            },
        );
        positions.push(position);
    }
    Prepared { batch, positions }
}

/// Whether `value` goes to a processor as its text.
fn needs_text(value: &AnyValue) -> bool {
    matches!(
        value,
        AnyValue::Bytes(_) | AnyValue::Array(_) | AnyValue::Map(_)
    )
}

/// The position of `ptr` among `seen`, adding it (and calling `add`) when
/// it is new.
fn index_of<T>(seen: &mut Vec<*const T>, ptr: *const T, add: impl FnOnce()) -> u32 {
    let index = match seen.iter().position(|p| *p == ptr) {
        Some(index) => index,
        None => {
            seen.push(ptr);
            add();
            seen.len() - 1
        }
    };
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// The events to send on: what the processor made of the log records
/// (already checked against the batch) and the events that were not log
/// records, in their order (by verdict, each in its place; after a
/// `processor`'s records, which come in the order it chose, at the end).
pub fn finish(prepared: Prepared, events: Vec<Event>, outcome: Outcome) -> Vec<Event> {
    match outcome {
        Outcome::Records(returned) => finish_records(prepared, events, returned),
        Outcome::Verdicts { verdicts, changed } => finish_verdicts(events, &verdicts, changed),
    }
}

/// By verdict: each log record kept, dropped, or replaced in its place;
/// the events that are not log records stay in theirs.
fn finish_verdicts(
    mut events: Vec<Event>,
    verdicts: &[u8],
    changed: Vec<ProcessedRecord>,
) -> Vec<Event> {
    // The log records in order are the batch's records 0, 1, 2...
    let mut origins = verdicts.iter().zip(0u32..);
    if changed.is_empty() {
        // Nothing replaced (a record marked so with no replacement is
        // dropped): the batch is filtered where it lies, and one the
        // processor keeps whole is not moved at all.
        events.retain(|event| match event {
            Event::Log(_) => !matches!(origins.next(), Some((&DROP | &REPLACE, _))),
            _ => true,
        });
        return events;
    }
    let mut out = Vec::with_capacity(events.len());
    let mut changed = changed.into_iter().peekable();
    for event in events {
        let log = match event {
            Event::Log(log) => log,
            other => {
                out.push(other);
                continue;
            }
        };
        match origins.next() {
            Some((&DROP, _)) => {}
            Some((&REPLACE, origin)) => replace(&mut out, log, origin, &mut changed),
            _ => out.push(Event::Log(log)),
        }
    }
    out
}

/// Pushes the replacements of `log`, record `origin` of the batch (the
/// next entries of `changed`, sorted by origin, that name it) onto `out`:
/// the last takes the record, the others a copy. None: it is dropped.
fn replace(
    out: &mut Vec<Event>,
    log: LogRecord,
    origin: u32,
    changed: &mut std::iter::Peekable<std::vec::IntoIter<ProcessedRecord>>,
) {
    let Some(mut current) = changed.next_if(|r| r.origin == origin) else {
        return;
    };
    loop {
        match changed.next_if(|r| r.origin == origin) {
            Some(next) => {
                out.push(Event::Log(apply(log.clone(), current)));
                current = next;
            }
            None => {
                out.push(Event::Log(apply(log, current)));
                return;
            }
        }
    }
}

/// By the records a `processor` returned, in their order.
fn finish_records(
    prepared: Prepared,
    events: Vec<Event>,
    returned: Vec<ProcessedRecord>,
) -> Vec<Event> {
    let logs = prepared.positions.len();
    let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
    // How many returned records name each origin: the last takes the
    // record, the others a copy.
    let mut uses = vec![0u32; logs];
    for record in &returned {
        if let Some(n) = uses.get_mut(record.origin as usize) {
            *n += 1;
        }
    }
    let mut out = Vec::with_capacity(returned.len() + slots.len() - logs);
    for record in returned {
        let origin = record.origin as usize;
        let (Some(&position), Some(n)) = (prepared.positions.get(origin), uses.get_mut(origin))
        else {
            // Checked against the batch: never here.
            continue;
        };
        *n -= 1;
        let log = match (&mut slots[position], *n) {
            (slot @ Some(Event::Log(_)), 0) => match slot.take() {
                Some(Event::Log(log)) => log,
                _ => continue,
            },
            (Some(Event::Log(log)), _) => log.clone(),
            _ => continue,
        };
        out.push(Event::Log(apply(log, record)));
    }
    out.extend(
        slots
            .into_iter()
            .flatten()
            .filter(|e| !matches!(e, Event::Log(_))),
    );
    out
}

/// `log` with what the processor returned for it.
fn apply(mut log: LogRecord, record: ProcessedRecord) -> LogRecord {
    log.time_unix_nano = record.timestamp;
    log.severity_number = i32::from(record.severity_number);
    if let Some(text) = record.severity_text {
        log.severity_text = (!text.is_empty()).then(|| text.into());
    }
    if let Some(body) = record.body {
        log.body = body.into();
    }
    if let Some(attributes) = record.attributes {
        log.attributes = attributes
            .into_iter()
            .map(|attribute| (attribute.key, from_wit_value(attribute.value)))
            .collect();
    }
    log
}

fn to_wit_attributes(attributes: &Attributes) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|(key, value)| Attribute {
            key: key.to_owned(),
            value: to_wit_value(value),
        })
        .collect()
}

fn to_wit_value(value: &AnyValue) -> Value {
    match value {
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::Bool(b) => Value::Boolean(*b),
        AnyValue::Int(n) => Value::Int(*n),
        AnyValue::Double(n) => Value::Float(*n),
        other @ (AnyValue::Bytes(_) | AnyValue::Array(_) | AnyValue::Map(_)) => {
            Value::String(other.to_string())
        }
    }
}

fn from_wit_value(value: Value) -> AnyValue {
    match value {
        Value::String(s) => AnyValue::from(s),
        Value::Int(n) => AnyValue::Int(n),
        Value::Float(n) => AnyValue::Double(n),
        Value::Boolean(b) => AnyValue::Bool(b),
    }
}
