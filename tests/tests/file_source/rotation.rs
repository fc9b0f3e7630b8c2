//! Rotation (rename, copytruncate, truncate in place) at 10k lines/s or
//! more, each with a kill -9 and a restart in the middle: every sequence
//! number arrives; a line arrives twice only if it lay after the checkpoint
//! saved before the kill (the README's promise), and no byte is counted
//! lost.

use std::time::Duration;

use super::{assert_duplicates_within, config, out, unsaved_after_kill, wait_for_seqs};
use crate::support::agent::Agent;
use crate::support::logs::{SeqLog, assert_complete, seqs_in};

#[test]
fn rename_rotation_with_kill9_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    let yaml = config("app.log", "");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();

    log.write_at_rate(10_000, 20_000);
    log.rotate_rename();
    log.write_at_rate(5_000, 20_000);
    let dir = agent.into_dir(); // kill -9 while lines are in flight
    let unsaved = unsaved_after_kill(dir.path());

    // While the agent is down: another rotation, more lines.
    log.write(3_000);
    log.rotate_rename();
    log.write(2_000);

    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    log.write_at_rate(10_000, 20_000);
    log.rotate_rename();
    log.write(1_000);

    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(60));
    let seen = seqs_in(&out(agent.dir.path()));
    let duplicates = assert_complete(&seen, log.next);
    assert_duplicates_within(&seen, &unsaved);
    eprintln!(
        "rename rotation: {} lines, {duplicates} duplicates after kill -9",
        log.next
    );
    let rotations =
        agent.metric("neurallog_agent_file_rotations_total{component_id=\"app\",kind=\"rename\"}");
    assert!(rotations >= Some(1.0), "rotations counted: {rotations:?}");
    assert_eq!(lost_bytes(&agent), 0.0);
}

#[test]
fn copytruncate_with_kill9_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    let yaml = config("app.log", "");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();

    log.write_at_rate(10_000, 20_000);
    // No waiting for the agent to catch up: what it has not read yet is in
    // the copy.
    log.rotate_copytruncate();
    log.write_at_rate(5_000, 20_000);
    // kill -9 once the agent has begun on the truncated file's new content
    // (a kill in the instant between a truncation and its detection loses
    // what only the copy holds: copytruncate's own race).
    wait_for_seqs(agent.dir.path(), 10_001, Duration::from_secs(30));
    let dir = agent.into_dir();
    let unsaved = unsaved_after_kill(dir.path());

    log.write(3_000);
    log.rotate_copytruncate();
    log.write(2_000);

    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    log.write_at_rate(10_000, 20_000);
    log.rotate_copytruncate();
    log.write(1_000);

    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(60));
    let seen = seqs_in(&out(agent.dir.path()));
    let duplicates = assert_complete(&seen, log.next);
    assert_duplicates_within(&seen, &unsaved);
    eprintln!(
        "copytruncate: {} lines, {duplicates} duplicates after kill -9",
        log.next
    );
    assert_eq!(lost_bytes(&agent), 0.0);
}

#[test]
fn truncate_in_place_with_kill9_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    let yaml = config("app.log", "");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();

    log.write_at_rate(10_000, 20_000);
    // Truncation in place destroys what was not read, so the application
    // truncates once the agent has caught up.
    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(30));
    log.truncate();
    log.write_at_rate(5_000, 20_000);
    let dir = agent.into_dir(); // kill -9 while reading after the truncation
    let mut unsaved = unsaved_after_kill(dir.path());

    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(30));
    let dir = agent.into_dir();
    unsaved.extend(unsaved_after_kill(dir.path()));
    // While down: truncated and rewritten past the old checkpoint; only the
    // first bytes tell the new content from the old.
    log.truncate();
    log.write(20_000);

    let agent = Agent::start_in(dir, &yaml, &[]);
    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(60));
    let seen = seqs_in(&out(agent.dir.path()));
    let duplicates = assert_complete(&seen, log.next);
    assert_duplicates_within(&seen, &unsaved);
    eprintln!(
        "truncate in place: {} lines, {duplicates} duplicates after kill -9",
        log.next
    );
    // The truncations came once the agent had read everything: nothing
    // was given up. (The rewrite while it was down counts what lay past
    // the checkpoint saved before the kill as `rewritten_while_stopped`:
    // delivered or not, the agent cannot tell.)
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_file_bytes_lost_total",
            &["reason=\"truncated\""]
        ),
        0.0
    );
}

#[test]
fn rotated_files_matching_the_pattern_are_not_read_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    let mut agent = Agent::start_in(dir, &config("app.log*", ""), &[]);
    agent.wait_ready();
    for _ in 0..3 {
        log.write(5_000);
        log.rotate_rename();
    }
    log.write(1_000);
    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(1500));
    let duplicates = assert_complete(&seqs_in(&out(agent.dir.path())), log.next);
    assert_eq!(
        duplicates, 0,
        "a rotated file is the same file under a new name"
    );
}

fn lost_bytes(agent: &Agent) -> f64 {
    agent.metric_sum("neurallog_agent_file_bytes_lost_total", &[])
}

#[test]
fn copytruncate_where_the_pattern_matches_the_copy_sends_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let mut log = SeqLog::create(&dir.path().join("logs/app.log"));
    // `app.log*` matches the copies `app.log.1`, `app.log.2` too, as
    // `/var/log/app/*` patterns do.
    let mut agent = Agent::start_in(dir, &config("app.log*", ""), &[]);
    agent.wait_ready();
    for round in 0..3 {
        log.write_at_rate(5_000, 20_000);
        if round == 1 {
            // Once copied before the agent caught up: the copy holds what
            // was not read yet.
            log.rotate_copytruncate();
        } else {
            wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(30));
            log.rotate_copytruncate();
        }
    }
    log.write(1_000);
    wait_for_seqs(agent.dir.path(), log.next, Duration::from_secs(30));
    // Two scans' time for a copy to be (wrongly) read from its start.
    std::thread::sleep(Duration::from_secs(3));
    let duplicates = assert_complete(&seqs_in(&out(agent.dir.path())), log.next);
    assert_eq!(duplicates, 0, "a copy is the same content under a new name");
    assert_eq!(lost_bytes(&agent), 0.0);
}
