//! The `parse` transform: read each log record's body as JSON, logfmt, a
//! regex's named captures or a common format (access logs, syslog, klog),
//! put the fields found into the record's attributes, and set its
//! timestamp and severity after the OpenTelemetry log data model. The body
//! stays as it was read (a view into the read buffer, never copied).
//!
//! ```yaml
//! transforms:
//!   access:
//!     type: parse
//!     inputs: [apache]
//!     format: apache_combined
//! ```
//!
//! A line that does not parse goes on unchanged (or is dropped, or
//! flagged: `on_failure`) and is counted; its text never reaches the
//! agent's own logs.

mod access;
mod auth;
mod config;
pub mod mapping;
mod structured;
mod syslog;

#[cfg(test)]
mod tests;

pub use config::{OnFailure, ParseConfig, ParseFormat};

use bytestring::ByteString;
use regex::{CaptureLocations, Regex};

use crate::event::{AnyValue, Attributes, Event, LogRecord};
use crate::telemetry::events::{ComponentMetrics, TransformMetrics, TransformParseFailed};
use crate::topology::{BoxedComponent, BuildError, TransformContext};

use super::Transform;

/// The attribute a line that did not parse carries with `on_failure: flag`.
pub const PARSE_FAILED_ATTRIBUTE: &str = "neurallog.parse_failed";

/// What a line held.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The fields found.
    pub attributes: Attributes,
    /// The event's time, when the format carries one.
    pub time_unix_nano: Option<u64>,
    /// The severity number and text, when the format carries one.
    pub severity: Option<(i32, ByteString)>,
}

/// A built parse transform.
#[derive(Debug)]
pub struct Parser {
    format: Format,
    timestamp_field: Option<String>,
    severity_field: Option<String>,
    on_failure: OnFailure,
    metrics: Option<TransformMetrics>,
}

#[derive(Debug)]
enum Format {
    Json,
    Logfmt,
    Regex {
        regex: Regex,
        locations: CaptureLocations,
        names: Vec<(usize, String)>,
    },
    Access {
        combined: bool,
    },
    Rfc3164,
    Auth,
    Rfc5424,
    Klog,
}

/// Build the parse transform `config` describes.
pub fn build(config: &ParseConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    let parser = Parser::new(config)?.with_metrics(cx.metrics.clone());
    Ok(super::run(parser, cx))
}

// === impl Parsed ===

impl Parsed {
    /// Fields without time or severity.
    pub fn attributes_only(attributes: Attributes) -> Self {
        Parsed {
            attributes,
            ..Parsed::default()
        }
    }
}

// === impl Parser ===

impl Parser {
    /// The parser `config` describes (which validated).
    pub fn new(config: &ParseConfig) -> Result<Parser, BuildError> {
        let format = match config.format {
            ParseFormat::Json => Format::Json,
            ParseFormat::Logfmt => Format::Logfmt,
            ParseFormat::Regex => {
                let pattern = config
                    .pattern
                    .as_deref()
                    .ok_or_else(|| BuildError::new("`format: regex` needs a `pattern`"))?;
                let regex = Regex::new(pattern)
                    .map_err(|e| BuildError::caused(format!("pattern {pattern:?}"), e))?;
                let names = regex
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, name)| Some((i, name?.to_owned())))
                    .collect();
                Format::Regex {
                    locations: regex.capture_locations(),
                    regex,
                    names,
                }
            }
            ParseFormat::ApacheCombined | ParseFormat::NginxCombined => {
                Format::Access { combined: true }
            }
            ParseFormat::ApacheCommon => Format::Access { combined: false },
            ParseFormat::SyslogRfc3164 => Format::Rfc3164,
            ParseFormat::Auth => Format::Auth,
            ParseFormat::SyslogRfc5424 => Format::Rfc5424,
            ParseFormat::Klog => Format::Klog,
        };
        Ok(Parser {
            format,
            timestamp_field: config.timestamp_field.clone(),
            severity_field: config.severity_field.clone(),
            on_failure: config.on_failure,
            metrics: None,
        })
    }

    /// Count failures in the transform's metrics.
    pub fn with_metrics(mut self, metrics: ComponentMetrics) -> Self {
        self.metrics = Some(TransformMetrics::new(metrics));
        self
    }

    /// What `body` holds, or `None` if it is not in the format.
    pub fn parse_body(&mut self, body: &ByteString, observed_unix_nanos: u64) -> Option<Parsed> {
        match &mut self.format {
            Format::Json => structured::json(body),
            Format::Logfmt => structured::logfmt(body),
            Format::Regex {
                regex,
                locations,
                names,
            } => {
                regex.captures_read(locations, body)?;
                let mut attributes = Attributes::new();
                for (i, name) in names.iter() {
                    if let Some((start, end)) = locations.get(*i) {
                        attributes.insert(name.clone(), AnyValue::part_of(body, &body[start..end]));
                    }
                }
                Some(Parsed::attributes_only(attributes))
            }
            Format::Access { combined } => access::parse(body, *combined),
            Format::Rfc3164 => syslog::rfc3164(body, observed_unix_nanos),
            Format::Auth => auth::parse(body, observed_unix_nanos),
            Format::Rfc5424 => syslog::rfc5424(body),
            Format::Klog => structured::klog(body, observed_unix_nanos),
        }
    }

    /// Parse one record in place. Returns whether it stays (`false` only
    /// for a failure with `on_failure: drop`) and whether it parsed.
    pub fn parse_record(&mut self, log: &mut LogRecord) -> (bool, bool) {
        let Some(parsed) = self.parse_body(&log.body, log.observed_time_unix_nano) else {
            return match self.on_failure {
                OnFailure::Pass => (true, false),
                OnFailure::Drop => (false, false),
                OnFailure::Flag => {
                    log.attributes.insert(PARSE_FAILED_ATTRIBUTE, true);
                    (true, false)
                }
            };
        };
        self.apply(parsed, log);
        (true, true)
    }

    fn apply(&self, parsed: Parsed, log: &mut LogRecord) {
        if log.attributes.is_empty() {
            log.attributes = parsed.attributes;
        } else {
            for (key, value) in parsed.attributes.into_iter() {
                log.attributes.insert(key, value);
            }
        }
        if let Some(time) = parsed.time_unix_nano {
            log.time_unix_nano = time;
        }
        if let Some((number, text)) = parsed.severity {
            log.severity_number = number;
            log.severity_text = Some(text);
        }
        if let Some(field) = &self.timestamp_field
            && let Some(time) = log.attributes.get(field).and_then(mapping::time_of_value)
        {
            log.time_unix_nano = time;
        }
        if let Some(field) = &self.severity_field
            && let Some(value) = log.attributes.get(field)
        {
            let text = value.to_string();
            let number = match value {
                AnyValue::Int(n @ 1..=24) => Some(*n as i32),
                _ => mapping::severity_of_text(&text),
            };
            if let Some(number) = number {
                log.severity_number = number;
            }
            log.severity_text = Some(text.into());
        }
    }
}

impl Transform for Parser {
    fn process(&mut self, events: &mut Vec<Event>) {
        let mut failed = 0;
        events.retain_mut(|event| match event {
            Event::Log(log) => {
                let (keep, parsed) = self.parse_record(log);
                failed += usize::from(!parsed);
                keep
            }
            Event::Metric(_) | Event::Check(_) => true,
        });
        if let Some(metrics) = &self.metrics {
            TransformParseFailed {
                metrics,
                count: failed,
            }
            .emit();
        }
    }
}
