//! pod_metrics against every recorded kubelet `/stats/summary` in the
//! shared fixtures, served over real HTTPS with a bearer token; and an
//! unreachable and a slow kubelet, which must be error metrics while pod
//! metrics come from a cgroup tree laid out like a real node's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::kubelet::FakeKubelet;
use crate::lifecycle::promtool_check;
use crate::support::agent::Agent;
use crate::support::net::free_port;
use crate::support::{fixtures, wait_for};

const TOKEN: &str = "test-token-one";

fn summaries() -> Vec<PathBuf> {
    let dir = fixtures().join("kubelet");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("stats-summary.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "recorded summaries: {files:?}");
    files
}

fn config(kubelet: &FakeKubelet, secrets: &Path) -> String {
    format!(
        "
data_dir: {{data_dir}}
sources:
  pods:
    type: pod_metrics
    endpoint: https://127.0.0.1:{port}
    ca_file: {ca}
    token_file: {token}
    interval_secs: 1
    cgroup_fallback: false
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    inputs: [pods]
  prom:
    type: prometheus
    inputs: [pods]
",
        port = kubelet.addr.port(),
        ca = kubelet.ca_file.display(),
        token = secrets.join("token").display(),
    )
}

/// The metric points the agent wrote so far.
fn points(agent: &Agent) -> Vec<Value> {
    std::fs::read_to_string(agent.dir.path().join("out.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "metric")
        .collect()
}

/// The last point named `name` whose resource has every `(key, value)`.
fn find<'a>(points: &'a [Value], name: &str, resource: &[(&str, &str)]) -> Option<&'a Value> {
    points.iter().rev().find(|p| {
        p["name"] == name
            && resource
                .iter()
                .all(|(k, v)| p["resource"][*k].as_str() == Some(*v))
    })
}

fn expect(
    points: &[Value],
    name: &str,
    resource: &[(&str, &str)],
    unit: &str,
    kind: &str,
    value: f64,
) {
    let point =
        find(points, name, resource).unwrap_or_else(|| panic!("no {name} for {resource:?}"));
    assert_eq!(point["unit"], unit, "{name} unit: {point}");
    assert_eq!(point["type"], kind, "{name} type: {point}");
    let got = point["value"].as_f64().unwrap();
    assert!(
        (got - value).abs() <= 1e-9 * value.abs().max(1.0),
        "{name} {resource:?}: {got} != {value}"
    );
}

fn u(v: &Value) -> Option<f64> {
    v.as_u64().map(|n| n as f64)
}

#[test]
fn pod_metrics_match_every_recorded_kubelet_response() {
    for path in summaries() {
        let fixture = std::fs::read(&path).unwrap();
        let summary: Value = serde_json::from_slice(&fixture).unwrap();
        let secrets = tempfile::tempdir().unwrap();
        std::fs::write(secrets.path().join("token"), format!("{TOKEN}\n")).unwrap();
        let kubelet = FakeKubelet::start(secrets.path(), fixture.clone(), TOKEN, Duration::ZERO);
        let mut agent = Agent::start(&config(&kubelet, secrets.path()));
        agent.wait_ready();
        let node_name = summary["node"]["nodeName"].as_str().unwrap().to_owned();
        let pods = summary["pods"].as_array().unwrap();
        let all = wait_for(
            &format!("points from {}", path.display()),
            Duration::from_secs(30),
            || {
                let all = points(&agent);
                let done = pods.iter().all(|p| {
                    find(
                        &all,
                        "k8s.pod.memory.working_set",
                        &[("k8s.pod.uid", p["podRef"]["uid"].as_str().unwrap())],
                    )
                    .is_some()
                        || p["memory"]["workingSetBytes"].is_null()
                });
                (done && !all.is_empty()).then_some(all)
            },
        );
        let node = &summary["node"];
        let on_node = [("k8s.node.name", node_name.as_str())];
        expect(
            &all,
            "k8s.node.cpu.time",
            &on_node,
            "s",
            "counter",
            u(&node["cpu"]["usageCoreNanoSeconds"]).unwrap() / 1e9,
        );
        expect(
            &all,
            "k8s.node.cpu.usage",
            &on_node,
            "{cpu}",
            "gauge",
            u(&node["cpu"]["usageNanoCores"]).unwrap() / 1e9,
        );
        expect(
            &all,
            "k8s.node.memory.working_set",
            &on_node,
            "By",
            "gauge",
            u(&node["memory"]["workingSetBytes"]).unwrap(),
        );
        expect(
            &all,
            "k8s.node.memory.page_faults",
            &on_node,
            "{fault}",
            "counter",
            u(&node["memory"]["pageFaults"]).unwrap(),
        );
        expect(
            &all,
            "k8s.node.filesystem.capacity",
            &on_node,
            "By",
            "gauge",
            u(&node["fs"]["capacityBytes"]).unwrap(),
        );
        let eth0 = all
            .iter()
            .find(|p| {
                p["name"] == "k8s.node.network.io"
                    && p["attributes"]["interface"] == "eth0"
                    && p["attributes"]["direction"] == "receive"
            })
            .expect("node eth0 receive bytes");
        let rx = node["network"]["interfaces"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == "eth0"))
            .map_or(&node["network"]["rxBytes"], |i| &i["rxBytes"]);
        assert_eq!(eth0["value"].as_f64(), u(rx));
        assert_eq!(eth0["type"], "counter");

        let mut containers = 0;
        let mut volumes = 0;
        for pod in pods {
            let r = &pod["podRef"];
            let uid = r["uid"].as_str().unwrap();
            let name = r["name"].as_str().unwrap();
            let on_pod = [
                ("k8s.pod.uid", uid),
                ("k8s.pod.name", name),
                ("k8s.node.name", node_name.as_str()),
            ];
            if let (Some(ns), Some(point)) = (
                r["namespace"].as_str(),
                find(&all, "k8s.pod.memory.working_set", &on_pod),
            ) {
                assert_eq!(point["resource"]["k8s.namespace.name"], ns);
            }
            if let Some(ws) = u(&pod["memory"]["workingSetBytes"]) {
                expect(
                    &all,
                    "k8s.pod.memory.working_set",
                    &on_pod,
                    "By",
                    "gauge",
                    ws,
                );
            }
            if let Some(cpu) = u(&pod["cpu"]["usageCoreNanoSeconds"]) {
                expect(&all, "k8s.pod.cpu.time", &on_pod, "s", "counter", cpu / 1e9);
            }
            if let Some(used) = u(&pod["ephemeral-storage"]["usedBytes"]) {
                expect(
                    &all,
                    "k8s.pod.filesystem.usage",
                    &on_pod,
                    "By",
                    "gauge",
                    used,
                );
            }
            for c in pod["containers"].as_array().into_iter().flatten() {
                let cname = c["name"].as_str().unwrap();
                let on_container = [("k8s.pod.uid", uid), ("k8s.container.name", cname)];
                if let Some(cpu) = u(&c["cpu"]["usageCoreNanoSeconds"]) {
                    expect(
                        &all,
                        "container.cpu.time",
                        &on_container,
                        "s",
                        "counter",
                        cpu / 1e9,
                    );
                    containers += 1;
                }
                if let Some(rss) = u(&c["memory"]["rssBytes"]) {
                    expect(
                        &all,
                        "container.memory.rss",
                        &on_container,
                        "By",
                        "gauge",
                        rss,
                    );
                }
                if let Some(logs) = u(&c["logs"]["usedBytes"]) {
                    let point = all
                        .iter()
                        .rev()
                        .find(|p| {
                            p["name"] == "k8s.container.ephemeral_storage.usage"
                                && p["resource"]["k8s.pod.uid"] == uid
                                && p["resource"]["k8s.container.name"] == cname
                                && p["attributes"]["fs.type"] == "logs"
                        })
                        .expect("container log storage");
                    assert_eq!(point["value"].as_f64(), Some(logs));
                }
            }
            for v in pod["volume"].as_array().into_iter().flatten() {
                let vname = v["name"].as_str().unwrap();
                if let Some(capacity) = u(&v["capacityBytes"]) {
                    expect(
                        &all,
                        "k8s.volume.capacity",
                        &[("k8s.pod.uid", uid), ("k8s.volume.name", vname)],
                        "By",
                        "gauge",
                        capacity,
                    );
                    volumes += 1;
                }
                if let (Some(pvc), Some(point)) = (
                    v["pvcRef"]["name"].as_str(),
                    find(
                        &all,
                        "k8s.volume.capacity",
                        &[("k8s.pod.uid", uid), ("k8s.volume.name", vname)],
                    ),
                ) {
                    assert_eq!(point["resource"]["k8s.persistentvolumeclaim.name"], pvc);
                }
            }
        }
        assert!(
            containers > 0 && volumes > 0,
            "{}: {containers} containers, {volumes} volumes",
            path.display()
        );

        // The same series on the admin /metrics, with k8s.* as labels, lint-clean.
        let (_, page) = agent.get("/metrics");
        let first = &pods[0]["podRef"];
        let label = format!("k8s_pod_uid=\"{}\"", first["uid"].as_str().unwrap());
        assert!(
            page.lines()
                .any(|l| l.starts_with("k8s_pod_memory_working_set_bytes{")
                    && l.contains(&label)
                    && l.contains("k8s_node_name=")),
            "{label} missing from /metrics"
        );
        let lint = promtool_check(&page);
        assert!(lint.0, "promtool on {}:\n{}", path.display(), lint.1);
        assert!(kubelet.served() >= 1);
    }
}

