//! Self-describing lines: JSON objects, logfmt pairs, and klog's header.

use bytestring::ByteString;

use crate::event::{AnyValue, Attributes};

use super::Parsed;
use super::mapping::{DEBUG, ERROR, FATAL, INFO, WARN, digits, without_year};

/// A JSON object's members as attributes.
pub fn json(line: &str) -> Option<Parsed> {
    let serde_json::Value::Object(members) = serde_json::from_str(line).ok()? else {
        return None;
    };
    Some(Parsed::attributes_only(object(members)))
}

fn object(members: serde_json::Map<String, serde_json::Value>) -> Attributes {
    let mut attributes = Attributes::new();
    for (key, value) in members {
        if let Some(value) = any_value(value) {
            attributes.insert(key, value);
        }
    }
    attributes
}

fn any_value(value: serde_json::Value) -> Option<AnyValue> {
    use serde_json::Value;
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => AnyValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64()?),
        },
        Value::String(s) => AnyValue::String(s.into()),
        Value::Array(values) => AnyValue::Array(values.into_iter().filter_map(any_value).collect()),
        Value::Object(members) => AnyValue::Map(object(members)),
    })
}

/// `key=value` pairs; values may be quoted, a bare key is `true`. A line
/// with no `=` at all is not logfmt.
pub fn logfmt(line: &ByteString) -> Option<Parsed> {
    let mut attributes = Attributes::new();
    let mut rest = line.trim_start();
    let mut pairs = 0;
    while !rest.is_empty() {
        let key_end = rest.find(['=', ' ']).unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key.is_empty() || key.contains('"') {
            return None;
        }
        rest = &rest[key_end..];
        let value = match rest.strip_prefix('=') {
            None => AnyValue::Bool(true),
            Some(after) => {
                pairs += 1;
                if let Some(quoted) = after.strip_prefix('"') {
                    let (value, after) = unquote(quoted)?;
                    rest = after;
                    AnyValue::String(value.into())
                } else {
                    let end = after.find(' ').unwrap_or(after.len());
                    rest = &after[end..];
                    AnyValue::part_of(line, &after[..end])
                }
            }
        };
        attributes.insert(key.to_owned(), value);
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        rest = rest.trim_start();
    }
    (pairs > 0).then(|| Parsed::attributes_only(attributes))
}

/// The text up to the closing `"`, with `\"`, `\\`, `\n` and `\t`
/// unescaped, and what follows.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            '"' => return Some((value, &text[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

/// klog's header, `Lmmdd hh:mm:ss.uuuuuu threadid file:line] message`
/// (<https://github.com/kubernetes/klog>): severity, time, `thread.id`,
/// `code.filepath` and `code.lineno`.
pub fn klog(line: &str, observed_unix_nanos: u64) -> Option<Parsed> {
    let b = line.as_bytes();
    if b.len() < 30 || b[5] != b' ' || b[14] != b'.' || b[21] != b' ' {
        return None;
    }
    let (severity, text) = match b[0] {
        b'I' => (INFO, "INFO"),
        b'W' => (WARN, "WARNING"),
        b'E' => (ERROR, "ERROR"),
        b'F' => (FATAL, "FATAL"),
        b'D' => (DEBUG, "DEBUG"),
        _ => return None,
    };
    let month = digits(&b[1..3])?;
    let day = digits(&b[3..5])?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let micros = digits(&b[15..21])?;
    let time = without_year(month, day, &b[6..14], micros * 1000, observed_unix_nanos)?;
    let rest = line[22..].trim_start();
    let (thread, rest) = rest.split_once(' ')?;
    let (location, _message) = rest.split_once("] ").or_else(|| rest.split_once(']'))?;
    let (file, lineno) = location.rsplit_once(':')?;
    let mut attributes = Attributes::new();
    attributes.insert("thread.id", i64::from(digits(thread.as_bytes())?));
    attributes.insert("code.filepath", file.to_owned());
    attributes.insert("code.lineno", i64::from(digits(lineno.as_bytes())?));
    Some(Parsed {
        attributes,
        time_unix_nano: Some(time),
        severity: Some((severity, ByteString::from_static(text))),
    })
}
