//! `packaging/kubernetes/` and the Helm chart `packaging/helm/neurallog-agent/`.
//!
//! The chart is rendered by Helm's own engine (`packaging/helm/render.py`,
//! over the Helm v4 SDK that the `helm-python-sdk` package bundles), every
//! manifest is validated offline against the Kubernetes OpenAPI schemas of
//! pinned versions (`kubernetes-validate`, strict: unknown fields fail),
//! and the security and operability invariants are asserted on the parsed
//! objects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

use super::{at, output, repo, seq_at, str_at, text, workspace_version, yaml_docs};
use crate::support::agent::binary;

/// Kubernetes versions whose schemas the manifests must pass: the chart's
/// `kubeVersion` floor and the newest the pinned `kubernetes-validate`
/// knows.
const KUBERNETES_VERSIONS: &[&str] = &["1.33.0", "1.37.0"];

const NAMESPACE: &str = "neurallog-system";
const STATE_DIR: &str = "/var/lib/neurallog-agent";
const CONFIG_PATH: &str = "/etc/neurallog-agent/agent.yaml";
const SETUP_HINT: &str = "run `./x setup` (python3 with helm-python-sdk and kubernetes-validate)";

/// Values that turn every optional part of the chart on.
const EVERYTHING: &[&str] = &[
    "ingest.endpoint=https://ingest.example.com:4318",
    "ingest.tenant=acme",
    "ingest.tokenSecret.name=acme-ingest",
    "ingest.tokenSecret.key=bearer",
    "plugins.configMap=neurallog-plugins",
    "rbac.nodesProxy=false",
    "extraEnv[0].name=RUST_LOG,extraEnv[0].value=info",
    "extraVolumes[0].name=docker,extraVolumes[0].hostPath.path=/var/lib/docker/containers,extraVolumes[0].hostPath.type=Directory",
    "extraVolumeMounts[0].name=docker,extraVolumeMounts[0].mountPath=/var/lib/docker/containers,extraVolumeMounts[0].readOnly=true",
];

/// Plugins from an image volume, without the host's root filesystem.
const IMAGE_PLUGINS: &[&str] = &[
    "plugins.image.reference=registry.example.com/neurallog/plugins:1.0",
    "hostRootfs=false",
];

// === rendering ===

fn render_py() -> PathBuf {
    repo().join("packaging/helm/render.py")
}

/// The ingest endpoint the chart requires, given unless `sets` names one;
/// the plain manifests carry it as their placeholder.
const ENDPOINT: &str = "ingest.endpoint=https://ingest.example.com:4318";

fn template(sets: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(render_py()).arg("template");
    if !sets.iter().any(|s| s.starts_with("ingest.endpoint=")) {
        cmd.args(["--set", ENDPOINT]);
    }
    for set in sets {
        cmd.args(["--set", set]);
    }
    output(&mut cmd, SETUP_HINT)
}

/// The chart rendered with `--set` expressions, as `helm template` prints it.
fn render_text(sets: &[&str]) -> String {
    let out = template(sets);
    assert!(
        out.status.success(),
        "rendering the chart with {sets:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8(out.stdout).expect("UTF-8 manifests")
}

fn render(sets: &[&str]) -> Vec<Value> {
    yaml_docs(&render_text(sets))
}

fn plain_text() -> String {
    let dir = repo().join("packaging/kubernetes");
    ["namespace.yaml", "neurallog-agent.yaml"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).expect("plain manifest"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn plain() -> Vec<Value> {
    yaml_docs(&plain_text())
}

/// Every variant the tests check: the plain manifests and three renders.
fn variants() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("packaging/kubernetes", plain()),
        ("chart, default values", render(&[])),
        ("chart, every option", render(EVERYTHING)),
        ("chart, image plugins", render(IMAGE_PLUGINS)),
    ]
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<_> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind}");
    found[0]
}

/// Drop what only Helm sets, to compare a render with the plain manifests.
fn without_helm_labels(mut doc: Value) -> Value {
    if let Some(labels) = doc
        .get_mut("metadata")
        .and_then(|m| m.get_mut("labels"))
        .and_then(Value::as_mapping_mut)
    {
        labels.remove("helm.sh/chart");
        labels.remove("app.kubernetes.io/managed-by");
    }
    doc
}

// === the agent's configuration as the DaemonSet gives it ===

/// The agent configuration in the ConfigMap, as text.
fn config_text(docs: &[Value]) -> &str {
    find(docs, "ConfigMap")["data"]["agent.yaml"]
        .as_str()
        .expect("the ConfigMap has agent.yaml")
}

