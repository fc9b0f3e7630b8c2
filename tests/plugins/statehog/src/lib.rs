//! Hostile: writes its state over and over. Config `mode`: `rewrite` (one
//! key set to `bytes` bytes, `count` times: a store rewritten whole on
//! every set writes `count` times its size), `many` (`count` distinct small
//! keys: quadratic for such a store). Reports how many sets succeeded.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::state;
use neurallog::plugin::types::Status;

struct Statehog;

impl Guest for Statehog {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "statehog".into(),
            version: "0.1.0".into(),
            description: "Writes state without end.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let count = config["count"].as_u64().unwrap_or(10_000);
        let bytes = config["bytes"].as_u64().unwrap_or(60 << 10) as usize;
        let many = config["mode"].as_str() == Some("many");
        let value = vec![0x5a; bytes];
        let mut ok = 0;
        for i in 0..count {
            let written = match many {
                true => state::set(&format!("key-{i:08}"), b"v"),
                false => state::set("big", &value),
            };
            if written.is_ok() {
                ok += 1;
            }
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("{ok} sets"),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Statehog);
