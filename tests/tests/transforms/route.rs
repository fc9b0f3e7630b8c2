//! Routing with the real binary: JSON lines parsed, routed by their
//! `namespace` to two OTLP receivers whose sinks carry different tenant
//! headers. Each receiver gets exactly its records, and a kill -9 of the
//! agent in the middle of a stream loses nothing on either (duplicates
//! are allowed: what was delivered but not yet checkpointed is sent
//! again).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

use super::{start, wait_for_checkpoint_at_end, write_lines};

fn config(payments: &Receiver, search: &Receiver) -> String {
    let sink = |name: &str, input: &str, receiver: &Receiver, tenant: &str| {
        format!(
            "  {name}:
    type: otlp_http
    inputs: [{input}]
    endpoint: {}
    tenant: {{ id: {tenant} }}
    batch: {{timeout_ms: 100}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 500}}
",
            receiver.endpoint()
        )
    };
    format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
# `apache`: the name the checkpoint helper of this area reads.
sources:
  apache:
    type: file
    include: ['{{dir}}/logs/*.log']
    checkpoint_interval_ms: 100
transforms:
  fields:
    type: parse
    inputs: [apache]
    format: json
  tenants:
    type: route
    inputs: [fields]
    routes:
      payments: {{ field: attributes.namespace, equals: payments }}
      search: {{ field: attributes.namespace, regex: '^search' }}
sinks:
{}{}",
        sink("payments", "tenants.payments", payments, "tenant-payments"),
        sink("search", "tenants.search", search, "tenant-search"),
    )
}

/// Lines `from..to`, cycling through three namespaces; `kube-system`'s go
/// to no route's sink (`_unmatched` is read by nothing).
fn lines(from: usize, to: usize) -> Vec<String> {
    (from..to)
        .map(|i| {
            let namespace = ["payments", "search-eu", "kube-system"][i % 3];
            format!(r#"{{"namespace":"{namespace}","seq":{i},"msg":"request {i} handled"}}"#)
        })
        .collect()
}

fn for_namespace<'a>(lines: &'a [String], prefix: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| l.contains(&format!(r#""namespace":"{prefix}"#)))
        .collect()
}

/// How often each body arrived.
fn arrivals(receiver: &Receiver) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for body in receiver.log_bodies() {
        *counts.entry(body).or_insert(0) += 1;
    }
    counts
}

fn wait_all_arrived(receiver: &Receiver, want: &[&String]) {
    wait_for(
        "every routed record at its receiver",
        Duration::from_secs(60),
        || {
            let got = arrivals(receiver);
            want.iter()
                .all(|l| got.contains_key(l.as_str()))
                .then_some(())
        },
    );
}

#[test]
fn records_reach_their_tenants_receiver_and_a_kill9_loses_none() {
    let payments = Receiver::start();
    let search = Receiver::start();
    let yaml = config(&payments, &search);
    let first = lines(0, 600);
    let (mut agent, log) = start(&yaml, &first);
    wait_all_arrived(&payments, &for_namespace(&first, "payments"));
    wait_all_arrived(&search, &for_namespace(&first, "search"));
    // Records nobody reads were handled: the checkpoint moves past them.
    wait_for_checkpoint_at_end(&agent, &log);

    // A stream written while the agent ships it, and a kill -9 once part
    // of it has arrived; the writer carries on through the restart.
    let stream = lines(600, 6600);
    let writer = {
        let log = log.clone();
        let stream = stream.clone();
        std::thread::spawn(move || {
            for chunk in stream.chunks(100) {
                write_lines(&log, chunk);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let first_payments = for_namespace(&first, "payments").len();
    wait_for(
        "part of the stream at the receivers",
        Duration::from_secs(30),
        || (payments.log_bodies().len() > first_payments + 100).then_some(()),
    );
    agent.kill9();
    let arrived_before_kill = payments.log_bodies().len() + search.log_bodies().len();
    let dir = agent.into_dir();
    let mut agent = Agent::start_in(dir, &yaml, &[]);
    agent.wait_ready();
    writer.join().unwrap();

    let all: Vec<String> = first.iter().chain(&stream).cloned().collect();
    let want_payments = for_namespace(&all, "payments");
    let want_search = for_namespace(&all, "search");
    wait_all_arrived(&payments, &want_payments);
    wait_all_arrived(&search, &want_search);
    wait_for_checkpoint_at_end(&agent, &log);

    for (receiver, want, tenant) in [
        (&payments, &want_payments, "tenant-payments"),
        (&search, &want_search, "tenant-search"),
    ] {
        let got = arrivals(receiver);
        let unexpected: Vec<&String> = got
            .keys()
            .filter(|body| !want.iter().any(|w| w == body))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{tenant} got records of another namespace, e.g. {:?}",
            unexpected[0]
        );
        assert_eq!(got.len(), want.len(), "{tenant}: every record, none lost");
        let duplicates: usize = got.values().map(|n| n - 1).sum();
        eprintln!(
            "{tenant}: {} records, {duplicates} sent again after the kill -9 ({arrived_before_kill} of {} had arrived at both before it)",
            want.len(),
            want_payments.len() + want_search.len()
        );
        let headers = receiver.header_values("/v1/logs", "x-scope-orgid");
        assert_eq!(
            headers.len(),
            receiver
                .requests()
                .iter()
                .filter(|r| r.path == "/v1/logs")
                .count(),
            "every request carries the tenant header"
        );
        assert!(headers.iter().all(|h| h == tenant), "{tenant}: {headers:?}");
    }
    assert_eq!(
        agent.metric_sum("neurallog_agent_file_bytes_lost_total", &[]),
        0.0
    );
}
