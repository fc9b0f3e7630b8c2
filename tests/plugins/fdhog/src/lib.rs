//! Hostile: opens the file at config `path` `count` times (default
//! 100,000) and keeps every handle, to take the host's descriptors.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::Status;

struct Fdhog;

impl Guest for Fdhog {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "fdhog".into(),
            version: "0.1.0".into(),
            description: "Holds open handles.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let path = config["path"]
            .as_str()
            .ok_or_else(|| RunError::InvalidConfig("path: expected a string".into()))?;
        let count = config["count"].as_u64().unwrap_or(100_000);
        let mut held = Vec::new();
        for _ in 0..count {
            match std::fs::File::open(path) {
                Ok(file) => held.push(file),
                Err(e) => {
                    return Err(RunError::Failed(format!(
                        "open {} failed after {} handles: {e}",
                        path,
                        held.len()
                    )));
                }
            }
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("holding {} handles", held.len()),
            metrics: Vec::new(),
            details: Vec::new(),
        })
    }
}

export!(Fdhog);
