//! The command line, in one place: the arguments (here) and one module
//! per subcommand, each returning its exit code.
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
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::ConfigSource;

mod plugin;
mod plugin_new;
mod plugin_process;
mod print_config;
mod run;
mod schema;
mod validate;

/// Exit code for a graceful run or a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a command-line usage error (as clap's own).
pub const EXIT_USAGE: u8 = 2;
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
    /// every problem listed when not. Each check's `config:` is checked
    /// against the schema its plugin publishes (the plugin is loaded, not
    /// run). Writes nothing (safe in `ExecStartPre` and CI).
    Validate(ValidateArgs),
    /// Print the effective configuration, defaults filled in, as YAML.
    /// Secrets are redacted.
    PrintConfig(ConfigArg),
    /// Print the JSON Schema of the configuration file, for editors.
    Schema,
    /// Work with check plugins (Wasm components).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The plugin worker process, started by the agent itself with its
    /// socket as stdin. Not for use by hand.
    #[command(hide = true)]
    PluginWorker(PluginWorkerArgs),
}

/// `plugin-worker` arguments.
#[derive(Debug, Clone, Args)]
pub struct PluginWorkerArgs {
    /// The agent's process id: the worker refuses to start as an orphan.
    #[arg(long)]
    pub parent: u32,
}

/// `plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run a plugin once, under the same sandbox and limits as in the agent,
    /// and print its result as JSON. A processor reads records from
    /// `--input` (or stdin), one per line (a JSON object with `body`,
    /// `attributes`, `severity_number`, `severity_text`, `timestamp`,
    /// `resource`, or a plain line as the body), and prints the records it
    /// returns as JSON lines. Exit code 0 when the plugin returned a result
    /// (whatever its status), 1 when the run failed (the plugin's error, a
    /// trap, a limit), 78 when the component cannot be loaded or the
    /// configuration file is invalid.
    Run(Box<PluginRunArgs>),
    /// Show what a component is: the world and contract version it targets,
    /// its imports and exports, and what it says about itself.
    Inspect(PluginFileArg),
    /// Write a new plugin to start from (a check, or with `--kind
    /// processor` a log processor): a standalone Rust crate with the
    /// template, its unit tests, a README and the plugin SDK
    /// vendored in, which `cargo build --release --target wasm32-wasip2`
    /// builds anywhere.
    New(PluginNewArgs),
}

/// `plugin new` arguments.
#[derive(Debug, Clone, Args)]
pub struct PluginNewArgs {
    /// The plugin's crate name, for example `my-check`: ASCII letters,
    /// digits, `-` and `_`, starting with a letter.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The directory to create for the crate (with its parents); `./NAME`
    /// when omitted. It must not exist.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Depend on this version of `neurallog-plugin-sdk` from crates.io
    /// (for example `0.1`) instead of vendoring the SDK built into this
    /// agent under `vendor/neurallog-plugin-sdk`.
    #[arg(long, value_name = "VERSION")]
    pub sdk_version: Option<String>,
    /// What to write: a check (run on a schedule) or a log processor
    /// (records in, records out, used by a `type: wasm` transform).
    #[arg(long, value_enum, default_value_t = crate::scaffold::PluginKind::Check)]
    pub kind: crate::scaffold::PluginKind,
}

/// A component file.
#[derive(Debug, Clone, Args)]
pub struct PluginFileArg {
    /// The `.wasm` component.
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,
}

/// `plugin run` arguments.
#[derive(Debug, Clone, Args)]
pub struct PluginRunArgs {
    /// The `.wasm` component.
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,
    /// The plugin's configuration: a JSON (or YAML) file holding what a
    /// check's `config:` section would. `{}` when omitted.
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// What the plugin may touch (each `--grant-*` is repeatable); the
    /// same grants as a check's `grants:` in the configuration.
    #[command(flatten)]
    pub grants: crate::wasm::Grants,
    /// Limits of the run: the same fields and defaults as a check's
    /// `limits:` in the configuration.
    #[command(flatten)]
    pub limits: crate::wasm::Limits,
    /// Keep the plugin's key-value state in this directory (so consecutive
    /// runs see it). A fresh temporary directory when omitted.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// For a processor: the records to process, one per line (`-` for
    /// stdin, which is also what a processor reads without it).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// For a processor: records per call of `process`.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub batch_size: usize,
}

/// `validate` arguments.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// The configuration.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Do not load the checks' plugins to check their `config:` (for a
    /// machine where third-party plugin files are not deployed yet).
    #[arg(long)]
    pub skip_plugins: bool,
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

/// Parse the command line and run it; returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        // Before anything else: the worker confines itself while it has a
        // single thread.
        Some(Command::PluginWorker(args)) => return crate::wasm::worker::serve(args.parent),
        None => run::run(&cli.config),
        Some(Command::Run(arg)) => run::run(&arg),
        Some(Command::Validate(args)) => validate::validate(&args),
        Some(Command::PrintConfig(arg)) => print_config::print_config(&arg),
        Some(Command::Schema) => schema::schema(),
        Some(Command::Plugin(command)) => plugin::plugin(command),
    };
    ExitCode::from(code)
}

/// The configuration `arg` names: its file, or the embedded default.
fn source(arg: &ConfigArg) -> ConfigSource {
    match &arg.config {
        Some(path) => ConfigSource::File(path.clone()),
        None => ConfigSource::Embedded,
    }
}

/// A multi-threaded async runtime, or the exit code when there is none.
fn runtime(thread_name: Option<&str>) -> Result<tokio::runtime::Runtime, u8> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(name) = thread_name {
        builder.thread_name(name);
    }
    builder.build().map_err(|error| {
        eprintln!("error: cannot start the async runtime: {error}");
        EXIT_FAILURE
    })
}

/// Write `text` and a newline to standard output. A closed pipe (`| head`)
/// is not an error worth a panic: the reader has what it wanted.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"));
}
