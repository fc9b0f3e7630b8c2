//! `disk-usage`: space and inode usage per mount, exactly as `df` reports
//! them, and an estimate of the days until each fills up.
//!
//! The host's `fs-stats` import gives `statvfs(3)` counts for the mounts
//! granted to the check; the plugin computes `disk_usage_percent` as `df`
//! does (`used / (used + available) * 100` with `used = total - free`), so
//! the platform's `LowDiskSpace` alert (`disk_usage_percent > 85`) fires
//! when `df` shows more than 85%. A bounded history of used bytes per mount,
//! kept in the plugin's state, gives `disk_days_to_full` by linear
//! regression while usage grows. `plugins/disk-usage/README.md` documents
//! the configuration, statuses and metrics for operators.
//!
//! Modules: [`config`], [`trend`] (history and regression), [`assess`]
//! (per-mount judgement) and [`report`] (the result).

pub mod assess;
pub mod config;
pub mod report;
pub mod trend;

use neurallog_plugin_sdk::fs_stats::{self, Mount};
use neurallog_plugin_sdk::{Check, CheckResult, PluginInfo, RunError, clock};

use crate::config::Config;
use crate::trend::Window;

/// The disk usage check.
pub struct DiskUsage;

neurallog_plugin_sdk::export_check!(DiskUsage);

impl Check for DiskUsage {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Reports space and inode usage per mount as df computes them (metrics \
             disk_usage_percent and disk_inodes_usage_percent) and, from a bounded history kept \
             in state, the days until each mount is full while its usage grows \
             (disk_days_to_full).",
        )
        .config_schema_of::<Config>()
    }

    fn run(config: Config) -> Result<CheckResult, RunError> {
        config.validate()?;
        let targets = targets(&config.mounts, fs_stats::mounts());
        if targets.is_empty() {
            return Ok(CheckResult::unknown(
                "no mounts to check: grant some in the check's grants.mounts",
            ));
        }
        let now = clock::now().seconds;
        let window = Window {
            max_samples: config.history_samples,
            max_age_secs: i64::try_from(config.history_max_age_secs).unwrap_or(i64::MAX),
        };
        let mut state_errors = Vec::new();
        let reports: Vec<_> = targets
            .into_iter()
            .map(|mount| {
                let usage = fs_stats::usage(&mount.path);
                let history = usage.as_ref().ok().map(|usage| {
                    let mut history = trend::load(&mount.path);
                    history.record(now, usage, window);
                    if let Err(error) = trend::save(&mount.path, &history) {
                        neurallog_plugin_sdk::warn!(
                            "History of {} could not be saved: {error}.",
                            mount.path
                        );
                        state_errors.push(format!("{}: {error}", mount.path));
                    }
                    history
                });
                assess::assess(mount, usage, history.as_ref(), &config)
            })
            .collect();
        let checked: Vec<String> = reports
            .iter()
            .map(|report| report.mount.path.clone())
            .collect();
        trend::forget_stale(&checked, now, window.max_age_secs);
        let mut result = report::build(&reports);
        if !state_errors.is_empty() {
            result.push_detail("state_error", state_errors.join("; "));
        }
        Ok(result)
    }
}