#[test]
fn cpu_usage_comes_from_consecutive_scrapes_and_the_token_is_read_again() {
    let path = summaries()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("1.35"))
        .unwrap();
    let fixture = std::fs::read(&path).unwrap();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), TOKEN).unwrap();
    let kubelet = FakeKubelet::start(secrets.path(), fixture.clone(), TOKEN, Duration::ZERO);
    let mut agent = Agent::start(&config(&kubelet, secrets.path()));
    agent.wait_ready();
    wait_for("a first scrape", Duration::from_secs(30), || {
        find(&points(&agent), "k8s.node.cpu.time", &[]).map(|_| ())
    });

    // The next sample: 1.5 s of CPU time over 3 s of wall time → 0.5 cores,
    // served only to the rotated token.
    let mut summary: Value = serde_json::from_slice(&fixture).unwrap();
    let cpu = &mut summary["node"]["cpu"];
    let used = cpu["usageCoreNanoSeconds"].as_u64().unwrap() + 1_500_000_000;
    cpu["usageCoreNanoSeconds"] = used.into();
    cpu["usageNanoCores"] = 1.into();
    cpu["time"] = "2026-06-26T10:14:38Z".into(); // was 10:14:35Z
    std::fs::write(secrets.path().join("token"), "test-token-two").unwrap();
    kubelet.set_token("test-token-two");
    kubelet.set_body(serde_json::to_vec(&summary).unwrap());
    let usage = wait_for(
        "a scrape of the second sample",
        Duration::from_secs(30),
        || {
            let all = points(&agent);
            find(&all, "k8s.node.cpu.time", &[])
                .filter(|p| p["value"].as_f64() == Some(used as f64 / 1e9))
                .and_then(|_| find(&all, "k8s.node.cpu.usage", &[]).cloned())
        },
    );
    assert_eq!(usage["value"].as_f64(), Some(0.5), "{usage}");
}

