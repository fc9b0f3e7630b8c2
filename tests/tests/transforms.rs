//! Transforms with the real binary: the recorded Apache access log
//! (`tests/fixtures/syslog`, see SOURCES.md) parsed by the
//! `apache_combined` preset and filtered, checked field by field against a
//! golden file and, over OTLP, by the `opentelemetry-proto` Python decoder.
//! Records dropped on purpose are acknowledged (the checkpoint moves past
//! them); nothing is lost across a restart or a reload that changes the
//! filter while the ingest is down.

mod log_to_metric;
mod redact;
mod route;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::shipping::decode::{attrs, get, python_decode};
use crate::support::agent::Agent;
use crate::support::receiver::{Fault, Receiver};
use crate::support::{fixtures, wait_for};

fn access_log() -> Vec<String> {
    let path = fixtures().join("syslog/elastic-examples_apache_access_first2000.log");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn golden() -> PathBuf {
    fixtures().join("golden/transforms/apache_access.expected.jsonl")
}

/// The response status of an access line, read the way `awk '{print $9}'`
/// would.
fn status(line: &str) -> u16 {
    line.split(' ').nth(8).unwrap().parse().unwrap()
}

/// The time of an access line of this log (all in May 2015, `+0000`), in
/// nanoseconds since the epoch.
fn time_of(line: &str) -> u64 {
    let start = line.find('[').unwrap() + 1;
    let stamp = &line[start..start + 20]; // 17/May/2015:10:05:03
    assert_eq!(&stamp[2..12], "/May/2015:", "{line}");
    let num = |r: std::ops::Range<usize>| stamp[r].parse::<u64>().unwrap();
    let may_1_2015 = 1_430_438_400;
    (may_1_2015 + (num(0..2) - 1) * 86_400 + num(12..14) * 3600 + num(15..17) * 60 + num(18..20))
        * 1_000_000_000
}

fn write_lines(path: &Path, lines: &[String]) {
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

/// File source → parse → filter → `sink`.
fn config(filter: &str, sink: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
sources:
  apache:
    type: file
    include: ['{{dir}}/logs/*.log']
    checkpoint_interval_ms: 100
transforms:
  access:
    type: parse
    inputs: [apache]
    format: apache_combined
  interesting:
    type: filter
    inputs: [access]
{filter}
sinks:
{sink}
"
    )
}

fn otlp_sink(endpoint: &str) -> String {
    format!(
        "  ingest:
    type: otlp_http
    inputs: [interesting]
    endpoint: {endpoint}
    batch: {{timeout_ms: 100}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 500}}"
    )
}

fn start(yaml: &str, lines: &[String]) -> (Agent, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/access.log");
    write_lines(&log, lines);
    let mut agent = Agent::start_in(dir, yaml, &[]);
    agent.wait_ready();
    (agent, log)
}

/// The committed offset of `log` in the source's checkpoint file.
fn checkpoint(agent: &Agent) -> Option<u64> {
    let path = agent.data_dir().join("checkpoints/apache.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    doc["files"]
        .as_array()?
        .iter()
        .filter_map(|f| f["offset"].as_u64())
        .max()
}

fn wait_for_checkpoint_at_end(agent: &Agent, log: &Path) {
    let size = std::fs::metadata(log).unwrap().len();
    wait_for(
        "the checkpoint at the end of the file",
        Duration::from_secs(30),
        || (checkpoint(agent) == Some(size)).then_some(()),
    );
}

/// What the golden file pins down of a record written by the file sink.
fn project(record: &Value) -> Value {
    let mut attributes = record["attributes"].clone();
    if let Some(map) = attributes.as_object_mut() {
        map.retain(|key, _| !key.starts_with("log.file."));
    }
    serde_json::json!({
        "timestamp": record["timestamp"],
        "severity_number": record["severity_number"],
        "severity_text": record["severity_text"],
        "attributes": attributes,
    })
}

#[test]
fn the_real_access_log_parsed_field_by_field_matches_the_golden_file() {
    let lines = access_log();
    let yaml = config(
        "    drop: { field: body, exists: false }",
        "  out:\n    type: file\n    path: '{dir}/out.jsonl'\n    inputs: [interesting]",
    );
    let (agent, log) = start(&yaml, &lines);
    let out = agent.dir.path().join("out.jsonl");
    let read = || -> Vec<Value> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    wait_for(
        "every record in the file sink",
        Duration::from_secs(30),
        || (read().len() >= lines.len()).then_some(()),
    );
    wait_for_checkpoint_at_end(&agent, &log);
    let records = read();
    assert_eq!(records.len(), lines.len());
    for (record, line) in records.iter().zip(&lines) {
        assert_eq!(
            record["body"],
            line.as_str(),
            "the body stays the line, in order"
        );
    }
    let got: Vec<Value> = records.iter().map(project).collect();
    let expected: Vec<Value> = std::fs::read_to_string(golden())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len());
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {}: {}", i + 1, lines[i]);
    }
}

