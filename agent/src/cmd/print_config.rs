//! `neurallog-agent print-config`: the effective configuration as YAML.

use super::{ConfigArg, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, print_stdout, source};
use crate::config;

/// Print the configuration `arg` names, defaults filled in.
pub(super) fn print_config(arg: &ConfigArg) -> u8 {
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
