//! Self-describing lines: JSON objects, logfmt pairs, and klog's header.

use std::borrow::Cow;

use bytestring::ByteString;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::event::{AnyValue, Attributes};

use super::Parsed;
use super::mapping::{DEBUG, ERROR, FATAL, INFO, WARN, digits, without_year};

/// A JSON object's members as attributes, in the order of their keys; a
/// `null` member is left out. A string that stands in the line as it is
/// (no escapes) becomes a view into it, not a copy.
pub fn json(line: &ByteString) -> Option<Parsed> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value = Json { line }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    let Some(AnyValue::Map(attributes)) = value else {
        return None;
    };
    Some(Parsed::attributes_only(attributes))
}

/// Reads one JSON value into an [`AnyValue`] (`None` for `null`).
#[derive(Clone, Copy)]
struct Json<'l> {
    line: &'l ByteString,
}

impl<'de> DeserializeSeed<'de> for Json<'_> {
    type Value = Option<AnyValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Json<'_> {
    type Value = Option<AnyValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Int(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(match i64::try_from(v) {
            Ok(v) => AnyValue::Int(v),
            Err(_) => AnyValue::Double(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Double(v)))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::part_of(self.line, v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::from(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element_seed(self)? {
            values.extend(value);
        }
        Ok(Some(AnyValue::Array(values)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The last of a repeated key wins, a `null` one too. Members are
        // gathered as they come and sorted once; the rare object with a
        // `null` member is replayed in its order.
        let mut members = Vec::with_capacity(8);
        let mut nulls: Vec<(usize, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match map.next_value_seed(self)? {
                Some(value) => members.push((Cow::Owned(key), value)),
                None => nulls.push((members.len(), key)),
            }
        }
        if nulls.is_empty() {
            return Ok(Some(AnyValue::Map(Attributes::from_members(members))));
        }
        let mut attributes = Attributes::new();
        let mut nulls = nulls.into_iter().peekable();
        for (at, (key, value)) in members.into_iter().enumerate() {
            while let Some((_, null)) = nulls.next_if(|(before, _)| *before <= at) {
                attributes.remove(&null);
            }
            attributes.insert(key, value);
        }
        for (_, null) in nulls {
            attributes.remove(&null);
        }
        attributes.sort_by_key();
        Ok(Some(AnyValue::Map(attributes)))
    }
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
