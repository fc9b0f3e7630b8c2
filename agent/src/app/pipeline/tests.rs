use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::load_str;
use crate::topology::StatusRegistry;

fn config(dir: &std::path::Path) -> Config {
    let yaml = format!(
        "
data_dir: {data}
sources:
  own:
    type: internal_metrics
    interval_secs: 1
transforms:
  kept:
    type: filter
    inputs: [own]
    drop: {{ field: body, regex: '^never' }}
sinks:
  out:
    type: file
    inputs: [kept]
    path: {out}
",
        data = dir.join("data").display(),
        out = dir.join("out.jsonl").display(),
    );
    let config = load_str(&yaml, "test.yaml", &|_| None).expect("a valid configuration");
    crate::config::validate(&config, "test.yaml").expect("a valid configuration");
    config
}

async fn start(dir: &std::path::Path) -> Pipeline {
    start_on(config(dir)).await
}

/// The pipeline of `config`, started.
async fn start_on(config: Config) -> Pipeline {
    let globals = Arc::new(Globals {
        data_dir: config.data_dir.clone(),
        host: Arc::new(crate::event::Resource::default()),
        status: Arc::new(StatusRegistry::default()),
        exposition: Default::default(),
    });
    let plugins = Arc::new(PluginRuntime::new(
        config.plugins.clone(),
        &config.data_dir,
        false,
    ));
    Pipeline::start(config, globals, plugins)
        .await
        .expect("the pipeline starts")
}

