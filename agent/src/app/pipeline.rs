//! Assembling the pipeline from a configuration: starting, reloading and
//! stopping its components, which know nothing of how they are assembled.
//! The kernel they share (contexts, fan-out, status) is `crate::topology`.
//!
//! A transform sits in both roles: its inputs feed it like a sink (they
//! wait for it while it is not running), and it feeds its consumers like a
//! source. A transform being replaced stops taking batches, hands what it
//! holds on to its consumers while its successor already runs ("retiring"),
//! and ends; if it cannot hand them on by the shutdown, they stay
//! unacknowledged and are read again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::buffers::disk_queue::DiskQueue;
use crate::checks::PluginRuntime;
use crate::config::{
    CheckConfig, ComponentKind, Config, SinkConfig, SourceConfig, TransformConfig,
};
use crate::error::Chain;
use crate::telemetry::events::{ComponentError, ComponentMetrics, ErrorStage, QueueLeftUnread};
use crate::telemetry::registry;
use crate::topology::{
    BoxedComponent, BuildError, ComponentState, Fanout, Globals, LOG_CHANNEL_BATCHES,
    SINK_CHANNEL_BATCHES, SinkContext, SinkInput, SinkSender, SourceContext, StatusHandle,
    TargetSet, Targets, TransformContext,
};
use crate::transforms::input_component;

/// How long a source may take to write its last checkpoints once its sinks
/// are done.
const SOURCE_FINAL_GRACE: Duration = Duration::from_secs(3);

/// The running pipeline.
#[derive(Debug)]
pub struct Pipeline {
    config: Config,
    globals: Arc<Globals>,
    /// The plugin host, handed to the checks' and transforms' builders.
    plugins: Arc<PluginRuntime>,
    producers: IndexMap<String, RunningProducer>,
    transforms: IndexMap<String, TransformSlot>,
    /// Replaced or removed transforms handing on what they still hold.
    retiring: Vec<(String, RunningTransform)>,
    sinks: IndexMap<String, SinkSlot>,
    /// Every wiring a retarget made, in order (tests of the reload).
    #[cfg(test)]
    wirings: std::sync::Mutex<Vec<tests::Wiring>>,
}

#[derive(Debug, Clone, PartialEq)]
enum ProducerConfig {
    Source(SourceConfig),
    Check(CheckConfig),
}

#[derive(Debug)]
struct RunningProducer {
    config: ProducerConfig,
    shutdown: CancellationToken,
    control: watch::Sender<Targets>,
    task: Supervised,
}

/// A configured sink: the inputs that feed it and the sink running in its
/// place. While none runs (being swapped on reload, or it failed to build),
/// its inputs wait for it.
#[derive(Debug)]
struct SinkSlot {
    /// The configuration last asked for.
    config: SinkConfig,
    inputs: Vec<String>,
    running: Option<RunningSink>,
}

/// A configured transform: its inputs and the transform running in its
/// place. While none runs (it failed to build), its inputs wait for it.
#[derive(Debug)]
struct TransformSlot {
    inputs: Vec<String>,
    running: Option<RunningTransform>,
}

#[derive(Debug)]
struct RunningTransform {
    config: TransformConfig,
    tx: Option<SinkSender>,
    stop: CancellationToken,
    /// The targets of its output and of each named one, by the name
    /// inputs use for it (`ID`, or `ID.OUTPUT`).
    controls: Vec<(String, watch::Sender<Targets>)>,
    /// Once retired: for each output (as in `controls`), the sinks it
    /// reached before the reload that the new configuration keeps. What it
    /// still holds goes on only to consumers that reach them all.
    fed: Vec<Vec<Arc<str>>>,
    task: Supervised,
}

#[derive(Debug)]
struct RunningSink {
    /// The configuration it runs, which differs from the slot's when a new
    /// one failed to build.
    config: SinkConfig,
    tx: Option<SinkSender>,
    stop: CancellationToken,
    hard_stop: CancellationToken,
    task: Supervised,
    status: StatusHandle,
}

/// A component task and the supervisor that reports how it ended.
#[derive(Debug)]
struct Supervised {
    supervisor: Option<JoinHandle<()>>,
    component: AbortHandle,
}

// === impl Pipeline ===

