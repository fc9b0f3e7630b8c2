//! Hostile: writes config `lines` log lines (default 5000) through the host's
//! `log` import, then returns ok. The host keeps only its per-run cap. With
//! config `message`, every line is that text (newlines and escapes
//! included, to forge lines of the agent's own log), and with `fail: true`
//! the run then fails with it as its error message.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::log::{self, Level};
use neurallog::plugin::types::Status;

struct Logflood;

impl Guest for Logflood {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "logflood".into(),
            version: "0.1.0".into(),
            description: "Floods the log.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let lines = config["lines"].as_u64().unwrap_or(5000);
        let message = config["message"].as_str();
        for i in 0..lines {
            match message {
                Some(message) => log::log(Level::Info, message),
                None => log::log(Level::Info, &format!("flood line {i}")),
            }
        }
        if let (Some(message), Some(true)) = (message, config["fail"].as_bool()) {
            return Err(RunError::Failed(message.to_owned()));
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("logged {lines} lines"),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Logflood);
