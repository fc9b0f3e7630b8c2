//! A real Prometheus scrapes the agent with the platform's alert rules:
//! the rules load, and `cpu_usage_percent` and `memory_usage_percent` are
//! queryable with values that match /proc.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::seed_alerts;
use crate::support::agent::Agent;
use crate::support::prometheus::{Prometheus, encode};
use crate::support::wait_for;

const AGENT: &str = "
data_dir: {data_dir}
sources:
  host:
    type: host_metrics
    interval_secs: 1
    collectors: [cpu, memory]
sinks:
  metrics:
    type: prometheus
    inputs: [host]
";

/// (busy ticks, all ticks) of all CPUs, from /proc/stat.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().unwrap())
        .collect();
    let total: u64 = fields.iter().sum();
    (total - fields[3] - fields[4], total)
}

/// 100 × (MemTotal − MemAvailable) / MemTotal from /proc/meminfo.
fn memory_percent() -> f64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |key: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let total = field("MemTotal:");
    100.0 * (total - field("MemAvailable:")) / total
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn value(result: &[serde_json::Value]) -> Option<f64> {
    result.first()?["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_loads_the_seed_rules_and_queries_the_alert_metrics() {
    let mut agent = Agent::start(AGENT);
    agent.wait_ready();
    let rules = seed_alerts();
    let config = format!(
        "
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{}]
scrape_configs:
  - job_name: neurallog-agent
    static_configs:
      - targets: ['{}']
",
        rules.file_name().unwrap().to_string_lossy(),
        agent.admin
    );
    let prometheus = Prometheus::start(&config, &[rules.as_path()], false);

    // The rules load and evaluate without errors.
    let groups = wait_for(
        "the seed rules to be evaluated",
        Duration::from_secs(60),
        || {
            let doc = prometheus.api("/api/v1/rules");
            let groups = doc["data"]["groups"].as_array()?.clone();
            let evaluated = groups
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap())
                .all(|r| r["health"] == "ok");
            (groups.len() == 3 && evaluated).then_some(groups)
        },
    );
    let mut names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "neurallog-critical",
            "neurallog-security",
            "neurallog-warning"
        ]
    );
    let rules: Vec<&serde_json::Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(rules.len(), 6);
    let cpu_rule = rules
        .iter()
        .find(|r| r["name"] == "HighCPUUsage")
        .expect("HighCPUUsage");
    assert_eq!(cpu_rule["query"], "cpu_usage_percent > 80");
    assert_eq!(cpu_rule["lastError"].as_str().unwrap_or(""), "");

    // memory_usage_percent within half a point of /proc/meminfo over the
    // time its value was collected. The machine's memory moves while other
    // tests run, so /proc/meminfo is read every 20 ms from well before the
    // collection behind the scraped value (the agent collects each second,
    // Prometheus scrapes each second) until after the query.
    wait_for(
        "memory_usage_percent in Prometheus",
        Duration::from_secs(30),
        || value(&prometheus.query("memory_usage_percent")),
    );
    let mut readings = Vec::new();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(4) {
        readings.push(memory_percent());
        std::thread::sleep(Duration::from_millis(20));
    }
    let scraped = value(&prometheus.query("memory_usage_percent")).unwrap();
    readings.push(memory_percent());
    let low = readings.iter().copied().fold(f64::INFINITY, f64::min);
    let high = readings.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        (low - 0.5..=high + 0.5).contains(&scraped),
        "memory_usage_percent {scraped}, /proc/meminfo {low}..{high}"
    );

    // cpu_usage_percent averaged over a window equals /proc/stat's busy
    // share over the same window, within the slack of one collection at
    // either end.
    wait_for(
        "cpu_usage_percent in Prometheus",
        Duration::from_secs(30),
        || value(&prometheus.query("cpu_usage_percent")),
    );
    let (busy0, total0) = cpu_ticks();
    let start = now_secs();
    std::thread::sleep(Duration::from_secs(15));
    let (busy1, total1) = cpu_ticks();
    let end = now_secs();
    let proc = 100.0 * (busy1 - busy0) as f64 / (total1 - total0) as f64;
    let window = (end - start).round() as u64;
    let query = format!("avg_over_time(cpu_usage_percent[{window}s])");
    let doc = prometheus.api(&format!(
        "/api/v1/query?query={}&time={end:.3}",
        encode(&query)
    ));
    let averaged =
        value(doc["data"]["result"].as_array().unwrap()).expect("averaged cpu_usage_percent");
    assert!(
        (averaged - proc).abs() <= 10.0,
        "cpu_usage_percent averaged {averaged}, /proc/stat {proc}"
    );
    let range = prometheus.api(&format!(
        "/api/v1/query?query={}&time={end:.3}",
        encode(&format!("cpu_usage_percent[{window}s]"))
    ));
    let values = range["data"]["result"][0]["values"].as_array().unwrap();
    assert!(values.len() >= 5, "{values:?}");
    for v in values {
        let v: f64 = v[1].as_str().unwrap().parse().unwrap();
        assert!((0.0..=100.0).contains(&v), "{v}");
    }
    let targets = prometheus.api("/api/v1/targets");
    assert_eq!(targets["data"]["activeTargets"][0]["health"], "up");
}
