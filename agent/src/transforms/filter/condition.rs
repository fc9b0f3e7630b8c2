//! Conditions compiled for evaluation: fields resolved to where they live
//! in a [`LogRecord`], regexes built once.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use regex::Regex;

use crate::event::{AnyValue, Attributes, LogRecord};

use super::config::Condition;

/// Where a condition's field lives in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// The body.
    Body,
    /// The severity number.
    Severity,
    /// The severity text.
    SeverityText,
    /// An attribute: the record's own, then its source's shared ones.
    Attribute(AttributeName),
    /// A resource attribute.
    Resource(String),
}

/// The name of an attribute a field reads, and where in a record's list it
/// was found last. Records of one source and parser list their attributes
/// in the same order, so that place is looked at first: one comparison
/// instead of a walk along the list.
#[derive(Debug)]
pub struct AttributeName {
    name: String,
    last_at: AtomicUsize,
}

/// A condition ready to evaluate.
#[derive(Debug)]
pub enum Compiled {
    /// Every one matches.
    All(Vec<Compiled>),
    /// At least one matches.
    Any(Vec<Compiled>),
    /// The inner one does not match.
    Not(Box<Compiled>),
    /// The field's text equals this.
    Equals(FieldRef, String),
    /// The field's text contains a match.
    Regex(FieldRef, Regex),
    /// The field's number is greater.
    Gt(FieldRef, f64),
    /// The field's number is less.
    Lt(FieldRef, f64),
    /// The field is present (`true`) or absent (`false`).
    Exists(FieldRef, bool),
}

/// A field's value in a record, borrowed where it can be.
enum Found<'a> {
    Text(&'a str),
    Number(f64),
    Value(&'a AnyValue),
}

// === impl FieldRef ===

impl FieldRef {
    /// The optional `key_field` of `sample` and `throttle`: checked where
    /// the configuration is validated, at `path.key_field`.
    pub fn validate_key_field(
        field: Option<&str>,
        path: &crate::config::FieldPath,
        errors: &mut Vec<crate::config::ConfigError>,
    ) {
        if let Some(Err(message)) = field.map(FieldRef::parse) {
            errors.push(path.field("key_field").error(message));
        }
    }

    /// The optional `key_field`, read when the transform is built.
    pub fn parse_key_field(
        field: Option<&str>,
    ) -> Result<Option<FieldRef>, crate::topology::BuildError> {
        field
            .map(FieldRef::parse)
            .transpose()
            .map_err(crate::topology::BuildError::new)
    }

    /// Read a field reference: `body`, `severity`, `severity_text`,
    /// `attributes.NAME` or `resource.NAME`.
    pub fn parse(field: &str) -> Result<FieldRef, String> {
        let named = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
        };
        match field {
            "body" => Ok(FieldRef::Body),
            "severity" => Ok(FieldRef::Severity),
            "severity_text" => Ok(FieldRef::SeverityText),
            _ => {
                if let Some(name) = named("attributes.") {
                    Ok(FieldRef::Attribute(AttributeName::new(name)))
                } else if let Some(name) = named("resource.") {
                    Ok(FieldRef::Resource(name))
                } else {
                    Err(format!(
                        "`{field}` is not a field: expected `body`, `severity`, `severity_text`, `attributes.NAME` or `resource.NAME`"
                    ))
                }
            }
        }
    }

    /// The field's value in `log` as a number (a number, or text that
    /// reads as one), as `gt` and `lt` compare it.
    pub fn number(&self, log: &LogRecord) -> Option<f64> {
        self.find(log)?.number()
    }

    /// Append the field's value in `log`, as text (as `equals` compares
    /// it), to `out`; `false` if the field is absent.
    pub fn write_text(&self, log: &LogRecord, out: &mut String) -> bool {
        match self.find(log) {
            None => false,
            Some(Found::Text(text)) => {
                out.push_str(text);
                true
            }
            Some(Found::Value(AnyValue::String(text))) => {
                out.push_str(text);
                true
            }
            Some(Found::Value(AnyValue::Int(i))) => {
                out.push_str(itoa::Buffer::new().format(*i));
                true
            }
            Some(found) => {
                out.push_str(&found.text());
                true
            }
        }
    }

    fn find<'a>(&self, log: &'a LogRecord) -> Option<Found<'a>> {
        match self {
            FieldRef::Body => Some(Found::Text(&log.body)),
            FieldRef::Severity => Some(Found::Number(f64::from(log.severity_number))),
            FieldRef::SeverityText => log.severity_text.as_deref().map(Found::Text),
            FieldRef::Attribute(attribute) => attribute
                .find(&log.attributes)
                .or_else(|| log.shared_attributes.get(&attribute.name))
                .map(Found::Value),
            FieldRef::Resource(name) => log.resource.attributes.get(name).map(Found::Value),
        }
    }
}

