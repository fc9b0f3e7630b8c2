//! A line the runtime split across kubelet's rotation (its first piece,
//! `P`, ends the rotated file; its end, `F`, opens the next), with the
//! agent restarted, the rotated file compressed while it was stopped, and
//! its batch dropped by a reload: every line arrives whole, and no body
//! joins two lines.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::POD_DIR;
use crate::support::agent::Agent;
use crate::support::receiver::{Fault, Receiver};
use crate::support::wait_for;

fn config(endpoint: &str, timeout_ms: u64) -> String {
    format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
sources:
  pods:
    type: kubernetes_logs
    pods_dir: {{dir}}/pods
    read_gzip: true
    kubelet:
      enabled: false
sinks:
  ingest:
    type: otlp_http
    inputs: [pods]
    endpoint: {endpoint}
    batch: {{timeout_ms: {timeout_ms}}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 500}}
"
    )
}

/// The body of line `n`.
fn body(n: u32) -> String {
    format!("line {n:04} of the web container")
}

/// Line `n` as containerd writes it, stamped `n` ms after 10:00.
fn cri(n: u32) -> String {
    format!(
        "2026-12-06T10:00:{:02}.{:03}000000Z stdout F {}\n",
        n / 1000,
        n % 1000,
        body(n)
    )
}

/// Line `n` cut in two: its first piece, and its end, stamped 1 µs later
/// (written into the next file).
fn cri_split(n: u32) -> (String, String) {
    let text = body(n);
    let (start, end) = text.split_at(9);
    let stamp = format!("2026-12-06T10:00:{:02}.{:03}000", n / 1000, n % 1000);
    (
        format!("{stamp}000Z stdout P {start}\n"),
        format!("{stamp}001Z stdout F {end}\n"),
    )
}

fn cri_lines(range: std::ops::RangeInclusive<u32>) -> String {
    range.map(cri).collect()
}

/// A data directory with the web container's log directory made in it:
/// the directory, the container's directory and its live log.
fn web_container() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("pods").join(POD_DIR).join("web");
    std::fs::create_dir_all(&web).unwrap();
    let live = web.join("0.log");
    (dir, web, live)
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// kubelet's rotation: the live file renamed with a time stamp `stamp`.
fn rotate(container: &Path, stamp: &str) -> PathBuf {
    let rotated = container.join(format!("0.log.{stamp}"));
    std::fs::rename(container.join("0.log"), &rotated).unwrap();
    rotated
}

/// kubelet's compression of a rotated file: a `.gz` beside it, the
/// original deleted.
fn compress(path: &Path) {
    let gz = std::fs::File::create(format!("{}.gz", path.display())).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    encoder.write_all(&std::fs::read(path).unwrap()).unwrap();
    encoder.finish().unwrap();
    std::fs::remove_file(path).unwrap();
}

