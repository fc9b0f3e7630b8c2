//! A `/stats/summary` document to metric points, named as the
//! OpenTelemetry Collector's kubeletstats receiver names them
//! (`k8s.node.*`, `k8s.pod.*`, `container.*`, `k8s.volume.*`), on
//! resources carrying `k8s.node.name`, `k8s.namespace.name`,
//! `k8s.pod.name`, `k8s.pod.uid`, `k8s.container.name` and
//! `k8s.volume.name`.
//!
//! Two departures from the receiver, for correctness: page faults are
//! cumulative counters (unit `{fault}`), and `*.cpu.usage` comes from the
//! CPU time consumed between two consecutive scrapes; the kubelet's own
//! `usageNanoCores` is used only when there is no earlier sample.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{AnyValue, Attributes, Metric, MetricValue, Resource};
use crate::time::parse_rfc3339_nanos;

use super::summary::{CpuStats, FsStats, MemoryStats, NetworkStats, Summary};

/// Turns summaries into points; remembers CPU samples for usage rates.
#[derive(Debug)]
pub struct Converter {
    host: Arc<Resource>,
    page_faults: bool,
    previous: HashMap<String, CpuSample>,
}

/// CPU time of one entity at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSample {
    /// When, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// CPU time consumed since start, nanoseconds.
    pub usage_nanos: u64,
}

/// The points of one scrape and the entities they describe.
struct Emit<'a> {
    out: &'a mut Vec<Metric>,
    resource: Arc<Resource>,
    prefix: &'static str,
    now: u64,
    start: u64,
}

// === impl Converter ===

impl Converter {
    /// A converter whose resources extend `host`.
    pub fn new(host: Arc<Resource>, page_faults: bool) -> Self {
        Converter {
            host,
            page_faults,
            previous: HashMap::new(),
        }
    }

    /// The resource every point extends.
    pub fn host(&self) -> Arc<Resource> {
        Arc::clone(&self.host)
    }

    /// The points of `summary`, observed at `now` (nanoseconds since the
    /// Unix epoch).
    pub fn convert(&mut self, summary: &Summary, now: u64) -> Vec<Metric> {
        let mut out = Vec::with_capacity(64 + summary.pods.len() * 48);
        let mut seen: HashMap<String, CpuSample> = HashMap::new();
        let node = &summary.node;
        let node_resource = self.resource(&[("k8s.node.name", &node.node_name)]);
        let mut emit = Emit::new(
            &mut out,
            Arc::clone(&node_resource),
            "k8s.node",
            now,
            &node.start_time,
        );
        self.cpu(
            &mut emit,
            &format!("node/{}", node.node_name),
            node.cpu.as_ref(),
            &mut seen,
        );
        emit.memory(node.memory.as_ref(), self.page_faults);
        emit.network(node.network.as_ref());
        emit.filesystem(node.fs.as_ref(), "filesystem");

        for pod in &summary.pods {
            let r = &pod.pod_ref;
            let pod_attrs = [
                ("k8s.node.name", node.node_name.as_str()),
                ("k8s.namespace.name", r.namespace.as_str()),
                ("k8s.pod.name", r.name.as_str()),
                ("k8s.pod.uid", r.uid.as_str()),
            ];
            let pod_resource = self.resource(&pod_attrs);
            let mut emit = Emit::new(
                &mut out,
                Arc::clone(&pod_resource),
                "k8s.pod",
                now,
                &pod.start_time,
            );
            self.cpu(
                &mut emit,
                &format!("pod/{}", r.uid),
                pod.cpu.as_ref(),
                &mut seen,
            );
            emit.memory(pod.memory.as_ref(), self.page_faults);
            emit.network(pod.network.as_ref());
            emit.filesystem(pod.ephemeral_storage.as_ref(), "filesystem");

            for container in &pod.containers {
                let resource = extend(&pod_resource, &[("k8s.container.name", &container.name)]);
                let mut emit = Emit::new(
                    &mut out,
                    Arc::clone(&resource),
                    "container",
                    now,
                    &container.start_time,
                );
                let key = format!("container/{}/{}", r.uid, container.name);
                self.cpu(&mut emit, &key, container.cpu.as_ref(), &mut seen);
                emit.memory(container.memory.as_ref(), self.page_faults);
                emit.filesystem(container.rootfs.as_ref(), "filesystem");
                emit.prefix = "k8s.container";
                for (fs_type, fs) in [("rootfs", &container.rootfs), ("logs", &container.logs)] {
                    if let Some(used) = fs.as_ref().and_then(|fs| fs.used_bytes) {
                        emit.point(
                            "ephemeral_storage.usage",
                            "By",
                            "Ephemeral storage the container uses, by part (writable layer, logs).",
                            MetricValue::Sum {
                                value: used as f64,
                                monotonic: false,
                            },
                            Attributes::new().with("fs.type", fs_type),
                        );
                    }
                }
            }
            for volume in &pod.volume {
                let mut attrs: Vec<(&str, &str)> = vec![("k8s.volume.name", volume.name.as_str())];
                if let Some(pvc) = &volume.pvc_ref {
                    attrs.push(("k8s.persistentvolumeclaim.name", pvc.name.as_str()));
                }
                let resource = extend(&pod_resource, &attrs);
                let mut emit = Emit::new(&mut out, resource, "k8s.volume", now, &None);
                emit.volume(&volume.fs);
            }
        }
        self.previous = seen;
        out
    }

