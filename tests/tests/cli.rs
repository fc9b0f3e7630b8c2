//! The command line: `validate`, `print-config`, `schema`, `--help`, and the
//! shipped configuration files.

use std::path::Path;

use crate::support::agent::run;

fn validate(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = run(&["validate", "--config", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(path.to_str().unwrap(), "agent.yaml");
    (out.status.code().unwrap_or(-1), stderr)
}

fn assert_rejected(yaml: &str, expected: &str) {
    let (code, stderr) = validate(yaml);
    assert_eq!(
        code, 78,
        "expected exit code 78 for:\n{yaml}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

#[test]
fn validate_rejects_an_unknown_field() {
    assert_rejected(
        "sources:\n  m:\n    type: internal_metrics\n    intervl_secs: 5\nsinks:\n  o:\n    type: console\n    inputs: [m]\n",
        "agent.yaml: sources.m.intervl_secs: unknown field `intervl_secs`, expected `interval_secs`",
    );
}

#[test]
fn validate_rejects_a_wrong_type() {
    assert_rejected(
        "shutdown_timeout_secs: soon\n",
        "agent.yaml: shutdown_timeout_secs: invalid type: string \"soon\", expected u64",
    );
}

#[test]
fn validate_rejects_an_unknown_component_type() {
    assert_rejected(
        "sources:\n  m:\n    type: carrier_pigeon\n",
        "agent.yaml: sources.m.type: unknown component type `carrier_pigeon`, expected one of",
    );
}

#[test]
fn validate_rejects_a_sink_input_naming_no_source() {
    assert_rejected(
        "sources:\n  m:\n    type: internal_metrics\nsinks:\n  o:\n    type: console\n    inputs: [metrics]\n",
        "agent.yaml: sinks.o.inputs[0]: `metrics` names no source or check (expected one of: m)",
    );
}

#[test]
fn validate_rejects_an_unset_variable_without_default() {
    assert_rejected(
        "data_dir: ${NEURALLOG_TEST_SURELY_UNSET}\n",
        "agent.yaml: data_dir: environment variable `NEURALLOG_TEST_SURELY_UNSET` is not set",
    );
}

#[test]
fn validate_rejects_a_file_that_is_not_yaml() {
    assert_rejected("sources: {\n  m: [\n", "agent.yaml: line ");
    assert_rejected("\u{0}\u{1}binary", "not valid YAML");
}

#[test]
fn validate_reports_a_missing_file() {
    let out = run(&["validate", "--config", "/nonexistent/agent.yaml"]);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/agent.yaml: (file): cannot read the configuration file"),
        "{stderr}"
    );
}

#[test]
fn validate_accepts_the_embedded_default() {
    let out = run(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<embedded default>: valid"));
}

#[test]
fn every_shipped_configuration_is_valid() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = vec![repo.join("config/agent.yaml")];
    for entry in std::fs::read_dir(repo.join("config/examples")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(
        files.len() >= 3,
        "expected the default and at least two examples: {files:?}"
    );
    for file in files {
        let out = std::process::Command::new(crate::support::agent::binary())
            .args(["validate", "--config", file.to_str().unwrap()])
            .env("NODE_NAME", "node-1")
            .env(
                "NEURALLOG_INGEST_ENDPOINT",
                "https://ingest.example.com:4318",
            )
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} is invalid:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn print_config_fills_in_defaults() {
    let out = run(&["print-config"]);
    assert_eq!(out.status.code(), Some(0));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    assert_eq!(
        yaml["shutdown_timeout_secs"],
        serde_yaml_ng::Value::from(30)
    );
    assert_eq!(yaml["log"]["format"], serde_yaml_ng::Value::from("text"));
    // What print-config prints is itself a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printed.yaml");
    std::fs::write(&path, &out.stdout).unwrap();
    let again = run(&["validate", "--config", path.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn schema_is_json_schema_of_the_config() {
    let out = run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Config");
    assert!(schema["properties"]["sources"].is_object());
    assert!(
        schema["properties"]["data_dir"]["description"]
            .as_str()
            .unwrap()
            .contains("checkpoints")
    );
}

#[test]
fn help_on_every_subcommand() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["validate", "--help"],
        &["print-config", "--help"],
        &["schema", "--help"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: neurallog-agent"),
            "{args:?}"
        );
    }
    let out = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("neurallog-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}
