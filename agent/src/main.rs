//! The `neurallog-agent` binary: parses the command line and hands over to
//! the library. Errors are printed with their whole cause chain.

use std::process::ExitCode;

use clap::Parser as _;
use neurallog_agent::cli::{
    Cli, Command, ConfigArg, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, PluginCommand, print_stdout,
};
use neurallog_agent::config::{self, ConfigSource};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        // Before anything else: the worker confines itself while it has a
        // single thread.
        Some(Command::PluginWorker(args)) => {
            return neurallog_agent::wasm::worker::serve(args.parent);
        }
        None => run(&cli.config),
        Some(Command::Run(arg)) => run(&arg),
        Some(Command::Validate(arg)) => validate(&arg),
        Some(Command::PrintConfig(arg)) => print_config(&arg),
        Some(Command::Schema) => schema(),
        Some(Command::Plugin(command)) => plugin(command),
    };
    ExitCode::from(code)
}

fn source(arg: &ConfigArg) -> ConfigSource {
    match &arg.config {
        Some(path) => ConfigSource::File(path.clone()),
        None => ConfigSource::Embedded,
    }
}

fn run(arg: &ConfigArg) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("neurallog-worker")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    match runtime.block_on(neurallog_agent::app::run(source(arg))) {
        Ok(()) => EXIT_OK,
        Err(neurallog_agent::app::RunError::Config(errors)) => {
            eprintln!("{errors}");
            EXIT_CONFIG
        }
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            EXIT_FAILURE
        }
    }
}

fn plugin(command: PluginCommand) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    runtime.block_on(async {
        match command {
            PluginCommand::Run(args) => neurallog_agent::plugin_cli::run(*args).await,
            PluginCommand::Inspect(args) => neurallog_agent::plugin_cli::inspect(args).await,
        }
    })
}

fn validate(arg: &ConfigArg) -> u8 {
    let source = source(arg);
    match config::load(&source).and_then(|c| config::validate(&c, &source.label())) {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("warning: {}: {warning}", source.label());
            }
            print_stdout(&format!("{}: valid", source.label()));
            EXIT_OK
        }
        Err(errors) => {
            eprintln!("{errors}");
            EXIT_CONFIG
        }
    }
}

fn print_config(arg: &ConfigArg) -> u8 {
    let source = source(arg);
    let config = match config::load(&source) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return EXIT_CONFIG;
        }
    };
    match serde_yaml_ng::to_string(&config) {
        Ok(yaml) => {
            print_stdout(yaml.trim_end());
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: cannot print the configuration: {error}");
            EXIT_FAILURE
        }
    }
}

fn schema() -> u8 {
    let schema = schemars::schema_for!(config::Config);
    match serde_json::to_string_pretty(&schema) {
        Ok(json) => {
            print_stdout(&json);
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: cannot print the schema: {error}");
            EXIT_FAILURE
        }
    }
}
