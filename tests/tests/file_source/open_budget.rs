//! More files than `max_open_files`: idle files give their descriptor to
//! files waiting for one, and are opened again when they grow.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::wait_for;

const FILES: usize = 300;
const LINES: usize = 30;
const MAX_OPEN: usize = 16;

/// A `console` sink, so the test decides when the sink may go on: until
/// it reads the agent's stdout, the pipe fills and the sink blocks.
fn budget_config() -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: [\"{{dir}}/logs/*.log\"]
    checkpoint_interval_ms: 100
    scan_interval_ms: 500
    batch_max_events: 100
    max_open_files: {MAX_OPEN}
sinks:
  out:
    type: console
    inputs: [app]
"
    )
}

fn line(file: usize, what: &str, n: usize) -> String {
    // Padded so the records fill the stdout pipe quickly.
    format!("f-{file:03} {what} {n:02} {}", "x".repeat(120))
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Read the agent's stdout on a thread; every body, in arrival order.
fn collect_bodies(agent: &mut Agent) -> Arc<Mutex<Vec<String>>> {
    let pipe = agent.stdout_pipe.take().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(body) = event["body"].as_str()
            {
                out.lock().unwrap().push(body.to_owned());
            }
        }
    });
    bodies
}

fn counts(bodies: &Mutex<Vec<String>>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for body in bodies.lock().unwrap().iter() {
        *counts.entry(body.clone()).or_insert(0) += 1;
    }
    counts
}

/// Wait until every line of `expected` arrived; then each must have
/// arrived exactly once, and nothing else.
fn assert_exactly(bodies: &Mutex<Vec<String>>, expected: &[String], what: &str) {
    let start = std::time::Instant::now();
    loop {
        let counts = counts(bodies);
        let missing = expected.iter().filter(|l| !counts.contains_key(*l)).count();
        if missing == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: {missing} of {} lines never arrived ({} distinct lines did)",
            expected.len(),
            counts.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let counts = counts(bodies);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: lines sent twice: {twice:?}");
    assert_eq!(counts.len(), expected.len(), "{what}: unexpected lines");
}

#[test]
fn more_files_than_the_open_budget_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut expected = Vec::new();
    for f in 0..FILES {
        let mut text = String::new();
        for n in 0..LINES {
            let line = line(f, "line", n);
            text.push_str(&line);
            text.push('\n');
            expected.push(line);
        }
        std::fs::write(logs.join(format!("f-{f:03}.log")), text).unwrap();
    }
    let mut agent = Agent::start_piped(dir, &budget_config());
    agent.wait_ready();

    // The sink is blocked: the first files' batches are not acknowledged,
    // so they keep their descriptors and the others wait.
    let start = std::time::Instant::now();
    let mut waiting_while_blocked = None;
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(n) = waiting(&agent).filter(|n| *n > 0.0) {
            waiting_while_blocked = Some(n);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let open_while_blocked = open(&agent);

    let bodies = collect_bodies(&mut agent);
    assert_exactly(&bodies, &expected, "first pass");
    assert!(
        waiting_while_blocked.is_some(),
        "files_waiting never rose above 0 while the sink was blocked"
    );
    assert!(
        open_while_blocked.is_some_and(|n| n <= MAX_OPEN as f64),
        "files_open while blocked: {open_while_blocked:?}"
    );
    wait_for("no file to wait", Duration::from_secs(10), || {
        (waiting(&agent) == Some(0.0)).then_some(())
    });

    // Files read early were closed while idle to make room; lines
    // appended to them now are found by a rescan and read from where each
    // file was left.
    let appended: Vec<usize> = (0..FILES / 2).step_by(15).collect();
    let still_open = open_paths(&agent);
    assert!(
        still_open.len() <= MAX_OPEN
            && appended.iter().all(|f| !still_open
                .iter()
                .any(|p| p.ends_with(&format!("f-{f:03}.log")))),
        "the files appended to were closed idle: open are {still_open:?}"
    );
    assert!(
        agent
            .metric("neurallog_agent_files_idle_closed_total{component_id=\"app\"}")
            .is_some_and(|n| n >= (FILES - MAX_OPEN) as f64),
        "every file but the last ones was closed idle"
    );
    let mut late = Vec::new();
    for &f in &appended {
        let mut text = String::new();
        for n in 0..3 {
            let line = line(f, "late", n);
            text.push_str(&line);
            text.push('\n');
            late.push(line);
        }
        append(&logs_of(&agent).join(format!("f-{f:03}.log")), &text);
    }
    expected.extend(late);
    assert_exactly(&bodies, &expected, "after appending to idle files");
    assert!(
        open(&agent).is_some_and(|n| n <= MAX_OPEN as f64),
        "files_open: {:?}",
        open(&agent)
    );
}

fn waiting(agent: &Agent) -> Option<f64> {
    agent.metric("neurallog_agent_files_waiting{component_id=\"app\"}")
}

fn open(agent: &Agent) -> Option<f64> {
    agent.metric("neurallog_agent_files_open{component_id=\"app\"}")
}

/// The paths of the files the source holds open, from `/status`.
pub(super) fn open_paths(agent: &Agent) -> Vec<String> {
    let status: serde_json::Value = serde_json::from_str(&agent.get("/status").1).unwrap();
    let source = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "app")
        .unwrap()
        .clone();
    source["details"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str().map(str::to_owned))
        .collect()
}

