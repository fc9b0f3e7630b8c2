//! The host resource every source starts from.

use crate::event::{Attributes, Resource};

/// The attributes that name the agent as the producer of telemetry: they
/// belong on what the agent itself measures (its own metrics, host
/// metrics, check results), not on the logs of the workloads it ships.
const AGENT_IDENTITY: [&str; 2] = ["service.name", "service.version"];

/// The resource of a workload's logs read on this host: the host's
/// attributes without the agent's service identity, plus `extra` (a
/// source's `resource:` setting).
pub fn workload_resource<'a>(
    host: &Resource,
    extra: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Attributes {
    let mut attributes = host.attributes.clone();
    for key in AGENT_IDENTITY {
        attributes.remove(key);
    }
    for (key, value) in extra {
        attributes.insert(key.clone(), value.clone());
    }
    attributes
}

/// Attributes of this host, after the OpenTelemetry `host.*` and `os.*`
/// semantic conventions. In Kubernetes `host.name` is the node name from
/// the downward API (`NODE_NAME`), which is what dashboards group by; the
/// container's own hostname is the pod's name.
pub fn host_resource() -> Resource {
    let mut attributes = Attributes::new();
    let name = std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    attributes.insert("host.name", name);
    if let Some(id) = machine_id() {
        attributes.insert("host.id", id);
    }
    attributes.insert("host.arch", host_arch());
    attributes.insert("os.type", "linux");
    attributes.insert("service.name", "neurallog-agent");
    attributes.insert("service.version", env!("CARGO_PKG_VERSION"));
    Resource::new(attributes)
}

fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

/// `host.arch` values from the semantic conventions.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}
