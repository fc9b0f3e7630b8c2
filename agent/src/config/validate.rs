//! Pure validation of a deserialized configuration: no I/O.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::error::{ConfigError, ConfigErrors, FieldPath, Validate};
use super::model::Config;
use crate::transforms::input_component;

/// Check `config` as a whole. Returns warnings (things that work but are
/// probably not meant) or every error found; `label` names the file.
pub fn validate(config: &Config, label: &str) -> Result<Vec<String>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let root = FieldPath::root();

    if config.admin.enabled && config.admin.address.parse::<SocketAddr>().is_err() {
        errors.push(root.field("admin").field("address").error(format!(
            "{:?} is not a socket address: expected `ip:port`, for example `127.0.0.1:9810`",
            config.admin.address
        )));
    }
    if let Err(error) = tracing_subscriber::EnvFilter::try_new(&config.log.level) {
        errors.push(root.field("log").field("level").error(format!(
            "{:?} is not a log filter ({error}): expected a level such as `info` or directives such as `info,neurallog_agent=debug`",
            config.log.level
        )));
    }
    if config.data_dir.as_os_str().is_empty() {
        errors.push(
            root.field("data_dir")
                .error("must not be empty: expected a directory path"),
        );
    }
    config.kubelet.validate(&root.field("kubelet"), &mut errors);
    if config.plugins.max_concurrent_runs == 0 {
        errors.push(
            root.field("plugins")
                .field("max_concurrent_runs")
                .error("must be at least 1"),
        );
    }
    let worker = root.field("plugins").field("worker");
    for (field, value) in [
        ("user", &config.plugins.worker.user),
        ("group", &config.plugins.worker.group),
    ] {
        if !valid_account_name(value) {
            errors.push(worker.field(field).error(format!(
                "{value:?} is not a {field} name: expected a name from /etc/{} or a numeric id",
                if field == "user" { "passwd" } else { "group" }
            )));
        }
    }
    if config.plugins.worker.cpu_secs == 0 {
        errors.push(worker.field("cpu_secs").error("must be at least 1"));
    }

    // What inputs may name: sources, checks, transforms with one output,
    // and `ID.OUTPUT` of those with named outputs.
    let mut producers: HashSet<String> = HashSet::new();
    for (name, source) in &config.sources {
        let path = root.field("sources").field(name);
        check_name(name, &path, &mut errors);
        producers.insert(name.clone());
        source.validate(&path, &mut errors);
    }
    for (name, check) in &config.checks {
        let path = root.field("checks").field(name);
        check_name(name, &path, &mut errors);
        if !producers.insert(name.clone()) {
            errors.push(path.error(format!(
                "the name `{name}` is already used by a source: inputs must name one component"
            )));
        }
        check.validate(&path, &mut errors);
    }
    for (name, transform) in &config.transforms {
        let path = root.field("transforms").field(name);
        check_name(name, &path, &mut errors);
        if producers.contains(name) {
            errors.push(path.error(format!(
                "the name `{name}` is already used by a source or check: inputs must name one component"
            )));
        }
        let outputs = transform.transform.outputs();
        if outputs.is_empty() {
            producers.insert(name.clone());
        }
        producers.extend(outputs.into_iter().map(|output| format!("{name}.{output}")));
        transform.transform.validate(&path, &mut errors);
    }

    let mut consumed: HashSet<&str> = HashSet::new();
    for (name, transform) in &config.transforms {
        let path = root.field("transforms").field(name);
        check_inputs(
            "transform",
            &transform.inputs,
            &producers,
            &path,
            &mut consumed,
            &mut errors,
        );
    }
    errors.extend(cycles(config));
    for (name, sink) in &config.sinks {
        let path = root.field("sinks").field(name);
        check_name(name, &path, &mut errors);
        check_inputs(
            "sink",
            &sink.inputs,
            &producers,
            &path,
            &mut consumed,
            &mut errors,
        );
        sink.sink.validate(&path, &mut errors);
    }

    for name in config
        .sources
        .keys()
        .chain(config.checks.keys())
        .chain(config.transforms.keys())
    {
        if !consumed.contains(name.as_str()) {
            warnings.push(format!(
                "{name} is not an input of any sink or transform: its events go nowhere"
            ));
        }
    }

    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(ConfigErrors(
            errors.into_iter().map(|e| e.in_file(label)).collect(),
        ))
    }
}

/// Check that each of a component's `inputs` names a source, check or
/// transform, and note it as consumed.
fn check_inputs<'a>(
    what: &str,
    inputs: &'a [String],
    producers: &HashSet<String>,
    path: &FieldPath,
    consumed: &mut HashSet<&'a str>,
    errors: &mut Vec<ConfigError>,
) {
    if inputs.is_empty() {
        errors.push(path.field("inputs").error(format!(
            "is empty: expected the names of the sources, checks or transforms this {what} reads from"
        )));
    }
    for (i, input) in inputs.iter().enumerate() {
        if producers.contains(input.as_str()) {
            consumed.insert(input_component(input));
            continue;
        }
        let mut known: Vec<&str> = producers.iter().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            "no sources, checks or transforms are defined".to_owned()
        } else {
            format!("expected one of: {}", known.join(", "))
        };
        errors.push(path.field("inputs").index(i).error(format!(
            "`{input}` names no source, check or transform ({known})"
        )));
    }
}

/// Transforms that feed themselves, directly or through others: one error
/// per cycle, at the input that closes it.
fn cycles(config: &Config) -> Vec<ConfigError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: Vec<Mark> = vec![Mark::New; config.transforms.len()];
    let mut errors = Vec::new();
    for start in 0..config.transforms.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Depth-first over inputs, with the path from `start` on a stack.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Open;
        while let Some((node, next)) = stack.pop() {
            let Some((name, transform)) = config.transforms.get_index(node) else {
                continue;
            };
            let Some(input) = transform.inputs.get(next) else {
                marks[node] = Mark::Done;
                continue;
            };
            stack.push((node, next + 1));
            let Some(target) = config.transforms.get_index_of(input_component(input)) else {
                continue;
            };
            match marks[target] {
                Mark::New => {
                    marks[target] = Mark::Open;
                    stack.push((target, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                    let mut names: Vec<&str> = stack[from..]
                        .iter()
                        .filter_map(|(n, _)| config.transforms.get_index(*n))
                        .map(|(name, _)| name.as_str())
                        .collect();
                    names.push(input);
                    errors.push(
                        FieldPath::root()
                            .field("transforms")
                            .field(name)
                            .field("inputs")
                            .index(next)
                            .error(format!(
                                "`{input}` makes a cycle ({}): a transform cannot read its own output",
                                names.join(" -> ")
                            )),
                    );
                }
                Mark::Done => {}
            }
        }
    }
    errors
}

/// Component names become metric labels and file names (checkpoints,
/// queues): keep them to a safe alphabet.
fn check_name(name: &str, path: &FieldPath, errors: &mut Vec<ConfigError>) {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        errors.push(path.error(format!(
            "`{name}` is not a valid component name: expected 1 to 128 letters, digits, `_` or `-`"
        )));
    }
}

/// A user or group name as `/etc/passwd` and `/etc/group` hold them.
fn valid_account_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'))
}
