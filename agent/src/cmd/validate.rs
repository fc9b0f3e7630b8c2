//! `neurallog-agent validate`: parse and check a configuration, touching
//! nothing.

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK, print_stdout, source};
use crate::config;

/// Validate the configuration `arg` names.
pub(super) fn validate(arg: &ConfigArg) -> u8 {
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
