//! `heartbeat`: a tiny check that exercises every part of the plugin host,
//! small and deterministic enough for the host's tests to assert on.
//!
//! Each run:
//!
//! 1. reads the run counter from state key `runs` (a JSON number, absent on
//!    the first run), adds one and stores it back;
//! 2. reads the host clock;
//! 3. if `directory` is configured, counts the regular files directly in it
//!    (not recursively; symlinks are not followed), through the WASI
//!    filesystem, so the directory must be granted;
//! 4. reads each environment variable listed in `env` (granted ones are
//!    visible, others read as unset);
//! 5. logs one line at info level: `Heartbeat <runs>.`
//!
//! and returns:
//!
//! | field | value |
//! | --- | --- |
//! | status | `ok`; `unknown` when `directory` is set but cannot be read |
//! | summary | `heartbeat <runs>`, then `, <n> files in <directory>` or `, cannot read <directory>: <error>` |
//! | metric `heartbeat_runs_total` | counter, unit `1`, no labels: `<runs>` |
//! | metric `heartbeat_time_seconds` | gauge, unit `s`, no labels: host time as Unix seconds |
//! | metric `heartbeat_directory_files` | gauge, unit `1`, label `directory`: the file count (only when the directory was read) |
//! | detail `runs` | `<runs>` |
//! | detail `time` | host time, RFC 3339 UTC to the second (`2026-11-26T22:33:00Z`) |
//! | detail `directory`, `files` | the directory and its file count, or `directory` and `error` when unreadable |
//! | detail `env.<NAME>` | the variable's value, or `<unset>` |
//! | detail `state_error` | only when the counter could not be saved |

use std::path::Path;

use neurallog_plugin_sdk::clock::{self, Timestamp};
use neurallog_plugin_sdk::{Check, CheckResult, Metric, PluginInfo, RunError, Status, state};
use schemars::JsonSchema;
use serde::Deserialize;

/// State key of the run counter.
pub const RUNS_KEY: &str = "runs";

/// Configuration of the heartbeat check. Every field is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Absolute path of a granted directory whose regular files are counted.
    #[serde(default)]
    pub directory: Option<String>,
    /// Environment variables to report as `env.<NAME>` details.
    #[serde(default)]
    pub env: Vec<String>,
}

/// The heartbeat check.
pub struct Heartbeat;

neurallog_plugin_sdk::export_check!(Heartbeat);

impl Check for Heartbeat {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Proves the plugin host works: counts its runs in state, reports the host time, \
             counts the files in a granted directory and echoes granted environment variables.",
        )
        .config_schema_of::<Config>()
    }

    fn run(config: Config) -> Result<CheckResult, RunError> {
        let (runs, state_error) = bump_counter();
        let now = clock::now();
        let files = config.directory.as_deref().map(|directory| {
            let count = count_files(Path::new(directory)).map_err(|error| error.to_string());
            (directory, count)
        });
        let env: Vec<(String, Option<String>)> = config
            .env
            .iter()
            .map(|name| (name.clone(), std::env::var(name).ok()))
            .collect();
        neurallog_plugin_sdk::info!("Heartbeat {runs}.");
        let mut result = report(runs, now, files, &env);
        if let Some(error) = state_error {
            result.push_detail("state_error", error);
        }
        Ok(result)
    }
}

/// Increments the run counter kept in state and returns it, with the error
/// if it could not be saved (the run still reports the count it computed).
fn bump_counter() -> (u64, Option<String>) {
    let previous = match state::get_json::<u64>(RUNS_KEY) {
        Ok(runs) => runs.unwrap_or(0),
        Err(error) => {
            neurallog_plugin_sdk::warn!("Run counter was unreadable and restarts: {error}.");
            0
        }
    };
    let runs = previous.saturating_add(1);
    let error = state::set_json(RUNS_KEY, &runs).err().map(|error| {
        neurallog_plugin_sdk::warn!("Run counter could not be saved: {error}.");
        error.to_string()
    });
    (runs, error)
}

/// The number of regular files directly in `directory`.
///
/// # Errors
///
/// The I/O error when the directory cannot be listed.
pub fn count_files(directory: &Path) -> std::io::Result<u64> {
    let mut count = 0;
    for entry in std::fs::read_dir(directory)? {
        if entry?.file_type()?.is_file() {
            count += 1;
        }
    }
    Ok(count)
}

