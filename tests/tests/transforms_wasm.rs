//! `type: wasm` transforms with the real binary: a log processor made with
//! `plugin new --kind processor` and built by following its README, loaded
//! from the plugins directory, records through it to the OTLP receiver and
//! decoded by the `opentelemetry-proto` Python decoder; and the hostile test
//! processor (`tests/plugins/processor`) contained, its failed batches
//! passed on unprocessed (counted) or held until the plugin is fixed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::checks::plugin_new::{build_target, command_after, shell};
use crate::shipping::decode::{attrs, get, python_decode};
use crate::support::agent::{Agent, binary, run};
use crate::support::plugins::test_plugin;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

/// The component of a processor crate written by `plugin new --kind
/// processor` outside the repository and built with the command it prints
/// (once per test run).
fn template_processor() -> PathBuf {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, wasm) = BUILT.get_or_init(|| {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("edge-fields");
        let out = run(&[
            "plugin",
            "new",
            "edge-fields",
            "--kind",
            "processor",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with("Created the log processor `edge-fields`"),
            "{stdout}"
        );
        shell(&command_after(&stdout, "Build the component"), work.path());
        let tested = shell(
            &command_after(&stdout, "Test its logic natively"),
            work.path(),
        );
        let tested = String::from_utf8_lossy(&tested.stdout);
        assert!(
            tested.contains("test result: ok. 5 passed; 0 failed"),
            "{tested}"
        );
        let wasm = build_target().join("wasm32-wasip2/release/edge_fields.wasm");
        assert!(wasm.is_file(), "{} was built", wasm.display());
        (work, wasm)
    });
    wasm.clone()
}

/// Records as the Python decoder printed them: body and attributes.
fn decoded(receiver: &Receiver) -> Vec<(String, Vec<(String, String)>)> {
    let work = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for request in python_decode("logs", receiver, "/v1/logs", work.path()) {
        for resource_logs in request["resource_logs"].as_array().unwrap() {
            for scope in resource_logs["scope_logs"].as_array().unwrap() {
                for record in scope["log_records"].as_array().unwrap() {
                    let body = record["body"]["string_value"].as_str().unwrap().to_owned();
                    records.push((body, attrs(&record["attributes"])));
                }
            }
        }
    }
    records
}

/// The records the receiver got, after checking their bodies are
/// `expected`: each once, in order.
fn decoded_in_order<S: AsRef<str>>(
    receiver: &Receiver,
    expected: &[S],
    what: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    let records = decoded(receiver);
    let bodies: Vec<&str> = records.iter().map(|(b, _)| b.as_str()).collect();
    let expected: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    assert_eq!(bodies, expected, "{what}");
    records
}

fn append(path: &Path, lines: &[&str]) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

/// File source → `wasm` transform `proc` → OTLP, the processor being
/// `plugins/<plugin>.wasm`; `transform` is the rest of its configuration.
fn config(plugins: &Path, endpoint: &str, plugin: &str, transform: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
plugins:
  directory: {plugins}
sources:
  app:
    type: file
    include: ['{{dir}}/logs/*.log']
    checkpoint_interval_ms: 100
transforms:
  proc:
    type: wasm
    inputs: [app]
    plugin: {plugin}
{transform}
sinks:
  ingest:
    type: otlp_http
    inputs: [proc]
    endpoint: {endpoint}
    batch: {{timeout_ms: 50}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 500}}
",
        plugins = plugins.display(),
    )
}

