//! A check written in Python: `plugins/examples/python-file-age`, built
//! from source with componentize-py against `wit/`, validated through the
//! schema it publishes, and run by the agent as a third-party plugin in its
//! worker process, compiled once however many checks use it, with the
//! compile cache making the second start cheap.
//!
//! The numbers that matter for such components (size, build time, first
//! compile, cached load) are printed, not asserted: they are wall-clock
//! figures of a shared machine.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use super::last_result;
use crate::support::agent::{Agent, run};
use crate::support::{repo_root, wait_for};

/// Builds the example into `out/file_age.wasm` with componentize-py.
fn build_component(out: &Path) -> PathBuf {
    let repo = repo_root();
    let wasm = out.join("file_age.wasm");
    let started = Instant::now();
    let output = Command::new("componentize-py")
        .arg("-d")
        .arg(repo.join("wit"))
        .args(["-w", "check", "componentize", "app", "-p"])
        .arg(repo.join("plugins/examples/python-file-age"))
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("componentize-py runs (./x setup installs it)");
    assert!(
        output.status.success(),
        "componentize-py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "python-file-age: componentize-py built {} bytes in {:.1} s",
        std::fs::metadata(&wasm).unwrap().len(),
        started.elapsed().as_secs_f64()
    );
    wasm
}

/// Runs the example's own unit tests (`test_app.py`) natively, with the
/// bindings componentize-py generates; returns unittest's report.
fn unit_tests(scratch: &Path) -> String {
    let repo = repo_root();
    let bindings = scratch.join("bindings");
    let status = Command::new("componentize-py")
        .arg("-d")
        .arg(repo.join("wit"))
        .args(["-w", "check", "bindings"])
        .arg(&bindings)
        .status()
        .unwrap();
    assert!(status.success(), "componentize-py bindings");
    let output = Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(repo.join("plugins/examples/python-file-age"))
        .env("PYTHONPATH", &bindings)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{report}");
    report
}

fn set_age(path: &Path, age: Duration) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

fn agent_yaml(plugins: &Path, data: &Path) -> String {
    format!(
        "
data_dir: {{data_dir}}
plugins:
  directory: {plugins}
checks:
  export_fresh:
    type: wasm
    plugin: file_age
    interval_secs: 300
    config:
      path: {data}/fresh.csv
    grants:
      directories: [\"{data}\"]
  export_stale:
    type: wasm
    plugin: file_age
    interval_secs: 300
    config:
      path: {data}/stale.csv
      warning_age_secs: 3600
      critical_age_secs: 86400
    grants:
      directories: [\"{data}\"]
sinks:
  prom:
    type: prometheus
    inputs: [export_fresh, export_stale]
",
        plugins = plugins.display(),
        data = data.display(),
    )
}

/// Starts the agent in `dir` and waits for both checks' first results.
fn start_and_wait(dir: tempfile::TempDir, yaml: &str) -> Agent {
    let mut agent = Agent::start_in(dir, yaml, &[]);
    agent.wait_ready();
    for check in ["export_fresh", "export_stale"] {
        wait_for(
            &format!("{check}'s first run"),
            // A first start compiles the component, in each check's worker.
            Duration::from_secs(180),
            || agent.metric(&format!("neurallog_check_status{{check=\"{check}\"}}")),
        );
    }
    agent
}

#[test]
fn a_python_check_built_from_source_runs_in_the_worker_and_is_cached() {
    let work = tempfile::tempdir().unwrap();
    let plugins = work.path().join("plugins");
    let data = work.path().join("exports");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    // The worker reads the granted directory as an unprivileged user.
    for path in [work.path(), &data] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(data.join("fresh.csv"), "id,total\n1,10\n").unwrap();
    std::fs::write(data.join("stale.csv"), "id,total\n").unwrap();
    set_age(&data.join("stale.csv"), Duration::from_secs(2 * 3600));
    let report = unit_tests(work.path());
    assert!(report.contains("Ran 6 tests"), "{report}");
    let wasm = build_component(&plugins);

    // `validate` checks each check's config against the schema `describe`
    // publishes: a misspelt field and a wrong type are named.
    let bad = work.path().join("bad.yaml");
    std::fs::write(
        &bad,
        agent_yaml(&plugins, &data)
            .replace(
                "{data_dir}",
                &work.path().join("data").display().to_string(),
            )
            .replace("warning_age_secs: 3600", "warning_age_secs: an hour")
            .replace("critical_age_secs: 86400", "critical_age_sec: 86400"),
    )
    .unwrap();
    let out = run(&["validate", "--config", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("checks.export_stale.config.warning_age_secs"),
        "{stderr}"
    );
    assert!(stderr.contains("critical_age_sec"), "{stderr}");
    assert!(!stderr.contains("export_fresh"), "{stderr}");

    // The agent, twice on the same data_dir: the first start compiles the
    // component, the second loads it from the cache.
    let yaml = agent_yaml(&plugins, &data);
    let mut agent = start_and_wait(tempfile::tempdir().unwrap(), &yaml);
    let fresh = last_result(&agent, "export_fresh");
    let stale = last_result(&agent, "export_stale");
    println!("{fresh:#}\n{stale:#}");
    assert_eq!(fresh["status"], "ok", "{fresh}\n{}", agent.stderr());
    assert_eq!(fresh["plugin"], "file-age");
    assert!(
        fresh["worker"]["pid"].as_u64().is_some(),
        "in a worker: {fresh}"
    );
    assert_eq!(stale["status"], "warning", "{stale}");
    assert!(
        stale["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/stale.csv was modified 7", data.display())),
        "{stale}"
    );
    let sample = |name: &str, check: &str| {
        let series: Vec<(String, f64)> = super::samples(&agent, &format!("{name}{{"))
            .into_iter()
            .filter(|(series, _)| series.contains(&format!("check=\"{check}\"")))
            .collect();
        assert_eq!(series.len(), 1, "one {name} for {check}: {series:?}");
        series[0].1
    };
    let age = sample("file_age_seconds", "export_stale");
    assert!((7200.0..7500.0).contains(&age), "{age}");
    assert_eq!(sample("file_size_bytes", "export_fresh"), 14.0);
    // Both checks' workers load the component at once: one compiles it,
    // the other waits for that and loads it from the cache.
    let mut loads = [&fresh["plugin_load"], &stale["plugin_load"]];
    loads.sort_by_key(|load| load["cache"].as_str().map(str::to_owned));
    assert_eq!(
        [&loads[0]["cache"], &loads[1]["cache"]],
        ["hit", "miss"],
        "{loads:?}"
    );
    let first = loads[1].clone();

    agent.terminate(Duration::from_secs(30));
    let agent = start_and_wait(agent.into_dir(), &yaml);
    let fresh = last_result(&agent, "export_fresh");
    let second = &fresh["plugin_load"];
    assert_eq!(second["cache"], "hit", "{fresh}");
    assert_eq!(fresh["status"], "ok");
    assert_eq!(
        last_result(&agent, "export_stale")["plugin_load"]["cache"],
        "hit"
    );
    println!(
        "python-file-age: {} bytes; first load (compile) {:.0} ms, cached load {:.0} ms",
        std::fs::metadata(&wasm).unwrap().len(),
        first["load_ms"].as_f64().unwrap(),
        second["load_ms"].as_f64().unwrap(),
    );
}
