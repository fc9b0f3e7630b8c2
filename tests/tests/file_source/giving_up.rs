//! What the file source gives up, and that it counts exactly that: a
//! rotated file held past `max_hold_secs`, or past `max_held_bytes` of
//! unread rotated data, while the ingest is down. The counted bytes are
//! the file's size less what was acknowledged; everything not given up
//! still arrives.

use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::logs::SeqLog;
use crate::support::net::free_port;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

/// A file source over `{dir}/logs/app.log` shipped to `endpoint`, with
/// the given hold limits.
fn config(endpoint: &str, limits: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: ['{{dir}}/logs/app.log']
    {limits}
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {endpoint}
    batch: {{max_events: 500, timeout_ms: 100}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 200}}
"
    )
}

fn lost(agent: &Agent, reason: &str) -> f64 {
    agent.metric_sum(
        "neurallog_agent_file_bytes_lost_total",
        &[&format!("reason=\"{reason}\"")],
    )
}

/// Sequence numbers that reached `receiver`.
fn delivered(receiver: &Receiver) -> std::collections::BTreeSet<u64> {
    receiver
        .log_bodies()
        .iter()
        .filter_map(|b| b.strip_prefix("seq=")?.get(..10)?.parse().ok())
        .collect()
}

/// The sizes of the files the source tracks, from `/status`.
fn tracked_sizes(agent: &Agent) -> Vec<u64> {
    let (_, body) = agent.get("/status");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    status["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"] == "app")
        .flat_map(|c| {
            c["details"]["files"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| f["size"].as_u64())
        .collect()
}

fn start(limits: &str) -> (Agent, SeqLog, Receiver) {
    let receiver = Receiver::down(free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = SeqLog::create(&dir.path().join("logs/app.log"));
    let mut agent = Agent::start_in(dir, &config(&receiver.endpoint(), limits), &[]);
    agent.wait_ready();
    (agent, log, receiver)
}

#[test]
fn a_rotated_file_held_past_max_hold_secs_counts_every_unacknowledged_byte() {
    let (agent, mut log, mut receiver) = start("max_hold_secs: 2");
    log.write(5_000);
    wait_for("the ingest to be tried", Duration::from_secs(20), || {
        (agent.metric_sum("neurallog_agent_sink_retries_total", &[]) > 0.0).then_some(())
    });
    let rotated = log.rotate_rename();
    let size = std::fs::metadata(&rotated).unwrap().len();
    let given_up = wait_for(
        "the held file to be given up",
        Duration::from_secs(30),
        || Some(lost(&agent, "max_hold_secs")).filter(|&b| b > 0.0),
    );
    // The ingest never answered: nothing of the file was acknowledged, so
    // all of it is counted, read or not.
    assert_eq!(given_up, size as f64, "bytes counted as given up");
    let (_, metrics) = agent.get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("neurallog_agent_file_bytes_lost_total{")
                && l.contains(&format!("path=\"{}\"", rotated.display()))),
        "the counter names the file where it is now:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("bytes_lost"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The live file is not affected: its lines arrive once the ingest is up.
    let before = log.next;
    log.write(100);
    receiver.resume();
    wait_for("the live file's lines", Duration::from_secs(60), || {
        let seen = delivered(&receiver);
        (before..log.next).all(|s| seen.contains(&s)).then_some(())
    });
    assert_eq!(lost(&agent, "max_hold_secs"), size as f64, "counted once");
}

#[test]
fn rotated_files_over_max_held_bytes_give_up_the_oldest_and_count_it() {
    let (agent, mut log, mut receiver) = start("max_held_bytes: 1000000\n    max_hold_secs: 3600");
    // 20 MB: well over what the pipeline takes in before it blocks (some
    // 25,000 lines), so most of it is still unread when it is rotated away.
    log.write(100_000);
    wait_for("the ingest to be tried", Duration::from_secs(20), || {
        (agent.metric_sum("neurallog_agent_sink_retries_total", &[]) > 0.0).then_some(())
    });
    let oldest = log.rotate_rename();
    let oldest_size = std::fs::metadata(&oldest).unwrap().len();
    let second_from = log.next;
    log.write(1_000); // 200 KB: within the limit on its own
    // Seen at its path before it is rotated too (a file created and rotated
    // away between two looks cannot be found by its pattern).
    wait_for(
        "the second file to be tracked",
        Duration::from_secs(20),
        || tracked_sizes(&agent).contains(&200_000).then_some(()),
    );
    log.rotate_rename();
    log.write(100);
    let given_up = wait_for(
        "the oldest file to be given up",
        Duration::from_secs(30),
        || Some(lost(&agent, "max_held_bytes")).filter(|&b| b > 0.0),
    );
    assert_eq!(given_up, oldest_size as f64, "the oldest file, all of it");

    // What was not given up arrives once the ingest is up.
    receiver.resume();
    wait_for("the newer files' lines", Duration::from_secs(60), || {
        let seen = delivered(&receiver);
        (second_from..log.next)
            .all(|s| seen.contains(&s))
            .then_some(())
    });
    assert_eq!(lost(&agent, "max_held_bytes"), oldest_size as f64);
    assert_eq!(lost(&agent, "max_hold_secs"), 0.0);
}

/// Wait until the saved checkpoint of the one file knows its size.
fn wait_for_saved_size(agent: &Agent, size: u64) {
    let path = agent.data_dir().join("checkpoints/app.json");
    wait_for(
        "the checkpoint to record the size",
        Duration::from_secs(20),
        || {
            let saved: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            saved["files"]
                .as_array()?
                .iter()
                .any(|f| f["size"].as_u64() == Some(size) && f["offset"].as_u64() == Some(0))
                .then_some(())
        },
    );
}

#[test]
fn a_file_gone_or_rewritten_while_the_agent_was_stopped_counts_what_was_undelivered() {
    for (rewrite, reason) in [
        (false, "gone_while_stopped"),
        (true, "rewritten_while_stopped"),
    ] {
        let (agent, mut log, _receiver) = start("");
        log.write(1_000);
        wait_for_saved_size(&agent, 200_000);
        let dir = agent.into_dir(); // kill -9
        if rewrite {
            std::fs::write(&log.path, "a new file at the same path, written anew\n").unwrap();
        } else {
            std::fs::remove_file(&log.path).unwrap();
        }
        let mut agent = Agent::start_in(
            dir,
            &config(&Receiver::down(free_port()).endpoint(), ""),
            &[],
        );
        agent.wait_ready();
        let lost_bytes = wait_for("the loss to be counted", Duration::from_secs(20), || {
            Some(lost(&agent, reason)).filter(|&b| b > 0.0)
        });
        assert_eq!(
            lost_bytes, 200_000.0,
            "{reason}: nothing of the file was delivered"
        );
    }
}