/// The committed offset of the log in the source's checkpoint file.
fn checkpoint(agent: &Agent) -> Option<u64> {
    let path = agent.data_dir().join("checkpoints/app.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    doc["files"]
        .as_array()?
        .iter()
        .filter_map(|f| f["offset"].as_u64())
        .max()
}

fn start(yaml: &str) -> (Agent, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let mut agent = Agent::start_in(dir, yaml, &[]);
    agent.wait_ready();
    (agent, log)
}

#[test]
fn a_processor_built_from_the_template_by_its_readme_processes_records_in_the_agent() {
    let wasm = template_processor();
    // The README's deployment: the component in plugins.directory, named
    // by its stem.
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(&wasm, plugins.path().join("edge_fields.wasm")).unwrap();

    // The README's `plugin run`: records on stdin, JSON lines out.
    let work = tempfile::tempdir().unwrap();
    let config_json = work.path().join("config.json");
    std::fs::write(&config_json, r#"{"drop_if_contains": ["GET /healthz"]}"#).unwrap();
    let mut child = Command::new(binary())
        .args(["plugin", "run"])
        .arg(&wasm)
        .arg("--config")
        .arg(&config_json)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"GET /healthz 200\nGET /api 500\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert_eq!(printed[0]["body"], "GET /api 500");

    // A misspelt field is found by `validate`, against the schema the
    // processor publishes.
    let receiver = Receiver::start();
    let bad = config(
        plugins.path(),
        &receiver.endpoint(),
        "edge_fields",
        "    config: { drop_if_contain: [x] }",
    );
    let bad_file = work.path().join("bad.yaml");
    std::fs::write(
        &bad_file,
        bad.replace(
            "{data_dir}",
            &work.path().join("data").display().to_string(),
        )
        .replace("{dir}", &work.path().display().to_string()),
    )
    .unwrap();
    let out = run(&["validate", "--config", bad_file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("transforms.proc.config.drop_if_contain: unknown field `drop_if_contain` (did you mean `drop_if_contains`?)"),
        "{stderr}"
    );

    // In the agent: health checks dropped, the rest marked.
    let yaml = config(
        plugins.path(),
        &receiver.endpoint(),
        "edge_fields",
        "    config:\n      drop_if_contains: [\"GET /healthz\"]\n      add_attribute: pipeline\n      add_value: edge",
    );
    let (agent, log) = start(&yaml);
    let lines: Vec<String> = (0..300)
        .map(|i| match i % 3 {
            2 => format!("10.0.0.{} GET /healthz 200", i % 250),
            _ => format!("10.0.0.{} GET /api/{i} 200", i % 250),
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    append(&log, &refs);
    let kept: Vec<&String> = lines.iter().filter(|l| !l.contains("/healthz")).collect();
    wait_for("the kept records", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= kept.len()).then_some(())
    });
    // The last line is a health check, dropped: the checkpoint reaching
    // the end shows what the processor dropped is acknowledged.
    assert!(lines.last().unwrap().contains("/healthz"));
    let size = std::fs::metadata(&log).unwrap().len();
    wait_for("the checkpoint at the end", Duration::from_secs(30), || {
        (checkpoint(&agent) == Some(size)).then_some(())
    });
    let records = decoded_in_order(
        &receiver,
        &kept,
        "every kept line once, in order, none dropped",
    );
    for (body, attributes) in &records {
        assert_eq!(get(attributes, "pipeline"), Some("edge"), "{body}");
        assert_eq!(get(attributes, "log.file.name"), Some("app.log"), "{body}");
    }
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_transform_dropped_events_total",
            &["component_id=\"proc\""]
        ),
        100.0
    );
}

/// What the hostile test processors get: each hostile line, the reason it
/// is failed for, and whether the failure throws the instance away (a
/// trap, a limit, output that breaks the contract) or not (the plugin's own
/// error).
const HOSTILE: &[(&str, &str, bool)] = &[
    ("TRAP now", "trap", true),
    ("LOOP now", "deadline_exceeded", true),
    ("GROW now", "memory_exceeded", true),
    ("HUGE now", "output_too_large", true),
    ("ERROR now", "plugin_error", false),
];

/// Only a column processor can answer with a verdict missing.
const HOSTILE_COLUMNS: &[(&str, &str, bool)] = &[("VERDICTS now", "invalid_output", true)];

#[test]
fn hostile_processors_are_contained_and_their_batches_pass_on_unprocessed() {
    hostile_lines_are_contained("processor", HOSTILE);
}

#[test]
fn hostile_column_processors_are_contained_and_their_batches_pass_on_unprocessed() {
    let hostile: Vec<_> = HOSTILE.iter().chain(HOSTILE_COLUMNS).copied().collect();
    hostile_lines_are_contained("columns", &hostile);
}

/// Test guest `guest` in its worker (the default for a third-party plugin)
/// fed each of `hostile` as a batch of its own, between good lines: every
/// line reaches the receiver once, in order, the good ones processed.
fn hostile_lines_are_contained(guest: &str, hostile: &[(&str, &str, bool)]) {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin(guest), plugins.path().join("hostile.wasm")).unwrap();
    let receiver = Receiver::start();
    let yaml = config(
        plugins.path(),
        &receiver.endpoint(),
        "hostile",
        "    on_error: pass\n    limits: { timeout_ms: 500, memory_bytes: 33554432 }",
    );
    let (agent, log) = start(&yaml);
    // One line at a time, each waited for, so that each hostile line is a
    // batch of its own.
    let mut written = Vec::new();
    for (i, (line, _, _)) in hostile.iter().enumerate() {
        for line in [format!("before {i}"), (*line).to_owned()] {
            append(&log, &[&line]);
            written.push(line);
            wait_for(
                &format!("{:?} at the receiver", written.last()),
                Duration::from_secs(30),
                || (receiver.log_bodies().len() >= written.len()).then_some(()),
            );
            let (code, _) = agent.get("/healthz");
            assert_eq!(code, 200, "the agent stays healthy");
        }
    }
    append(&log, &["after"]);
    written.push("after".to_owned());
    wait_for("the last line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= written.len()).then_some(())
    });

    let records = decoded_in_order(&receiver, &written, "every line once, in order");
    for (body, attributes) in &records {
        let processed = get(attributes, "processor.batch").is_some();
        let is_hostile = hostile.iter().any(|(h, _, _)| h == body);
        assert_eq!(processed, !is_hostile, "{body}: {attributes:?}");
    }
    // After a failure that throws the instance away, a fresh instance: the
    // good line after it is the first batch of its instance. The plugin's
    // own error leaves its instance in use, and the count goes on.
    let batch_of = |body: &str| {
        records
            .iter()
            .find(|(b, _)| b == body)
            .and_then(|(_, a)| get(a, "processor.batch").map(str::to_owned))
    };
    let mut expected = 0;
    let mut goods: Vec<String> = (0..hostile.len()).map(|i| format!("before {i}")).collect();
    goods.push("after".to_owned());
    for (i, good) in goods.iter().enumerate() {
        let fresh = i == 0 || hostile[i - 1].2;
        expected = if fresh { 1 } else { expected + 1 };
        assert_eq!(
            batch_of(good).as_deref(),
            Some(expected.to_string().as_str()),
            "{good}"
        );
    }
    // `/status` says which contract the plugin was loaded as: the test
    // processor is built against 0.1.0, the column processor needs 0.1.1.
    let contract = match guest {
        "columns" => "neurallog:plugin@0.1.1",
        _ => "neurallog:plugin@0.1.0",
    };
    let shown = transform_status(&agent, "proc");
    assert_eq!(shown["details"]["plugin"]["contract"], contract, "{shown}");
    assert_eq!(shown["details"]["isolation"], "worker", "{shown}");
    for (_, reason, _) in hostile {
        assert_eq!(
            agent.metric_sum(
                "neurallog_agent_transform_processor_failures_total",
                &[&format!("error_type=\"{reason}\""), "action=\"passed\""]
            ),
            1.0,
            "{reason}\n{}",
            agent.get("/metrics").1
        );
    }
    let size = std::fs::metadata(&log).unwrap().len();
    wait_for("the checkpoint at the end", Duration::from_secs(30), || {
        (checkpoint(&agent) == Some(size)).then_some(())
    });
}

