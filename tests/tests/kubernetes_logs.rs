//! The `kubernetes_logs` source with the real binary over a
//! `/var/log/pods` tree built from recorded CRI and docker json-file logs
//! (`tests/fixtures/cri`, see SOURCES.md) and our own cases for partial
//! lines. Golden pairs in `tests/fixtures/golden/kubernetes`: `<case>.log`
//! is written as a container's `0.log` (a `#ROTATE#` line marks where
//! kubelet rotates it), `<case>.expected.jsonl` is what must arrive.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::{fixtures, wait_for};

mod split_lines;

const POD_DIR: &str = "shop_web-5d78c9869d-x2x9q_0b3f1e2a-1111-2222-3333-444455556666";

fn golden_dir() -> PathBuf {
    fixtures().join("golden/kubernetes")
}

fn config() -> &'static str {
    "
data_dir: {data_dir}
sources:
  pods:
    type: kubernetes_logs
    pods_dir: {dir}/pods
    node_name: node-7
    kubelet:
      enabled: false
sinks:
  out:
    type: file
    path: {dir}/out.jsonl
    inputs: [pods]
"
}

/// The fields a golden file pins down.
fn project(record: &serde_json::Value) -> serde_json::Value {
    // A line with no time of its own (a docker line without `time`, a
    // line that did not parse) is stamped when read: not reproducible.
    let time = if record["timestamp"] == record["observed_timestamp"] {
        serde_json::Value::Null
    } else {
        record["timestamp"].clone()
    };
    let mut out = serde_json::json!({
        "body": record["body"],
        "stream": record["attributes"]["log.iostream"],
        "time": time,
    });
    if let Some(flags) = record.get("flags") {
        out["flags"] = flags.clone();
    }
    if record["attributes"]["log.record.parse_error"] == true {
        out["parse_error"] = true.into();
    }
    out
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Run one golden case; returns every record that arrived.
fn run_case(case: &str) -> Vec<serde_json::Value> {
    let input = std::fs::read_to_string(golden_dir().join(format!("{case}.log"))).unwrap();
    let expected: Vec<serde_json::Value> =
        std::fs::read_to_string(golden_dir().join(format!("{case}.expected.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let dir = tempfile::tempdir().unwrap();
    let container = dir.path().join("pods").join(POD_DIR).join("web");
    std::fs::create_dir_all(&container).unwrap();
    let live = container.join("0.log");
    let (before, after) = match input.split_once("#ROTATE#\n") {
        Some((before, after)) => (before.to_owned(), Some(after.to_owned())),
        None => (input, None),
    };
    std::fs::write(&live, before).unwrap();
    let mut agent = Agent::start_in(dir, config(), &[]);
    agent.wait_ready();
    if let Some(after) = after {
        // kubelet's rotation: rename with a timestamp, then a new file.
        std::thread::sleep(Duration::from_millis(800));
        std::fs::rename(&live, container.join("0.log.20240501-100001")).unwrap();
        std::fs::write(&live, after).unwrap();
    }
    wait_for(
        &format!("{} records for {case}", expected.len()),
        Duration::from_secs(20),
        || (records(agent.dir.path()).len() >= expected.len()).then_some(()),
    );
    // Anything more would show up within a poll or two.
    std::thread::sleep(Duration::from_millis(600));
    let got = records(agent.dir.path());
    let projected: Vec<serde_json::Value> = got.iter().map(project).collect();
    assert_eq!(projected.len(), expected.len(), "{case}: {projected:#?}");
    for (i, (got, want)) in projected.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "{case}: record {i}");
    }
    got
}

#[test]
fn containerd_cri_recording() {
    let records = run_case("containerd");
    let resource = &records[0]["resource"];
    assert_eq!(resource["k8s.namespace.name"], "shop");
    assert_eq!(resource["k8s.pod.name"], "web-5d78c9869d-x2x9q");
    assert_eq!(
        resource["k8s.pod.uid"],
        "0b3f1e2a-1111-2222-3333-444455556666"
    );
    assert_eq!(resource["k8s.container.name"], "web");
    assert_eq!(resource["k8s.container.restart_count"], 0);
    assert_eq!(resource["k8s.node.name"], "node-7");
    // No pod metadata here: the workload is named after its pod, never
    // after the agent that read its logs.
    assert_eq!(resource["service.name"], "web-5d78c9869d-x2x9q");
    assert_eq!(resource["service.namespace"], "shop");
    assert_eq!(
        resource["service.instance.id"],
        "shop.web-5d78c9869d-x2x9q.web"
    );
    assert!(resource.get("service.version").is_none());
}

#[test]
fn crio_cri_recording_with_a_partial_line() {
    run_case("crio");
}

#[test]
fn docker_json_recording_with_a_partial_line() {
    run_case("docker");
}

#[test]
fn docker_json_with_a_corrupted_line_keeps_it() {
    run_case("docker_corrupted");
}

#[test]
fn docker_json_lines_split_by_dockerd() {
    run_case("docker_split_line");
    run_case("docker_split_multiple_lines");
}

#[test]
fn docker_json_escaped_json_payload() {
    run_case("docker_istio_proxy");
}

#[test]
fn cri_partial_lines_over_16_kib_are_joined() {
    let records = run_case("cri_partial_over_16k");
    assert_eq!(records[1]["body"].as_str().unwrap().len(), 40_000);
}

#[test]
fn cri_interleaved_stdout_and_stderr_partials() {
    run_case("cri_interleaved_partials");
}

#[test]
fn cri_partial_split_across_a_rotation() {
    run_case("cri_partial_across_rotation");
}

#[test]
fn pod_metadata_from_the_kubelet_and_the_opt_out_annotation() {
    use crate::metrics::kubelet::FakeKubelet;
    let dir = tempfile::tempdir().unwrap();
    // Two pods of the recorded k8s 1.35 pod list; the second opts out.
    let mut pods: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap(),
    )
    .unwrap();
    let items = pods["items"].as_array_mut().unwrap();
    let hpa = items
        .iter()
        .position(|p| p["metadata"]["name"] == "e2e-hpa-6cd8d99884-tggnr")
        .unwrap();
    let other = (0..items.len()).find(|i| *i != hpa).unwrap();
    items[other]["metadata"]["annotations"]["neurallog.io/exclude"] = "true".into();
    let pod_dir = |pod: &serde_json::Value| {
        let m = &pod["metadata"];
        format!(
            "{}_{}_{}",
            m["namespace"].as_str().unwrap(),
            m["name"].as_str().unwrap(),
            m["uid"].as_str().unwrap()
        )
    };
    let (kept, excluded) = (pod_dir(&items[hpa]), pod_dir(&items[other]));
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let kubelet = FakeKubelet::start(dir.path(), b"{}".to_vec(), "s3cret", Duration::ZERO);
    kubelet.set_pods(serde_json::to_vec(&pods).unwrap());
    for (pod, line) in [(&kept, "kept line"), (&excluded, "excluded line")] {
        let container = dir.path().join("pods").join(pod).join("app");
        std::fs::create_dir_all(&container).unwrap();
        std::fs::write(
            container.join("0.log"),
            format!("2026-06-26T10:13:00.000000001Z stdout F {line}\n"),
        )
        .unwrap();
    }
    let yaml = kubelet_config(&kubelet, &token, "");
    // The files exist before the agent starts: the source must wait for the
    // pod list before reading them, or the opted-out pod's line would leak.
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for("a record", Duration::from_secs(20), || {
        (!records(agent.dir.path()).is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let records = records(agent.dir.path());
    assert_eq!(
        records.len(),
        1,
        "the opted-out pod's line must not arrive: {records:#?}"
    );
    let resource = &records[0]["resource"];
    assert_eq!(records[0]["body"], "kept line");
    assert_eq!(resource["k8s.pod.name"], "e2e-hpa-6cd8d99884-tggnr");
    assert_eq!(resource["k8s.pod.label.app"], "hpa");
    assert_eq!(resource["k8s.deployment.name"], "e2e-hpa");
    assert_eq!(resource["k8s.replicaset.name"], "e2e-hpa-6cd8d99884");
    // The recorded pod has no app.kubernetes.io labels: its Deployment
    // names the service.
    assert_eq!(resource["service.name"], "e2e-hpa");
    assert!(kubelet.served_pods() >= 1);
}

#[test]
fn read_from_end_holds_while_the_pod_metadata_is_still_loading() {
    use crate::metrics::kubelet::FakeKubelet;
    let dir = tempfile::tempdir().unwrap();
    let pods: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap(),
    )
    .unwrap();
    let pod = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["metadata"]["name"] == "e2e-hpa-6cd8d99884-tggnr")
        .unwrap();
    let m = &pod["metadata"];
    let pod_dir = format!(
        "{}_{}_{}",
        m["namespace"].as_str().unwrap(),
        m["name"].as_str().unwrap(),
        m["uid"].as_str().unwrap()
    );
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    // A kubelet slow to answer: the first scan finds the pod's log while
    // the metadata cache is still starting.
    let kubelet = FakeKubelet::start(
        dir.path(),
        b"{}".to_vec(),
        "s3cret",
        Duration::from_millis(1500),
    );
    kubelet.set_pods(serde_json::to_vec(&pods).unwrap());
    let container = dir.path().join("pods").join(&pod_dir).join("app");
    std::fs::create_dir_all(&container).unwrap();
    let log = container.join("0.log");
    std::fs::write(
        &log,
        "2026-06-26T10:13:00.000000001Z stdout F old line, shipped before\n",
    )
    .unwrap();
    let yaml = kubelet_config(&kubelet, &token, "    read_from: end\n");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for("the pod list", Duration::from_secs(20), || {
        (kubelet.served_pods() >= 1).then_some(())
    });
    // Let the deferred file be opened (at a scan after the pod list) before
    // the new line is written: it must be opened at its end.
    std::thread::sleep(Duration::from_secs(2));
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(
        &mut file,
        b"2026-06-26T10:14:00.000000001Z stdout F new line\n",
    )
    .unwrap();
    wait_for("the new line", Duration::from_secs(20), || {
        (!records(agent.dir.path()).is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1000));
    let bodies: Vec<String> = records(agent.dir.path())
        .iter()
        .map(|r| r["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        bodies,
        ["new line"],
        "read_from: end ships only what is new"
    );
}

#[test]
fn a_pod_deleted_while_its_metadata_is_awaited_loses_no_line() {
    use crate::metrics::kubelet::FakeKubelet;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let kubelet = FakeKubelet::start(dir.path(), b"{}".to_vec(), "s3cret", Duration::ZERO);
    kubelet.set_pods(std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap());
    std::fs::create_dir_all(dir.path().join("pods")).unwrap();
    let mut agent = Agent::start_in(dir, &kubelet_config(&kubelet, &token, ""), &[]);
    agent.wait_ready();
    wait_for("the pod list", Duration::from_secs(20), || {
        (kubelet.served_pods() >= 1).then_some(())
    });
    // A pod the kubelet does not list yet (a short-lived job): its file is
    // found at the next scan (every 200 ms) and waits for its metadata (up
    // to 10 s) — during which the pod ends and its directory is removed.
    let pod_dir = agent
        .dir
        .path()
        .join("pods/batch_short-job-x7k2p_0b6f3f2e-2f4c-4b8e-9a51-6f1d1c0e9a11");
    std::fs::create_dir_all(pod_dir.join("job")).unwrap();
    std::fs::write(
        pod_dir.join("job/0.log"),
        "2026-06-26T10:13:00.000000001Z stdout F starting\n\
         2026-06-26T10:13:00.000000002Z stdout F done: 42 rows\n\
         2026-06-26T10:13:00.000000003Z stderr F exit 0\n",
    )
    .unwrap();
    // Several scans, well inside the metadata wait.
    std::thread::sleep(Duration::from_secs(2));
    std::fs::remove_dir_all(&pod_dir).unwrap();
    let bodies = wait_for("the deleted pod's lines", Duration::from_secs(30), || {
        let bodies: Vec<String> = records(agent.dir.path())
            .iter()
            .map(|r| r["body"].as_str().unwrap_or_default().to_owned())
            .collect();
        (bodies.len() >= 3).then_some(bodies)
    });
    assert_eq!(bodies, ["starting", "done: 42 rows", "exit 0"]);
    let resource = &records(agent.dir.path())[0]["resource"];
    assert_eq!(resource["k8s.pod.name"], "short-job-x7k2p");
}

#[test]
fn top_level_kubelet_block_reaches_both_sources_and_a_source_field_overrides_it() {
    use crate::metrics::kubelet::FakeKubelet;
    let dir = tempfile::tempdir().unwrap();
    let (shared_dir, own_dir) = (dir.path().join("shared"), dir.path().join("own"));
    std::fs::create_dir_all(&shared_dir).unwrap();
    std::fs::create_dir_all(&own_dir).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let summary = std::fs::read(fixtures().join("kubelet/k8s-1.35_stats-summary.json")).unwrap();
    let pods = std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap();
    // Two kubelets, each with a CA of its own: a source reaches one only
    // with that one's endpoint and CA, and either only with the token.
    let shared = FakeKubelet::start(&shared_dir, summary.clone(), "s3cret", Duration::ZERO);
    shared.set_pods(pods);
    let own = FakeKubelet::start(&own_dir, summary, "s3cret", Duration::ZERO);
    let pod: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap(),
    )
    .unwrap();
    let hpa = pod["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["metadata"]["name"] == "e2e-hpa-6cd8d99884-tggnr")
        .unwrap();
    let m = &hpa["metadata"];
    let container = dir
        .path()
        .join("pods")
        .join(format!(
            "{}_{}_{}",
            m["namespace"].as_str().unwrap(),
            m["name"].as_str().unwrap(),
            m["uid"].as_str().unwrap()
        ))
        .join("app");
    std::fs::create_dir_all(&container).unwrap();
    std::fs::write(
        container.join("0.log"),
        "2026-06-26T10:13:00.000000001Z stdout F a line\n",
    )
    .unwrap();
    // Only the top-level block says where the kubelet is and how to trust
    // it; `own_pods` sets its own endpoint and CA and keeps the block's
    // token.
    let yaml = format!(
        "
data_dir: {{data_dir}}
kubelet:
  endpoint: https://{shared_addr}
  token_file: {token}
  ca_file: {shared_ca}
sources:
  logs:
    type: kubernetes_logs
    pods_dir: {{dir}}/pods
    node_name: node-7
    scan_interval_ms: 200
    kubelet:
      refresh_secs: 1
  pods:
    type: pod_metrics
    interval_secs: 1
    cgroup_fallback: false
  own_pods:
    type: pod_metrics
    endpoint: https://{own_addr}
    ca_file: {own_ca}
    interval_secs: 1
    cgroup_fallback: false
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    inputs: [logs, pods, own_pods]
",
        shared_addr = shared.addr,
        own_addr = own.addr,
        token = token.display(),
        shared_ca = shared.ca_file.display(),
        own_ca = own.ca_file.display(),
    );
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    // The pod's metadata came from the block's kubelet.
    let record = wait_for("the log record", Duration::from_secs(20), || {
        records(agent.dir.path())
            .into_iter()
            .find(|r| r["body"] == "a line")
    });
    assert_eq!(record["resource"]["k8s.deployment.name"], "e2e-hpa");
    assert!(shared.served_pods() >= 1);
    // Summaries are asked for by the pod_metrics sources only, and each
    // knows one of the addresses: `pods` the block's, `own_pods` its own.
    wait_for(
        "a summary from each kubelet",
        Duration::from_secs(20),
        || (shared.served() >= 1 && own.served() >= 1).then_some(()),
    );
    assert_eq!(own.served_pods(), 0, "only kubernetes_logs asks for /pods");
}

/// A `kubernetes_logs` source with pod metadata from `kubelet`, `extra`
/// source settings, into a file sink.
fn kubelet_config(
    kubelet: &crate::metrics::kubelet::FakeKubelet,
    token: &Path,
    extra: &str,
) -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  pods:
    type: kubernetes_logs
    pods_dir: {{dir}}/pods
    node_name: node-7
    scan_interval_ms: 200
{extra}    kubelet:
      endpoint: https://{addr}
      token_file: {token}
      ca_file: {ca}
      refresh_secs: 1
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    inputs: [pods]
",
        addr = kubelet.addr,
        token = token.display(),
        ca = kubelet.ca_file.display(),
    )
}

/// The service a recorded pod's containers belong to, derived here from
/// the OpenTelemetry conventions for Kubernetes on its own: the
/// `resource.opentelemetry.io/service.name` annotation, the
/// `app.kubernetes.io/instance` then `app.kubernetes.io/name` labels, the
/// owning workload (a ReplicaSet with a `pod-template-hash` is its
/// Deployment's), then the pod.
fn conventional_service_name(pod: &serde_json::Value) -> String {
    let meta = &pod["metadata"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    if let Some(name) = text(&meta["annotations"]["resource.opentelemetry.io/service.name"]) {
        return name;
    }
    for label in ["app.kubernetes.io/instance", "app.kubernetes.io/name"] {
        if let Some(name) = text(&meta["labels"][label]) {
            return name;
        }
    }
    if let Some(owner) = meta["ownerReferences"].as_array().and_then(|o| o.first()) {
        let name = text(&owner["name"]).unwrap();
        return match (
            owner["kind"].as_str(),
            text(&meta["labels"]["pod-template-hash"]),
        ) {
            (Some("ReplicaSet"), Some(hash)) => name
                .strip_suffix(&format!("-{hash}"))
                .map_or(name.clone(), str::to_owned),
            _ => name,
        };
    }
    text(&meta["name"]).unwrap()
}

/// Every container of the recorded pod list (Deployments, a bare
/// ReplicaSet owner, StatefulSets, DaemonSets, Jobs, static pods, Helm
/// labels, one pod annotated) ships logs that name its workload, as the
/// OpenTelemetry conventions say, decoded from the OTLP requests by the
/// independent decoder; the agent's own metrics name the agent.
#[test]
fn every_recorded_container_names_its_workload_over_otlp() {
    use crate::metrics::kubelet::FakeKubelet;
    use crate::shipping::decode::{attrs, get, python_decode};
    use crate::support::receiver::Receiver;

    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut pods: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("kubelet/k8s-1.35_pods.json")).unwrap(),
    )
    .unwrap();
    let items = pods["items"].as_array_mut().unwrap();
    // One pod names its service and namespace itself.
    let annotations = &mut items[0]["metadata"]["annotations"];
    if annotations.is_null() {
        *annotations = serde_json::json!({});
    }
    annotations["resource.opentelemetry.io/service.name"] = "checkout".into();
    annotations["resource.opentelemetry.io/service.namespace"] = "shop".into();

    // service.instance.id → (service.name, service.namespace)
    let mut expected = std::collections::BTreeMap::new();
    for pod in items.iter() {
        let meta = &pod["metadata"];
        let (namespace, name, uid) = (
            meta["namespace"].as_str().unwrap(),
            meta["name"].as_str().unwrap(),
            meta["uid"].as_str().unwrap(),
        );
        let service_namespace = meta["annotations"]["resource.opentelemetry.io/service.namespace"]
            .as_str()
            .unwrap_or(namespace);
        for container in pod["spec"]["containers"].as_array().unwrap() {
            let container = container["name"].as_str().unwrap();
            let logs = dir
                .path()
                .join("pods")
                .join(format!("{namespace}_{name}_{uid}"))
                .join(container);
            std::fs::create_dir_all(&logs).unwrap();
            std::fs::write(
                logs.join("0.log"),
                format!("2026-06-26T10:13:00.000000001Z stdout F from {name}/{container}\n"),
            )
            .unwrap();
            expected.insert(
                format!("{namespace}.{name}.{container}"),
                (conventional_service_name(pod), service_namespace.to_owned()),
            );
        }
    }
    assert!(expected.len() >= 20, "{expected:?}");

    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let kubelet = FakeKubelet::start(dir.path(), b"{}".to_vec(), "s3cret", Duration::ZERO);
    kubelet.set_pods(serde_json::to_vec(&pods).unwrap());
    let yaml = kubelet_config(
        &kubelet,
        &token,
        "",
    )
    .replace(
        "sinks:\n  out:\n    type: file\n    path: {dir}/out.jsonl\n    inputs: [pods]\n",
        &format!(
            "  self:\n    type: internal_metrics\n    interval_secs: 1\nsinks:\n  ingest:\n    type: otlp_http\n    inputs: [pods, self]\n    endpoint: {}\n",
            receiver.endpoint()
        ),
    );
    assert!(yaml.contains("otlp_http"), "{yaml}");
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    wait_for("every container's line", Duration::from_secs(30), || {
        (receiver.log_bodies().len() >= expected.len()).then_some(())
    });
    wait_for("a metrics request", Duration::from_secs(30), || {
        (!receiver.accepted("/v1/metrics").is_empty()).then_some(())
    });

    let work = tempfile::tempdir().unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for request in python_decode("logs", &receiver, "/v1/logs", work.path()) {
        for resource_logs in request["resource_logs"].as_array().unwrap() {
            let resource = attrs(&resource_logs["resource"]["attributes"]);
            let field = |key: &str| get(&resource, key).unwrap_or_default().to_owned();
            seen.insert(
                field("service.instance.id"),
                (field("service.name"), field("service.namespace")),
            );
        }
    }
    for (instance, (name, namespace)) in &seen {
        println!("{instance:<72} service.name={name:<28} service.namespace={namespace}");
    }
    assert_eq!(seen, expected);

    let mut own = Vec::new();
    for request in python_decode("metrics", &receiver, "/v1/metrics", work.path()) {
        for resource_metrics in request["resource_metrics"].as_array().unwrap() {
            let resource = attrs(&resource_metrics["resource"]["attributes"]);
            own.push(get(&resource, "service.name").map(str::to_owned));
        }
    }
    println!("the agent's own metrics: service.name={own:?}");
    assert!(!own.is_empty());
    assert!(
        own.iter()
            .all(|name| name.as_deref() == Some("neurallog-agent")),
        "{own:?}"
    );
}