/// The tasks of the source, the transform and the sink.
fn tasks(pipeline: &Pipeline) -> [&Supervised; 3] {
    [
        &pipeline.producers["own"].task,
        &pipeline.transforms["kept"].running.as_ref().unwrap().task,
        &pipeline.sinks["out"].running.as_ref().unwrap().task,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_rebuilds_the_components_that_ended_even_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = start(dir.path()).await;

    // The same configuration, everything running: nothing is rebuilt.
    let before: Vec<_> = tasks(&pipeline).map(|t| t.component.id()).to_vec();
    pipeline
        .reload(config(dir.path()), Duration::from_secs(2))
        .await;
    let after: Vec<_> = tasks(&pipeline).map(|t| t.component.id()).to_vec();
    assert_eq!(
        before, after,
        "running components with their configuration unchanged keep running"
    );

    // Each ends as a panic would end it.
    for task in tasks(&pipeline) {
        task.component.abort();
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while !tasks(&pipeline).iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the components end");

    pipeline
        .reload(config(dir.path()), Duration::from_secs(2))
        .await;
    for (task, name) in tasks(&pipeline).into_iter().zip(["own", "kept", "out"]) {
        assert!(!task.is_finished(), "{name} runs again");
        assert!(
            !before.contains(&task.component.id()),
            "{name} is a new task"
        );
    }

    // And it works end to end: the source's points reach the file.
    let out = dir.path().join("out.jsonl");
    let len = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let written = len(&out);
    tokio::time::timeout(Duration::from_secs(10), async {
        while len(&out) <= written {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the rebuilt pipeline delivers");
    pipeline.shutdown(Duration::from_secs(2)).await;
}

/// Regression: a source or check that failed to build on a reload stayed
/// in `/status` as failed after a later reload took it out of the
/// configuration, so `/readyz` answered 503 until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_failed_to_build_is_forgotten_once_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = start(dir.path()).await;
    let ready = |pipeline: &Pipeline| pipeline.globals.status.ready();
    let wait_ready = async |pipeline: &Pipeline| {
        tokio::time::timeout(Duration::from_secs(10), async {
            while ready(pipeline).is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not ready: {:?}", ready(pipeline)));
    };
    wait_ready(&pipeline).await;

    let mut broken = config(dir.path());
    broken.sources.insert(
        "missing".to_owned(),
        serde_yaml_ng::from_str("{ type: file, include: ['/nonexistent/dir/*.log'] }")
            .expect("a file source"),
    );
    let mut with_check = broken.clone();
    with_check.checks.insert(
        "typo".to_owned(),
        serde_yaml_ng::from_str("{ type: no_such_plugin, interval_secs: 60 }").expect("a check"),
    );
    pipeline.reload(with_check, Duration::from_secs(2)).await;
    assert!(
        ready(&pipeline).is_err(),
        "a check that failed to build is not ready"
    );
    let status = pipeline.globals.status.to_json().to_string();
    assert!(status.contains(r#""id":"typo""#), "{status}");

    pipeline.reload(broken, Duration::from_secs(2)).await;
    wait_ready(&pipeline).await;
    pipeline
        .reload(config(dir.path()), Duration::from_secs(2))
        .await;
    wait_ready(&pipeline).await;
    pipeline.shutdown(Duration::from_secs(2)).await;
}

/// A check or `wasm` transform taken out of the configuration takes its
/// series along: they are labelled by kind, not `component_id`, and
/// stayed on `/metrics` (a removed check's failures for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_check_or_transform_takes_its_series_along() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = start(dir.path()).await;
    let series = |label: &'static str, name: &str| {
        registry()
            .counter(
                "neurallog_agent_test_forgotten_total",
                "A test's series.",
                vec![(label, name.to_owned())],
            )
            .inc();
    };
    let rendered = || {
        let mut out = String::new();
        registry().render(&mut out);
        out
    };
    series("check", "forgotten-check");
    series("transform", "forgotten-transform");
    series("check", "kept-check");
    pipeline.forget(ComponentKind::Check, "forgotten-check");
    pipeline.forget(ComponentKind::Transform, "forgotten-transform");
    let out = rendered();
    assert!(!out.contains("forgotten-check"), "{out}");
    assert!(!out.contains("forgotten-transform"), "{out}");
    assert!(out.contains("kept-check"), "{out}");
    pipeline.shutdown(Duration::from_secs(2)).await;
}

/// Regression: a prometheus sink with an address of its own, changed by a
/// reload, bound its address again while the server of the sink it
/// replaced (a task of its own) could still hold it: the new sink, and
/// then the old configuration put back, failed with the address in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_prometheus_sink_gets_its_address_back() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let with_expiry = |secs: u64| {
        let mut config = config(dir.path());
        config.sinks.insert(
            "exporter".to_owned(),
            serde_yaml_ng::from_str(&format!(
                "{{ type: prometheus, inputs: [own], address: '127.0.0.1:{port}', expire_secs: {secs} }}"
            ))
            .expect("a prometheus sink"),
        );
        config
    };
    let mut pipeline = start_on(with_expiry(300)).await;
    for round in 0..40 {
        pipeline
            .reload(with_expiry(301 + round), Duration::from_secs(2))
            .await;
        let status = pipeline.globals.status.to_json().to_string();
        assert!(!status.contains("cannot listen"), "round {round}: {status}");
    }
    let scraped = tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        stream.read_to_string(&mut out)?;
        std::io::Result::Ok(out)
    })
    .await
    .unwrap()
    .expect("the last sink serves its address");
    assert!(scraped.starts_with("HTTP/1.0 200 OK"), "{scraped}");
    pipeline.shutdown(Duration::from_secs(2)).await;
}

/// Regression: logs fed to a `prometheus` sink were acknowledged as
/// delivered with nothing stored or counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_fed_to_a_prometheus_sink_are_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "one\ntwo\nthree\n").unwrap();
    let yaml = format!(
        "
data_dir: {data}
sources:
  lines:
    type: file
    include: ['{logs}/*.log']
    read_from: beginning
sinks:
  metrics_only_prom:
    type: prometheus
    inputs: [lines]
",
        data = dir.path().join("data").display(),
        logs = logs.display(),
    );
    let config = load_str(&yaml, "test.yaml", &|_| None).expect("a valid configuration");
    crate::config::validate(&config, "test.yaml").expect("a valid configuration");
    let pipeline = start_on(config).await;
    let counted = || {
        let mut out = String::new();
        registry().render(&mut out);
        out.lines()
            .find(|l| {
                l.starts_with("neurallog_agent_sink_dropped_events_total{")
                    && l.contains("metrics_only_prom")
                    && l.contains("unsupported_event")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while counted() != Some(3.0) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("counted: {:?}", counted()));
    pipeline.shutdown(Duration::from_secs(2)).await;
}

/// What a component's output feeds, as one retarget left it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Consumer {
    Sink(String),
    Transform(String),
}

/// Who reads each producer and each running transform's outputs, running
/// or awaited, as one retarget left it; and each retiring transform's
/// outputs (`None`: what it holds is dropped, to be read again).
#[derive(Debug, Default)]
pub(super) struct Wiring {
    outputs: std::collections::BTreeMap<String, BTreeSet<Consumer>>,
    retiring: Vec<(String, Option<BTreeSet<Consumer>>)>,
    /// The task of each running transform, by name.
    instances: std::collections::BTreeMap<String, tokio::task::Id>,
}

use std::collections::BTreeSet;

impl Pipeline {
    pub(super) fn record_wiring(&self) {
        let consumer = |name: &str| match self.sinks.contains_key(name) {
            true => Consumer::Sink(name.to_owned()),
            false => Consumer::Transform(name.to_owned()),
        };
        let mut wiring = Wiring::default();
        for name in self.producers.keys() {
            let targets = self.targets_for(name);
            (wiring.outputs).insert(name.clone(), targets.names().map(consumer).collect());
        }
        for (name, slot) in &self.transforms {
            let Some(transform) = &slot.running else {
                continue;
            };
            (wiring.instances).insert(name.clone(), transform.task.component.id());
            for (output, _) in &transform.controls {
                let targets = self.targets_for(output);
                (wiring.outputs).insert(output.clone(), targets.names().map(consumer).collect());
            }
        }
        for (_, transform) in &self.retiring {
            for (output, control) in &transform.controls {
                let targets = control.borrow();
                let consumers =
                    (!targets.is_stopping()).then(|| targets.names().map(consumer).collect());
                wiring.retiring.push((output.clone(), consumers));
            }
        }
        crate::sync::lock(&self.wirings).push(wiring);
    }
}

/// The sinks `from` reaches in `wiring`, through running transforms.
fn reach_in_wiring(wiring: &Wiring, from: &str, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    if !seen.insert(from.to_owned()) {
        return BTreeSet::new();
    }
    reach_from(wiring, wiring.outputs.get(from).into_iter().flatten(), seen)
}

/// The sinks `consumers` are or reach in `wiring`.
fn reach_from<'a>(
    wiring: &Wiring,
    consumers: impl Iterator<Item = &'a Consumer>,
    seen: &mut BTreeSet<String>,
) -> BTreeSet<String> {
    let mut sinks = BTreeSet::new();
    for consumer in consumers {
        match consumer {
            Consumer::Sink(sink) => {
                sinks.insert(sink.clone());
            }
            Consumer::Transform(transform) => {
                let outputs = wiring.outputs.keys().filter(|output| {
                    *output == transform
                        || output
                            .strip_prefix(transform.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                });
                for output in outputs {
                    sinks.extend(reach_in_wiring(wiring, output, seen));
                }
            }
        }
    }
    sinks
}

/// The sinks `from` reaches in `config`, through its transforms.
fn reach_in_config(config: &Config, from: &str, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    let mut sinks = BTreeSet::new();
    if !seen.insert(from.to_owned()) {
        return sinks;
    }
    for (name, sink) in &config.sinks {
        if sink.inputs.iter().any(|i| i == from) {
            sinks.insert(name.clone());
        }
    }
    for (name, transform) in &config.transforms {
        if transform.inputs.iter().any(|i| i == from) {
            let outputs = std::iter::once(name.clone()).chain(
                transform
                    .transform
                    .outputs()
                    .into_iter()
                    .map(|output| format!("{name}.{output}")),
            );
            for output in outputs {
                sinks.extend(reach_in_config(config, &output, seen));
            }
        }
    }
    sinks
}

/// One configuration of a small universe: sources `a` and `b`; filters
/// `t1` (reading sources) and `t2` (reading sources or `t1`), a route `r`
/// (outputs `r.x` and `r._unmatched`), each there or not and with one of
/// two conditions; sinks `s1`, `s2`, `s3`, each there or not, reading a
/// subset of what exists, with one of two settings.
#[derive(Debug, Clone)]
struct Shape {
    t1: Option<(u8, bool)>,
    t2: Option<(u8, bool)>,
    r: Option<(u8, bool)>,
    /// Each sink's inputs, and whether it syncs its file (a change swaps
    /// it: its inputs wait meanwhile).
    sinks: [Option<(u8, bool)>; 3],
}

fn shape() -> impl proptest::strategy::Strategy<Value = Shape> {
    use proptest::prelude::*;
    let transform = || proptest::option::of((any::<u8>(), any::<bool>()));
    (
        transform(),
        transform(),
        transform(),
        [transform(), transform(), transform()],
    )
        .prop_map(|(t1, t2, r, sinks)| Shape { t1, t2, r, sinks })
}

/// The names of `choices` whose bit is set in `mask`, or the first one.
fn pick(choices: &[&str], mask: u8) -> String {
    let picked: Vec<&str> = choices
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, name)| *name)
        .collect();
    let picked = if picked.is_empty() {
        vec![choices[0]]
    } else {
        picked
    };
    format!("[{}]", picked.join(", "))
}

