//! The `kubernetes_logs` source: container logs under `/var/log/pods`.
//!
//! The tailing engine is the `file` source's (same identity, checkpoints,
//! rotation handling and budgets); this module adds what containers need:
//! paths mapped to `k8s.*` attributes (`path`), CRI and docker json-file
//! lines parsed (`format`), partial lines joined per stdout/stderr, also
//! across a rotation (`container`), and pod metadata (`metadata`).

mod config;
mod container;
mod format;
mod metadata;
mod path;

pub use config::KubernetesLogsConfig;
pub use container::ContainerHandler;
pub use format::{ContainerLine, IoStream};
pub use metadata::{
    EXCLUDE_ANNOTATION, MetadataCache, MetadataFields, PodMeta, PodSlot, parse_pod_list,
};
pub use path::{ContainerLog, parse as parse_path};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    let discovery =
        Discovery::new(&[include], &config.exclude).map_err(|e| BuildError::new(e.to_string()))?;
    let node_name = config
        .node_name
        .clone()
        .or_else(|| std::env::var("NODE_NAME").ok())
        .filter(|n| !n.is_empty());
    let factory = KubernetesFactory {
        host: Arc::clone(&cx.globals.host),
        node_name,
        multiline: config.multiline.clone(),
        max_merged_line_bytes: config.max_merged_line_bytes,
        partial_timeout: Duration::from_millis(config.tail.unterminated_timeout_ms),
        cache: Arc::new(MetadataCache::default()),
        seen_generation: 0,
        fields: MetadataFields {
            labels: true,
            annotations: false,
            owner: true,
        },
        slots: HashMap::new(),
        parse_failures: Arc::new(AtomicBool::new(false)),
    };
    spawn_tailer(config.tail.clone(), discovery, Box::new(factory), cx)
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
    slots: HashMap<String, (ContainerLog, Arc<PodSlot>)>,
    parse_failures: Arc<AtomicBool>,
}

// === impl KubernetesFactory ===

impl KubernetesFactory {
    fn resource(&self, log: &ContainerLog) -> (Resource, bool) {
        let mut attributes: Attributes =
            container::resource_attributes(log, self.node_name.as_deref(), &self.host);
        let meta = self.cache.get(&log.uid);
        if let Some(meta) = &meta {
            meta.apply(self.fields, &mut attributes);
        }
        (
            Resource::new(attributes),
            meta.is_some_and(|m| m.excluded()),
        )
    }
}

impl StreamFactory for KubernetesFactory {
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec> {
        let log = path::parse(path)?;
        let (resource, excluded) = self.resource(&log);
        if excluded {
            return None;
        }
        Some(StreamSpec {
            key: log.live_path.display().to_string(),
            resource: Arc::new(resource),
        })
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
