//! What the agent sends over OTLP, decoded by the OpenTelemetry project's
//! own Python definitions (`opentelemetry-proto` from PyPI): every record,
//! attribute and resource arrives intact, gzip and zstd.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{append, lines};
use crate::support::agent::Agent;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

const CONFIG: &str = "
data_dir: {data_dir}
sources:
  app:
    type: file
    include: ['{dir}/logs/*.log']
    max_line_bytes: 300
    attributes:
      team: payments
    resource:
      service.name: checkout
      service.namespace: shop
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  ingest:
    type: otlp_http
    inputs: [app, self]
    endpoint: ENDPOINT
    compression: COMPRESSION
    batch:
      max_events: 200
      timeout_ms: 50
";

/// Run the Python decoder over the accepted bodies of `path`.
pub(crate) fn python_decode(
    kind: &str,
    receiver: &Receiver,
    path: &str,
    dir: &std::path::Path,
) -> Vec<Value> {
    let mut files = Vec::new();
    for (i, request) in receiver.accepted(path).iter().enumerate() {
        let encoding = request
            .headers
            .iter()
            .find(|(k, _)| k == "content-encoding")
            .map(|(_, v)| v.as_str());
        let suffix = match encoding {
            Some("gzip") => ".gz",
            Some("zstd") => ".zst",
            _ => "",
        };
        let file = dir.join(format!("{kind}-{i}.pb{suffix}"));
        std::fs::write(&file, &request.raw).unwrap();
        files.push(file);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/otlp_decode.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(kind)
        .args(&files)
        .output()
        .expect("python3 (./x setup installs opentelemetry-proto and zstandard)");
    assert!(
        out.status.success(),
        "decoder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("decoder prints JSON")
}

/// `[{key, value: {stringValue|...}}]` as (key, value) strings.
pub(crate) fn attrs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            let value = &kv["value"];
            let text = value
                .get("string_value")
                .or_else(|| value.get("bool_value"))
                .or_else(|| value.get("int_value"))
                .or_else(|| value.get("double_value"))
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default();
            (kv["key"].as_str().unwrap_or_default().to_owned(), text)
        })
        .collect()
}

pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn decodes_intact(compression: &str, encoding: &str) {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    let mut expected = lines("decode", 500);
    expected[7] = "unicode: héllo wörld ✓ \"quoted\" \\ back\tslash".to_owned();
    let long = format!("long {}", "x".repeat(400));
    expected.push(long);
    append(&log, &expected);

    let config = CONFIG
        .replace("ENDPOINT", &receiver.endpoint())
        .replace("COMPRESSION", compression);
    let mut agent = Agent::start_in(dir, &config, &[("NODE_NAME", "test-node-1")]);
    agent.wait_ready();
    wait_for("all lines at the receiver", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= expected.len()).then_some(())
    });
    wait_for("a metrics request", Duration::from_secs(30), || {
        (!receiver.accepted("/v1/metrics").is_empty()).then_some(())
    });

    for request in receiver.requests() {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/x-protobuf")
        );
        assert_eq!(header("content-encoding").as_deref(), Some(encoding));
    }

    let work = tempfile::tempdir().unwrap();
    let decoded = python_decode("logs", &receiver, "/v1/logs", work.path());
    let mut bodies = Vec::new();
    for request in &decoded {
        for resource_logs in request["resource_logs"].as_array().unwrap() {
            let resource = attrs(&resource_logs["resource"]["attributes"]);
            assert_eq!(
                get(&resource, "host.name"),
                Some("test-node-1"),
                "{resource:?}"
            );
            // The logs name the workload set in the source's `resource:`,
            // not the agent that read them.
            assert_eq!(get(&resource, "service.name"), Some("checkout"));
            assert_eq!(get(&resource, "service.namespace"), Some("shop"));
            assert_eq!(get(&resource, "service.version"), None);
            assert_eq!(get(&resource, "os.type"), Some("linux"));
            let scopes = resource_logs["scope_logs"].as_array().unwrap();
            assert_eq!(scopes.len(), 1);
            assert_eq!(scopes[0]["scope"]["name"], "neurallog-agent");
            assert_eq!(scopes[0]["scope"]["version"], env!("CARGO_PKG_VERSION"));
            for record in scopes[0]["log_records"].as_array().unwrap() {
                let body = record["body"]["string_value"].as_str().unwrap().to_owned();
                let attributes = attrs(&record["attributes"]);
                assert_eq!(
                    get(&attributes, "log.file.path"),
                    Some(log.to_str().unwrap()),
                    "{attributes:?}"
                );
                assert_eq!(get(&attributes, "log.file.name"), Some("app.log"));
                assert_eq!(get(&attributes, "team"), Some("payments"));
                assert!(record["observed_time_unix_nano"].as_str().is_some());
                if body.starts_with("long ") {
                    assert_eq!(get(&attributes, "neurallog.log.truncated"), Some("true"));
                    assert_eq!(body.len(), 300, "cut at max_line_bytes");
                } else {
                    assert_eq!(get(&attributes, "neurallog.log.truncated"), None);
                }
                bodies.push(body);
            }
        }
    }
    let mut want = expected.clone();
    want[500] = expected[500][..300].to_owned();
    // Requests run concurrently, so they may arrive in any order; within
    // one they keep the file's order.
    super::assert_same_lines(bodies, want);

    let decoded = python_decode("metrics", &receiver, "/v1/metrics", work.path());
    let mut found = false;
    for request in &decoded {
        for resource_metrics in request["resource_metrics"].as_array().unwrap() {
            let resource = attrs(&resource_metrics["resource"]["attributes"]);
            assert_eq!(get(&resource, "host.name"), Some("test-node-1"));
            // The agent's own telemetry is the agent's.
            assert_eq!(get(&resource, "service.name"), Some("neurallog-agent"));
            let scope = &resource_metrics["scope_metrics"][0];
            assert_eq!(scope["scope"]["name"], "neurallog-agent");
            for metric in scope["metrics"].as_array().unwrap() {
                if metric["name"] != "neurallog_agent_component_received_events_total" {
                    continue;
                }
                let sum = &metric["sum"];
                assert_eq!(sum["is_monotonic"], true);
                assert_eq!(
                    sum["aggregation_temporality"],
                    "AGGREGATION_TEMPORALITY_CUMULATIVE"
                );
                for point in sum["data_points"].as_array().unwrap() {
                    let labels = attrs(&point["attributes"]);
                    if get(&labels, "component_id") == Some("app") {
                        assert_eq!(get(&labels, "component_kind"), Some("source"));
                        assert_eq!(get(&labels, "component_type"), Some("file"));
                        assert!(point["as_double"].as_f64().is_some(), "{point}");
                        found = true;
                    }
                }
            }
        }
    }
    assert!(
        found,
        "the file source's received-events counter was shipped"
    );
    agent.terminate(Duration::from_secs(20));
}

#[test]
fn python_decodes_gzip_requests_intact() {
    decodes_intact("gzip", "gzip");
}

#[test]
fn python_decodes_zstd_requests_intact() {
    decodes_intact("zstd", "zstd");
}