impl Pipeline {
    /// Build and start every component of `config`, which must be valid.
    /// Checks run their plugins on `plugins`.
    pub async fn start(
        config: Config,
        globals: Arc<Globals>,
        plugins: Arc<PluginRuntime>,
    ) -> Result<Self, BuildError> {
        let mut pipeline = Pipeline {
            config: config.clone(),
            globals,
            plugins,
            producers: IndexMap::new(),
            transforms: IndexMap::new(),
            retiring: Vec::new(),
            sinks: IndexMap::new(),
            #[cfg(test)]
            wirings: Default::default(),
        };
        for (name, sink) in &config.sinks {
            let running = pipeline.build_sink(name, &sink.sink)?;
            pipeline.sinks.insert(
                name.clone(),
                SinkSlot {
                    config: sink.sink.clone(),
                    inputs: sink.inputs.clone(),
                    running: Some(running),
                },
            );
        }
        for (name, transform) in &config.transforms {
            let running = pipeline.build_transform(name, &transform.transform)?;
            pipeline.transforms.insert(
                name.clone(),
                TransformSlot {
                    inputs: transform.inputs.clone(),
                    running: Some(running),
                },
            );
        }
        pipeline.retarget();
        for (name, producer) in producers_of(&config) {
            pipeline.start_producer(&name, producer)?;
        }
        pipeline.report_unread_queues();
        Ok(pipeline)
    }