#[test]
fn with_retry_a_failed_batch_is_held_until_the_processor_is_fixed() {
    let plugins = tempfile::tempdir().unwrap();
    let deployed = plugins.path().join("proc.wasm");
    std::fs::copy(test_plugin("processor"), &deployed).unwrap();
    let receiver = Receiver::start();
    let yaml = config(
        plugins.path(),
        &receiver.endpoint(),
        "proc",
        "    on_error: retry",
    );
    let (agent, log) = start(&yaml);
    append(&log, &["first"]);
    wait_for("the first line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() == 1).then_some(())
    });
    let size_before = std::fs::metadata(&log).unwrap().len();
    append(&log, &["ERROR held"]);
    let held = || {
        agent.metric_sum(
            "neurallog_agent_transform_processor_failures_total",
            &["error_type=\"plugin_error\"", "action=\"held\""],
        )
    };
    wait_for(
        "three tries of the held batch",
        Duration::from_secs(30),
        || (held() >= 3.0).then_some(()),
    );
    assert_eq!(
        receiver.log_bodies(),
        ["first"],
        "the held batch went nowhere"
    );
    assert_eq!(
        checkpoint(&agent),
        Some(size_before),
        "the checkpoint does not pass the held line"
    );

    // The fixed plugin (the template's processor, which keeps every
    // record) replaces the file; the next try loads it.
    let fixed = deployed.with_extension("new");
    std::fs::copy(template_processor(), &fixed).unwrap();
    std::fs::rename(&fixed, &deployed).unwrap();
    wait_for("the held line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() == 2).then_some(())
    });
    append(&log, &["after"]);
    wait_for("the line after", Duration::from_secs(30), || {
        (receiver.log_bodies().len() == 3).then_some(())
    });
    assert_eq!(receiver.log_bodies(), ["first", "ERROR held", "after"]);
    let size = std::fs::metadata(&log).unwrap().len();
    wait_for("the checkpoint at the end", Duration::from_secs(30), || {
        (checkpoint(&agent) == Some(size)).then_some(())
    });
}

