//! The configuration loader: YAML, `${VAR}` interpolation, the typed
//! configuration, validation. Never a panic, whatever the text.
//!
//! A configuration that loads must print (`neurallog-agent print-config`)
//! and load back to the same configuration, with the same verdict from
//! validation (unless printing hid a secret or showed a `$`).

use crate::config::{load_str, validate};
use crate::sinks::util::auth::REDACTED;

const LABEL: &str = "fuzz.yaml";

/// The environment interpolation sees: a few set names, one empty.
fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/root".to_owned()),
        "NODE_NAME" => Some("node-1".to_owned()),
        "EMPTY" => Some(String::new()),
        "PORT" => Some("4318".to_owned()),
        _ => None,
    }
}

/// Run one input: the configuration text (invalid UTF-8 replaced).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = load_str(&text, LABEL, &env) else {
        return;
    };
    let verdict = validate(&config, LABEL).map_err(|e| e.to_string());

    let printed = serde_yaml_ng::to_string(&config).expect("a loaded configuration prints");
    // Printing shows values after interpolation (a `$` in one is read as
    // the start of a variable when loaded again) and hides secrets (header
    // values): only texts free of both round-trip.
    if printed.contains('$') || printed.contains(REDACTED) {
        return;
    }
    let again = match load_str(&printed, LABEL, &env) {
        Ok(again) => again,
        Err(errors) => panic!("printed configuration does not load: {errors}\n{printed}"),
    };
    assert_eq!(
        again, config,
        "printed configuration loads differently:\n{printed}"
    );
    assert_eq!(
        validate(&again, LABEL).map_err(|e| e.to_string()),
        verdict,
        "validation differs"
    );
}
