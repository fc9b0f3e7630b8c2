//! Delivery of a source's batches to every sink that names it.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::event::{AckStatus, Event, EventBatch};

/// How many batches of metrics and check results a sink's input channel
/// holds before their sources wait.
pub const SINK_CHANNEL_BATCHES: usize = 8;

/// How many batches of logs a sink's input channel holds before their
/// sources wait. Logs wait in their files, and the sink holds a request
/// gathering plus `concurrency` in flight besides: more queued batches
/// only pinned memory (8 cost the shipping benchmark 7 MiB of peak RSS and
/// bought no throughput).
pub const LOG_CHANNEL_BATCHES: usize = 2;

/// The sinks a source currently feeds, by name.
pub(crate) type Targets = Arc<TargetSet>;

/// A sink's two inputs, as its sources hold them. Logs travel on one lane
/// and wait when the sink is full (their files are their buffer); metrics
/// and check results travel on the other, which a shipping sink drains
/// into its disk queue even while logs wait, so they never stall behind a
/// log backlog.
#[derive(Debug, Clone)]
pub struct SinkSender {
    logs: mpsc::Sender<EventBatch>,
    buffered: mpsc::Sender<EventBatch>,
}

/// What the topology tells a source's fanout: the sinks to feed, the sinks
/// it must wait for, or that the source is being stopped.
#[derive(Debug, Default)]
pub(crate) struct TargetSet {
    sinks: Vec<(Arc<str>, SinkSender)>,
    /// Sinks that name the source but are not running: being swapped by a
    /// reload, or failed to build. A batch whose source waits on its
    /// acknowledgement waits for them (backpressure): it is never
    /// acknowledged past a sink that should have had it. One nobody waits
    /// on (metrics, check results) goes to the sinks that run: holding it
    /// back would stall them too, and nothing could send it again.
    waiting_for: Vec<Arc<str>>,
    stopping: bool,
}

impl TargetSet {
    pub(crate) fn new(sinks: Vec<(Arc<str>, SinkSender)>) -> Targets {
        TargetSet::waiting(sinks, Vec::new())
    }

    /// Feed `sinks`, but hold tracked batches while any of `waiting_for`
    /// is not running.
    pub(crate) fn waiting(
        sinks: Vec<(Arc<str>, SinkSender)>,
        waiting_for: Vec<Arc<str>>,
    ) -> Targets {
        Arc::new(TargetSet {
            sinks,
            waiting_for,
            stopping: false,
        })
    }

    /// The source is stopping: its senders are released so the sinks'
    /// inputs can close, and whatever it still emits is dropped
    /// unacknowledged (read again), never acknowledged as delivered.
    pub(crate) fn stopping() -> Targets {
        Arc::new(TargetSet {
            sinks: Vec::new(),
            waiting_for: Vec::new(),
            stopping: true,
        })
    }

    fn len(&self) -> usize {
        self.sinks.len()
    }

    /// The consumers it names, running then awaited.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.sinks
            .iter()
            .map(|(name, _)| &**name)
            .chain(self.waiting_for.iter().map(|name| &**name))
    }

    /// Whether its producer is being stopped (tests of the wiring).
    #[cfg(test)]
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Whether no consumer, running or awaited, reads from the producer.
    pub(crate) fn is_empty(&self) -> bool {
        self.sinks.is_empty() && self.waiting_for.is_empty()
    }
}

/// The topology's side of a [`Fanout`]: replaces its targets on reload.
#[derive(Debug)]
pub struct FanoutControl {
    _sender: watch::Sender<Targets>,
}

/// A batch on its way to a source's targets (see [`Fanout::start`]).
#[derive(Debug)]
pub struct PendingSend {
    batch: Option<EventBatch>,
    targets: Targets,
    next: usize,
}

impl PendingSend {
    /// Whether the batch is settled: every target has it, or it was
    /// resolved or dropped without one.
    pub fn is_done(&self) -> bool {
        self.batch.is_none()
    }
}

/// A source's output. Cloning the batch per sink copies an `Arc`, not the
/// events; the acknowledgement is shared so the source hears once every
/// sink is done.
#[derive(Debug)]
pub struct Fanout {
    targets: Targets,
    control: watch::Receiver<Targets>,
}

// === impl SinkSender ===

impl SinkSender {
    /// A sink's sending side and its two receivers, logs then buffered,
    /// holding `logs` and `buffered` batches.
    pub(crate) fn channel(
        logs: usize,
        buffered: usize,
    ) -> (
        SinkSender,
        mpsc::Receiver<EventBatch>,
        mpsc::Receiver<EventBatch>,
    ) {
        let (logs, logs_rx) = mpsc::channel(logs);
        let (buffered, buffered_rx) = mpsc::channel(buffered);
        (SinkSender { logs, buffered }, logs_rx, buffered_rx)
    }

