//! `neurallog-agent run` (and no subcommand): the agent until SIGTERM.

use super::{ConfigArg, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, runtime, source};
use crate::app::{self, RunError};
use crate::error::Chain;

/// Run the agent on the configuration `arg` names.
pub(super) fn run(arg: &ConfigArg) -> u8 {
    let runtime = match runtime(Some("neurallog-worker")) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(app::run(source(arg))) {
        Ok(()) => EXIT_OK,
        Err(RunError::Config(errors)) => {
            eprintln!("{errors}");
            EXIT_CONFIG
        }
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            EXIT_FAILURE
        }
    }
}
