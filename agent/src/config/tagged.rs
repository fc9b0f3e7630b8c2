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

/// Check that every key of a map whose struct is split by hand (flattened
/// parts beside its own fields) is one of `fields`. serde would name only
/// the fields of the part a key was handed to; this names them all.
pub(crate) fn known_fields<E: serde::de::Error>(map: &Mapping, fields: &[&str]) -> Result<(), E> {
    match map
        .keys()
        .find(|k| !k.as_str().is_some_and(|k| fields.contains(&k)))
    {
        None => Ok(()),
        Some(Value::String(key)) => {
            let mut known = fields.to_vec();
            known.sort_unstable();
            Err(E::custom(format!(
                "{MARK}{key}{MARK}{}",
                unknown_field(key, &known)
            )))
        }
        Some(other) => Err(E::custom(format!(
            "expected field names, found {} as a key",
            describe(other)
        ))),
    }
}

/// Add `taken`, a field the caller removed from the map before handing the
/// rest to serde (a sink's `inputs`), to the fields an unknown-field error
/// of that map lists, sorted. serde's wording ("unknown field `x`,
/// expected `a`" or "expected one of `a`, `b`") is parsed back; any other
/// message, or one about a nested map, is returned as it is.
pub(crate) fn with_taken_field(message: String, taken: &str) -> String {
    let Some((path, rest)) = message.strip_prefix(MARK).and_then(|m| m.split_once(MARK)) else {
        return message;
    };
    let Some(listed) = rest.strip_prefix(&format!("unknown field `{path}`, ")) else {
        return message;
    };
    let mut known: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
    known.push(taken);
    known.sort_unstable();
    format!("{MARK}{path}{MARK}{}", unknown_field(path, &known))
}

/// "unknown field `x`", with the field it probably meant and the fields
/// allowed.
pub(crate) fn unknown_field(field: &str, known: &[impl AsRef<str>]) -> String {
    if known.is_empty() {
        return format!("unknown field `{field}`");
    }
    let list: Vec<String> = known.iter().map(|k| format!("`{}`", k.as_ref())).collect();
    match known.iter().map(AsRef::as_ref).find(|k| close(k, field)) {
        Some(close) => format!(
            "unknown field `{field}` (did you mean `{close}`?), expected one of {}",
            list.join(", ")
        ),
        None => format!(
            "unknown field `{field}`, expected one of {}",
            list.join(", ")
        ),
    }
}

/// Whether `a` and `b` differ by at most one edit (a typo): a character
/// added, removed or replaced, or two neighbours swapped.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let differing = a.len().max(b.len()) - prefix - suffix;
    let swapped = a.len() == b.len()
        && differing == 2
        && a[prefix] == b[prefix + 1]
        && a[prefix + 1] == b[prefix];
    differing <= 1 || swapped
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_one_edit() {
        assert!(close("address", "adress"));
        assert!(close("address", "addresss"));
        assert!(close("warn_days", "warm_days"));
        assert!(!close("address", "server_name"));
        assert!(close("read_from", "read_form"));
        assert!(close("directory", "directroy"));
        assert!(close("env", "nev"));
        assert!(!close("directory", "dircetroy"));
        assert!(!close("read_from", "raed_fomr"));
    }

    #[test]
    fn a_taken_field_joins_the_list_of_a_top_level_unknown_field() {
        assert_eq!(
            with_taken_field(
                "\u{1}inptus\u{1}unknown field `inptus`, expected `target`".to_owned(),
                "inputs"
            ),
            "\u{1}inptus\u{1}unknown field `inptus` (did you mean `inputs`?), expected one of `inputs`, `target`"
        );
        assert_eq!(
            with_taken_field(
                "\u{1}foo\u{1}unknown field `foo`, expected one of `path`, `encoding`".to_owned(),
                "inputs"
            ),
            "\u{1}foo\u{1}unknown field `foo`, expected one of `encoding`, `inputs`, `path`"
        );
        let nested = "\u{1}auth.foo\u{1}unknown field `foo`, expected `token`".to_owned();
        assert_eq!(with_taken_field(nested.clone(), "inputs"), nested);
        let other = "\u{1}path\u{1}invalid type: integer `1`, expected a string".to_owned();
        assert_eq!(with_taken_field(other.clone(), "inputs"), other);
    }

    #[test]
    fn known_fields_names_every_field_sorted() {
        let map: Mapping = serde_yaml_ng::from_str("b: 1\nzz: 2\n").unwrap();
        let error = known_fields::<serde_yaml_ng::Error>(&map, &["c", "b", "a"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "\u{1}zz\u{1}unknown field `zz`, expected one of `a`, `b`, `c`"
        );
        known_fields::<serde_yaml_ng::Error>(&map, &["zz", "b"]).unwrap();
    }
}
