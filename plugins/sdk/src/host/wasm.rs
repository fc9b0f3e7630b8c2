//! The real host: the agent's imports, called through the generated
//! [`super::bindings`], and the glue that exports a [`Check`] as the world's
//! `describe` and `run`, or a [`Processor`] as `describe` and `process`.
//! Each function converts between the SDK's types and the generated ones,
//! so plugin code never touches the bindings.

use super::bindings::neurallog::plugin as wit;
use super::column_processor_bindings::neurallog::plugin::columns as cw;
use super::processor_bindings::neurallog::plugin::processing as pw;
use crate::check::{Check, PluginInfo, RunError, parse_config};
use crate::clock::Timestamp;
use crate::columns::{ColumnProcessor, Columns, Verdicts};
use crate::fs_stats::{FsError, FsUsage, Mount};
use crate::log::Level;
use crate::metric::{Metric, MetricKind};
use crate::processor::{Batch, ProcessError, Processor, Record, Resource, Value};
use crate::result::{CheckResult, Status};
use crate::state::StateError;
use crate::tls::{PeerChain, ProbeError, Verification};

// === imports ===

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit::log::Level::Trace,
        Level::Debug => wit::log::Level::Debug,
        Level::Info => wit::log::Level::Info,
        Level::Warn => wit::log::Level::Warn,
        Level::Error => wit::log::Level::Error,
    };
    wit::log::log(level, message);
}

pub(crate) fn now() -> Timestamp {
    let instant = wit::clock::now();
    Timestamp {
        seconds: instant.seconds,
        nanoseconds: instant.nanoseconds,
    }
}

pub(crate) fn peer_certificates(
    host: &str,
    port: u16,
    server_name: Option<&str>,
) -> Result<PeerChain, ProbeError> {
    use wit::tls::{ProbeError as E, Verification as V};

    match wit::tls::peer_certificates(host, port, server_name) {
        Ok(chain) => Ok(PeerChain {
            certificates: chain.certificates,
            verification: match chain.verification {
                V::Valid => Verification::Valid,
                V::NameMismatch(message) => Verification::NameMismatch(message),
                V::Expired(message) => Verification::Expired(message),
                V::NotYetValid(message) => Verification::NotYetValid(message),
                V::UnknownIssuer(message) => Verification::UnknownIssuer(message),
                V::Invalid(message) => Verification::Invalid(message),
            },
            protocol_version: chain.protocol_version,
        }),
        Err(E::NotAllowed(message)) => Err(ProbeError::NotAllowed(message)),
        Err(E::ConnectFailed(message)) => Err(ProbeError::ConnectFailed(message)),
        Err(E::HandshakeFailed(message)) => Err(ProbeError::HandshakeFailed(message)),
        Err(E::TimedOut) => Err(ProbeError::TimedOut),
    }
}

pub(crate) fn mounts() -> Vec<Mount> {
    wit::fs_stats::mounts()
        .into_iter()
        .map(|mount| Mount {
            path: mount.path,
            device: mount.device,
            fs_type: mount.fs_type,
        })
        .collect()
}

pub(crate) fn usage(path: &str) -> Result<FsUsage, FsError> {
    match wit::fs_stats::usage(path) {
        Ok(usage) => Ok(FsUsage {
            total_bytes: usage.total_bytes,
            free_bytes: usage.free_bytes,
            available_bytes: usage.available_bytes,
            total_inodes: usage.total_inodes,
            free_inodes: usage.free_inodes,
        }),
        Err(wit::fs_stats::FsError::NotAllowed(message)) => Err(FsError::NotAllowed(message)),
        Err(wit::fs_stats::FsError::Failed(message)) => Err(FsError::Failed(message)),
    }
}

pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
    wit::state::get(key)
}

pub(crate) fn state_set(key: &str, value: &[u8]) -> Result<(), StateError> {
    wit::state::set(key, value).map_err(|error| match error {
        wit::state::StateError::QuotaExceeded(cap_bytes) => StateError::QuotaExceeded { cap_bytes },
        wit::state::StateError::Failed(message) => StateError::Failed(message),
    })
}

pub(crate) fn state_delete(key: &str) {
    wit::state::delete(key);
}

pub(crate) fn state_keys() -> Vec<String> {
    wit::state::keys()
}

// === exports ===