fn logs_of(agent: &Agent) -> std::path::PathBuf {
    agent.dir.path().join("logs")
}

/// Bodies the file sink wrote, counted.
fn sink_counts(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in super::records(dir) {
        if let Some(body) = record["body"].as_str() {
            *counts.entry(body.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// Wait until the file sink wrote exactly `expected`, each once.
pub(super) fn wait_for_sink(dir: &Path, expected: &[String], what: &str) {
    let start = std::time::Instant::now();
    while expected.iter().any(|l| !sink_counts(dir).contains_key(l)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: missing {:?}",
            expected
                .iter()
                .filter(|l| !sink_counts(dir).contains_key(*l))
                .take(5)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let counts = sink_counts(dir);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: lines sent twice: {twice:?}");
    assert_eq!(counts.len(), expected.len(), "{what}: unexpected lines");
}

fn write_files(logs: &Path, files: usize, lines: usize) -> Vec<String> {
    let mut expected = Vec::new();
    for f in 0..files {
        let mut text = String::new();
        for n in 0..lines {
            let line = format!("f-{f:03} line {n:02}");
            text.push_str(&line);
            text.push('\n');
            expected.push(line);
        }
        std::fs::write(logs.join(format!("f-{f:03}.log")), text).unwrap();
    }
    expected
}

#[test]
fn an_idle_file_rotated_while_closed_is_drained_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut expected = write_files(&logs, 6, 5);
    let yaml = super::config("*.log", "    max_open_files: 2\n    scan_interval_ms: 500");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for_sink(agent.dir.path(), &expected, "first pass");
    wait_for(
        "f-000.log to be closed idle",
        Duration::from_secs(10),
        || (!open_paths(&agent).iter().any(|p| p.ends_with("f-000.log"))).then_some(()),
    );

    // Written to while closed, then rotated away (to a name the pattern
    // does not match) and replaced: the rest is read from the rotated
    // file, from where it was left.
    let path = logs.join("f-000.log");
    let late: Vec<String> = (0..3).map(|n| format!("f-000 late {n:02}")).collect();
    append(&path, &format!("{}\n", late.join("\n")));
    std::fs::rename(&path, logs.join("f-000.log.1")).unwrap();
    std::fs::write(&path, "f-000 new 00\n").unwrap();
    expected.extend(late);
    expected.push("f-000 new 00".to_owned());
    wait_for_sink(agent.dir.path(), &expected, "after the rotation");
    assert_eq!(
        agent.metric("neurallog_agent_file_rotations_total{component_id=\"app\",kind=\"rename\"}"),
        Some(1.0)
    );
}

#[test]
fn a_restart_over_budget_reads_on_from_checkpoints_without_opening_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut expected = write_files(&logs, 20, 5);
    let yaml = super::config("*.log", "    max_open_files: 4");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for_sink(agent.dir.path(), &expected, "first run");
    assert!(agent.terminate(Duration::from_secs(30)).success());
    let dir = agent.into_dir();

    for f in [0, 10, 19] {
        let line = format!("f-{f:03} after restart");
        append(&logs.join(format!("f-{f:03}.log")), &format!("{line}\n"));
        expected.push(line);
    }
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for_sink(agent.dir.path(), &expected, "after the restart");
    // Files that waited for a descriptor at the first scan are not taken
    // for files rotated while the agent was stopped (and opened past the
    // budget).
    assert_eq!(
        agent.metric("neurallog_agent_file_rotations_total{component_id=\"app\",kind=\"rename\"}"),
        None
    );
    assert!(
        open(&agent).is_some_and(|n| n <= 4.0),
        "files_open: {:?}",
        open(&agent)
    );
}

#[test]
fn a_write_to_an_idle_file_reopens_it_before_the_next_scan() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut expected = write_files(&logs, 4, 3);
    // No rescan during the test: only the filesystem event can tell.
    let yaml = super::config(
        "*.log",
        "    max_open_files: 2\n    scan_interval_ms: 600000",
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for_sink(agent.dir.path(), &expected, "first pass");
    wait_for(
        "f-000.log to be closed idle",
        Duration::from_secs(10),
        || (!open_paths(&agent).iter().any(|p| p.ends_with("f-000.log"))).then_some(()),
    );
    append(&logs.join("f-000.log"), "f-000 written later\n");
    expected.push("f-000 written later".to_owned());
    wait_for_sink(agent.dir.path(), &expected, "after the write");
}
