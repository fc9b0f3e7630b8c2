//! Hostile: `describe` returns a 32 MiB description, for the host to keep
//! for as long as the plugin is loaded.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::Status;

struct Bigdescribe;

impl Guest for Bigdescribe {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "bigdescribe".into(),
            version: "0.1.0".into(),
            description: "d".repeat(32 << 20),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        Ok(CheckResult {
            status: Status::Ok,
            summary: "never runs".into(),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Bigdescribe);