/// What the exported `describe` returns for check `C`.
pub fn describe<C: Check>() -> wit::types::PluginInfo {
    let PluginInfo {
        name,
        version,
        description,
        config_schema,
    } = C::info();
    wit::types::PluginInfo {
        name,
        version,
        description,
        config_schema,
    }
}

/// What the exported `run` returns for check `C` and the JSON `config`.
pub fn run<C: Check>(config: &str) -> Result<wit::types::CheckResult, wit::types::RunError> {
    parse_config::<C::Config>(config)
        .and_then(C::run)
        .map(into_wit_result)
        .map_err(|error| match error {
            RunError::InvalidConfig(message) => wit::types::RunError::InvalidConfig(message),
            RunError::Failed(message) => wit::types::RunError::Failed(message),
        })
}

fn into_wit_result(result: CheckResult) -> wit::types::CheckResult {
    use wit::types;

    types::CheckResult {
        status: match result.status {
            Status::Ok => types::Status::Ok,
            Status::Warning => types::Status::Warning,
            Status::Critical => types::Status::Critical,
            Status::Unknown => types::Status::Unknown,
        },
        summary: result.summary,
        metrics: result.metrics.into_iter().map(into_wit_metric).collect(),
        details: result
            .details
            .into_iter()
            .map(|detail| types::Detail {
                key: detail.key,
                value: detail.value,
            })
            .collect(),
    }
}

fn into_wit_metric(metric: Metric) -> wit::types::Metric {
    use wit::types;

    types::Metric {
        name: metric.name,
        description: metric.description,
        unit: metric.unit,
        kind: match metric.kind {
            MetricKind::Gauge => types::MetricKind::Gauge,
            MetricKind::Counter => types::MetricKind::Counter,
        },
        value: metric.value,
        labels: metric
            .labels
            .into_iter()
            .map(|label| types::Label {
                key: label.key,
                value: label.value,
            })
            .collect(),
    }
}

// === processor exports ===

/// What the exported `describe` of a processor returns.
pub fn describe_processor<P: Processor>() -> wit::types::PluginInfo {
    into_wit_info(P::info())
}

fn into_wit_info(info: PluginInfo) -> wit::types::PluginInfo {
    let PluginInfo {
        name,
        version,
        description,
        config_schema,
    } = info;
    wit::types::PluginInfo {
        name,
        version,
        description,
        config_schema,
    }
}

fn into_wit_process_error(error: ProcessError) -> pw::ProcessError {
    match error {
        ProcessError::InvalidConfig(message) => pw::ProcessError::InvalidConfig(message),
        ProcessError::Failed(message) => pw::ProcessError::Failed(message),
    }
}

/// What the exported `process` returns for processor `P`.
pub fn process<P: Processor>(
    config: &str,
    batch: pw::Batch,
) -> Result<Vec<pw::ProcessedRecord>, pw::ProcessError> {
    let config = parse_config::<P::Config>(config)
        .map_err(|error| into_wit_process_error(ProcessError::from(error)))?;
    // What each record was, to send back only what the processor changed.
    let mut originals = Vec::with_capacity(batch.records.len());
    let records = batch
        .records
        .into_iter()
        .map(|record| {
            let record = from_wit_record(record);
            originals.push(Original {
                body: record.body.clone(),
                severity_text: record.severity_text.clone(),
                attributes: record.attributes.clone(),
            });
            record
        })
        .collect();
    let batch = Batch {
        resources: from_wit_resources(batch.resources),
        shared_attributes: batch
            .shared_attributes
            .into_iter()
            .map(from_wit_attributes)
            .collect(),
        records,
    };
    P::process(&config, batch)
        .map(|records| {
            records
                .into_iter()
                .map(|record| {
                    let original = usize::try_from(record.origin)
                        .ok()
                        .and_then(|i| originals.get(i));
                    let unchanged = Unchanged {
                        severity_text: original
                            .is_some_and(|o| o.severity_text == record.severity_text),
                        body: original.is_some_and(|o| o.body == record.body),
                        attributes: original.is_some_and(|o| o.attributes == record.attributes),
                    };
                    into_processed(record, unchanged)
                })
                .collect()
        })
        .map_err(into_wit_process_error)
}

/// A record as it came, to tell what changed.
struct Original {
    body: String,
    severity_text: String,
    attributes: Vec<(String, Value)>,
}

fn from_wit_resources(resources: Vec<pw::Resource>) -> Vec<Resource> {
    resources
        .into_iter()
        .map(|resource| Resource {
            attributes: from_wit_attributes(resource.attributes),
        })
        .collect()
}

