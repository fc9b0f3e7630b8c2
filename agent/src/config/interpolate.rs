//! `${VAR}` and `${VAR:-default}` in configuration values.
//!
//! Interpolation runs on the parsed YAML tree, value by value, so an error
//! can name the field it happened in and comments are never touched. `$$`
//! stands for a literal `$`. A value that is nothing but one reference
//! (`port: ${PORT}`) is re-read as a YAML scalar after substitution, so it
//! can become a number or a boolean, as it would had it been written in.

use serde_yaml_ng::Value;

use super::error::{ConfigError, FieldPath};

/// Replace every reference in the string values of `value`, looking
/// variables up with `lookup`. Collects every unset variable without a
/// default as an error.
pub fn interpolate_tree(
    value: &mut Value,
    path: &FieldPath,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) {
    match value {
        Value::String(text) => {
            if !text.contains('$') {
                return;
            }
            match interpolate(text, lookup) {
                Ok((replaced, whole)) => {
                    if whole {
                        *value = reparse_scalar(replaced);
                    } else {
                        *text = replaced;
                    }
                }
                Err(message) => errors.push(path.error(message)),
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(i), lookup, errors);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let child = match key {
                    Value::String(k) => path.field(k),
                    other => path.field(&format!("{other:?}")),
                };
                interpolate_tree(item, &child, lookup, errors);
            }
        }
        Value::Tagged(tagged) => interpolate_tree(&mut tagged.value, path, lookup, errors),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Interpolate one string. Returns the result and whether the input was a
/// single reference and nothing else.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut references = 0;
    let mut literal = false;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        literal |= pos > 0;
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            literal = true;
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| {
                format!("unclosed `${{` in {text:?}: expected `${{NAME}}` or `${{NAME:-default}}`")
            })?;
            let reference = &body[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!(
                    "`${{{reference}}}` is not a valid reference: expected a variable name of letters, digits and `_`"
                ));
            }
            match (
                lookup(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set and `${{{name}}}` has no default \
                         (write `${{{name}:-value}}` to give one)"
                    ));
                }
            }
            references += 1;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            literal = true;
            rest = after;
        }
    }
    literal |= !rest.is_empty();
    out.push_str(rest);
    Ok((out, references == 1 && !literal))
}

fn reparse_scalar(text: String) -> Value {
    match serde_yaml_ng::from_str::<Value>(&text) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::Null)) if !text.is_empty() => v,
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/op".into()),
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_references_and_defaults() {
        assert_eq!(
            interpolate("${HOME}/logs", &env).unwrap().0,
            "/home/op/logs"
        );
        assert_eq!(
            interpolate("${NOPE:-/var/log}", &env).unwrap().0,
            "/var/log"
        );
        assert_eq!(
            interpolate("${EMPTY:-fallback}", &env).unwrap().0,
            "fallback"
        );
        assert_eq!(
            interpolate("$${HOME} costs $5", &env).unwrap().0,
            "${HOME} costs $5"
        );
    }

    #[test]
    fn unset_without_default_is_an_error_naming_the_variable() {
        let err = interpolate("${TOKEN_PATH}", &env).unwrap_err();
        assert!(err.contains("`TOKEN_PATH` is not set"), "{err}");
        assert!(
            interpolate("${OOPS", &env)
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            interpolate("${a-b}", &env)
                .unwrap_err()
                .contains("not a valid reference")
        );
    }

    #[test]
    fn whole_value_reference_becomes_a_scalar() {
        let mut value: Value = serde_yaml_ng::from_str("port: ${PORT}\nname: x${PORT}").unwrap();
        let mut errors = Vec::new();
        interpolate_tree(&mut value, &FieldPath::root(), &env, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(value["port"], Value::Number(8080.into()));
        assert_eq!(value["name"], Value::String("x8080".into()));
    }

    #[test]
    fn tree_errors_name_the_field() {
        let mut value: Value =
            serde_yaml_ng::from_str("sinks:\n  out:\n    token: [\"${MISSING}\"]").unwrap();
        let mut errors = Vec::new();
        interpolate_tree(&mut value, &FieldPath::root(), &env, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location, "sinks.out.token[0]");
    }
}
