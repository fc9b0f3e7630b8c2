//! Turns what a plugin returned into the agent's plain types and checks it:
//! its size against the output cap, metric and label names against the
//! Prometheus data model, values (finite; counters not negative), and that
//! no series appears twice. The agent adds a `check` label to every plugin
//! metric, so a plugin may not use that label itself.
//!
//! Size is the sum of every string's bytes plus 8 bytes per value and 16 per
//! metric, label and detail: close to what the result costs to keep and
//! export, and independent of how the guest laid it out.

use std::collections::{HashMap, HashSet};

use super::bindings::v0_1::neurallog::plugin::types as wit;
use super::report::{CheckResult, Detail, Label, Metric, MetricKind, Status};

/// Label the agent adds to every plugin metric.
const RESERVED_LABEL: &str = "check";
/// Per-item overhead counted toward the output size.
const ITEM_OVERHEAD_BYTES: u64 = 16;

/// Why a result was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum OutputError {
    /// Over the output cap.
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// What was too large: the result, an error message, the plugin's
        /// description.
        what: &'static str,
        /// Size as counted.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Converts and validates a plugin's result.
pub(crate) fn accept(result: wit::CheckResult, max_bytes: u64) -> Result<CheckResult, OutputError> {
    check_size("result", output_size(&result), max_bytes)?;
    let result = convert(result);
    validate(&result)?;
    Ok(result)
}

/// Refuses `size` bytes of `what` over the cap of `max_bytes`.
pub(crate) fn check_size(what: &'static str, size: u64, max_bytes: u64) -> Result<(), OutputError> {
    match size > max_bytes {
        true => Err(OutputError::TooLarge {
            what,
            size,
            limit: max_bytes,
        }),
        false => Ok(()),
    }
}

/// Size of what `describe` returned, counted as [`output_size`] counts.
pub(crate) fn info_size(info: &wit::PluginInfo) -> u64 {
    [
        &info.name,
        &info.version,
        &info.description,
        &info.config_schema,
    ]
    .iter()
    .map(|s| s.len() as u64)
    .sum()
}

fn output_size(result: &wit::CheckResult) -> u64 {
    let len = |s: &String| s.len() as u64;
    let metrics: u64 = result
        .metrics
        .iter()
        .map(|m| {
            ITEM_OVERHEAD_BYTES
                + 8
                + len(&m.name)
                + len(&m.description)
                + len(&m.unit)
                + m.labels
                    .iter()
                    .map(|l| ITEM_OVERHEAD_BYTES + len(&l.key) + len(&l.value))
                    .sum::<u64>()
        })
        .sum();
    let details: u64 = result
        .details
        .iter()
        .map(|d| ITEM_OVERHEAD_BYTES + len(&d.key) + len(&d.value))
        .sum();
    len(&result.summary) + metrics + details
}

fn convert(result: wit::CheckResult) -> CheckResult {
    CheckResult {
        status: match result.status {
            wit::Status::Ok => Status::Ok,
            wit::Status::Warning => Status::Warning,
            wit::Status::Critical => Status::Critical,
            wit::Status::Unknown => Status::Unknown,
        },
        summary: result.summary,
        metrics: result
            .metrics
            .into_iter()
            .map(|m| Metric {
                name: m.name,
                description: m.description,
                unit: m.unit,
                kind: match m.kind {
                    wit::MetricKind::Gauge => MetricKind::Gauge,
                    wit::MetricKind::Counter => MetricKind::Counter,
                },
                value: m.value,
                labels: m
                    .labels
                    .into_iter()
                    .map(|l| Label {
                        key: l.key,
                        value: l.value,
                    })
                    .collect(),
            })
            .collect(),
        details: result
            .details
            .into_iter()
            .map(|d| Detail {
                key: d.key,
                value: d.value,
            })
            .collect(),
    }
}