fn render(shape: &Shape, dir: &std::path::Path) -> String {
    let d = dir.display();
    let mut yaml = format!(
        "data_dir: {d}/data
sources:
  a: {{ type: file, include: ['{d}/logs/a*.log'] }}
  b: {{ type: file, include: ['{d}/logs/b*.log'] }}
"
    );
    let condition = |alt: bool| if alt { "'^nope'" } else { "'^never'" };
    let mut outputs = vec!["a", "b"];
    let mut transforms = String::new();
    if let Some((mask, alt)) = shape.t1 {
        transforms.push_str(&format!(
            "  t1: {{ type: filter, inputs: {}, drop: {{ field: body, regex: {} }} }}\n",
            pick(&["a", "b"], mask),
            condition(alt)
        ));
        outputs.push("t1");
    }
    if let Some((mask, alt)) = shape.t2 {
        let from: Vec<&str> = outputs.clone();
        transforms.push_str(&format!(
            "  t2: {{ type: filter, inputs: {}, drop: {{ field: body, regex: {} }} }}\n",
            pick(&from, mask),
            condition(alt)
        ));
        outputs.push("t2");
    }
    if let Some((mask, alt)) = shape.r {
        transforms.push_str(&format!(
            "  r: {{ type: route, inputs: {}, routes: {{ x: {{ field: body, regex: {} }} }} }}\n",
            pick(&["a", "b"], mask),
            condition(alt)
        ));
        outputs.extend(["r.x", "r._unmatched"]);
    }
    if !transforms.is_empty() {
        yaml.push_str("transforms:\n");
        yaml.push_str(&transforms);
    }
    yaml.push_str("sinks:\n");
    let mut any = false;
    for (i, sink) in shape.sinks.iter().enumerate() {
        let Some((mask, fsync)) = sink else { continue };
        any = true;
        yaml.push_str(&format!(
            "  s{n}: {{ type: file, inputs: {inputs}, path: '{d}/out-s{n}.jsonl', fsync: {fsync} }}\n",
            n = i + 1,
            inputs = pick(&outputs, *mask),
        ));
    }
    if !any {
        yaml.push_str(&format!(
            "  s1: {{ type: file, inputs: [a], path: '{d}/out-s1.jsonl' }}\n"
        ));
    }
    yaml
}

