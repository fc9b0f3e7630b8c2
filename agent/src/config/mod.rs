//! The agent's configuration: typed structs, loading and validation.
//!
//! Loading happens in three steps, each usable alone:
//!
//! 1. [`load`]: read the YAML file (or the embedded default), interpolate
//!    `${VAR}` and `${VAR:-default}`, and deserialize into [`Config`]. Every
//!    error names the file, the field path and what was expected.
//! 2. [`validate`]: pure checks across the whole config (inputs name real
//!    components, globs and regexes compile, addresses parse). No I/O, so
//!    `neurallog-agent validate` is safe in `ExecStartPre` and CI.
//! 3. Building the pipeline (`crate::topology`), which opens files and
//!    binds sockets.

mod components;
mod error;
mod interpolate;
mod load;
mod model;
mod registry;
pub mod tagged;
mod validate;

pub use crate::checks::CheckConfig;
pub use crate::sinks::SinkConfig;
pub use crate::sources::SourceConfig;
pub use crate::transforms::TransformConfig;
pub use components::{ComponentKind, SinkComponent, TransformComponent};
pub use error::{ConfigError, ConfigErrors, FieldPath, Validate};
pub use load::{ConfigSource, EMBEDDED_DEFAULT, load, load_str};
pub use model::{
    AdminConfig, Config, Isolation, IsolationConfig, LogConfig, LogFormat, PluginsConfig,
    WorkerConfig,
};
pub(crate) use registry::components;
pub use validate::validate;
