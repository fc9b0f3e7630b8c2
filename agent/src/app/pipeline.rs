//! Assembling the pipeline from a configuration: starting, reloading and
//! stopping its components, which know nothing of how they are assembled.
//! The kernel they share (contexts, fan-out, status) is `crate::topology`.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checks::PluginRuntime;
use crate::config::{CheckConfig, ComponentKind, Config, SinkConfig, SourceConfig};
use crate::error::Chain;
use crate::telemetry::events::{ComponentError, ComponentMetrics, ErrorStage};
use crate::telemetry::registry;
use crate::topology::{
    BoxedComponent, BuildError, ComponentState, Fanout, Globals, LOG_CHANNEL_BATCHES,
    SINK_CHANNEL_BATCHES, SinkContext, SinkInput, SinkSender, SourceContext, StatusHandle,
    TargetSet, Targets,
};

/// How long a source may take to write its last checkpoints once its sinks
/// are done.
const SOURCE_FINAL_GRACE: Duration = Duration::from_secs(3);

/// The running pipeline.
#[derive(Debug)]
pub struct Pipeline {
    config: Config,
    globals: Arc<Globals>,
    /// The plugin host, handed to the checks' builder only.
    plugins: Arc<PluginRuntime>,
    producers: IndexMap<String, RunningProducer>,
    sinks: IndexMap<String, SinkSlot>,
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
            sinks: IndexMap::new(),
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
        for (name, producer) in producers_of(&config) {
            pipeline.start_producer(&name, producer)?;
        }
        Ok(pipeline)
    }

    /// The configuration the pipeline runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Move to `new` (already validated), rebuilding only the components
    /// whose configuration changed. `deadline` bounds each stop. A component
    /// that fails to build is marked failed; the others carry on.
    pub async fn reload(&mut self, new: Config, deadline: Duration) {
        if new.data_dir != self.config.data_dir {
            tracing::info!("data_dir changed; restarting every component.");
            self.stop_all(deadline).await;
            self.config = Config {
                sources: Default::default(),
                checks: Default::default(),
                sinks: Default::default(),
                ..new.clone()
            };
        }
        let new_producers: IndexMap<String, ProducerConfig> = producers_of(&new).collect();

        // 1. Stop producers that are gone or changed, while their sinks still
        //    run so their in-flight batches are acknowledged.
        let stale: Vec<String> = self
            .producers
            .iter()
            .filter(|(name, running)| new_producers.get(*name) != Some(&running.config))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &stale {
            if let Some(producer) = self.producers.shift_remove(name) {
                stop_producer(name, producer, deadline).await;
                if !new_producers.contains_key(name) {
                    self.forget(producer_kind(&self.config, name), name);
                }
            }
        }

        // 2. Remove the sinks that are gone: their sources stop feeding
        //    them first; what they hold is delivered until `deadline`, and
        //    what is given up is read again (and goes to the other sinks).
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
        self.retarget();
        stop_sinks(stopping, deadline).await;
        for name in &gone {
            self.forget(ComponentKind::Sink, name);
        }

        // 3. Swap the changed sinks. The old one holds what the new one
        //    needs exclusively (its disk queue, its address, its output
        //    file), so it stops first; meanwhile its sources wait
        //    (backpressure): no batch is acknowledged past it. A new sink
        //    that fails to build gives way to the old configuration again,
        //    and with neither, its sources keep waiting.
        let mut swapping = Vec::new();
        for (name, sink) in &new.sinks {
            let Some(slot) = self.sinks.get_mut(name) else {
                continue;
            };
            slot.inputs.clone_from(&sink.inputs);
            let current = slot.running.as_ref().map(|r| &r.config);
            if current != Some(&sink.sink) {
                slot.config = sink.sink.clone();
                swapping.extend(slot.running.take().map(|old| (name.clone(), old)));
            }
        }
        self.retarget();
        let fallbacks: Vec<(String, SinkConfig)> = swapping
            .iter()
            .map(|(name, old)| (name.clone(), old.config.clone()))
            .collect();
        stop_sinks(swapping, deadline).await;
        let mut fallbacks: IndexMap<String, SinkConfig> = fallbacks.into_iter().collect();
        for (name, sink) in &new.sinks {
            let wanted = self.sinks.get(name).map(|slot| slot.running.is_none());
            match wanted {
                Some(true) => {
                    let fallback = fallbacks.shift_remove(name);
                    self.start_or_fall_back(name, &sink.sink, fallback.as_ref());
                }
                Some(false) => {}
                None => {
                    self.sinks.insert(
                        name.clone(),
                        SinkSlot {
                            config: sink.sink.clone(),
                            inputs: sink.inputs.clone(),
                            running: None,
                        },
                    );
                    self.start_or_fall_back(name, &sink.sink, None);
                }
            }
        }
        self.retarget();

        // 4. Start new producers.
        for (name, producer) in new_producers {
            if !self.producers.contains_key(&name)
                && let Err(error) = self.start_producer(&name, producer)
            {
                tracing::error!(component_id = %name, error = %Chain(&error), "Failed to build source on reload.");
            }
        }
        self.config = new;
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
        let sinks: Vec<(String, RunningSink)> = self
            .sinks
            .drain(..)
            .filter_map(|(name, slot)| slot.running.map(|sink| (name, sink)))
            .collect();
        stop_sinks(sinks, end.saturating_duration_since(Instant::now())).await;
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

    fn targets_for(&self, producer: &str) -> Targets {
        let mut sinks = Vec::new();
        let mut waiting_for = Vec::new();
        for (name, slot) in &self.sinks {
            if !slot.inputs.iter().any(|i| i == producer) {
                continue;
            }
            match slot.running.as_ref().and_then(|r| r.tx.clone()) {
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
    }

    fn forget(&self, kind: ComponentKind, name: &str) {
        self.globals.status.remove(kind, name);
        registry().remove_labelled("component_id", name);
    }
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

fn producer_kind(config: &Config, name: &str) -> ComponentKind {
    if config.checks.contains_key(name) {
        ComponentKind::Check
    } else {
        ComponentKind::Source
    }
}

async fn stop_producer(name: &str, producer: RunningProducer, deadline: Duration) {
    producer.shutdown.cancel();
    producer.control.send_replace(TargetSet::stopping());
    producer.task.join(name, deadline).await;
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

// === impl Supervised ===

impl Supervised {
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