fn parse(yaml: &str) -> Option<Config> {
    let config = load_str(yaml, "test.yaml", &|_| None).ok()?;
    crate::config::validate(&config, "test.yaml").ok()?;
    Some(config)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

    /// See [`check_reload`].
    #[test]
    fn every_step_of_a_reload_wires_each_source_to_the_sinks_it_keeps(
        old in shape(),
        new in shape(),
    ) {
        check_reload(&old, &new)?;
    }
}

/// The first counterexample: a sink added in the reload, the one there
/// before removed (a rename). Mid-reload the source fed neither.
#[test]
fn a_renamed_sink_is_awaited_from_the_first_step() {
    let old = Shape {
        t1: None,
        t2: None,
        r: None,
        sinks: [None, None, None],
    };
    let new = Shape {
        t1: None,
        t2: None,
        r: None,
        sinks: [None, Some((0, false)), None],
    };
    assert!(check_reload(&old, &new).unwrap(), "both are valid");
}

/// The second: a route replaced while its sink is rewired to read a
/// source and a new sink reads the route's output. The old route handed
/// what it held to the new sink only.
#[test]
fn a_replaced_route_hands_on_only_to_consumers_that_keep_all_it_fed() {
    let old = Shape {
        t1: Some((0, false)),
        t2: None,
        r: Some((62, true)),
        sinks: [Some((88, false)), None, None],
    };
    let new = Shape {
        t1: None,
        t2: None,
        r: Some((0, false)),
        sinks: [Some((74, false)), Some((68, false)), None],
    };
    assert!(check_reload(&old, &new).unwrap(), "both are valid");
}

/// The third: a filter replaced (`t1`), the one after it kept (`t2`), and
/// the sink they fed now reading the source directly, so that `t2` feeds
/// nothing. The old `t1` handed what it held to `t2`, still its consumer,
/// and `t2` into nowhere: a consumer kept is not enough, the sinks it
/// reaches are what count, and `t2` itself, holding batches headed for
/// the sink, is replaced too.
#[test]
fn what_transforms_hold_goes_on_only_where_it_still_reaches_its_sinks() {
    let old = Shape {
        t1: Some((3, false)),
        t2: Some((4, false)),
        r: None,
        sinks: [Some((8, false)), None, None],
    };
    let new = Shape {
        t1: Some((1, true)),
        t2: Some((4, false)),
        r: None,
        sinks: [Some((1, false)), None, None],
    };
    assert!(check_reload(&old, &new).unwrap(), "both are valid");
}

