//! The `disk-usage` configuration: which mounts, the thresholds in percent,
//! and how much history the days-to-full estimate keeps.
//! `plugins/disk-usage/README.md` documents it for operators; the JSON
//! Schema returned by `describe` is derived from the doc comments here.

use neurallog_plugin_sdk::RunError;
use schemars::JsonSchema;
use serde::Deserialize;

/// The most samples `history_samples` may keep per mount, so that the
/// plugin's state stays small.
pub const MAX_HISTORY_SAMPLES: usize = 1000;

/// Configuration of the `disk-usage` check. Every field is optional.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Mount points to check. Each must be listed in the check's
    /// `grants.mounts`. Empty (the default): every granted mount.
    #[serde(default)]
    pub mounts: Vec<String>,
    /// Space usage (percent, as `df` computes `Use%`) at or above which the
    /// check is `warning`.
    #[serde(default = "default_warning_percent")]
    pub warning_percent: f64,
    /// Space usage (percent) at or above which the check is `critical`.
    #[serde(default = "default_critical_percent")]
    pub critical_percent: f64,
    /// Inode usage (percent, as `df -i` computes `IUse%`) at or above which
    /// the check is `warning`.
    #[serde(default = "default_warning_percent")]
    pub inodes_warning_percent: f64,
    /// Inode usage (percent) at or above which the check is `critical`.
    #[serde(default = "default_critical_percent")]
    pub inodes_critical_percent: f64,
    /// How many recent samples per mount the days-to-full estimate keeps in
    /// the plugin's state (one per run; 3 to 1000).
    #[serde(default = "default_history_samples")]
    pub history_samples: usize,
    /// Samples older than this many seconds are dropped from the estimate.
    #[serde(default = "default_history_max_age_secs")]
    pub history_max_age_secs: u64,
    /// When set, a mount estimated to fill up in fewer days than this is
    /// `warning`. Unset (the default): the estimate is reported but never
    /// changes the status.
    #[serde(default)]
    pub warning_days_to_full: Option<f64>,
    /// When set, a mount estimated to fill up in fewer days than this is
    /// `critical`.
    #[serde(default)]
    pub critical_days_to_full: Option<f64>,
}

/// The default of [`Config::warning_percent`] and
/// [`Config::inodes_warning_percent`]: 85, as the platform's `LowDiskSpace`
/// alert (`disk_usage_percent > 85`).
#[must_use]
pub fn default_warning_percent() -> f64 {
    85.0
}

/// The default of [`Config::critical_percent`] and
/// [`Config::inodes_critical_percent`]: 95.
#[must_use]
pub fn default_critical_percent() -> f64 {
    95.0
}

/// The default of [`Config::history_samples`]: 48 (two days of hourly runs).
#[must_use]
pub fn default_history_samples() -> usize {
    48
}

/// The default of [`Config::history_max_age_secs`]: 7 days.
#[must_use]
pub fn default_history_max_age_secs() -> u64 {
    7 * 86_400
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mounts: Vec::new(),
            warning_percent: default_warning_percent(),
            critical_percent: default_critical_percent(),
            inodes_warning_percent: default_warning_percent(),
            inodes_critical_percent: default_critical_percent(),
            history_samples: default_history_samples(),
            history_max_age_secs: default_history_max_age_secs(),
            warning_days_to_full: None,
            critical_days_to_full: None,
        }
    }
}

// === impl Config ===

impl Config {
    /// Checks what serde cannot: thresholds in range and in order, a sane
    /// history size.
    ///
    /// # Errors
    ///
    /// [`RunError::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), RunError> {
        for (warning_field, warning, critical_field, critical) in [
            (
                "warning_percent",
                self.warning_percent,
                "critical_percent",
                self.critical_percent,
            ),
            (
                "inodes_warning_percent",
                self.inodes_warning_percent,
                "inodes_critical_percent",
                self.inodes_critical_percent,
            ),
        ] {
            for (field, value) in [(warning_field, warning), (critical_field, critical)] {
                if !(0.0..=100.0).contains(&value) {
                    return Err(RunError::invalid_config(
                        field,
                        format!("{value} is not between 0 and 100"),
                    ));
                }
            }
            if warning > critical {
                return Err(RunError::invalid_config(
                    warning_field,
                    format!("{warning} is above {critical_field} ({critical})"),
                ));
            }
        }
        if !(3..=MAX_HISTORY_SAMPLES).contains(&self.history_samples) {
            return Err(RunError::invalid_config(
                "history_samples",
                format!(
                    "{} is not between 3 and {MAX_HISTORY_SAMPLES}",
                    self.history_samples
                ),
            ));
        }
        if let (Some(warning), Some(critical)) =
            (self.warning_days_to_full, self.critical_days_to_full)
            && warning < critical
        {
            return Err(RunError::invalid_config(
                "warning_days_to_full",
                format!("{warning} is below critical_days_to_full ({critical})"),
            ));
        }
        if let Some(index) = self.mounts.iter().position(|mount| !mount.starts_with('/')) {
            return Err(RunError::invalid_config(
                &format!("mounts[{index}]"),
                "must be an absolute path",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::parse_config;

    use super::*;

    #[test]
    fn defaults_match_the_platform_alert() {
        let config: Config = parse_config("{}").expect("valid");
        assert_eq!(config, Config::default());
        assert_eq!(config.warning_percent, 85.0);
        assert_eq!(config.critical_percent, 95.0);
        assert_eq!(config.inodes_warning_percent, 85.0);
        assert_eq!(config.inodes_critical_percent, 95.0);
        config.validate().expect("defaults are valid");
    }

    #[test]
    fn validation_names_the_offending_field() {
        let cases = [
            (
                r#"{"warning_percent": 96}"#,
                "warning_percent: 96 is above critical_percent (95)",
            ),
            (
                r#"{"inodes_critical_percent": 120}"#,
                "inodes_critical_percent: 120 is not between 0 and 100",
            ),
            (
                r#"{"history_samples": 2}"#,
                "history_samples: 2 is not between 3 and 1000",
            ),
            (
                r#"{"warning_days_to_full": 1, "critical_days_to_full": 3}"#,
                "warning_days_to_full: 1 is below critical_days_to_full (3)",
            ),
            (
                r#"{"mounts": ["/", "var"]}"#,
                "mounts[1]: must be an absolute path",
            ),
        ];
        for (json, expected) in cases {
            let config: Config = parse_config(json).expect("parses");
            let error = config.validate().expect_err(json);
            assert_eq!(
                error.to_string(),
                format!("invalid config: {expected}"),
                "{json}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = parse_config::<Config>(r#"{"warn_percent": 80}"#).expect_err("typo");
        assert!(
            error.to_string().contains("unknown field `warn_percent`"),
            "{error}"
        );
    }
}
