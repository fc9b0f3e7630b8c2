//! A sink's side of its [disk queue](crate::buffers::disk_queue): what goes
//! in (metrics and check results, acknowledged to their source once
//! written), and reading it back out in order, one request at a time,
//! committing records as their requests are answered.

use std::collections::VecDeque;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::batch::{BatchConfig, Pending};
use super::service::Protocol;
use crate::buffers::disk_queue::{DiskQueue, FsyncPolicy, Position, QueueError, QueueOptions};
use crate::config::{ConfigError, FieldPath};
use crate::error::Chain;
use crate::event::{AckReceiver, AckStatus, BatchId, Event, EventBatch};
use crate::telemetry::events::{
    ComponentError, ErrorStage, QueueRecordsCorrupt, SinkEventsDropped, SinkTelemetry,
};

/// The disk queue of a sink, for the metrics and check results it ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Size cap, in bytes. When an outage fills it, the oldest records are
    /// deleted and counted in
    /// `neurallog_agent_sink_queue_dropped_records_total`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// When writes reach the disk: `always`, `batch` (every 500 ms) or
    /// `never` (the OS decides). Every mode survives an agent crash.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

/// What [`QueueSide::read_chunk`] found.
pub struct Chunk<S> {
    /// The endpoint the records go to.
    pub signal: S,
    /// Their events, one batch per record.
    pub pending: Pending,
}

/// The queue with its in-flight records.
pub struct QueueSide<S> {
    queue: DiskQueue,
    acks: AckReceiver,
    next_id: BatchId,
    inflight: VecDeque<(BatchId, Position, Option<AckStatus>)>,
    carry: Option<(S, Vec<Event>, Position, usize)>,
    gave_up: bool,
}

// === impl QueueConfig ===

impl QueueConfig {
    /// Check the settings.
    pub fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.max_bytes < 1024 * 1024 {
            errors.push(
                path.field("max_bytes")
                    .error("must be at least 1048576 (1 MiB)"),
            );
        }
    }

    /// Open the queue in `dir`.
    pub fn open(&self, dir: &Path) -> Result<DiskQueue, QueueError> {
        DiskQueue::open(
            dir,
            QueueOptions {
                max_bytes: self.max_bytes,
                segment_bytes: (self.max_bytes / 16).clamp(64 * 1024, 16 * 1024 * 1024),
                fsync: self.fsync,
            },
        )
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_bytes: default_max_bytes(),
            fsync: FsyncPolicy::default(),
        }
    }
}

fn default_max_bytes() -> u64 {
    256 * 1024 * 1024
}

// === impl QueueSide ===

impl<S: Copy + PartialEq> QueueSide<S> {
    /// Wrap an open queue.
    pub fn new(queue: DiskQueue, telemetry: &SinkTelemetry) -> Self {
        let side = QueueSide {
            queue,
            acks: AckReceiver::new(),
            next_id: 0,
            inflight: VecDeque::new(),
            carry: None,
            gave_up: false,
        };
        side.publish(telemetry);
        side
    }

    /// The largest record the queue takes, in bytes.
    pub fn max_record_bytes(&self) -> usize {
        usize::try_from(self.queue.max_record_bytes()).unwrap_or(usize::MAX)
    }