/// A field of `/proc/PID/status`.
fn status_field(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn a_third_party_processor_runs_in_a_confined_worker_and_a_killed_worker_loses_no_batch() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("processor"), plugins.path().join("proc.wasm")).unwrap();
    let receiver = Receiver::start();
    // Isolation is left at its default: third-party plugins in a worker.
    let yaml = config(
        plugins.path(),
        &receiver.endpoint(),
        "proc",
        "    on_error: retry",
    );
    let (agent, log) = start(&yaml);
    append(&log, &["first"]);
    wait_for("the first line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() == 1).then_some(())
    });
    let [worker] = agent.plugin_workers()[..] else {
        panic!("one plugin worker, got {:?}", agent.plugin_workers());
    };
    let agent_pid = agent.child.as_ref().unwrap().id();
    for (field, want) in [("NoNewPrivs", "1"), ("Seccomp", "2")] {
        assert_eq!(status_field(worker, field), want, "{field} of the worker");
    }
    assert_eq!(status_field(agent_pid, "Seccomp"), "0", "the agent is not");
    // `/status` names the worker and how it is confined.
    let shown = transform_status(&agent, "proc");
    let details = &shown["details"];
    assert_eq!(details["isolation"], "worker", "{shown}");
    assert_eq!(details["plugin"]["name"], "processor", "{shown}");
    assert_eq!(details["worker"]["pid"], worker, "{shown}");
    assert_eq!(details["worker"]["confinement"]["seccomp"], true, "{shown}");
    assert_eq!(details["batches_failed"], 0, "{shown}");
    let root = status_field(agent_pid, "Uid").starts_with("0\t");
    if root {
        assert!(
            !status_field(worker, "Uid").starts_with("0\t"),
            "the worker of an agent run as root is not root: {}",
            status_field(worker, "Uid")
        );
    }

    // The worker dies between batches: it is reaped (no zombie is left)
    // and `/status` says how it ended before any batch needs it; the next
    // batch starts a new worker, and no batch fails.
    let status = Command::new("kill")
        .args(["-9", &worker.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let shown = wait_for("the dead worker reaped", Duration::from_secs(30), || {
        let shown = transform_status(&agent, "proc");
        let reaped = !Path::new(&format!("/proc/{worker}")).exists();
        (reaped && shown["details"]["worker"]["pid"].is_null()).then_some(shown)
    });
    let last_exit = shown["details"]["worker"]["last_exit"]
        .as_str()
        .unwrap_or_default();
    assert!(
        last_exit.contains("signal 9") && last_exit.contains("between batches"),
        "{shown}"
    );
    append(&log, &["second", "third"]);
    wait_for("the lines after the kill", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= 3).then_some(())
    });
    append(&log, &["fourth"]);
    wait_for("the last line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= 4).then_some(())
    });
    let records = decoded_in_order(
        &receiver,
        &["first", "second", "third", "fourth"],
        "each once, in order",
    );
    for (body, attributes) in &records {
        assert!(
            get(attributes, "processor.batch").is_some(),
            "{body} went through the processor: {attributes:?}"
        );
    }
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_plugin_worker_failures_total",
            &["transform=\"proc\"", "error_type=\"worker_crashed\""]
        ),
        1.0,
        "{}",
        agent.get("/metrics").1
    );
    assert_eq!(
        agent.metric_sum("neurallog_agent_transform_processor_failures_total", &[]),
        0.0,
        "no batch failed"
    );
    let [new_worker] = agent.plugin_workers()[..] else {
        panic!("one plugin worker, got {:?}", agent.plugin_workers());
    };
    assert_ne!(new_worker, worker, "a new worker");
    assert_eq!(status_field(new_worker, "Seccomp"), "2");
    // And now the new worker; nothing failed, nothing held.
    let shown = transform_status(&agent, "proc");
    let details = &shown["details"];
    assert_eq!(details["worker"]["pid"], new_worker, "{shown}");
    assert_eq!(details["worker"]["restarts"], 1, "{shown}");
    assert_eq!(details["batches_failed"], 0, "{shown}");
    assert!(details["holding"].is_null(), "{shown}");
    let size = std::fs::metadata(&log).unwrap().len();
    wait_for("the checkpoint at the end", Duration::from_secs(30), || {
        (checkpoint(&agent) == Some(size)).then_some(())
    });
}

