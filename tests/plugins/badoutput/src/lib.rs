//! Hostile: returns results the host must refuse. Config `mode`:
//! `huge` (a summary of `bytes` bytes), `bad-name` (a metric name that is not
//! a Prometheus name), `bad-label` (a label name that is not one), `nan` (a
//! NaN value), `inf` (an infinite value), `huge-error` (its own error, with
//! a message of `bytes` bytes), `alias` (`count` details whose values all
//! point at one guest buffer of `bytes` bytes: cheap for the guest, `count`
//! times `bytes` for a host that copies each).

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::types::{Detail, Label, Metric, MetricKind, Status};

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
            "huge-error" => {
                let bytes = config["bytes"].as_u64().unwrap_or(100 << 20) as usize;
                return Err(RunError::Failed("e".repeat(bytes)));
            }
            "alias" => {
                let bytes = config["bytes"].as_u64().unwrap_or(1 << 20) as usize;
                let count = config["count"].as_u64().unwrap_or(128) as usize;
                let shared = std::mem::ManuallyDrop::new("a".repeat(bytes).into_bytes());
                let (ptr, len, cap) = (shared.as_ptr() as *mut u8, shared.len(), shared.capacity());
                for i in 0..count {
                    // SAFETY: none. Every value aliases one buffer on
                    // purpose; the host must not copy it `count` times.
                    let value = unsafe { String::from_raw_parts(ptr, len, cap) };
                    result.details.push(Detail {
                        key: format!("k{i}"),
                        value,
                    });
                }
            }
            other => return Err(RunError::InvalidConfig(format!("mode: unknown {other:?}"))),
        }
        Ok(result)
    }
}

export!(Badoutput);
