//! TLS with a real chain from a test CA: server authentication, a
//! server-name override, mutual TLS, and a certificate for the wrong host
//! refused (unless `insecure_skip_verify`, which is warned about).

use std::path::Path;
use std::time::Duration;

use super::{append, assert_same_lines, lines, sink_metric};
use crate::support::agent::Agent;
use crate::support::receiver::Receiver;
use crate::support::test_ca::TestCa;
use crate::support::wait_for;

fn start(receiver: &Receiver, tls: &str, dir: tempfile::TempDir) -> (Agent, std::path::PathBuf) {
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let config = format!(
        "
data_dir: {{data_dir}}
sources:
  app:
    type: file
    include: ['{{dir}}/logs/*.log']
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {}
    retry: {{initial_backoff_ms: 100, max_backoff_ms: 500}}
    tls:
{tls}
",
        receiver.endpoint()
    );
    let mut agent = Agent::start_in(dir, &config, &[]);
    agent.wait_ready();
    (agent, log)
}

fn delivered(receiver: &Receiver, log: &Path, prefix: &str) {
    let want = lines(prefix, 100);
    append(log, &want);
    wait_for("lines over TLS", Duration::from_secs(20), || {
        (receiver.log_bodies().len() >= want.len()).then_some(())
    });
    assert_same_lines(receiver.log_bodies(), want);
}

/// Lines written, nothing accepted, and the handshake failures counted.
fn refused(agent: &Agent, receiver: &Receiver, log: &Path) {
    append(log, &lines("refused", 10));
    wait_for("failed handshakes", Duration::from_secs(20), || {
        (sink_metric(
            agent,
            "neurallog_agent_sink_http_requests_total",
            &[("status", "connect")],
        ) >= 2.0)
            .then_some(())
    });
    assert!(receiver.requests().is_empty(), "no request got through");
}

#[test]
fn tls_server_auth_with_a_test_ca() {
    let ca = TestCa::new("NeuralLog test CA");
    let receiver = Receiver::start_tls(ca.server(&["127.0.0.1"], None));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "ca.pem");
    let (_agent, log) = start(
        &receiver,
        &format!("      ca_file: {}", ca_file.display()),
        dir,
    );
    delivered(&receiver, &log, "tls");
}

#[test]
fn tls_server_name_override() {
    let ca = TestCa::new("NeuralLog test CA");
    let receiver = Receiver::start_tls(ca.server(&["ingest.internal"], None));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "ca.pem");
    let tls = format!(
        "      ca_file: {}\n      server_name: ingest.internal",
        ca_file.display()
    );
    let (_agent, log) = start(&receiver, &tls, dir);
    delivered(&receiver, &log, "sni");
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let receiver = Receiver::start_tls(server_ca.server(&["127.0.0.1"], Some(&client_ca)));

    let dir = tempfile::tempdir().unwrap();
    let ca_file = server_ca.write(dir.path(), "ca.pem");
    let (cert, key) = client_ca
        .leaf(&["agent.node-1"])
        .write(dir.path(), "client");
    let tls = format!(
        "      ca_file: {}\n      cert_file: {}\n      key_file: {}",
        ca_file.display(),
        cert.display(),
        key.display()
    );
    let (agent, log) = start(&receiver, &tls, dir);
    delivered(&receiver, &log, "mtls");
    drop(agent);

    let dir = tempfile::tempdir().unwrap();
    let ca_file = server_ca.write(dir.path(), "ca.pem");
    let (agent, log) = start(
        &receiver,
        &format!("      ca_file: {}", ca_file.display()),
        dir,
    );
    let before = receiver.requests().len();
    append(&log, &lines("no-client-cert", 10));
    wait_for("refused handshakes", Duration::from_secs(20), || {
        let failed = sink_metric(
            &agent,
            "neurallog_agent_sink_http_requests_total",
            &[("status", "io")],
        ) + sink_metric(
            &agent,
            "neurallog_agent_sink_http_requests_total",
            &[("status", "connect")],
        );
        (failed >= 2.0).then_some(())
    });
    assert_eq!(
        receiver.requests().len(),
        before,
        "no request without a client certificate"
    );
}

#[test]
fn wrong_hostname_certificate_is_refused() {
    let ca = TestCa::new("NeuralLog test CA");
    let receiver = Receiver::start_tls(ca.server(&["other.example"], None));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "ca.pem");
    let (agent, log) = start(
        &receiver,
        &format!("      ca_file: {}", ca_file.display()),
        dir,
    );
    refused(&agent, &receiver, &log);
    let stderr = agent.stderr();
    assert!(
        stderr.contains("NotValidForName") || stderr.contains("not valid for name"),
        "the log says why: {stderr}"
    );
}

#[test]
fn untrusted_ca_is_refused() {
    let ca = TestCa::new("unknown CA");
    let receiver = Receiver::start_tls(ca.server(&["127.0.0.1"], None));
    let dir = tempfile::tempdir().unwrap();
    let (agent, log) = start(&receiver, "      server_name: 127.0.0.1", dir);
    refused(&agent, &receiver, &log);
}

#[test]
fn insecure_skip_verify_accepts_and_warns() {
    let ca = TestCa::new("unknown CA");
    let receiver = Receiver::start_tls(ca.server(&["other.example"], None));
    let dir = tempfile::tempdir().unwrap();
    let (agent, log) = start(&receiver, "      insecure_skip_verify: true", dir);
    delivered(&receiver, &log, "insecure");
    assert!(
        agent.stderr().contains("insecure_skip_verify is set"),
        "start-up warns: {}",
        agent.stderr()
    );
}
