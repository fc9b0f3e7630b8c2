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
fn validate_unknown_field_beside_shared_tail_fields_lists_them_all() {
    assert_rejected(
        "sources:\n  app:\n    type: file\n    include: [/var/log/*.log]\n    read_form: beginning\nsinks:\n  o:\n    type: console\n    inputs: [app]\n",
        "agent.yaml: sources.app.read_form: unknown field `read_form` (did you mean `read_from`?), \
         expected one of `attributes`, `batch_max_events`, `checkpoint_interval_ms`, `exclude`, \
         `fingerprint_bytes`, `ignore_older_than_secs`, `include`, `max_held_bytes`, `max_hold_secs`, \
         `max_line_bytes`, `max_open_files`, `multiline`, `poll_interval_ms`, `read_budget_bytes`, \
         `read_from`, `read_gzip`, `resource`, `scan_interval_ms`, `unterminated_timeout_ms`\n",
    );
}

#[test]
fn validate_unknown_sink_field_lists_inputs_beside_the_sink_fields() {
    assert_rejected(
        "sources:\n  m:\n    type: internal_metrics\nsinks:\n  o:\n    type: console\n    inputs: [m]\n    inptus: [m]\n",
        "agent.yaml: sinks.o.inptus: unknown field `inptus` (did you mean `inputs`?), expected one of `inputs`, `target`\n",
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
        "agent.yaml: sinks.o.inputs[0]: `metrics` names no source, check or transform (expected one of: m)",
    );
}

#[test]
fn validate_rejects_transforms_in_a_cycle_and_a_bad_pattern() {
    let transforms = "sources:\n  m:\n    type: file\n    include: [/var/log/a.log]\ntransforms:\n  a:\n    type: parse\n    inputs: [m, b]\n    format: json\n  b:\n    type: filter\n    inputs: [a]\n    keep: { field: body, regex: 'x' }\nsinks:\n  o:\n    type: console\n    inputs: [b]\n";
    assert_rejected(
        transforms,
        "agent.yaml: transforms.b.inputs[0]: `a` makes a cycle (a -> b -> a): a transform cannot read its own output",
    );
    assert_rejected(
        &transforms
            .replace("inputs: [m, b]", "inputs: [m]")
            .replace("regex: 'x'", "regex: '(x'"),
        "agent.yaml: transforms.b.keep.regex: \"(x\" is not a valid regex",
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
fn neurallog_config_names_the_configuration_file_and_config_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("named.yaml");
    std::fs::write(&named, "shutdown_timeout_secs: 7\n").unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "shutdown_timeout_secs: soon\n").unwrap();
    let with_env = |file: &Path, args: &[&str]| {
        std::process::Command::new(crate::support::agent::binary())
            .args(args)
            .env("NEURALLOG_CONFIG", file)
            .output()
            .unwrap()
    };

    let printed = with_env(&named, &["print-config"]);
    assert_eq!(printed.status.code(), Some(0));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&printed.stdout).unwrap();
    assert_eq!(yaml["shutdown_timeout_secs"], serde_yaml_ng::Value::from(7));

    let rejected = with_env(&broken, &["validate"]);
    assert_eq!(rejected.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains(&format!("{}: shutdown_timeout_secs", broken.display())),
        "{stderr}"
    );

    // `--config` wins over the variable.
    let overridden = with_env(&broken, &["validate", "--config", named.to_str().unwrap()]);
    assert_eq!(
        overridden.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&overridden.stderr)
    );
}