#[test]
fn parsed_and_filtered_records_decode_with_severity_time_and_attributes() {
    let lines = access_log();
    let receiver = Receiver::start();
    let yaml = config(
        "    drop: { field: attributes.http.response.status_code, lt: 300 }",
        &otlp_sink(&receiver.endpoint()),
    );
    let kept: Vec<&String> = lines.iter().filter(|l| status(l) >= 300).collect();
    // 62 redirects, 37 not-modified and 35 not-found (awk '{print $9}').
    assert_eq!(kept.len(), 134);
    let (agent, log) = start(&yaml, &lines);
    wait_for(
        "the kept records at the receiver",
        Duration::from_secs(30),
        || (receiver.log_bodies().len() >= kept.len()).then_some(()),
    );
    // The last line is a 200, dropped: the checkpoint reaching the end
    // shows dropped records are acknowledged, not held.
    assert_eq!(status(lines.last().unwrap()), 200);
    wait_for_checkpoint_at_end(&agent, &log);

    let work = tempfile::tempdir().unwrap();
    let decoded = python_decode("logs", &receiver, "/v1/logs", work.path());
    // One record as the decoder printed it, for the eye (`--nocapture`).
    eprintln!(
        "decoded: {:#}",
        decoded[0]["resource_logs"][0]["scope_logs"][0]["log_records"][0]
    );
    let mut seen = Vec::new();
    for request in &decoded {
        for resource_logs in request["resource_logs"].as_array().unwrap() {
            for scope in resource_logs["scope_logs"].as_array().unwrap() {
                for record in scope["log_records"].as_array().unwrap() {
                    let body = record["body"]["string_value"].as_str().unwrap().to_owned();
                    let attributes = attrs(&record["attributes"]);
                    let code = status(&body);
                    assert_eq!(
                        get(&attributes, "http.response.status_code"),
                        Some(code.to_string().as_str())
                    );
                    assert_eq!(
                        record["attributes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|kv| kv["key"] == "http.response.status_code")
                            .map(|kv| kv["value"]["int_value"].clone()),
                        Some(Value::from(code.to_string())),
                        "the status is an integer attribute"
                    );
                    // The decoder names the enum value (WARN is 13, INFO 9).
                    let (number, text) = if code >= 400 {
                        ("SEVERITY_NUMBER_WARN", "WARN")
                    } else {
                        ("SEVERITY_NUMBER_INFO", "INFO")
                    };
                    assert_eq!(record["severity_number"], number, "{body}");
                    assert_eq!(record["severity_text"], text, "{body}");
                    assert_eq!(
                        record["time_unix_nano"],
                        time_of(&body).to_string(),
                        "{body}"
                    );
                    assert_eq!(
                        get(&attributes, "http.request.method"),
                        body.split('"').nth(1).and_then(|r| r.split(' ').next())
                    );
                    assert_eq!(get(&attributes, "client.address"), body.split(' ').next());
                    assert_eq!(get(&attributes, "log.file.name"), Some("access.log"));
                    seen.push(body);
                }
            }
        }
    }
    seen.sort();
    let mut want: Vec<String> = kept.into_iter().cloned().collect();
    want.sort();
    assert_eq!(seen, want, "exactly the kept records, once each");

    let series = |name: &str| agent.metric_sum(name, &["component_id=\"interesting\""]);
    assert_eq!(
        series("neurallog_agent_transform_dropped_events_total"),
        1866.0
    );
    assert_eq!(
        series("neurallog_agent_component_received_events_total"),
        2000.0
    );
    assert_eq!(series("neurallog_agent_component_sent_events_total"), 134.0);
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_transform_parse_failures_total",
            &["component_id=\"access\""]
        ),
        0.0
    );
}

