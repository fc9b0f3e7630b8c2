//! Host resources a plugin can make the agent spend, each bounded per run:
//! descriptors (the WASI handle budget) and blocking threads (files that
//! could block `open` or `read` are never opened).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::support::{host, load, ok_result};
use crate::wasm::{FailureReason, Grants, Limits, LoadErrorKind, PluginErrorKind, RunOutcome};

/// Descriptors this process holds now.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn config(path: &Path, count: u64) -> String {
    serde_json::json!({ "path": path, "count": count }).to_string()
}

#[tokio::test]
async fn open_handles_are_capped_per_run_and_given_back() {
    let granted = tempfile::tempdir().unwrap();
    let file = granted.path().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let (host, _dir) = host();
    let limits = Limits {
        max_open_handles: 64,
        ..Limits::default()
    };
    let grants = Grants {
        directories: vec![granted.path().to_owned()],
        ..Grants::default()
    };
    let hog = load(&host, "fdhog", limits, grants).await;
    let before = open_descriptors();

    let report = hog.run(&config(&file, 100_000)).await;
    match &report.outcome {
        RunOutcome::Failed {
            reason: FailureReason::HandleBudgetExceeded,
            message,
        } => assert!(message.contains("more than 64 WASI handles"), "{message}"),
        other => panic!("expected handle_budget_exceeded, got {other:?}"),
    }
    assert_eq!(report.outcome.label(), "handle_budget_exceeded");
    // The run's handles are closed with its store.
    assert!(
        open_descriptors() <= before + 2,
        "{} descriptors after the run, {before} before",
        open_descriptors()
    );

    // Under the budget, the same plugin runs.
    let fine = hog.run(&config(&file, 20)).await;
    assert_eq!(ok_result(&fine).summary, "holding 20 handles");
}

#[tokio::test]
async fn fifos_and_devices_are_refused_without_blocking_a_thread() {
    let granted = tempfile::tempdir().unwrap();
    let fifo = granted.path().join("pipe");
    mkfifo(&fifo);
    std::os::unix::fs::symlink("pipe", granted.path().join("link-to-pipe")).unwrap();
    let (host, _dir) = host();
    let limits = Limits {
        timeout_ms: 2_000,
        ..Limits::default()
    };
    let grants = Grants {
        directories: vec![granted.path().to_owned(), "/dev".into()],
        ..Grants::default()
    };
    let reader = load(&host, "fsreader", limits, grants).await;
    for path in [
        fifo.clone(),
        granted.path().join("link-to-pipe"),
        "/dev/zero".into(),
        "/dev/null".into(),
    ] {
        let config = serde_json::json!({ "path": path }).to_string();
        let report = reader.run(&config).await;
        match &report.outcome {
            RunOutcome::PluginError {
                kind: PluginErrorKind::Failed,
                message,
            } => assert!(
                message.contains("ermission denied") || message.contains("access"),
                "{}: {message}",
                path.display()
            ),
            other => panic!("{}: expected a refused open, got {other:?}", path.display()),
        }
        // Refused at once, not at the deadline.
        assert!(report.duration < Duration::from_secs(1), "{report:?}");
    }
}

fn failure(outcome: &RunOutcome) -> (FailureReason, &str) {
    match outcome {
        RunOutcome::Failed { reason, message } => (*reason, message.as_str()),
        other => panic!("expected a failed run, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plugin_error_message_is_output_under_the_same_cap() {
    let (host, _dir) = host();
    let limits = Limits {
        memory_bytes: 256 << 20,
        ..Limits::default()
    };
    let bad = load(&host, "badoutput", limits, Grants::default()).await;

    // Over the output cap: refused after the copy, which the budget allows.
    let report = bad.run(r#"{"mode":"huge-error","bytes":2097152}"#).await;
    let (reason, message) = failure(&report.outcome);
    assert_eq!(reason, FailureReason::OutputTooLarge);
    assert_eq!(
        message,
        "error message is 2097152 bytes, over the limit of 1048576"
    );

    // 100 MiB: refused before the host copies it.
    let report = bad.run(r#"{"mode":"huge-error","bytes":104857600}"#).await;
    let (reason, message) = failure(&report.outcome);
    assert_eq!(reason, FailureReason::OutputTooLarge);
    assert!(
        message.contains("lift budget of 9437184 bytes"),
        "{message}"
    );

    // A message within the cap is the plugin's own error, as before.
    let report = bad.run(r#"{"mode":"huge-error","bytes":1000}"#).await;
    assert!(matches!(
        report.outcome,
        RunOutcome::PluginError {
            kind: PluginErrorKind::Failed,
            ..
        }
    ));
}

#[tokio::test]
async fn strings_aliasing_one_guest_buffer_are_not_copied_past_the_lift_budget() {
    let (host, _dir) = host();
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let bad = load(&host, "badoutput", limits, Grants::default()).await;
    // 128 details pointing at one 1 MiB buffer: 128 MiB if copied each.
    let report = bad
        .run(r#"{"mode":"alias","bytes":1048576,"count":128}"#)
        .await;
    let (reason, message) = failure(&report.outcome);
    assert_eq!(reason, FailureReason::OutputTooLarge);
    assert!(
        message.contains("lift budget of 9437184 bytes"),
        "{message}"
    );
    assert!(report.peak_memory_bytes <= 16 << 20);
}

#[tokio::test]
async fn describe_info_is_capped_like_output() {
    let (host, _dir) = host();
    let error = host
        .load(
            "bigdescribe",
            super::support::source("bigdescribe"),
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    match &error.kind {
        LoadErrorKind::Describe { reason, message } => {
            assert_eq!(*reason, FailureReason::OutputTooLarge);
            assert!(message.contains("lift budget"), "{message}");
        }
        other => panic!("expected describe to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn state_writes_are_budgeted_per_run_and_appended_not_rewritten() {
    let limits_64k = || Limits {
        max_state_bytes: 64 << 10,
        ..Limits::default()
    };
    let (host, dir) = host();
    let hog = load(&host, "statehog", limits_64k(), Grants::default()).await;
    let log = dir.path().join("state/statehog.state.jsonl");

    // 10,000 sets of 60 KiB: stopped once 4 MiB are written.
    let report = hog.run(r#"{"mode":"rewrite","count":10000}"#).await;
    let (reason, message) = failure(&report.outcome);
    assert_eq!(reason, FailureReason::StateWriteBudgetExceeded);
    assert_eq!(
        message,
        "more than 4194304 bytes written to the plugin's state in one run"
    );
    // The log holds the last value, compacted: not 4 MiB of history.
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(len < 512 << 10, "log of {len} bytes");

    // 3,000 small keys, in a state of their own: each set appends one
    // short record.
    let many = host
        .load(
            "many",
            super::support::source("statehog"),
            limits_64k(),
            Grants::default(),
        )
        .await
        .unwrap();
    let report = many.run(r#"{"mode":"many","count":3000}"#).await;
    assert_eq!(ok_result(&report).summary, "3000 sets");
    let log = dir.path().join("state/many.state.jsonl");
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(len < 512 << 10, "log of {len} bytes");
}