/// Every object property in `schema` (following `$ref`s), as a field path,
/// that has no description, itself or through the definition it refers to.
fn undocumented(schema: &serde_json::Value) -> Vec<String> {
    fn walk(
        node: &serde_json::Value,
        defs: &serde_json::Value,
        path: &str,
        seen: &mut std::collections::HashSet<String>,
        missing: &mut Vec<String>,
    ) {
        let described = |node: &serde_json::Value| {
            node.get("description").is_some()
                || node
                    .get("$ref")
                    .and_then(|r| r.as_str())
                    .and_then(|r| r.rsplit('/').next())
                    .is_some_and(|name| defs[name].get("description").is_some())
        };
        if let Some(name) = node
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.rsplit('/').next())
            && seen.insert(name.to_owned())
        {
            walk(&defs[name], defs, path, seen, missing);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for (i, variant) in node[key].as_array().into_iter().flatten().enumerate() {
                // A variant of a `type`-tagged family says what it is.
                if key == "oneOf" && !described(variant) {
                    missing.push(format!("{path} (variant {i})"));
                }
                walk(variant, defs, path, seen, missing);
            }
        }
        for (name, property) in node["properties"].as_object().into_iter().flatten() {
            let path = format!("{path}.{name}");
            // The tag of a tagged family (`type: file`) is a constant; the
            // variant it selects is described.
            let tag = property.get("const").is_some();
            if !tag && !described(property) {
                missing.push(path.clone());
            }
            walk(property, defs, &path, seen, missing);
        }
        if node["additionalProperties"].is_object() {
            walk(
                &node["additionalProperties"],
                defs,
                &format!("{path}.*"),
                seen,
                missing,
            );
        }
        if node["items"].is_object() {
            walk(&node["items"], defs, &format!("{path}[]"), seen, missing);
        }
    }
    let mut missing = Vec::new();
    walk(
        schema,
        &schema["$defs"],
        "",
        &mut std::collections::HashSet::new(),
        &mut missing,
    );
    missing
}

