//! The `wasm` transform against the real test guests `processor`
//! (`tests/plugins/processor`, world `processor`, built against the
//! contract's 0.1.0) and `columns` (`tests/plugins/columns`, world
//! `column-processor` of 0.1.1), which do the same by each world: records
//! through them, their instance reused, and every way they can fail handled
//! by the policy without losing records.

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::config::ComponentKind;
use crate::event::{AnyValue, Attributes, LogRecord, Resource};
use crate::telemetry::events::ComponentMetrics;
use crate::wasm::columns::{DROP, KEEP, REPLACE};
use crate::wasm::{FailureReason, HostSettings, Outcome, ProcessFailureReason, ProcessedRecord};

/// `events` through the processor by the plan's policy, with a report
/// nobody reads.
async fn through(
    plan: &ProcessorPlan,
    host: &PluginHost,
    instance: &mut Processor,
    events: Vec<Event>,
    metrics: &TransformMetrics,
) -> Vec<Event> {
    process(
        plan,
        host,
        instance,
        events,
        metrics,
        &ProcessorStatus::default(),
        &CancellationToken::new(),
    )
    .await
    .expect("never stopped")
}

/// The built test guest `name`.
fn guest(name: &str) -> PathBuf {
    crate::wasm::tests::support::plugin_path(name)
}

fn host() -> (Arc<PluginHost>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let host = PluginHost::new(HostSettings::new(dir.path().join("state"))).unwrap();
    (Arc::new(host), dir)
}

fn plan(path: PathBuf, mode: &str, on_error: OnError, limits: Limits) -> ProcessorPlan {
    let config = WasmTransformConfig {
        plugin: None,
        path: Some(path),
        sha256: None,
        config: serde_json::json!({ "mode": mode }),
        grants: Grants::default(),
        limits,
        on_error,
        max_output_records_per_input: 16,
        max_output_bytes_per_input: 8,
    };
    ProcessorPlan::new("proc", &config, None).unwrap()
}

fn events(bodies: &[&str]) -> Vec<Event> {
    let shared = Arc::new(Attributes::new().with("log.file.path", "/var/log/app.log"));
    let resource = Arc::new(Resource::new(Attributes::new().with("host.name", "node-1")));
    bodies
        .iter()
        .map(|body| {
            let mut record = LogRecord::new(body.to_string(), shared.clone(), resource.clone());
            record.severity_number = 9;
            record.time_unix_nano = 1_700_000_000_000_000_000;
            record.into()
        })
        .collect()
}

fn metrics() -> TransformMetrics {
    TransformMetrics::new(ComponentMetrics::new(
        "proc",
        ComponentKind::Transform,
        "wasm",
    ))
}

fn logs(events: &[Event]) -> Vec<&LogRecord> {
    events
        .iter()
        .map(|e| match e {
            Event::Log(log) => log,
            other => panic!("not a log: {other:?}"),
        })
        .collect()
}

fn bodies(events: &[Event]) -> Vec<String> {
    logs(events).iter().map(|l| l.body.to_string()).collect()
}

