//! `template`: the smallest useful check, and the starting point for your
//! own (see `plugins/README.md`).
//!
//! It reports whether a file exists and is not empty, and its size as the
//! metric `file_size_bytes`. The file must be inside a directory granted to
//! the check (`grants.directories`); the agent makes it visible to the
//! plugin at its real path, so plain `std::fs` reads it.
//!
//! The logic that decides the outcome ([`evaluate`]) is a pure function of
//! what was observed, so `cargo test` covers it natively without a host.

use neurallog_plugin_sdk::{Check, CheckResult, Metric, PluginInfo, RunError, Status};
use schemars::JsonSchema;
use serde::Deserialize;

/// Configuration: the agent's `config:` section for this check.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Absolute path of the file to check, inside a granted directory.
    pub path: String,
}

/// The check. [`neurallog_plugin_sdk::export_check!`] below makes it the
/// component's `describe` and `run`.
pub struct FileCheck;

neurallog_plugin_sdk::export_check!(FileCheck);

impl Check for FileCheck {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Reports whether a file exists and is not empty, and its size in bytes.",
        )
        .config_schema_of::<Config>()
    }

    fn run(config: Config) -> Result<CheckResult, RunError> {
        if config.path.is_empty() {
            return Err(RunError::invalid_config("path", "must not be empty"));
        }
        // `metadata` follows symlinks, so a link to a file counts as the file.
        let size = std::fs::metadata(&config.path)
            .ok()
            .filter(|metadata| metadata.is_file())
            .map(|metadata| metadata.len());
        Ok(evaluate(&config.path, size))
    }
}

/// The outcome for the file at `path` of size `size` (`None` when it does
/// not exist or cannot be read): critical when missing or empty, ok
/// otherwise. The size is reported as `file_size_bytes` when known.
#[must_use]
pub fn evaluate(path: &str, size: Option<u64>) -> CheckResult {
    let Some(size) = size else {
        return CheckResult::critical(format!("{path} is missing or unreadable"));
    };
    let status = if size == 0 {
        Status::Critical
    } else {
        Status::Ok
    };
    let summary = match status {
        Status::Ok => format!("{path} has {size} bytes"),
        _ => format!("{path} is empty"),
    };
    CheckResult::new(status, summary).metric(
        // Precision loss above 2^53 bytes (8 PiB) is irrelevant for a gauge.
        Metric::gauge("file_size_bytes", size as f64)
            .unit("By")
            .description("Size of the checked file.")
            .label("path", path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_critical_without_a_metric() {
        let result = evaluate("/data/x", None);
        assert_eq!(result.status, Status::Critical);
        assert_eq!(result.summary, "/data/x is missing or unreadable");
        assert!(result.metrics.is_empty());
    }

    #[test]
    fn empty_file_is_critical_and_still_measured() {
        let result = evaluate("/data/x", Some(0));
        assert_eq!(result.status, Status::Critical);
        assert_eq!(result.summary, "/data/x is empty");
        assert_eq!(result.metrics[0].value, 0.0);
    }

    #[test]
    fn file_with_content_is_ok_and_reports_its_size() {
        let result = evaluate("/data/x", Some(1234));
        assert_eq!(result.status, Status::Ok);
        let metric = &result.metrics[0];
        assert_eq!(metric.name, "file_size_bytes");
        assert_eq!(metric.unit, "By");
        assert_eq!(metric.value, 1234.0);
        assert_eq!(metric.label_value("path"), Some("/data/x"));
    }

    #[test]
    fn run_reads_the_file_and_parses_the_config() {
        let path = std::env::temp_dir().join(format!("template-test-{}", std::process::id()));
        std::fs::write(&path, b"hello").expect("write temp file");
        let config = format!(r#"{{"path": "{}"}}"#, path.display());
        let result = neurallog_plugin_sdk::run_check::<FileCheck>(&config);
        std::fs::remove_file(&path).expect("remove temp file");
        let result = result.expect("run succeeds");
        assert_eq!(result.status, Status::Ok);
        assert_eq!(result.metrics[0].value, 5.0);
    }

    #[test]
    fn unknown_config_fields_are_rejected() {
        let error = neurallog_plugin_sdk::run_check::<FileCheck>(r#"{"path": "/x", "pth": 1}"#)
            .expect_err("typo in config");
        assert!(error.to_string().contains("unknown field `pth`"), "{error}");
    }
}