/// The bodies that arrived, each once at least; panics after `timeout` if
/// any of `want` is missing.
fn expect_arrived(receiver: &Receiver, want: &[&String], timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let bodies = receiver.log_bodies();
        let missing: Vec<&&String> = want.iter().filter(|l| !bodies.contains(l)).collect();
        if missing.is_empty() {
            return bodies;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} records never arrived, e.g. {:?}",
            missing.len(),
            want.len(),
            missing[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_restart_and_a_filter_reload_while_the_ingest_is_down_lose_nothing() {
    let lines = access_log();
    let receiver = Receiver::start();
    let errors_only = "    keep: { field: attributes.http.response.status_code, gt: 399 }";
    let not_ok = "    keep: { field: attributes.http.response.status_code, gt: 299 }";
    let (before_restart, rest) = lines.split_at(800);
    let (after_restart, rest) = rest.split_at(600);
    let (during_outage, after_reload) = rest.split_at(300);

    let (mut agent, log) = start(
        &config(errors_only, &otlp_sink(&receiver.endpoint())),
        before_restart,
    );
    let want: Vec<&String> = before_restart.iter().filter(|l| status(l) >= 400).collect();
    expect_arrived(&receiver, &want, Duration::from_secs(30));
    wait_for_checkpoint_at_end(&agent, &log);

    // 1. A restart resumes where the checkpoint is.
    agent.terminate(Duration::from_secs(10));
    let dir = agent.into_dir();
    write_lines(&log, after_restart);
    let mut agent = Agent::start_in(
        dir,
        &config(errors_only, &otlp_sink(&receiver.endpoint())),
        &[],
    );
    agent.wait_ready();
    let want: Vec<&String> = before_restart
        .iter()
        .chain(after_restart)
        .filter(|l| status(l) >= 400)
        .collect();
    expect_arrived(&receiver, &want, Duration::from_secs(30));
    wait_for_checkpoint_at_end(&agent, &log);

    // 2. The ingest goes down with records in flight, and the filter
    //    changes meanwhile.
    receiver.set_fault(Fault::Status {
        status: 503,
        retry_after: None,
        until: Instant::now() + Duration::from_secs(3600),
    });
    write_lines(&log, during_outage);
    wait_for("the outage to be retried", Duration::from_secs(20), || {
        (agent.metric_sum("neurallog_agent_sink_retries_total", &[]) > 0.0).then_some(())
    });
    agent.write_config(&config(not_ok, &otlp_sink(&receiver.endpoint())));
    agent.signal("HUP");
    wait_for("the reload", Duration::from_secs(20), || {
        (agent.metric_sum(
            "neurallog_agent_config_reloads_total",
            &["result=\"success\""],
        ) >= 1.0)
            .then_some(())
    });
    write_lines(&log, after_reload);
    receiver.set_fault(Fault::None);

    let mut want: Vec<&String> = before_restart
        .iter()
        .chain(after_restart)
        .chain(during_outage)
        .filter(|l| status(l) >= 400)
        .collect();
    // Read after the reload: the new filter's choice.
    let redirects: Vec<&String> = after_reload
        .iter()
        .filter(|l| (300..400).contains(&status(l)))
        .collect();
    assert!(!redirects.is_empty());
    want.extend(after_reload.iter().filter(|l| status(l) >= 300));
    let bodies = expect_arrived(&receiver, &want, Duration::from_secs(60));
    wait_for_checkpoint_at_end(&agent, &log);
    // What the first filter dropped was acknowledged, never sent again.
    let early_redirects = before_restart
        .iter()
        .chain(after_restart)
        .filter(|l| (300..400).contains(&status(l)))
        .filter(|l| bodies.contains(l))
        .count();
    assert_eq!(early_redirects, 0);
    assert_eq!(
        agent.metric_sum("neurallog_agent_file_bytes_lost_total", &[]),
        0.0
    );
}