fn from_wit_attributes(attributes: Vec<pw::Attribute>) -> Vec<(String, Value)> {
    attributes
        .into_iter()
        .map(|attribute| {
            let value = match attribute.value {
                pw::Value::String(s) => Value::String(s),
                pw::Value::Int(n) => Value::Int(n),
                pw::Value::Float(n) => Value::Float(n),
                pw::Value::Boolean(b) => Value::Bool(b),
            };
            (attribute.key, value)
        })
        .collect()
}

fn from_wit_record(record: pw::LogRecord) -> Record {
    Record {
        origin: record.origin,
        timestamp_unix_nano: record.timestamp,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body: record.body,
        attributes: from_wit_attributes(record.attributes),
        shared_attributes: record.shared_attributes,
        resource: record.resource,
    }
}

/// Which fields of a returned record are the same as in its origin.
struct Unchanged {
    severity_text: bool,
    body: bool,
    attributes: bool,
}

/// `record` as returned to the agent: each field the same as in its
/// origin is left out.
fn into_processed(record: Record, unchanged: Unchanged) -> pw::ProcessedRecord {
    let severity_text = (!unchanged.severity_text).then_some(record.severity_text);
    let body = (!unchanged.body).then_some(record.body);
    let attributes = match unchanged.attributes {
        true => None,
        false => Some(
            record
                .attributes
                .into_iter()
                .map(|(key, value)| pw::Attribute {
                    key,
                    value: match value {
                        Value::String(s) => pw::Value::String(s),
                        Value::Int(n) => pw::Value::Int(n),
                        Value::Float(n) => pw::Value::Float(n),
                        Value::Bool(b) => pw::Value::Boolean(b),
                    },
                })
                .collect(),
        ),
    };
    pw::ProcessedRecord {
        origin: record.origin,
        timestamp: record.timestamp_unix_nano,
        severity_number: record.severity_number,
        severity_text,
        body,
        attributes,
    }
}

/// What the exported `describe` returns for column processor `P`.
pub fn describe_column_processor<P: ColumnProcessor>() -> wit::types::PluginInfo {
    into_wit_info(P::info())
}

/// What the exported `process-columns` returns for column processor `P`.
/// The columns are moved into [`Columns`] as they came; only the records
/// the processor replaced are converted back.
pub fn process_columns<P: ColumnProcessor>(
    config: &str,
    batch: cw::ColumnBatch,
) -> Result<cw::ColumnOutcome, pw::ProcessError> {
    let config = parse_config::<P::Config>(config)
        .map_err(|error| into_wit_process_error(ProcessError::from(error)))?;
    let columns = Columns {
        resources: from_wit_resources(batch.resources),
        shared_attributes: batch
            .shared_attributes
            .into_iter()
            .map(from_wit_attributes)
            .collect(),
        resource_of: batch.resource_of,
        shared_of: batch.shared_of,
        timestamps: batch.timestamps,
        severity_numbers: batch.severity_numbers,
        severity_texts: batch.severity_texts,
        severity_text_ends: batch.severity_text_ends,
        bodies: batch.bodies,
        body_ends: batch.body_ends,
        attribute_keys: batch.attribute_keys,
        attribute_key_ends: batch.attribute_key_ends,
        attribute_kinds: batch.attribute_kinds,
        attribute_strings: batch.attribute_strings,
        attribute_string_ends: batch.attribute_string_ends,
        attribute_numbers: batch.attribute_numbers,
        attribute_ends: batch.attribute_ends,
    };
    let mut verdicts = Verdicts::keep_all(columns.len());
    P::process(&config, &columns, &mut verdicts).map_err(into_wit_process_error)?;
    let Verdicts { verdicts, changed } = verdicts;
    let changed = changed
        .into_iter()
        .map(|record| {
            let i = record.origin as usize;
            let unchanged = Unchanged {
                severity_text: columns.severity_text(i) == record.severity_text,
                body: columns.body(i) == record.body,
                attributes: columns.attributes(i).count() == record.attributes.len()
                    && columns
                        .attributes(i)
                        .zip(&record.attributes)
                        .all(|((k, v), (key, value))| k == key && v.is(value)),
            };
            into_processed(record, unchanged)
        })
        .collect();
    Ok(cw::ColumnOutcome { verdicts, changed })
}
