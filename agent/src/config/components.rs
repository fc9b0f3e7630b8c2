//! What the four families of named components share: their kind, and a
//! sink's `inputs` beside its own `type`-tagged configuration. The families
//! themselves are registered next to their components (`sources/mod.rs`,
//! `sinks/mod.rs`, `checks/config.rs`).

use schemars::JsonSchema;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

use super::tagged;
use crate::sinks::SinkConfig;
use crate::transforms::TransformConfig;

/// What kind of component a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A source.
    Source,
    /// A check.
    Check,
    /// A sink.
    Sink,
    /// A transform.
    Transform,
}

/// A sink and the components it reads from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SinkComponent {
    /// Names of the sources, checks and transforms whose events this sink
    /// receives.
    pub inputs: Vec<String>,
    /// The sink itself.
    #[serde(flatten)]
    pub sink: SinkConfig,
}

// === impl SinkComponent ===

impl<'de> Deserialize<'de> for SinkComponent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (inputs, sink) = with_inputs(deserializer, "sink")?;
        Ok(SinkComponent { inputs, sink })
    }
}

/// A transform and the components it reads from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TransformComponent {
    /// Names of the sources, checks and other transforms whose events this
    /// transform receives.
    pub inputs: Vec<String>,
    /// The transform itself.
    #[serde(flatten)]
    pub transform: TransformConfig,
}

// === impl TransformComponent ===

impl<'de> Deserialize<'de> for TransformComponent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (inputs, transform) = with_inputs(deserializer, "transform")?;
        Ok(TransformComponent { inputs, transform })
    }
}

/// A component's `inputs` and the rest of its mapping as `T`; `kind` names
/// the component when `inputs` is missing. An unknown field in the rest
/// lists `inputs` among the fields expected.
fn with_inputs<'de, D, T>(deserializer: D, kind: &str) -> Result<(Vec<String>, T), D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let mut map = tagged::mapping(deserializer)?;
    let inputs = match map.remove("inputs") {
        Some(value) => tagged::inner_at("inputs", value)?,
        None => {
            return Err(D::Error::custom(format!(
                "missing field `inputs`: a {kind} names the sources, checks or transforms it reads from"
            )));
        }
    };
    let rest = T::deserialize(serde_yaml_ng::Value::Mapping(map))
        .map_err(|e| D::Error::custom(tagged::with_taken_field(e.to_string(), "inputs")))?;
    Ok((inputs, rest))
}
