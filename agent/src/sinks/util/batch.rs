//! Gathering a sink's input into requests by events, bytes and time.
//!
//! Input batches keep their acknowledgements: a request is a list of
//! [`EventBatch`]es, an input batch too big for one request is split (each
//! piece holding a share of its ack), and a request is cut when it reaches
//! `max_events` or `max_bytes`, or `timeout_ms` after its first event.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::{Duration, Instant};

use crate::config::{ConfigError, FieldPath};
use crate::event::{AckStatus, EventBatch};

/// How a sink groups events into requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events in one request.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// Most bytes in one request, measured before encoding (message sizes,
    /// roughly what the uncompressed body will be).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Longest an event waits for its request to fill, in milliseconds.
    /// Bounds the added latency at low rates.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// A request's worth of events.
#[derive(Debug, Default)]
pub struct Pending {
    /// The input batches (or pieces of them).
    pub batches: Vec<EventBatch>,
    /// Events in them.
    pub events: usize,
    /// Their estimated size.
    pub bytes: usize,
}

/// Gathers input batches into requests.
#[derive(Debug)]
pub struct Batcher {
    config: BatchConfig,
    current: Pending,
    deadline: Option<Instant>,
}

// === impl BatchConfig ===

impl BatchConfig {
    /// Check the limits.
    pub fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.max_events == 0 {
            errors.push(path.field("max_events").error("must be at least 1"));
        }
        if self.max_bytes < 1024 {
            errors.push(path.field("max_bytes").error("must be at least 1024"));
        }
        if self.timeout_ms == 0 {
            errors.push(path.field("timeout_ms").error("must be at least 1"));
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: default_max_events(),
            max_bytes: default_max_bytes(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// 1000 events: the shipping benchmark's peak RSS grows with the events in
/// flight (about 17 MiB more at 4096 with 4 requests in flight), while CPU
/// per line does not improve past ~1000 (HTTP overhead is per request, but
/// small next to encoding).
fn default_max_events() -> usize {
    1000
}

fn default_max_bytes() -> usize {
    1024 * 1024
}

/// 100 ms: at 10k lines/s a request fills in about 100 ms, so the timeout
/// is what bounds latency; 100 ms keeps p99 line-to-ingest well under
/// 250 ms while still sending ~1000 lines per request.
fn default_timeout_ms() -> u64 {
    100
}

// === impl Pending ===

impl Pending {
    /// Resolve every batch with `status`.
    pub fn resolve(self, status: AckStatus) {
        for batch in self.batches {
            batch.resolve(status);
        }
    }
}

// === impl Batcher ===

impl Batcher {
    /// An empty batcher.
    pub fn new(config: BatchConfig) -> Self {
        Batcher {
            config,
            current: Pending::default(),
            deadline: None,
        }
    }

    /// Add `batch`; full requests are pushed onto `ready`.
    pub fn push(&mut self, mut batch: EventBatch, ready: &mut Vec<Pending>) {
        while !batch.is_empty() {
            let room = self.config.max_events - self.current.events;
            let (mut take, mut bytes) = (0, 0);
            for event in batch.events().iter().take(room) {
                let size = event.size_hint();
                let total = self.current.bytes + bytes + size;
                if total > self.config.max_bytes && self.current.events + take > 0 {
                    break;
                }
                bytes += size;
                take += 1;
            }
            if take == batch.len() {
                self.add(batch, take, bytes);
                if self.is_full() {
                    ready.push(self.take());
                }
                return;
            }
            let (head, tail) = batch.split_at(take);
            if head.is_empty() {
                head.resolve(AckStatus::Delivered);
            } else {
                self.add(head, take, bytes);
            }
            ready.push(self.take());
            batch = tail;
        }
        // An empty input batch: nothing to deliver.
        batch.resolve(AckStatus::Delivered);
    }

    /// The request gathered so far, if any.
    pub fn take(&mut self) -> Pending {
        self.deadline = None;
        std::mem::take(&mut self.current)
    }

    /// When the current request must go, if it holds anything.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether nothing is gathered.
    pub fn is_empty(&self) -> bool {
        self.current.batches.is_empty()
    }

    fn add(&mut self, batch: EventBatch, events: usize, bytes: usize) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + Duration::from_millis(self.config.timeout_ms));
        }
        self.current.batches.push(batch);
        self.current.events += events;
        self.current.bytes += bytes;
    }

    fn is_full(&self) -> bool {
        self.current.events >= self.config.max_events || self.current.bytes >= self.config.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{AckReceiver, Attributes, Event, LogRecord, Resource};

    fn batch(acks: &AckReceiver, id: u64, n: usize, body_len: usize) -> EventBatch {
        let resource = Arc::new(Resource::default());
        let shared = Arc::new(Attributes::new());
        let events = (0..n)
            .map(|_| {
                Event::Log(LogRecord::new(
                    "x".repeat(body_len),
                    shared.clone(),
                    resource.clone(),
                ))
            })
            .collect();
        EventBatch::new(events, acks.ack(id))
    }

    #[test]
    fn splits_by_events_and_keeps_acks_whole() {
        let mut acks = AckReceiver::new();
        let mut batcher = Batcher::new(BatchConfig {
            max_events: 10,
            max_bytes: 1 << 20,
            timeout_ms: 100,
        });
        let mut ready = Vec::new();
        batcher.push(batch(&acks, 1, 25, 10), &mut ready);
        assert_eq!(ready.iter().map(|p| p.events).collect::<Vec<_>>(), [10, 10]);
        assert!(batcher.deadline().is_some());
        let rest = batcher.take();
        assert_eq!(rest.events, 5);
        assert!(batcher.deadline().is_none());
        for pending in ready {
            pending.resolve(AckStatus::Delivered);
        }
        assert_eq!(acks.try_recv(), None, "a piece is still out");
        rest.resolve(AckStatus::Delivered);
        assert_eq!(acks.try_recv(), Some((1, AckStatus::Delivered)));
    }

    #[test]
    fn splits_by_bytes_but_always_takes_one_event() {
        let mut acks = AckReceiver::new();
        let mut batcher = Batcher::new(BatchConfig {
            max_events: 1000,
            max_bytes: 1024,
            timeout_ms: 100,
        });
        let mut ready = Vec::new();
        // Each event is ~300 bytes: three fit, the fourth would overflow.
        batcher.push(batch(&acks, 1, 7, 268), &mut ready);
        assert_eq!(ready.iter().map(|p| p.events).collect::<Vec<_>>(), [3, 3]);
        batcher.push(batch(&acks, 2, 1, 5000), &mut ready);
        assert_eq!(
            ready.iter().map(|p| p.events).collect::<Vec<_>>(),
            [3, 3, 1, 1],
            "an oversized event goes alone"
        );
        for pending in ready {
            pending.resolve(AckStatus::Delivered);
        }
        batcher.take().resolve(AckStatus::Delivered);
        let mut done: Vec<_> = std::iter::from_fn(|| acks.try_recv()).collect();
        done.sort();
        assert_eq!(done, [(1, AckStatus::Delivered), (2, AckStatus::Delivered)]);
    }
}