/// How often each body arrived at `receiver`, once lines `1..=last` all
/// did (or 30 s passed). Panics on a body that is no line.
fn arrived(receiver: &Receiver, last: u32) -> HashMap<String, usize> {
    let lines: HashSet<String> = (1..=last).map(body).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for body in receiver.log_bodies() {
            *counts.entry(body).or_default() += 1;
        }
        let strange: Vec<&String> = counts.keys().filter(|b| !lines.contains(*b)).collect();
        assert!(strange.is_empty(), "bodies that are no line: {strange:?}");
        let missing: Vec<&String> = lines.iter().filter(|l| !counts.contains_key(*l)).collect();
        if missing.is_empty() {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {last} lines never arrived, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The agent stops; the rotated file holding the first piece of line 157
/// is compressed while it is stopped, and the file after it, which holds
/// the line's end and was read on to line 170, got lines 171–180 and was
/// rotated too. Restarted, the agent goes on in the `.gz` from where the
/// rotated file stopped, at its end. Read again from its start, its last
/// piece, the start of 157, was joined to line 171, the first line read
/// on in the next file (chaos seed 906).
#[test]
fn a_rotation_compressed_while_the_agent_was_stopped_is_not_read_again() {
    let receiver = Receiver::start();
    let yaml = config(&receiver.endpoint(), 100);
    let (dir, web, live) = web_container();
    let (start, end) = cri_split(157);
    append(&live, &(cri_lines(1..=156) + &start));
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    arrived_up_to(&receiver, 156);
    agent.terminate(Duration::from_secs(10));

    // Rotated while the agent is stopped.
    let first = rotate(&web, "20261206-100001");
    append(&live, &(end + &cri_lines(158..=170)));
    let mut agent = Agent::start_in(agent.into_dir(), &yaml, &[]);
    agent.wait_ready();
    let counts = arrived(&receiver, 170);
    assert_eq!(
        counts[&body(157)],
        1,
        "line 157, joined across the rotation"
    );
    agent.terminate(Duration::from_secs(10));

    // kubelet's next rotation, while the agent is stopped: the first
    // rotation compressed, the live file rotated after lines 171–180.
    compress(&first);
    append(&live, &cri_lines(171..=180));
    rotate(&web, "20261206-100002");
    append(&live, &cri_lines(181..=190));
    let mut agent = Agent::start_in(agent.into_dir(), &yaml, &[]);
    agent.wait_ready();
    let counts = arrived(&receiver, 190);
    let twice: Vec<&String> = (1..=156)
        .map(body)
        .filter_map(|b| {
            counts
                .get_key_value(&b)
                .filter(|(_, n)| **n > 1)
                .map(|(b, _)| b)
        })
        .collect();
    assert!(
        twice.is_empty(),
        "the `.gz` was read again: {} lines twice, e.g. {:?}",
        twice.len(),
        twice.first()
    );
    agent.terminate(Duration::from_secs(10));
}

/// Lines `1..=last` all arrived (the first piece of the next line, held
/// for its end, not yet).
fn arrived_up_to(receiver: &Receiver, last: u32) {
    let counts = arrived(receiver, last);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

/// The batch with line 57, joined across the rotation, is in flight to a
/// slow ingest when a reload replaces the sink: the sink gives it up at
/// its shutdown deadline, undelivered, and the source reads both files
/// again from before it. The two pieces are joined again: the next file,
/// read again from its start, opens with the line's end. They came out
/// apart, `line 0057` and ` of the web container`, when the handler still
/// took the next file as read.
#[test]
fn a_line_split_across_a_rotation_is_whole_when_a_reload_drops_its_batch() {
    let receiver = Receiver::start();
    let (dir, web, live) = web_container();
    let (start, end) = cri_split(57);
    append(&live, &(cri_lines(1..=56) + &start));
    let mut agent = Agent::start_in(dir, &config(&receiver.endpoint(), 100), &[]);
    agent.wait_ready();
    arrived_up_to(&receiver, 56);

    receiver.set_fault(Fault::Delay(Duration::from_millis(4000)));
    rotate(&web, "20261206-100001");
    append(&live, &(end + &cri_lines(58..=60)));
    // Once the source has handed lines 57–60 on, their batch is the sink's
    // (sent, or about to be after its 100 ms batch timeout).
    wait_for(
        "lines 57–60 handed to the sink",
        Duration::from_secs(20),
        || {
            let sent = agent.metric_sum(
                "neurallog_agent_component_sent_events_total",
                &["component_id=\"pods\""],
            );
            (sent >= 60.0).then_some(())
        },
    );
    std::thread::sleep(Duration::from_millis(400));
    agent.write_config(&config(&receiver.endpoint(), 150));
    agent.signal("HUP");
    std::thread::sleep(Duration::from_millis(3000));
    receiver.set_fault(Fault::None);
    let counts = arrived(&receiver, 60);
    let rewinds = agent.metric_sum("neurallog_agent_file_rewinds_total", &[]);
    assert!(rewinds >= 1.0, "the batch was never given up: {counts:?}");
    agent.terminate(Duration::from_secs(10));
}

/// Faults combined: every line is split in two pieces (`P`, `F`), the
/// ingest fails four times for 2 s while more lines are written than the
/// pipeline holds, and the container's log rotates during an outage. The
/// source, waiting on the full pipeline longer than its partial-line
/// timeout (300 ms here) with a first piece read and its end not yet,
/// sent the piece alone and its end as a line of its own (chaos seed
/// 2402; on the agent of `1bf8abd`: `bodies that are no line: ["line
/// 8092", " of the web container", ...]`). Every line arrives whole.
#[test]
fn split_lines_stay_whole_through_outages_longer_than_the_partial_timeout_and_a_rotation() {
    let receiver = Receiver::start();
    let (dir, web, live) = web_container();
    let yaml = config(&receiver.endpoint(), 100).replace(
        "    read_gzip: true\n",
        "    read_gzip: true\n    unterminated_timeout_ms: 300\n",
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    let split = |range: std::ops::RangeInclusive<u32>| -> String {
        range
            .map(|n| {
                let (start, end) = cri_split(n);
                start + &end
            })
            .collect()
    };
    // Below 60,000 lines in all: `cri_split` stamps line n at n ms.
    let per_round = 14_000;
    for round in 0..4u32 {
        receiver.set_fault(Fault::Status {
            status: 503,
            retry_after: None,
            until: Instant::now() + Duration::from_secs(2),
        });
        append(
            &live,
            &split(round * per_round + 1..=(round + 1) * per_round),
        );
        if round == 1 {
            rotate(&web, "20261206-100001");
        }
        std::thread::sleep(Duration::from_millis(2_500));
    }
    // Panics on a body that is no line: a piece alone.
    arrived(&receiver, 4 * per_round);
    agent.terminate(Duration::from_secs(10));
}