/// Whatever a reload changes, at every step of it each source feeds,
/// through the transforms that run, every sink it feeds both before
/// and after, and some sink of the new configuration if it feeds any
/// there (running, or awaited while it is swapped or added): a batch
/// read mid-reload never resolves as delivered past a sink it should
/// reach. And the last step wires the new configuration exactly. What
/// a transform being taken out or replaced still holds goes on to every
/// sink it was headed for that its sources still feed, or is dropped to
/// be read again.
/// Returns whether both configurations were valid (and so checked).
fn check_reload(old: &Shape, new: &Shape) -> Result<bool, proptest::test_runner::TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let (Some(before), Some(after)) = (
        parse(&render(old, dir.path())),
        parse(&render(new, dir.path())),
    ) else {
        return Ok(false);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (wirings, started) = runtime.block_on(async {
        let mut pipeline = start_on(before.clone()).await;
        let started = crate::sync::lock(&pipeline.wirings)
            .pop()
            .unwrap_or_default();
        crate::sync::lock(&pipeline.wirings).clear();
        pipeline.reload(after.clone(), Duration::from_secs(1)).await;
        let wirings = std::mem::take(&mut *crate::sync::lock(&pipeline.wirings));
        pipeline.shutdown(Duration::from_secs(1)).await;
        (wirings, started)
    });
    proptest::prop_assert!(!wirings.is_empty());
    let new_sinks: BTreeSet<String> = after.sinks.keys().cloned().collect();
    for source in ["a", "b"] {
        let old_reach = reach_in_config(&before, source, &mut BTreeSet::new());
        let new_reach = reach_in_config(&after, source, &mut BTreeSet::new());
        let kept: BTreeSet<&String> = old_reach.intersection(&new_reach).collect();
        for (step, wiring) in wirings.iter().enumerate() {
            let reach = reach_in_wiring(wiring, source, &mut BTreeSet::new());
            for sink in &kept {
                proptest::prop_assert!(
                    reach.contains(*sink),
                    "step {step}: {source} does not reach {sink}, which it feeds before and after\nwiring: {wiring:?}\nbefore:\n{}\nafter:\n{}",
                    render(old, dir.path()),
                    render(new, dir.path())
                );
            }
            if !new_reach.is_empty() {
                proptest::prop_assert!(
                    reach.iter().any(|sink| new_sinks.contains(sink)),
                    "step {step}: {source} reaches no sink of the new configuration\nwiring: {wiring:?}\nbefore:\n{}\nafter:\n{}",
                    render(old, dir.path()),
                    render(new, dir.path())
                );
            }
        }
        let last = reach_in_wiring(wirings.last().unwrap(), source, &mut BTreeSet::new());
        proptest::prop_assert_eq!(last, new_reach);
    }
    // What a transform taken out or replaced still holds came from the
    // sources that fed it: it goes on to every sink it was headed for
    // that those sources still feed, or is dropped to be read again. So
    // does what one that keeps running held when the reload came.
    for (step, wiring) in wirings.iter().enumerate() {
        let kept = wiring.outputs.iter().filter(|(output, _)| {
            let transform = input_component(output);
            let id = wiring.instances.get(transform);
            id.is_some() && id == started.instances.get(transform)
        });
        let holding = wiring
            .retiring
            .iter()
            .map(|(output, consumers)| (output, consumers.as_ref()))
            .chain(kept.map(|(output, consumers)| (output, Some(consumers))));
        for (output, consumers) in holding {
            let Some(consumers) = consumers else { continue };
            let transform = input_component(output);
            let mut from_sources = BTreeSet::new();
            for source in ["a", "b"] {
                let mut seen = BTreeSet::new();
                reach_in_config(&before, source, &mut seen);
                if seen.contains(transform) {
                    from_sources.extend(reach_in_config(&after, source, &mut BTreeSet::new()));
                }
            }
            let headed = reach_in_config(&before, output, &mut BTreeSet::new());
            let reach = reach_from(wiring, consumers.iter(), &mut BTreeSet::new());
            for sink in headed.intersection(&from_sources) {
                proptest::prop_assert!(
                    reach.contains(sink),
                    "step {step}: what {output} holds does not reach {sink}\nwiring: {wiring:?}\nbefore:\n{}\nafter:\n{}",
                    render(old, dir.path()),
                    render(new, dir.path())
                );
            }
        }
    }
    Ok(true)
}
