//! Auth and tenancy: fixed headers, a bearer token read from a file and
//! re-read when it is rotated, a tenant header — and none of the secrets
//! in the log, `/status` or `print-config`. A receiver that refuses the
//! credentials (401, 403) holds the data until it accepts them again: no
//! dead letters.

use std::time::{Duration, Instant};

use super::faults::expect_lines;
use super::{append, lines, sink_metric};
use crate::support::agent::{Agent, run};
use crate::support::receiver::{Fault, Receiver};
use crate::support::wait_for;

const HEADER_SECRET: &str = "s3cr3t-header-value";
const FIRST_TOKEN: &str = "tok-first-SECRET";
const SECOND_TOKEN: &str = "tok-rotated-SECRET";

#[test]
fn token_rotation_tenant_and_headers_without_leaking_secrets() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{FIRST_TOKEN}\n")).unwrap();
    let config = format!(
        "
data_dir: {{data_dir}}
log:
  level: debug
sources:
  app:
    type: file
    include: ['{{dir}}/logs/*.log']
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {}
    headers:
      X-Api-Key: {HEADER_SECRET}
    auth:
      bearer_token_file: {{dir}}/token
    tenant:
      header: X-Tenant
      id: acme
",
        receiver.endpoint()
    );
    let mut agent = Agent::start_in(dir, &config, &[]);
    agent.wait_ready();

    append(&log, &lines("before", 10));
    wait_for("the first request", Duration::from_secs(20), || {
        (!receiver.accepted("/v1/logs").is_empty()).then_some(())
    });
    let auth = receiver.header_values("/v1/logs", "authorization");
    assert_eq!(auth[0], format!("Bearer {FIRST_TOKEN}"));
    assert_eq!(receiver.header_values("/v1/logs", "x-tenant")[0], "acme");
    assert_eq!(
        receiver.header_values("/v1/logs", "x-api-key")[0],
        HEADER_SECRET
    );

    // Rotate the token the way Kubernetes does: a new file renamed over.
    let tmp = agent.dir.path().join("token.new");
    std::fs::write(&tmp, SECOND_TOKEN).unwrap();
    std::fs::rename(&tmp, agent.dir.path().join("token")).unwrap();
    append(&log, &lines("after", 10));
    wait_for(
        "a request with the rotated token",
        Duration::from_secs(20),
        || {
            receiver
                .header_values("/v1/logs", "authorization")
                .contains(&format!("Bearer {SECOND_TOKEN}"))
                .then_some(())
        },
    );
    let last = receiver.header_values("/v1/logs", "authorization");
    assert_eq!(last.last().unwrap(), &format!("Bearer {SECOND_TOKEN}"));

    let (_, status) = agent.get("/status");
    let printed = run(&[
        "print-config",
        "--config",
        agent.dir.path().join("agent.yaml").to_str().unwrap(),
    ]);
    assert!(printed.status.success());
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(printed.contains("<redacted>"), "{printed}");
    agent.terminate(Duration::from_secs(20));
    let stderr = agent.stderr();
    assert!(
        stderr.contains("Bearer token file changed"),
        "rotation logged"
    );
    for (what, text) in [
        ("/status", &status),
        ("print-config", &printed),
        ("the log", &stderr),
    ] {
        for secret in [HEADER_SECRET, FIRST_TOKEN, SECOND_TOKEN] {
            assert!(!text.contains(secret), "{secret} leaked into {what}");
        }
    }
}

/// A file source and the agent's own metrics to `receiver` with the token
/// file `{dir}/token`, fast retries, a short shutdown deadline.
fn token_config(receiver: &Receiver) -> String {
    format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
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
    retry: {{initial_backoff_ms: 100, max_backoff_ms: 1000}}
    auth:
      bearer_token_file: {{dir}}/token
",
        receiver.endpoint()
    )
}

/// Start the agent of [`token_config`] with `token` in the token file.
fn start_with_token(receiver: &Receiver, token: &str) -> (Agent, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    let mut agent = Agent::start_in(dir, &token_config(receiver), &[]);
    agent.wait_ready();
    (agent, log)
}

/// Rotate the token the way Kubernetes does: a new file renamed over.
fn rotate_token(dir: &std::path::Path, token: &str) {
    let tmp = dir.join("token.new");
    std::fs::write(&tmp, token).unwrap();
    std::fs::rename(&tmp, dir.join("token")).unwrap();
}

/// The sink's `/status` details.
fn sink_status(agent: &Agent) -> serde_json::Value {
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ingest")
        .map(|c| c["details"].clone())
        .unwrap_or_default()
}