/// A cgroup v2 tree and pod log directories as a systemd-driven node lays
/// them out.
fn fake_node(root: &Path) -> (&'static str, &'static str) {
    let uid = "11d454af-149d-40a5-9529-be58b54181ca";
    let pod = root.join(
        "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11d454af_149d_40a5_9529_be58b54181ca.slice",
    );
    std::fs::create_dir_all(pod.join("cri-containerd-0123abcd.scope")).unwrap();
    std::fs::write(
        pod.join("cpu.stat"),
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
    )
    .unwrap();
    std::fs::write(pod.join("memory.current"), "104857600\n").unwrap();
    std::fs::write(
        pod.join("memory.stat"),
        "anon 52428800\nfile 41943040\ninactive_file 20971520\npgfault 1234\npgmajfault 5\n",
    )
    .unwrap();
    let guaranteed = root.join(
        "sys/fs/cgroup/kubepods.slice/kubepods-pod9f1c2a3b_0000_4000_8000_000000000001.slice",
    );
    std::fs::create_dir_all(&guaranteed).unwrap();
    std::fs::write(guaranteed.join("memory.current"), "1000\n").unwrap();
    std::fs::create_dir_all(root.join(format!("pods/kube-system_kindnet-gmqkj_{uid}/kindnet-cni")))
        .unwrap();
    (uid, "kindnet-gmqkj")
}

