//! `neurallog-agent validate`: parse and check a configuration, and each
//! check's `config:` against its plugin's schema, writing nothing.

use super::{EXIT_CONFIG, EXIT_OK, ValidateArgs, print_stdout, runtime, source};
use crate::config::{self, ConfigErrors};

/// Validate the configuration `args` name.
pub(super) fn validate(args: &ValidateArgs) -> u8 {
    let source = source(&args.config);
    let label = source.label();
    let result = config::load(&source).and_then(|config| {
        let warnings = config::validate(&config, &label)?;
        if args.skip_plugins {
            return Ok(warnings);
        }
        let runtime = runtime(None).map_err(|_| {
            ConfigErrors(vec![
                config::FieldPath::root()
                    .field("checks")
                    .error("cannot start the async runtime to load the plugins")
                    .in_file(&label),
            ])
        })?;
        let errors = runtime.block_on(crate::checks::check_plugin_configs(&config));
        if errors.is_empty() {
            Ok(warnings)
        } else {
            Err(ConfigErrors(
                errors.into_iter().map(|e| e.in_file(&label)).collect(),
            ))
        }
    });
    match result {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("warning: {label}: {warning}");
            }
            print_stdout(&format!("{label}: valid"));
            EXIT_OK
        }
        Err(errors) => {
            eprintln!("{errors}");
            EXIT_CONFIG
        }
    }
}