#[test]
fn schema_documents_every_field() {
    let out = run(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(undocumented(&schema), Vec::<String>::new());
    // The walk sees the fields of the components, not only the top level.
    let mut fields = 0;
    let mut count =
        |node: &serde_json::Value| fields += node["properties"].as_object().map_or(0, |p| p.len());
    for def in schema["$defs"].as_object().unwrap().values() {
        count(def);
    }
    assert!(
        fields > 100,
        "only {fields} fields in the schema's definitions"
    );
    // And it finds one that is not documented.
    let mut broken = schema.clone();
    broken["$defs"]["FileSourceConfig"]["properties"]["include"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    assert_eq!(undocumented(&broken), [".sources.*.include"]);
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

/// The binary runs on jemalloc with the settings `.cargo/config.toml` builds
/// in (one arena, thread caches up to 1 KiB and 16 slabs deep;
/// `docs/PERFORMANCE.md`, "jemalloc, adopted" and "Deeper thread caches"):
/// a build that lost them, or the allocator, would still pass every other
/// test and quietly cost memory or CPU. jemalloc
/// prints its statistics, settings included, at exit when asked to.
#[test]
fn the_binary_runs_on_jemalloc_with_its_built_in_settings() {
    let out = std::process::Command::new(crate::support::agent::binary())
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stats = String::from_utf8_lossy(&out.stderr);
    for setting in [
        "opt.narenas: 1\n",
        "opt.tcache_max: 1024\n",
        "opt.lg_tcache_nslots_mul: 4\n",
    ] {
        assert!(
            stats.contains(setting),
            "{setting:?} not in jemalloc's statistics:\n{stats}"
        );
    }
}

/// A first-party plugin as a file, as a third-party one would be deployed:
/// the component the agent's build made (`<target>/wasm-plugins/`).
fn plugin_file(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps layout");
    let path = target.join(format!("wasm-plugins/wasm32-wasip2/release/{name}.wasm"));
    assert!(path.exists(), "{} is missing", path.display());
    path
}

#[test]
fn validate_checks_a_first_party_check_config_against_the_plugin_schema() {
    let yaml = "
checks:
  certs:
    type: cert_expiry
    config:
      endpoints:
        - example.com:443
        - {adress: \"example.org:443\"}
      warning_dayz: 30
    grants:
      tls_targets: [\"example.com:443\"]
sinks:
  prom:
    type: prometheus
    inputs: [certs]
";
    let (code, stderr) = validate(yaml);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("agent.yaml: checks.certs.config.endpoints[1].adress: unknown field `adress` (did you mean `address`?), expected one of `address`, `server_name`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("agent.yaml: checks.certs.config.warning_dayz: unknown field `warning_dayz` (did you mean `warning_days`?)"),
        "{stderr}"
    );
    // Without the typos the same configuration is valid.
    let fixed = yaml
        .replace("adress", "address")
        .replace("warning_dayz", "warning_days");
    let (code, stderr) = validate(&fixed);
    assert_eq!(code, 0, "{stderr}");
    // A wrong type is named with what the schema expects.
    let (code, stderr) = validate(&fixed.replace("warning_days: 30", "warning_days: soon"));
    assert_eq!(code, 78);
    assert!(
        stderr.contains("agent.yaml: checks.certs.config.warning_days: \"soon\" is not of type"),
        "{stderr}"
    );
}

/// Each first-party check, with one field misspelt in its `config:`, is
/// refused by `validate` with the file, the field path and what the
/// plugin's schema allows there; spelt right, it passes.
#[test]
fn validate_refuses_a_misspelt_field_in_every_first_party_check() {
    let cases = [
        (
            "cert_expiry",
            "endpoints: [\"example.com:443\"]\n      warning_dayz: 30",
            "warning_dayz",
            "warning_days",
        ),
        (
            "disk_usage",
            "mounts: [\"/\"]\n      warning_percnt: 80",
            "warning_percnt",
            "warning_percent",
        ),
        (
            "backup_verify",
            "sets:\n        - {name: db, directory: /tmp, glob: \"*.gz\", max_age_sec: 86400}",
            "max_age_sec",
            "max_age_secs",
        ),
        ("heartbeat", "directroy: /tmp", "directroy", "directory"),
    ];
    for (kind, config, wrong, right) in cases {
        let yaml = format!(
            "
checks:
  c:
    type: {kind}
    config:
      {config}
    grants:
      tls_targets: [\"example.com:443\"]
      directories: [/tmp]
      mounts: [/]
sinks:
  prom:
    type: prometheus
    inputs: [c]
"
        );
        let (code, stderr) = validate(&yaml);
        println!("{kind}: {}", stderr.trim());
        assert_eq!(code, 78, "{kind}: {stderr}");
        assert!(
            stderr.contains("agent.yaml: checks.c.config.")
                && stderr.contains(&format!(
                    "unknown field `{wrong}` (did you mean `{right}`?)"
                )),
            "{kind}: {stderr}"
        );
        let (code, stderr) = validate(&yaml.replace(wrong, right));
        assert_eq!(code, 0, "{kind} spelt right: {stderr}");
    }
}

#[test]
fn validate_checks_a_third_party_check_config_from_the_plugins_directory() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(plugin_file("heartbeat"), plugins.path().join("beat.wasm")).unwrap();
    let yaml = |config: &str| {
        format!(
            "
plugins:
  directory: {}
checks:
  beat:
    type: wasm
    plugin: beat
    config: {config}
sinks:
  prom:
    type: prometheus
    inputs: [beat]
",
            plugins.path().display()
        )
    };
    let (code, stderr) = validate(&yaml("{directroy: /tmp}"));
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("agent.yaml: checks.beat.config.directroy: unknown field `directroy`"),
        "{stderr}"
    );
    let (code, stderr) = validate(&yaml("{directory: /tmp}"));
    assert_eq!(code, 0, "{stderr}");
    // A plugin that is not there is found now, not at the first run...
    let missing = yaml("{}").replace("plugin: beat", "plugin: gone");
    let (code, stderr) = validate(&missing);
    assert_eq!(code, 78);
    assert!(
        stderr.contains("agent.yaml: checks.beat.plugin: "),
        "{stderr}"
    );
    // ...unless plugins are left out on purpose.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, &missing).unwrap();
    let out = run(&[
        "validate",
        "--skip-plugins",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn schema_completes_the_first_party_checks_settings() {
    let out = run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defs = &schema["$defs"];
    let branches = defs["CheckConfig"]["allOf"].as_array().unwrap();
    for check_type in ["cert_expiry", "disk_usage", "backup_verify", "heartbeat"] {
        let branch = branches
            .iter()
            .find(|b| b["if"]["properties"]["type"]["const"] == check_type)
            .unwrap_or_else(|| panic!("no branch for {check_type}"));
        let reference = branch["then"]["properties"]["config"]["$ref"]
            .as_str()
            .unwrap();
        let name = reference.strip_prefix("#/$defs/").unwrap();
        assert!(
            defs[name]["properties"].is_object(),
            "{check_type}: {}",
            defs[name]
        );
    }
    assert!(
        defs["CertExpiryConfig"]["properties"]["warning_days"]["description"].is_string(),
        "{}",
        defs["CertExpiryConfig"]
    );
    // Every reference points at a definition that exists.
    let text = serde_json::to_string(&schema).unwrap();
    for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(defs.get(name).is_some(), "dangling reference to {name}");
    }
}