#[test]
fn unreachable_or_slow_kubelet_is_an_error_metric_and_cgroups_take_over() {
    let node = tempfile::tempdir().unwrap();
    let (uid, name) = fake_node(node.path());
    let secrets = tempfile::tempdir().unwrap();
    let slow = FakeKubelet::start(
        secrets.path(),
        b"{}".to_vec(),
        TOKEN,
        Duration::from_secs(5),
    );
    let closed = free_port();
    let yaml = format!(
        "
data_dir: {{data_dir}}
sources:
  down:
    type: pod_metrics
    endpoint: https://127.0.0.1:{closed}
    interval_secs: 1
    timeout_ms: 1000
    sys_path: {sys}
    pod_logs_dir: {logs}
  slow:
    type: pod_metrics
    endpoint: https://127.0.0.1:{slow_port}
    ca_file: {ca}
    interval_secs: 1
    timeout_ms: 300
    cgroup_fallback: false
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    inputs: [down, slow]
",
        sys = node.path().join("sys").display(),
        logs = node.path().join("pods").display(),
        slow_port = slow.addr.port(),
        ca = slow.ca_file.display(),
    );
    let mut agent = Agent::start_with_env(&yaml, &[("NODE_NAME", "node-a")]);
    agent.wait_ready();
    let errors = |id: &str, error_type: &str| {
        agent.metric(&format!(
            "neurallog_agent_component_errors_total{{component_id=\"{id}\",component_kind=\"source\",component_type=\"pod_metrics\",error_type=\"{error_type}\",stage=\"receiving\"}}"
        ))
    };
    wait_for(
        "unreachable and timeout errors",
        Duration::from_secs(30),
        || {
            (errors("down", "kubelet_unreachable")? >= 2.0
                && errors("slow", "kubelet_timeout")? >= 2.0)
                .then_some(())
        },
    );
    assert!(
        agent.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the agent exited"
    );
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(
        agent.get("/readyz").0,
        200,
        "failing scrapes do not stop the sources"
    );
    let (_, status) = agent.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    let down = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "down")
        .unwrap();
    assert_eq!(down["state"], "running");
    assert_eq!(down["details"]["source"], "cgroup", "{down}");
    assert!(
        down["details"]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{down}"
    );

    // Pod metrics from the cgroup tree, named from the log directory.
    let on_pod = [
        ("k8s.pod.uid", uid),
        ("k8s.pod.name", name),
        ("k8s.namespace.name", "kube-system"),
        ("k8s.node.name", "node-a"),
    ];
    let all = wait_for("cgroup pod metrics", Duration::from_secs(20), || {
        let all = points(&agent);
        find(&all, "k8s.pod.memory.working_set", &on_pod)
            .is_some()
            .then_some(all)
    });
    expect(
        &all,
        "k8s.pod.memory.working_set",
        &on_pod,
        "By",
        "gauge",
        (104857600 - 20971520) as f64,
    );
    expect(
        &all,
        "k8s.pod.memory.usage",
        &on_pod,
        "By",
        "gauge",
        104857600.0,
    );
    expect(
        &all,
        "k8s.pod.memory.rss",
        &on_pod,
        "By",
        "gauge",
        52428800.0,
    );
    expect(&all, "k8s.pod.cpu.time", &on_pod, "s", "counter", 2.5);
    expect(
        &all,
        "k8s.pod.memory.page_faults",
        &on_pod,
        "{fault}",
        "counter",
        1234.0,
    );
    assert!(
        find(
            &all,
            "k8s.pod.memory.usage",
            &[("k8s.pod.uid", "9f1c2a3b-0000-4000-8000-000000000001")]
        )
        .is_some()
    );
    // CPU usage between two readings of the cgroup.
    std::fs::write(
        node.path().join("sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11d454af_149d_40a5_9529_be58b54181ca.slice/cpu.stat"),
        "usage_usec 9999999999\n",
    )
    .unwrap();
    let usage = wait_for("cgroup CPU usage", Duration::from_secs(20), || {
        find(&points(&agent), "k8s.pod.cpu.usage", &on_pod)
            .and_then(|p| p["value"].as_f64())
            .filter(|v| *v > 1.0)
    });
    assert!(usage.is_finite());
}

#[test]
fn a_reload_changing_only_the_top_level_kubelet_block_moves_pod_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (first_dir, second_dir) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir_all(&first_dir).unwrap();
    std::fs::create_dir_all(&second_dir).unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let summary = std::fs::read(&summaries()[0]).unwrap();
    let first = FakeKubelet::start(&first_dir, summary.clone(), TOKEN, Duration::ZERO);
    let second = FakeKubelet::start(&second_dir, summary, TOKEN, Duration::ZERO);
    let config = |kubelet: &FakeKubelet| {
        format!(
            "
data_dir: {{data_dir}}
kubelet:
  endpoint: https://127.0.0.1:{port}
  ca_file: {ca}
  token_file: {token}
sources:
  pods:
    type: pod_metrics
    interval_secs: 1
    cgroup_fallback: false
sinks:
  out:
    type: file
    path: {{dir}}/out.jsonl
    inputs: [pods]
",
            port = kubelet.addr.port(),
            ca = kubelet.ca_file.display(),
            token = dir.path().join("token").display(),
        )
    };
    let mut agent = Agent::start(&config(&first));
    agent.wait_ready();
    wait_for(
        "a scrape of the first kubelet",
        Duration::from_secs(20),
        || (first.served() >= 1).then_some(()),
    );
    assert_eq!(second.served(), 0);
    // The sources section is the same text: only the block changed.
    agent.write_config(&config(&second));
    agent.signal("HUP");
    wait_for(
        "a scrape of the second kubelet",
        Duration::from_secs(20),
        || (second.served() >= 2).then_some(()),
    );
    // The old source is gone: the first kubelet is asked no more.
    let asked = first.served();
    wait_for(
        "two more scrapes of the second kubelet",
        Duration::from_secs(20),
        || (second.served() >= 4).then_some(()),
    );
    assert_eq!(first.served(), asked, "the first kubelet is still scraped");
}
