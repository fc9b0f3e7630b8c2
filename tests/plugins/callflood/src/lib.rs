//! Hostile: calls the host's clock in a tight loop. The per-run budget of
//! host calls must stop it long before its deadline.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::clock;
use neurallog::plugin::types::Status;

struct Callflood;

impl Guest for Callflood {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "callflood".into(),
            version: "0.1.0".into(),
            description: "Floods the host with calls.".into(),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        let mut last = 0;
        for _ in 0..100_000_000u64 {
            last = std::hint::black_box(clock::now().seconds);
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("survived, last clock {last}"),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Callflood);