fn validate(result: &CheckResult) -> Result<(), OutputError> {
    let invalid = |msg: String| Err(OutputError::Invalid(msg));
    let mut kinds: HashMap<&str, MetricKind> = HashMap::new();
    let mut series: HashSet<(&str, Vec<(&str, &str)>)> = HashSet::new();
    for (i, metric) in result.metrics.iter().enumerate() {
        let name = metric.name.as_str();
        if !is_prometheus_name(name) {
            return invalid(format!(
                "metrics[{i}].name: {name:?} is not a valid metric name \
                 (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\")"
            ));
        }
        if !metric.value.is_finite() {
            return invalid(format!(
                "metrics[{i}] ({name}): value {} is not a finite number",
                metric.value
            ));
        }
        if metric.kind == MetricKind::Counter && metric.value < 0.0 {
            return invalid(format!(
                "metrics[{i}] ({name}): counter value {} is negative",
                metric.value
            ));
        }
        if let Some(&kind) = kinds.get(name)
            && kind != metric.kind
        {
            return invalid(format!("metrics[{i}] ({name}): both a gauge and a counter"));
        }
        kinds.insert(name, metric.kind);
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(metric.labels.len());
        for (j, label) in metric.labels.iter().enumerate() {
            let key = label.key.as_str();
            if !is_prometheus_name(key) || key == RESERVED_LABEL {
                return invalid(format!(
                    "metrics[{i}].labels[{j}] ({name}): {key:?} is not a valid label name \
                     (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\", not \"{RESERVED_LABEL}\")"
                ));
            }
            labels.push((key, label.value.as_str()));
        }
        labels.sort_unstable();
        if labels.windows(2).any(|w| w[0].0 == w[1].0) {
            return invalid(format!("metrics[{i}] ({name}): a label name appears twice"));
        }
        if !series.insert((name, labels)) {
            return invalid(format!(
                "metrics[{i}] ({name}): the same series appears twice"
            ));
        }
    }
    Ok(())
}

/// A Prometheus metric or label name without colons (reserved for
/// recording rules) and without the reserved `__` prefix.
fn is_prometheus_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, value: f64, labels: &[(&str, &str)]) -> wit::Metric {
        wit::Metric {
            name: name.into(),
            description: "d".into(),
            unit: "1".into(),
            kind: wit::MetricKind::Gauge,
            value,
            labels: labels
                .iter()
                .map(|(k, v)| wit::Label {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        }
    }

    fn result(metrics: Vec<wit::Metric>) -> wit::CheckResult {
        wit::CheckResult {
            status: wit::Status::Warning,
            summary: "s".into(),
            metrics,
            details: vec![wit::Detail {
                key: "k".into(),
                value: "v".into(),
            }],
        }
    }

    fn invalid(metrics: Vec<wit::Metric>) -> String {
        match accept(result(metrics), 1 << 20) {
            Err(OutputError::Invalid(msg)) => msg,
            other => panic!("expected invalid output, got {other:?}"),
        }
    }

    #[test]
    fn a_good_result_converts_field_for_field() {
        let got = accept(
            result(vec![metric(
                "disk_usage_percent",
                42.5,
                &[("mountpoint", "/")],
            )]),
            1 << 20,
        )
        .unwrap();
        assert_eq!(got.status, Status::Warning);
        assert_eq!(got.metrics[0].name, "disk_usage_percent");
        assert_eq!(got.metrics[0].value, 42.5);
        assert_eq!(got.metrics[0].labels[0].key, "mountpoint");
        assert_eq!(got.detail("k"), Some("v"));
    }

    #[test]
    fn names_must_be_prometheus_names() {
        assert!(invalid(vec![metric("bad-name", 1.0, &[])]).contains("metrics[0].name"));
        assert!(invalid(vec![metric("__reserved", 1.0, &[])]).contains("not a valid metric name"));
        assert!(invalid(vec![metric("ok", 1.0, &[("9lives", "x")])]).contains("labels[0]"));
        assert!(invalid(vec![metric("ok", 1.0, &[("check", "x")])]).contains("\"check\""));
    }

    #[test]
    fn non_finite_values_are_refused() {
        assert!(invalid(vec![metric("ok", f64::NAN, &[])]).contains("NaN is not a finite number"));
        assert!(invalid(vec![metric("ok", f64::NEG_INFINITY, &[])]).contains("-inf"));
    }

    #[test]
    fn duplicate_series_and_labels_are_refused() {
        let twice = invalid(vec![
            metric("m", 1.0, &[("a", "1"), ("b", "2")]),
            metric("m", 2.0, &[("b", "2"), ("a", "1")]),
        ]);
        assert!(twice.contains("same series appears twice"), "{twice}");
        assert!(
            invalid(vec![metric("m", 1.0, &[("a", "1"), ("a", "2")])])
                .contains("label name appears twice")
        );
        // Same name, different labels: two series, fine.
        accept(
            result(vec![
                metric("m", 1.0, &[("a", "1")]),
                metric("m", 1.0, &[("a", "2")]),
            ]),
            1 << 20,
        )
        .unwrap();
    }

    #[test]
    fn size_is_capped() {
        let mut big = result(vec![]);
        big.summary = "x".repeat(2000);
        let err = accept(big, 1000).unwrap_err();
        assert_eq!(
            err,
            OutputError::TooLarge {
                what: "result",
                size: 2000 + 16 + 2,
                limit: 1000
            }
        );
    }
}
