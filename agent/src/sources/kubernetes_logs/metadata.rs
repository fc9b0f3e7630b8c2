//! Pod metadata from the kubelet's `/pods` on this node: labels,
//! annotations, the owning workload, and the opt-out annotation.
//!
//! Only the node's own kubelet is asked — never a cluster-wide watch — so
//! the agent needs `get` on `nodes/pods` (kubelets from 1.33, fine-grained
//! authorization) or `nodes/proxy` (older kubelets), and nothing more. The list is
//! cached and refreshed; while the kubelet cannot be reached, records carry
//! what the log path says (namespace, pod, uid, container) and nothing is
//! held back.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use std::time::Duration;

use super::config::KubeletMetadataConfig;
use crate::error::Chain;
use crate::event::{Attributes, Resource};
use crate::kubelet::Kubelet;
use crate::sync::lock;
use crate::telemetry::events::{FileSourceMetrics, KubeletMetadataFailed};
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Fetches asked for by new pods are at least this far apart.
const MIN_REFETCH: Duration = Duration::from_secs(1);

/// The annotation that excludes a pod's logs.
pub const EXCLUDE_ANNOTATION: &str = "neurallog.io/exclude";

/// What is known about one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodMeta {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// The controlling owner: kind and name.
    pub owner: Option<(String, String)>,
}

/// Which metadata becomes attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataFields {
    /// `k8s.pod.label.<key>`.
    pub labels: bool,
    /// `k8s.pod.annotation.<key>`.
    pub annotations: bool,
    /// `k8s.deployment.name`, `k8s.replicaset.name`, `k8s.daemonset.name`,
    /// `k8s.statefulset.name`, `k8s.job.name`.
    pub owner: bool,
}

/// Pods by UID, shared between the poller and the source's thread.
#[derive(Debug, Default)]
pub struct MetadataCache {
    generation: AtomicU64,
    pods: Mutex<HashMap<String, PodMeta>>,
    state: std::sync::atomic::AtomicU8,
    wanted: tokio::sync::Notify,
}

/// Whether the cache can be trusted to know every pod of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// The first fetch has not finished yet.
    Starting,
    /// The last fetch succeeded.
    Fresh,
    /// The last fetch failed.
    Failing,
    /// Metadata is off.
    Disabled,
}

/// The resource of one container stream, replaced when its pod's
/// metadata arrives or changes.
#[derive(Debug)]
pub struct PodSlot {
    generation: AtomicU64,
    resource: Mutex<Arc<Resource>>,
    excluded: AtomicBool,
}

#[derive(Deserialize)]
struct PodList {
    #[serde(default)]
    items: Vec<Pod>,
}