fn config(docs: &[Value]) -> Value {
    serde_yaml_ng::from_str(config_text(docs)).expect("agent.yaml is YAML")
}

fn agent_container(docs: &[Value]) -> &Value {
    let containers = seq_at(find(docs, "DaemonSet"), "spec.template.spec.containers");
    assert_eq!(containers.len(), 1, "one container, the agent");
    &containers[0]
}

/// The container's environment as the kubelet would set it: literal values,
/// and plausible values for downward-API fields.
fn container_env(docs: &[Value]) -> Vec<(String, String)> {
    seq_at(agent_container(docs), "env")
        .iter()
        .map(|var| {
            let name = str_at(var, "name").to_owned();
            let value = match at(var, "valueFrom.fieldRef.fieldPath").as_str() {
                Some("spec.nodeName") => "node-1".to_owned(),
                Some("status.hostIP") => "10.0.0.7".to_owned(),
                Some("metadata.name") => "neurallog-agent-x7k2p".to_owned(),
                Some("metadata.namespace") => NAMESPACE.to_owned(),
                Some(other) => panic!("unexpected fieldRef {other}"),
                None => str_at(var, "value").to_owned(),
            };
            (name, value)
        })
        .collect()
}

// === tests ===

#[test]
fn plain_manifests_are_the_chart_with_default_values() {
    // The generator's own check: the committed files are what it writes.
    let out = output(
        Command::new("python3")
            .arg(render_py())
            .args(["generate", "--check"]),
        SETUP_HINT,
    );
    assert!(
        out.status.success(),
        "generated files are stale:\n{}",
        text(&out)
    );
    // And independently of its text processing: object by object, the
    // plain manifests are the render without Helm's labels.
    let rendered: Vec<Value> = render(&[]).into_iter().map(without_helm_labels).collect();
    let plain: Vec<Value> = plain()
        .into_iter()
        .filter(|d| d["kind"] != "Namespace")
        .collect();
    assert_eq!(
        rendered.len(),
        plain.len(),
        "object count differs: {rendered:#?}"
    );
    for (r, p) in rendered.iter().zip(&plain) {
        assert_eq!(r, p, "{:?} differs from the chart", p["kind"]);
    }
    // Helm's labels are on every rendered object, so the comparison above
    // did remove something.
    for doc in render(&[]) {
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
    }
}

#[test]
fn every_manifest_passes_the_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![
        repo().join("packaging/kubernetes/namespace.yaml"),
        repo().join("packaging/kubernetes/neurallog-agent.yaml"),
    ];
    for (name, sets) in [("everything", EVERYTHING), ("image-plugins", IMAGE_PLUGINS)] {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, render_text(sets)).unwrap();
        files.push(path);
    }
    let expected_objects: usize = files
        .iter()
        .map(|f| yaml_docs(&std::fs::read_to_string(f).unwrap()).len())
        .sum();
    for version in KUBERNETES_VERSIONS {
        let out = validate(&files, version);
        let report = text(&out);
        println!("kubernetes-validate --strict -k {version}:\n{report}");
        assert!(out.status.success(), "schema validation failed:\n{report}");
        let passed = String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(
            passed, expected_objects,
            "every object validated:\n{report}"
        );
    }

    // The validator does reject what the API server would: a wrong type
    // and an unknown field in the DaemonSet.
    let good = std::fs::read_to_string(&files[1]).unwrap();
    for (bad, why) in [
        (
            good.replace(
                "readOnlyRootFilesystem: true",
                "readOnlyRootFilesystem: \"yes\"",
            ),
            "is not of type 'boolean'",
        ),
        (
            good.replace("maxSurge: 0", "maxSurge: 0\n      maxSurgeTypo: 0"),
            "maxSurgeTypo",
        ),
    ] {
        assert_ne!(bad, good);
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, bad).unwrap();
        let out = validate(&[path], KUBERNETES_VERSIONS[0]);
        assert!(!out.status.success(), "a broken DaemonSet passed");
        assert!(text(&out).contains(why), "{}", text(&out));
    }
}

fn validate(files: &[PathBuf], version: &str) -> std::process::Output {
    output(
        Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict", "-k", version])
            .args(files),
        SETUP_HINT,
    )
}

#[test]
fn the_chart_passes_helm_lint() {
    let out = output(
        Command::new("python3").arg(render_py()).arg("lint"),
        SETUP_HINT,
    );
    println!("{}", text(&out));
    assert!(out.status.success(), "helm lint --strict:\n{}", text(&out));
}

