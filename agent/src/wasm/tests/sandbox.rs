//! Limits, proven with the hostile guests: each one fails only its own run,
//! with its own status, and the host carries on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::support::{host, host_with, load, ok_result};
use crate::wasm::{
    FailureReason, Grants, Limits, PluginErrorKind, QuarantinePolicy, RunOutcome, RunReport, Status,
};

fn failure(report: &RunReport) -> (FailureReason, &str) {
    match &report.outcome {
        RunOutcome::Failed { reason, message } => (*reason, message.as_str()),
        other => panic!("expected a failed run, got {other:?}"),
    }
}

#[tokio::test]
async fn well_behaved_check_returns_its_result_and_sees_its_config() {
    let (host, _dir) = host();
    let plugin = load(&host, "ok", Limits::default(), Grants::default()).await;
    assert_eq!(plugin.info().name, "ok");
    assert_eq!(plugin.info().version, "0.1.0");

    let report = plugin.run(r#"{"greeting":"hello"}"#).await;
    let result = ok_result(&report);
    assert_eq!(result.status, Status::Ok);
    assert_eq!(result.summary, "all good");
    assert_eq!(result.metrics.len(), 1);
    assert_eq!(result.metrics[0].name, "ok_value");
    assert_eq!(result.metrics[0].value, 1.0);
    assert_eq!(result.detail("config"), Some(r#"{"greeting":"hello"}"#));
    assert_eq!(report.host_calls, 0);
    assert!(
        report.peak_memory_bytes > 0 && report.peak_memory_bytes <= Limits::default().memory_bytes
    );
    assert_eq!(host.memory_in_use(), 0, "the run's store is gone");
}

#[tokio::test]
async fn plugin_errors_are_results_not_failures() {
    let (host, _dir) = host();
    let plugin = load(&host, "ok", Limits::default(), Grants::default()).await;
    let invalid = plugin.run(r#"{"mode":"invalid"}"#).await;
    assert_eq!(
        invalid.outcome,
        RunOutcome::PluginError {
            kind: PluginErrorKind::InvalidConfig,
            message: "mode: \"invalid\" asked for".into()
        }
    );
    assert_eq!(invalid.outcome.label(), "invalid_config");
    let failed = plugin.run(r#"{"mode":"fail"}"#).await;
    assert_eq!(failed.outcome.label(), "failed");
    assert_eq!(plugin.quarantine().consecutive_failures, 0);
}

#[tokio::test]
async fn infinite_loop_is_stopped_at_its_deadline() {
    let (host, _dir) = host();
    let limits = Limits {
        timeout_ms: 300,
        ..Limits::default()
    };
    let looper = load(&host, "looper", limits, Grants::default()).await;
    let report = looper.run("{}").await;
    let (reason, message) = failure(&report);
    assert_eq!(reason, FailureReason::DeadlineExceeded);
    // The epoch stopped it (not the outer timeout, which says "host call").
    assert!(message.contains("deadline of 300ms exceeded"), "{message}");
    assert!(!message.contains("host call"), "{message}");
    assert!(report.duration >= Duration::from_millis(300));
    assert!(report.duration < Duration::from_millis(300) + host.settings().deadline_grace);

    // The host is fine: the next plugin runs.
    let ok = load(&host, "ok", Limits::default(), Grants::default()).await;
    ok_result(&ok.run("{}").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_plugins_keep_running_while_one_loops() {
    let (host, _dir) = host();
    let limits = Limits {
        timeout_ms: 3_000,
        ..Limits::default()
    };
    let looper = load(&host, "looper", limits, Grants::default()).await;
    let ok = load(&host, "ok", Limits::default(), Grants::default()).await;
    let looping = tokio::spawn(async move { looper.run("{}").await });
    for _ in 0..20 {
        ok_result(&ok.run("{}").await);
    }
    assert!(
        !looping.is_finished(),
        "the ok runs finished while the loop still ran"
    );
    let looped = looping.await.unwrap();
    assert_eq!(failure(&looped).0, FailureReason::DeadlineExceeded);
}

#[tokio::test]
async fn memory_growth_stops_at_the_cap() {
    let (host, _dir) = host();
    let cap = 16 << 20;
    let limits = Limits {
        memory_bytes: cap,
        ..Limits::default()
    };
    let memhog = load(&host, "memhog", limits, Grants::default()).await;
    let report = memhog.run("{}").await;
    let (reason, message) = failure(&report);
    assert_eq!(reason, FailureReason::MemoryExceeded, "{message}");
    assert!(
        message.contains(&format!("memory cap of {cap} bytes")),
        "{message}"
    );
    assert!(report.peak_memory_bytes <= cap);
    assert!(
        report.peak_memory_bytes > cap / 2,
        "it grew up to the cap: {}",
        report.peak_memory_bytes
    );
    // The guest's allocator said why it gave up.
    assert!(
        report.stderr.contains("memory allocation of"),
        "{}",
        report.stderr
    );
    assert_eq!(host.memory_in_use(), 0);
}

#[tokio::test]
async fn trap_is_reported_with_the_panic_message_from_stderr() {
    let (host, _dir) = host();
    let trapper = load(&host, "trapper", Limits::default(), Grants::default()).await;
    let report = trapper.run("{}").await;
    let (reason, message) = failure(&report);
    assert_eq!(reason, FailureReason::Trap);
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        message.ends_with("(stderr: trapper: deliberate panic, code 4711)"),
        "{message}"
    );
    assert!(
        report
            .stderr
            .contains("trapper: deliberate panic, code 4711"),
        "stderr: {:?}",
        report.stderr
    );
}

#[tokio::test]
async fn oversized_or_malformed_output_is_rejected() {
    let (host, _dir) = host();
    let limits = Limits {
        max_output_bytes: 1 << 20,
        // Garbage counts toward quarantine; this test wants every run.
        quarantine: QuarantinePolicy {
            after_consecutive_failures: 100,
            ..QuarantinePolicy::default()
        },
        ..Limits::default()
    };
    let bad = load(&host, "badoutput", limits, Grants::default()).await;

    let huge = bad.run(r#"{"mode":"huge","bytes":2097152}"#).await;
    let (reason, message) = failure(&huge);
    assert_eq!(reason, FailureReason::OutputTooLarge);
    assert!(message.contains("over the limit of 1048576"), "{message}");

    let cases = [
        (
            "bad-name",
            "\"bad-name with spaces\" is not a valid metric name",
        ),
        ("bad-label", "\"__reserved\" is not a valid label name"),
        ("nan", "nan_metric): value NaN is not a finite number"),
        ("inf", "inf_metric): value inf is not a finite number"),
    ];
    for (mode, expected) in cases {
        let report = bad.run(&format!(r#"{{"mode":"{mode}"}}"#)).await;
        let (reason, message) = failure(&report);
        assert_eq!(reason, FailureReason::InvalidOutput, "{mode}");
        assert!(message.contains(expected), "{mode}: {message}");
    }

    // Just under the cap is fine.
    let fits = bad.run(r#"{"mode":"huge","bytes":1000000}"#).await;
    assert_eq!(ok_result(&fits).summary.len(), 1_000_000);
}

/// Collects formatted `tracing` output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_flood_is_capped_and_logs_carry_the_plugin_name() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (host, _dir) = host();
    let limits = Limits {
        max_log_lines: 1000,
        ..Limits::default()
    };
    let flood = load(&host, "logflood", limits, Grants::default()).await;
    let report = flood.run(r#"{"lines":5000}"#).await;
    assert_eq!(ok_result(&report).summary, "logged 5000 lines");
    assert_eq!(report.log_lines, 1000);
    assert_eq!(report.logs_dropped, 4000);
    assert_eq!(report.host_calls, 5000);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("flood line")).collect();
    assert_eq!(lines.len(), 1000);
    assert!(
        lines[0].contains("plugin=\"logflood\"") && lines[0].contains("flood line 0"),
        "{}",
        lines[0]
    );
    assert!(lines[999].contains("flood line 999"));
    assert!(text.contains("dropped=4000"), "the drop is logged once");
}

#[tokio::test]
async fn host_call_flood_is_capped() {
    let (host, _dir) = host();
    let limits = Limits {
        max_host_calls: 10_000,
        ..Limits::default()
    };
    let flood = load(&host, "callflood", limits, Grants::default()).await;
    let report = flood.run("{}").await;
    let (reason, message) = failure(&report);
    assert_eq!(reason, FailureReason::HostCallBudgetExceeded);
    assert!(message.contains("more than 10000 host calls"), "{message}");
    assert_eq!(report.host_calls, 10_001);
}

#[tokio::test]
async fn fuel_exhaustion_stops_a_run_when_fuel_is_on() {
    let (host, _dir) = host_with(|s| s.fuel_enabled = true);
    let limits = Limits {
        fuel: Some(5_000_000),
        ..Limits::default()
    };
    let looper = load(&host, "looper", limits.clone(), Grants::default()).await;
    let report = looper.run("{}").await;
    assert_eq!(failure(&report).0, FailureReason::FuelExhausted);
    assert_eq!(report.fuel_consumed, Some(5_000_000));

    let ok = load(&host, "ok", limits, Grants::default()).await;
    let report = ok.run("{}").await;
    ok_result(&report);
    assert!(report.fuel_consumed.is_some_and(|f| f > 0 && f < 5_000_000));

    // Fuel asked for on a host without fuel metering is a load error.
    let (plain, _dir) = super::support::host();
    let err = plain
        .load(
            "looper",
            super::support::source("looper"),
            Limits {
                fuel: Some(1),
                ..Limits::default()
            },
            Grants::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.kind.to_string().contains("fuel metering off"),
        "{err:?}"
    );
}

#[tokio::test]
async fn repeated_traps_quarantine_the_plugin() {
    let (host, _dir) = host();
    let limits = Limits {
        quarantine: QuarantinePolicy {
            after_consecutive_failures: 2,
            initial_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(7200),
        },
        ..Limits::default()
    };
    let trapper = load(&host, "trapper", limits, Grants::default()).await;
    assert_eq!(failure(&trapper.run("{}").await).0, FailureReason::Trap);
    assert_eq!(trapper.quarantine().remaining, None);
    assert_eq!(failure(&trapper.run("{}").await).0, FailureReason::Trap);

    let status = trapper.quarantine();
    assert_eq!(status.consecutive_failures, 2);
    assert_eq!(status.level, 1);
    assert!(
        status
            .remaining
            .is_some_and(|r| r > Duration::from_secs(3590))
    );
    assert!(
        status
            .last_failure
            .as_deref()
            .is_some_and(|f| f.starts_with("trap: "))
    );

    let skipped = trapper.run("{}").await;
    let (reason, message) = failure(&skipped);
    assert_eq!(reason, FailureReason::Quarantined);
    assert!(message.contains("after 2 failed runs"), "{message}");
    assert!(skipped.stderr.is_empty(), "it did not run");
}
