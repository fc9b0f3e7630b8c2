//! The kubelet's JSON: `/pods` (`kubernetes_logs` metadata) and
//! `/stats/summary` (`pod_metrics`).
//!
//! Any bytes as either document: an error or a result, never a panic. A
//! pod list gives each pod's attributes; a summary, converted twice (the
//! second scrape derives CPU rates from the first), gives points whose
//! values are finite and whose names are the source's own.

use std::sync::Arc;

use crate::event::{Attributes, MetricValue, Resource};
use crate::sources::kubernetes_logs::{MetadataFields, parse_pod_list};
use crate::sources::pod_metrics::convert::Converter;
use crate::sources::pod_metrics::summary::Summary;

/// Run one input: the same bytes as a pod list and as a summary.
pub fn run(data: &[u8]) {
    if let Ok(pods) = parse_pod_list(data) {
        let fields = MetadataFields {
            labels: true,
            annotations: true,
            owner: true,
        };
        for (uid, meta) in &pods {
            assert!(!uid.is_empty(), "pods without a uid are left out");
            let mut attributes = Attributes::new();
            meta.apply(fields, &mut attributes);
            let _ = meta.excluded();
        }
    }

    if let Ok(summary) = serde_json::from_slice::<Summary>(data) {
        let mut converter = Converter::new(Arc::new(Resource::default()), true);
        let now = 1_700_000_000_000_000_000;
        for scrape in 0..2 {
            for point in converter.convert(&summary, now + scrape * 10_000_000_000) {
                assert!(
                    point.name.starts_with("k8s.") || point.name.starts_with("container."),
                    "{}",
                    point.name
                );
                match point.value {
                    MetricValue::Gauge(v) | MetricValue::Sum { value: v, .. } => {
                        assert!(v.is_finite(), "{} = {v}", point.name);
                    }
                    MetricValue::Histogram(_) => panic!("no histograms from a summary"),
                }
            }
        }
    }
}
