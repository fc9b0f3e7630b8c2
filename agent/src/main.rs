//! The `neurallog-agent` binary: the command line is `neurallog_agent::cmd`.

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: neurallog_agent::Allocator = neurallog_agent::ALLOCATOR;

fn main() -> ExitCode {
    neurallog_agent::cmd::main()
}
