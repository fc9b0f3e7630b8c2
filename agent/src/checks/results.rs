//! A run's report as events: the status gauge, the plugin's metrics, and a
//! check result.

use std::borrow::Cow;
use std::sync::Arc;

use crate::event::{
    AnyValue, Attributes, CheckResult, CheckStatus, Event, Metric, MetricValue, Resource,
    now_unix_nanos,
};
use crate::wasm::{MetricKind, RunOutcome, RunReport, Status};

/// What one run produced.
#[derive(Debug)]
pub struct RunEvents {
    /// The status it gives the check.
    pub status: CheckStatus,
    /// Its summary.
    pub summary: String,
    /// The status gauge and the plugin's metrics.
    pub metrics: Vec<Event>,
    /// The check result event.
    pub result: CheckResult,
}

/// Turn `report` into events for check `check` run by `plugin`.
pub fn report_events(
    check: &Arc<str>,
    plugin: &Arc<str>,
    report: &RunReport,
    resource: &Arc<Resource>,
) -> RunEvents {
    let time = now_unix_nanos();
    let mut details = Attributes::new();
    let (status, summary, plugin_metrics) = match &report.outcome {
        RunOutcome::Ok(result) => {
            for detail in &result.details {
                details.insert(detail.key.clone(), detail.value.clone());
            }
            (
                status_of(result.status),
                result.summary.clone(),
                result.metrics.as_slice(),
            )
        }
        RunOutcome::PluginError { message, .. } => (
            CheckStatus::Unknown,
            format!("{}: {message}", report.outcome.label()),
            &[][..],
        ),
        RunOutcome::Failed { message, .. } => {
            details.insert("outcome", report.outcome.label());
            if !report.stderr.is_empty() {
                details.insert("stderr", report.stderr.clone());
            }
            (
                CheckStatus::Unknown,
                format!("run failed ({}): {message}", report.outcome.label()),
                &[][..],
            )
        }
    };
    let mut metrics = Vec::with_capacity(plugin_metrics.len() + 1);
    metrics.push(Event::Metric(Metric {
        name: Cow::Borrowed("neurallog_check_status"),
        description: Cow::Borrowed(
            "Status of a check's last run: 0 ok, 1 warning, 2 critical, 3 unknown.",
        ),
        unit: Cow::Borrowed("1"),
        value: MetricValue::Gauge(f64::from(status.code())),
        attributes: Attributes::new().with("check", check.to_string()),
        time_unix_nano: time,
        start_time_unix_nano: 0,
        resource: Arc::clone(resource),
    }));
    for metric in plugin_metrics {
        let mut attributes: Attributes = metric
            .labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        attributes.insert("check", check.to_string());
        metrics.push(Event::Metric(Metric {
            name: Cow::Owned(metric.name.clone()),
            description: Cow::Owned(metric.description.clone()),
            unit: Cow::Owned(metric.unit.clone()),
            value: match metric.kind {
                MetricKind::Gauge => MetricValue::Gauge(metric.value),
                MetricKind::Counter => MetricValue::Sum {
                    value: metric.value,
                    monotonic: true,
                },
            },
            attributes,
            time_unix_nano: time,
            start_time_unix_nano: 0,
            resource: Arc::clone(resource),
        }));
    }
    details.insert("outcome", AnyValue::from(report.outcome.label()));
    let result = CheckResult {
        name: Arc::clone(check),
        plugin: Arc::clone(plugin),
        status,
        summary: summary.clone(),
        details,
        time_unix_nano: time,
        duration_ms: report.duration.as_secs_f64() * 1000.0,
        resource: Arc::clone(resource),
    };
    RunEvents {
        status,
        summary,
        metrics,
        result,
    }
}

/// The event model's status for a plugin's.
pub fn status_of(status: Status) -> CheckStatus {
    match status {
        Status::Ok => CheckStatus::Ok,
        Status::Warning => CheckStatus::Warning,
        Status::Critical => CheckStatus::Critical,
        Status::Unknown => CheckStatus::Unknown,
    }
}
