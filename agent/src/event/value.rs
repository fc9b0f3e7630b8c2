//! Attribute values and resources, after the OpenTelemetry common model
//! (<https://opentelemetry.io/docs/specs/otel/common/#anyvalue>).

use std::borrow::Cow;
use std::fmt;

use bytestring::ByteString;

use super::text::Text;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A value of an attribute or of a log body.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyValue {
    /// A UTF-8 string: static, owned, or a part of the text it was found
    /// in (a field parsed out of a log body: see [`Text`]).
    String(Text),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<AnyValue>),
    /// A nested map.
    Map(Attributes),
}

/// An ordered list of key/value attributes.
///
/// A `Vec` rather than a map: attribute sets are small, and keeping insertion
/// order makes encodings deterministic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(Vec<(Cow<'static, str>, AnyValue)>);

/// The entity that produced telemetry: a host, a pod, a container.
///
/// Built once per source (or per file, per pod) and shared by `Arc`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource {
    /// Resource attributes, e.g. `host.name`, `k8s.pod.name`.
    pub attributes: Attributes,
}

/// Where `part` starts in `whole`, if its bytes are in `whole`'s memory (a
/// view into it, not an equal copy found elsewhere). Both are alive and
/// neither changes, so bytes in `whole`'s memory are `whole`'s bytes.
pub fn offset_in(part: &str, whole: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (!part.is_empty() && start + part.len() <= whole.len()).then_some(start)
}

// === impl AnyValue ===

impl AnyValue {
    /// `part` as a string value: a part of `whole` when it is one (a
    /// field read out of a body, see [`Text::part_of`]), else a copy.
    #[inline]
    pub fn part_of(whole: &ByteString, part: &str) -> AnyValue {
        AnyValue::String(Text::part_of(whole, part))
    }

    /// The string inside, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&'static str> for AnyValue {
    fn from(s: &'static str) -> Self {
        AnyValue::String(Text::from_static(s))
    }
}

impl From<String> for AnyValue {
    fn from(s: String) -> Self {
        AnyValue::String(s.into())
    }
}

impl From<ByteString> for AnyValue {
    fn from(s: ByteString) -> Self {
        AnyValue::String(s.into())
    }
}

impl From<Text> for AnyValue {
    fn from(s: Text) -> Self {
        AnyValue::String(s)
    }
}

impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue::Int(v)
    }
}

impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue::Bool(v)
    }
}

impl From<f64> for AnyValue {
    fn from(v: f64) -> Self {
        AnyValue::Double(v)
    }
}

impl fmt::Display for AnyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyValue::String(s) => f.write_str(s),
            AnyValue::Bool(b) => write!(f, "{b}"),
            AnyValue::Int(i) => write!(f, "{i}"),
            AnyValue::Double(d) => write!(f, "{d}"),
            AnyValue::Bytes(b) => write!(f, "{}", String::from_utf8_lossy(b)),
            AnyValue::Array(_) | AnyValue::Map(_) => match serde_json::to_string(self) {
                Ok(json) => f.write_str(&json),
                Err(_) => Err(fmt::Error),
            },
        }
    }
}

impl Serialize for AnyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyValue::String(s) => serializer.serialize_str(s),
            AnyValue::Bool(b) => serializer.serialize_bool(*b),
            AnyValue::Int(i) => serializer.serialize_i64(*i),
            AnyValue::Double(d) => serializer.serialize_f64(*d),
            AnyValue::Bytes(b) => serializer.serialize_str(&String::from_utf8_lossy(b)),
            AnyValue::Array(values) => {
                let mut seq = serializer.serialize_seq(Some(values.len()))?;
                for value in values {
                    seq.serialize_element(value)?;
                }
                seq.end()
            }
            AnyValue::Map(map) => map.serialize(serializer),
        }
    }
}

/// Bytewise order of two keys, as `str`'s own, compared in place: keys
/// are short and most differ in their first bytes, where a call to
/// `memcmp` for each comparison costs more than the comparison.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x.cmp(y),
        None => a.len().cmp(&b.len()),
    }
}

// === impl Attributes ===

