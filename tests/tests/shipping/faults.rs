//! Fault tests with the real binary: the receiver down, answering 503 or
//! 429, slow, resetting connections, refusing large bodies or bad ones.
//! Every line written arrives exactly once; the metrics the agent made
//! during the fault arrive too (from the disk queue); the counters say what
//! happened.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::{append, assert_same_lines, lines, sink_metric};
use crate::support::agent::Agent;
use crate::support::receiver::{Fault, Receiver};
use crate::support::wait_for;

/// A file source and the agent's own metrics to `receiver`, with fast
/// retries. `extra` is appended to the sink's settings.
fn start(receiver: &Receiver, extra: &str) -> (Agent, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let retry = if extra.contains("retry:") {
        ""
    } else {
        "    retry: {initial_backoff_ms: 100, max_backoff_ms: 2000}\n"
    };
    let config = format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: ['{{dir}}/logs/*.log']
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  ingest:
    type: otlp_http
    inputs: [app, self]
    endpoint: {}
{retry}{extra}
",
        receiver.endpoint()
    );
    let mut agent = Agent::start_in(dir, &config, &[]);
    agent.wait_ready();
    (agent, log)
}

/// Wait until the receiver holds `want.len()` lines, then check they are
/// exactly `want`.
pub(super) fn expect_lines(receiver: &Receiver, want: &[String], timeout: Duration) {
    wait_for("every line at the receiver", timeout, || {
        (receiver.log_bodies().len() >= want.len()).then_some(())
    });
    // Anything sent twice would arrive by now.
    std::thread::sleep(Duration::from_millis(500));
    assert_same_lines(receiver.log_bodies(), want.to_vec());
}

/// Times of the `neurallog_agent_build_info` points received: one per
/// snapshot of the agent's own metrics.
fn snapshot_times(receiver: &Receiver) -> Vec<u64> {
    let mut times = Vec::new();
    for request in receiver.metrics() {
        for rm in request.resource_metrics {
            for sm in rm.scope_metrics {
                for metric in sm.metrics {
                    if metric.name != "neurallog_agent_build_info" {
                        continue;
                    }
                    if let Some(Data::Gauge(gauge)) = metric.data {
                        times.extend(gauge.data_points.iter().map(|p| p.time_unix_nano));
                    }
                }
            }
        }
    }
    times.sort_unstable();
    times
}

/// The agent snapshots its metrics every second: the snapshots received
/// must leave no gap across `from..to` (the fault), and none twice.
fn expect_no_metric_gap(receiver: &Receiver, from: Instant, to: Instant) {
    let span = to.duration_since(from);
    wait_for("snapshots after the fault", Duration::from_secs(30), || {
        let times = snapshot_times(receiver);
        let covered = match (times.first(), times.last()) {
            (Some(a), Some(b)) => Duration::from_nanos(b - a) > span + Duration::from_secs(1),
            _ => false,
        };
        covered.then_some(())
    });
    let times = snapshot_times(receiver);
    let mut dedup = times.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), times.len(), "a snapshot arrived twice");
    for pair in times.windows(2) {
        let gap = Duration::from_nanos(pair[1] - pair[0]);
        assert!(
            gap < Duration::from_millis(2500),
            "a snapshot is missing: gap of {gap:?}"
        );
    }
}

#[test]
fn receiver_down_for_30s_loses_nothing() {
    let port = crate::support::net::free_port();
    let mut receiver = Receiver::down(port);
    let (agent, log) = start(&receiver, "");
    let down_since = Instant::now();
    let want = lines("down", 2000);
    // The outage itself: 30 s with the receiver refusing connections, with
    // lines written at its start and in its middle.
    append(&log, &want[..1000]);
    std::thread::sleep(Duration::from_secs(15));
    append(&log, &want[1000..]);
    std::thread::sleep(Duration::from_secs(15));
    assert!(sink_metric(&agent, "neurallog_agent_sink_queue_records", &[]) >= 10.0);
    receiver.resume();
    let up_at = Instant::now();
    expect_lines(&receiver, &want, Duration::from_secs(30));
    expect_no_metric_gap(&receiver, down_since, up_at);
    let refused = sink_metric(
        &agent,
        "neurallog_agent_sink_http_requests_total",
        &[("status", "connect")],
    );
    assert!(refused >= 2.0, "connection failures counted: {refused}");
    let retries = sink_metric(
        &agent,
        "neurallog_agent_sink_retries_total",
        &[("reason", "connect")],
    );
    assert!(
        retries >= refused - 2.0,
        "each failure is retried: {retries}"
    );
    wait_for("the queue to drain", Duration::from_secs(10), || {
        (sink_metric(&agent, "neurallog_agent_sink_queue_records", &[]) < 2.0).then_some(())
    });
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_dead_lettered_events_total",
            &[]
        ),
        0.0
    );
}

#[test]
fn answering_503_for_30s_loses_nothing() {
    let receiver = Receiver::start();
    let (agent, log) = start(&receiver, "");
    let fault_start = Instant::now();
    let fault_end = fault_start + Duration::from_secs(30);
    receiver.set_fault(Fault::Status {
        status: 503,
        retry_after: None,
        until: fault_end,
    });
    let want = lines("unavailable", 2000);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(60));
    assert!(
        Instant::now() >= fault_end,
        "nothing is accepted during the fault"
    );
    expect_no_metric_gap(&receiver, fault_start, fault_end);
    let answered = sink_metric(
        &agent,
        "neurallog_agent_sink_http_requests_total",
        &[("status", "503")],
    );
    let retried = sink_metric(
        &agent,
        "neurallog_agent_sink_retries_total",
        &[("reason", "503")],
    );
    let seen = receiver
        .requests()
        .iter()
        .filter(|r| r.status == 503)
        .count() as f64;
    assert_eq!(answered, seen, "every 503 counted");
    assert_eq!(retried, seen, "every 503 retried");
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_dead_lettered_events_total",
            &[]
        ),
        0.0
    );
}