/// Events in the sink's dead-letter file (absent: none).
fn dead_letters(agent: &Agent) -> usize {
    std::fs::read_to_string(agent.data_dir().join("dead_letter/ingest.jsonl"))
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

#[test]
fn unauthorized_holds_the_backlog_until_the_token_is_rotated() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::RequireToken {
        status: 401,
        token: SECOND_TOKEN.to_owned(),
    });
    let (mut agent, log) = start_with_token(&receiver, FIRST_TOKEN);
    let want = lines("held", 1500);
    append(&log, &want[..1000]);
    wait_for(
        "a request refused with 401",
        Duration::from_secs(20),
        || {
            receiver
                .requests()
                .iter()
                .any(|r| r.path == "/v1/logs" && r.status == 401)
                .then_some(())
        },
    );
    // Lines written while the token is refused wait in their file.
    std::thread::sleep(Duration::from_secs(3));
    append(&log, &want[1000..]);
    // The hold goes on for a while: refusals are counted, nothing dead-lettered.
    std::thread::sleep(Duration::from_secs(3));
    let failures_during = sink_metric(
        &agent,
        "neurallog_agent_sink_auth_failures_total",
        &[("status", "401")],
    );
    let failing_during = sink_metric(&agent, "neurallog_agent_sink_auth_failing", &[]);
    let status_during = sink_status(&agent);
    let dead_during = dead_letters(&agent);
    let accepted_during = receiver.log_bodies().len();

    rotate_token(agent.dir.path(), SECOND_TOKEN);
    expect_lines(&receiver, &want, Duration::from_secs(30));

    assert_eq!(
        accepted_during, 0,
        "nothing is accepted before the rotation"
    );
    assert_eq!(dead_during, 0, "events dead-lettered during the hold");
    assert_eq!(dead_letters(&agent), 0, "events dead-lettered after it");
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_dead_lettered_events_total",
            &[]
        ),
        0.0
    );
    let refused = receiver
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .count() as f64;
    assert!(
        failures_during >= 2.0 && failures_during <= refused,
        "{failures_during} auth failures counted during the hold, {refused} refused in all"
    );
    assert_eq!(failing_during, 1.0, "the gauge is raised during the hold");
    assert_eq!(status_during["auth_failing"], true, "{status_during}");
    wait_for("the gauge to fall", Duration::from_secs(10), || {
        (sink_metric(&agent, "neurallog_agent_sink_auth_failing", &[]) == 0.0).then_some(())
    });
    assert_eq!(sink_status(&agent)["auth_failing"], false);
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_auth_failures_total",
            &[("status", "401")],
        ),
        refused,
        "every 401 counted"
    );
    agent.terminate(Duration::from_secs(20));
    let stderr = agent.stderr();
    let warnings = stderr
        .lines()
        .filter(|l| l.contains("Receiver refused the sink's credentials"))
        .count();
    assert_eq!(
        warnings, 1,
        "one warning for a hold shorter than the log interval, not one per retry ({refused} refused)"
    );
    assert!(
        stderr.contains("Receiver accepted the sink's credentials again"),
        "the recovery is logged"
    );
    for secret in [FIRST_TOKEN, SECOND_TOKEN] {
        assert!(!stderr.contains(secret), "{secret} leaked into the log");
    }
}

#[test]
fn forbidden_holds_until_the_receiver_accepts() {
    let receiver = Receiver::start();
    let (agent, log) = start_with_token(&receiver, FIRST_TOKEN);
    let until = Instant::now() + Duration::from_secs(6);
    receiver.set_fault(Fault::Status {
        status: 403,
        retry_after: None,
        until,
    });
    let want = lines("forbidden", 300);
    append(&log, &want);
    expect_lines(&receiver, &want, Duration::from_secs(30));
    assert!(
        receiver.accepted("/v1/logs").iter().all(|r| r.at >= until),
        "no log request is accepted during the fault"
    );
    assert_eq!(dead_letters(&agent), 0, "events dead-lettered");
    assert!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_auth_failures_total",
            &[("status", "403")],
        ) >= 1.0
    );
}

#[test]
fn sigterm_during_an_auth_hold_exits_and_the_restart_delivers() {
    let receiver = Receiver::start();
    receiver.set_fault(Fault::RequireToken {
        status: 401,
        token: SECOND_TOKEN.to_owned(),
    });
    let (mut agent, log) = start_with_token(&receiver, FIRST_TOKEN);
    let want = lines("interrupted", 300);
    append(&log, &want);
    wait_for(
        "a request refused with 401",
        Duration::from_secs(20),
        || {
            receiver
                .requests()
                .iter()
                .any(|r| r.path == "/v1/logs" && r.status == 401)
                .then_some(())
        },
    );
    // The held requests end at the 2 s shutdown deadline.
    let status = agent.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(receiver.log_bodies().is_empty());
    assert_eq!(
        dead_letters(&agent),
        0,
        "events dead-lettered during the hold"
    );

    let dir = agent.into_dir();
    rotate_token(dir.path(), SECOND_TOKEN);
    let mut agent = Agent::start_in(dir, &token_config(&receiver), &[]);
    agent.wait_ready();
    expect_lines(&receiver, &want, Duration::from_secs(30));
    assert_eq!(
        dead_letters(&agent),
        0,
        "events dead-lettered after the restart"
    );
}
