//! Turns the mount reports into the check's result: the worst status, a
//! one-line summary, the metrics (`disk_usage_percent`,
//! `disk_inodes_usage_percent`, `disk_days_to_full`, `disk_size_bytes`,
//! `disk_available_bytes`, each labelled `mountpoint`, `device`, `fstype`)
//! and one detail per mount.

use neurallog_plugin_sdk::{CheckResult, Metric, Status};

use crate::assess::{MountReport, MountUsage};

/// How many findings the summary names before `(+N more)`.
const SUMMARY_FINDINGS: usize = 2;

/// Builds the result of a run.
#[must_use]
pub fn build(reports: &[MountReport]) -> CheckResult {
    let status = Status::worst_of(reports.iter().map(MountReport::status));
    let mut result = CheckResult::new(status, summary(reports));
    for report in reports {
        let mount = &report.mount;
        let labelled = |metric: Metric| {
            metric
                .label("mountpoint", &mount.path)
                .label("device", &mount.device)
                .label("fstype", &mount.fs_type)
        };
        let measured = match &report.outcome {
            Ok(measured) => measured,
            Err(error) => {
                result.push_detail(&mount.path, format!("error: {error}"));
                continue;
            }
        };
        result.push_metric(labelled(
            Metric::gauge("disk_usage_percent", measured.used_percent)
                .unit("%")
                .description(
                    "Space in use, percent of the space usable by unprivileged users (df Use%).",
                ),
        ));
        if let Some(percent) = measured.inodes_percent {
            result.push_metric(labelled(
                Metric::gauge("disk_inodes_usage_percent", percent)
                    .unit("%")
                    .description("Inodes in use, percent (df -i IUse%)."),
            ));
        }
        if let Some(days) = measured.days_to_full {
            result.push_metric(labelled(
                Metric::gauge("disk_days_to_full", days)
                    .unit("d")
                    .description("Days until the filesystem is full at its recent growth rate."),
            ));
        }
        result.push_metric(labelled(
            Metric::gauge("disk_size_bytes", measured.usage.total_bytes as f64)
                .unit("By")
                .description("Size of the filesystem."),
        ));
        result.push_metric(labelled(
            Metric::gauge(
                "disk_available_bytes",
                measured.usage.available_bytes as f64,
            )
            .unit("By")
            .description("Space available to unprivileged users."),
        ));
        result.push_detail(&mount.path, describe(measured));
    }
    result
}

/// One mount as a detail value.
fn describe(measured: &MountUsage) -> String {
    let usage = &measured.usage;
    let mut value = format!(
        "{:.1}% used ({} of {} usable bytes)",
        measured.used_percent,
        usage.used_bytes(),
        usage.used_bytes() + usage.available_bytes
    );
    match measured.inodes_percent {
        Some(percent) => value.push_str(&format!(", inodes {percent:.1}%")),
        None => value.push_str(", inodes not reported"),
    }
    match measured.days_to_full {
        Some(days) => value.push_str(&format!(
            ", full in {days:.1} days ({} samples)",
            measured.samples
        )),
        None => value.push_str(&format!(", not growing ({} samples)", measured.samples)),
    }
    value
}

/// `N mounts OK; fullest / at 63.2%`, or the worst findings first.
fn summary(reports: &[MountReport]) -> String {
    let mut findings: Vec<(Status, String)> = Vec::new();
    for report in reports {
        let path = &report.mount.path;
        match &report.outcome {
            Err(error) => findings.push((Status::Unknown, format!("{path}: {error}"))),
            Ok(measured) => {
                if measured.space_status != Status::Ok {
                    findings.push((
                        measured.space_status,
                        format!("{path} at {:.1}%", measured.used_percent),
                    ));
                }
                if measured.inodes_status != Status::Ok {
                    let percent = measured.inodes_percent.unwrap_or_default();
                    findings.push((
                        measured.inodes_status,
                        format!("{path} inodes at {percent:.1}%"),
                    ));
                }
                if measured.trend_status != Status::Ok {
                    let days = measured.days_to_full.unwrap_or_default();
                    findings.push((
                        measured.trend_status,
                        format!("{path} full in {days:.1} days"),
                    ));
                }
            }
        }
    }
    if findings.is_empty() {
        let fullest = reports
            .iter()
            .filter_map(|report| {
                report
                    .outcome
                    .as_ref()
                    .ok()
                    .map(|measured| (report, measured))
            })
            .max_by(|(_, a), (_, b)| a.used_percent.total_cmp(&b.used_percent));
        return match fullest {
            Some((report, measured)) => format!(
                "{} mounts OK; fullest {} at {:.1}%",
                reports.len(),
                report.mount.path,
                measured.used_percent
            ),
            None => "no mounts checked".to_owned(),
        };
    }
    // Stable: equally bad findings keep the mounts' order.
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

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::fs_stats::{FsError, FsUsage, Mount};

    use super::*;
    use crate::assess::assess;
    use crate::config::Config;

    fn mount(path: &str) -> Mount {
        Mount {
            path: path.to_owned(),
            device: format!("/dev/{}", path.trim_start_matches('/')),
            fs_type: "ext4".to_owned(),
        }
    }

    fn usage(used: u64, available: u64) -> FsUsage {
        FsUsage {
            total_bytes: used + available,
            free_bytes: available,
            available_bytes: available,
            total_inodes: 100,
            free_inodes: 90,
        }
    }

    #[test]
    fn healthy_mounts_name_the_fullest_and_carry_labelled_metrics() {
        let config = Config::default();
        let reports = vec![
            assess(mount("/"), Ok(usage(30, 70)), None, &config),
            assess(mount("/var"), Ok(usage(60, 40)), None, &config),
        ];
        let result = build(&reports);
        assert_eq!(result.status, Status::Ok);
        assert_eq!(result.summary, "2 mounts OK; fullest /var at 60.0%");
        let var = result
            .metrics_named("disk_usage_percent")
            .find(|metric| metric.label_value("mountpoint") == Some("/var"))
            .expect("/var metric");
        assert_eq!(var.value, 60.0);
        assert_eq!(var.unit, "%");
        assert_eq!(var.label_value("device"), Some("/dev/var"));
        assert_eq!(var.label_value("fstype"), Some("ext4"));
        assert_eq!(result.metrics_named("disk_inodes_usage_percent").count(), 2);
        assert_eq!(result.metrics_named("disk_days_to_full").count(), 0);
        assert_eq!(
            result.detail_value("/var"),
            Some("60.0% used (60 of 100 usable bytes), inodes 10.0%, not growing (0 samples)")
        );
    }

    #[test]
    fn problems_are_listed_worst_first() {
        let config = Config::default();
        let reports = vec![
            assess(mount("/"), Ok(usage(86, 14)), None, &config),
            assess(
                mount("/data"),
                Err(FsError::NotAllowed("/data".to_owned())),
                None,
                &config,
            ),
            assess(mount("/var"), Ok(usage(97, 3)), None, &config),
        ];
        let result = build(&reports);
        assert_eq!(result.status, Status::Critical);
        assert_eq!(
            result.summary,
            "/var at 97.0%; /data: not allowed (add it to the check's grants.mounts): /data (+1 more)"
        );
        assert_eq!(
            result.detail_value("/data"),
            Some("error: not allowed (add it to the check's grants.mounts): /data")
        );
        assert_eq!(result.metrics_named("disk_usage_percent").count(), 2);
    }
}
