//! Configuration errors that name the file, the field path and what was
//! expected: `agent.yaml: sources.app.include[0]: glob "[" is invalid: ...`,
//! and [`Validate`], which each component's configuration implements to
//! report them below its own path.

use std::fmt;

/// A path to a field inside the configuration, e.g. `sinks.out.inputs[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

/// A component configuration that can check itself.
pub trait Validate {
    /// Push an error for every problem found, with its field path below
    /// `path`.
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>);
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file, or `<embedded default>`.
    pub file: String,
    /// Where in the file: a field path, or `line:column` for syntax errors.
    pub location: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

// === impl FieldPath ===

impl FieldPath {
    /// The root of the document.
    pub fn root() -> Self {
        FieldPath(String::new())
    }

    /// The path of field `name` below this one.
    #[must_use]
    pub fn field(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_owned())
        } else {
            FieldPath(format!("{}.{name}", self.0))
        }
    }

    /// The path of element `index` of the list at this path.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        FieldPath(format!("{}[{index}]", self.0))
    }

    /// The path as text; `(root)` for the document itself.
    pub fn as_str(&self) -> &str {
        if self.0.is_empty() { "(root)" } else { &self.0 }
    }

    /// An error at this path, in no file yet (see [`ConfigError::in_file`]).
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: String::new(),
            location: self.as_str().to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl ConfigError ===

impl ConfigError {
    /// Attach the file name.
    #[must_use]
    pub fn in_file(mut self, file: &str) -> Self {
        self.file = file.to_owned();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.location, self.message)
    }
}

// === impl ConfigErrors ===

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}
