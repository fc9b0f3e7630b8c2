//! Hostile plugins in the running agent: each fails only its own runs, with
//! a clear outcome and a counter; the agent keeps serving and a
//! well-behaved check keeps its schedule.

use std::time::Duration;

use super::{last_result, samples};
use crate::support::agent::Agent;
use crate::support::plugins::test_plugin;
use crate::support::wait_for;

#[test]
fn hostile_plugins_fail_alone_and_the_agent_and_other_checks_carry_on() {
    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("inside.txt"), "fine").unwrap();
    let p = |name: &str| test_plugin(name).display().to_string();
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  beat:
    type: heartbeat
    interval_secs: 1
    jitter_percent: 0
  loop:
    type: wasm
    path: {looper}
    interval_secs: 1
    jitter_percent: 0
    limits: {{timeout_ms: 300}}
  hog:
    type: wasm
    path: {memhog}
    interval_secs: 1
    jitter_percent: 0
    limits: {{memory_bytes: 16777216}}
  trap:
    type: wasm
    path: {trapper}
    interval_secs: 1
    jitter_percent: 0
  big:
    type: wasm
    path: {badoutput}
    interval_secs: 1
    jitter_percent: 0
    config: {{mode: huge, bytes: 2000000}}
  peek:
    type: wasm
    path: {fsreader}
    interval_secs: 1
    jitter_percent: 0
    config: {{path: /etc/hostname}}
    grants: {{directories: [\"{granted}\"]}}
  probe:
    type: wasm
    path: {tlsprobe}
    interval_secs: 1
    jitter_percent: 0
    config: {{host: 127.0.0.1, port: 9}}
  evil:
    type: wasm
    path: {evil}
    interval_secs: 1
sinks:
  prom:
    type: prometheus
    inputs: [beat, loop, hog, trap, big, peek, probe, evil]
",
        looper = p("looper"),
        memhog = p("memhog"),
        trapper = p("trapper"),
        badoutput = p("badoutput"),
        fsreader = p("fsreader"),
        tlsprobe = p("tlsprobe"),
        evil = p("evil"),
        granted = granted.path().display(),
    );
    let agent = Agent::start(&yaml);
    // The evil plugin never loads, so the agent is never all-ready: wait
    // for the server instead.
    wait_for("the admin server", Duration::from_secs(60), || {
        crate::support::net::http_get(agent.admin, "/healthz")
    });
    let runs = |check: &str, outcome: &str| {
        agent
            .metric(&format!(
                "neurallog_agent_check_runs_total{{check=\"{check}\",outcome=\"{outcome}\"}}"
            ))
            .unwrap_or(0.0)
    };
    wait_for("every hostile outcome", Duration::from_secs(60), || {
        (runs("loop", "deadline_exceeded") >= 1.0
            && runs("hog", "memory_exceeded") >= 1.0
            && runs("trap", "trap") >= 1.0
            && runs("big", "output_too_large") >= 1.0
            && runs("beat", "ok") >= 5.0)
            .then_some(())
    });
    let beats_before = runs("beat", "ok");

    // Each failure is reported as that check's unknown status, with why.
    for (check, outcome) in [
        ("loop", "deadline_exceeded"),
        ("hog", "memory_exceeded"),
        ("trap", "trap"),
        ("big", "output_too_large"),
    ] {
        let status = agent.metric(&format!("neurallog_check_status{{check=\"{check}\"}}"));
        assert_eq!(status, Some(3.0), "{check} reports unknown");
        let last = last_result(&agent, check);
        assert!(
            last["outcome"] == outcome || last["outcome"] == "quarantined",
            "{check}: {last}"
        );
    }
    let trap = last_result(&agent, "trap");
    assert!(
        trap.to_string()
            .contains("trapper: deliberate panic, code 4711"),
        "the panic message is visible: {trap}"
    );

    // Reading outside the granted directory fails that run only.
    assert_ne!(
        last_result(&agent, "peek")["status"],
        "ok",
        "{}",
        last_result(&agent, "peek")
    );
    // A TLS probe of a target not granted is refused before any connection.
    let probe = last_result(&agent, "probe");
    assert!(
        probe.to_string().contains("not-allowed") || probe.to_string().contains("not allowed"),
        "{probe}"
    );
    // A component importing what the host does not provide never loads.
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    let evil = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "evil")
        .unwrap()
        .clone();
    assert_eq!(evil["state"], "failed");
    assert!(
        evil["error"]
            .as_str()
            .unwrap()
            .contains("neurallog:evil/backdoor"),
        "{evil}"
    );
    assert!(
        agent.metric("neurallog_agent_plugin_load_failures_total{check=\"evil\"}") >= Some(1.0)
    );

    // The good check keeps its one-second schedule and the agent serves.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        runs("beat", "ok") >= beats_before + 2.0,
        "heartbeat kept running"
    );
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(
        agent.metric("neurallog_check_status{check=\"beat\"}"),
        Some(0.0)
    );
    assert!(!samples(&agent, "heartbeat_runs_total{").is_empty());
}
