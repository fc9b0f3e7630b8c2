//! Deserialization of `type`-tagged maps with field paths kept.
//!
//! The component families deserialize by hand rather than with
//! `#[serde(tag = "type")]`: serde buffers internally tagged content and
//! loses the field path of any error inside it, and an operator needs
//! `sources.app.multiline.max_lines`, not `sources.app`. Each variant's
//! struct is deserialized on its own with its path tracked, and the path
//! travels out inside the error message, behind [`MARK`]; `config::load`
//! joins it to the outer path.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_yaml_ng::{Mapping, Value};

/// Marks an error message that carries a field path relative to the
/// value being deserialized: `\u{1}path\u{1}message`. `config::load`
/// joins it to the outer path.
pub(crate) const MARK: char = '\u{1}';

/// The map at this position.
pub(crate) fn mapping<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mapping, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Mapping(map) => Ok(map),
        Value::Null => Ok(Mapping::new()),
        other => Err(D::Error::custom(format!(
            "expected a map with a `type` field, found {}",
            describe(&other)
        ))),
    }
}

/// The `type` and the remaining fields of the map at this position.
pub(crate) fn split<'de, D: Deserializer<'de>>(
    deserializer: D,
    types: &[&str],
) -> Result<(String, Mapping), D::Error> {
    let mut map = mapping(deserializer)?;
    match map.remove("type") {
        Some(Value::String(tag)) => Ok((tag, map)),
        Some(other) => Err(D::Error::custom(format!(
            "{MARK}type{MARK}expected a string, one of {}, found {}",
            list(types),
            describe(&other)
        ))),
        None => Err(D::Error::custom(format!(
            "missing field `type`, expected one of {}",
            list(types)
        ))),
    }
}

/// Deserialize the rest of a tagged map, keeping the inner path.
pub(crate) fn inner<T: DeserializeOwned, E: serde::de::Error>(rest: Mapping) -> Result<T, E> {
    serde_path_to_error::deserialize(Value::Mapping(rest)).map_err(|e| {
        let path = e.path().to_string();
        E::custom(prefix(&path, &e.into_inner().to_string()))
    })
}

/// Deserialize one field's value, keeping its path.
pub(crate) fn inner_at<T: DeserializeOwned, E: serde::de::Error>(
    field: &str,
    value: Value,
) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            field.to_owned()
        } else {
            format!("{field}{}", join(&inner))
        };
        E::custom(prefix(&path, &e.into_inner().to_string()))
    })
}

/// The error for an unknown `type`.
pub(crate) fn unknown_type<E: serde::de::Error>(tag: &str, types: &[&str]) -> E {
    E::custom(format!(
        "{MARK}type{MARK}unknown component type `{tag}`, expected one of {}",
        list(types)
    ))
}

fn join(inner: &str) -> String {
    if inner.starts_with('[') {
        inner.to_owned()
    } else {
        format!(".{inner}")
    }
}

/// Put `path` in front of `message`, merging with a path the message
/// already carries.
fn prefix(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    match message.strip_prefix(MARK).and_then(|m| m.split_once(MARK)) {
        Some((nested, message)) if path.is_empty() => format!("{MARK}{nested}{MARK}{message}"),
        Some((nested, message)) => format!("{MARK}{path}{}{MARK}{message}", join(nested)),
        None if path.is_empty() => message.to_owned(),
        None => format!("{MARK}{path}{MARK}{message}"),
    }
}

fn list(types: &[&str]) -> String {
    types
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}
