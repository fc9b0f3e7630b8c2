//! The source's task: scrape the kubelet every `interval_secs`; when it
//! cannot, read the pods' cgroups instead. Either way the failure is an
//! error metric and a `/status` detail, never the end of the source.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use super::cgroup;
use super::config::PodMetricsConfig;
use super::convert::{Converter, CpuSample, extend, usage_between};
use super::summary::Summary;
use crate::error::Chain;
use crate::event::{
    Ack, Attributes, Event, EventBatch, Metric, MetricValue, Resource, now_unix_nanos,
};
use crate::kubelet::{Kubelet, KubeletError};
use crate::telemetry::events::{
    CollectorFailed, KubeletVerificationDisabled, MetricsCollected, PodMetricsFromCgroups,
};
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the source: the endpoint is `endpoint` (the source's or the
/// top-level `kubelet` block's) or `https://$NODE_NAME:10250`, and the TLS configuration must load.
pub fn build(config: &PodMetricsConfig, cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    let node_name = std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty());
    let connection = config.connection();
    let Some(endpoint) = connection.endpoint_for(node_name.as_deref()) else {
        return Err(BuildError::new(
            "no kubelet endpoint: set `kubelet.endpoint`, or NODE_NAME from the downward API",
        ));
    };
    let kubelet =
        Kubelet::new(&connection.settings(endpoint.clone())).map_err(BuildError::from_error)?;
    if connection.insecure_skip_verify {
        KubeletVerificationDisabled {
            component: &cx.metrics,
            endpoint: &endpoint,
        }
        .emit();
    }
    let task = Task {
        kubelet,
        converter: Converter::new(Arc::clone(&cx.globals.host), config.page_faults),
        config: config.clone(),
        node_name,
        names: HashMap::new(),
        cgroup_cpu: HashMap::new(),
        failing: None,
        report: Arc::default(),
    };
    Ok(Box::pin(task.run(cx)))
}

struct Task {
    kubelet: Kubelet,
    converter: Converter,
    config: PodMetricsConfig,
    node_name: Option<String>,
    /// Pod namespace and name by UID, from the last summary.
    names: HashMap<String, (String, String)>,
    /// Last CPU reading of each pod cgroup, for usage rates.
    cgroup_cpu: HashMap<String, CpuSample>,
    /// The error class of the last failed scrape, while failing.
    failing: Option<&'static str>,
    report: Arc<Mutex<serde_json::Value>>,
}

// === impl Task ===