#[test]
fn too_many_requests_waits_for_retry_after() {
    let receiver = Receiver::start();
    // Backoff alone would retry within 20 ms; only Retry-After spaces the
    // attempts by 2 s.
    let (agent, log) = start(
        &receiver,
        "    concurrency: 1\n    retry: {initial_backoff_ms: 10, max_backoff_ms: 20}\n",
    );
    receiver.set_fault(Fault::Status {
        status: 429,
        retry_after: Some("2".to_owned()),
        until: Instant::now() + Duration::from_secs(6),
    });
    let want = lines("throttled", 500);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(30));
    let throttled: Vec<Instant> = receiver
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/logs" && r.status == 429)
        .map(|r| r.at)
        .collect();
    assert!(
        !throttled.is_empty() && throttled.len() <= 4,
        "{} log attempts were throttled",
        throttled.len()
    );
    for pair in throttled.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(1900),
            "retried after {gap:?}, before Retry-After"
        );
    }
    let retried = sink_metric(
        &agent,
        "neurallog_agent_sink_retries_total",
        &[("reason", "429")],
    );
    let seen = receiver
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count() as f64;
    assert_eq!(retried, seen);
}

#[test]
fn five_seconds_per_request_delivers_everything() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::Delay(Duration::from_secs(5)));
    let (agent, log) = start(&receiver, "    batch: {max_events: 500}\n");
    let want = lines("slow", 2000);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(60));
    let series = super::sink_series(
        "neurallog_agent_sink_request_duration_seconds_count",
        "otlp_http",
        &[],
    );
    let count = agent.metric(&series).unwrap_or(0.0);
    let fast = agent
        .metric(&super::sink_series(
            "neurallog_agent_sink_request_duration_seconds_bucket",
            "otlp_http",
            &[("le", "2.5")],
        ))
        .unwrap_or(0.0);
    assert!(count >= 4.0, "{count} requests timed");
    assert_eq!(fast, 0.0, "every request took the receiver's 5 s");
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_retries_total",
            &[("reason", "timeout")]
        ),
        0.0,
        "a 5 s answer is within the default timeout"
    );
}

#[test]
fn connection_reset_mid_body_is_retried() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::ResetMidBody { count: 3 });
    let (agent, log) = start(&receiver, "    concurrency: 1\n    compression: none\n");
    let want = lines("reset", 1000);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(30));
    assert_eq!(receiver.resets(), 3);
    let failed = sink_metric(
        &agent,
        "neurallog_agent_sink_http_requests_total",
        &[("status", "io")],
    ) + sink_metric(
        &agent,
        "neurallog_agent_sink_http_requests_total",
        &[("status", "connect")],
    );
    assert!(failed >= 3.0, "resets counted as failed requests: {failed}");
}

#[test]
fn payload_too_large_splits_and_dead_letters_a_single_huge_line() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::TooLarge(20_000));
    let (agent, log) = start(
        &receiver,
        "    compression: none\n    batch: {max_events: 1000, timeout_ms: 500}\n",
    );
    let mut want = lines("large", 1000);
    let huge = format!("huge {}", "y".repeat(30_000));
    want.insert(500, huge.clone());
    append(&log, &want);
    want.remove(500);
    expect_lines(&receiver, &want, Duration::from_secs(30));
    for request in receiver.accepted("/v1/logs") {
        assert!(request.raw.len() <= 20_000);
    }
    assert!(sink_metric(&agent, "neurallog_agent_sink_split_requests_total", &[]) >= 4.0);
    wait_for(
        "the huge line dead-lettered",
        Duration::from_secs(10),
        || {
            (sink_metric(
                &agent,
                "neurallog_agent_sink_dead_lettered_events_total",
                &[],
            ) == 1.0)
                .then_some(())
        },
    );
    let dead = std::fs::read_to_string(agent.data_dir().join("dead_letter/ingest.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(line["status"], 413);
    assert_eq!(line["event"]["body"], huge.as_str());
    assert_eq!(dead.lines().count(), 1);
}

#[test]
fn rejected_requests_go_to_the_dead_letter_file_once() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::Reject);
    let (agent, log) = start(&receiver, "    concurrency: 1\n");
    let want = lines("rejected", 300);
    append(&log, &want);
    wait_for("every line dead-lettered", Duration::from_secs(20), || {
        (sink_metric(
            &agent,
            "neurallog_agent_sink_dead_lettered_events_total",
            &[],
        ) >= 300.0)
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let path = agent.data_dir().join("dead_letter/ingest.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let bodies: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"]["kind"] == "log")
        .map(|v| {
            assert_eq!(v["status"], 400);
            assert_eq!(v["response"], "invalid payload");
            v["event"]["body"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_same_lines(bodies, want);
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_retries_total",
            &[("reason", "400")]
        ),
        0.0,
        "a 400 is never retried"
    );
    let log_requests = receiver
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/logs")
        .count();
    assert!(
        log_requests <= 3,
        "{log_requests} log requests for 300 lines: each batch sent once"
    );
}

#[test]
fn partial_success_is_counted() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::PartialSuccess(3));
    let (agent, log) = start(&receiver, "    concurrency: 1\n");
    let want = lines("partial", 100);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(20));
    let requests = receiver.accepted("/v1/logs").len() as f64;
    let rejected = sink_metric(
        &agent,
        "neurallog_agent_sink_partial_success_rejected_total",
        &[],
    );
    assert!(
        rejected >= 3.0 * requests,
        "{rejected} rejected over {requests} log requests"
    );
}