#[test]
fn configmap_holds_the_kubernetes_example_which_is_valid() {
    let example = std::fs::read_to_string(repo().join("config/examples/kubernetes.yaml")).unwrap();
    let chart_copy =
        std::fs::read_to_string(repo().join("packaging/helm/neurallog-agent/files/agent.yaml"))
            .unwrap();
    assert_eq!(chart_copy, example, "the chart's files/agent.yaml drifted");
    for (name, docs) in variants() {
        assert_eq!(
            config_text(&docs),
            example,
            "{name}: ConfigMap agent.yaml differs"
        );
        // Validated by the real binary, with the environment the DaemonSet
        // gives the container.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.yaml");
        std::fs::write(&path, config_text(&docs)).unwrap();
        let out = Command::new(binary())
            .args(["validate", "--config"])
            .arg(&path)
            .env_clear()
            .envs(container_env(&docs))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: the ConfigMap's agent.yaml is invalid:\n{}",
            text(&out)
        );
    }
    // The check can fail: an invalid configuration is refused.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.yaml");
    std::fs::write(
        &path,
        example.replace("internal_metrics", "internal_metricz"),
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
}

#[test]
fn daemonset_is_locked_down() {
    for (name, docs) in variants() {
        let ds = find(&docs, "DaemonSet");
        let pod = at(ds, "spec.template.spec");
        for host in ["hostNetwork", "hostPID", "hostIPC"] {
            assert_ne!(pod[host], true, "{name}: {host}");
        }
        assert_eq!(
            at(pod, "securityContext.seccompProfile.type"),
            "RuntimeDefault",
            "{name}"
        );
        let mut containers = seq_at(pod, "containers").to_vec();
        containers.extend(seq_at(pod, "initContainers").iter().cloned());
        for c in &containers {
            let sc = &c["securityContext"];
            assert_ne!(sc["privileged"], true, "{name}: privileged");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(at(sc, "seccompProfile.type"), "RuntimeDefault", "{name}");
            let drop: Vec<_> = seq_at(sc, "capabilities.drop").to_vec();
            assert_eq!(drop, vec![Value::from("ALL")], "{name}: drop ALL");
            let add: Vec<_> = seq_at(sc, "capabilities.add").to_vec();
            assert_eq!(
                add,
                vec![Value::from("DAC_READ_SEARCH")],
                "{name}: only DAC_READ_SEARCH"
            );
        }
    }
}

#[test]
fn host_paths_are_read_only_except_the_state_directory() {
    for (name, docs) in variants() {
        let pod = at(find(&docs, "DaemonSet"), "spec.template.spec");
        let host_paths: Vec<(&str, &str, &str)> = seq_at(pod, "volumes")
            .iter()
            .filter(|v| !v["hostPath"].is_null())
            .map(|v| {
                (
                    str_at(v, "name"),
                    str_at(v, "hostPath.path"),
                    at(v, "hostPath.type").as_str().unwrap_or(""),
                )
            })
            .collect();
        let mounts = seq_at(agent_container(&docs), "volumeMounts");
        let mut writable = Vec::new();
        let mut mounted = BTreeSet::new();
        for (volume, host_path, kind) in &host_paths {
            for m in mounts.iter().filter(|m| m["name"] == *volume) {
                let mount_path = str_at(m, "mountPath");
                mounted.insert((host_path.to_string(), mount_path.to_owned()));
                if m["readOnly"] != true {
                    writable.push((*host_path, mount_path, *kind));
                }
            }
        }
        assert_eq!(
            writable,
            vec![(STATE_DIR, STATE_DIR, "DirectoryOrCreate")],
            "{name}: the one writable host path is the state directory"
        );
        for (host, path) in [
            ("/var/log", "/var/log"),
            ("/var/log/pods", "/var/log/pods"),
            ("/proc", "/host/proc"),
            ("/sys", "/host/sys"),
        ] {
            assert!(
                mounted.contains(&(host.to_owned(), path.to_owned())),
                "{name}: {host} at {path} missing from {mounted:?}"
            );
        }
        let root = mounted.contains(&("/".to_owned(), "/host/root".to_owned()));
        assert_eq!(root, name != "chart, image plugins", "{name}: hostRootfs");

        // The configuration reads the node where the DaemonSet mounts it.
        let config = config(&docs);
        assert_eq!(config["data_dir"], STATE_DIR, "{name}");
        let mount_of = |host: &str| {
            mounted
                .iter()
                .find(|(h, _)| h == host)
                .map(|(_, m)| m.clone())
        };
        let mut checked = 0;
        for (source_name, source) in config["sources"].as_mapping().unwrap() {
            let fields: &[(&str, &str, &str)] = match source["type"].as_str() {
                Some("host_metrics") => &[
                    ("proc_path", "/proc", "/proc"),
                    ("sys_path", "/sys", "/sys"),
                    ("root_path", "/", "/"),
                ],
                Some("pod_metrics") => &[
                    ("sys_path", "/sys", "/sys"),
                    ("pod_logs_dir", "/var/log/pods", "/var/log/pods"),
                ],
                Some("kubernetes_logs") => &[("pods_dir", "/var/log/pods", "/var/log/pods")],
                _ => &[],
            };
            for (field, host, default) in fields {
                if *host == "/" && !root {
                    continue;
                }
                let value = source[*field].as_str().unwrap_or(default);
                assert_eq!(
                    Some(value.to_owned()),
                    mount_of(host),
                    "{name}: sources.{source_name:?}.{field} is not where {host} is mounted"
                );
                checked += 1;
            }
        }
        println!("{name}: {checked} host paths of the configuration are mounted");
    }
}