    /// The configuration the pipeline runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Move to `new` (already validated), rebuilding only the components
    /// whose configuration changed, and those that ended by themselves (a
    /// panic). `deadline` bounds each stop. A component that fails to build
    /// is marked failed; the others carry on.
    pub async fn reload(&mut self, new: Config, deadline: Duration) {
        if new.data_dir != self.config.data_dir {
            tracing::info!("data_dir changed; restarting every component.");
            self.stop_all(deadline).await;
            self.config = Config {
                sources: Default::default(),
                checks: Default::default(),
                transforms: Default::default(),
                sinks: Default::default(),
                ..new.clone()
            };
        }
        let new_producers: IndexMap<String, ProducerConfig> = producers_of(&new).collect();

        // 1. Tell the producers that are gone or changed to stop, while
        //    their sinks still run so their in-flight batches are
        //    acknowledged; step 4 waits for them. One that ended by itself
        //    (a panic: none ends otherwise) is rebuilt, changed or not, as
        //    is a transform or sink that did.
        let stale: Vec<String> = self
            .producers
            .iter()
            .filter(|(name, running)| {
                new_producers.get(*name) != Some(&running.config) || running.task.is_finished()
            })
            .map(|(name, _)| name.clone())
            .collect();
        let began = Instant::now();
        let end = began + deadline;
        let mut producers_stopping: tokio::task::JoinSet<String> = tokio::task::JoinSet::new();
        for name in &stale {
            if let Some(producer) = self.producers.shift_remove(name) {
                producer.shutdown.cancel();
                producer.control.send_replace(TargetSet::stopping());
                let name = name.clone();
                producers_stopping.spawn(async move {
                    let remaining = end.saturating_duration_since(Instant::now());
                    producer.task.join(&name, remaining).await;
                    name
                });
            }
        }
        // One that failed to build runs nowhere, yet its failure is in
        // `/status` (and keeps `/readyz` failing) until it is forgotten.
        for (name, _) in producers_of(&self.config) {
            if !new_producers.contains_key(&name)
                && !self.producers.contains_key(&name)
                && !stale.contains(&name)
            {
                self.forget(producer_kind(&self.config, &name), &name);
            }
        }

        // Every sink of the new configuration takes its place now, with its
        // new inputs (one being added has no sink running yet): each step
        // below then wires the producers to the consumers of the new
        // configuration, or of the old while those still run, never to
        // neither. Otherwise a batch read in between (a transform taken out
        // before its sink reads the transform's inputs, a sink renamed
        // while the old one finishes) reached no consumer of the new
        // configuration and resolved as delivered into nowhere.
        let needed = self.sinks_still_needed(&new);
        self.rewire_sinks(&new);

        // 2. Replace the transforms that changed and retire the ones that
        //    are gone. Nothing they need is exclusive, so a successor starts
        //    at once and the old one hands on what it holds meanwhile.
        self.replace_transforms(&new, &needed);

        // 3. Take out the sinks that are gone and the ones that changed:
        //    their sources stop feeding them. Inputs of a sink being
        //    swapped wait for its replacement (backpressure): no batch is
        //    acknowledged past it.
        let gone: Vec<String> = self
            .sinks
            .keys()
            .filter(|name| !new.sinks.contains_key(*name))
            .cloned()
            .collect();
        let mut stopping = Vec::new();
        for name in &gone {
            if let Some(slot) = self.sinks.shift_remove(name) {
                stopping.extend(slot.running.map(|sink| (name.clone(), sink)));
            }
        }
        let mut fallbacks = IndexMap::new();
        for (name, slot) in &mut self.sinks {
            let Some(sink) = new.sinks.get(name) else {
                continue;
            };
            let replace = slot
                .running
                .as_ref()
                .is_some_and(|r| r.config != sink.sink || r.task.is_finished());
            if let Some(old) = slot.running.take_if(|_| replace) {
                fallbacks.insert(name.clone(), old.config.clone());
                stopping.push((name.clone(), old));
            }
        }
        self.retarget();

        // 4. Start the new producers: those of a new name at once, and
        //    each replacement as soon as the producer it replaces has
        //    stopped, before the sinks taken out are waited for. A source
        //    being rebuilt (its include changed) then watches its files
        //    while another source waits for its last acknowledgements, or
        //    a sink taken out delivers what it holds (each up to
        //    `deadline` with a receiver down). Started after those, its
        //    files went unwatched that long, and a file truncated
        //    meanwhile lost lines no engine had seen, uncounted (chaos
        //    seed 6902). They feed the sinks that stay and wait for the
        //    others.
        for (name, producer) in &new_producers {
            if !stale.contains(name) && !self.producers.contains_key(name) {
                self.start_on_reload(name, producer.clone(), began);
            }
        }
        let mut waiting: Vec<&String> = stale.iter().collect();
        while let Some(stopped) = producers_stopping.join_next().await {
            let Ok(name) = stopped else { continue };
            tracing::debug!(component_id = %name, elapsed_ms = began.elapsed().as_millis() as u64, "Reload: producer stopped.");
            waiting.retain(|n| **n != name);
            match new_producers.get(&name) {
                Some(producer) => self.start_on_reload(&name, producer.clone(), began),
                None => self.forget(producer_kind(&self.config, &name), &name),
            }
        }
        // One whose wait failed (its task panicked) is replaced all the same.
        for name in waiting {
            if let Some(producer) = new_producers.get(name) {
                self.start_on_reload(name, producer.clone(), began);
            }
        }

        // 5. Stop the sinks taken out: what they hold is delivered until
        //    `deadline`, and what is given up is read again (and goes to
        //    the other sinks). Then the replacements and the added sinks
        //    start: the old one held what the new one needs exclusively
        //    (its disk queue, its address, its output file; a renamed
        //    sink's too). A new sink that fails to build gives way to the
        //    old configuration again, and with neither, its sources keep
        //    waiting.
        stop_sinks(stopping, deadline).await;
        tracing::debug!(
            elapsed_ms = began.elapsed().as_millis() as u64,
            "Reload: sinks taken out stopped."
        );
        for name in &gone {
            self.forget(ComponentKind::Sink, name);
        }
        for (name, sink) in &new.sinks {
            if self
                .sinks
                .get(name)
                .is_some_and(|slot| slot.running.is_none())
            {
                let fallback = fallbacks.shift_remove(name);
                self.start_or_fall_back(name, &sink.sink, fallback.as_ref());
            }
        }
        self.retarget();
        self.config = new;
        self.report_unread_queues();
    }

    /// Stop everything: sources stop reading and flush, sinks deliver what
    /// they hold until `deadline`, then give up what is left (it stays
    /// unacknowledged, so it is read again after a restart).
    pub async fn shutdown(mut self, deadline: Duration) {
        self.stop_all(deadline).await;
    }

