//! Sources: where events come from.
//!
//! A source runs until its `shutdown` token is cancelled, sends batches
//! through its [`Fanout`](crate::topology::Fanout), and — if it cares about
//! delivery — stamps them with acknowledgements and waits for them.

pub mod file;
pub mod host_metrics;
pub mod internal_metrics;
pub mod kubernetes_logs;
pub mod pod_metrics;
mod resource;

pub use resource::{host_resource, workload_resource};

use crate::config::SourceConfig;
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the source `config` describes.
pub fn build(config: &SourceConfig, cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    match config {
        SourceConfig::File(c) => file::build(c, cx),
        SourceConfig::InternalMetrics(c) => internal_metrics::build(c, cx),
        SourceConfig::KubernetesLogs(c) => kubernetes_logs::build(c, cx),
        SourceConfig::HostMetrics(c) => host_metrics::build(c, cx),
        SourceConfig::PodMetrics(c) => pod_metrics::build(c, cx),
    }
}
