//! A container's logs name the workload that wrote them, not the agent:
//! `service.*` after the OpenTelemetry semantic conventions for
//! Kubernetes (the non-normative "k8s attributes" page). Each attribute
//! takes the first value found:
//!
//! - every `resource.opentelemetry.io/<attribute>` pod annotation becomes
//!   `<attribute>`;
//! - `service.name`: that annotation, the well-known labels
//!   `app.kubernetes.io/instance` then `app.kubernetes.io/name` (unless
//!   turned off), the owning workload (Deployment, ReplicaSet,
//!   StatefulSet, DaemonSet, Job), the pod;
//! - `service.namespace`: the annotation, the Kubernetes namespace;
//! - `service.instance.id`: the annotation,
//!   `<namespace>.<pod>.<container>`;
//! - `service.version`: the annotation, the `app.kubernetes.io/version`
//!   label (unless turned off).

use super::metadata::PodMeta;
use super::path::ContainerLog;
use crate::event::Attributes;

/// The annotation prefix whose keys are resource attributes.
pub const ANNOTATION_PREFIX: &str = "resource.opentelemetry.io/";

/// Set the `service.*` attributes of `log`'s records, from the pod's
/// metadata when it is known.
pub fn apply(
    log: &ContainerLog,
    meta: Option<&PodMeta>,
    from_labels: bool,
    attributes: &mut Attributes,
) {
    if let Some(meta) = meta {
        for (key, value) in &meta.annotations {
            if let Some(attribute) = key.strip_prefix(ANNOTATION_PREFIX)
                && !attribute.is_empty()
            {
                attributes.insert(attribute.to_owned(), value.clone());
            }
        }
    }
    let annotated = |attribute: &str| {
        meta.and_then(|m| {
            m.annotations
                .get(&format!("{ANNOTATION_PREFIX}{attribute}"))
        })
        .map(String::as_str)
    };
    let label = |key: &str| {
        meta.filter(|_| from_labels)
            .and_then(|m| m.labels.get(key))
            .map(String::as_str)
    };
    let name = annotated("service.name")
        .or_else(|| label("app.kubernetes.io/instance"))
        .or_else(|| label("app.kubernetes.io/name"))
        .or_else(|| meta.and_then(PodMeta::workload))
        .unwrap_or(&log.pod);
    attributes.insert("service.name", name.to_owned());
    let namespace = annotated("service.namespace").unwrap_or(&log.namespace);
    attributes.insert("service.namespace", namespace.to_owned());
    let instance = annotated("service.instance.id").map_or_else(
        || format!("{}.{}.{}", log.namespace, log.pod, log.container),
        str::to_owned,
    );
    attributes.insert("service.instance.id", instance);
    if let Some(version) =
        annotated("service.version").or_else(|| label("app.kubernetes.io/version"))
    {
        attributes.insert("service.version", version.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    fn log() -> ContainerLog {
        super::super::path::parse(Path::new(
            "/var/log/pods/shop_checkout-7d9f8b6c5d-x2x7q_1f0e/server/0.log",
        ))
        .unwrap()
    }

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> PodMeta {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        PodMeta {
            labels: map(labels),
            annotations: map(annotations),
            owner: Some(("ReplicaSet".into(), "checkout-7d9f8b6c5d".into())),
        }
    }

    fn service(meta: Option<&PodMeta>, from_labels: bool) -> Attributes {
        let mut attributes = Attributes::new();
        apply(&log(), meta, from_labels, &mut attributes);
        attributes
    }

    fn get(attributes: &Attributes, key: &str) -> Option<String> {
        attributes.get(key).map(ToString::to_string)
    }

    #[test]
    fn the_annotation_comes_first_then_labels_then_the_workload_then_the_pod() {
        let hash = [("pod-template-hash", "7d9f8b6c5d")];
        let annotated = meta(
            &[hash[0], ("app.kubernetes.io/name", "checkout-app")],
            &[
                ("resource.opentelemetry.io/service.name", "checkout-api"),
                (
                    "resource.opentelemetry.io/deployment.environment.name",
                    "prod",
                ),
            ],
        );
        let a = service(Some(&annotated), true);
        assert_eq!(get(&a, "service.name").as_deref(), Some("checkout-api"));
        assert_eq!(
            get(&a, "deployment.environment.name").as_deref(),
            Some("prod"),
            "every resource.opentelemetry.io/ annotation is an attribute"
        );

        let labelled = meta(
            &[
                hash[0],
                ("app.kubernetes.io/name", "checkout-app"),
                ("app.kubernetes.io/version", "1.4.2"),
            ],
            &[],
        );
        let l = service(Some(&labelled), true);
        assert_eq!(get(&l, "service.name").as_deref(), Some("checkout-app"));
        assert_eq!(get(&l, "service.version").as_deref(), Some("1.4.2"));
        let instance = meta(
            &[
                hash[0],
                ("app.kubernetes.io/instance", "checkout-eu"),
                ("app.kubernetes.io/name", "checkout-app"),
            ],
            &[],
        );
        assert_eq!(
            get(&service(Some(&instance), true), "service.name").as_deref(),
            Some("checkout-eu")
        );

        // Labels turned off, or none: the Deployment behind the ReplicaSet.
        let w = service(Some(&labelled), false);
        assert_eq!(get(&w, "service.name").as_deref(), Some("checkout"));
        assert_eq!(get(&w, "service.version"), None);

        // No metadata at all: the pod.
        let p = service(None, true);
        assert_eq!(
            get(&p, "service.name").as_deref(),
            Some("checkout-7d9f8b6c5d-x2x7q")
        );
        assert_eq!(get(&p, "service.namespace").as_deref(), Some("shop"));
        assert_eq!(
            get(&p, "service.instance.id").as_deref(),
            Some("shop.checkout-7d9f8b6c5d-x2x7q.server")
        );
    }
}