impl IntoIterator for Attributes {
    type Item = (Cow<'static, str>, AnyValue);
    type IntoIter = std::vec::IntoIter<(Cow<'static, str>, AnyValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Attributes {
    /// An empty attribute list.
    pub const fn new() -> Self {
        Attributes(Vec::new())
    }

    /// An empty attribute list with room for `n` attributes.
    pub fn with_capacity(n: usize) -> Self {
        Attributes(Vec::with_capacity(n))
    }

    /// Append `key`, which the caller knows is not set yet (a parser
    /// filling a fresh list from its own distinct keys): no search for an
    /// earlier value.
    #[inline]
    pub fn push_new(&mut self, key: &'static str, value: impl Into<AnyValue>) {
        debug_assert!(self.get(key).is_none(), "attribute `{key}` set twice");
        self.0.push((Cow::Borrowed(key), value.into()));
    }

    /// Set `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<AnyValue>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Builder form of [`Attributes::insert`].
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<AnyValue>) -> Self {
        self.insert(key, value);
        self
    }

    /// `members` in the order of their keys (bytewise), the last of a
    /// repeated key taking its place: what inserting them one by one and
    /// then sorting gives, without searching the list for each.
    pub fn from_members(mut members: Vec<(Cow<'static, str>, AnyValue)>) -> Self {
        // Stable: members of one key stay in their order, so the last of
        // each run is the one that wins.
        members.sort_by(|(a, _), (b, _)| key_order(a, b));
        members.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Attributes(members)
    }

    /// Order the attributes by key (bytewise, as a `BTreeMap` would).
    pub fn sort_by_key(&mut self) {
        self.0.sort_by(|(a, _), (b, _)| key_order(a, b));
    }

    /// Remove `key`, if set.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key` and its place in the list, looking at place
    /// `near` first.
    pub fn get_near(&self, key: &str, near: usize) -> Option<(usize, &AnyValue)> {
        if let Some((k, v)) = self.0.get(near)
            && k == key
        {
            return Some((near, v));
        }
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some((at, &self.0[at].1))
    }

    /// Iterate over key/value pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AnyValue)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Key/value pairs in insertion order, the values to change in place
    /// (keys and order stay).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut AnyValue)> {
        self.0.iter_mut().map(|(k, v)| {
            let k: &_ = k;
            (k.as_ref(), v)
        })
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Append every attribute of `other`, replacing keys already present.
    pub fn extend(&mut self, other: &Attributes) {
        for (k, v) in &other.0 {
            self.insert(k.clone(), v.clone());
        }
    }

    /// A rough size in bytes, for batching.
    pub fn size_hint(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + value_size(v)).sum()
    }
}

fn value_size(value: &AnyValue) -> usize {
    match value {
        AnyValue::String(s) => s.len(),
        AnyValue::Bytes(b) => b.len(),
        AnyValue::Array(values) => values.iter().map(value_size).sum(),
        AnyValue::Map(map) => map.size_hint(),
        AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) => 8,
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<AnyValue>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut attributes = Attributes::new();
        for (k, v) in iter {
            attributes.insert(k, v);
        }
        attributes
    }
}

// === impl Resource ===

impl Resource {
    /// A resource with the given attributes.
    pub fn new(attributes: Attributes) -> Self {
        Resource { attributes }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.attributes.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Keys compare as `str` does; members gathered and sorted once
        /// come out as inserting them one by one and sorting does.
        #[test]
        fn members_sort_and_the_last_of_a_key_wins(
            members in proptest::collection::vec(("[ab\\xe9\\x00]{0,3}", 0i64..4), 0..12),
        ) {
            for (a, _) in &members {
                for (b, _) in &members {
                    proptest::prop_assert_eq!(key_order(a, b), a.as_str().cmp(b.as_str()));
                }
            }
            let mut expected = Attributes::new();
            for (key, value) in &members {
                expected.insert(key.clone(), *value);
            }
            expected.0.sort_by(|(a, _), (b, _)| a.cmp(b));
            let found = Attributes::from_members(
                members.into_iter().map(|(k, v)| (Cow::Owned(k), AnyValue::Int(v))).collect(),
            );
            proptest::prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn insert_replaces_existing_key_and_keeps_order() {
        let mut attrs = Attributes::new().with("a", 1i64).with("b", "x");
        attrs.insert("a", 2i64);
        let keys: Vec<_> = attrs.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(attrs.get("a"), Some(&AnyValue::Int(2)));
    }

    #[test]
    fn get_near_finds_a_key_wherever_it_is() {
        let attrs = Attributes::new()
            .with("a", 1i64)
            .with("b", 2i64)
            .with("c", 3i64);
        for near in 0..5 {
            assert_eq!(attrs.get_near("b", near), Some((1, &AnyValue::Int(2))));
            assert_eq!(attrs.get_near("c", near), Some((2, &AnyValue::Int(3))));
            assert_eq!(attrs.get_near("d", near), None);
        }
    }

    #[test]
    fn serializes_as_json_object() {
        let attrs = Attributes::new()
            .with("k8s.pod.name", "web-1")
            .with("n", 3i64)
            .with(
                "list",
                AnyValue::Array(vec!["a".into(), AnyValue::Bool(true)]),
            );
        let json = serde_json::to_string(&attrs).unwrap();
        assert_eq!(json, r#"{"k8s.pod.name":"web-1","n":3,"list":["a",true]}"#);
    }
}
