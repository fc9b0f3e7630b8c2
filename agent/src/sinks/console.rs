//! The `console` sink: events as JSON lines on standard output or error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::encoding::lines::{LineWriter, write_batches};
use crate::config::{ConfigError, FieldPath, Validate};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// Configuration of the `console` sink.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSinkConfig {
    /// Which stream to write to.
    #[serde(default)]
    pub target: ConsoleTarget,
}

/// A standard stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleTarget {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

impl Validate for ConsoleSinkConfig {
    fn validate(&self, _path: &FieldPath, _errors: &mut Vec<ConfigError>) {}
}

/// Build the sink.
pub fn build(config: &ConsoleSinkConfig, cx: SinkContext) -> Result<BoxedComponent, BuildError> {
    let target = config.target;
    Ok(Box::pin(run(target, cx)))
}

async fn run(target: ConsoleTarget, mut cx: SinkContext) {
    let mut out = Stream(match target {
        ConsoleTarget::Stdout => Box::new(tokio::io::stdout()),
        ConsoleTarget::Stderr => Box::new(tokio::io::stderr()),
    });
    write_batches(&mut cx, &mut out).await;
}

struct Stream(Box<dyn tokio::io::AsyncWrite + Send + Unpin>);

impl LineWriter for Stream {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf).await?;
        self.0.flush().await
    }
}
