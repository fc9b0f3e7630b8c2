//! The exporter's pages pass `promtool check metrics` in both namings, keep
//! the agent's own names to the agent, and drop series that stop being
//! updated.

use std::time::Duration;

use super::samples;
use crate::lifecycle::promtool_check;
use crate::support::agent::Agent;
use crate::support::net::{free_port, http_get};
use crate::support::wait_for;

/// What promtool says about node_exporter's own page too: its meminfo,
/// netstat and sockstat names are CamelCase after the kernel's fields, and
/// its entropy is in bits.
fn node_exporters_own_lint(problem: &str) -> bool {
    let Some((name, complaint)) = problem.split_once(' ') else {
        return false;
    };
    name.starts_with("node_")
        && (complaint == "metric names should be written in 'snake_case' not 'camelCase'"
            || (name.starts_with("node_entropy_")
                && complaint == "use base unit \"bytes\" instead of \"bits\""))
}

#[test]
fn both_namings_pass_promtool_and_leave_the_agents_names_to_the_agent() {
    let port = free_port();
    let yaml = format!(
        "
data_dir: {{data_dir}}
sources:
  host:
    type: host_metrics
    interval_secs: 1
  self:
    type: internal_metrics
    interval_secs: 1
sinks:
  admin_page:
    type: prometheus
    inputs: [host, self]
  node_page:
    type: prometheus
    address: 127.0.0.1:{port}
    naming: node_exporter
    inputs: [host, self]
"
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    let node_addr = format!("127.0.0.1:{port}").parse().unwrap();
    let node_page = wait_for("both pages with CPU usage", Duration::from_secs(30), || {
        agent.metric("cpu_usage_percent")?;
        let (code, page) = http_get(node_addr, "/metrics")?;
        (code == 200 && page.contains("cpu_usage_percent ") && page.contains("neurallog_agent_"))
            .then_some(page)
    });
    let (_, admin_page) = agent.get("/metrics");

    let lint = promtool_check(&admin_page);
    assert!(
        lint.0,
        "promtool on the admin page (otel naming):\n{}\n{admin_page}",
        lint.1
    );
    assert!(
        !admin_page.contains("\nnode_"),
        "families without an OpenTelemetry name stay off the otel page"
    );
    for name in [
        "system_paging_faults_total{type=\"major\"}",
        "system_memory_shared_bytes",
        "system_linux_memory_slab_usage_bytes{state=\"unreclaimable\"}",
        "system_cpu_time_seconds_total{cpu=\"0\",state=\"user\"}",
        "system_memory_usage_bytes{state=\"used\"}",
        "system_linux_memory_available_bytes",
        "system_network_io_bytes_total{device=\"lo\",direction=\"receive\"}",
        "system_uptime_seconds",
        "memory_usage_percent",
        "cpu_usage_percent",
    ] {
        assert!(
            samples(&admin_page).contains_key(name),
            "{name} missing from the admin page"
        );
    }
    // The agent's own families appear once: the exporter leaves them to the
    // registry that renders them on this page.
    assert_eq!(
        admin_page
            .matches("# TYPE neurallog_agent_component_sent_events_total counter")
            .count(),
        1
    );

    let lint = promtool_check(&node_page);
    let problems: Vec<&str> = lint.1.lines().filter(|l| !l.trim().is_empty()).collect();
    for problem in &problems {
        assert!(
            node_exporters_own_lint(problem),
            "promtool on the node_exporter page: {problem}\n{node_page}"
        );
    }
    for name in [
        "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}",
        "node_memory_MemTotal_bytes",
        "node_load1",
        "node_boot_time_seconds",
        "node_network_receive_bytes_total{device=\"lo\"}",
        "node_vmstat_pgfault",
        "node_netstat_Tcp_InSegs",
        "node_context_switches_total",
        "cpu_usage_percent",
        "memory_usage_percent",
        "neurallog_agent_component_sent_events_total{component_id=\"self\",component_kind=\"source\",component_type=\"internal_metrics\"}",
    ] {
        assert!(
            samples(&node_page).contains_key(name),
            "{name} missing from the node_exporter page"
        );
    }
    assert!(
        node_page.contains("\ntarget_info{"),
        "target_info on the exporter's own page"
    );
    assert_eq!(http_get(node_addr, "/nope").map(|r| r.0), Some(404));
}

#[test]
fn series_of_a_removed_source_expire() {
    let config = |inputs: &str, extra: &str| {
        format!(
            "
data_dir: {{data_dir}}
sources:
  load:
    type: host_metrics
    interval_secs: 1
    collectors: [load]
{extra}
sinks:
  page:
    type: prometheus
    expire_secs: 2
    inputs: [{inputs}]
"
        )
    };
    let memory =
        "  memory:\n    type: host_metrics\n    interval_secs: 1\n    collectors: [memory]\n";
    let mut agent = Agent::start(&config("load, memory", memory));
    agent.wait_ready();
    wait_for("memory and load series", Duration::from_secs(20), || {
        agent.metric("system_memory_limit_bytes")?;
        agent.metric("system_cpu_load_average_1m")
    });
    agent.write_config(&config("load", ""));
    agent.signal("HUP");
    wait_for(
        "the memory series to expire",
        Duration::from_secs(30),
        || {
            agent
                .metric("system_memory_limit_bytes")
                .is_none()
                .then_some(())
        },
    );
    assert!(
        agent.metric("system_cpu_load_average_1m").is_some(),
        "live series stay"
    );
    // The sweep that drops and counts them runs at most a second after a
    // scrape stops showing them.
    wait_for("the expiry to be counted", Duration::from_secs(10), || {
        agent
            .metric("neurallog_agent_prometheus_expired_series_total{component_id=\"page\",component_kind=\"sink\",component_type=\"prometheus\"}")
            .filter(|n| *n >= 1.0)
    });
}
