//! Reads (or, with `"write": true`, writes) the file at config `path`
//! through WASI. Inside a granted directory a read succeeds; anywhere else,
//! and any write, must fail.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::{Detail, Status};

struct Fsreader;

impl Guest for Fsreader {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "fsreader".into(),
            version: "0.1.0".into(),
            description: "Reads one file.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let path = config["path"]
            .as_str()
            .ok_or_else(|| RunError::InvalidConfig("path: expected a string".into()))?;
        if config["write"].as_bool() == Some(true) {
            std::fs::write(path, b"written by a plugin")
                .map_err(|e| RunError::Failed(format!("cannot write {path}: {e}")))?;
            return Ok(CheckResult {
                status: Status::Ok,
                summary: format!("wrote {path}"),
                metrics: Vec::new(),
                details: Vec::new(),
            });
        }
        let content = std::fs::read_to_string(path)
            .map_err(|e| RunError::Failed(format!("cannot read {path}: {e}")))?;
        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("read {} bytes", content.len()),
            metrics: Vec::new(),
            details: vec![Detail {
                key: "content".into(),
                value: content,
            }],
        })
    }
}

export!(Fsreader);
