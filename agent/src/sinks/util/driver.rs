//! The main loop of a shipping sink.
//!
//! ```text
//! input ─┬─ logs ─────────────> batcher ─> up to `concurrency` requests ─> ack
//!        └─ metrics, checks ──> disk queue (ack once written)
//!                                   └─> one request at a time, in order ─> commit
//! ```
//!
//! The loop itself never waits on the network: requests run as tasks, and
//! when every request slot is taken it stops reading logs (their sources
//! wait) while metrics and check results still go to the disk queue, and
//! acknowledgements, queue commits and the periodic fsync carry on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::batch::{BatchConfig, Batcher, Pending};
use super::queue::{QueueSide, fitting_records, unsupported};
use super::service::{Protocol, Route, Service};
use crate::buffers::disk_queue::FsyncPolicy;
use crate::event::{AckStatus, Event, EventBatch};
use crate::topology::SinkContext;

/// How often a `batch` fsync policy flushes the queue.
const SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// The loop's settings.
pub struct DriverOptions {
    /// Request sizes.
    pub batch: BatchConfig,
    /// Requests in flight at once on the direct path.
    pub concurrency: usize,
    /// The queue's fsync policy.
    pub fsync: FsyncPolicy,
}

/// Which path a finished task served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Queue,
}

/// Run the sink until its input is finished and every request answered,
/// or until the hard stop.
pub async fn run<P: Protocol>(
    service: Arc<Service<P>>,
    mut queue: QueueSide<P::Signal>,
    options: DriverOptions,
    mut cx: SinkContext,
) {
    let telemetry = service.telemetry.clone();
    let mut batcher = Batcher::new(options.batch.clone());
    let mut ready: VecDeque<Pending> = VecDeque::new();
    let mut tasks: JoinSet<Path> = JoinSet::new();
    let mut direct_inflight = 0usize;
    let mut queue_busy = false;
    let mut input_done = false;
    let mut next_sync: Option<Instant> = None;
    let direct = service.protocol.direct_signal();

    loop {
        if !input_done
            && !queue_busy
            && queue.can_read()
            && !cx.hard_stop.is_cancelled()
            && let Some(chunk) = queue.read_chunk(&service.protocol, &options.batch, &telemetry)
        {
            queue_busy = true;
            let service = Arc::clone(&service);
            tasks.spawn(async move {
                service.deliver(chunk.signal, chunk.pending).await;
                Path::Queue
            });
        }
        while direct_inflight < options.concurrency
            && let Some(pending) = ready.pop_front()
        {
            direct_inflight += 1;
            let service = Arc::clone(&service);
            tasks.spawn(async move {
                service.deliver(direct, pending).await;
                Path::Direct
            });
        }
        if input_done && ready.is_empty() && tasks.is_empty() {
            break;
        }
        if next_sync.is_none() && queue.is_dirty() && options.fsync == FsyncPolicy::Batch {
            next_sync = Some(Instant::now() + SYNC_INTERVAL);
        }

        tokio::select! {
            biased;
            Some(done) = tasks.join_next() => match done {
                Ok(Path::Direct) => direct_inflight -= 1,
                Ok(Path::Queue) => queue_busy = false,
                // A panicked request task: its acks resolved as dropped.
                Err(_) => {
                    direct_inflight = direct_inflight.saturating_sub(1);
                    queue_busy = false;
                }
            },
            Some((id, status)) = queue.next_ack() => queue.acknowledged(id, status, &telemetry),
            () = sleep_until(next_sync) => {
                queue.sync(&telemetry);
                next_sync = None;
            }
            () = sleep_until(batcher.deadline()), if ready.is_empty() => {
                ready.push_back(batcher.take());
            }
            () = cx.hard_stop.cancelled(), if !input_done => {
                // Requests end themselves on the hard stop; give up the rest.
                input_done = true;
            }
            // Logs are taken only when a request slot can use them (the
            // sources wait meanwhile); metrics and check results are taken
            // always: they go to the disk queue, not behind the logs.
            batch = cx.input.recv_from(ready.is_empty()), if !input_done => match batch {
                Some(batch) => {
                    let mut full = Vec::new();
                    route(&service, &mut queue, &mut batcher, batch, &mut full);
                    ready.extend(full);
                }
                None => {
                    input_done = true;
                    if !batcher.is_empty() {
                        ready.push_back(batcher.take());
                    }
                }
            },
        }
        if cx.hard_stop.is_cancelled() {
            // Unsent requests drop their acknowledgements (not delivered).
            ready.clear();
            drop(batcher.take());
        }
    }
    queue.sync(&telemetry);
}

/// Send an input batch's events where they go.
fn route<P: Protocol>(
    service: &Service<P>,
    queue: &mut QueueSide<P::Signal>,
    batcher: &mut Batcher,
    batch: EventBatch,
    ready: &mut Vec<Pending>,
) {
    let telemetry = &service.telemetry;
    telemetry.component().received(batch.len(), 0);
    let mut direct = false;
    let mut queued: Vec<&Event> = Vec::new();
    let mut rejected = 0u64;
    for event in batch.events() {
        match service.protocol.route(event) {
            Route::Direct => direct = true,
            Route::Queue => queued.push(event),
            Route::Ignore => {}
            Route::Unsupported => rejected += 1,
        }
    }
    unsupported(telemetry, rejected);
    if !queued.is_empty() {
        let (records, too_large) = fitting_records(&queued, queue.max_record_bytes(), |events| {
            service.protocol.queue_encode(events)
        });
        // The queued part is acknowledged once it is on disk.
        let share = batch.clone();
        match queue.append(&records, telemetry) {
            Ok(()) if too_large > 0 => {
                crate::telemetry::events::SinkEventsDropped {
                    sink: telemetry,
                    events: too_large,
                    reason: "record_too_large",
                }
                .emit();
                share.resolve(AckStatus::Rejected);
            }
            Ok(()) => share.resolve(AckStatus::Delivered),
            Err(reason) => {
                crate::telemetry::events::SinkEventsDropped {
                    sink: telemetry,
                    events: queued.len() as u64,
                    reason,
                }
                .emit();
                share.resolve(AckStatus::Dropped);
            }
        }
    }
    if direct {
        batcher.push(batch, ready);
    } else {
        batch.resolve(AckStatus::Delivered);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
