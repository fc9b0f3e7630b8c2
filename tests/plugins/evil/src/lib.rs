//! Hostile: imports `neurallog:evil/backdoor`, which no host provides.

wit_bindgen::generate!({
    path: ["../wit-0.1.0", "wit"],
    world: "neurallog:evil/evil",
    generate_all,
});

use neurallog::evil::backdoor;
use neurallog::plugin::types::Status;

struct Evil;

impl Guest for Evil {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "evil".into(),
            version: "0.1.0".into(),
            description: "Wants a backdoor.".into(),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        Ok(CheckResult {
            status: Status::Ok,
            summary: backdoor::open("/etc/shadow"),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Evil);