/// Builds the result from what the run observed (see the crate docs).
#[must_use]
pub fn report(
    runs: u64,
    now: Timestamp,
    files: Option<(&str, Result<u64, String>)>,
    env: &[(String, Option<String>)],
) -> CheckResult {
    let mut summary = format!("heartbeat {runs}");
    let mut result = CheckResult::ok(String::new())
        .metric(
            Metric::counter("heartbeat_runs_total", runs as f64)
                .description("Runs of this heartbeat check since its state began."),
        )
        .metric(
            Metric::gauge("heartbeat_time_seconds", now.as_secs_f64())
                .unit("s")
                .description("Host wall-clock time seen by the plugin, as Unix seconds."),
        )
        .detail("runs", runs)
        .detail("time", now);
    match files {
        Some((directory, Ok(count))) => {
            summary.push_str(&format!(", {count} files in {directory}"));
            result.push_metric(
                Metric::gauge("heartbeat_directory_files", count as f64)
                    .description("Regular files directly in the configured directory.")
                    .label("directory", directory),
            );
            result.push_detail("directory", directory);
            result.push_detail("files", count);
        }
        Some((directory, Err(error))) => {
            summary.push_str(&format!(", cannot read {directory}: {error}"));
            result.status = Status::Unknown;
            result.push_detail("directory", directory);
            result.push_detail("error", error);
        }
        None => {}
    }
    for (name, value) in env {
        result.push_detail(format!("env.{name}"), value.as_deref().unwrap_or("<unset>"));
    }
    result.summary = summary;
    result
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::log::Level;
    use neurallog_plugin_sdk::{MetricKind, run_check, testing};

    use super::*;

    #[test]
    fn counts_runs_in_state_and_reports_the_host_time() {
        testing::reset();
        testing::set_now(Timestamp::from_unix_seconds(1_700_000_000));
        for expected in 1..=3_u64 {
            let result = run_check::<Heartbeat>("{}").expect("run succeeds");
            assert_eq!(result.status, Status::Ok);
            assert_eq!(result.summary, format!("heartbeat {expected}"));
            let runs = result
                .metrics_named("heartbeat_runs_total")
                .next()
                .expect("runs metric");
            assert_eq!(runs.kind, MetricKind::Counter);
            assert_eq!(runs.value, expected as f64);
        }
        assert_eq!(testing::state()[RUNS_KEY], b"3");
        let result = run_check::<Heartbeat>("{}").expect("run succeeds");
        assert_eq!(result.detail_value("time"), Some("2023-11-14T22:13:20Z"));
        let time = result
            .metrics_named("heartbeat_time_seconds")
            .next()
            .expect("time metric");
        assert_eq!(time.value, 1_700_000_000.0);
        assert_eq!(
            testing::logs().last(),
            Some(&(Level::Info, "Heartbeat 4.".to_owned()))
        );
    }

    #[test]
    fn counts_regular_files_only() {
        testing::reset();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a"), b"1").expect("write a");
        std::fs::write(dir.path().join("b"), b"2").expect("write b");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let config = format!(r#"{{"directory": "{}"}}"#, dir.path().display());
        let result = run_check::<Heartbeat>(&config).expect("run succeeds");
        assert_eq!(
            result.summary,
            format!("heartbeat 1, 2 files in {}", dir.path().display())
        );
        let files = result
            .metrics_named("heartbeat_directory_files")
            .next()
            .expect("files metric");
        assert_eq!(files.value, 2.0);
        assert_eq!(
            files.label_value("directory"),
            Some(&*dir.path().to_string_lossy())
        );
    }

    #[test]
    fn unreadable_directory_is_unknown_with_the_error() {
        testing::reset();
        let result = run_check::<Heartbeat>(r#"{"directory": "/nonexistent-heartbeat"}"#)
            .expect("run succeeds");
        assert_eq!(result.status, Status::Unknown);
        assert!(
            result
                .summary
                .starts_with("heartbeat 1, cannot read /nonexistent-heartbeat: ")
        );
        assert!(
            result
                .metrics_named("heartbeat_directory_files")
                .next()
                .is_none()
        );
        assert!(result.detail_value("error").is_some());
    }

    #[test]
    fn environment_variables_are_echoed_or_unset() {
        let env = [
            ("HOSTNAME".to_owned(), Some("node-1".to_owned())),
            ("SECRET".to_owned(), None),
        ];
        let result = report(7, Timestamp::from_unix_seconds(0), None, &env);
        assert_eq!(result.detail_value("env.HOSTNAME"), Some("node-1"));
        assert_eq!(result.detail_value("env.SECRET"), Some("<unset>"));
        assert_eq!(result.detail_value("runs"), Some("7"));
    }

    #[test]
    fn full_state_is_reported_but_does_not_fail_the_run() {
        testing::reset();
        testing::set_state_cap(Some(2));
        let result = run_check::<Heartbeat>("{}").expect("run succeeds");
        assert_eq!(result.status, Status::Ok);
        assert_eq!(
            result.detail_value("state_error"),
            Some("state quota of 2 bytes exceeded")
        );
    }
}