/// The `/status` entry of transform `id`.
fn transform_status(agent: &Agent, id: &str) -> serde_json::Value {
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    status["components"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["kind"] == "transform" && c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no transform {id} in {status}"))
}

#[test]
fn a_processor_worker_that_tries_to_escape_is_killed_by_seccomp_and_no_batch_is_lost() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("processor"), plugins.path().join("proc.wasm")).unwrap();
    let receiver = Receiver::start();
    // on_error is left at its default, `pass`.
    let yaml = config(plugins.path(), &receiver.endpoint(), "proc", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    // Every worker attempts `execve` before each batch, as an escaped guest
    // would.
    let mut agent = Agent::start_in(dir, &yaml, &[("NEURALLOG_PLUGIN_WORKER_TEST_ESCAPE", "1")]);
    agent.wait_ready();
    let mut written = Vec::new();
    for i in 0..3 {
        let line = format!("line {i}");
        append(&log, &[&line]);
        written.push(line);
        wait_for(&format!("line {i}"), Duration::from_secs(30), || {
            (receiver.log_bodies().len() >= written.len()).then_some(())
        });
    }
    let records = decoded_in_order(&receiver, &written, "each once, in order");
    for (body, attributes) in &records {
        assert_eq!(
            get(attributes, "processor.batch"),
            None,
            "{body} passed unprocessed: no worker got past execve"
        );
    }
    assert!(
        agent.metric_sum(
            "neurallog_agent_plugin_worker_failures_total",
            &["transform=\"proc\"", "error_type=\"worker_crashed\""]
        ) >= 1.0,
        "{}",
        agent.get("/metrics").1
    );
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_transform_processor_failures_total",
            &["error_type=\"worker_crashed\"", "action=\"passed\""]
        ),
        3.0
    );
    let stderr = agent.stderr();
    assert!(
        stderr.contains("seccomp filter stopped a forbidden system call"),
        "the log says why:\n{stderr}"
    );
    assert!(
        !stderr.contains("execve was not stopped"),
        "execve never returned"
    );
    assert_eq!(agent.get("/healthz").0, 200);
}