// === impl AttributeName ===

impl AttributeName {
    fn new(name: String) -> Self {
        AttributeName {
            name,
            last_at: AtomicUsize::new(0),
        }
    }

    /// The attribute's value in `attributes`, if set.
    fn find<'a>(&self, attributes: &'a Attributes) -> Option<&'a AnyValue> {
        let near = self.last_at.load(Ordering::Relaxed);
        let (at, value) = attributes.get_near(&self.name, near)?;
        if at != near {
            self.last_at.store(at, Ordering::Relaxed);
        }
        Some(value)
    }
}

impl Clone for AttributeName {
    fn clone(&self) -> Self {
        AttributeName::new(self.name.clone())
    }
}

impl PartialEq for AttributeName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for AttributeName {}

// === impl Found ===

impl Found<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Found::Text(text) => Cow::Borrowed(text),
            Found::Number(n) => Cow::Owned(n.to_string()),
            Found::Value(AnyValue::String(s)) => Cow::Borrowed(s),
            Found::Value(value) => Cow::Owned(value.to_string()),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Found::Number(n) => Some(*n),
            Found::Value(AnyValue::Int(i)) => Some(*i as f64),
            Found::Value(AnyValue::Double(d)) => Some(*d),
            Found::Text(text) => text.trim().parse().ok(),
            Found::Value(AnyValue::String(s)) => s.trim().parse().ok(),
            Found::Value(_) => None,
        }
    }
}

// === impl Compiled ===

impl Compiled {
    /// Compile a condition that validated.
    pub fn new(condition: &Condition) -> Result<Compiled, String> {
        if let Some(all) = &condition.all {
            return all
                .iter()
                .map(Compiled::new)
                .collect::<Result<_, _>>()
                .map(Compiled::All);
        }
        if let Some(any) = &condition.any {
            return any
                .iter()
                .map(Compiled::new)
                .collect::<Result<_, _>>()
                .map(Compiled::Any);
        }
        if let Some(not) = &condition.not {
            return Compiled::new(not).map(|inner| Compiled::Not(Box::new(inner)));
        }
        let Some(field) = &condition.field else {
            return Err("expected one of `all`, `any`, `not` and `field`".to_owned());
        };
        let field = FieldRef::parse(field)?;
        if let Some(value) = &condition.equals {
            Ok(Compiled::Equals(field, value.to_text()))
        } else if let Some(pattern) = &condition.regex {
            Regex::new(pattern)
                .map(|regex| Compiled::Regex(field, regex))
                .map_err(|error| format!("{pattern:?} is not a valid regex: {error}"))
        } else if let Some(limit) = condition.gt {
            Ok(Compiled::Gt(field, limit))
        } else if let Some(limit) = condition.lt {
            Ok(Compiled::Lt(field, limit))
        } else if let Some(present) = condition.exists {
            Ok(Compiled::Exists(field, present))
        } else {
            Err("expected a test: `equals`, `regex`, `gt`, `lt` or `exists`".to_owned())
        }
    }

    /// Whether `log` matches. A test of an absent field does not match
    /// (except `exists: false`).
    pub fn matches(&self, log: &LogRecord) -> bool {
        match self {
            Compiled::All(all) => all.iter().all(|c| c.matches(log)),
            Compiled::Any(any) => any.iter().any(|c| c.matches(log)),
            Compiled::Not(inner) => !inner.matches(log),
            Compiled::Equals(field, value) => field.find(log).is_some_and(|f| f.text() == *value),
            Compiled::Regex(field, regex) => {
                field.find(log).is_some_and(|f| regex.is_match(&f.text()))
            }
            Compiled::Gt(field, limit) => field
                .find(log)
                .and_then(|f| f.number())
                .is_some_and(|n| n > *limit),
            Compiled::Lt(field, limit) => field
                .find(log)
                .and_then(|f| f.number())
                .is_some_and(|n| n < *limit),
            Compiled::Exists(field, present) => field.find(log).is_some() == *present,
        }
    }
}
