use std::path::{Path, PathBuf};

use super::*;
use crate::config::validate;

fn env(name: &str) -> Option<String> {
    (name == "LOG_DIR").then(|| "/srv/logs".to_owned())
}

fn errors(yaml: &str) -> Vec<ConfigError> {
    match load_str(yaml, "agent.yaml", &env).and_then(|c| validate(&c, "agent.yaml").map(|_| c)) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(ConfigErrors(errors)) => errors,
    }
}

fn one_error(yaml: &str) -> String {
    let errors = errors(yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].to_string()
}

#[test]
fn embedded_default_is_valid() {
    let config = load_str(EMBEDDED_DEFAULT, "<embedded default>", &|_| None).unwrap();
    validate(&config, "<embedded default>").unwrap();
}

#[test]
fn unknown_top_level_field() {
    let message = one_error("admn:\n  address: 127.0.0.1:1\n");
    assert!(
        message.starts_with("agent.yaml: admn: unknown field `admn`"),
        "{message}"
    );
    assert!(message.contains("expected one of"), "{message}");
}

#[test]
fn unknown_field_inside_a_component_names_the_full_path() {
    let message = one_error("sources:\n  m:\n    type: internal_metrics\n    interval_sec: 5\n");
    assert!(
        message.starts_with("agent.yaml: sources.m.interval_sec: unknown field `interval_sec`"),
        "{message}"
    );
}

#[test]
fn wrong_type_names_the_field_and_expectation() {
    let message =
        one_error("sources:\n  m:\n    type: internal_metrics\n    interval_secs: often\n");
    assert!(
        message.starts_with("agent.yaml: sources.m.interval_secs: invalid type"),
        "{message}"
    );
    assert!(message.contains("expected u64"), "{message}");
}

#[test]
fn unknown_component_type_lists_the_known_ones() {
    let message = one_error("sinks:\n  out:\n    type: consol\n    inputs: [x]\n");
    assert!(
        message.starts_with(
            "agent.yaml: sinks.out.type: unknown component type `consol`, expected one of `console`"
        ),
        "{message}"
    );
}

#[test]
fn sink_input_naming_no_source() {
    let message = one_error(
        "sources:\n  m:\n    type: internal_metrics\nsinks:\n  out:\n    type: console\n    inputs: [m, nope]\n",
    );
    assert!(
        message.starts_with(
            "agent.yaml: sinks.out.inputs[1]: `nope` names no source, check or transform (expected one of: m)"
        ),
        "{message}"
    );
}

#[test]
fn unset_variable_without_default() {
    let message = one_error("data_dir: ${STATE_DIR}\n");
    assert!(
        message.starts_with("agent.yaml: data_dir: environment variable `STATE_DIR` is not set"),
        "{message}"
    );
}

#[test]
fn variables_and_defaults_are_substituted() {
    let config = load_str(
        "data_dir: ${LOG_DIR}/state\nadmin:\n  address: ${ADMIN:-127.0.0.1:9999}\n",
        "agent.yaml",
        &env,
    )
    .unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/srv/logs/state"));
    assert_eq!(config.admin.address, "127.0.0.1:9999");
}

#[test]
fn not_yaml_reports_line_and_column() {
    let message = one_error("sources: [\n  a: {\n");
    assert!(message.starts_with("agent.yaml: line "), "{message}");
    assert!(message.contains("not valid YAML"), "{message}");
}

#[test]
fn a_list_is_not_a_config() {
    let message = one_error("- a\n- b\n");
    assert_eq!(
        message,
        "agent.yaml: (root): expected a map of settings, found a list"
    );
}

#[test]
fn missing_type_and_missing_inputs() {
    let message = one_error("sources:\n  m:\n    interval_secs: 5\n");
    assert!(
        message.starts_with("agent.yaml: sources.m: missing field `type`"),
        "{message}"
    );
    let message = one_error(
        "sources:\n  m:\n    type: internal_metrics\nsinks:\n  out:\n    type: console\n",
    );
    assert!(
        message.starts_with("agent.yaml: sinks.out: missing field `inputs`"),
        "{message}"
    );
}

#[test]
fn validation_reports_every_problem() {
    let errors = errors(
        "admin:\n  address: nowhere\nsinks:\n  out:\n    type: file\n    path: /tmp/x\n    max_bytes: 10\n    inputs: [a]\n  bad name:\n    type: console\n    inputs: [b]\n",
    );
    let locations: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "admin.address",
            "sinks.out.inputs[0]",
            "sinks.out.max_bytes",
            "sinks.bad name",
            "sinks.bad name.inputs[0]"
        ]
    );
}