    async fn stop_all(&mut self, deadline: Duration) {
        let started = Instant::now();
        let end = started + deadline;
        let producers: Vec<(String, RunningProducer)> = self.producers.drain(..).collect();
        for (name, producer) in &producers {
            tracing::debug!(component_id = %name, "Stopping source.");
            producer.shutdown.cancel();
        }
        // Wait until each source has let go of its output (flushed its last
        // batch), so closing the sinks' inputs loses nothing in flight.
        for (_, producer) in &producers {
            producer.control.send_replace(TargetSet::stopping());
            let _ = tokio::time::timeout_at(end, producer.control.closed()).await;
        }
        // Then the transforms, upstream first, each handing on what it holds.
        let mut transforms: Vec<(String, RunningTransform)> = self.retiring.drain(..).collect();
        for name in transform_order(&self.transforms) {
            if let Some(running) = self
                .transforms
                .get_mut(&name)
                .and_then(|slot| slot.running.take())
            {
                transforms.push((name, running));
            }
        }
        self.transforms.clear();
        let mut stopped = Vec::new();
        for (name, mut transform) in transforms {
            transform.close();
            let _ = tokio::time::timeout_at(end, transform.task.wait()).await;
            stopped.push((name, transform));
        }
        let sinks: Vec<(String, RunningSink)> = self
            .sinks
            .drain(..)
            .filter_map(|(name, slot)| slot.running.map(|sink| (name, sink)))
            .collect();
        stop_sinks(sinks, end.saturating_duration_since(Instant::now())).await;
        for (name, transform) in stopped {
            transform.task.join(&name, Duration::ZERO).await;
        }
        for (name, producer) in producers {
            producer.task.join(&name, SOURCE_FINAL_GRACE).await;
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Pipeline stopped."
        );
    }

    /// Build the sink `name` runs with `config` in its slot; failing
    /// that, `fallback` (the configuration it ran before). With neither,
    /// the slot stays empty and its inputs wait.
    fn start_or_fall_back(
        &mut self,
        name: &str,
        config: &SinkConfig,
        fallback: Option<&SinkConfig>,
    ) {
        let error = match self.build_sink(name, config) {
            Ok(running) => {
                if let Some(slot) = self.sinks.get_mut(name) {
                    slot.running = Some(running);
                }
                return;
            }
            Err(error) => error,
        };
        let metrics = ComponentMetrics::new(name, ComponentKind::Sink, config.type_name());
        ComponentError {
            component: &metrics,
            error_type: "build_failed",
            stage: ErrorStage::Building,
            error: Chain(&error),
        }
        .emit();
        let Some(fallback) = fallback else {
            tracing::error!(component_id = %name, error = %Chain(&error), "Sink not built on reload; its inputs wait for it (fix the configuration and reload).");
            return;
        };
        match self.build_sink(name, fallback) {
            Ok(running) => {
                tracing::error!(component_id = %name, error = %Chain(&error), "New sink configuration not built on reload; the previous one runs again.");
                running
                    .status
                    .set_last_error(format!("reload: {}", Chain(&error)));
                if let Some(slot) = self.sinks.get_mut(name) {
                    slot.running = Some(running);
                }
            }
            Err(again) => {
                tracing::error!(component_id = %name, error = %Chain(&error), previous = %Chain(&again), "Neither the new nor the previous sink configuration builds; its inputs wait for it.");
            }
        }
    }

    /// Build and start one sink. Its failure is recorded in `/status`.
    fn build_sink(&mut self, name: &str, config: &SinkConfig) -> Result<RunningSink, BuildError> {
        let (tx, logs, buffered) = SinkSender::channel(LOG_CHANNEL_BATCHES, SINK_CHANNEL_BATCHES);
        let stop = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let metrics = ComponentMetrics::new(name, ComponentKind::Sink, config.type_name());
        let status = self.globals.status.register(
            ComponentKind::Sink,
            name,
            config.type_name(),
            metrics.clone(),
        );
        let cx = SinkContext {
            id: Arc::from(name),
            input: SinkInput::new(logs, buffered, stop.clone()),
            hard_stop: hard_stop.clone(),
            globals: Arc::clone(&self.globals),
            metrics,
            status: status.clone(),
        };
        let component = config.build(cx).map_err(|error| {
            status.set_state(ComponentState::Failed(Chain(&error).to_string()));
            BuildError::caused(format!("sinks.{name}"), error)
        })?;
        Ok(RunningSink {
            config: config.clone(),
            tx: Some(tx),
            stop,
            hard_stop,
            task: Supervised::spawn(name, component, status.clone()),
            status,
        })
    }

