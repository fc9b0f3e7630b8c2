//! Exercises the host imports other than `tls` and reports what it saw as
//! details: `runs` (a counter kept in `state`), `now_seconds` (clock),
//! `mounts` and `usage_*`/`usage_error` (fs-stats of config `mount`),
//! `env` (the variable named by config `env`), and, with config
//! `state_fill` bytes, `state_fill` (what a too-big `state.set` answered).

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::clock;
use neurallog::plugin::fs_stats::{self, FsError};
use neurallog::plugin::state::{self, StateError};
use neurallog::plugin::types::{Detail, Status};

struct Hostapi;

fn detail(key: &str, value: impl Into<String>) -> Detail {
    Detail {
        key: key.into(),
        value: value.into(),
    }
}

impl Guest for Hostapi {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostapi".into(),
            version: "0.1.0".into(),
            description: "Calls every host import but tls.".into(),
            config_schema: "{\"type\":\"object\"}".into(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let mut details = Vec::new();

        let runs = state::get("runs")
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
            + 1;
        state::set("runs", &runs.to_le_bytes())
            .map_err(|e| RunError::Failed(format!("state: {e:?}")))?;
        details.push(detail("runs", runs.to_string()));
        details.push(detail("keys", state::keys().join(",")));

        details.push(detail("now_seconds", clock::now().seconds.to_string()));

        let mounts: Vec<String> = fs_stats::mounts()
            .into_iter()
            .map(|m| format!("{}|{}|{}", m.path, m.device, m.fs_type))
            .collect();
        details.push(detail("mounts", mounts.join(";")));
        if let Some(mount) = config["mount"].as_str() {
            match fs_stats::usage(mount) {
                Ok(u) => {
                    details.push(detail("usage_total_bytes", u.total_bytes.to_string()));
                    details.push(detail(
                        "usage_available_bytes",
                        u.available_bytes.to_string(),
                    ));
                }
                Err(FsError::NotAllowed(m)) => {
                    details.push(detail("usage_error", format!("not-allowed: {m}")))
                }
                Err(FsError::Failed(m)) => {
                    details.push(detail("usage_error", format!("failed: {m}")))
                }
            }
        }

        if let Some(name) = config["env"].as_str() {
            let value = std::env::var(name).unwrap_or_else(|_| "<unset>".into());
            details.push(detail("env", value));
        }

        if let Some(bytes) = config["state_fill"].as_u64() {
            let answer = match state::set("fill", &vec![7u8; bytes as usize]) {
                Ok(()) => "ok".to_string(),
                Err(StateError::QuotaExceeded(cap)) => format!("quota-exceeded {cap}"),
                Err(StateError::Failed(m)) => format!("failed {m}"),
            };
            details.push(detail("state_fill", answer));
        }

        Ok(CheckResult {
            status: Status::Ok,
            summary: format!("run {runs}"),
            metrics: Vec::new(),
            details,
        })
    }
}

export!(Hostapi);
