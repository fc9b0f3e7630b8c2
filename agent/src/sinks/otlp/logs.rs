//! Log records and check results as an OTLP `ExportLogsServiceRequest`
//! (<https://github.com/open-telemetry/opentelemetry-proto/blob/main/opentelemetry/proto/logs/v1/logs.proto>).
//!
//! - One `ResourceLogs` per distinct resource (events are grouped by their
//!   `Arc<Resource>`, then by value), one `ScopeLogs` with scope
//!   `neurallog-agent` and the agent's version.
//! - A log record keeps its timestamps, severity, body (a string
//!   `AnyValue`), and its attributes: the source's shared attributes (for
//!   example `log.file.path`) followed by its own (`log.iostream`), own
//!   values winning. Alterations the source made are boolean attributes:
//!   `neurallog.log.truncated`, `neurallog.log.invalid_utf8`,
//!   `neurallog.log.multiline_cut`, `neurallog.log.unterminated` (the
//!   semantic conventions define none; the `neurallog.` namespace keeps
//!   them from colliding with future ones).
//! - A check result becomes a log record with `event_name`
//!   `neurallog.check.result`, the summary as body, severity from the
//!   status (ok → INFO, warning and unknown → WARN, critical → ERROR) and
//!   attributes `check.name`, `check.plugin`, `check.status`,
//!   `check.duration_ms` and `check.details` (a map). Its metrics travel as
//!   metric events.

use std::sync::Arc;

use super::wire::{
    attributes_len, key_value_len, len_field, put_attributes, put_bytes, put_fixed64,
    put_key_value, put_len, put_varint, varint_field,
};
use crate::event::{
    AnyValue, Attributes, CheckResult, CheckStatus, Event, LogFlags, LogRecord, Resource,
};

/// The instrumentation scope of everything the agent sends.
pub const SCOPE_NAME: &str = "neurallog-agent";
/// The scope's version.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The `event_name` of a check result's log record.
pub const CHECK_EVENT_NAME: &str = "neurallog.check.result";

/// Attribute keys of the log flags.
pub const FLAG_ATTRIBUTES: [(LogFlags, &str); 4] = [
    (LogFlags::TRUNCATED, "neurallog.log.truncated"),
    (LogFlags::INVALID_UTF8, "neurallog.log.invalid_utf8"),
    (LogFlags::MULTILINE_CUT, "neurallog.log.multiline_cut"),
    (LogFlags::UNTERMINATED, "neurallog.log.unterminated"),
];

const TRUE: AnyValue = AnyValue::Bool(true);

