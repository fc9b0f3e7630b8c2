//! Hostile: returns results the host must refuse. Config `mode`:
//! `huge` (a summary of `bytes` bytes), `bad-name` (a metric name that is not
//! a Prometheus name), `bad-label` (a label name that is not one), `nan` (a
//! NaN value), `inf` (an infinite value).

wit_bindgen::generate!({ path: "../../../wit", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::{Label, Metric, MetricKind, Status};

struct Badoutput;

fn metric(name: &str, value: f64, label_key: &str) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: "1".into(),
        kind: MetricKind::Gauge,
        value,
        labels: vec![Label {
            key: label_key.into(),
            value: "x".into(),
        }],
    }
}

impl Guest for Badoutput {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "badoutput".into(),
            version: "0.1.0".into(),
            description: "Returns garbage.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let mode = config["mode"].as_str().unwrap_or("huge");
        let mut result = CheckResult {
            status: Status::Ok,
            summary: "garbage".into(),
            metrics: vec![metric("good_metric", 1.0, "good")],
            details: Vec::new(),
        };
        match mode {
            "huge" => {
                let bytes = config["bytes"].as_u64().unwrap_or(2 << 20) as usize;
                result.summary = "x".repeat(bytes);
            }
            "bad-name" => result
                .metrics
                .push(metric("bad-name with spaces", 1.0, "good")),
            "bad-label" => result
                .metrics
                .push(metric("other_metric", 1.0, "__reserved")),
            "nan" => result.metrics.push(metric("nan_metric", f64::NAN, "good")),
            "inf" => result
                .metrics
                .push(metric("inf_metric", f64::INFINITY, "good")),
            other => return Err(RunError::InvalidConfig(format!("mode: unknown {other:?}"))),
        }
        Ok(result)
    }
}

export!(Badoutput);