    /// Before the steps of a reload: each sink of `new` in its slot with
    /// its configuration and inputs; a slot for each sink being added,
    /// empty until step 4 starts it (its inputs wait for it meanwhile).
    /// Sinks that are gone keep theirs until step 3 removes them.
    fn rewire_sinks(&mut self, new: &Config) {
        for (name, sink) in &new.sinks {
            let slot = self.sinks.entry(name.clone()).or_insert_with(|| SinkSlot {
                config: sink.sink.clone(),
                inputs: Vec::new(),
                running: None,
            });
            slot.config = sink.sink.clone();
            slot.inputs.clone_from(&sink.inputs);
        }
    }

    /// Step 2 of a reload: replace changed transforms, retire gone ones,
    /// start new ones.
    fn replace_transforms(&mut self, new: &Config, needed: &HashMap<String, Vec<Arc<str>>>) {
        self.retiring.retain(|(_, t)| !t.task.is_finished());
        let gone: Vec<String> = self
            .transforms
            .keys()
            .filter(|name| !new.transforms.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(slot) = self.transforms.shift_remove(&name) {
                self.retire(&name, slot.running, needed);
            }
            self.forget(ComponentKind::Transform, &name);
        }
        for (name, transform) in &new.transforms {
            let slot = self
                .transforms
                .entry(name.clone())
                .or_insert_with(|| TransformSlot {
                    inputs: Vec::new(),
                    running: None,
                });
            slot.inputs.clone_from(&transform.inputs);
            // One that still feeds every sink it fed (of those that stay)
            // keeps running; otherwise what it holds could go on past a
            // sink it was headed for, so it is replaced, and what it holds
            // is read again.
            let current = slot
                .running
                .as_ref()
                .filter(|r| !r.task.is_finished())
                .filter(|r| {
                    r.controls.iter().all(|(output, _)| {
                        let reached = reach_in(new, output);
                        needed
                            .get(output)
                            .is_none_or(|sinks| sinks.iter().all(|s| reached.contains(&**s)))
                    })
                })
                .map(|r| &r.config);
            if current == Some(&transform.transform) {
                continue;
            }
            let old = slot.running.take();
            self.retire(name, old, needed);
            match self.build_transform(name, &transform.transform) {
                Ok(running) => {
                    if let Some(slot) = self.transforms.get_mut(name) {
                        slot.running = Some(running);
                    }
                }
                Err(error) => {
                    tracing::error!(component_id = %name, error = %Chain(&error), "Transform not built on reload; its inputs wait for it (fix the configuration and reload).");
                }
            }
        }
        self.retarget();
    }

    /// Stop `running` taking batches; it hands on what it holds (to
    /// consumers that reach every sink of `needed` its outputs fed) and
    /// ends.
    fn retire(
        &mut self,
        name: &str,
        running: Option<RunningTransform>,
        needed: &HashMap<String, Vec<Arc<str>>>,
    ) {
        if let Some(mut running) = running {
            running.close();
            running.fed = running
                .controls
                .iter()
                .map(|(output, _)| needed.get(output).cloned().unwrap_or_default())
                .collect();
            self.retiring.push((name.to_owned(), running));
        }
    }

    /// Before a reload to `new` moves anything: for each output of each
    /// running transform, the sinks it reaches now that `new` keeps. What
    /// the transform holds was headed for them.
    fn sinks_still_needed(&self, new: &Config) -> HashMap<String, Vec<Arc<str>>> {
        let running = self.transforms.values().filter_map(|s| s.running.as_ref());
        running
            .flat_map(|transform| &transform.controls)
            .map(|(output, _)| {
                let sinks = self
                    .sinks_reached(output, &mut HashSet::new())
                    .into_iter()
                    .filter(|sink| new.sinks.contains_key(&**sink))
                    .collect();
                (output.clone(), sinks)
            })
            .collect()
    }

    /// The sinks `output` reaches in the wiring as the slots have it,
    /// through the transforms that read it, running or awaited.
    fn sinks_reached(&self, output: &str, seen: &mut HashSet<String>) -> BTreeSet<Arc<str>> {
        let mut sinks = BTreeSet::new();
        if !seen.insert(output.to_owned()) {
            return sinks;
        }
        for name in self.targets_for(output).names() {
            if self.sinks.contains_key(name) {
                sinks.insert(Arc::from(name));
            } else if let Some(slot) = self.transforms.get(name) {
                let outputs: Vec<&str> = match &slot.running {
                    Some(running) => running.controls.iter().map(|(o, _)| o.as_str()).collect(),
                    None => vec![name],
                };
                for next in outputs {
                    sinks.extend(self.sinks_reached(next, seen));
                }
            }
        }
        sinks
    }

