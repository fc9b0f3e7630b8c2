//! A plugin built from the template by following `plugins/README.md` word
//! for word: the README's shell blocks, in order, run in a copy of the
//! plugins workspace.
//!
//! Two substitutions, both ones the README itself allows: `CARGO_TARGET_DIR`
//! points at a cache shared between runs, so the `.wasm` is under
//! `$CARGO_TARGET_DIR/wasm32-wasip2/release/` as the README says it then is;
//! and `../target/release/neurallog-agent` is the agent binary under test
//! (so its own `cargo build --release -p neurallog-agent` is skipped).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::agent::{Agent, binary};
use crate::support::{repo_root, wait_for};

/// The fenced `sh` blocks of `text`, in order.
fn shell_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn a_plugin_made_from_the_template_by_following_the_readme_loads_and_runs() {
    let repo = repo_root();
    let readme = std::fs::read_to_string(repo.join("plugins/README.md")).unwrap();
    let work = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("plugins"), &work.path().join("plugins"));
    copy_dir(&repo.join("wit"), &work.path().join("wit"));
    let target = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/neurallog-agent/readme-plugins-target"))
        .unwrap();
    let agent = binary().display().to_string();
    let blocks = shell_blocks(&readme);
    assert!(blocks.len() >= 6, "the README's steps: {blocks:#?}");

    let mut script = String::from("set -eux\n");
    for block in &blocks {
        if block.contains("sha256sum") {
            // Deployment is checked below, with the agent.
            break;
        }
        let block = block
            .replace("cargo build --release -p neurallog-agent", "true")
            .replace(
                "target/wasm32-wasip2/release/",
                "$CARGO_TARGET_DIR/wasm32-wasip2/release/",
            )
            .replace("../target/release/neurallog-agent", &agent);
        script.push_str(&block);
    }
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path().join("plugins"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the README's steps failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );

    // What the README says the run prints.
    // The JSON documents printed, in order: the run's result, then inspect's.
    let documents: Vec<serde_json::Value> = stdout
        .match_indices("\n{\n")
        .map(|(at, _)| at + 1)
        .chain(stdout.starts_with("{\n").then_some(0))
        .filter_map(|at| {
            serde_json::Deserializer::from_str(&stdout[at..])
                .into_iter()
                .next()?
                .ok()
        })
        .collect();
    let result = documents
        .iter()
        .find(|d| d.get("outcome").is_some())
        .expect("plugin run printed a result");
    assert_eq!(result["status"], "ok", "{result}");
    assert_eq!(
        result["summary"],
        "/tmp/my-check-demo/greeting.txt has 6 bytes"
    );
    assert_eq!(result["metrics"][0]["name"], "file_size_bytes");
    assert_eq!(result["metrics"][0]["value"], 6.0);
    assert!(
        stdout.contains("\"world\": \"neurallog:plugin/check@0.1.1\""),
        "plugin inspect output:\n{stdout}"
    );

    // Deploy as section 5 says: the file in the plugin directory, a check
    // naming it, pinned by its sha256.
    let plugins_dir = work.path().join("agent-plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    let wasm = target.join("wasm32-wasip2/release/my_check.wasm");
    std::fs::copy(&wasm, plugins_dir.join("my_check.wasm")).unwrap();
    let sha = Command::new("sha256sum").arg(&wasm).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let yaml = format!(
        "
data_dir: {{data_dir}}
plugins:
  directory: {plugins}
checks:
  greeting_file:
    type: wasm
    plugin: my_check
    sha256: \"{sha}\"
    interval_secs: 300
    config:
      path: /tmp/my-check-demo/greeting.txt
    grants:
      directories: [\"/tmp/my-check-demo\"]
sinks:
  prom:
    type: prometheus
    inputs: [greeting_file]
",
        plugins = plugins_dir.display()
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    wait_for("the deployed check to run", Duration::from_secs(30), || {
        agent.metric("neurallog_check_status{check=\"greeting_file\"}")
    });
    assert_eq!(
        agent.metric("neurallog_check_status{check=\"greeting_file\"}"),
        Some(0.0)
    );
    assert!(
        agent
            .get("/metrics")
            .1
            .contains("file_size_bytes{check=\"greeting_file\"")
    );
}