    /// The lane `batch` travels on: logs if it holds any.
    fn lane_for(&self, batch: &EventBatch) -> &mpsc::Sender<EventBatch> {
        if batch.events().iter().any(|e| matches!(e, Event::Log(_))) {
            &self.logs
        } else {
            &self.buffered
        }
    }
}

impl From<mpsc::Sender<EventBatch>> for SinkSender {
    /// One channel for both lanes.
    fn from(tx: mpsc::Sender<EventBatch>) -> Self {
        SinkSender {
            logs: tx.clone(),
            buffered: tx,
        }
    }
}

// === impl Fanout ===

impl Fanout {
    /// A fanout following `control`, which the topology updates on reload.
    pub(crate) fn new(control: watch::Receiver<Targets>) -> Self {
        let targets = control.borrow().clone();
        Fanout { targets, control }
    }

    /// A fanout with a fixed set of targets, for tests and benchmarks. Keep
    /// the control alive as long as the fanout is used.
    pub fn fixed(targets: Vec<(Arc<str>, mpsc::Sender<EventBatch>)>) -> (Self, FanoutControl) {
        let targets = targets
            .into_iter()
            .map(|(name, tx)| (name, SinkSender::from(tx)))
            .collect();
        let (tx, rx) = watch::channel(TargetSet::new(targets));
        (Fanout::new(rx), FanoutControl { _sender: tx })
    }

    /// Send `batch` to every target, waiting while any target is full or
    /// not running.
    pub async fn send(&mut self, batch: EventBatch) {
        let mut pending = self.start(batch);
        self.drive(&mut pending).await;
    }

    /// [`Fanout::send`], from a task that passes batches on (a
    /// transform), then a yield. tokio runs a task woken on a worker next
    /// on that worker, but only once the running task gives the worker
    /// back; a transform that finds its next batch waiting does not. With
    /// the yield, the consumer reads the batch on the core that just wrote
    /// it (`docs/PERFORMANCE.md`, "Yielding after each hand-on": transform
    /// chains do 15-34% more lines per CPU-second, in wall time within 6%).
    pub async fn hand_on(&mut self, batch: EventBatch) {
        self.send(batch).await;
        tokio::task::yield_now().await;
    }

    /// Begin sending `batch`; [`Fanout::drive`] completes it. Splitting the
    /// two lets a blocking source wait in slices and do housekeeping
    /// between them without losing or duplicating a batch.
    pub fn start(&mut self, batch: EventBatch) -> PendingSend {
        self.refresh();
        PendingSend {
            batch: Some(batch),
            targets: Arc::clone(&self.targets),
            next: 0,
        }
    }

    /// Deliver `pending` to its remaining targets. Cancel-safe: dropping
    /// the future loses nothing, and calling it again resumes.
    ///
    /// Until the first target has the batch, the targets may still change:
    /// a batch waiting for a sink being swapped goes to its replacement.
    /// A source nobody reads from resolves its batches as delivered: the
    /// configuration sends them nowhere, and holding its checkpoints back
    /// would only replay them into nowhere again. A source being stopped
    /// drops its batches instead: they stay unacknowledged.
    pub async fn drive(&mut self, pending: &mut PendingSend) {
        while pending.next == 0 && pending.batch.is_some() {
            self.refresh();
            pending.targets = Arc::clone(&self.targets);
            if pending.targets.stopping {
                pending.batch = None;
            } else if !pending.targets.waiting_for.is_empty()
                && pending.batch.as_ref().is_some_and(EventBatch::is_tracked)
            {
                match self.control.changed().await {
                    // `changed` marks the new targets seen: take them here.
                    Ok(()) => self.targets = self.control.borrow_and_update().clone(),
                    // The topology is gone: nothing will deliver it.
                    Err(_) => pending.batch = None,
                }
                continue;
            } else if pending.targets.sinks.is_empty()
                && let Some(batch) = pending.batch.take()
            {
                batch.resolve(AckStatus::Delivered);
            }
            break;
        }
        while pending.batch.is_some() && pending.next < pending.targets.len() {
            let (_, sink) = &pending.targets.sinks[pending.next];
            let last = pending.next + 1 == pending.targets.len();
            let Some(lane) = pending.batch.as_ref().map(|batch| sink.lane_for(batch)) else {
                break;
            };
            // The sink is gone (removed by a reload, or it failed): its
            // share is dropped, which counts as not delivered.
            let share = lane.reserve().await.ok();
            let batch = if last {
                pending.batch.take()
            } else {
                pending.batch.clone()
            };
            if let (Some(permit), Some(batch)) = (share, batch) {
                permit.send(batch);
            }
            pending.next += 1;
        }
        pending.batch = None;
    }

