//! The `kubernetes_logs` source: container logs under `/var/log/pods`.
//!
//! The tailing engine is the `file` source's (same identity, checkpoints,
//! rotation handling and budgets); this module adds what containers need:
//! paths mapped to `k8s.*` attributes (`path`), CRI and docker json-file
//! lines parsed (`format`), partial lines joined per stdout/stderr, also
//! across a rotation (`container`), and pod metadata (`metadata`).

mod config;
mod container;
pub(crate) mod format;
mod metadata;
mod path;
mod service;

pub use config::{KubeletMetadataConfig, KubernetesLogsConfig};
pub use container::ContainerHandler;
pub use format::{ContainerLine, IoStream};
pub use metadata::{
    CacheState, EXCLUDE_ANNOTATION, MetadataCache, MetadataFields, PodMeta, PodSlot, parse_pod_list,
};
pub use path::{ContainerLog, parse as parse_path};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::event::{Attributes, Resource};
use crate::sources::file::{
    Discovery, LineHandler, MultilineConfig, StreamFactory, StreamSpec, spawn_tailer,
};
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the source.
pub fn build(
    config: &KubernetesLogsConfig,
    cx: SourceContext,
) -> Result<BoxedComponent, BuildError> {
    let include = format!("{}/*/*/*.log*", config.pods_dir.display());
    let discovery = Discovery::new(&[include], &config.exclude).map_err(BuildError::from_error)?;
    let node_name = config
        .node_name
        .clone()
        .or_else(|| std::env::var("NODE_NAME").ok())
        .filter(|n| !n.is_empty());
    let cache = Arc::new(MetadataCache::default());
    let poller = metadata::poller(
        &config.kubelet,
        node_name.as_deref(),
        Arc::clone(&cache),
        &cx,
    )?;
    let factory = KubernetesFactory {
        host: Arc::clone(&cx.globals.host),
        node_name,
        multiline: config.multiline.clone(),
        max_merged_line_bytes: config.max_merged_line_bytes,
        partial_timeout: Duration::from_millis(config.tail.unterminated_timeout_ms),
        cache,
        seen_generation: 0,
        fields: MetadataFields {
            labels: config.kubelet.labels,
            annotations: config.kubelet.annotations,
            owner: config.kubelet.owner,
        },
        service_from_labels: config.kubelet.service_from_labels,
        slots: HashMap::new(),
        waiting: HashMap::new(),
        parse_failures: Arc::new(AtomicBool::new(false)),
    };
    let tailer = spawn_tailer(config.tail.clone(), discovery, Box::new(factory), cx)?;
    Ok(Box::pin(async move {
        let poller = poller.map(tokio::spawn);
        tailer.await;
        if let Some(poller) = poller {
            poller.abort();
        }
    }))
}

/// Streams of the `kubernetes_logs` source: one per container instance.
pub struct KubernetesFactory {
    host: Arc<Resource>,
    node_name: Option<String>,
    multiline: Option<MultilineConfig>,
    max_merged_line_bytes: usize,
    partial_timeout: Duration,
    cache: Arc<MetadataCache>,
    seen_generation: u64,
    fields: MetadataFields,
    /// `kubelet.service_from_labels`.
    service_from_labels: bool,
    slots: HashMap<String, (ContainerLog, Arc<PodSlot>)>,
    /// Pods whose files wait for their metadata, since when.
    waiting: HashMap<String, Instant>,
    parse_failures: Arc<AtomicBool>,
}

/// How long a new pod's logs wait for its metadata (labels, the opt-out
/// annotation) before they are read without it.
const METADATA_WAIT: Duration = Duration::from_secs(10);

// === impl KubernetesFactory ===

impl KubernetesFactory {
    fn resource(&self, log: &ContainerLog) -> (Resource, bool) {
        let mut attributes: Attributes =
            container::resource_attributes(log, self.node_name.as_deref(), &self.host);
        let meta = self.cache.get(&log.uid);
        if let Some(meta) = &meta {
            meta.apply(self.fields, &mut attributes);
        }
        service::apply(
            log,
            meta.as_ref(),
            self.service_from_labels,
            &mut attributes,
        );
        (
            Resource::new(attributes),
            meta.is_some_and(|m| m.excluded()),
        )
    }
}