#[derive(Deserialize)]
struct Pod {
    metadata: ObjectMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectMeta {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    owner_references: Vec<OwnerReference>,
}

#[derive(Deserialize)]
struct OwnerReference {
    kind: String,
    name: String,
    #[serde(default)]
    controller: bool,
}

// === impl PodMeta ===

impl PodMeta {
    /// Whether the pod opted out of log collection.
    pub fn excluded(&self) -> bool {
        self.annotations
            .get(EXCLUDE_ANNOTATION)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The name of the workload that owns the pod: its Deployment (told
    /// by the ReplicaSet's `pod-template-hash`), ReplicaSet, StatefulSet,
    /// DaemonSet or Job.
    pub fn workload(&self) -> Option<&str> {
        let (kind, name) = self.owner.as_ref()?;
        match kind.as_str() {
            "ReplicaSet" => Some(
                self.labels
                    .get("pod-template-hash")
                    .and_then(|hash| name.strip_suffix(hash.as_str())?.strip_suffix('-'))
                    .unwrap_or(name),
            ),
            "StatefulSet" | "DaemonSet" | "Job" => Some(name),
            _ => None,
        }
    }

    /// Add this pod's attributes to `attributes`.
    pub fn apply(&self, fields: MetadataFields, attributes: &mut Attributes) {
        if fields.labels {
            for (key, value) in &self.labels {
                attributes.insert(format!("k8s.pod.label.{key}"), value.clone());
            }
        }
        if fields.annotations {
            for (key, value) in &self.annotations {
                attributes.insert(format!("k8s.pod.annotation.{key}"), value.clone());
            }
        }
        if fields.owner
            && let Some((kind, name)) = &self.owner
        {
            match kind.as_str() {
                "ReplicaSet" => {
                    attributes.insert("k8s.replicaset.name", name.clone());
                    // A Deployment names its ReplicaSets `<deployment>-<pod-template-hash>`.
                    if let Some(hash) = self.labels.get("pod-template-hash")
                        && let Some(deployment) = name
                            .strip_suffix(hash.as_str())
                            .and_then(|n| n.strip_suffix('-'))
                    {
                        attributes.insert("k8s.deployment.name", deployment.to_owned());
                    }
                }
                "DaemonSet" => attributes.insert("k8s.daemonset.name", name.clone()),
                "StatefulSet" => attributes.insert("k8s.statefulset.name", name.clone()),
                "Job" => attributes.insert("k8s.job.name", name.clone()),
                _ => {}
            }
        }
    }
}

/// Parse the kubelet's `/pods` response (a `PodList`).
pub fn parse_pod_list(body: &[u8]) -> Result<HashMap<String, PodMeta>, serde_json::Error> {
    let list: PodList = serde_json::from_slice(body)?;
    Ok(list
        .items
        .into_iter()
        .filter(|pod| !pod.metadata.uid.is_empty())
        .map(|pod| {
            let meta = pod.metadata;
            let owner = meta
                .owner_references
                .into_iter()
                .find(|o| o.controller)
                .map(|o| (o.kind, o.name));
            (
                meta.uid,
                PodMeta {
                    labels: meta.labels,
                    annotations: meta.annotations,
                    owner,
                },
            )
        })
        .collect())
}

// === impl MetadataCache ===

impl MetadataCache {
    /// Replace the pod list.
    pub fn replace(&self, pods: HashMap<String, PodMeta>) {
        let mut current = lock(&self.pods);
        if *current != pods {
            *current = pods;
            self.generation.fetch_add(1, Ordering::Release);
        }
        drop(current);
        self.set_state(CacheState::Fresh);
    }

    /// Record the cache's state.
    pub fn set_state(&self, state: CacheState) {
        let code = match state {
            CacheState::Starting => 0,
            CacheState::Fresh => 1,
            CacheState::Failing => 2,
            CacheState::Disabled => 3,
        };
        self.state.store(code, Ordering::Release);
    }

    /// The cache's state.
    pub fn state(&self) -> CacheState {
        match self.state.load(Ordering::Acquire) {
            0 => CacheState::Starting,
            1 => CacheState::Fresh,
            2 => CacheState::Failing,
            _ => CacheState::Disabled,
        }
    }

    /// Ask the poller for a fetch now (a pod it does not know appeared).
    pub fn want_refresh(&self) {
        self.wanted.notify_one();
    }

    /// Changes whenever the list changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The pod with `uid`, if known.
    pub fn get(&self, uid: &str) -> Option<PodMeta> {
        lock(&self.pods).get(uid).cloned()
    }
}

// === impl PodSlot ===

impl PodSlot {
    /// A slot starting with `resource`.
    pub fn new(resource: Resource, excluded: bool) -> Self {
        PodSlot {
            generation: AtomicU64::new(0),
            resource: Mutex::new(Arc::new(resource)),
            excluded: AtomicBool::new(excluded),
        }
    }

    /// The current resource and its generation.
    pub fn resource(&self) -> (Arc<Resource>, u64) {
        let resource = Arc::clone(&lock(&self.resource));
        (resource, self.generation.load(Ordering::Acquire))
    }

    /// Changes whenever the resource changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the pod opted out.
    pub fn excluded(&self) -> bool {
        self.excluded.load(Ordering::Relaxed)
    }

    /// Replace the resource (and the opt-out) if it changed.
    pub fn update(&self, resource: Resource, excluded: bool) {
        self.excluded.store(excluded, Ordering::Relaxed);
        let mut current = lock(&self.resource);
        if **current != resource {
            *current = Arc::new(resource);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }
}

/// The task that keeps `cache` filled from the kubelet's `/pods`, or
/// `None` when metadata is off or no kubelet can be named.
pub fn poller(
    config: &KubeletMetadataConfig,
    node_name: Option<&str>,
    cache: Arc<MetadataCache>,
    cx: &SourceContext,
) -> Result<Option<BoxedComponent>, BuildError> {
    if !config.enabled {
        cache.set_state(CacheState::Disabled);
        return Ok(None);
    }
    let connection = config.connection();
    let Some(endpoint) = connection.endpoint_for(node_name) else {
        tracing::warn!(component_id = %cx.id, "No kubelet endpoint and no NODE_NAME: pod metadata is off.");
        cache.set_state(CacheState::Disabled);
        return Ok(None);
    };
    if connection.insecure_skip_verify {
        tracing::warn!(component_id = %cx.id, %endpoint, "kubelet.insecure_skip_verify is set: the kubelet's certificate is not verified.");
    }
    let kubelet = Kubelet::new(&connection.settings(endpoint))
        .map_err(|e| BuildError::caused("kubelet", e))?;
    let metrics = FileSourceMetrics::new(cx.metrics.clone());
    let refresh = Duration::from_secs(config.refresh_secs);
    let shutdown = cx.shutdown.clone();
    Ok(Some(Box::pin(async move {
        let mut failing = false;
        loop {
            let fetched = kubelet.pods().await.and_then(|body| {
                parse_pod_list(&body)
                    .map_err(|e| crate::kubelet::KubeletError::BadResponse(e.to_string()))
            });
            match fetched {
                Ok(pods) => {
                    if failing {
                        tracing::info!(component_id = %metrics.component.id(), "Pod metadata from the kubelet again.");
                    }
                    failing = false;
                    cache.replace(pods);
                }
                Err(error) => {
                    KubeletMetadataFailed {
                        metrics: &metrics,
                        error: Chain(&error),
                        first: !failing,
                    }
                    .emit();
                    failing = true;
                    cache.set_state(CacheState::Failing);
                }
            }
            let fetched_at = tokio::time::Instant::now();
            tokio::select! {
                () = tokio::time::sleep(refresh) => {}
                // A new pod: fetch sooner, but not more than once a second.
                () = cache.wanted.notified() => {
                    tokio::time::sleep_until(fetched_at + MIN_REFETCH).await;
                }
                () = shutdown.cancelled() => return,
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/kubelet")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn parses_recorded_pod_lists_of_several_versions() {
        for name in [
            "k8s-1.31_pods.json",
            "k8s-1.35_pods.json",
            "otel-minikube_pods.json",
        ] {
            let pods = parse_pod_list(&fixture(name)).unwrap();
            assert!(!pods.is_empty(), "{name}");
        }
        let pods = parse_pod_list(&fixture("k8s-1.35_pods.json")).unwrap();
        let hpa = &pods["3ea3ef66-5f89-43b7-b88b-6ee26f5b18a4"];
        let mut attributes = Attributes::new();
        hpa.apply(
            MetadataFields {
                labels: true,
                annotations: false,
                owner: true,
            },
            &mut attributes,
        );
        assert_eq!(
            attributes.get("k8s.pod.label.app").and_then(|v| v.as_str()),
            Some("hpa")
        );
        assert_eq!(
            attributes
                .get("k8s.replicaset.name")
                .and_then(|v| v.as_str()),
            Some("e2e-hpa-6cd8d99884")
        );
        assert_eq!(
            attributes
                .get("k8s.deployment.name")
                .and_then(|v| v.as_str()),
            Some("e2e-hpa")
        );
        assert!(!hpa.excluded());
    }

    #[test]
    fn exclusion_annotation() {
        let mut meta = PodMeta::default();
        meta.annotations
            .insert(EXCLUDE_ANNOTATION.to_owned(), "True".to_owned());
        assert!(meta.excluded());
        meta.annotations
            .insert(EXCLUDE_ANNOTATION.to_owned(), "no".to_owned());
        assert!(!meta.excluded());
    }
}