#[test]
fn probes_node_name_token_and_termination() {
    for (name, docs) in variants() {
        let ds = find(&docs, "DaemonSet");
        let pod = at(ds, "spec.template.spec");
        let agent = agent_container(&docs);
        let config = config(&docs);

        // The admin server listens where the probes look.
        let address = config["admin"]["address"].as_str().expect("admin.address");
        let (host, port) = address.rsplit_once(':').unwrap();
        assert_eq!(host, "0.0.0.0", "{name}: probes come from the node");
        let port: u64 = port.parse().unwrap();
        let ports = seq_at(agent, "ports");
        let admin = ports
            .iter()
            .find(|p| p["name"] == "admin")
            .expect("admin port");
        assert_eq!(admin["containerPort"], port, "{name}");
        for (probe, path) in [
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ] {
            assert_eq!(at(agent, &format!("{probe}.httpGet.path")), path, "{name}");
            assert_eq!(
                at(agent, &format!("{probe}.httpGet.port")),
                "admin",
                "{name}"
            );
        }

        // NODE_NAME from the downward API.
        let node_name = seq_at(agent, "env")
            .iter()
            .find(|v| v["name"] == "NODE_NAME")
            .expect("NODE_NAME");
        assert_eq!(
            at(node_name, "valueFrom.fieldRef.fieldPath"),
            "spec.nodeName",
            "{name}"
        );

        // The configuration file the agent runs with is the ConfigMap.
        let args: Vec<&str> = seq_at(agent, "args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(args, ["run", "--config", CONFIG_PATH], "{name}");
        let config_volume = seq_at(pod, "volumes")
            .iter()
            .find(|v| {
                v["configMap"]["name"] == at(find(&docs, "ConfigMap"), "metadata.name").clone()
            })
            .expect("the ConfigMap is a volume");
        let config_mount = seq_at(agent, "volumeMounts")
            .iter()
            .find(|m| m["name"] == config_volume["name"])
            .expect("the ConfigMap is mounted");
        assert_eq!(
            Path::new(str_at(config_mount, "mountPath")).join("agent.yaml"),
            Path::new(CONFIG_PATH),
            "{name}: mounted as a directory, so updates reach the agent"
        );
        assert!(config_mount["subPath"].is_null(), "{name}");

        // The ingest token: a Secret, mounted read-only as a file.
        let secret = seq_at(pod, "volumes")
            .iter()
            .find(|v| !v["secret"].is_null())
            .expect("the token Secret is a volume");
        let token_mount = seq_at(agent, "volumeMounts")
            .iter()
            .find(|m| m["name"] == secret["name"])
            .expect("the token Secret is mounted");
        assert_eq!(token_mount["readOnly"], true, "{name}");
        let token_dir = str_at(token_mount, "mountPath");
        assert_eq!(seq_at(secret, "secret.items").len(), 1, "{name}: one key");
        let token_file =
            Path::new(token_dir).join(str_at(&seq_at(secret, "secret.items")[0], "path"));
        assert_eq!(
            token_file,
            Path::new("/var/run/secrets/neurallog/ingest/token")
        );
        // Every token file the configuration names is that file.
        for path in values_of_key(&config, "bearer_token_file") {
            assert_eq!(Path::new(&path), token_file, "{name}");
        }
        // The service-account token, for the kubelet (pod_metrics' default
        // token_file), is mounted.
        assert_eq!(pod["automountServiceAccountToken"], true, "{name}");
        assert_eq!(
            find(&docs, "ServiceAccount")["automountServiceAccountToken"],
            true
        );
        // No secret in the environment.
        for var in seq_at(agent, "env") {
            assert!(var["valueFrom"]["secretKeyRef"].is_null(), "{name}");
        }

        // Longer than the drain deadline.
        let drain = config["shutdown_timeout_secs"].as_u64().unwrap_or(30);
        let grace = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("grace period");
        assert!(
            grace > drain,
            "{name}: {grace} s <= shutdown_timeout_secs {drain}"
        );
    }
}

/// Every string value of `key` anywhere in `value`.
fn values_of_key(value: &Value, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                if k == key {
                    found.extend(v.as_str().map(str::to_owned));
                }
                found.extend(values_of_key(v, key));
            }
        }
        Value::Sequence(seq) => seq.iter().for_each(|v| found.extend(values_of_key(v, key))),
        _ => {}
    }
    found
}

