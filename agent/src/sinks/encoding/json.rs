//! Events as JSON lines, for the `console` and `file` sinks and the
//! dead-letter files.
//!
//! Field names follow the OpenTelemetry data model so that the output reads
//! the same as what is shipped over OTLP:
//!
//! ```json
//! {"kind":"log","timestamp":"…","observed_timestamp":"…","body":"…","attributes":{…},"resource":{…}}
//! ```

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::event::{Attributes, CheckResult, Event, LogRecord, Metric, MetricValue};
use crate::time::format_rfc3339_nanos;

/// Append `event` as one JSON line (with its `\n`) to `out`.
pub fn encode_line(event: &Event, out: &mut Vec<u8>) {
    // Serializing plain data into a Vec cannot fail: every map key is a
    // string and no Serialize impl here returns an error.
    let _ = serde_json::to_writer(&mut *out, &JsonEvent(event));
    out.push(b'\n');
}

/// An event's JSON form.
pub struct JsonEvent<'a>(pub &'a Event);

struct Merged<'a>(&'a Attributes, &'a Attributes);

impl Serialize for JsonEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Event::Log(log) => serialize_log(log, serializer),
            Event::Metric(metric) => serialize_metric(metric, serializer),
            Event::Check(check) => serialize_check(check, serializer),
        }
    }
}

fn serialize_log<S: Serializer>(log: &LogRecord, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("kind", "log")?;
    let time = if log.time_unix_nano != 0 {
        log.time_unix_nano
    } else {
        log.observed_time_unix_nano
    };
    map.serialize_entry("timestamp", &format_rfc3339_nanos(time))?;
    map.serialize_entry(
        "observed_timestamp",
        &format_rfc3339_nanos(log.observed_time_unix_nano),
    )?;
    if log.severity_number != 0 {
        map.serialize_entry("severity_number", &log.severity_number)?;
    }
    if let Some(text) = &log.severity_text {
        map.serialize_entry("severity_text", &**text)?;
    }
    map.serialize_entry("body", &*log.body)?;
    map.serialize_entry(
        "attributes",
        &Merged(&log.shared_attributes, &log.attributes),
    )?;
    let flags: Vec<&str> = log.flags.names().collect();
    if !flags.is_empty() {
        map.serialize_entry("flags", &flags)?;
    }
    map.serialize_entry("resource", &log.resource.attributes)?;
    map.end()
}

fn serialize_metric<S: Serializer>(metric: &Metric, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("kind", "metric")?;
    map.serialize_entry("timestamp", &format_rfc3339_nanos(metric.time_unix_nano))?;
    map.serialize_entry("name", &metric.name)?;
    if !metric.unit.is_empty() {
        map.serialize_entry("unit", &metric.unit)?;
    }
    match &metric.value {
        MetricValue::Gauge(v) => {
            map.serialize_entry("type", "gauge")?;
            map.serialize_entry("value", &finite(*v))?;
        }
        MetricValue::Sum { value, monotonic } => {
            map.serialize_entry("type", if *monotonic { "counter" } else { "sum" })?;
            map.serialize_entry("value", &finite(*value))?;
        }
        MetricValue::Histogram(h) => {
            map.serialize_entry("type", "histogram")?;
            map.serialize_entry("count", &h.count)?;
            map.serialize_entry("sum", &finite(h.sum))?;
            map.serialize_entry("bounds", &h.bounds)?;
            map.serialize_entry("bucket_counts", &h.bucket_counts)?;
        }
    }
    map.serialize_entry("attributes", &metric.attributes)?;
    map.serialize_entry("resource", &metric.resource.attributes)?;
    map.end()
}

fn serialize_check<S: Serializer>(check: &CheckResult, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("kind", "check")?;
    map.serialize_entry("timestamp", &format_rfc3339_nanos(check.time_unix_nano))?;
    map.serialize_entry("check", &*check.name)?;
    map.serialize_entry("plugin", &*check.plugin)?;
    map.serialize_entry("status", check.status.as_str())?;
    map.serialize_entry("summary", &check.summary)?;
    map.serialize_entry("duration_ms", &check.duration_ms)?;
    map.serialize_entry("details", &check.details)?;
    map.serialize_entry("resource", &check.resource.attributes)?;
    map.end()
}

/// JSON has no NaN or infinities; write them as null.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Serialize for Merged<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len() + self.1.len()))?;
        for (k, v) in self.0.iter() {
            if self.1.get(k).is_none() {
                map.serialize_entry(k, v)?;
            }
        }
        for (k, v) in self.1.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{LogFlags, Resource};

    #[test]
    fn log_line_carries_body_attributes_flags_and_resource() {
        let resource = Arc::new(Resource::new(Attributes::new().with("host.name", "node-1")));
        let shared = Arc::new(Attributes::new().with("log.file.path", "/var/log/app.log"));
        let mut log = LogRecord::new("héllo \"x\"", shared, resource);
        log.time_unix_nano = 1_714_564_800_000_000_000;
        log.attributes.insert("log.iostream", "stderr");
        log.flags.insert(LogFlags::TRUNCATED);
        let mut out = Vec::new();
        encode_line(&Event::Log(log), &mut out);
        let line = String::from_utf8(out).unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp"], "2024-05-01T12:00:00.000000000Z");
        assert_eq!(v["body"], "héllo \"x\"");
        assert_eq!(v["attributes"]["log.file.path"], "/var/log/app.log");
        assert_eq!(v["attributes"]["log.iostream"], "stderr");
        assert_eq!(v["flags"][0], "truncated");
        assert_eq!(v["resource"]["host.name"], "node-1");
    }

    #[test]
    fn metric_nan_becomes_null() {
        let metric = Metric::gauge("x", "1", f64::NAN, Arc::new(Resource::default()));
        let mut out = Vec::new();
        encode_line(&Event::Metric(metric), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["value"], serde_json::Value::Null);
        assert_eq!(v["type"], "gauge");
    }
}
