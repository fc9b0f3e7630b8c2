//! The `neurallog-agent` binary: the command line is `neurallog_agent::cmd`.

use std::process::ExitCode;

fn main() -> ExitCode {
    neurallog_agent::cmd::main()
}
