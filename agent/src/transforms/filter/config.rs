//! The filter's configuration: a condition tree in YAML.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

use super::condition::{Compiled, FieldRef};

/// Keep or drop log records by a condition. Set exactly one of `keep` and
/// `drop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Records that match this condition go on; the others are dropped
    /// (and acknowledged: dropping them was the point).
    #[serde(default)]
    pub keep: Option<Box<Condition>>,
    /// Records that match this condition are dropped (and acknowledged);
    /// the others go on.
    #[serde(default)]
    pub drop: Option<Box<Condition>>,
}

/// A condition on a log record: either a combination (`all`, `any`, `not`)
/// or a test of one `field` (`equals`, `regex`, `gt`, `lt`, `exists`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Matches when every condition in the list matches (an empty list
    /// always matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<Condition>>,
    /// Matches when at least one condition in the list matches (an empty
    /// list never matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<Condition>>,
    /// Matches when the condition inside does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<Condition>>,
    /// The field to test: `body`, `severity` (the OpenTelemetry severity
    /// number, 0 to 24), `severity_text`, `attributes.NAME` (the record's
    /// own attributes, then its source's) or `resource.NAME`. `NAME` is
    /// the whole attribute key, dots included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Matches when the field's value, as text, equals this (`200` matches
    /// the number 200 and the string "200").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Scalar>,
    /// Matches when the field's value, as text, contains a match of this
    /// regular expression (Rust `regex` syntax; anchor it with `^...$` to
    /// match the whole value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Matches when the field's value is a number (or text that reads as
    /// one) greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    /// Matches when the field's value is a number (or text that reads as
    /// one) less than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// `true`: matches when the field is present; `false`: when it is
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// A value to compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
}

// === impl Scalar ===

impl Scalar {
    /// The value as text, as it is compared.
    pub fn to_text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

// === impl FilterConfig ===

impl Validate for FilterConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        match (&self.keep, &self.drop) {
            (Some(condition), None) => condition.validate(&path.field("keep"), errors),
            (None, Some(condition)) => condition.validate(&path.field("drop"), errors),
            (Some(_), Some(_)) => errors.push(
                path.field("drop")
                    .error("is set beside `keep`: expected exactly one of `keep` and `drop`"),
            ),
            (None, None) => errors.push(
                path.error("has neither `keep` nor `drop`: expected a condition in one of them"),
            ),
        }
    }
}

// === impl Condition ===

impl Condition {
    fn combinations(&self) -> usize {
        [
            self.all.is_some(),
            self.any.is_some(),
            self.not.is_some(),
            self.field.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }

    fn tests(&self) -> usize {
        [
            self.equals.is_some(),
            self.regex.is_some(),
            self.gt.is_some(),
            self.lt.is_some(),
            self.exists.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }
}

impl Validate for Condition {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.combinations() != 1 {
            errors.push(path.error("expected exactly one of `all`, `any`, `not` and `field`"));
            return;
        }
        for (name, list) in [("all", &self.all), ("any", &self.any)] {
            for (i, condition) in list.iter().flatten().enumerate() {
                condition.validate(&path.field(name).index(i), errors);
            }
        }
        if let Some(inner) = &self.not {
            inner.validate(&path.field("not"), errors);
        }
        let Some(field) = &self.field else {
            if self.tests() > 0 {
                errors.push(path.error(
                    "`equals`, `regex`, `gt`, `lt` and `exists` test a `field`, and none is named",
                ));
            }
            return;
        };
        if let Err(message) = FieldRef::parse(field) {
            errors.push(path.field("field").error(message));
        }
        if self.tests() != 1 {
            errors.push(path.error(format!(
                "expected exactly one test of `{field}`: `equals`, `regex`, `gt`, `lt` or `exists`"
            )));
        }
        if let Some(pattern) = &self.regex
            && let Err(error) = regex::Regex::new(pattern)
        {
            errors.push(
                path.field("regex")
                    .error(format!("{pattern:?} is not a valid regex: {error}")),
            );
        }
        // Whatever validation missed, compiling finds: keep the two in step.
        if errors.is_empty()
            && let Err(message) = Compiled::new(self)
        {
            errors.push(path.error(message));
        }
    }
}