    fn refresh(&mut self) {
        if self.control.has_changed().unwrap_or(false) {
            self.targets = self.control.borrow_and_update().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::event::{AckReceiver, Attributes, Event, LogRecord, Resource};

    fn batch(rx: &AckReceiver, id: u64) -> EventBatch {
        let log = LogRecord::new(
            "x",
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        EventBatch::new(vec![Event::Log(log)], rx.ack(id))
    }

    #[tokio::test]
    async fn acknowledged_only_after_both_sinks_delivered() {
        let (a_tx, mut a_rx) = mpsc::channel(4);
        let (b_tx, mut b_rx) = mpsc::channel(4);
        let (mut fanout, _keep) = Fanout::fixed(vec![("a".into(), a_tx), ("b".into(), b_tx)]);
        let mut acks = AckReceiver::new();
        fanout.send(batch(&acks, 1)).await;

        let at_a = a_rx.recv().await.unwrap();
        let at_b = b_rx.recv().await.unwrap();
        at_a.resolve(AckStatus::Delivered);
        assert_eq!(acks.try_recv(), None, "sink b has not delivered yet");
        at_b.resolve(AckStatus::Delivered);
        assert_eq!(acks.try_recv(), Some((1, AckStatus::Delivered)));
    }

    #[tokio::test]
    async fn a_stopping_source_drops_what_it_still_emits_unacknowledged() {
        let (tx, _rx) = mpsc::channel(4);
        let (control, control_rx) = watch::channel(TargetSet::new(vec![("a".into(), tx.into())]));
        let mut fanout = Fanout::new(control_rx);
        let mut acks = AckReceiver::new();
        control.send_replace(TargetSet::stopping());
        fanout.send(batch(&acks, 1)).await;
        assert_eq!(acks.try_recv(), Some((1, AckStatus::Dropped)));

        // A source the configuration sends nowhere is another matter.
        control.send_replace(TargetSet::new(Vec::new()));
        fanout.send(batch(&acks, 2)).await;
        assert_eq!(acks.try_recv(), Some((2, AckStatus::Delivered)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_sink_makes_the_source_wait() {
        let (tx, mut rx) = mpsc::channel(1);
        let (mut fanout, _keep) = Fanout::fixed(vec![("slow".into(), tx)]);
        let acks = AckReceiver::new();
        fanout.send(batch(&acks, 1)).await;
        let blocked =
            tokio::time::timeout(Duration::from_secs(5), fanout.send(batch(&acks, 2))).await;
        assert!(blocked.is_err(), "second send must wait for room");
        drop(rx.recv().await);
    }

    #[tokio::test]
    async fn a_removed_sink_counts_as_dropped() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let (mut fanout, _keep) = Fanout::fixed(vec![("gone".into(), tx)]);
        let mut acks = AckReceiver::new();
        fanout.send(batch(&acks, 5)).await;
        assert_eq!(acks.try_recv(), Some((5, AckStatus::Dropped)));
    }

    #[tokio::test]
    async fn a_closed_sink_before_the_last_counts_as_dropped() {
        let (gone_tx, gone_rx) = mpsc::channel(1);
        drop(gone_rx);
        let (tx, mut rx) = mpsc::channel(1);
        let (mut fanout, _keep) = Fanout::fixed(vec![("gone".into(), gone_tx), ("b".into(), tx)]);
        let mut acks = AckReceiver::new();
        fanout.send(batch(&acks, 6)).await;
        rx.recv().await.unwrap().resolve(AckStatus::Delivered);
        assert_eq!(
            acks.try_recv(),
            Some((6, AckStatus::Dropped)),
            "one sink delivering does not make the batch delivered"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_a_sink_being_swapped_and_goes_to_its_replacement() {
        let (control, control_rx) =
            watch::channel(TargetSet::waiting(Vec::new(), vec!["ingest".into()]));
        let mut fanout = Fanout::new(control_rx);
        let mut acks = AckReceiver::new();
        let mut pending = fanout.start(batch(&acks, 8));
        let waited =
            tokio::time::timeout(Duration::from_secs(60), fanout.drive(&mut pending)).await;
        assert!(waited.is_err(), "no sink runs: the batch must wait");
        assert!(!pending.is_done());
        assert_eq!(acks.try_recv(), None, "nothing is acknowledged meanwhile");

        let (tx, mut rx) = mpsc::channel(1);
        control.send_replace(TargetSet::new(vec![("ingest".into(), tx.into())]));
        fanout.drive(&mut pending).await;
        assert!(pending.is_done());
        let delivered = rx.recv().await.unwrap();
        assert_eq!(acks.try_recv(), None);
        delivered.resolve(AckStatus::Delivered);
        assert_eq!(acks.try_recv(), Some((8, AckStatus::Delivered)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_source_that_is_stopped_drops_its_batch() {
        let (control, control_rx) =
            watch::channel(TargetSet::waiting(Vec::new(), vec!["ingest".into()]));
        let mut fanout = Fanout::new(control_rx);
        let mut acks = AckReceiver::new();
        let sending = tokio::spawn(async move {
            fanout.send(batch(&acks, 9)).await;
            acks.try_recv()
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        control.send_replace(TargetSet::stopping());
        assert_eq!(sending.await.unwrap(), Some((9, AckStatus::Dropped)));
    }
}