impl Task {
    async fn run(mut self, mut cx: SourceContext) {
        let report = Arc::clone(&self.report);
        cx.status
            .set_reporter(move || report.lock().map(|r| r.clone()).unwrap_or_default());
        self.set_report(json!({ "endpoint": self.kubelet.endpoint(), "source": "none yet" }));
        let mut ticker =
            tokio::time::interval(std::time::Duration::from_secs(self.config.interval_secs));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = cx.shutdown.cancelled() => return,
            }
            let started = Instant::now();
            let scraped = tokio::select! {
                scraped = self.kubelet.summary() => scraped,
                () = cx.shutdown.cancelled() => return,
            };
            let now = now_unix_nanos();
            let metrics = match scraped.and_then(|body| {
                serde_json::from_slice::<Summary>(&body)
                    .map_err(|e| KubeletError::BadResponse(e.to_string()))
            }) {
                Ok(summary) => self.collect_summary(&summary, now),
                Err(error) => self.after_failure(&cx, error, now),
            };
            MetricsCollected {
                component: &cx.metrics,
                points: metrics.len(),
                duration: started.elapsed(),
            }
            .emit();
            let count = metrics.len();
            let events: Vec<Event> = metrics.into_iter().map(Event::Metric).collect();
            cx.metrics.received(count, 0);
            cx.out.send(EventBatch::new(events, Ack::none())).await;
            cx.metrics.sent(count, 0);
        }
    }

    fn collect_summary(&mut self, summary: &Summary, now: u64) -> Vec<Metric> {
        self.failing = None;
        self.names = summary
            .pods
            .iter()
            .map(|p| {
                let r = &p.pod_ref;
                (r.uid.clone(), (r.namespace.clone(), r.name.clone()))
            })
            .collect();
        if self.node_name.is_none() && !summary.node.node_name.is_empty() {
            self.node_name = Some(summary.node.node_name.clone());
        }
        self.cgroup_cpu.clear();
        let metrics = self.converter.convert(summary, now);
        self.set_report(json!({
            "endpoint": self.kubelet.endpoint(),
            "source": "kubelet",
            "pods": summary.pods.len(),
            "points": metrics.len(),
        }));
        metrics
    }

    fn after_failure(&mut self, cx: &SourceContext, error: KubeletError, now: u64) -> Vec<Metric> {
        let repeated = self.failing == Some(error.error_type());
        self.failing = Some(error.error_type());
        let message = Chain(&error).to_string();
        CollectorFailed {
            component: &cx.metrics,
            collector: "kubelet",
            error_type: error.error_type(),
            error: Chain(&error),
            repeated,
        }
        .emit();
        let mut metrics = Vec::new();
        let mut pods = 0;
        if self.config.cgroup_fallback {
            let root = self.config.sys_path.join("fs/cgroup");
            let found = cgroup::pods(&root);
            pods = found.len();
            metrics = self.collect_cgroups(&found, now);
            if pods > 0 {
                PodMetricsFromCgroups {
                    component: &cx.metrics,
                    pods,
                    repeated,
                }
                .emit();
            }
        }
        self.set_report(json!({
            "endpoint": self.kubelet.endpoint(),
            "source": if pods > 0 { "cgroup" } else { "none" },
            "last_error": message,
            "pods": pods,
            "points": metrics.len(),
        }));
        metrics
    }

    fn collect_cgroups(&mut self, pods: &[cgroup::PodCgroup], now: u64) -> Vec<Metric> {
        refresh_names(&mut self.names, pods, &self.config.pod_logs_dir);
        let node = self.node_name.clone().unwrap_or_default();
        let mut out = Vec::with_capacity(pods.len() * 8);
        let mut seen = HashMap::new();
        for pod in pods {
            let usage = cgroup::usage(&pod.path);
            let (namespace, name) = self.names.get(&pod.uid).cloned().unwrap_or_default();
            let resource = extend(
                &self.converter_host(),
                &[
                    ("k8s.node.name", &node),
                    ("k8s.namespace.name", &namespace),
                    ("k8s.pod.name", &name),
                    ("k8s.pod.uid", &pod.uid),
                ],
            );
            let point = |name: &'static str,
                         unit: &'static str,
                         description: &'static str,
                         value: MetricValue| Metric {
                name: name.into(),
                description: description.into(),
                unit: unit.into(),
                value,
                attributes: Attributes::new(),
                time_unix_nano: now,
                start_time_unix_nano: 0,
                resource: Arc::clone(&resource),
            };
            if let Some(usec) = usage.cpu_usage_usec {
                let sample = CpuSample {
                    time_unix_nano: now,
                    usage_nanos: usec.saturating_mul(1000),
                };
                out.push(point(
                    "k8s.pod.cpu.time",
                    "s",
                    "CPU time consumed since start, over all cores.",
                    MetricValue::Sum {
                        value: usec as f64 / 1e6,
                        monotonic: true,
                    },
                ));
                if let Some(cores) = self
                    .cgroup_cpu
                    .get(&pod.uid)
                    .and_then(|before| usage_between(before, &sample))
                {
                    out.push(point(
                        "k8s.pod.cpu.usage",
                        "{cpu}",
                        "Cores in use, from the CPU time consumed between two scrapes.",
                        MetricValue::Gauge(cores),
                    ));
                }
                seen.insert(pod.uid.clone(), sample);
            }
            for (metric, value, description) in [
                (
                    "k8s.pod.memory.usage",
                    usage.memory_bytes,
                    "Memory in use, page cache included.",
                ),
                (
                    "k8s.pod.memory.working_set",
                    usage.working_set_bytes(),
                    "Memory in use minus inactive file cache, as eviction sees it.",
                ),
                (
                    "k8s.pod.memory.rss",
                    usage.rss_bytes,
                    "Anonymous and swap cache memory.",
                ),
            ] {
                if let Some(value) = value {
                    out.push(point(
                        metric,
                        "By",
                        description,
                        MetricValue::Gauge(value as f64),
                    ));
                }
            }
            if self.config.page_faults {
                for (metric, value, description) in [
                    (
                        "k8s.pod.memory.page_faults",
                        usage.page_faults,
                        "Page faults since start.",
                    ),
                    (
                        "k8s.pod.memory.major_page_faults",
                        usage.major_page_faults,
                        "Major page faults since start.",
                    ),
                ] {
                    if let Some(value) = value {
                        out.push(point(
                            metric,
                            "{fault}",
                            description,
                            MetricValue::Sum {
                                value: value as f64,
                                monotonic: true,
                            },
                        ));
                    }
                }
            }
        }
        self.cgroup_cpu = seen;
        out
    }

    fn converter_host(&self) -> Arc<Resource> {
        self.converter.host()
    }

    fn set_report(&self, value: serde_json::Value) {
        if let Ok(mut report) = self.report.lock() {
            *report = value;
        }
    }
}

/// Learn the names of pods in `pods` that `names` does not know from their
/// log directories, and forget the pods that are gone: while the kubelet
/// fails, pods come and go with nothing else to prune `names`.
fn refresh_names(
    names: &mut HashMap<String, (String, String)>,
    pods: &[cgroup::PodCgroup],
    pod_logs_dir: &std::path::Path,
) {
    if pods.iter().all(|p| names.contains_key(&p.uid)) {
        return;
    }
    names.extend(cgroup::names_from_log_dirs(pod_logs_dir));
    let running: HashSet<&str> = pods.iter().map(|p| p.uid.as_str()).collect();
    names.retain(|uid, _| running.contains(uid.as_str()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: with the kubelet failing, each new pod added the names
    /// of every pod directory to the map and none was ever taken out.
    #[test]
    fn names_of_pods_that_are_gone_are_forgotten() {
        let logs = tempfile::tempdir().unwrap();
        let mut names = HashMap::new();
        for generation in 0..50 {
            let uid = format!("0000000{generation:02}-aaaa-bbbb-cccc-dddddddddddd");
            let dir = logs.path().join(format!("default_web-{generation}_{uid}"));
            std::fs::create_dir(&dir).unwrap();
            let pods = [cgroup::PodCgroup {
                uid: uid.clone(),
                path: std::path::PathBuf::from("/nonexistent"),
            }];
            refresh_names(&mut names, &pods, logs.path());
            assert_eq!(
                names.get(&uid),
                Some(&("default".to_owned(), format!("web-{generation}")))
            );
            assert_eq!(names.len(), 1, "only the running pod is named");
            std::fs::remove_dir(&dir).unwrap();
        }
    }
}
