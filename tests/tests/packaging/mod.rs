//! Packaging: the Kubernetes manifests and the Helm chart (rendered by
//! Helm's engine, validated against the Kubernetes schemas offline), the
//! systemd unit (`systemd-analyze`), the Debian package (`cargo deb`,
//! `lintian`, a real `dpkg -i` in a throwaway root) and the container
//! recipe. The tools are Debian's and PyPI's, installed by `./x setup`.

mod container;
mod deb;
mod kubernetes;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize as _;
use serde_yaml_ng::Value;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// Run `cmd`, panicking with `hint` when the program cannot be started.
fn output(cmd: &mut Command, hint: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); {hint}"))
}

/// Standard output and error of a finished command, for messages.
fn text(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The workspace version (`[workspace.package] version`).
fn workspace_version() -> String {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    toml_string(&manifest, "version")
}

/// The value of the first `key = "..."` line of a TOML file: enough for
/// the flat fields read here, without a TOML parser in the test crate.
fn toml_string(toml: &str, key: &str) -> String {
    toml.lines()
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("no `{key} = ...` line"))
}

/// The documents of a YAML stream, empty ones left out.
fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// `value` at a dotted path (`spec.template.spec`); `Null` if absent.
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .unwrap_or(&NULL)
}

/// A string at a dotted path; panics naming the path when it is not one.
fn str_at<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string in {value:?}"))
}

/// A sequence at a dotted path; empty if absent.
fn seq_at<'a>(value: &'a Value, path: &str) -> &'a [Value] {
    at(value, path).as_sequence().map_or(&[], Vec::as_slice)
}
