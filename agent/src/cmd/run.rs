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
    let result = runtime.block_on(app::run(source(arg)));
    // Everything is delivered or left for the next start by now. A thread
    // stuck in the kernel (a `statvfs` of a hung network mount) must not
    // hold the exit, as dropping the runtime would: it waits for every
    // blocking task without a limit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
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
