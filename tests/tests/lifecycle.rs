//! Start-up, the admin endpoints, reload and shutdown of the real binary.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::logs::{SeqLog, assert_complete, seqs_in};
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

/// Each component of `/status` as id → (started_at, events_sent).
fn started(agent: &Agent) -> BTreeMap<String, (String, u64)> {
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                (
                    c["started_at"].as_str().unwrap().to_owned(),
                    c["events_sent"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_reload_that_changes_one_sink_leaves_every_other_component_running() {
    let config = |changed_path: &str| {
        format!(
            "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: ['{{dir}}/app.log']
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  keep:
    type: file
    path: {{dir}}/keep.jsonl
    inputs: [app, self]
  changed:
    type: file
    path: {{dir}}/{changed_path}
    inputs: [app]
"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let mut log = SeqLog::create(&dir.path().join("app.log"));
    let mut agent = Agent::start_in(dir, &config("before.jsonl"), &[]);
    agent.wait_ready();
    let out = |name: &str| agent.dir.path().join(name);
    log.write(1_000);
    wait_for("the first lines", Duration::from_secs(20), || {
        (seqs_in(&[out("keep.jsonl")]).len() == 1_000).then_some(())
    });
    let before = started(&agent);
    assert_eq!(before.len(), 4, "{before:?}");

    agent.write_config(&config("after.jsonl"));
    agent.signal("HUP");
    wait_for("the reload", Duration::from_secs(10), || {
        (agent.metric("neurallog_agent_config_reloads_total{result=\"success\"}") >= Some(1.0))
            .then_some(())
    });
    log.write(1_000);
    wait_for(
        "the lines after the reload",
        Duration::from_secs(20),
        || {
            (seqs_in(&[out("keep.jsonl")]).len() == 2_000
                && seqs_in(&[out("after.jsonl")]).len() == 1_000)
                .then_some(())
        },
    );
    let after = started(&agent);
    for id in ["app", "self", "keep"] {
        assert_eq!(
            before[id].0, after[id].0,
            "{id} was rebuilt though its configuration did not change"
        );
        assert!(
            after[id].1 >= before[id].1,
            "{id}'s counters started again: {:?} then {:?}",
            before[id],
            after[id]
        );
    }
    assert_ne!(
        before["changed"].0, after["changed"].0,
        "the changed sink was not rebuilt"
    );
    // The source was not restarted: the sink it kept feeding has every line
    // once, and the rebuilt sink got only what came after the reload.
    assert_eq!(assert_complete(&seqs_in(&[out("keep.jsonl")]), 2_000), 0);
    let after_reload = seqs_in(&[out("after.jsonl")]);
    assert_eq!(
        after_reload.keys().next(),
        Some(&1_000),
        "the new sink was sent lines from before the reload"
    );
    assert_eq!(
        seqs_in(&[out("before.jsonl")]).len() + after_reload.len(),
        2_000
    );
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

/// Checkpointed offset of the one file the `app` source tails.
fn checkpoint_offset(data_dir: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(data_dir.join("checkpoints/app.json")).unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc["files"]
        .as_array()
        .and_then(|files| {
            files
                .iter()
                .filter(|f| f["done"] != true)
                .map(|f| f["offset"].as_u64().unwrap_or(0))
                .max()
        })
        .unwrap_or(0)
}

#[test]
fn sigterm_under_load_exits_zero_in_time_acknowledges_only_what_was_delivered_and_a_restart_sends_the_rest()
 {
    use crate::support::receiver::{Fault, Receiver};

    // Sequence numbers the receiver accepted, with how often.
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

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    log.write(200_000); // 40 MB waiting to be read
    let size = log.next * 200;
    // A slow ingest: it accepts a little, so the shutdown deadline comes
    // with most of the file read but not delivered.
    let receiver = Receiver::start();
    receiver.set_fault(Fault::Delay(Duration::from_millis(400)));
    let yaml = format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 3
sources:
  app:
    type: file
    include: [\"{{dir}}/logs/app.log\"]
    checkpoint_interval_ms: 100
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {}
",
        receiver.endpoint()
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for(
        "some lines to be delivered",
        Duration::from_secs(20),
        || (!receiver.log_bodies().is_empty()).then_some(()),
    );
    let started = std::time::Instant::now();
    let status = agent.terminate(Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "{}", agent.stderr());
    assert!(
        took < Duration::from_secs(8),
        "shutdown took {took:?}, deadline 3 s"
    );

    // The checkpoint covers only delivered lines (each 200 bytes with its
    // newline), and the deadline came before the end of the file.
    let offset = checkpoint_offset(&agent.data_dir());
    assert!(offset > 0, "something was acknowledged before the shutdown");
    assert!(
        offset < size,
        "the deadline came with lines undelivered ({offset} of {size})"
    );
    assert_eq!(offset % 200, 0, "checkpoints sit on line boundaries");
    let before = delivered(&receiver);
    let missing: Vec<u64> = (0..offset / 200)
        .filter(|s| !before.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not delivered: {} lines, from {:?}",
        missing.len(),
        missing.first()
    );

    // Restarted with the ingest well: the rest arrives, and only lines
    // after the checkpoint may arrive twice.
    receiver.set_fault(Fault::None);
    let dir = agent.into_dir();
    let agent = Agent::start_in(dir, &yaml, &[]);
    let seen = wait_for(
        "every line after the restart",
        Duration::from_secs(120),
        || {
            std::thread::sleep(Duration::from_millis(900)); // decoding 40 MB per look
            let seen = delivered(&receiver);
            (seen.len() as u64 >= log.next).then_some(seen)
        },
    );
    assert_eq!(seen.keys().next_back(), Some(&(log.next - 1)));
    let twice_before_checkpoint: Vec<u64> = seen
        .iter()
        .filter(|&(&seq, &n)| n > 1 && seq < offset / 200)
        .map(|(&seq, _)| seq)
        .collect();
    assert!(
        twice_before_checkpoint.is_empty(),
        "sent again though acknowledged: {twice_before_checkpoint:?}"
    );
    drop(agent);
}

#[test]
fn a_slow_sink_holds_the_acknowledgement_of_lines_both_sinks_received() {
    use crate::support::logs::SeqLog;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    let yaml = "
data_dir: {data_dir}
sources:
  app:
    type: file
    include: [\"{dir}/logs/app.log\"]
    checkpoint_interval_ms: 100
sinks:
  fast:
    type: file
    path: {dir}/out.jsonl
    inputs: [app]
  slow:
    type: console
    inputs: [app]
";
    // The console sink writes to a pipe nobody reads yet: it stalls.
    let mut agent = Agent::start_piped(dir, yaml);
    agent.wait_ready();
    log.write(20_000);
    let fast = agent.dir.path().join("out.jsonl");
    wait_for(
        "the fast sink to receive lines",
        Duration::from_secs(10),
        || std::fs::metadata(&fast).ok().filter(|m| m.len() > 100_000),
    );
    std::thread::sleep(Duration::from_secs(1));
    let held = checkpoint_offset(&agent.data_dir());
    let delivered_fast = std::fs::read_to_string(&fast).unwrap().lines().count() as u64;
    assert!(
        held < delivered_fast * 200,
        "checkpoint {held} must stay behind what only the fast sink delivered ({delivered_fast} lines)"
    );
    assert!(held < 20_000 * 200);

    // The slow sink catches up: now every line is acknowledged.
    let mut pipe = agent.stdout_pipe.take().unwrap();
    let reader = std::thread::spawn(move || std::io::copy(&mut pipe, &mut std::io::sink()));
    wait_for(
        "the checkpoint to reach the end",
        Duration::from_secs(30),
        || (checkpoint_offset(&agent.data_dir()) == 20_000 * 200).then_some(()),
    );
    agent.terminate(Duration::from_secs(30));
    let _ = reader.join();
}

#[test]
fn the_embedded_default_configuration_runs_and_serves_metrics_promtool_accepts() {
    // What `./x run` does: no --config. The default reads its data_dir and
    // admin address from the environment (with defaults for a laptop).
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::net::free_port();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(crate::support::agent::binary())
        .arg("run")
        .env("NEURALLOG_DATA_DIR", dir.path().join("data"))
        .env("NEURALLOG_ADMIN_ADDRESS", admin.to_string())
        .env_remove("NEURALLOG_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = wait_for(
        "the default agent to be ready",
        Duration::from_secs(30),
        || crate::support::net::http_get(admin, "/readyz").filter(|(code, _)| *code == 200),
    );
    assert_eq!(ready.0, 200);
    assert_eq!(
        crate::support::net::http_get(admin, "/healthz").unwrap().0,
        200
    );
    // Host metrics need two collections for cpu_usage_percent.
    let metrics = wait_for("host metrics", Duration::from_secs(30), || {
        crate::support::net::http_get(admin, "/metrics")
            .filter(|(_, body)| body.contains("memory_usage_percent"))
    })
    .1;
    let (ok, lint) = promtool_check(&metrics);
    assert!(ok, "promtool check metrics failed:\n{lint}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
