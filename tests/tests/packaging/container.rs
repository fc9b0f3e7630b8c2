//! `packaging/container/Containerfile`. No container engine runs on these
//! machines, so the recipe is read, not built: its instructions are checked
//! against the workspace (toolchain version, the plugin target, the binary's
//! path) and against the DaemonSet that runs the image (command, admin port,
//! plugin directory).

use serde_yaml_ng::Value;

use super::{repo, toml_string, yaml_docs};

/// The instructions, continuation lines joined: (INSTRUCTION, arguments).
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("packaging/container/Containerfile")).unwrap();
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        joined.push(std::mem::take(&mut current));
    }
    joined
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (op, args) = l.split_once(' ').unwrap_or((&l, ""));
            (op.to_uppercase(), args.trim().to_owned())
        })
        .collect()
}

fn daemonset_container() -> Value {
    let text =
        std::fs::read_to_string(repo().join("packaging/kubernetes/neurallog-agent.yaml")).unwrap();
    let ds = yaml_docs(&text)
        .into_iter()
        .find(|d| d["kind"] == "DaemonSet")
        .unwrap();
    ds["spec"]["template"]["spec"]["containers"][0].clone()
}

#[test]
fn containerfile_builds_the_agent_in_stages_and_runs_it_like_the_daemonset() {
    let ins = instructions();
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );

    // The build stage: the workspace's toolchain, the wasm32-wasip2 target
    // for the embedded first-party plugins, a locked release build.
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let rust_version = toml_string(&cargo, "rust-version");
    let arg = ins
        .iter()
        .find(|(op, a)| op == "ARG" && a.starts_with("RUST_VERSION="))
        .expect("ARG RUST_VERSION");
    assert_eq!(arg.1, format!("RUST_VERSION={rust_version}"));
    assert!(
        froms[0].starts_with("docker.io/library/rust:${RUST_VERSION}-")
            && froms[0].ends_with(" AS build")
    );
    let runs: Vec<&String> = ins
        .iter()
        .filter(|(op, _)| op == "RUN")
        .map(|(_, a)| a)
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("rustup target add wasm32-wasip2"))
    );
    let build = runs
        .iter()
        .find(|r| r.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.contains("cargo build --release --locked -p neurallog-agent"),
        "{build}"
    );

    // The runtime stage: small, glibc (the binary is linked against it),
    // and only what the build stage produced.
    let runtime = froms[1].as_str();
    assert!(
        runtime.starts_with("gcr.io/distroless/cc-debian")
            || runtime.starts_with("docker.io/library/debian:") && runtime.contains("-slim"),
        "{runtime}"
    );
    let copies: Vec<&String> = ins
        .iter()
        .skip_while(|(op, a)| !(op == "FROM" && a == runtime))
        .filter(|(op, _)| op == "COPY")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(copies, ["--from=build /rootfs/ /"]);
    for path in [
        "/rootfs/usr/bin/neurallog-agent",
        "/rootfs/etc/neurallog-agent/agent.yaml",
        "/rootfs/usr/lib/neurallog-agent/plugins",
        "/rootfs/var/lib/neurallog-agent",
    ] {
        assert!(
            build.contains(path),
            "{path} not installed by the build stage"
        );
    }
    assert!(
        build.contains("config/examples/kubernetes.yaml /rootfs/etc/neurallog-agent/agent.yaml")
    );

    // What the DaemonSet runs is what the image holds.
    let container = daemonset_container();
    let op = |name: &str| {
        ins.iter()
            .rev()
            .find(|(o, _)| o == name)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(op("ENTRYPOINT"), r#"["/usr/bin/neurallog-agent"]"#);
    let args: Vec<String> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let cmd: Vec<String> = serde_json::from_str(&op("CMD")).unwrap();
    assert_eq!(cmd, args, "CMD and the DaemonSet's args");
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(op("EXPOSE"), port.to_string());
    assert_eq!(op("USER"), "0:0", "see the DaemonSet's securityContext");
    let example: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("config/examples/kubernetes.yaml")).unwrap(),
    )
    .unwrap();
    let plugins = example["plugins"]["directory"].as_str().unwrap();
    assert!(build.contains(&format!("/rootfs{plugins}")));

    // The context leaves out build output.
    let ignore =
        std::fs::read_to_string(repo().join("packaging/container/Containerfile.dockerignore"))
            .unwrap();
    assert!(ignore.lines().any(|l| l == "target"));
}
