//! `neurallog-agent plugin new`: a crate written outside the repository,
//! built there with the one command the agent prints, its own unit tests
//! passing, and its component loaded and run by the agent, with
//! `plugin run` and as a check in a worker.
//!
//! The build's `CARGO_TARGET_DIR` is a directory kept beside this test
//! binary's target, so that reruns are warm; the component is then under it
//! rather than under the crate's own `target/`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::agent::{Agent, binary, run};
use crate::support::{repo_root, wait_for};

/// The target directory the scaffolded crates are built in.
pub(crate) fn build_target() -> PathBuf {
    // This test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("plugin-new-target")
}

/// The printed command after the line that starts with `heading`.
pub(crate) fn command_after(stdout: &str, heading: &str) -> String {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(heading));
    lines
        .next()
        .unwrap_or_else(|| panic!("{heading:?} in:\n{stdout}"));
    lines.next().unwrap().trim().to_owned()
}

/// Runs `command` with `sh -c` in `dir`, as a user would outside the
/// repository: none of the outer build's cargo settings leak in.
pub(crate) fn shell(command: &str, dir: &Path) -> Output {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", build_target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "`{command}` failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn a_crate_from_plugin_new_builds_outside_the_repository_and_runs_in_the_agent() {
    let work = tempfile::tempdir().unwrap();
    assert!(
        !work.path().starts_with(repo_root()),
        "outside the repository"
    );
    let dir = work.path().join("disk-note");
    let out = run(&["plugin", "new", "disk-note", "--dir", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with(&format!(
        "Created the check plugin `disk-note` in {} (neurallog-plugin-sdk 0.1.1 vendored in vendor/neurallog-plugin-sdk).",
        dir.display()
    )));
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "src/lib.rs",
        "vendor/neurallog-plugin-sdk/Cargo.toml",
        "vendor/neurallog-plugin-sdk/wit/plugin.wit",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }

    // The build command as printed, then the tests.
    let build = command_after(&stdout, "Build the component");
    assert_eq!(
        build,
        format!(
            "cd {} && cargo build --release --target wasm32-wasip2",
            dir.display()
        )
    );
    shell(&build, work.path());
    let wasm = build_target().join("wasm32-wasip2/release/disk_note.wasm");
    assert!(wasm.is_file(), "{} was built", wasm.display());
    println!(
        "component: {} bytes",
        std::fs::metadata(&wasm).unwrap().len()
    );
    let test = command_after(&stdout, "Test its logic natively");
    let tested = shell(&test, work.path());
    let tested = String::from_utf8_lossy(&tested.stdout);
    println!("{tested}");
    assert!(
        tested.contains("test result: ok. 5 passed; 0 failed"),
        "{tested}"
    );

    // Loaded and run by the agent, once by hand...
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("note.txt"), "twelve bytes").unwrap();
    // The worker below reads it as an unprivileged user.
    for path in [work.path(), &data] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = work.path().join("config.json");
    let note = data.join("note.txt");
    std::fs::write(&config, format!(r#"{{"path": "{}"}}"#, note.display())).unwrap();
    let out = Command::new(binary())
        .args(["plugin", "run"])
        .arg(&wasm)
        .arg("--config")
        .arg(&config)
        .arg("--grant-dir")
        .arg(&data)
        .output()
        .unwrap();
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("{result:#}");
    assert!(out.status.success(), "{result}");
    assert_eq!(result["plugin"], "disk-note");
    assert_eq!(result["status"], "ok");
    assert_eq!(
        result["summary"],
        format!("{} has 12 bytes", note.display())
    );
    assert_eq!(result["metrics"][0]["name"], "file_size_bytes");
    assert_eq!(result["metrics"][0]["value"], 12.0);

    // ...and as a check, in a worker, as a third-party plugin.
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  note:
    type: wasm
    path: {wasm}
    interval_secs: 300
    config:
      path: {note}
    grants:
      directories: [\"{data}\"]
sinks:
  prom:
    type: prometheus
    inputs: [note]
",
        wasm = wasm.display(),
        note = note.display(),
        data = data.display(),
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    let status = wait_for("the check's first run", Duration::from_secs(60), || {
        agent.metric("neurallog_check_status{check=\"note\"}")
    });
    assert_eq!(status, 0.0, "{}", agent.stderr());
    let last = super::last_result(&agent, "note");
    assert!(last["worker"]["pid"].as_u64().is_some(), "{last}");
    assert!(
        agent
            .get("/metrics")
            .1
            .lines()
            .any(|l| l.starts_with("file_size_bytes{check=\"note\"") && l.ends_with(" 12")),
        "{}",
        agent.get("/metrics").1
    );
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_existing_directory() {
    let work = tempfile::tempdir().unwrap();
    let out = run(&[
        "plugin",
        "new",
        "2fa",
        "--dir",
        work.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid plugin name \"2fa\": it must start with an ASCII letter\n"
    );
    assert!(!work.path().join("x").exists());

    let taken = work.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("Cargo.toml"), "mine").unwrap();
    let out = run(&["plugin", "new", "taken", "--dir", taken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {} already exists: choose another --dir, or remove it first\n",
            taken.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(taken.join("Cargo.toml")).unwrap(),
        "mine"
    );

    let out = run(&[
        "plugin",
        "new",
        "fine",
        "--dir",
        work.path().join("fine").to_str().unwrap(),
        "--sdk-version",
        "latest",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid SDK version \"latest\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
