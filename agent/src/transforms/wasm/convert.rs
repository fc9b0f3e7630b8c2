//! Between the agent's events and the records a processor sees.
//!
//! A batch goes to the processor as its log records, each with its own and
//! its source's attributes (flattened: the processor sees and returns one
//! list), and the resources they belong to, each once. Values the WIT cannot
//! carry (bytes, arrays, maps) go as their text and come back as strings.
//! Metrics and check results do not go to the processor: they pass by it.
//!
//! What comes back is rebuilt from the records it names as `origin`: their
//! observation time, flags and resource stay the agent's, everything the
//! processor can change is taken from its answer.

use std::sync::Arc;

use crate::event::{AnyValue, Attributes, Event, LogRecord, Resource};
use crate::wasm::{Attribute, Batch, LogRecord as WitRecord, Resource as WitResource, Value};

/// A batch ready for the processor.
#[derive(Debug)]
pub struct Prepared {
    /// What the processor is given.
    pub batch: Batch,
    /// Position in the events of each log record, by origin.
    positions: Vec<usize>,
    /// The resources, by the index the processor sees.
    resources: Vec<Arc<Resource>>,
}

/// The processor's view of the log records in `events`.
pub fn prepare(events: &[Event]) -> Prepared {
    let mut positions = Vec::with_capacity(events.len());
    let mut resources: Vec<Arc<Resource>> = Vec::new();
    let mut wit_resources = Vec::new();
    let mut records = Vec::with_capacity(events.len());
    for (position, event) in events.iter().enumerate() {
        let Event::Log(log) = event else { continue };
        // Records of one batch nearly always share one resource: a linear
        // search over a handful beats hashing.
        let resource = match resources.iter().position(|r| Arc::ptr_eq(r, &log.resource)) {
            Some(index) => index,
            None => {
                resources.push(Arc::clone(&log.resource));
                wit_resources.push(WitResource {
                    attributes: to_wit_attributes(&log.resource.attributes, None),
                });
                resources.len() - 1
            }
        };
        records.push(WitRecord {
            origin: u32::try_from(positions.len()).unwrap_or(u32::MAX),
            timestamp: log.time_unix_nano,
            severity_number: u8::try_from(log.severity_number.clamp(0, 24)).unwrap_or(0),
            severity_text: log.severity_text.as_deref().unwrap_or("").to_owned(),
            body: log.body.to_string(),
            attributes: to_wit_attributes(&log.attributes, Some(&log.shared_attributes)),
            resource: u32::try_from(resource).unwrap_or(u32::MAX),
        });
        positions.push(position);
    }
    Prepared {
        batch: Batch {
            resources: wit_resources,
            records,
        },
        positions,
        resources,
    }
}

/// The events to send on: what the processor returned (already checked to
/// name records and resources of the batch), then the events that were not
/// log records, in their order.
pub fn finish(prepared: Prepared, events: Vec<Event>, returned: Vec<WitRecord>) -> Vec<Event> {
    let no_shared = Arc::new(Attributes::new());
    let mut out = Vec::with_capacity(returned.len() + events.len() - prepared.positions.len());
    for record in returned {
        let origin = prepared
            .positions
            .get(record.origin as usize)
            .and_then(|&position| match events.get(position) {
                Some(Event::Log(log)) => Some(log),
                _ => None,
            });
        let resource = prepared.resources.get(record.resource as usize);
        // Both were checked against the batch; a record that still names
        // nothing is skipped rather than invented.
        let (Some(origin), Some(resource)) = (origin, resource) else {
            continue;
        };
        out.push(Event::Log(LogRecord {
            time_unix_nano: record.timestamp,
            observed_time_unix_nano: origin.observed_time_unix_nano,
            severity_number: i32::from(record.severity_number),
            severity_text: (!record.severity_text.is_empty())
                .then(|| record.severity_text.into_boxed_str()),
            body: record.body.into(),
            shared_attributes: Arc::clone(&no_shared),
            attributes: record
                .attributes
                .into_iter()
                .map(|attribute| (attribute.key, from_wit_value(attribute.value)))
                .collect(),
            flags: origin.flags,
            resource: Arc::clone(resource),
        }));
    }
    out.extend(events.into_iter().filter(|e| !matches!(e, Event::Log(_))));
    out
}

fn to_wit_attributes(own: &Attributes, shared: Option<&Attributes>) -> Vec<Attribute> {
    let shared = shared.into_iter().flat_map(Attributes::iter);
    own.iter()
        .chain(shared)
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
