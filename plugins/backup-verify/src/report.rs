//! Turns the set reports into the check's result: the worst status, a
//! one-line summary, the metrics `backup_age_seconds`, `backup_size_bytes`
//! and `backup_verified` (each labelled `backup_set`), and one detail per
//! set.

use neurallog_plugin_sdk::{CheckResult, Metric, Status};

use crate::assess::{ChecksumOutcome, Findings, SetReport, duration};

/// How many findings the summary names before `(+N more)`.
const SUMMARY_FINDINGS: usize = 2;

/// Builds the result of a run.
#[must_use]
pub fn build(reports: &[SetReport]) -> CheckResult {
    let status = Status::worst_of(reports.iter().map(SetReport::status));
    let mut result = CheckResult::new(status, summary(reports));
    for report in reports {
        let verified = report
            .outcome
            .as_ref()
            .is_ok_and(|findings| findings.verified);
        match &report.outcome {
            Ok(findings) => {
                if let Some(newest) = &findings.newest {
                    result.push_metric(
                        Metric::gauge("backup_age_seconds", findings.age_secs)
                            .unit("s")
                            .description("Age of the newest backup of the set.")
                            .label("backup_set", &report.name),
                    );
                    result.push_metric(
                        Metric::gauge("backup_size_bytes", newest.size as f64)
                            .unit("By")
                            .description("Size of the newest backup of the set.")
                            .label("backup_set", &report.name),
                    );
                }
                result.push_detail(&report.name, describe(findings));
            }
            Err(error) => result.push_detail(&report.name, format!("error: {error}")),
        }
        // Always present, so that a set with no backup at all alerts too.
        result.push_metric(
            Metric::gauge("backup_verified", if verified { 1.0 } else { 0.0 })
                .description(
                    "1 when the newest backup of the set passed every verification, else 0.",
                )
                .label("backup_set", &report.name),
        );
    }
    result
}

/// One set as a detail value.
fn describe(findings: &Findings) -> String {
    let Some(newest) = &findings.newest else {
        return findings
            .problems
            .first()
            .map_or_else(String::new, |(_, text)| text.clone());
    };
    let mut value = format!(
        "newest {} ({} bytes, {} old, {} backups)",
        newest.relative,
        newest.size,
        duration(findings.age_secs),
        findings.count
    );
    if let Some(shrink) = findings.shrink_percent {
        value.push_str(&format!(", {shrink:.1}% smaller than the previous"));
    }
    value.push_str(match &findings.checksum {
        ChecksumOutcome::Matched(origin) => match origin.as_str() {
            "sidecar" => ", sha256 matches the sidecar",
            _ => ", sha256 matches the manifest",
        },
        ChecksumOutcome::Mismatch { .. } => ", sha256 MISMATCH",
        ChecksumOutcome::Missing => ", no checksum",
        ChecksumOutcome::Unusable(_) => ", checksum file unusable",
        ChecksumOutcome::NotComputed => ", not read",
    });
    if let ChecksumOutcome::Mismatch {
        expected, actual, ..
    } = &findings.checksum
    {
        value.push_str(&format!(" (expected {expected}, got {actual})"));
    }
    if let Some(guess) = &findings.encryption {
        value.push_str(&format!(", {}", guess.describe()));
    }
    value.push_str(if findings.verified {
        ", verified"
    } else {
        ", NOT verified"
    });
    value
}

/// `N backup sets OK; oldest newest backup ...`, or the worst findings first.
fn summary(reports: &[SetReport]) -> String {
    let mut findings: Vec<(Status, String)> = Vec::new();
    for report in reports {
        match &report.outcome {
            Ok(found) => findings.extend(
                found
                    .problems
                    .iter()
                    .map(|(status, text)| (*status, format!("{}: {text}", report.name))),
            ),
            Err(error) => findings.push((report.status(), format!("{}: {error}", report.name))),
        }
    }
    if findings.is_empty() {
        let oldest = reports
            .iter()
            .filter_map(|report| report.outcome.as_ref().ok().map(|found| (report, found)))
            .max_by(|(_, a), (_, b)| a.age_secs.total_cmp(&b.age_secs));
        return match oldest {
            Some((report, found)) => format!(
                "{} backup sets verified; oldest newest backup {} ({}) {} old",
                reports.len(),
                report.name,
                found
                    .newest
                    .as_ref()
                    .map_or("", |newest| newest.relative.as_str()),
                duration(found.age_secs)
            ),
            None => "no backup sets checked".to_owned(),
        };
    }
    // Stable: equally bad findings keep the config's order.
    findings.sort_by_key(|(status, _)| std::cmp::Reverse(*status));
    let mut summary = findings
        .iter()
        .take(SUMMARY_FINDINGS)
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if findings.len() > SUMMARY_FINDINGS {
        summary.push_str(&format!(" (+{} more)", findings.len() - SUMMARY_FINDINGS));
    }
    summary
}