#[test]
fn scheduling_resources_and_rollout() {
    for (name, docs) in variants() {
        let ds = find(&docs, "DaemonSet");
        let pod = at(ds, "spec.template.spec");
        assert_eq!(pod["priorityClassName"], "system-node-critical", "{name}");
        // One toleration that tolerates every taint, control planes included.
        let everything: Value = serde_yaml_ng::from_str("{operator: Exists}").unwrap();
        assert!(
            seq_at(pod, "tolerations").contains(&everything),
            "{name}: {:?}",
            pod["tolerations"]
        );
        let resources = &agent_container(&docs)["resources"];
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    !resources[kind][resource].is_null(),
                    "{name}: {kind}.{resource}"
                );
            }
        }
        assert_eq!(
            at(ds, "spec.updateStrategy.type"),
            "RollingUpdate",
            "{name}"
        );
        assert!(
            !at(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable").is_null(),
            "{name}"
        );
        assert_eq!(
            at(ds, "spec.updateStrategy.rollingUpdate.maxSurge"),
            0,
            "{name}"
        );
        // The pod's labels select it, and the agent skips its own logs.
        let selector = at(ds, "spec.selector.matchLabels").as_mapping().unwrap();
        let labels = at(ds, "spec.template.metadata.labels")
            .as_mapping()
            .unwrap();
        for (k, v) in selector {
            assert_eq!(labels.get(k), Some(v), "{name}");
        }
        assert_eq!(
            at(ds, "spec.template.metadata.annotations")["neurallog.io/exclude"],
            "true",
            "{name}"
        );
    }
}

#[test]
fn rbac_grants_only_what_the_agent_asks_the_kubelet() {
    for (name, docs) in variants() {
        let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert!(
            !kinds.contains("Role") && !kinds.contains("RoleBinding"),
            "{name}"
        );
        let role = find(&docs, "ClusterRole");
        let mut grants = BTreeSet::new();
        for rule in seq_at(role, "rules") {
            assert!(rule["resourceNames"].is_null() && rule["nonResourceURLs"].is_null());
            for group in seq_at(rule, "apiGroups") {
                for resource in seq_at(rule, "resources") {
                    for verb in seq_at(rule, "verbs") {
                        grants.insert(format!(
                            "{}/{} {}",
                            group.as_str().unwrap(),
                            resource.as_str().unwrap(),
                            verb.as_str().unwrap()
                        ));
                    }
                }
            }
        }
        let mut expected: BTreeSet<String> = ["/nodes/stats get", "/nodes/pods get"]
            .map(String::from)
            .into();
        // nodes/proxy is granted by default, for kubelets before 1.33; the
        // every-option render turns it off.
        if name != "chart, every option" {
            expected.insert("/nodes/proxy get".to_owned());
        }
        assert_eq!(grants, expected, "{name}");

        let binding = find(&docs, "ClusterRoleBinding");
        assert_eq!(at(binding, "roleRef.name"), at(role, "metadata.name"));
        let account = find(&docs, "ServiceAccount");
        let subjects = seq_at(binding, "subjects");
        assert_eq!(subjects.len(), 1, "{name}");
        assert_eq!(subjects[0]["kind"], "ServiceAccount");
        assert_eq!(subjects[0]["name"], account["metadata"]["name"]);
        assert_eq!(subjects[0]["namespace"], NAMESPACE);
        assert_eq!(
            at(
                find(&docs, "DaemonSet"),
                "spec.template.spec.serviceAccountName"
            ),
            at(account, "metadata.name")
        );
        for doc in &docs {
            if !matches!(
                doc["kind"].as_str(),
                Some("ClusterRole" | "ClusterRoleBinding" | "Namespace")
            ) {
                assert_eq!(at(doc, "metadata.namespace"), NAMESPACE, "{name}");
            }
        }
    }
}