impl StreamFactory for KubernetesFactory {
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec> {
        let log = path::parse(path)?;
        // Read nothing of a pod before knowing whether it opted out — but
        // never hold its logs back for long: nothing is lost by waiting
        // (the file is read from its start), yet a kubelet that is down
        // must not stop collection.
        let known = self.cache.get(&log.uid).is_some();
        let must_wait = match self.cache.state() {
            CacheState::Starting => true,
            CacheState::Fresh => !known,
            CacheState::Failing | CacheState::Disabled => false,
        };
        if must_wait {
            let since = *self
                .waiting
                .entry(log.uid.clone())
                .or_insert_with(Instant::now);
            if since.elapsed() < METADATA_WAIT {
                self.cache.want_refresh();
                return None;
            }
        }
        self.waiting.remove(&log.uid);
        let (resource, excluded) = self.resource(&log);
        if excluded {
            return None;
        }
        Some(StreamSpec {
            key: log.live_path.display().to_string(),
            resource: Arc::new(resource),
        })
    }

    fn is_waiting(&self, path: &Path) -> bool {
        path::parse(path).is_some_and(|log| self.waiting.contains_key(&log.uid))
    }

    fn handler(&mut self, spec: &StreamSpec, path: &Path) -> Box<dyn LineHandler> {
        let Some(log) = path::parse(path) else {
            // stream_for accepted the path, so it parses; keep a plain
            // handler shape anyway rather than panic.
            let fallback = ContainerLog {
                namespace: String::new(),
                pod: String::new(),
                uid: String::new(),
                container: String::new(),
                restart_count: 0,
                live_path: path.to_owned(),
            };
            return self.container_handler(&fallback, spec);
        };
        self.container_handler(&log, spec)
    }

    fn before_scan(&mut self) {
        forget_stale_waits(&mut self.waiting, Instant::now());
        let generation = self.cache.generation();
        if generation == self.seen_generation {
            return;
        }
        self.seen_generation = generation;
        self.slots
            .retain(|_, (_, slot)| Arc::strong_count(slot) > 1);
        let updates: Vec<(Arc<PodSlot>, Resource, bool)> = self
            .slots
            .values()
            .map(|(log, slot)| {
                let (resource, excluded) = self.resource(log);
                (Arc::clone(slot), resource, excluded)
            })
            .collect();
        for (slot, resource, excluded) in updates {
            slot.update(resource, excluded);
        }
    }
}

impl KubernetesFactory {
    fn container_handler(&mut self, log: &ContainerLog, spec: &StreamSpec) -> Box<dyn LineHandler> {
        let slot = Arc::new(PodSlot::new((*spec.resource).clone(), false));
        self.slots
            .insert(spec.key.clone(), (log.clone(), Arc::clone(&slot)));
        Box::new(ContainerHandler::new(
            log,
            slot,
            self.multiline.as_ref(),
            self.max_merged_line_bytes,
            self.partial_timeout,
            Arc::clone(&self.parse_failures),
        ))
    }
}

/// How long a pod waited for stays known without being asked about: far
/// longer than a scan (`scan_interval_ms`, 5 s by default), at which a
/// pod's files ask again.
const WAIT_FORGOTTEN_AFTER: Duration = Duration::from_secs(600);

/// Forget the pods waited for that nothing asked about for a while: their
/// files went with them (a pod deleted while its logs waited), else each
/// asks at every scan and is let through once `METADATA_WAIT` is over. One
/// asked about again after all waits afresh, which loses nothing.
fn forget_stale_waits(waiting: &mut HashMap<String, Instant>, now: Instant) {
    waiting.retain(|_, since| now.saturating_duration_since(*since) < WAIT_FORGOTTEN_AFTER);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a pod whose files were asked about once, while its
    /// metadata was awaited, and never again (deleted meanwhile) stayed in
    /// the list of pods waited for; on a node with pod churn it grew.
    #[test]
    fn pods_waited_for_and_gone_are_forgotten() {
        let start = Instant::now();
        let mut waiting: HashMap<String, Instant> =
            (0..100).map(|i| (format!("gone-{i}"), start)).collect();
        waiting.insert("new".to_owned(), start + WAIT_FORGOTTEN_AFTER);
        forget_stale_waits(&mut waiting, start + METADATA_WAIT);
        assert_eq!(waiting.len(), 101, "none is stale yet");
        forget_stale_waits(&mut waiting, start + WAIT_FORGOTTEN_AFTER);
        assert_eq!(waiting.into_keys().collect::<Vec<_>>(), ["new"]);
    }
}