enum Item<'a> {
    Log(&'a LogRecord),
    Check(&'a CheckResult, Attributes),
}

/// Encode the log records and check results among `events` into `out`;
/// returns how many were encoded.
pub fn encode<'a>(events: impl Iterator<Item = &'a Event>, out: &mut Vec<u8>) -> usize {
    let mut groups: Vec<(&Arc<Resource>, Vec<Item<'a>>)> = Vec::new();
    // The previous event's resource and its group: runs of events share one
    // `Arc` (a source renews its copy every so many records, so a run's
    // `Arc` is not always its group's).
    let mut last: Option<(&Arc<Resource>, usize)> = None;
    let mut count = 0;
    for event in events {
        let item = match event {
            Event::Log(log) => Item::Log(log),
            Event::Check(check) => Item::Check(check, check_attributes(check)),
            Event::Metric(_) => continue,
        };
        count += 1;
        let resource = event.resource();
        let index = match last {
            Some((r, index)) if Arc::ptr_eq(r, resource) => index,
            _ => match groups
                .iter()
                .position(|(r, _)| Arc::ptr_eq(r, resource))
                .or_else(|| groups.iter().position(|(r, _)| ***r == **resource))
            {
                Some(index) => index,
                None => {
                    groups.push((resource, Vec::new()));
                    groups.len() - 1
                }
            },
        };
        last = Some((resource, index));
        groups[index].1.push(item);
    }
    let scope = scope_len();
    let mut sizes = Vec::new();
    let mut shared = SharedAttributes::default();
    for (resource, items) in &groups {
        sizes.clear();
        sizes.extend(items.iter().map(|item| item_len(item, &mut shared)));
        let records: usize = sizes.iter().map(|s| len_field(2, *s)).sum();
        let scope_logs = len_field(1, scope) + records;
        let resource_len = attributes_len(1, &resource.attributes);
        let resource_logs = len_field(1, resource_len) + len_field(2, scope_logs);
        out.reserve(len_field(1, resource_logs));
        put_len(out, 1, resource_logs);
        put_len(out, 1, resource_len);
        put_attributes(out, 1, &resource.attributes);
        put_len(out, 2, scope_logs);
        put_len(out, 1, scope);
        put_scope(out);
        for (item, size) in items.iter().zip(&sizes) {
            put_len(out, 2, *size);
            put_item(out, item, &mut shared);
        }
    }
    count
}

fn scope_len() -> usize {
    len_field(1, SCOPE_NAME.len()) + len_field(2, SCOPE_VERSION.len())
}

fn put_scope(out: &mut Vec<u8>) {
    put_bytes(out, 1, SCOPE_NAME.as_bytes());
    put_bytes(out, 2, SCOPE_VERSION.as_bytes());
}

/// The attributes of a check result's record.
pub fn check_attributes(check: &CheckResult) -> Attributes {
    let mut attributes = Attributes::new()
        .with(
            "check.name",
            AnyValue::String(check.name.to_string().into()),
        )
        .with(
            "check.plugin",
            AnyValue::String(check.plugin.to_string().into()),
        )
        .with("check.status", check.status.as_str())
        .with("check.duration_ms", check.duration_ms);
    if !check.details.is_empty() {
        attributes.insert("check.details", AnyValue::Map(check.details.clone()));
    }
    attributes
}

/// The severity text of a check status.
pub fn check_severity_text(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Ok => "INFO",
        CheckStatus::Warning | CheckStatus::Unknown => "WARN",
        CheckStatus::Critical => "ERROR",
    }
}

/// The encoded attributes (repeated field 6) of the shared attribute lists
/// met in one request. Every line of a file shares one list (its
/// `log.file.path` and `log.file.name`), so a record with no attributes of
/// its own copies the list's bytes instead of encoding it again.
#[derive(Default)]
struct SharedAttributes<'a> {
    encoded: Vec<(&'a Arc<Attributes>, Vec<u8>)>,
}

impl<'a> SharedAttributes<'a> {
    /// At most this many lists are kept (a batch from many files encodes
    /// the others as it goes).
    const MAX: usize = 32;

    /// The bytes of `attributes` as repeated field 6, if kept or room is
    /// left to keep them. A copy of a list kept (sources renew their
    /// copies every so many records) is kept as the same bytes.
    fn get(&mut self, attributes: &'a Arc<Attributes>) -> Option<&[u8]> {
        let index = match self
            .encoded
            .iter()
            .position(|(a, _)| Arc::ptr_eq(a, attributes))
        {
            Some(index) => index,
            None if self.encoded.len() < Self::MAX => {
                let bytes = match self.encoded.iter().find(|(a, _)| ***a == **attributes) {
                    Some((_, bytes)) => bytes.clone(),
                    None => {
                        let mut bytes = Vec::with_capacity(attributes_len(6, attributes));
                        put_attributes(&mut bytes, 6, attributes);
                        bytes
                    }
                };
                self.encoded.push((attributes, bytes));
                self.encoded.len() - 1
            }
            None => return None,
        };
        self.encoded.get(index).map(|(_, bytes)| bytes.as_slice())
    }
}

/// A log's attributes in order: shared ones not overridden, then its own.
fn for_each_attribute(log: &LogRecord, mut f: impl FnMut(&str, &AnyValue)) {
    let own = &log.attributes;
    for (k, v) in log.shared_attributes.iter() {
        if own.is_empty() || own.get(k).is_none() {
            f(k, v);
        }
    }
    for (k, v) in own.iter() {
        f(k, v);
    }
    for_each_flag(log, f);
}

