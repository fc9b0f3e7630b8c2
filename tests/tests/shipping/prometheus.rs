//! Remote write into a real Prometheus (Debian's `prometheus` with
//! `--web.enable-remote-write-receiver`): the series are queryable through
//! its HTTP API with the right names, labels and values.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use neurallog_agent::event::{Attributes, Event, Histogram, Metric, MetricValue, Resource};
use neurallog_agent::sinks::prometheus_remote_write::write_request;
use prost::Message as _;
use serde_json::Value;

use super::sink_series;
use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::wait_for;

const PROMETHEUS: &str = "global:\n  scrape_interval: 1h\n";

fn labels(result: &Value) -> &serde_json::Map<String, Value> {
    result["metric"].as_object().expect("a metric's labels")
}

fn value(result: &Value) -> f64 {
    result["value"][1].as_str().unwrap().parse().unwrap()
}

fn wait_query(prometheus: &Prometheus, promql: &str) -> Vec<Value> {
    wait_for(
        &format!("{promql} in prometheus"),
        Duration::from_secs(30),
        || {
            let result = prometheus.query(promql);
            (!result.is_empty()).then_some(result)
        },
    )
}

#[test]
fn agent_metrics_are_queryable_in_prometheus() {
    let prometheus = Prometheus::start(PROMETHEUS, &[], true);
    let config = format!(
        "
data_dir: {{data_dir}}
sources:
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  ingest:
    type: prometheus_remote_write
    inputs: [self]
    endpoint: http://{}/api/v1/write
",
        prometheus.addr
    );
    let mut agent = Agent::start_with_env(&config, &[("NODE_NAME", "test-node-1")]);
    agent.wait_ready();

    let info = wait_query(&prometheus, "neurallog_agent_build_info");
    assert_eq!(info.len(), 1, "{info:?}");
    let l = labels(&info[0]);
    assert_eq!(l["job"], "neurallog-agent");
    assert_eq!(l["instance"], "test-node-1");
    assert_eq!(l["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(l["wit_package"], "neurallog:plugin@0.1.1");
    assert_eq!(value(&info[0]), 1.0);

    let sent = wait_query(
        &prometheus,
        "neurallog_agent_component_sent_events_total{component_id=\"self\"} > 0",
    );
    let l = labels(&sent[0]);
    assert_eq!(l["component_kind"], "source");
    assert_eq!(l["component_type"], "internal_metrics");
    assert!(value(&sent[0]) > 0.0);

    // The sink's own request counter arrives too, with Prometheus' 204.
    let ok = wait_query(
        &prometheus,
        "neurallog_agent_sink_http_requests_total{component_id=\"ingest\",status=\"204\"}",
    );
    assert!(value(&ok[0]) >= 1.0);
    let local = agent
        .metric(&sink_series(
            "neurallog_agent_sink_http_requests_total",
            "prometheus_remote_write",
            &[("status", "204")],
        ))
        .unwrap_or(0.0);
    assert!(local >= 1.0);
    agent.terminate(Duration::from_secs(20));
}

/// POST a body; returns the status.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn name_mapping_and_histograms_land_in_prometheus() {
    let prometheus = Prometheus::start(PROMETHEUS, &[], true);
    let resource = Arc::new(Resource::new(
        Attributes::new()
            .with("host.name", "node-7")
            .with("service.name", "neurallog-agent")
            .with("k8s.pod.name", "api-0"),
    ));
    let events = [
        Event::Metric(
            Metric::gauge("cpu_usage_percent", "%", 42.5, resource.clone())
                .with_attribute("cpu", "total"),
        ),
        Event::Metric(
            Metric::counter("system.network.io", "By", 1024.0, resource.clone())
                .with_attribute("network.io.direction", "receive"),
        ),
        Event::Metric(Metric {
            value: MetricValue::Histogram(Histogram {
                bounds: vec![0.1, 1.0],
                bucket_counts: vec![2, 3, 1],
                sum: 4.2,
                count: 6,
            }),
            ..Metric::gauge("http.server.request.duration", "s", 0.0, resource.clone())
        }),
    ];
    let (request, points) = write_request(events.iter(), &["k8s.pod.name".to_owned()]);
    assert_eq!(points, 3);
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap();
    let status = post(
        prometheus.addr,
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    );
    assert_eq!(status, 204, "{}", prometheus.log());

    let cpu = wait_query(&prometheus, "cpu_usage_percent");
    let l = labels(&cpu[0]);
    assert_eq!(l["cpu"], "total");
    assert_eq!(l["instance"], "node-7");
    assert_eq!(l["k8s_pod_name"], "api-0");
    assert_eq!(value(&cpu[0]), 42.5);

    let io = wait_query(&prometheus, "system_network_io_bytes_total");
    assert_eq!(labels(&io[0])["network_io_direction"], "receive");
    assert_eq!(value(&io[0]), 1024.0);

    let bucket = wait_query(
        &prometheus,
        "http_server_request_duration_seconds_bucket{le=\"1\"}",
    );
    assert_eq!(value(&bucket[0]), 5.0, "buckets are cumulative");
    let inf = wait_query(
        &prometheus,
        "http_server_request_duration_seconds_bucket{le=\"+Inf\"}",
    );
    assert_eq!(value(&inf[0]), 6.0);
    let count = wait_query(&prometheus, "http_server_request_duration_seconds_count");
    assert_eq!(value(&count[0]), 6.0);
    let sum = wait_query(&prometheus, "http_server_request_duration_seconds_sum");
    assert_eq!(value(&sum[0]), 4.2);
    let median = wait_query(
        &prometheus,
        "histogram_quantile(0.5, http_server_request_duration_seconds_bucket)",
    );
    let median = value(&median[0]);
    assert!(median > 0.1 && median <= 1.0, "median {median}");
}