    /// Build and start one transform. Its failure is recorded in `/status`.
    fn build_transform(
        &mut self,
        name: &str,
        config: &TransformConfig,
    ) -> Result<RunningTransform, BuildError> {
        let (tx, logs, buffered) = SinkSender::channel(LOG_CHANNEL_BATCHES, SINK_CHANNEL_BATCHES);
        let stop = CancellationToken::new();
        let (control, control_rx) = watch::channel(self.targets_for(name));
        let mut controls = vec![(name.to_owned(), control)];
        let mut outputs = Vec::new();
        for output in config.outputs() {
            let input_name = format!("{name}.{output}");
            let (control, control_rx) = watch::channel(self.targets_for(&input_name));
            controls.push((input_name, control));
            outputs.push((Arc::from(output), Fanout::new(control_rx)));
        }
        let metrics = ComponentMetrics::new(name, ComponentKind::Transform, config.type_name());
        let status = self.globals.status.register(
            ComponentKind::Transform,
            name,
            config.type_name(),
            metrics.clone(),
        );
        let cx = TransformContext {
            id: Arc::from(name),
            input: SinkInput::new(logs, buffered, stop.clone()),
            out: Fanout::new(control_rx),
            outputs,
            metrics,
            status: status.clone(),
            plugins: Arc::clone(&self.plugins),
        };
        let component = config.build(cx).map_err(|error| {
            status.set_state(ComponentState::Failed(Chain(&error).to_string()));
            BuildError::caused(format!("transforms.{name}"), error)
        })?;
        Ok(RunningTransform {
            config: config.clone(),
            tx: Some(tx),
            stop,
            controls,
            fed: Vec::new(),
            task: Supervised::spawn(name, component, status),
        })
    }

    /// Start producer `name` in a reload that began at `began`; a failure
    /// is logged (and in `/status`).
    fn start_on_reload(&mut self, name: &str, config: ProducerConfig, began: Instant) {
        tracing::debug!(component_id = %name, elapsed_ms = began.elapsed().as_millis() as u64, "Reload: starting producer.");
        if let Err(error) = self.start_producer(name, config) {
            tracing::error!(component_id = %name, error = %Chain(&error), "Failed to build source on reload.");
        }
    }

    fn start_producer(&mut self, name: &str, config: ProducerConfig) -> Result<(), BuildError> {
        let (kind, type_name) = match &config {
            ProducerConfig::Source(source) => (ComponentKind::Source, source.type_name()),
            ProducerConfig::Check(_) => (ComponentKind::Check, "check"),
        };
        let (control, control_rx) = watch::channel(self.targets_for(name));
        let shutdown = CancellationToken::new();
        let metrics = ComponentMetrics::new(name, kind, type_name);
        let status = self
            .globals
            .status
            .register(kind, name, type_name, metrics.clone());
        let cx = SourceContext {
            id: Arc::from(name),
            out: Fanout::new(control_rx),
            shutdown: shutdown.clone(),
            globals: Arc::clone(&self.globals),
            metrics,
            status: status.clone(),
        };
        let built = match &config {
            ProducerConfig::Source(source) => source.build(cx),
            ProducerConfig::Check(check) => crate::checks::build(check, cx, &self.plugins),
        };
        let component = built.map_err(|error| {
            status.set_state(ComponentState::Failed(Chain(&error).to_string()));
            let section = if kind == ComponentKind::Check {
                "checks"
            } else {
                "sources"
            };
            BuildError::caused(format!("{section}.{name}"), error)
        })?;
        self.producers.insert(
            name.to_owned(),
            RunningProducer {
                config,
                shutdown,
                control,
                task: Supervised::spawn(name, component, status),
            },
        );
        Ok(())
    }