fn batch_tag(event: &Event) -> Option<i64> {
    match event {
        Event::Log(log) => match log.attributes.get("processor.batch") {
            Some(AnyValue::Int(n)) => Some(*n),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test]
async fn records_go_through_and_the_instance_serves_batch_after_batch() {
    records_go_through_and_the_instance_serves_batch_after_batch_by("processor").await;
    records_go_through_and_the_instance_serves_batch_after_batch_by("columns").await;
}

async fn records_go_through_and_the_instance_serves_batch_after_batch_by(guest_name: &str) {
    let (host, _dir) = host();
    let plan = plan(guest(guest_name), "tag", OnError::Pass, Limits::default());
    let mut instance = plan.start(&host).await.unwrap();
    let metrics = metrics();
    let out = through(&plan, &host, &mut instance, events(&["a", "b"]), &metrics).await;
    assert_eq!(bodies(&out), ["a", "b"]);
    assert_eq!(
        out.iter().map(batch_tag).collect::<Vec<_>>(),
        [Some(1), Some(1)]
    );
    // What the processor did not change survives the round trip: the
    // body, the source's attributes, severity, time and resource.
    let first = logs(&out)[0];
    assert_eq!(
        first
            .shared_attributes
            .get("log.file.path")
            .and_then(AnyValue::as_str),
        Some("/var/log/app.log")
    );
    assert_eq!(first.severity_number, 9);
    assert_eq!(first.time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(
        first
            .resource
            .attributes
            .get("host.name")
            .and_then(AnyValue::as_str),
        Some("node-1")
    );
    let out = through(&plan, &host, &mut instance, events(&["c"]), &metrics).await;
    assert_eq!(out.iter().map(batch_tag).collect::<Vec<_>>(), [Some(2)]);
}

#[test]
fn a_batch_lists_shared_attributes_and_resources_once_and_changes_come_back() {
    let mut input = events(&["a", "b"]);
    input.push(events(&["c"]).remove(0));
    let prepared = prepare(&input);
    // Two sources' worth (the third record was made apart), each once.
    assert_eq!(prepared.batch.shared_attributes.len(), 2);
    assert_eq!(prepared.batch.resources.len(), 2);
    assert_eq!(prepared.batch.shared_of, [0, 0, 1]);
    let unchanged = |origin| ProcessedRecord {
        origin,
        timestamp: 7,
        severity_number: 13,
        severity_text: None,
        body: None,
        attributes: None,
    };
    let mut split = unchanged(0);
    split.body = Some("a, second half".into());
    split.attributes = Some(vec![crate::wasm::Attribute {
        key: "part".into(),
        value: crate::wasm::Value::Int(2),
    }]);
    let out = finish(
        prepared,
        input,
        Outcome::Records(vec![unchanged(2), unchanged(0), split]),
    );
    assert_eq!(bodies(&out), ["c", "a", "a, second half"]);
    let logs = logs(&out);
    assert_eq!(logs[1].time_unix_nano, 7);
    assert_eq!(logs[1].severity_number, 13);
    assert!(logs[1].attributes.is_empty());
    assert_eq!(logs[2].attributes.get("part"), Some(&AnyValue::Int(2)));
    // Both parts keep the source's attributes.
    assert!(Arc::ptr_eq(
        &logs[1].shared_attributes,
        &logs[2].shared_attributes
    ));
}

#[tokio::test]
async fn a_trapped_instance_is_discarded_and_its_batch_passes_unprocessed() {
    a_trapped_instance_is_discarded_and_its_batch_passes_unprocessed_by("processor").await;
    a_trapped_instance_is_discarded_and_its_batch_passes_unprocessed_by("columns").await;
}

async fn a_trapped_instance_is_discarded_and_its_batch_passes_unprocessed_by(guest_name: &str) {
    let (host, _dir) = host();
    let plan = plan(guest(guest_name), "tag", OnError::Pass, Limits::default());
    let mut instance = plan.start(&host).await.unwrap();
    let metrics = metrics();
    let out = through(&plan, &host, &mut instance, events(&["a"]), &metrics).await;
    assert_eq!(out.iter().map(batch_tag).collect::<Vec<_>>(), [Some(1)]);
    let out = through(
        &plan,
        &host,
        &mut instance,
        events(&["x", "TRAP"]),
        &metrics,
    )
    .await;
    assert_eq!(bodies(&out), ["x", "TRAP"], "the batch goes on as it came");
    assert_eq!(out.iter().map(batch_tag).collect::<Vec<_>>(), [None, None]);
    // A fresh instance: the count of the trapped one is gone.
    let out = through(&plan, &host, &mut instance, events(&["b"]), &metrics).await;
    assert_eq!(out.iter().map(batch_tag).collect::<Vec<_>>(), [Some(1)]);
}

#[tokio::test]
async fn each_hostile_batch_fails_for_its_own_reason() {
    each_hostile_batch_fails_for_its_own_reason_by("processor").await;
    each_hostile_batch_fails_for_its_own_reason_by("columns").await;
}

async fn each_hostile_batch_fails_for_its_own_reason_by(guest_name: &str) {
    let (host, _dir) = host();
    let limits = Limits {
        timeout_ms: 300,
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let plan = plan(guest(guest_name), "tag", OnError::Pass, limits);
    let mut instance = plan.start(&host).await.unwrap();
    let cases = [
        ("TRAP", ProcessFailureReason::Sandbox(FailureReason::Trap)),
        (
            "LOOP",
            ProcessFailureReason::Sandbox(FailureReason::DeadlineExceeded),
        ),
        (
            "GROW",
            ProcessFailureReason::Sandbox(FailureReason::MemoryExceeded),
        ),
        (
            "HUGE",
            ProcessFailureReason::Sandbox(FailureReason::OutputTooLarge),
        ),
        (
            "ORIGIN",
            ProcessFailureReason::Sandbox(FailureReason::InvalidOutput),
        ),
        ("ERROR", ProcessFailureReason::PluginError),
        // Only a column processor can answer with too few verdicts.
        (
            "VERDICTS",
            ProcessFailureReason::Sandbox(FailureReason::InvalidOutput),
        ),
    ];
    for (word, reason) in cases {
        if word == "VERDICTS" && guest_name != "columns" {
            continue;
        }
        let prepared = prepare(&events(&["ok", word]));
        let failure = instance
            .process(&plan.config_json, &prepared.batch, plan.bound)
            .await
            .expect_err(word);
        assert_eq!(failure.reason, reason, "{word}: {failure}");
        // And through the policy, the batch goes on whole.
        let out = through(
            &plan,
            &host,
            &mut instance,
            events(&["ok", word]),
            &metrics(),
        )
        .await;
        assert_eq!(bodies(&out), ["ok", word]);
    }
    // After all that, the processor still works.
    let out = through(&plan, &host, &mut instance, events(&["fine"]), &metrics()).await;
    assert_eq!(out.iter().map(batch_tag).collect::<Vec<_>>(), [Some(1)]);
}

#[tokio::test]
async fn records_the_processor_leaves_out_are_dropped() {
    records_the_processor_leaves_out_are_dropped_by("processor").await;
    records_the_processor_leaves_out_are_dropped_by("columns").await;
}

async fn records_the_processor_leaves_out_are_dropped_by(guest_name: &str) {
    let (host, _dir) = host();
    let plan = plan(
        guest(guest_name),
        "drop_half",
        OnError::Pass,
        Limits::default(),
    );
    let mut instance = plan.start(&host).await.unwrap();
    let out = through(
        &plan,
        &host,
        &mut instance,
        events(&["1 keep=yes", "2 keep=no", "3 keep=yes", "4 keep=no"]),
        &metrics(),
    )
    .await;
    assert_eq!(bodies(&out), ["1 keep=yes", "3 keep=yes"]);
}

#[tokio::test]
async fn with_retry_a_failing_batch_is_held_until_it_is_processed() {
    let (host, _dir) = host();
    let plugins = tempfile::tempdir().unwrap();
    let path = plugins.path().join("p.wasm");
    std::fs::copy(guest("processor"), &path).unwrap();
    let plan = plan(path.clone(), "tag", OnError::Retry, Limits::default());
    let mut instance = plan.start(&host).await.unwrap();
    let metrics = metrics();
    let registry = crate::topology::StatusRegistry::default();
    let handle = registry.register(
        ComponentKind::Transform,
        "proc",
        "wasm",
        metrics.component().clone(),
    );
    let report = ProcessorStatus::new(Some(handle));
    report.loaded(&instance);
    let never = CancellationToken::new();
    let held = process(
        &plan,
        &host,
        &mut instance,
        events(&["a", "ERROR"]),
        &metrics,
        &report,
        &never,
    );
    // Three tries (200 + 400 ms of backoff) and it is still held.
    let timed_out = tokio::time::timeout(Duration::from_millis(900), held).await;
    assert!(timed_out.is_err(), "the batch was let go: {timed_out:?}");
    // `/status` says which batch is held, since when, and why.
    let shown = report.to_json();
    assert_eq!(shown["isolation"], "in_process", "{shown}");
    assert_eq!(shown["plugin"]["name"], "processor", "{shown}");
    assert_eq!(shown["holding"]["records"], 2, "{shown}");
    assert_eq!(shown["holding"]["reason"], "plugin_error", "{shown}");
    let attempts = shown["holding"]["attempts"].as_u64().unwrap();
    assert!((2..=4).contains(&attempts), "{shown}");
    assert_eq!(shown["batches_failed"].as_u64(), Some(attempts), "{shown}");
    // Loaded at the start, then again before each new try.
    assert!(shown["loads"].as_u64() >= Some(attempts), "{shown}");
    let entry = registry.to_json()["components"][0].clone();
    let last_error = entry.to_string();
    assert!(
        last_error
            .contains("a batch of 2 records failed (plugin_error), held, to be tried again: "),
        "{entry}"
    );
    // Once a batch goes through, nothing is held any more.
    let out = process(
        &plan,
        &host,
        &mut instance,
        events(&["b"]),
        &metrics,
        &report,
        &never,
    )
    .await
    .expect("processed");
    assert_eq!(bodies(&out), ["b"]);
    let shown = report.to_json();
    assert!(shown["holding"].is_null(), "{shown}");
    assert_eq!(shown["batches_failed"].as_u64(), Some(attempts), "{shown}");

    // Stopped (a reload replaced the transform), it lets the held batch go
    // back unprocessed, for its caller to leave unacknowledged.
    let stop = CancellationToken::new();
    let held = process(
        &plan,
        &host,
        &mut instance,
        events(&["c", "ERROR"]),
        &metrics,
        &report,
        &stop,
    );
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.cancel();
    });
    let given_back = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("it ends once stopped");
    assert!(given_back.is_none(), "{given_back:?}");
}

/// Regression: a `wasm` transform whose plugin did not load kept trying
/// after a reload replaced or removed it (a task, and with isolation a
/// worker process per try, for each such reload), and with `retry` kept
/// the batch it held unacknowledged for good.
#[tokio::test]
async fn a_transform_whose_plugin_does_not_load_ends_once_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        dir.path().join("missing.wasm"),
        "tag",
        OnError::Retry,
        Limits::default(),
    );
    let (host, _state) = host();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (_buffered_tx, buffered) = tokio::sync::mpsc::channel(1);
    let stop = CancellationToken::new();
    let (out, _control) = crate::topology::Fanout::fixed(Vec::new());
    let registry = crate::topology::StatusRegistry::default();
    let metrics = metrics();
    let status = registry.register(
        ComponentKind::Transform,
        "proc",
        "wasm",
        metrics.component().clone(),
    );
    let acks = crate::event::AckReceiver::new();
    let batch = EventBatch::new(events(&["queued"]), acks.ack(1));
    tx.send(batch).await.unwrap();
    let cx = TransformContext {
        id: "proc".into(),
        input: crate::topology::SinkInput::new(rx, buffered, stop.clone()),
        out,
        outputs: Vec::new(),
        metrics: metrics.component().clone(),
        status,
        plugins: Arc::new(crate::checks::PluginRuntime::new(
            Default::default(),
            dir.path(),
            false,
        )),
    };
    let task = tokio::spawn(run(plan, host, cx));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "it waits for its plugin");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("it ends once stopped")
        .unwrap();
    drop(tx);
    let mut acks = acks;
    let (id, status) = acks.recv().await.expect("the queued batch is settled");
    assert_eq!((id, status), (1, crate::event::AckStatus::Dropped));
}