    /// Append `records` (encoded from one input batch). `Ok` when all were
    /// written; otherwise the reason to count the batch's queued events
    /// under: `disk_full` when the filesystem had no room (the queue
    /// refuses a record whole, it never writes part of one),
    /// `queue_write_failed` for any other failure.
    pub fn append(
        &mut self,
        records: &[Vec<u8>],
        telemetry: &SinkTelemetry,
    ) -> Result<(), &'static str> {
        let mut result = Ok(());
        for record in records {
            match self.queue.append(record) {
                Ok(dropped) => telemetry.queue_dropped(dropped),
                Err(error) if error.is_no_space() => {
                    result = Err("disk_full");
                    ComponentError {
                        component: telemetry.component(),
                        error_type: "queue_disk_full",
                        stage: ErrorStage::Processing,
                        error: Chain(&error),
                    }
                    .emit();
                }
                Err(error) => {
                    result = result.and(Err("queue_write_failed"));
                    ComponentError {
                        component: telemetry.component(),
                        error_type: "queue_write_failed",
                        stage: ErrorStage::Processing,
                        error: Chain(&error),
                    }
                    .emit();
                }
            }
        }
        self.publish(telemetry);
        result
    }

    /// Whether a new chunk may be read: none in flight and records waiting.
    pub fn can_read(&self) -> bool {
        self.inflight.is_empty() && (self.carry.is_some() || self.queue.has_unread())
    }

    /// Read the next records for one request, up to the batch limits and
    /// all for one endpoint.
    pub fn read_chunk<P: Protocol<Signal = S>>(
        &mut self,
        protocol: &P,
        limits: &BatchConfig,
        telemetry: &SinkTelemetry,
    ) -> Option<Chunk<S>> {
        let mut chunk: Option<Chunk<S>> = None;
        loop {
            let (signal, events, position, size) = match self.carry.take() {
                Some(carried) => carried,
                None => match self.queue.read() {
                    Ok(Some(record)) => match protocol.queue_decode(&record.data) {
                        Ok(Some((signal, events))) => {
                            (signal, events, record.position, record.data.len())
                        }
                        Ok(None) => {
                            self.push_done(record.position, AckStatus::Delivered);
                            continue;
                        }
                        Err(error) => {
                            ComponentError {
                                component: telemetry.component(),
                                error_type: "queue_record_undecodable",
                                stage: ErrorStage::Processing,
                                error,
                            }
                            .emit();
                            self.push_done(record.position, AckStatus::Rejected);
                            continue;
                        }
                    },
                    Ok(None) => break,
                    Err(error) => {
                        ComponentError {
                            component: telemetry.component(),
                            error_type: "queue_read_failed",
                            stage: ErrorStage::Receiving,
                            error: Chain(&error),
                        }
                        .emit();
                        break;
                    }
                },
            };
            if let Some(current) = &chunk
                && (current.signal != signal
                    || current.pending.events >= limits.max_events
                    || current.pending.bytes >= limits.max_bytes)
            {
                self.carry = Some((signal, events, position, size));
                break;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.inflight.push_back((id, position, None));
            let current = chunk.get_or_insert_with(|| Chunk {
                signal,
                pending: Pending::default(),
            });
            current.pending.events += events.len();
            current.pending.bytes += size;
            current
                .pending
                .batches
                .push(EventBatch::new(events, self.acks.ack(id)));
        }
        QueueRecordsCorrupt {
            sink: telemetry,
            records: self.queue.take_corrupt(),
            dir: self.queue.dir(),
        }
        .emit();
        self.settle(telemetry);
        chunk
    }

    /// The next acknowledgement of a queued request.
    pub async fn next_ack(&mut self) -> Option<(BatchId, AckStatus)> {
        self.acks.recv().await
    }

    /// Record an acknowledgement and commit what is done.
    pub fn acknowledged(&mut self, id: BatchId, status: AckStatus, telemetry: &SinkTelemetry) {
        if let Some(entry) = self.inflight.iter_mut().find(|(i, _, _)| *i == id) {
            entry.2 = Some(status);
        }
        self.settle(telemetry);
    }

    /// Whether writes await the periodic fsync.
    pub fn is_dirty(&self) -> bool {
        self.queue.is_dirty()
    }

    /// fsync pending writes.
    pub fn sync(&mut self, telemetry: &SinkTelemetry) {
        if let Err(error) = self.queue.sync() {
            ComponentError {
                component: telemetry.component(),
                error_type: "queue_sync_failed",
                stage: ErrorStage::Processing,
                error: Chain(&error),
            }
            .emit();
        }
    }

    /// A record finished without a request (nothing in it to send).
    fn push_done(&mut self, position: Position, status: AckStatus) {
        self.inflight
            .push_back((self.next_id, position, Some(status)));
        self.next_id += 1;
    }

    /// Commit the done prefix of the in-flight records; after a request was
    /// given up, read its records again once nothing is in flight.
    fn settle(&mut self, telemetry: &SinkTelemetry) {
        let mut commit = None;
        while let Some((_, position, Some(status))) = self.inflight.front().copied() {
            self.inflight.pop_front();
            if status.is_final() && !self.gave_up {
                commit = Some(position);
            } else {
                self.gave_up = true;
            }
        }
        if let Some(position) = commit
            && let Err(error) = self.queue.commit(position)
        {
            ComponentError {
                component: telemetry.component(),
                error_type: "queue_commit_failed",
                stage: ErrorStage::Processing,
                error: Chain(&error),
            }
            .emit();
        }
        if self.gave_up && self.inflight.is_empty() {
            self.gave_up = false;
            self.carry = None;
            self.queue.rewind();
        }
        self.publish(telemetry);
    }

    fn publish(&self, telemetry: &SinkTelemetry) {
        let stats = self.queue.stats();
        telemetry.queue_depth(stats.records, stats.bytes);
    }
}

