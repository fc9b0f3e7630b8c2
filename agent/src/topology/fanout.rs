//! Delivery of a source's batches to every sink that names it.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::event::{AckStatus, EventBatch};

/// How many batches a sink's input channel holds before its sources wait.
pub const SINK_CHANNEL_BATCHES: usize = 8;

/// The sinks a source currently feeds, by name.
pub(crate) type Targets = Arc<TargetSet>;

/// What the topology tells a source's fanout: the sinks to feed, or that the
/// source is being stopped.
#[derive(Debug, Default)]
pub(crate) struct TargetSet {
    sinks: Vec<(Arc<str>, mpsc::Sender<EventBatch>)>,
    stopping: bool,
}

impl TargetSet {
    pub(crate) fn new(sinks: Vec<(Arc<str>, mpsc::Sender<EventBatch>)>) -> Targets {
        Arc::new(TargetSet {
            sinks,
            stopping: false,
        })
    }

    /// The source is stopping: its senders are released so the sinks'
    /// inputs can close, and whatever it still emits is dropped
    /// unacknowledged (read again after a restart), never acknowledged as
    /// delivered.
    pub(crate) fn stopping() -> Targets {
        Arc::new(TargetSet {
            sinks: Vec::new(),
            stopping: true,
        })
    }

    fn len(&self) -> usize {
        self.sinks.len()
    }

    fn is_empty(&self) -> bool {
        self.sinks.is_empty()
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
    /// Whether every target has the batch.
    pub fn is_done(&self) -> bool {
        self.next >= self.targets.len()
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
        let (tx, rx) = watch::channel(TargetSet::new(targets));
        (Fanout::new(rx), FanoutControl { _sender: tx })
    }

    /// Send `batch` to every target, waiting while any target is full.
    pub async fn send(&mut self, batch: EventBatch) {
        let mut pending = self.start(batch);
        self.drive(&mut pending).await;
    }

    /// Begin sending `batch`; [`Fanout::drive`] completes it. Splitting the
    /// two lets a blocking source wait in slices and do housekeeping
    /// between them without losing or duplicating a batch.
    ///
    /// A source nobody reads from resolves its batches as delivered: the
    /// configuration sends them nowhere, and holding its checkpoints back
    /// would only replay them into nowhere again. A source being stopped
    /// drops its batches instead: they stay unacknowledged.
    pub fn start(&mut self, batch: EventBatch) -> PendingSend {
        if self.control.has_changed().unwrap_or(false) {
            self.targets = self.control.borrow_and_update().clone();
        }
        if self.targets.is_empty() {
            if self.targets.stopping {
                drop(batch);
            } else {
                batch.resolve(AckStatus::Delivered);
            }
            return PendingSend {
                batch: None,
                targets: Arc::clone(&self.targets),
                next: 0,
            };
        }
        PendingSend {
            batch: Some(batch),
            targets: Arc::clone(&self.targets),
            next: 0,
        }
    }

    /// Deliver `pending` to its remaining targets. Cancel-safe: dropping
    /// the future loses nothing, and calling it again resumes.
    pub async fn drive(&mut self, pending: &mut PendingSend) {
        while pending.next < pending.targets.len() {
            let (_, tx) = &pending.targets.sinks[pending.next];
            let last = pending.next + 1 == pending.targets.len();
            // A closed channel means the sink was removed by a reload; its
            // share is dropped and counts as not delivered.
            if let Ok(permit) = tx.reserve().await {
                let batch = if last {
                    pending.batch.take()
                } else {
                    pending.batch.clone()
                };
                if let Some(batch) = batch {
                    permit.send(batch);
                }
            }
            pending.next += 1;
        }
        pending.batch = None;
    }

    /// Whether any sink reads from this source.
    pub fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let (control, control_rx) = watch::channel(TargetSet::new(vec![("a".into(), tx)]));
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
        let blocked = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            fanout.send(batch(&acks, 2)),
        )
        .await;
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
}
