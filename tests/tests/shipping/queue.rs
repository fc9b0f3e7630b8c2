//! The disk queue with the real binary: `kill -9` while metrics wait on
//! disk for a receiver that is down loses none of them, a damaged queue
//! file is skipped and counted, never a crash, and the queue of a sink
//! renamed away is reported, and sent once the name comes back.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::sink_metric;
use crate::support::agent::Agent;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

fn config(port: u16, interval_secs: u64, source: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  {source}:
    type: internal_metrics
    interval_secs: {interval_secs}
sinks:
  ingest:
    type: otlp_http
    inputs: [{source}]
    endpoint: http://127.0.0.1:{port}
    retry: {{initial_backoff_ms: 100, max_backoff_ms: 1000}}
    queue: {{fsync: never}}
"
    )
}

/// Data points received whose time is before `before` (unix nanos).
fn points_before(receiver: &Receiver, before: u64) -> usize {
    let mut n = 0;
    for request in receiver.metrics() {
        for rm in request.resource_metrics {
            for sm in rm.scope_metrics {
                for metric in sm.metrics {
                    let times: Vec<u64> = match metric.data {
                        Some(Data::Gauge(g)) => {
                            g.data_points.iter().map(|p| p.time_unix_nano).collect()
                        }
                        Some(Data::Sum(s)) => {
                            s.data_points.iter().map(|p| p.time_unix_nano).collect()
                        }
                        _ => Vec::new(),
                    };
                    n += times.iter().filter(|t| **t < before).count();
                }
            }
        }
    }
    n
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Run an agent against a receiver that is down until the queue holds
/// several snapshots, stop its producer (reload to a source that ticks
/// once), and return it with the number of events its sink queued.
fn queue_up(port: u16) -> (Agent, f64) {
    let mut agent = Agent::start(&config(port, 1, "fast"));
    agent.wait_ready();
    wait_for("snapshots queued", Duration::from_secs(30), || {
        (sink_metric(&agent, "neurallog_agent_sink_queue_records", &[]) >= 5.0).then_some(())
    });
    // Replace the 1 s source by one that snapshots once, so that the count
    // of queued events stops moving.
    agent.write_config(&config(port, 3600, "once"));
    agent.signal("HUP");
    let received = "neurallog_agent_component_received_events_total{component_id=\"ingest\",component_kind=\"sink\",component_type=\"otlp_http\"}";
    let mut last = -1.0;
    let queued = wait_for("the queue to stop growing", Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(1500));
        let gone = agent
            .metric("neurallog_agent_component_sent_events_total{component_id=\"fast\",component_kind=\"source\",component_type=\"internal_metrics\"}")
            .is_none();
        let now = agent.metric(received).unwrap_or(0.0);
        let settled = gone && now == last && now > 0.0;
        last = now;
        settled.then_some(now)
    });
    (agent, queued)
}

#[test]
fn kill_9_with_metrics_queued_loses_none() {
    let port = crate::support::net::free_port();
    let mut receiver = Receiver::down(port);
    let (agent, queued) = queue_up(port);
    assert_eq!(
        sink_metric(&agent, "neurallog_agent_component_sent_events_total", &[]),
        0.0
    );
    let dir = agent.into_dir(); // SIGKILL
    let killed_at = now_nanos();

    receiver.resume();
    let mut agent = Agent::start_in(dir, &config(port, 3600, "once"), &[]);
    agent.wait_ready();
    wait_for(
        "every queued point delivered",
        Duration::from_secs(30),
        || (points_before(&receiver, killed_at) as f64 >= queued).then_some(()),
    );
    // Give a point sent twice (replayed from the queue) a second to show up
    // before counting: the count must be exact, not merely enough.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        points_before(&receiver, killed_at) as f64,
        queued,
        "every data point queued before the kill arrives, once"
    );
    wait_for("the queue to drain", Duration::from_secs(10), || {
        (sink_metric(&agent, "neurallog_agent_sink_queue_records", &[]) == 0.0).then_some(())
    });
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_queue_corrupt_records_total",
            &[]
        ),
        0.0
    );
    assert_eq!(
        sink_metric(
            &agent,
            "neurallog_agent_sink_queue_dropped_records_total",
            &[]
        ),
        0.0
    );
}

#[test]
fn damaged_queue_is_skipped_and_counted() {
    let port = crate::support::net::free_port();
    let mut receiver = Receiver::down(port);
    let (agent, queued) = queue_up(port);
    let dir = agent.into_dir();
    let killed_at = now_nanos();

    // Flip a byte in the middle of the oldest segment and tear the end of
    // the newest, as a crash during a write would.
    let queue = dir.path().join("data/queues/ingest");
    let mut segments: Vec<_> = std::fs::read_dir(&queue)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg2"))
        .filter(|p| std::fs::metadata(p).unwrap().len() > 100)
        .collect();
    segments.sort();
    assert!(!segments.is_empty());
    let mut oldest = std::fs::read(&segments[0]).unwrap();
    let mid = oldest.len() / 2;
    oldest[mid] ^= 0x55;
    std::fs::write(&segments[0], &oldest).unwrap();
    let newest = segments.last().unwrap();
    let len = std::fs::metadata(newest).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(newest)
        .unwrap();
    file.set_len(len - 7).unwrap();

    receiver.resume();
    let mut agent = Agent::start_in(dir, &config(port, 3600, "once"), &[]);
    agent.wait_ready();
    wait_for("the queue to drain", Duration::from_secs(30), || {
        (sink_metric(&agent, "neurallog_agent_sink_queue_records", &[]) == 0.0
            && points_before(&receiver, killed_at) > 0)
            .then_some(())
    });
    let corrupt = sink_metric(
        &agent,
        "neurallog_agent_sink_queue_corrupt_records_total",
        &[],
    );
    assert!(
        corrupt >= 2.0,
        "the flipped and the torn record are counted: {corrupt}"
    );
    let delivered = points_before(&receiver, killed_at) as f64;
    assert!(
        delivered > 0.0 && delivered < queued,
        "{delivered} of {queued}: the rest survived"
    );
}

#[test]
fn a_queue_its_sink_was_renamed_away_from_is_reported_and_sent_when_the_name_returns() {
    let port = crate::support::net::free_port();
    let mut receiver = Receiver::down(port);
    let (agent, queued) = queue_up(port);
    let renamed_at = now_nanos();

    // Renamed: the new sink has a queue of its own; the old one is left
    // with what it holds, and the agent says so.
    // The old sink holds its batches until the deadline (the receiver is
    // down): a short one keeps the reload short.
    let renamed = config(port, 3600, "once").replace("  ingest:\n", "  primary:\n")
        + "shutdown_timeout_secs: 2\n";
    agent.write_config(&renamed);
    agent.signal("HUP");
    let warning = wait_for("the unread queue reported", Duration::from_secs(60), || {
        agent
            .stderr()
            .lines()
            .find(|line| line.contains("A disk queue no configured sink reads"))
            .map(str::to_owned)
    });
    assert!(warning.contains("sink=ingest"), "{warning}");
    assert!(
        warning.contains("/data/queues/ingest"),
        "names the directory: {warning}"
    );
    assert!(!warning.contains("records=0"), "{warning}");

    // The name comes back, and with it what the queue held.
    receiver.resume();
    agent.write_config(&config(port, 3600, "once"));
    agent.signal("HUP");
    wait_for(
        "every point queued before the rename delivered",
        Duration::from_secs(30),
        || (points_before(&receiver, renamed_at) as f64 >= queued).then_some(()),
    );
}
