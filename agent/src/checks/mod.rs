//! Checks: Wasm plugins run on a schedule; their results become events.

use crate::config::CheckConfig;
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the scheduler of one check.
pub fn build(config: &CheckConfig, _cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    Err(BuildError::new(format!(
        "check type `{}` cannot run: no plugin host in this build",
        config.kind
    )))
}
