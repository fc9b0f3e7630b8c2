//! The judgement for one mount: space and inode usage as `df` computes
//! them, the days-to-full estimate, and the resulting statuses. Pure: the
//! usage and history are read by the caller.

use neurallog_plugin_sdk::Status;
use neurallog_plugin_sdk::fs_stats::{FsError, FsUsage, Mount};

use crate::config::Config;
use crate::trend::History;

/// One mount, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct MountReport {
    /// The mount point, device and filesystem type.
    pub mount: Mount,
    /// What was measured, or why nothing could be.
    pub outcome: Result<MountUsage, FsError>,
}

/// What was measured on a readable mount.
#[derive(Debug, Clone, PartialEq)]
pub struct MountUsage {
    /// The raw counts.
    pub usage: FsUsage,
    /// Space in use, percent (`df`'s `Use%` before rounding).
    pub used_percent: f64,
    /// Inodes in use, percent, when the filesystem counts inodes.
    pub inodes_percent: Option<f64>,
    /// Days until full at the recent growth rate, when growing.
    pub days_to_full: Option<f64>,
    /// Samples the estimate had.
    pub samples: usize,
    /// Status from space usage.
    pub space_status: Status,
    /// Status from inode usage.
    pub inodes_status: Status,
    /// Status from the days-to-full estimate.
    pub trend_status: Status,
}

// === impl MountReport ===

impl MountReport {
    /// The mount's status: the worst of space, inodes and trend, or
    /// `unknown` when usage could not be read.
    #[must_use]
    pub fn status(&self) -> Status {
        match &self.outcome {
            Ok(usage) => usage
                .space_status
                .worst(usage.inodes_status)
                .worst(usage.trend_status),
            Err(_) => Status::Unknown,
        }
    }
}

/// Judges one mount from its usage and (updated) history.
#[must_use]
pub fn assess(
    mount: Mount,
    usage: Result<FsUsage, FsError>,
    history: Option<&History>,
    config: &Config,
) -> MountReport {
    let outcome = usage.map(|usage| {
        let used_percent = usage.used_percent();
        let inodes_percent = usage.inodes_used_percent();
        let days_to_full = history.and_then(|history| history.days_to_full(usage.available_bytes));
        let space_status = Status::from_upper_thresholds(
            used_percent,
            config.warning_percent,
            config.critical_percent,
        );
        let inodes_status = inodes_percent.map_or(Status::Ok, |percent| {
            Status::from_upper_thresholds(
                percent,
                config.inodes_warning_percent,
                config.inodes_critical_percent,
            )
        });
        let trend_status = days_to_full.map_or(Status::Ok, |days| {
            Status::from_lower_thresholds(
                days,
                config.warning_days_to_full.unwrap_or(f64::NEG_INFINITY),
                config.critical_days_to_full.unwrap_or(f64::NEG_INFINITY),
            )
        });
        MountUsage {
            usage,
            used_percent,
            inodes_percent,
            days_to_full,
            samples: history.map_or(0, |history| history.samples.len()),
            space_status,
            inodes_status,
            trend_status,
        }
    });
    MountReport { mount, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trend::Window;

    const GIB: u64 = 1 << 30;

    fn root() -> Mount {
        Mount {
            path: "/".to_owned(),
            device: "/dev/sda1".to_owned(),
            fs_type: "ext4".to_owned(),
        }
    }

    /// A 100 GiB filesystem with 5 GiB reserved for root.
    fn usage(used_gib: u64, inodes_used: u64) -> FsUsage {
        FsUsage {
            total_bytes: 100 * GIB,
            free_bytes: (100 - used_gib) * GIB,
            available_bytes: (95 - used_gib) * GIB,
            total_inodes: 1000,
            free_inodes: 1000 - inodes_used,
        }
    }

    #[test]
    fn usage_is_computed_like_df_and_mapped_to_thresholds() {
        let config = Config::default();
        // used / (used + available): 76 / 95 = 80%, 81 / 95 = 85.3%, 91 / 95 = 95.8%.
        for (used_gib, percent, status) in [
            (76, 80.0, Status::Ok),
            (81, 85.263_157_894_736_84, Status::Warning),
            (91, 95.789_473_684_210_53, Status::Critical),
        ] {
            let report = assess(root(), Ok(usage(used_gib, 10)), None, &config);
            let measured = report.outcome.as_ref().expect("readable");
            assert!(
                (measured.used_percent - percent).abs() < 1e-9,
                "{}",
                measured.used_percent
            );
            assert_eq!(report.status(), status, "{used_gib} GiB used");
        }
    }

    #[test]
    fn inodes_have_their_own_thresholds() {
        let config = Config {
            inodes_warning_percent: 50.0,
            inodes_critical_percent: 60.0,
            ..Config::default()
        };
        let report = assess(root(), Ok(usage(10, 550)), None, &config);
        let measured = report.outcome.as_ref().expect("readable");
        assert_eq!(measured.inodes_percent, Some(55.0));
        assert_eq!(measured.space_status, Status::Ok);
        assert_eq!(measured.inodes_status, Status::Warning);
        assert_eq!(report.status(), Status::Warning);
        let no_inodes = FsUsage {
            total_inodes: 0,
            free_inodes: 0,
            ..usage(10, 0)
        };
        let report = assess(root(), Ok(no_inodes), None, &config);
        assert_eq!(
            report.outcome.as_ref().expect("readable").inodes_percent,
            None
        );
        assert_eq!(report.status(), Status::Ok);
    }

    #[test]
    fn days_to_full_only_changes_the_status_when_configured() {
        let window = Window {
            max_samples: 10,
            max_age_secs: 30 * 86_400,
        };
        let mut history = History::default();
        // 2 GiB a day: 56, 58, 60 GiB used; 35 GiB available → 17.5 days.
        for day in 0..3 {
            history.record(day * 86_400, &usage(56 + 2 * day as u64, 0), window);
        }
        let report = assess(root(), Ok(usage(60, 0)), Some(&history), &Config::default());
        let measured = report.outcome.as_ref().expect("readable");
        let days = measured.days_to_full.expect("growing");
        assert!((days - 17.5).abs() < 1e-9, "{days}");
        assert_eq!(measured.samples, 3);
        assert_eq!(report.status(), Status::Ok);

        let config = Config {
            warning_days_to_full: Some(30.0),
            critical_days_to_full: Some(7.0),
            ..Config::default()
        };
        let report = assess(root(), Ok(usage(60, 0)), Some(&history), &config);
        assert_eq!(report.status(), Status::Warning);
    }

    #[test]
    fn unreadable_mount_is_unknown() {
        let report = assess(
            root(),
            Err(FsError::NotAllowed("/".to_owned())),
            None,
            &Config::default(),
        );
        assert_eq!(report.status(), Status::Unknown);
    }
}
