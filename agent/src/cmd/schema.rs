//! `neurallog-agent schema`: the JSON Schema of the configuration file.

use super::{EXIT_FAILURE, EXIT_OK, print_stdout};
use crate::config;

/// Print the schema.
pub(super) fn schema() -> u8 {
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
