//! Reading configuration files: the one place YAML is parsed.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::error::{ConfigError, ConfigErrors, FieldPath};
use super::interpolate::interpolate_tree;
use super::model::Config;
use super::tagged::{self, MARK};

/// The default configuration, `config/agent.yaml`, built into the binary and
/// used when no `--config` is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../config/agent.yaml");

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A file on disk.
    File(PathBuf),
    /// The default built into the binary.
    Embedded,
}

// === impl ConfigSource ===

impl ConfigSource {
    /// The name errors use for this source.
    pub fn label(&self) -> String {
        match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::Embedded => "<embedded default>".to_owned(),
        }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            ConfigSource::Embedded => None,
        }
    }
}

/// Read, interpolate (from the process environment) and deserialize a
/// configuration. Does not validate: see [`super::validate`].
pub fn load(source: &ConfigSource) -> Result<Config, ConfigErrors> {
    let label = source.label();
    let text = match source {
        ConfigSource::File(path) => std::fs::read_to_string(path).map_err(|error| ConfigError {
            file: label.clone(),
            location: "(file)".to_owned(),
            message: format!("cannot read the configuration file: {error}"),
        })?,
        ConfigSource::Embedded => EMBEDDED_DEFAULT.to_owned(),
    };
    load_str(&text, &label, &|name| std::env::var(name).ok())
}

/// Parse, interpolate with `env` and deserialize `text`; `label` names the
/// file in errors.
pub fn load_str(
    text: &str,
    label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut value: Value = serde_yaml_ng::from_str(text).map_err(|error| {
        let location = error
            .location()
            .map(|l| format!("line {} column {}", l.line(), l.column()))
            .unwrap_or_else(|| "(document)".to_owned());
        ConfigError {
            file: label.to_owned(),
            location,
            message: format!("not valid YAML: {}", strip_location(&error.to_string())),
        }
    })?;
    match &value {
        Value::Null => value = Value::Mapping(Default::default()),
        Value::Mapping(_) => {}
        other => {
            return Err(FieldPath::root()
                .error(format!(
                    "expected a map of settings, found {}",
                    tagged::describe(other)
                ))
                .in_file(label)
                .into());
        }
    }

    let mut errors = Vec::new();
    interpolate_tree(&mut value, &FieldPath::root(), env, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(
            errors.into_iter().map(|e| e.in_file(label)).collect(),
        ));
    }

    let mut config = serde_path_to_error::deserialize::<_, Config>(value).map_err(|error| {
        let outer = error.path().to_string();
        let (location, message) = join_path(&outer, &error.into_inner().to_string());
        ConfigErrors::from(ConfigError {
            file: label.to_owned(),
            location,
            message,
        })
    })?;
    config.share_kubelet();
    Ok(config)
}

/// Join the path serde tracked with a path carried inside the message.
fn join_path(outer: &str, message: &str) -> (String, String) {
    let outer = if outer == "." { "" } else { outer };
    let (inner, message) = match message.strip_prefix(MARK).and_then(|m| m.split_once(MARK)) {
        Some((inner, message)) => (inner, message),
        None => ("", message),
    };
    let location = match (outer.is_empty(), inner.is_empty()) {
        (true, true) => "(root)".to_owned(),
        (false, true) => outer.to_owned(),
        (true, false) => inner.to_owned(),
        (false, false) if inner.starts_with('[') => format!("{outer}{inner}"),
        (false, false) => format!("{outer}.{inner}"),
    };
    (location, message.to_owned())
}

/// serde_yaml_ng appends " at line L column C" to its messages; the location
/// is reported separately.
fn strip_location(message: &str) -> &str {
    match message.find(" at line ") {
        Some(pos) => &message[..pos],
        None => message,
    }
}

#[cfg(test)]
mod tests;
