//! Third-party plugins in their worker process: who the worker is and what
//! confines it, a worker killed in the middle of a run, and a simulated
//! guest escape stopped by the seccomp filter. In each, the agent's own
//! pipeline (a file source shipping to a receiver, a heartbeat check, the
//! admin server) carries on.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use super::last_result;
use crate::support::agent::Agent;
use crate::support::logs::SeqLog;
use crate::support::plugins::test_plugin;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

/// A field of `/proc/<pid>/status`, as written there.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The pid of check `check`'s worker, once it has one.
fn worker_pid(agent: &Agent, check: &str) -> Option<u32> {
    last_result(agent, check)["worker"]["pid"]
        .as_u64()
        .map(|p| p as u32)
}

fn runs(agent: &Agent, check: &str, outcome: &str) -> f64 {
    agent
        .metric(&format!(
            "neurallog_agent_check_runs_total{{check=\"{check}\",outcome=\"{outcome}\"}}"
        ))
        .unwrap_or(0.0)
}

fn restarts(agent: &Agent, check: &str) -> f64 {
    agent
        .metric(&format!(
            "neurallog_agent_plugin_worker_restarts_total{{check=\"{check}\"}}"
        ))
        .unwrap_or(0.0)
}

fn id_of(flag: &str, name: &str) -> String {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    assert!(out.status.success(), "id {flag} {name}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Sequence numbers the receiver accepted, with how often.
fn delivered(receiver: &Receiver) -> BTreeMap<u64, u32> {
    let mut seen = BTreeMap::new();
    for body in receiver.log_bodies() {
        if let Some(seq) = body
            .strip_prefix("seq=")
            .and_then(|r| r.get(..10)?.parse().ok())
        {
            *seen.entry(seq).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn the_worker_runs_as_nobody_with_no_new_privs_and_seccomp() {
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  fine:
    type: wasm
    path: {ok}
    interval_secs: 1
    jitter_percent: 0
sinks:
  prom:
    type: prometheus
    inputs: [fine]
",
        ok = test_plugin("ok").display()
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    wait_for("a run through the worker", Duration::from_secs(60), || {
        (runs(&agent, "fine", "ok") >= 1.0).then_some(())
    });
    let pid = worker_pid(&agent, "fine").expect("the worker's pid in /status");
    let agent_pid = agent.child.as_ref().unwrap().id();

    let ps = Command::new("ps")
        .args(["-o", "pid,ppid,user,group,args", "-p", &pid.to_string()])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    println!("{ps}");
    let row = ps.lines().nth(1).expect("ps lists the worker");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols[1],
        agent_pid.to_string(),
        "the agent started it: {row}"
    );
    assert_eq!(cols[2], "nobody", "{row}");
    assert_eq!(cols[3], "nogroup", "{row}");
    assert!(
        row.ends_with(&format!(
            "neurallog-agent plugin-worker --parent {agent_pid}"
        )),
        "{row}"
    );

    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    for (field, want) in [
        ("Uid", format!("{uid}\t{uid}\t{uid}\t{uid}")),
        ("Gid", format!("{gid}\t{gid}\t{gid}\t{gid}")),
        ("Groups", gid.clone()),
        ("NoNewPrivs", "1".to_owned()),
        ("Seccomp", "2".to_owned()),
        ("CapEff", "0000000000000000".to_owned()),
        ("CapPrm", "0000000000000000".to_owned()),
    ] {
        let got = status_field(pid, field);
        println!("/proc/{pid}/status {field}:\t{got}");
        assert_eq!(got, want, "{field} of the worker");
    }
    // The agent itself is not confined: only its worker.
    assert_eq!(status_field(agent_pid, "Seccomp"), "0");
    assert_eq!(status_field(agent_pid, "Uid").split('\t').next(), Some("0"));

    // /status says the same.
    let worker = &last_result(&agent, "fine")["worker"];
    assert_eq!(worker["confinement"]["seccomp"], true, "{worker}");
    assert_eq!(worker["confinement"]["uid"].to_string(), uid, "{worker}");
    assert!(
        worker["confinement"]["rlimits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("RLIMIT_NOFILE=")),
        "{worker}"
    );

    // Shutdown takes the worker with it.
    agent.terminate(Duration::from_secs(30));
    wait_for("the worker to exit", Duration::from_secs(10), || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
}

#[test]
fn a_worker_killed_mid_run_costs_that_run_only_and_no_log_line() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    log.write(500);
    let yaml = format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: [\"{{dir}}/logs/app.log\"]
checks:
  slow:
    type: wasm
    path: {ok}
    interval_secs: 1
    jitter_percent: 0
    config: {{mode: slow}}
    limits: {{timeout_ms: 10000}}
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {endpoint}
  prom:
    type: prometheus
    inputs: [slow]
",
        ok = test_plugin("ok").display(),
        endpoint = receiver.endpoint(),
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for("a slow run to finish", Duration::from_secs(60), || {
        (runs(&agent, "slow", "ok") >= 1.0).then_some(())
    });
    let first = worker_pid(&agent, "slow").expect("a worker");
    // The next run starts half a second after one ends and sleeps three
    // seconds: a second after a run ended, the next is in flight.
    let ok_before = runs(&agent, "slow", "ok");
    wait_for("the next run to end", Duration::from_secs(30), || {
        (runs(&agent, "slow", "ok") > ok_before).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1200));
    log.write(500);
    let killed = Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    log.write(500);

    wait_for(
        "the run to fail as worker_crashed",
        Duration::from_secs(30),
        || (runs(&agent, "slow", "worker_crashed") >= 1.0).then_some(()),
    );
    let ok_after_kill = runs(&agent, "slow", "ok");
    wait_for("runs through a new worker", Duration::from_secs(60), || {
        (runs(&agent, "slow", "ok") >= ok_after_kill + 2.0).then_some(())
    });
    log.write(500);
    assert_eq!(
        runs(&agent, "slow", "worker_crashed"),
        1.0,
        "one run was lost"
    );
    assert_eq!(restarts(&agent, "slow"), 1.0);
    let second = worker_pid(&agent, "slow").expect("a new worker");
    assert_ne!(first, second);
    let worker = &last_result(&agent, "slow")["worker"];
    assert_eq!(worker["restarts"], 1, "{worker}");
    assert!(
        worker["last_exit"]
            .as_str()
            .unwrap()
            .contains("signal 9 (SIGKILL)"),
        "{worker}"
    );
    assert_eq!(worker["consecutive_failures"], 0, "{worker}");

    // Every line arrived; the agent's pipeline never stopped.
    let seen = wait_for("every line delivered", Duration::from_secs(30), || {
        let seen = delivered(&receiver);
        (seen.len() as u64 == log.next).then_some(seen)
    });
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..log.next).collect::<Vec<_>>()
    );
    assert_eq!(agent.get("/healthz").0, 200);
}

#[test]
fn a_guest_escape_is_killed_by_seccomp_and_the_worker_restarted() {
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  beat:
    type: heartbeat
    interval_secs: 1
    jitter_percent: 0
  escapee:
    type: wasm
    path: {ok}
    interval_secs: 1
    jitter_percent: 0
sinks:
  prom:
    type: prometheus
    inputs: [beat, escapee]
",
        ok = test_plugin("ok").display()
    );
    let mut agent = Agent::start_with_env(&yaml, &[("NEURALLOG_PLUGIN_WORKER_TEST_ESCAPE", "1")]);
    agent.wait_ready();
    wait_for(
        "a worker killed and restarted",
        Duration::from_secs(60),
        || {
            (restarts(&agent, "escapee") >= 1.0 && runs(&agent, "escapee", "worker_crashed") >= 2.0)
                .then_some(())
        },
    );
    let last = last_result(&agent, "escapee");
    let exit = last["worker"]["last_exit"].as_str().unwrap_or_default();
    assert!(exit.contains("signal 31 (SIGSYS"), "{last}");
    assert_eq!(runs(&agent, "escapee", "ok"), 0.0, "no run got past execve");
    assert!(
        agent.metric(
            "neurallog_agent_plugin_worker_failures_total{check=\"escapee\",error_type=\"worker_crashed\"}"
        ) >= Some(2.0)
    );
    assert!(
        agent
            .stderr()
            .contains("seccomp filter stopped a forbidden system call"),
        "the log says why"
    );
    assert!(
        !agent.stderr().contains("execve was not stopped"),
        "execve never returned"
    );

    // The agent and its other check carry on.
    let beats = runs(&agent, "beat", "ok");
    std::thread::sleep(Duration::from_secs(3));
    assert!(runs(&agent, "beat", "ok") >= beats + 2.0);
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(
        agent.metric("neurallog_check_status{check=\"escapee\"}"),
        Some(3.0)
    );
}
