//! Auth and tenancy: fixed headers, a bearer token read from a file and
//! re-read when it is rotated, a tenant header — and none of the secrets
//! in the log, `/status` or `print-config`.

use std::time::Duration;

use super::{append, lines};
use crate::support::agent::{Agent, run};
use crate::support::receiver::Receiver;
use crate::support::wait_for;

const HEADER_SECRET: &str = "s3cr3t-header-value";
const FIRST_TOKEN: &str = "tok-first-SECRET";
const SECOND_TOKEN: &str = "tok-rotated-SECRET";

#[test]
fn token_rotation_tenant_and_headers_without_leaking_secrets() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    std::fs::write(&log, "").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{FIRST_TOKEN}\n")).unwrap();
    let config = format!(
        "
data_dir: {{data_dir}}
log:
  level: debug
sources:
  app:
    type: file
    include: ['{{dir}}/logs/*.log']
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: {}
    headers:
      X-Api-Key: {HEADER_SECRET}
    auth:
      bearer_token_file: {{dir}}/token
    tenant:
      header: X-Tenant
      id: acme
",
        receiver.endpoint()
    );
    let mut agent = Agent::start_in(dir, &config, &[]);
    agent.wait_ready();

    append(&log, &lines("before", 10));
    wait_for("the first request", Duration::from_secs(20), || {
        (!receiver.accepted("/v1/logs").is_empty()).then_some(())
    });
    let auth = receiver.header_values("/v1/logs", "authorization");
    assert_eq!(auth[0], format!("Bearer {FIRST_TOKEN}"));
    assert_eq!(receiver.header_values("/v1/logs", "x-tenant")[0], "acme");
    assert_eq!(
        receiver.header_values("/v1/logs", "x-api-key")[0],
        HEADER_SECRET
    );

    // Rotate the token the way Kubernetes does: a new file renamed over.
    let tmp = agent.dir.path().join("token.new");
    std::fs::write(&tmp, SECOND_TOKEN).unwrap();
    std::fs::rename(&tmp, agent.dir.path().join("token")).unwrap();
    append(&log, &lines("after", 10));
    wait_for(
        "a request with the rotated token",
        Duration::from_secs(20),
        || {
            receiver
                .header_values("/v1/logs", "authorization")
                .contains(&format!("Bearer {SECOND_TOKEN}"))
                .then_some(())
        },
    );
    let last = receiver.header_values("/v1/logs", "authorization");
    assert_eq!(last.last().unwrap(), &format!("Bearer {SECOND_TOKEN}"));

    let (_, status) = agent.get("/status");
    let printed = run(&[
        "print-config",
        "--config",
        agent.dir.path().join("agent.yaml").to_str().unwrap(),
    ]);
    assert!(printed.status.success());
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(printed.contains("<redacted>"), "{printed}");
    agent.terminate(Duration::from_secs(20));
    let stderr = agent.stderr();
    assert!(
        stderr.contains("Bearer token file changed"),
        "rotation logged"
    );
    for (what, text) in [
        ("/status", &status),
        ("print-config", &printed),
        ("the log", &stderr),
    ] {
        for secret in [HEADER_SECRET, FIRST_TOKEN, SECOND_TOKEN] {
            assert!(!text.contains(secret), "{secret} leaked into {what}");
        }
    }
}