proptest::proptest! {
    /// Whatever verdicts a column processor gives (with any number of
    /// replacements for each record it replaces, none included), each
    /// record comes out as its verdict says, in batch order, keeping its
    /// source attributes; a record kept as it came is the same record; an
    /// event that is not a log record keeps its place among them.
    #[test]
    fn verdicts_come_out_in_batch_order(
        plan in proptest::collection::vec((0u8..3, 0usize..3), 6),
        metric_at in 0usize..7,
    ) {
        let mut input = events(&["r0", "r1", "r2", "r3", "r4", "r5"]);
        let shared = match &input[0] {
            Event::Log(log) => Arc::clone(&log.shared_attributes),
            _ => unreachable!(),
        };
        let metric = crate::event::Metric::gauge("up", "1", 1.0, Arc::new(Resource::default()));
        input.insert(metric_at, Event::Metric(metric));
        let prepared = prepare(&input);
        let mut changed = Vec::new();
        let mut expected = Vec::new();
        for (i, &(verdict, parts)) in plan.iter().enumerate() {
            if i == metric_at {
                expected.push("metric up".to_owned());
            }
            match verdict {
                KEEP => expected.push(format!("r{i}")),
                REPLACE => {
                    for j in 0..parts {
                        let body = format!("r{i}.{j}");
                        changed.push(ProcessedRecord {
                            origin: i as u32,
                            timestamp: 1,
                            severity_number: 9,
                            severity_text: None,
                            body: Some(body.clone()),
                            attributes: None,
                        });
                        expected.push(body);
                    }
                }
                _ => proptest::prop_assert_eq!(verdict, DROP),
            }
        }
        if metric_at == plan.len() {
            expected.push("metric up".to_owned());
        }
        let verdicts = plan.iter().map(|(v, _)| *v).collect();
        let out = finish(prepared, input, Outcome::Verdicts { verdicts, changed });
        let labels: Vec<String> = out
            .iter()
            .map(|event| match event {
                Event::Log(log) => log.body.to_string(),
                Event::Metric(metric) => format!("metric {}", metric.name),
                other => format!("{other:?}"),
            })
            .collect();
        proptest::prop_assert_eq!(labels, expected);
        for log in out.iter().filter_map(|e| match e {
            Event::Log(log) => Some(log),
            _ => None,
        }) {
            proptest::prop_assert!(Arc::ptr_eq(&log.shared_attributes, &shared));
        }
    }

    /// Whatever records a processor returns (any origins, in any order,
    /// some repeated, some changed), each comes out once, in its order,
    /// as its origin with what changed, keeping the origin's source
    /// attributes and resource.
    #[test]
    fn returned_records_come_out_as_their_origins_with_their_changes(
        returned in proptest::collection::vec((0u32..6, proptest::bool::ANY), 0..24),
    ) {
        let input = events(&["r0", "r1", "r2", "r3", "r4", "r5"]);
        let shared = match &input[0] {
            Event::Log(log) => Arc::clone(&log.shared_attributes),
            _ => unreachable!(),
        };
        let prepared = prepare(&input);
        let records: Vec<_> = returned
            .iter()
            .enumerate()
            .map(|(i, &(origin, changed))| ProcessedRecord {
                origin,
                timestamp: 1,
                severity_number: 9,
                severity_text: None,
                body: changed.then(|| format!("new {i}")),
                attributes: None,
            })
            .collect();
        let out = finish(prepared, input, Outcome::Records(records));
        let expected: Vec<String> = returned
            .iter()
            .enumerate()
            .map(|(i, &(origin, changed))| match changed {
                true => format!("new {i}"),
                false => format!("r{origin}"),
            })
            .collect();
        proptest::prop_assert_eq!(bodies(&out), expected);
        for log in logs(&out) {
            proptest::prop_assert!(Arc::ptr_eq(&log.shared_attributes, &shared));
        }
    }
}