/// The mounts to check: the configured ones (with device and type from the
/// granted list when it has them), or every granted mount.
#[must_use]
pub fn targets(configured: &[String], granted: Vec<Mount>) -> Vec<Mount> {
    if configured.is_empty() {
        return granted;
    }
    configured
        .iter()
        .map(|path| {
            granted
                .iter()
                .find(|mount| mount.path == *path)
                .cloned()
                .unwrap_or_else(|| Mount {
                    path: path.clone(),
                    device: String::new(),
                    fs_type: String::new(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::clock::Timestamp;
    use neurallog_plugin_sdk::fs_stats::FsUsage;
    use neurallog_plugin_sdk::{Status, run_check, testing};

    use super::*;

    const GIB: u64 = 1 << 30;

    fn mount(path: &str) -> Mount {
        Mount {
            path: path.to_owned(),
            device: "/dev/sda1".to_owned(),
            fs_type: "ext4".to_owned(),
        }
    }

    fn usage(used_gib: u64) -> FsUsage {
        FsUsage {
            total_bytes: 100 * GIB,
            free_bytes: (100 - used_gib) * GIB,
            available_bytes: (100 - used_gib) * GIB,
            total_inodes: 1000,
            free_inodes: 900,
        }
    }

    #[test]
    fn every_granted_mount_is_checked_when_none_are_configured() {
        testing::reset();
        testing::add_mount(mount("/"), Ok(usage(50)));
        testing::add_mount(mount("/var"), Ok(usage(90)));
        let result = run_check::<DiskUsage>("{}").expect("run succeeds");
        assert_eq!(result.status, Status::Warning);
        assert_eq!(result.summary, "/var at 90.0%");
        let mounts: Vec<&str> = result
            .metrics_named("disk_usage_percent")
            .filter_map(|metric| metric.label_value("mountpoint"))
            .collect();
        assert_eq!(mounts, vec!["/", "/var"]);
    }

    #[test]
    fn days_to_full_appears_after_three_growing_runs_and_state_stays_bounded() {
        testing::reset();
        let day = 86_400;
        for (run, used) in [(0, 50), (1, 52), (2, 54)] {
            testing::add_mount(mount("/data"), Ok(usage(used)));
            testing::set_now(Timestamp::from_unix_seconds(1_700_000_000 + run * day));
            let result = run_check::<DiskUsage>(r#"{"mounts": ["/data"], "history_samples": 3}"#)
                .expect("run succeeds");
            let estimate = result
                .metrics_named("disk_days_to_full")
                .next()
                .map(|metric| metric.value);
            if run < 2 {
                assert_eq!(estimate, None, "run {run}");
            } else {
                // 2 GiB a day, 46 GiB available.
                let days = estimate.expect("growing after three runs");
                assert!((days - 23.0).abs() < 1e-9, "{days}");
            }
        }
        let state = testing::state();
        assert_eq!(state.keys().collect::<Vec<_>>(), vec!["history:/data"]);
        let history: trend::History =
            serde_json::from_slice(&state["history:/data"]).expect("JSON");
        assert_eq!(history.samples.len(), 3);
    }

    #[test]
    fn histories_of_mounts_no_longer_checked_are_forgotten_once_stale() {
        testing::reset();
        testing::set_now(Timestamp::from_unix_seconds(1_700_000_000));
        testing::add_mount(mount("/"), Ok(usage(10)));
        testing::add_mount(mount("/old"), Ok(usage(10)));
        run_check::<DiskUsage>("{}").expect("run succeeds");
        assert_eq!(testing::state().len(), 2);
        // Still fresh: another check sharing the state may own it.
        testing::set_now(Timestamp::from_unix_seconds(1_700_003_600));
        run_check::<DiskUsage>(r#"{"mounts": ["/"]}"#).expect("run succeeds");
        assert_eq!(testing::state().len(), 2);
        testing::set_now(Timestamp::from_unix_seconds(1_700_000_000 + 8 * 86_400));
        run_check::<DiskUsage>(r#"{"mounts": ["/"]}"#).expect("run succeeds");
        assert_eq!(
            testing::state().keys().collect::<Vec<_>>(),
            vec!["history:/"]
        );
    }

    #[test]
    fn nothing_granted_is_unknown() {
        testing::reset();
        let result = run_check::<DiskUsage>("{}").expect("run succeeds");
        assert_eq!(result.status, Status::Unknown);
        assert!(
            result.summary.contains("grants.mounts"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_full_state_is_reported_without_failing_the_run() {
        testing::reset();
        testing::set_state_cap(Some(10));
        testing::add_mount(mount("/"), Ok(usage(10)));
        let result = run_check::<DiskUsage>("{}").expect("run succeeds");
        assert_eq!(result.status, Status::Ok);
        assert_eq!(
            result.detail_value("state_error"),
            Some("/: state quota of 10 bytes exceeded")
        );
    }
}
