//! Sinks: where events go.
//!
//! Every sink reads [`EventBatch`](crate::event::EventBatch)es from its
//! [`SinkInput`](crate::topology::SinkInput), delivers them, and only then
//! resolves their acknowledgements.

pub mod console;
pub mod encoding;
pub mod file;
pub mod prometheus;

use crate::config::SinkConfig;
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// Build the sink `config` describes.
pub fn build(config: &SinkConfig, cx: SinkContext) -> Result<BoxedComponent, BuildError> {
    match config {
        SinkConfig::Console(c) => console::build(c, cx),
        SinkConfig::File(c) => file::build(c, cx),
        SinkConfig::Prometheus(c) => prometheus::build(c, cx),
    }
}