#[test]
fn plugin_isolation_and_worker_settings_name_their_field() {
    let errors =
        errors("plugins:\n  worker:\n    user: \"no body\"\n    group: \"\"\n    cpu_secs: 0\n");
    let locations: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "plugins.worker.user",
            "plugins.worker.group",
            "plugins.worker.cpu_secs"
        ]
    );
    let wrong = one_error("plugins:\n  isolation:\n    third_party: sandboxed\n");
    assert!(wrong.contains("plugins.isolation.third_party"), "{wrong}");
    assert!(
        wrong.contains("worker") && wrong.contains("in_process"),
        "{wrong}"
    );

    let config = load_str(
        "plugins:\n  isolation:\n    first_party: worker\n  worker:\n    user: \"65534\"\n",
        "agent.yaml",
        &env,
    )
    .unwrap();
    validate(&config, "agent.yaml").unwrap();
    assert_eq!(
        config.plugins.isolation.first_party,
        crate::config::Isolation::Worker
    );
    assert_eq!(
        config.plugins.isolation.third_party,
        crate::config::Isolation::Worker,
        "third-party plugins run in a worker by default"
    );
}

const TRANSFORMS: &str = "
sources:
  app:
    type: file
    include: [/var/log/app.log]
transforms:
  parsed:
    type: parse
    inputs: [app]
    format: apache_combined
  errors:
    type: filter
    inputs: [parsed]
    keep: { field: attributes.http.response.status_code, gt: 499 }
sinks:
  out:
    type: console
    inputs: [errors]
";

#[test]
fn transforms_read_from_sources_and_each_other_and_feed_sinks() {
    let config = load_str(TRANSFORMS, "agent.yaml", &env).unwrap();
    let warnings = validate(&config, "agent.yaml").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.transforms["errors"].inputs, ["parsed"]);
    assert_eq!(config.transforms["parsed"].transform.type_name(), "parse");
}

#[test]
fn a_transform_naming_nothing_or_itself_through_others_is_refused() {
    let message = one_error(&TRANSFORMS.replace("inputs: [parsed]", "inputs: [parsd]"));
    assert!(
        message.starts_with(
            "agent.yaml: transforms.errors.inputs[0]: `parsd` names no source, check or transform (expected one of: app, errors, parsed)"
        ),
        "{message}"
    );
    let message = one_error(&TRANSFORMS.replace("inputs: [app]", "inputs: [app, errors]"));
    assert_eq!(
        message,
        "agent.yaml: transforms.errors.inputs[0]: `parsed` makes a cycle (parsed -> errors -> parsed): a transform cannot read its own output"
    );
    let message = one_error(&TRANSFORMS.replace("inputs: [parsed]", "inputs: [errors]"));
    assert!(
        message.contains("transforms.errors.inputs[0]: `errors` makes a cycle (errors -> errors)"),
        "{message}"
    );
}

#[test]
fn a_transform_field_error_names_its_path() {
    let message = one_error(&TRANSFORMS.replace("format: apache_combined", "format: apache"));
    assert!(
        message.starts_with("agent.yaml: transforms.parsed.format: unknown variant `apache`"),
        "{message}"
    );
    let message = one_error(&TRANSFORMS.replace("gt: 499", "gt: 499, lt: 600"));
    assert!(
        message.starts_with("agent.yaml: transforms.errors.keep: expected exactly one test"),
        "{message}"
    );
    let errors = errors(&TRANSFORMS.replace("errors:\n    type", "app:\n    type"));
    assert!(
        errors[0]
            .to_string()
            .starts_with("agent.yaml: transforms.app: the name `app` is already used"),
        "{errors:?}"
    );
    let message = one_error(&TRANSFORMS.replace("    inputs: [app]\n", ""));
    assert!(
        message.starts_with("agent.yaml: transforms.parsed: missing field `inputs`"),
        "{message}"
    );
}

const KUBELET: &str = "\
kubelet:
  endpoint: https://node-1:10250
  token_file: /run/token
  timeout_ms: 2000
sources:
  logs:
    type: kubernetes_logs
    kubelet:
      timeout_ms: 300
  pods:
    type: pod_metrics
    token_file: null
sinks:
  out:
    type: console
    inputs: [logs, pods]
";

/// The connection each kubelet source uses, by source name.
fn connections(config: &Config) -> Vec<(String, crate::kubelet::KubeletConfig)> {
    use crate::sources::SourceConfig;
    config
        .sources
        .iter()
        .filter_map(|(name, source)| match source {
            SourceConfig::KubernetesLogs(c) => Some((name.clone(), c.kubelet.connection())),
            SourceConfig::PodMetrics(c) => Some((name.clone(), c.connection())),
            _ => None,
        })
        .collect()
}