    /// The sinks and transforms that read from `producer` (a source, check
    /// or transform): the running ones to feed, the others to wait for.
    fn targets_for(&self, producer: &str) -> Targets {
        let mut sinks = Vec::new();
        let mut waiting_for = Vec::new();
        let consumers = self
            .sinks
            .iter()
            .map(|(name, slot)| {
                let tx = slot.running.as_ref().and_then(|r| r.tx.clone());
                (name, &slot.inputs, tx)
            })
            .chain(self.transforms.iter().map(|(name, slot)| {
                let tx = slot.running.as_ref().and_then(|r| r.tx.clone());
                (name, &slot.inputs, tx)
            }));
        for (name, inputs, tx) in consumers {
            if !inputs.iter().any(|i| i == producer) {
                continue;
            }
            match tx {
                Some(tx) => sinks.push((Arc::from(name.as_str()), tx)),
                None => waiting_for.push(Arc::from(name.as_str())),
            }
        }
        TargetSet::waiting(sinks, waiting_for)
    }

    fn retarget(&self) {
        for (name, producer) in &self.producers {
            producer.control.send_replace(self.targets_for(name));
        }
        let transforms = self
            .transforms
            .values()
            .filter_map(|slot| slot.running.as_ref());
        for transform in transforms {
            for (output, control) in &transform.controls {
                control.send_replace(self.targets_for(output));
            }
        }
        // A removed or replaced transform hands on what it still holds to
        // whoever reads its outputs now, if through them it still reaches
        // every sink it was headed for that stays (its successor's
        // consumers, one of them maybe being swapped). Otherwise (its
        // consumers were rewired to read its inputs directly, or some of
        // them) what it holds is dropped unacknowledged, and its source
        // reads it again into the new wiring, rather than resolved as
        // delivered past a sink that should have had it, or into nowhere.
        for (_, transform) in &self.retiring {
            for ((output, control), fed) in transform.controls.iter().zip(&transform.fed) {
                let targets = self.targets_for(output);
                let reached = self.sinks_reached(output, &mut HashSet::new());
                let keeps_all = !targets.is_empty() && fed.iter().all(|s| reached.contains(s));
                control.send_replace(if keeps_all {
                    targets
                } else {
                    TargetSet::stopping()
                });
            }
        }
        #[cfg(test)]
        self.record_wiring();
    }

    /// Warn of each disk queue under `data_dir/queues` that no sink of the
    /// configuration reads (its sink was removed or renamed) and that still
    /// holds records. Read on a blocking thread: a queue may be large.
    fn report_unread_queues(&self) {
        let root = self.config.data_dir.join("queues");
        let sinks: Vec<String> = self.sinks.keys().cloned().collect();
        tokio::task::spawn_blocking(move || {
            let Ok(entries) = std::fs::read_dir(&root) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if sinks
                    .iter()
                    .any(|sink| name.to_str() == Some(sink.as_str()))
                {
                    continue;
                }
                let dir = entry.path();
                match DiskQueue::undelivered(&dir) {
                    Ok(Some(stats)) => QueueLeftUnread {
                        dir: &dir,
                        records: stats.records,
                        bytes: stats.bytes,
                    }
                    .emit(),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::debug!(dir = %dir.display(), %error, "Disk queue not read.");
                    }
                }
            }
        });
    }

    fn forget(&self, kind: ComponentKind, name: &str) {
        self.globals.status.remove(kind, name);
        registry().remove_labelled("component_id", name);
        // The series of checks and of the plugins of `wasm` transforms
        // name them by kind (`check`, `transform`).
        match kind {
            ComponentKind::Check => registry().remove_labelled("check", name),
            ComponentKind::Transform => registry().remove_labelled("transform", name),
            ComponentKind::Source | ComponentKind::Sink => {}
        }
    }
}

/// The sinks `output` reaches in `config`, through its transforms.
fn reach_in(config: &Config, output: &str) -> HashSet<String> {
    let mut sinks = HashSet::new();
    let mut todo = vec![output.to_owned()];
    let mut seen = HashSet::new();
    while let Some(output) = todo.pop() {
        if !seen.insert(output.clone()) {
            continue;
        }
        for (name, sink) in &config.sinks {
            if sink.inputs.contains(&output) {
                sinks.insert(name.clone());
            }
        }
        for (name, transform) in &config.transforms {
            if transform.inputs.contains(&output) {
                todo.push(name.clone());
                let outputs = transform.transform.outputs();
                todo.extend(outputs.into_iter().map(|o| format!("{name}.{o}")));
            }
        }
    }
    sinks
}

