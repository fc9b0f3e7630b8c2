//! log_to_metric with a real Prometheus (Debian's package) scraping the
//! agent and the platform's alert rules (`seed-alerts.yaml`, loaded
//! unchanged): access lines with 5xx statuses and failed sshd logins,
//! written by the test, become `http_requests_total` and
//! `auth_failed_attempts`, and `HighErrorRate` and
//! `SuspiciousLoginActivity` go pending. Every line is synthetic, made up
//! here: no real traffic or login is recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::metrics::{samples, seed_alerts};
use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::wait_for;

use super::write_lines;

const AGENT: &str = "
data_dir: {data_dir}
sources:
  apache:
    type: file
    include: ['{dir}/logs/access.log']
  auth:
    type: file
    include: ['{dir}/logs/auth.log']
transforms:
  access:
    type: parse
    inputs: [apache]
    format: apache_combined
  requests:
    type: log_to_metric
    inputs: [access]
    metrics:
      - type: counter
        name: http_requests_total
        labels:
          status: attributes.http.response.status_code
          method: attributes.http.request.method
  auth_lines:
    type: parse
    inputs: [auth]
    format: auth
  logins:
    type: log_to_metric
    inputs: [auth_lines]
    metrics:
      - type: counter
        name: auth_failed_attempts
        field: attributes.ssh.attempts
        condition: { field: attributes.ssh.event, equals: failed }
sinks:
  metrics:
    type: prometheus
    inputs: [requests, logins]
";

/// Synthetic access lines: `errors` 503s and `ok` 200s.
fn access_lines(errors: usize, ok: usize) -> Vec<String> {
    let line = |status: u16, i: usize| {
        format!(
            r#"203.0.113.{} - - [05/Dec/2026:10:00:00 +0000] "GET /api/orders/{i} HTTP/1.1" {status} 162 "-" "synthetic-load/1.0""#,
            i % 250
        )
    };
    (0..errors)
        .map(|i| line(503, i))
        .chain((0..ok).map(|i| line(200, i)))
        .collect()
}

/// Synthetic sshd lines: `n` failed logins, the same again as rsyslog
/// writes three on one connection (`message repeated 3 times`), and one
/// accepted (not counted): `n + 3` failed in all.
fn auth_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "Dec  5 10:00:00 web-1 sshd[{}]: Failed password for invalid user admin{i} from 198.51.100.{} port {} ssh2",
                4000 + i,
                i % 250,
                40000 + i
            )
        })
        .chain([
            "Dec  5 10:00:01 web-1 sshd[3998]: message repeated 3 times: [ Failed password for root from 198.51.100.77 port 39999 ssh2]".to_owned(),
            "Dec  5 10:00:01 web-1 sshd[3999]: Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:synthetic".to_owned(),
        ])
        .collect()
}

/// The alerts Prometheus holds, by name, with their state.
fn alert_states(prometheus: &Prometheus) -> Vec<(String, String)> {
    let doc = prometheus.api("/api/v1/alerts");
    doc["data"]["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .map(|a| {
                    (
                        a["labels"]["alertname"].as_str().unwrap_or("").to_owned(),
                        a["state"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn access_and_auth_lines_drive_the_seed_alerts_in_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let access_log = logs.join("access.log");
    let auth_log = logs.join("auth.log");
    write_lines(&access_log, &access_lines(0, 10));
    write_lines(&auth_log, &auth_lines(0));
    let mut agent = Agent::start_in(dir, AGENT, &[]);
    agent.wait_ready();

    // The counters on the agent's own /metrics, labels from the fields.
    write_lines(&access_log, &access_lines(7, 3));
    write_lines(&auth_log, &auth_lines(5));
    let exposed = wait_for(
        "the log metrics on /metrics",
        Duration::from_secs(30),
        || {
            let (_, body) = agent.get("/metrics");
            let samples = samples(&body);
            let errors = samples.get(r#"http_requests_total{method="GET",status="503"}"#)?;
            let failed = samples.get("auth_failed_attempts")?;
            // 3 written before the start, then 5 + 3.
            (*errors == 7.0 && *failed == 11.0).then_some(samples)
        },
    );
    assert_eq!(
        exposed.get(r#"http_requests_total{method="GET",status="200"}"#),
        Some(&13.0)
    );

    let rules = seed_alerts();
    let config = format!(
        "
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{}]
scrape_configs:
  - job_name: neurallog-agent
    static_configs:
      - targets: ['{}']
",
        rules.file_name().unwrap().to_string_lossy(),
        agent.admin
    );
    let prometheus = Prometheus::start(&config, &[rules.as_path()], false);

    // A steady stream of errors and failed logins, well over the rules'
    // thresholds (0.1 errors and 10 failed logins per second).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                write_lines(&access_log, &access_lines(20, 20));
                write_lines(&auth_log, &auth_lines(20));
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let states = wait_for(
        "HighErrorRate and SuspiciousLoginActivity to go pending",
        Duration::from_secs(90),
        || {
            let states = alert_states(&prometheus);
            let active = |name: &str| {
                states
                    .iter()
                    .any(|(n, s)| n == name && (s == "pending" || s == "firing"))
            };
            (active("HighErrorRate") && active("SuspiciousLoginActivity")).then_some(states)
        },
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    eprintln!("alerts: {states:?}");
    // The 5xx rate counts the 503s alone, not the 200s beside them.
    let rate = prometheus.query(r#"rate(http_requests_total{status=~"5.."}[5m])"#);
    assert_eq!(rate.len(), 1, "{rate:?}");
    assert_eq!(rate[0]["metric"]["status"], "503");
}
