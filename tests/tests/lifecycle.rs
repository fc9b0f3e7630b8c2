//! Start-up, the admin endpoints, reload and shutdown of the real binary.

use std::process::Command;
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::wait_for;

const METRICS_ONLY: &str = "
data_dir: {data_dir}
sources:
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  out:
    type: file
    path: {dir}/out.jsonl
    inputs: [self]
";

#[test]
fn admin_endpoints_answer_and_metrics_pass_promtool() {
    let mut agent = Agent::start(METRICS_ONLY);
    agent.wait_ready();
    assert_eq!(agent.get("/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(agent.get("/readyz").0, 200);
    assert_eq!(agent.get("/nope").0, 404);

    let (code, metrics) = agent.get("/metrics");
    assert_eq!(code, 200);
    for name in [
        "neurallog_agent_build_info{",
        "neurallog_agent_uptime_seconds ",
        "neurallog_agent_component_sent_events_total{component_id=\"self\"",
        "neurallog_agent_config_reloads_total{result=\"failure\"} 0",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    let lint = promtool_check(&metrics);
    assert!(lint.0, "promtool check metrics failed:\n{}", lint.1);

    let (code, status) = agent.get("/status");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["ready"], true);
    let ids: Vec<&str> = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["out", "self"]);
}

/// `promtool check metrics` from Debian's `prometheus` package.
pub fn promtool_check(metrics: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; ./x setup installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_pipeline_and_counts_the_failure() {
    let mut agent = Agent::start(METRICS_ONLY);
    agent.wait_ready();
    let out = agent.dir.path().join("out.jsonl");
    let lines = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    wait_for("metrics in the file sink", Duration::from_secs(10), || {
        (lines(&out) > 0).then_some(())
    });

    agent.write_config("sources: [broken\n");
    agent.signal("HUP");
    wait_for(
        "the failed reload to be counted",
        Duration::from_secs(10),
        || {
            (agent.metric("neurallog_agent_config_reloads_total{result=\"failure\"}") >= Some(1.0))
                .then_some(())
        },
    );
    assert!(
        agent.stderr().contains("New configuration refused"),
        "{}",
        agent.stderr()
    );
    // The old pipeline still serves: the file keeps growing and /readyz is 200.
    let before = lines(&out);
    wait_for(
        "the old pipeline to keep writing",
        Duration::from_secs(10),
        || (lines(&out) > before).then_some(()),
    );
    assert_eq!(agent.get("/readyz").0, 200);
    assert_eq!(
        agent.metric("neurallog_agent_config_reloads_total{result=\"success\"}"),
        Some(0.0)
    );
}

#[test]
fn sighup_with_a_good_config_rebuilds_what_changed() {
    let mut agent = Agent::start(METRICS_ONLY);
    agent.wait_ready();
    agent.write_config(&format!("{METRICS_ONLY}  second:\n    type: file\n    path: {{dir}}/second.jsonl\n    inputs: [self]\n"));
    agent.signal("HUP");
    wait_for("the reload", Duration::from_secs(10), || {
        (agent.metric("neurallog_agent_config_reloads_total{result=\"success\"}") >= Some(1.0))
            .then_some(())
    });
    let second = agent.dir.path().join("second.jsonl");
    wait_for(
        "the new sink to receive metrics",
        Duration::from_secs(10),
        || std::fs::metadata(&second).ok().filter(|m| m.len() > 0),
    );
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    assert_eq!(status["components"].as_array().unwrap().len(), 3);
}

#[test]
fn a_changed_config_file_is_reloaded_without_a_signal() {
    let mut agent = Agent::start(METRICS_ONLY);
    agent.wait_ready();
    agent.write_config(&METRICS_ONLY.replace("interval_secs: 1", "interval_secs: 2"));
    wait_for("the file-change reload", Duration::from_secs(15), || {
        (agent.metric("neurallog_agent_config_reloads_total{result=\"success\"}") >= Some(1.0))
            .then_some(())
    });
    assert!(
        agent.stderr().contains("trigger=\"file_change\""),
        "{}",
        agent.stderr()
    );
}

#[test]
fn sigterm_exits_zero() {
    let mut agent = Agent::start(METRICS_ONLY);
    agent.wait_ready();
    let status = agent.terminate(Duration::from_secs(40));
    assert_eq!(status.code(), Some(0), "{}", agent.stderr());
    assert!(agent.stderr().contains("Stopped."));
}

#[test]
fn a_second_agent_on_the_same_data_dir_is_refused() {
    let mut first = Agent::start(METRICS_ONLY);
    first.wait_ready();
    let config = first.dir.path().join("agent.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let port = crate::support::net::free_port();
    let other = first.dir.path().join("other.yaml");
    std::fs::write(
        &other,
        text.replace(&first.admin.to_string(), &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let out = crate::support::agent::run(&["run", "--config", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is locked by another running agent"));
}
