//! Command-line interface.
//!
//! Exit codes:
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0    | success; for `run`, a graceful shutdown |
//! | 1    | a runtime failure: a port taken, a directory not writable, a plugin that failed its run |
//! | 2    | command-line usage error |
//! | 78   | the configuration is invalid (`EX_CONFIG` from sysexits.h) |

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit code for a graceful run or a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for an invalid configuration (`EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;

const AFTER_HELP: &str = "\
Exit codes: 0 success (or graceful shutdown), 1 runtime failure, 2 usage error, 78 invalid configuration.
Documentation: README.md and config/examples/ in the source tree.";

/// The NeuralLog node agent: tails logs, collects host and pod metrics,
/// runs sandboxed WebAssembly checks and ships everything over OTLP.
#[derive(Debug, Parser)]
#[command(name = "neurallog-agent", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Configuration file, for `run` without a subcommand.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent until SIGTERM or SIGINT. SIGHUP reloads the
    /// configuration.
    Run(ConfigArg),
    /// Parse and validate a configuration, then exit: 0 when valid, 78 with
    /// every problem listed when not. Touches nothing (safe in
    /// `ExecStartPre` and CI).
    Validate(ConfigArg),
    /// Print the effective configuration, defaults filled in, as YAML.
    /// Secrets are redacted.
    PrintConfig(ConfigArg),
    /// Print the JSON Schema of the configuration file, for editors.
    Schema,
}

/// Which configuration to use.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// YAML configuration file. Without it, the default configuration
    /// built into the binary is used.
    #[arg(
        short,
        long,
        value_name = "FILE",
        env = "NEURALLOG_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,
}
