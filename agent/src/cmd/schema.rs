//! `neurallog-agent schema`: the JSON Schema of the configuration file,
//! with each first-party check's `config:` schema (read from the plugin).

use super::{EXIT_FAILURE, EXIT_OK, print_stdout, runtime};
use crate::checks::{first_party_schemas, merge_into};
use crate::config;

/// Print the schema.
pub(super) fn schema() -> u8 {
    let runtime = match runtime(None) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let plugins = match runtime.block_on(first_party_schemas()) {
        Ok(plugins) => plugins,
        Err(message) => {
            eprintln!("error: cannot read the first-party checks' schemas: {message}");
            return EXIT_FAILURE;
        }
    };
    let mut schema =
        serde_json::to_value(schemars::schema_for!(config::Config)).unwrap_or_default();
    merge_into(&mut schema, plugins);
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
