//! The `console` sink: events as JSON lines on standard output or error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::encoding::json::encode_line;
use crate::config::{ConfigError, FieldPath, Validate};
use crate::error::Chain;
use crate::event::AckStatus;
use crate::telemetry::events::{ComponentError, ErrorStage};
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
    let mut out: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match target {
        ConsoleTarget::Stdout => Box::new(tokio::io::stdout()),
        ConsoleTarget::Stderr => Box::new(tokio::io::stderr()),
    };
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(batch) = cx.input.recv().await {
        buf.clear();
        for event in batch.events() {
            encode_line(event, &mut buf);
        }
        let written = tokio::select! {
            result = async { out.write_all(&buf).await?; out.flush().await } => result,
            () = cx.hard_stop.cancelled() => return,
        };
        match written {
            Ok(()) => {
                cx.metrics.sent(batch.len(), buf.len());
                batch.resolve(AckStatus::Delivered);
            }
            Err(error) => {
                ComponentError {
                    component: &cx.metrics,
                    error_type: "write_failed",
                    stage: ErrorStage::Sending,
                    error: Chain(&error),
                }
                .emit();
                batch.resolve(AckStatus::Dropped);
            }
        }
    }
}
