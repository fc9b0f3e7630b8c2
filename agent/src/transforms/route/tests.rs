//! Routing by condition, and the acknowledgement shared among outputs.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::config::{ComponentKind, FieldPath, Validate};
use crate::event::{AckReceiver, AckStatus, Attributes, Event, EventBatch, LogRecord, Resource};
use crate::telemetry::events::ComponentMetrics;

fn metrics() -> TransformMetrics {
    TransformMetrics::new(ComponentMetrics::new(
        "route-test",
        ComponentKind::Transform,
        "route",
    ))
}

fn config(yaml: &str) -> RouteConfig {
    let config: RouteConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    config
}

/// A record carrying the attribute `rN` for each `N` in `routes`.
fn record(body: &str, routes: &[usize]) -> Event {
    let mut log = LogRecord::new(
        body.to_owned(),
        Arc::new(Attributes::new()),
        Arc::new(Resource::default()),
    );
    for r in routes {
        log.attributes.insert(format!("r{r}"), true);
    }
    Event::Log(log)
}

fn bodies(batch: &EventBatch) -> Vec<String> {
    batch
        .events()
        .iter()
        .map(|e| match e {
            Event::Log(log) => log.body.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Routes `r0`..`rN` matching the records that carry their attribute.
fn by_attribute(n: usize) -> Router {
    let routes: String = (0..n)
        .map(|i| format!("r{i}: {{ field: attributes.r{i}, exists: true }}\n"))
        .collect();
    Router::new(&config(&format!("routes:\n{}", indent(&routes)))).unwrap()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[test]
fn records_go_to_each_route_they_match_and_the_rest_to_unmatched() {
    let config = config(
        r#"
        routes:
          payments: { field: attributes.namespace, equals: payments }
          errors: { field: severity, gt: 16 }
        "#,
    );
    assert_eq!(
        config.outputs().collect::<Vec<_>>(),
        ["payments", "errors", UNMATCHED]
    );
    let router = Router::new(&config).unwrap();
    let log = |body: &str, namespace: &str, severity: i32| {
        let mut log = LogRecord::new(
            body.to_owned(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        log.attributes.insert("namespace", namespace.to_owned());
        log.severity_number = severity;
        Event::Log(log)
    };
    let acks = AckReceiver::new();
    let batch = EventBatch::new(
        vec![
            log("paid", "payments", 9),
            log("search ok", "search", 9),
            log("payment failed", "payments", 17),
            log("search failed", "search", 17),
        ],
        acks.ack(1),
    );
    let routed: Vec<(usize, Vec<String>)> = router
        .route(batch, &metrics())
        .iter()
        .map(|(output, batch)| (*output, bodies(batch)))
        .collect();
    assert_eq!(
        routed,
        [
            (0, vec!["paid".to_owned(), "payment failed".to_owned()]),
            (
                1,
                vec!["payment failed".to_owned(), "search failed".to_owned()]
            ),
            (2, vec!["search ok".to_owned()]),
        ]
    );
}

#[test]
fn route_names_are_checked_with_their_field_path() {
    let config: RouteConfig = serde_yaml_ng::from_str(
        r#"
        routes:
          _unmatched: { field: body, exists: true }
          "a.b": { field: body, exists: true }
          ok: { field: nowhere, exists: true }
        "#,
    )
    .unwrap();
    let mut errors = Vec::new();
    config.validate(
        &FieldPath::root().field("transforms").field("r"),
        &mut errors,
    );
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].contains("transforms.r.routes._unmatched: "),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("transforms.r.routes.a.b: "),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("transforms.r.routes.ok.field: "),
        "{}",
        errors[2]
    );
}

proptest! {
    /// However records fan out among the routes, and whichever outputs'
    /// consumers deliver or give up, the source hears about its batch
    /// exactly once, only after every part is settled: delivered when
    /// every part was delivered, dropped when any was given up.
    #[test]
    fn a_batch_split_among_routes_resolves_once_all_parts_settle(
        routes in 1usize..5,
        matches in proptest::collection::vec(proptest::collection::vec(0usize..5, 0..4), 0..16),
        delivered in proptest::collection::vec(any::<bool>(), 6),
        order in any::<bool>(),
    ) {
        let router = by_attribute(routes);
        let mut acks = AckReceiver::new();
        let events: Vec<Event> = matches
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let m: Vec<usize> = m.iter().copied().filter(|r| *r < routes).collect();
                record(&i.to_string(), &m)
            })
            .collect();
        let mut parts = router.route(EventBatch::new(events, acks.ack(3)), &metrics());

        // Every record reached each route it matched, or `_unmatched`.
        for (i, m) in matches.iter().enumerate() {
            let mut expected: Vec<usize> = m.iter().copied().filter(|r| *r < routes).collect();
            expected.sort_unstable();
            expected.dedup();
            if expected.is_empty() {
                expected.push(routes);
            }
            let got: Vec<usize> = parts
                .iter()
                .filter(|(_, b)| bodies(b).contains(&i.to_string()))
                .map(|(o, _)| *o)
                .collect();
            prop_assert_eq!(got, expected);
        }

        if parts.is_empty() {
            prop_assert_eq!(acks.try_recv(), Some((3, AckStatus::Delivered)));
        }
        if order {
            parts.reverse();
        }
        let mut all_delivered = true;
        let count = parts.len();
        for (n, (output, batch)) in parts.into_iter().enumerate() {
            prop_assert_eq!(acks.try_recv(), None, "resolved before every output settled");
            if delivered[output] {
                batch.resolve(AckStatus::Delivered);
            } else {
                all_delivered = false;
                drop(batch);
            }
            if n + 1 < count {
                continue;
            }
            let status = if all_delivered { AckStatus::Delivered } else { AckStatus::Dropped };
            prop_assert_eq!(acks.try_recv(), Some((3, status)));
        }
        prop_assert_eq!(acks.try_recv(), None, "resolved more than once");
    }
}