#[test]
fn namespace_admits_the_agent_and_audits_baseline() {
    let docs = plain();
    let ns = find(&docs, "Namespace");
    assert_eq!(at(ns, "metadata.name"), NAMESPACE);
    let labels = &ns["metadata"]["labels"];
    // hostPath volumes and DAC_READ_SEARCH are outside `baseline`.
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "privileged");
    assert_eq!(labels["pod-security.kubernetes.io/audit"], "baseline");
}

#[test]
fn chart_values_reach_the_daemonset() {
    let docs = render(EVERYTHING);
    let env = container_env(&docs);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        get("NEURALLOG_INGEST_ENDPOINT"),
        Some("https://ingest.example.com:4318")
    );
    assert_eq!(get("NEURALLOG_INGEST_TENANT"), Some("acme"));
    assert_eq!(get("RUST_LOG"), Some("info"));
    let defaults = container_env(&render(&[]));
    assert!(
        defaults.iter().all(|(n, _)| n != "NEURALLOG_INGEST_TENANT"),
        "no tenant unless one is given: {defaults:?}"
    );
    // The endpoint has no default: without it the chart refuses to render
    // and says which value is missing.
    let out = template(&["ingest.endpoint="]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("ingest.endpoint is required"),
        "{}",
        text(&out)
    );

    let pod = at(find(&docs, "DaemonSet"), "spec.template.spec");
    let secret = seq_at(pod, "volumes")
        .iter()
        .find(|v| !v["secret"].is_null())
        .unwrap();
    assert_eq!(at(secret, "secret.secretName"), "acme-ingest");
    assert_eq!(seq_at(secret, "secret.items")[0]["key"], "bearer");

    // Plugins are mounted read-only where the configuration looks for them.
    let plugins_dir = config(&docs)["plugins"]["directory"]
        .as_str()
        .unwrap()
        .to_owned();
    for (sets, source) in [(EVERYTHING, "configMap"), (IMAGE_PLUGINS, "image")] {
        let docs = render(sets);
        let pod = at(find(&docs, "DaemonSet"), "spec.template.spec");
        let volume = seq_at(pod, "volumes")
            .iter()
            .find(|v| v["name"] == "plugins")
            .unwrap();
        assert!(!volume[source].is_null(), "{source}: {volume:?}");
        let mount = seq_at(agent_container(&docs), "volumeMounts")
            .iter()
            .find(|m| m["name"] == "plugins")
            .unwrap();
        assert_eq!(mount["mountPath"], plugins_dir.as_str());
        assert_eq!(mount["readOnly"], true);
    }
    let defaults = render(&[]);
    let pod = at(find(&defaults, "DaemonSet"), "spec.template.spec");
    assert!(
        seq_at(pod, "volumes")
            .iter()
            .all(|v| v["name"] != "plugins")
    );

    // The extra mount is there, read-only.
    let mount = seq_at(agent_container(&docs), "volumeMounts")
        .iter()
        .find(|m| m["name"] == "docker")
        .unwrap();
    assert_eq!(mount["readOnly"], true);

    // Both plugin sources at once is refused, with a reason.
    let mut cmd = Command::new("python3");
    cmd.arg(render_py()).args([
        "template",
        "--set",
        "plugins.configMap=a",
        "--set",
        "plugins.image.reference=b",
    ]);
    let out = output(&mut cmd, SETUP_HINT);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("set at most one of plugins.configMap and plugins.image.reference")
    );
}

#[test]
fn versions_agree() {
    let chart =
        std::fs::read_to_string(repo().join("packaging/helm/neurallog-agent/Chart.yaml")).unwrap();
    let chart: Value = serde_yaml_ng::from_str(&chart).unwrap();
    let version = workspace_version();
    assert_eq!(
        chart["appVersion"],
        version.as_str(),
        "Chart.yaml appVersion"
    );
    let image = str_at(agent_container(&plain()), "image").to_owned();
    assert!(image.ends_with(&format!(":{version}")), "{image}");
}