/// A log's flags, as attributes.
fn for_each_flag(log: &LogRecord, mut f: impl FnMut(&str, &AnyValue)) {
    if !log.flags.is_empty() {
        for (flag, key) in FLAG_ATTRIBUTES {
            if log.flags.contains(flag) {
                f(key, &TRUE);
            }
        }
    }
}

fn item_len<'a>(item: &Item<'a>, shared: &mut SharedAttributes<'a>) -> usize {
    match *item {
        Item::Log(log) => {
            let mut n = body_len(&log.body);
            if log.time_unix_nano != 0 {
                n += 9;
            }
            if log.observed_time_unix_nano != 0 {
                n += 9;
            }
            if log.severity_number != 0 {
                n += varint_field(2, log.severity_number as u64);
            }
            if let Some(text) = &log.severity_text {
                n += len_field(3, text.len());
            }
            n += log_attributes_len(log, shared);
            n
        }
        Item::Check(check, ref attributes) => {
            18 + varint_field(2, check.status.severity_number() as u64)
                + len_field(3, check_severity_text(check.status).len())
                + body_len(&check.summary)
                + attributes_len(6, attributes)
                + len_field(12, CHECK_EVENT_NAME.len())
        }
    }
}

/// Size of a log's attributes (repeated field 6).
fn log_attributes_len<'a>(log: &'a LogRecord, shared: &mut SharedAttributes<'a>) -> usize {
    let mut n = 0;
    if log.attributes.is_empty()
        && let Some(bytes) = shared.get(&log.shared_attributes)
    {
        n += bytes.len();
        for_each_flag(log, |k, v| n += len_field(6, key_value_len(k, v)));
    } else {
        for_each_attribute(log, |k, v| n += len_field(6, key_value_len(k, v)));
    }
    n
}

/// Write a log's attributes (repeated field 6).
fn put_log_attributes<'a>(
    out: &mut Vec<u8>,
    log: &'a LogRecord,
    shared: &mut SharedAttributes<'a>,
) {
    if log.attributes.is_empty()
        && let Some(bytes) = shared.get(&log.shared_attributes)
    {
        out.extend_from_slice(bytes);
        for_each_flag(log, |k, v| put_key_value(out, 6, k, v));
    } else {
        for_each_attribute(log, |k, v| put_key_value(out, 6, k, v));
    }
}

fn body_len(body: &str) -> usize {
    len_field(5, len_field(1, body.len()))
}

fn put_body(out: &mut Vec<u8>, body: &str) {
    put_len(out, 5, len_field(1, body.len()));
    put_bytes(out, 1, body.as_bytes());
}

fn put_item<'a>(out: &mut Vec<u8>, item: &Item<'a>, shared: &mut SharedAttributes<'a>) {
    match *item {
        Item::Log(log) => {
            if log.time_unix_nano != 0 {
                put_fixed64(out, 1, log.time_unix_nano);
            }
            if log.severity_number != 0 {
                put_varint(out, 2, log.severity_number as u64);
            }
            if let Some(text) = &log.severity_text {
                put_bytes(out, 3, text.as_bytes());
            }
            put_body(out, &log.body);
            put_log_attributes(out, log, shared);
            if log.observed_time_unix_nano != 0 {
                put_fixed64(out, 11, log.observed_time_unix_nano);
            }
        }
        Item::Check(check, ref attributes) => {
            put_fixed64(out, 1, check.time_unix_nano);
            put_varint(out, 2, check.status.severity_number() as u64);
            put_bytes(out, 3, check_severity_text(check.status).as_bytes());
            put_body(out, &check.summary);
            put_attributes(out, 6, attributes);
            put_fixed64(out, 11, check.time_unix_nano);
            put_bytes(out, 12, CHECK_EVENT_NAME.as_bytes());
        }
    }
}
