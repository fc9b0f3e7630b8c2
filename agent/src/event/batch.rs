//! Batches of events as they travel from a source to its sinks.

use std::ops::Range;
use std::sync::Arc;

use super::Event;
use super::ack::{Ack, AckStatus};

/// A run of events from one source with the acknowledgement that covers
/// them.
///
/// The events sit behind an `Arc` so that fanning a batch out to several
/// sinks copies a pointer, not the events; a batch is a view (`range`) so
/// that a sink can split it without copying either.
#[derive(Debug, Clone)]
pub struct EventBatch {
    events: Arc<Vec<Event>>,
    range: Range<usize>,
    ack: Ack,
}

// === impl EventBatch ===

impl EventBatch {
    /// A batch of `events` covered by `ack`.
    pub fn new(events: Vec<Event>, ack: Ack) -> Self {
        let range = 0..events.len();
        EventBatch {
            events: Arc::new(events),
            range,
            ack,
        }
    }

    /// The events in this batch.
    pub fn events(&self) -> &[Event] {
        &self.events[self.range.clone()]
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.range.len()
    }

    /// Whether the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Split into `[0, at)` and `[at, len)`; each part holds its own share
    /// of the acknowledgement.
    pub fn split_at(self, at: usize) -> (EventBatch, EventBatch) {
        let at = at.min(self.len());
        let mid = self.range.start + at;
        let head = EventBatch {
            events: Arc::clone(&self.events),
            range: self.range.start..mid,
            ack: self.ack.clone(),
        };
        let tail = EventBatch {
            events: self.events,
            range: mid..self.range.end,
            ack: self.ack,
        };
        (head, tail)
    }

    /// Whether its source waits on its acknowledgement (and so can send it
    /// again).
    pub fn is_tracked(&self) -> bool {
        self.ack.is_tracked()
    }

    /// The events to change, and the acknowledgement that covers them. The
    /// events are moved out when this batch is their only holder and whole;
    /// cloned otherwise (a batch fanned out to several consumers).
    pub fn into_parts(self) -> (Vec<Event>, Ack) {
        let whole = self.range.start == 0 && self.range.end == self.events.len();
        let events = match Arc::try_unwrap(self.events) {
            Ok(events) if whole => events,
            Ok(events) => events[self.range].to_vec(),
            Err(shared) => shared[self.range].to_vec(),
        };
        (events, self.ack)
    }

    /// Give up the events, keeping the acknowledgement to resolve later.
    pub fn into_ack(self) -> Ack {
        self.ack
    }

    /// Report the outcome for this batch.
    pub fn resolve(self, status: AckStatus) {
        self.ack.resolve(status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AckReceiver, Attributes, LogRecord, Resource};

    fn logs(n: usize) -> Vec<Event> {
        let resource = Arc::new(Resource::default());
        let shared = Arc::new(Attributes::new());
        (0..n)
            .map(|i| LogRecord::new(i.to_string(), shared.clone(), resource.clone()).into())
            .collect()
    }

    fn body(event: &Event) -> &str {
        match event {
            Event::Log(log) => &log.body,
            _ => unreachable!("test batches hold logs"),
        }
    }

    #[test]
    fn into_parts_moves_a_whole_batch_and_copies_a_shared_one() {
        let mut rx = AckReceiver::new();
        let batch = EventBatch::new(logs(3), rx.ack(1));
        let first = match &batch.events()[0] {
            Event::Log(log) => log.body.as_ptr(),
            _ => unreachable!("test batches hold logs"),
        };
        let (events, ack) = batch.clone().into_parts();
        assert_eq!(events.iter().map(body).collect::<Vec<_>>(), ["0", "1", "2"]);
        let (head, tail) = batch.split_at(1);
        head.resolve(AckStatus::Delivered);
        let (rest, tail_ack) = tail.into_parts();
        assert_eq!(rest.iter().map(body).collect::<Vec<_>>(), ["1", "2"]);
        // Bodies are shared, never copied.
        assert!(matches!(&events[0], Event::Log(log) if log.body.as_ptr() == first));
        ack.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), None, "the tail still holds its share");
        tail_ack.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), Some((1, AckStatus::Delivered)));
    }

    #[test]
    fn split_keeps_order_and_shares_the_ack() {
        let mut rx = AckReceiver::new();
        let batch = EventBatch::new(logs(5), rx.ack(9));
        let (head, tail) = batch.split_at(2);
        assert_eq!(
            head.events().iter().map(body).collect::<Vec<_>>(),
            ["0", "1"]
        );
        assert_eq!(
            tail.events().iter().map(body).collect::<Vec<_>>(),
            ["2", "3", "4"]
        );
        head.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), None);
        let (a, b) = tail.split_at(10);
        assert_eq!(a.len(), 3);
        assert!(b.is_empty());
        a.resolve(AckStatus::Delivered);
        b.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), Some((9, AckStatus::Delivered)));
    }
}