    fn resource(&self, attrs: &[(&'static str, &str)]) -> Arc<Resource> {
        extend(&self.host, attrs)
    }

    fn cpu(
        &self,
        emit: &mut Emit<'_>,
        key: &str,
        cpu: Option<&CpuStats>,
        seen: &mut HashMap<String, CpuSample>,
    ) {
        let Some(cpu) = cpu else { return };
        if let Some(nanos) = cpu.usage_core_nano_seconds {
            emit.point(
                "cpu.time",
                "s",
                "CPU time consumed since start, over all cores.",
                MetricValue::Sum {
                    value: nanos as f64 / 1e9,
                    monotonic: true,
                },
                Attributes::new(),
            );
        }
        let sample = cpu
            .usage_core_nano_seconds
            .zip(
                cpu.time
                    .as_deref()
                    .and_then(|t| parse_rfc3339_nanos(t.as_bytes())),
            )
            .map(|(usage_nanos, time_unix_nano)| CpuSample {
                time_unix_nano,
                usage_nanos,
            });
        let rate = sample
            .zip(self.previous.get(key))
            .and_then(|(now, before)| usage_between(before, &now));
        let usage = rate.or(cpu.usage_nano_cores.map(|n| n as f64 / 1e9));
        if let Some(usage) = usage {
            emit.point(
                "cpu.usage",
                "{cpu}",
                "Cores in use, from the CPU time consumed between two scrapes.",
                MetricValue::Gauge(usage),
                Attributes::new(),
            );
        }
        if let Some(sample) = sample {
            seen.insert(key.to_owned(), sample);
        }
    }
}

/// Cores in use between two samples: CPU time consumed over wall time.
/// `None` when no time passed (the kubelet served a cached sample) or the
/// counter went back (the entity restarted).
pub fn usage_between(before: &CpuSample, after: &CpuSample) -> Option<f64> {
    let elapsed = after.time_unix_nano.checked_sub(before.time_unix_nano)?;
    let used = after.usage_nanos.checked_sub(before.usage_nanos)?;
    (elapsed > 0).then(|| used as f64 / elapsed as f64)
}

/// `base` with `attrs` added.
pub fn extend(base: &Arc<Resource>, attrs: &[(&'static str, &str)]) -> Arc<Resource> {
    let mut attributes = base.attributes.clone();
    for (key, value) in attrs {
        if !value.is_empty() {
            attributes.insert(*key, (*value).to_owned());
        }
    }
    Arc::new(Resource::new(attributes))
}

// === impl Emit ===

impl<'a> Emit<'a> {
    fn new(
        out: &'a mut Vec<Metric>,
        resource: Arc<Resource>,
        prefix: &'static str,
        now: u64,
        start: &Option<String>,
    ) -> Self {
        let start = start
            .as_deref()
            .and_then(|t| parse_rfc3339_nanos(t.as_bytes()))
            .unwrap_or(0);
        Emit {
            out,
            resource,
            prefix,
            now,
            start,
        }
    }

    fn point(
        &mut self,
        suffix: &str,
        unit: &'static str,
        description: &'static str,
        value: MetricValue,
        attributes: Attributes,
    ) {
        let start = match value {
            MetricValue::Sum { .. } => self.start,
            _ => 0,
        };
        self.out.push(Metric {
            name: Cow::Owned(format!("{}.{suffix}", self.prefix)),
            description: Cow::Borrowed(description),
            unit: Cow::Borrowed(unit),
            value,
            attributes,
            time_unix_nano: self.now,
            start_time_unix_nano: start,
            resource: Arc::clone(&self.resource),
        });
    }

    fn gauge(
        &mut self,
        suffix: &str,
        unit: &'static str,
        description: &'static str,
        value: Option<u64>,
    ) {
        if let Some(value) = value {
            self.point(
                suffix,
                unit,
                description,
                MetricValue::Gauge(value as f64),
                Attributes::new(),
            );
        }
    }

    fn memory(&mut self, memory: Option<&MemoryStats>, page_faults: bool) {
        let Some(m) = memory else { return };
        self.gauge(
            "memory.available",
            "By",
            "Memory available before the limit or the node's capacity.",
            m.available_bytes,
        );
        self.gauge(
            "memory.usage",
            "By",
            "Memory in use, page cache included.",
            m.usage_bytes,
        );
        self.gauge(
            "memory.working_set",
            "By",
            "Memory in use minus inactive file cache, as eviction sees it.",
            m.working_set_bytes,
        );
        self.gauge(
            "memory.rss",
            "By",
            "Anonymous and swap cache memory.",
            m.rss_bytes,
        );
        if page_faults {
            for (suffix, value, description) in [
                (
                    "memory.page_faults",
                    m.page_faults,
                    "Page faults since start.",
                ),
                (
                    "memory.major_page_faults",
                    m.major_page_faults,
                    "Major page faults since start.",
                ),
            ] {
                if let Some(value) = value {
                    self.point(
                        suffix,
                        "{fault}",
                        description,
                        MetricValue::Sum {
                            value: value as f64,
                            monotonic: true,
                        },
                        Attributes::new(),
                    );
                }
            }
        }
    }

    fn network(&mut self, network: Option<&NetworkStats>) {
        let Some(network) = network else { return };
        let interfaces = if network.interfaces.is_empty() {
            std::slice::from_ref(&network.default)
        } else {
            &network.interfaces[..]
        };
        for interface in interfaces {
            let name = AnyValue::from(interface.name.clone());
            for (suffix, unit, description, rx, tx) in [
                (
                    "network.io",
                    "By",
                    "Bytes received and transmitted.",
                    interface.rx_bytes,
                    interface.tx_bytes,
                ),
                (
                    "network.errors",
                    "{error}",
                    "Receive and transmit errors.",
                    interface.rx_errors,
                    interface.tx_errors,
                ),
            ] {
                for (direction, value) in [("receive", rx), ("transmit", tx)] {
                    if let Some(value) = value {
                        let attributes = Attributes::new()
                            .with("interface", name.clone())
                            .with("direction", direction);
                        self.point(
                            suffix,
                            unit,
                            description,
                            MetricValue::Sum {
                                value: value as f64,
                                monotonic: true,
                            },
                            attributes,
                        );
                    }
                }
            }
        }
    }

    fn filesystem(&mut self, fs: Option<&FsStats>, what: &str) {
        let Some(fs) = fs else { return };
        let name = |part: &str| format!("{what}.{part}");
        self.gauge(
            &name("available"),
            "By",
            "Filesystem bytes available.",
            fs.available_bytes,
        );
        self.gauge(
            &name("capacity"),
            "By",
            "Filesystem capacity in bytes.",
            fs.capacity_bytes,
        );
        self.gauge(
            &name("usage"),
            "By",
            "Filesystem bytes used.",
            fs.used_bytes,
        );
    }

    fn volume(&mut self, fs: &FsStats) {
        self.gauge(
            "available",
            "By",
            "Bytes available in the volume.",
            fs.available_bytes,
        );
        self.gauge(
            "capacity",
            "By",
            "Capacity of the volume in bytes.",
            fs.capacity_bytes,
        );
        self.gauge(
            "inodes",
            "{inode}",
            "Inodes of the volume's filesystem.",
            fs.inodes,
        );
        self.gauge(
            "inodes.free",
            "{inode}",
            "Free inodes of the volume's filesystem.",
            fs.inodes_free,
        );
        self.gauge(
            "inodes.used",
            "{inode}",
            "Inodes the volume uses.",
            fs.inodes_used,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_cpu_time_over_wall_time_and_refuses_stalls_and_restarts() {
        let before = CpuSample {
            time_unix_nano: 1_000_000_000,
            usage_nanos: 5_000_000_000,
        };
        let after = CpuSample {
            time_unix_nano: 3_000_000_000,
            usage_nanos: 6_000_000_000,
        };
        assert_eq!(usage_between(&before, &after), Some(0.5));
        assert_eq!(usage_between(&after, &after), None);
        assert_eq!(usage_between(&after, &before), None);
    }
}