/// The queue records of `events`, by `encode`, each at most `max` bytes:
/// when one comes out larger (many metric points with long labels in one
/// record), each event is encoded alone instead. Also how many events are
/// too large even alone: left out, to be counted, never retried (the same
/// lines read again would make the same record).
pub fn fitting_records<'e>(
    events: &[&'e Event],
    max: usize,
    encode: impl Fn(&[&'e Event]) -> Vec<Vec<u8>>,
) -> (Vec<Vec<u8>>, u64) {
    let records = encode(events);
    if records.iter().all(|r| r.len() <= max) {
        return (records, 0);
    }
    let mut fitting = Vec::new();
    let mut too_large = 0;
    for event in events {
        let alone = encode(std::slice::from_ref(event));
        if alone.iter().all(|r| r.len() <= max) {
            fitting.extend(alone);
        } else {
            too_large += 1;
        }
    }
    (fitting, too_large)
}

/// Count events a sink cannot ship.
pub fn unsupported(telemetry: &SinkTelemetry, events: u64) {
    if events > 0 {
        SinkEventsDropped {
            sink: telemetry,
            events,
            reason: "unsupported_event",
        }
        .emit();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{Attributes, LogRecord, Resource};

    /// Regression: a record larger than the queue takes was refused as a
    /// write failure, so its lines were read again, made the same record,
    /// and the file's checkpoint never moved.
    #[test]
    fn a_record_too_large_is_split_by_event_and_what_still_is_left_out() {
        let log = |body: &str| {
            Event::Log(LogRecord::new(
                body.to_owned(),
                Arc::new(Attributes::new()),
                Arc::new(Resource::default()),
            ))
        };
        let events = [log("aaaa"), log("bbbbbbbbbbbb"), log("cc")];
        let refs: Vec<&Event> = events.iter().collect();
        // One record of every body.
        let encode = |events: &[&Event]| {
            let joined: String = events
                .iter()
                .map(|e| match e {
                    Event::Log(log) => log.body.to_string(),
                    _ => String::new(),
                })
                .collect();
            vec![joined.into_bytes()]
        };
        assert_eq!(
            fitting_records(&refs, 18, encode),
            (vec![b"aaaabbbbbbbbbbbbcc".to_vec()], 0)
        );
        assert_eq!(
            fitting_records(&refs, 12, encode),
            (
                vec![b"aaaa".to_vec(), b"bbbbbbbbbbbb".to_vec(), b"cc".to_vec()],
                0
            )
        );
        assert_eq!(
            fitting_records(&refs, 8, encode),
            (vec![b"aaaa".to_vec(), b"cc".to_vec()], 1)
        );
    }
}
