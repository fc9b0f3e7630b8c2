//! The task every transform runs in: receive a batch, change its events in
//! place, send what is left on.
//!
//! The acknowledgement rule: a batch keeps its [`Ack`](crate::event::Ack)
//! through the transform. Records removed from it need nothing more (they
//! are handled: dropping them was the point). A batch emptied completely is
//! resolved as delivered at once, so its source's checkpoint moves past it.
//! A transform that panics drops the batch it held unresolved, which counts
//! as not delivered: the source reads it again. Nothing is lost silently.

use crate::event::{AckStatus, Event, EventBatch};
use crate::telemetry::events::{TransformEventsDropped, TransformMetrics};
use crate::topology::{BoxedComponent, TransformContext};

/// What a transform does to each batch.
pub trait Transform: Send + 'static {
    /// Change `events` in place; remove the ones to drop.
    fn process(&mut self, events: &mut Vec<Event>);
}

/// What became of one batch.
#[derive(Debug)]
pub enum Outcome {
    /// Some records are left: send them on.
    Forward(EventBatch),
    /// Every record was dropped; the batch is acknowledged.
    Emptied,
}

/// Run `transform` over every batch of `cx.input` until the input ends.
pub fn run(mut transform: impl Transform, cx: TransformContext) -> BoxedComponent {
    let TransformContext {
        mut input,
        mut out,
        metrics,
        ..
    } = cx;
    let metrics = TransformMetrics::new(metrics);
    Box::pin(async move {
        while let Some(batch) = input.recv().await {
            if let Outcome::Forward(batch) = apply(&mut transform, batch, &metrics) {
                out.hand_on(batch).await;
            }
        }
    })
}

/// Apply `transform` to one batch, keeping the acknowledgement rule.
pub fn apply(
    transform: &mut impl Transform,
    batch: EventBatch,
    metrics: &TransformMetrics,
) -> Outcome {
    let received = batch.len();
    let (mut events, ack) = batch.into_parts();
    transform.process(&mut events);
    let sent = events.len();
    metrics.component().received(received, 0);
    metrics.component().sent(sent, 0);
    TransformEventsDropped {
        metrics,
        count: received.saturating_sub(sent),
    }
    .emit();
    if events.is_empty() {
        ack.resolve(AckStatus::Delivered);
        Outcome::Emptied
    } else {
        Outcome::Forward(EventBatch::new(events, ack))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::config::ComponentKind;
    use crate::event::{AckReceiver, Attributes, LogRecord, Resource};
    use crate::telemetry::events::ComponentMetrics;

    /// Keeps the events whose position (in the batch it is given) is set.
    struct Mask(Vec<bool>);

    impl Transform for Mask {
        fn process(&mut self, events: &mut Vec<Event>) {
            let mut i = 0;
            events.retain(|_| {
                let keep = self.0.get(i).copied().unwrap_or(true);
                i += 1;
                keep
            });
        }
    }

    fn batch(rx: &AckReceiver, n: usize) -> EventBatch {
        let shared = Arc::new(Attributes::new());
        let resource = Arc::new(Resource::default());
        let events = (0..n)
            .map(|i| LogRecord::new(i.to_string(), shared.clone(), resource.clone()).into())
            .collect();
        EventBatch::new(events, rx.ack(7))
    }

    fn metrics(id: &str) -> TransformMetrics {
        TransformMetrics::new(ComponentMetrics::new(
            id,
            ComponentKind::Transform,
            "filter",
        ))
    }

    proptest! {
        /// Whatever a chain of filters keeps or drops, and whether the sink
        /// at the end delivers or gives up, the source hears about its
        /// batch exactly once, and only once everything is settled: as
        /// delivered when the filters emptied it or the sink delivered it,
        /// as dropped when the sink gave up what reached it.
        #[test]
        fn a_batch_through_any_filters_resolves_exactly_once(
            n in 1usize..24,
            masks in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 0..24), 0..5),
            split in 0usize..24,
            delivered in any::<bool>(),
        ) {
            let mut acks = AckReceiver::new();
            let metrics = metrics("runner-property");
            let mut current = vec![batch(&acks, n)];
            for mask in masks {
                let mut next = Vec::new();
                for batch in current {
                    if let Outcome::Forward(batch) = apply(&mut Mask(mask.clone()), batch, &metrics) {
                        next.push(batch);
                    }
                }
                // A sink may split what reaches it (a size limit): each
                // part carries its own share.
                current = next
                    .into_iter()
                    .flat_map(|b| {
                        let (head, tail) = b.split_at(split);
                        [head, tail]
                    })
                    .collect();
                if current.is_empty() {
                    // Everything was dropped on purpose: handled.
                    prop_assert_eq!(acks.try_recv(), Some((7, AckStatus::Delivered)));
                    break;
                }
                prop_assert_eq!(acks.try_recv(), None, "resolved before the sink had it");
            }
            let reached_the_sink = !current.is_empty();
            for batch in current {
                if delivered {
                    batch.resolve(AckStatus::Delivered);
                } else {
                    drop(batch);
                }
            }
            if reached_the_sink {
                let status = if delivered { AckStatus::Delivered } else { AckStatus::Dropped };
                prop_assert_eq!(acks.try_recv(), Some((7, status)));
            }
            prop_assert_eq!(acks.try_recv(), None, "resolved more than once");
        }
    }

    #[test]
    fn counts_records_in_out_and_dropped() {
        let acks = AckReceiver::new();
        let metrics = metrics("runner-counts");
        let before = (
            metrics.component().received_events(),
            metrics.component().sent_events(),
            metrics.dropped(),
        );
        let outcome = apply(
            &mut Mask(vec![true, false, true]),
            batch(&acks, 3),
            &metrics,
        );
        let Outcome::Forward(batch) = outcome else {
            panic!("two records are left");
        };
        assert_eq!(batch.len(), 2);
        batch.resolve(AckStatus::Delivered);
        assert_eq!(metrics.component().received_events() - before.0, 3);
        assert_eq!(metrics.component().sent_events() - before.1, 2);
        assert_eq!(metrics.dropped() - before.2, 1);
    }
}
