//! End-to-end acknowledgements.
//!
//! A source that cares when its events are delivered (the file source moves
//! its checkpoints on this) creates an [`AckReceiver`] and stamps each batch
//! with an [`Ack`] from it. The pipeline clones the `Ack` once per sink the
//! batch fans out to, and a sink that splits a batch clones it again for
//! each piece. Every holder must [`resolve`](Ack::resolve) its clone; a clone
//! dropped unresolved counts as [`AckStatus::Dropped`]. When the last clone
//! is gone the receiver gets the batch id with the worst status any holder
//! reported.
//!
//! The number of outstanding batches is bounded by the pipeline's channel
//! capacities and each sink's in-flight limit, so the notification channel,
//! though unbounded in type, holds at most that many entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::mpsc;

/// Identifies a batch within the source that created it.
pub type BatchId = u64;

/// What became of a batch, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AckStatus {
    /// Every sink delivered it.
    Delivered,
    /// A sink's receiver rejected it for good (a 4xx other than 413/429),
    /// and the sink recorded it in its dead-letter file. The source may move
    /// on: retrying would be rejected again.
    Rejected,
    /// At least one sink gave it up undelivered (shut down before delivery,
    /// queue overflow). The source must not move past it.
    Dropped,
}

/// A holder's share of a batch's acknowledgement.
#[derive(Debug, Default)]
pub struct Ack {
    inner: Option<Arc<AckInner>>,
}

/// Receives the final status of each batch a source stamped.
#[derive(Debug)]
pub struct AckReceiver {
    tx: mpsc::UnboundedSender<(BatchId, AckStatus)>,
    rx: mpsc::UnboundedReceiver<(BatchId, AckStatus)>,
}

#[derive(Debug)]
struct AckInner {
    id: BatchId,
    status: AtomicU8,
    tx: mpsc::UnboundedSender<(BatchId, AckStatus)>,
}

// === impl AckStatus ===

impl AckStatus {
    /// Whether the source may consider the batch finished and move on.
    pub fn is_final(self) -> bool {
        matches!(self, AckStatus::Delivered | AckStatus::Rejected)
    }

    fn from_u8(v: u8) -> AckStatus {
        match v {
            0 => AckStatus::Delivered,
            1 => AckStatus::Rejected,
            _ => AckStatus::Dropped,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            AckStatus::Delivered => 0,
            AckStatus::Rejected => 1,
            AckStatus::Dropped => 2,
        }
    }
}

// === impl Ack ===

impl Ack {
    /// An acknowledgement nobody waits for.
    pub const fn none() -> Self {
        Ack { inner: None }
    }

    /// Whether a source waits on this acknowledgement.
    pub fn is_tracked(&self) -> bool {
        self.inner.is_some()
    }

    /// Report this holder's outcome and give up the share.
    pub fn resolve(mut self, status: AckStatus) {
        if let Some(inner) = self.inner.take() {
            inner.status.fetch_max(status.as_u8(), Ordering::AcqRel);
        }
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Ack {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner
                .status
                .fetch_max(AckStatus::Dropped.as_u8(), Ordering::AcqRel);
        }
    }
}

impl Drop for AckInner {
    fn drop(&mut self) {
        let status = AckStatus::from_u8(self.status.load(Ordering::Acquire));
        // The receiver may be gone (its source stopped); nothing waits then.
        let _ = self.tx.send((self.id, status));
    }
}

// === impl AckReceiver ===

impl AckReceiver {
    /// A receiver with no outstanding batches.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        AckReceiver { tx, rx }
    }

    /// An acknowledgement for batch `id`, to stamp on the batch.
    pub fn ack(&self, id: BatchId) -> Ack {
        Ack {
            inner: Some(Arc::new(AckInner {
                id,
                status: AtomicU8::new(AckStatus::Delivered.as_u8()),
                tx: self.tx.clone(),
            })),
        }
    }

    /// The next batch whose every holder has finished, with its status.
    ///
    /// Never returns `None` while the receiver lives (it holds a sender
    /// itself); use it in a `select!` beside the source's other work.
    pub async fn recv(&mut self) -> Option<(BatchId, AckStatus)> {
        self.rx.recv().await
    }

    /// A finished batch, if one is ready now.
    pub fn try_recv(&mut self) -> Option<(BatchId, AckStatus)> {
        self.rx.try_recv().ok()
    }
}

impl Default for AckReceiver {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_after_every_clone_resolved() {
        let mut rx = AckReceiver::new();
        let ack = rx.ack(7);
        let a = ack.clone();
        let b = ack.clone();
        ack.clone().resolve(AckStatus::Delivered);
        ack.resolve(AckStatus::Delivered);
        a.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), None, "one holder is still outstanding");
        b.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), Some((7, AckStatus::Delivered)));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn worst_status_wins() {
        let mut rx = AckReceiver::new();
        let ack = rx.ack(1);
        let other = ack.clone();
        ack.resolve(AckStatus::Rejected);
        other.resolve(AckStatus::Delivered);
        assert_eq!(rx.try_recv(), Some((1, AckStatus::Rejected)));
    }

    #[test]
    fn dropping_unresolved_counts_as_dropped() {
        let mut rx = AckReceiver::new();
        let ack = rx.ack(3);
        let other = ack.clone();
        ack.resolve(AckStatus::Delivered);
        drop(other);
        assert_eq!(rx.try_recv(), Some((3, AckStatus::Dropped)));
        assert!(!AckStatus::Dropped.is_final());
    }

    #[test]
    fn untracked_ack_costs_nothing() {
        let ack = Ack::none();
        assert!(!ack.is_tracked());
        ack.clone().resolve(AckStatus::Delivered);
    }
}