fn producers_of(config: &Config) -> impl Iterator<Item = (String, ProducerConfig)> + '_ {
    let sources = config
        .sources
        .iter()
        .map(|(name, source)| (name.clone(), ProducerConfig::Source(source.clone())));
    let checks = config
        .checks
        .iter()
        .map(|(name, check)| (name.clone(), ProducerConfig::Check(check.clone())));
    sources.chain(checks)
}

/// Transform names with every transform after those it reads from, so
/// stopping in this order lets each hand on what it holds to a consumer
/// that still runs. The configuration has no cycles (validation refuses
/// them); were there one, its members come last, in configuration order.
fn transform_order(transforms: &IndexMap<String, TransformSlot>) -> Vec<String> {
    let mut order: Vec<String> = Vec::with_capacity(transforms.len());
    let mut placed = vec![false; transforms.len()];
    loop {
        let mut progressed = false;
        for (i, (name, slot)) in transforms.iter().enumerate() {
            let ready = !placed[i]
                && slot.inputs.iter().all(|input| {
                    transforms
                        .get_index_of(input_component(input))
                        .is_none_or(|j| placed[j])
                });
            if ready {
                placed[i] = true;
                order.push(name.clone());
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    for (i, name) in transforms.keys().enumerate() {
        if !placed[i] {
            order.push(name.clone());
        }
    }
    order
}

fn producer_kind(config: &Config, name: &str) -> ComponentKind {
    if config.checks.contains_key(name) {
        ComponentKind::Check
    } else {
        ComponentKind::Source
    }
}

/// Close the sinks' inputs, let them deliver until `deadline`, then make
/// them give up.
async fn stop_sinks(sinks: Vec<(String, RunningSink)>, deadline: Duration) {
    let end = Instant::now() + deadline;
    let mut running = Vec::new();
    for (name, mut sink) in sinks {
        sink.tx = None;
        sink.stop.cancel();
        running.push((name, sink));
    }
    for (name, mut sink) in running {
        let remaining = end.saturating_duration_since(Instant::now());
        if tokio::time::timeout(remaining, sink.task.wait())
            .await
            .is_err()
        {
            tracing::warn!(component_id = %name, "Sink did not finish before the shutdown deadline; giving up its in-flight batches.");
            sink.hard_stop.cancel();
            sink.task.join(&name, Duration::from_secs(1)).await;
        }
    }
}

// === impl RunningTransform ===

impl RunningTransform {
    /// Take no more batches: what is queued is still handed out, then the
    /// transform's input ends and so does it.
    fn close(&mut self) {
        self.tx = None;
        self.stop.cancel();
    }
}

// === impl Supervised ===

impl Supervised {
    /// Whether the component and its supervisor have ended.
    fn is_finished(&self) -> bool {
        self.supervisor.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn spawn(name: &str, component: BoxedComponent, status: StatusHandle) -> Self {
        let inner = tokio::spawn(component);
        let component = inner.abort_handle();
        let name = name.to_owned();
        if !status.is_deferred() {
            status.set_state(ComponentState::Running);
        }
        let supervisor = tokio::spawn(async move {
            match inner.await {
                Ok(()) => status.set_state(ComponentState::Stopping),
                Err(error) if error.is_panic() => {
                    let message = panic_message(error.into_panic());
                    tracing::error!(component_id = %name, panic = %message, "Component panicked.");
                    status.set_state(ComponentState::Failed(format!("panicked: {message}")));
                }
                Err(_) => status.set_state(ComponentState::Stopping),
            }
        });
        Supervised {
            supervisor: Some(supervisor),
            component,
        }
    }

    /// Wait for the component to end by itself. Cancel-safe.
    async fn wait(&mut self) {
        if let Some(supervisor) = self.supervisor.as_mut() {
            let _ = supervisor.await;
            self.supervisor = None;
        }
    }

    /// Wait up to `deadline`, then abort.
    async fn join(mut self, name: &str, deadline: Duration) {
        if tokio::time::timeout(deadline, self.wait()).await.is_err() {
            tracing::warn!(component_id = %name, "Component did not stop in time; aborting it.");
            self.component.abort();
            self.wait().await;
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests;
