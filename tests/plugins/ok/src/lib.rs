//! A well-behaved check: returns `ok` with one metric and echoes its config
//! back as a detail, so tests can see the config reached the guest. The
//! config `{"mode":"invalid"}` answers `invalid-config`, `{"mode":"fail"}`
//! answers `failed`: the two plugin errors a well-behaved check can return.
//! `{"mode":"slow"}` sleeps three seconds first (in a host wait, not a
//! busy loop), so tests can act while a run is in flight.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::{Detail, Label, Metric, MetricKind, Status};

struct Echo;

impl Guest for Echo {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "ok".into(),
            version: "0.1.0".into(),
            description: "Always ok; echoes its config.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        if config.contains("\"invalid\"") {
            return Err(RunError::InvalidConfig(
                "mode: \"invalid\" asked for".into(),
            ));
        }
        if config.contains("\"slow\"") {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        if config.contains("\"fail\"") {
            return Err(RunError::Failed("mode: \"fail\" asked for".into()));
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: "all good".into(),
            metrics: vec![Metric {
                name: "ok_value".into(),
                description: "A constant one.".into(),
                unit: "1".into(),
                kind: MetricKind::Gauge,
                value: 1.0,
                labels: vec![Label {
                    key: "source".into(),
                    value: "ok".into(),
                }],
            }],
            details: vec![Detail {
                key: "config".into(),
                value: config,
            }],
        })
    }
}

export!(Echo);