#[test]
fn kubelet_sources_use_the_top_level_block_with_their_own_fields_in_its_place() {
    let config = load_str(KUBELET, "agent.yaml", &env).unwrap();
    validate(&config, "agent.yaml").unwrap();
    let shared = crate::kubelet::KubeletConfig {
        endpoint: Some("https://node-1:10250".to_owned()),
        token_file: Some(PathBuf::from("/run/token")),
        timeout_ms: 2000,
        ..Default::default()
    };
    assert_eq!(
        connections(&config),
        [
            (
                "logs".to_owned(),
                crate::kubelet::KubeletConfig {
                    timeout_ms: 300,
                    ..shared.clone()
                }
            ),
            (
                "pods".to_owned(),
                crate::kubelet::KubeletConfig {
                    token_file: None,
                    ..shared.clone()
                }
            ),
        ]
    );
}

#[test]
fn kubelet_sources_without_a_top_level_block_keep_their_defaults() {
    let yaml = "\
sources:
  logs:
    type: kubernetes_logs
    kubelet:
      endpoint: https://10.0.0.1:10250
  pods:
    type: pod_metrics
";
    let config = load_str(yaml, "agent.yaml", &env).unwrap();
    let defaults = crate::kubelet::KubeletConfig::default();
    assert_eq!(
        defaults.token_file.as_deref(),
        Some(Path::new(
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        ))
    );
    assert_eq!(
        connections(&config),
        [
            (
                "logs".to_owned(),
                crate::kubelet::KubeletConfig {
                    endpoint: Some("https://10.0.0.1:10250".to_owned()),
                    ..defaults.clone()
                }
            ),
            ("pods".to_owned(), defaults),
        ]
    );
}

#[test]
fn a_change_to_the_top_level_kubelet_block_changes_the_sources_that_use_it() {
    let before = load_str(KUBELET, "agent.yaml", &env).unwrap();
    let after = load_str(
        &KUBELET.replace("https://node-1:10250", "https://node-2:10250"),
        "agent.yaml",
        &env,
    )
    .unwrap();
    assert_ne!(before.sources["logs"], after.sources["logs"]);
    assert_ne!(before.sources["pods"], after.sources["pods"]);
    let overridden = KUBELET.replace(
        "type: pod_metrics\n",
        "type: pod_metrics\n    endpoint: https://10.0.0.1:10250\n",
    );
    let before = load_str(&overridden, "agent.yaml", &env).unwrap();
    let after = load_str(
        &overridden.replace("https://node-1:10250", "https://node-2:10250"),
        "agent.yaml",
        &env,
    )
    .unwrap();
    assert_eq!(
        before.sources["pods"].clone(),
        after.sources["pods"].clone(),
        "a source that sets its own endpoint does not depend on the block's"
    );
}

#[test]
fn kubelet_errors_name_the_block_or_the_source_field() {
    let errors: Vec<String> = errors(
        &KUBELET
            .replace("endpoint: https://node-1:10250", "endpoint: node-1")
            .replace("timeout_ms: 300", "timeout_ms: 0")
            .replace("token_file: null", "endpoint: \"https://\""),
    )
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        errors,
        [
            "agent.yaml: kubelet.endpoint: \"node-1\" is not a URL: expected for example `https://${NODE_NAME}:10250`",
            "agent.yaml: sources.logs.kubelet.timeout_ms: must be at least 1",
            "agent.yaml: sources.pods.endpoint: \"https://\" is not a URL: expected for example `https://${NODE_NAME}:10250`",
        ]
    );
}

const ROUTES: &str = "
sources:
  app:
    type: file
    include: [/var/log/app.log]
transforms:
  tenants:
    type: route
    inputs: [app]
    routes:
      payments: { field: attributes.namespace, equals: payments }
      search: { field: attributes.namespace, equals: search }
sinks:
  payments:
    type: console
    inputs: [tenants.payments]
  rest:
    type: console
    inputs: [tenants.search, tenants._unmatched]
";

#[test]
fn sinks_read_a_route_by_its_outputs() {
    let config = load_str(ROUTES, "agent.yaml", &env).unwrap();
    let warnings = validate(&config, "agent.yaml").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.transforms["tenants"].transform.outputs(),
        ["payments", "search", "_unmatched"]
    );
}

#[test]
fn an_input_naming_an_unknown_route_or_the_bare_route_is_refused() {
    let message = one_error(&ROUTES.replace("[tenants.payments]", "[tenants.payment]"));
    assert!(
        message.starts_with(
            "agent.yaml: sinks.payments.inputs[0]: `tenants.payment` names no source, check or transform (expected one of: app, tenants._unmatched, tenants.payments, tenants.search)"
        ),
        "{message}"
    );
    let message = one_error(&ROUTES.replace("[tenants.payments]", "[tenants]"));
    assert!(
        message.starts_with("agent.yaml: sinks.payments.inputs[0]: `tenants` names no source"),
        "{message}"
    );
    // A route's output feeding the route is a cycle like any other.
    let message = one_error(&ROUTES.replace("inputs: [app]", "inputs: [app, tenants.search]"));
    assert!(
        message.contains("transforms.tenants.inputs[1]: `tenants.search` makes a cycle"),
        "{message}"
    );
}
