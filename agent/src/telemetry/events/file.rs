//! Events of the file and Kubernetes log sources.

use std::fmt;
use std::path::Path;

use super::component::{ComponentError, ComponentMetrics, ErrorStage};
use crate::telemetry::{Counter, Gauge, registry};

/// Why a file was let go or data was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    /// A rotated or deleted file was held past `max_hold_secs`.
    MaxHoldSecs,
    /// Rotated or deleted files held more than `max_held_bytes` unread.
    MaxHeldBytes,
    /// The file was truncated before these bytes were read, and no copy
    /// of them was found.
    Truncated,
    /// Reading failed for good (I/O error).
    ReadError,
    /// A deleted file was still held, not all acknowledged, when the
    /// source stopped: nothing can open it again.
    DeletedAtStop,
    /// A checkpointed file was gone (deleted, or moved out of reach) when
    /// the source started, with bytes past its saved checkpoint (after a
    /// kill -9, some of them may have been delivered before it).
    GoneWhileStopped,
    /// A checkpointed file was rewritten or truncated while the agent was
    /// stopped, with no copy found: the bytes past its saved checkpoint
    /// (after a kill -9, some may have been delivered before it).
    RewrittenWhileStopped,
    /// A file found while the open-file budget was spent left every path
    /// before it got a descriptor (rotated away and deleted): its size
    /// when found, none of it read.
    GoneWhileWaiting,
}

/// How a file changed under the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    /// Renamed away and replaced by a new file.
    Rename,
    /// Copied and truncated in place (the copy was found and drained).
    CopyTruncate,
    /// Truncated (or rewritten) in place.
    Truncate,
    /// Deleted.
    Delete,
}

/// Handles of one log source's metrics.
#[derive(Debug, Clone)]
pub struct FileSourceMetrics {
    /// Per-component counters (lines and bytes read).
    pub component: ComponentMetrics,
    files_open: Gauge,
    files_waiting: Gauge,
    files_idle_closed: Counter,
    checkpoint_lag: Gauge,
    truncated_lines: Counter,
    dropped_batches: Counter,
    rewinds: Counter,
    rewound_bytes: Counter,
}

/// A file was found and opened.
#[derive(Debug)]
pub struct FileOpened<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
    /// Where reading starts.
    pub offset: u64,
}

/// A file was rotated, truncated or deleted.
#[derive(Debug)]
pub struct FileRotated<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
    /// What happened.
    pub kind: RotationKind,
}

/// Bytes were given up: counted with the path and the reason, never silent.
#[derive(Debug)]
pub struct FileBytesLost<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
    /// How many bytes.
    pub bytes: u64,
    /// Why.
    pub reason: LossReason,
}

/// A batch came back undelivered and its file is read again from where
/// the batch began. What it reads again may arrive twice.
#[derive(Debug)]
pub struct FileRewound<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
    /// Where reading resumes.
    pub offset: u64,
    /// Bytes that will be read again.
    pub bytes: u64,
    /// How long the file waits before it is read again.
    pub retry_in: std::time::Duration,
    /// The first rewind since the file's last delivery (logged above
    /// `debug`; the ones in a row after it are not).
    pub first: bool,
}

/// A held file was read to its end, acknowledged and closed.
#[derive(Debug)]
pub struct FileClosed<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
}

/// An idle file (read to its end, every batch acknowledged) was closed to
/// give its descriptor to a file waiting for one.
#[derive(Debug)]
pub struct FileIdleClosed<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The file.
    pub path: &'a Path,
    /// Where it will be read on from when it grows.
    pub offset: u64,
}

/// `max_open_files` files are open and more were found: from now on idle
/// files are closed to make room, and found files wait for a descriptor.
#[derive(Debug)]
pub struct OpenFileBudgetReached<'a> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The budget.
    pub max_open_files: usize,
}

/// Reading or checkpointing failed; retried.
#[derive(Debug)]
pub struct FileSourceError<'a, E: fmt::Display> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// `read_failed`, `open_failed`, `checkpoint_write_failed`.
    pub error_type: &'static str,
    /// The file concerned.
    pub path: &'a Path,
    /// The error.
    pub error: E,
}

// === impl LossReason ===

impl LossReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::MaxHoldSecs => "max_hold_secs",
            LossReason::MaxHeldBytes => "max_held_bytes",
            LossReason::Truncated => "truncated",
            LossReason::ReadError => "read_error",
            LossReason::DeletedAtStop => "deleted_at_stop",
            LossReason::GoneWhileStopped => "gone_while_stopped",
            LossReason::RewrittenWhileStopped => "rewritten_while_stopped",
            LossReason::GoneWhileWaiting => "gone_while_waiting",
        }
    }
}

// === impl RotationKind ===

impl RotationKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationKind::Rename => "rename",
            RotationKind::CopyTruncate => "copytruncate",
            RotationKind::Truncate => "truncate",
            RotationKind::Delete => "delete",
        }
    }
}

// === impl FileSourceMetrics ===

impl FileSourceMetrics {
    /// Resolve the handles of a source.
    pub fn new(component: ComponentMetrics) -> Self {
        let labels = vec![("component_id", component.id().to_owned())];
        let r = registry();
        FileSourceMetrics {
            files_open: r.gauge("neurallog_agent_files_open", "Files a log source holds open.", labels.clone()),
            files_waiting: r.gauge(
                "neurallog_agent_files_waiting",
                "Files a log source found (or saw grow) that wait for a descriptor: max_open_files are open.",
                labels.clone(),
            ),
            files_idle_closed: r.counter(
                "neurallog_agent_files_idle_closed_total",
                "Files read to their end and acknowledged that were closed to give their descriptor to a waiting file; they are opened again when they grow.",
                labels.clone(),
            ),
            checkpoint_lag: r.gauge(
                "neurallog_agent_file_checkpoint_lag_bytes",
                "Bytes in tailed files not yet acknowledged by every sink (file sizes minus checkpoints).",
                labels.clone(),
            ),
            truncated_lines: r.counter(
                "neurallog_agent_file_lines_truncated_total",
                "Lines cut at max_line_bytes.",
                labels.clone(),
            ),
            dropped_batches: r.counter(
                "neurallog_agent_file_batches_undelivered_total",
                "Batches a sink gave up undelivered; their files are read again from where they began.",
                labels.clone(),
            ),
            rewinds: r.counter(
                "neurallog_agent_file_rewinds_total",
                "Times a file was read again from an earlier offset because a batch of it was not delivered.",
                labels.clone(),
            ),
            rewound_bytes: r.counter(
                "neurallog_agent_file_rewound_bytes_total",
                "Bytes read again after undelivered batches (they may arrive twice).",
                labels,
            ),
            component,
        }
    }

    /// Set the number of open files.
    pub fn set_files_open(&self, n: usize) {
        self.files_open.set(n as f64);
    }

    /// Set the number of files waiting for a descriptor.
    pub fn set_files_waiting(&self, n: usize) {
        self.files_waiting.set(n as f64);
    }

    /// Set the checkpoint lag.
    pub fn set_checkpoint_lag(&self, bytes: u64) {
        self.checkpoint_lag.set(bytes as f64);
    }

    /// A line was cut.
    pub fn line_truncated(&self) {
        self.truncated_lines.inc();
    }

    /// A batch came back undelivered.
    pub fn batch_undelivered(&self) {
        self.dropped_batches.inc();
    }

    fn labels(&self) -> Vec<(&'static str, String)> {
        vec![("component_id", self.component.id().to_owned())]
    }
}

// === impl FileOpened ===

impl FileOpened<'_> {
    /// Log the event.
    pub fn emit(self) {
        tracing::debug!(component_id = %self.metrics.component.id(), path = %self.path.display(), offset = self.offset, "Tailing file.");
    }
}

// === impl FileRotated ===

impl FileRotated<'_> {
    /// Log and count the rotation.
    pub fn emit(self) {
        tracing::debug!(component_id = %self.metrics.component.id(), path = %self.path.display(), kind = self.kind.as_str(), "File rotated.");
        let mut labels = self.metrics.labels();
        labels.push(("kind", self.kind.as_str().to_owned()));
        registry()
            .counter(
                "neurallog_agent_file_rotations_total",
                "Rotations, truncations and deletions seen, by kind.",
                labels,
            )
            .inc();
    }
}

// === impl FileBytesLost ===

impl FileBytesLost<'_> {
    /// Log and count the loss.
    pub fn emit(self) {
        if self.bytes == 0 {
            return;
        }
        tracing::warn!(
            component_id = %self.metrics.component.id(),
            path = %self.path.display(),
            bytes = self.bytes,
            reason = self.reason.as_str(),
            "Gave up unread bytes of a file."
        );
        let mut labels = self.metrics.labels();
        labels.push(("path", self.path.display().to_string()));
        labels.push(("reason", self.reason.as_str().to_owned()));
        registry()
            .counter(
                "neurallog_agent_file_bytes_lost_total",
                "Bytes of tailed files given up unread, by path and reason.",
                labels,
            )
            .add(self.bytes);
    }
}

// === impl FileRewound ===

impl FileRewound<'_> {
    /// Log and count the rewind.
    pub fn emit(self) {
        if self.first {
            tracing::warn!(
                path = %self.path.display(),
                offset = self.offset,
                bytes = self.bytes,
                retry_in_ms = self.retry_in.as_millis() as u64,
                "A batch was not delivered; reading the file again from where it began."
            );
        } else {
            tracing::debug!(
                path = %self.path.display(),
                offset = self.offset,
                bytes = self.bytes,
                retry_in_ms = self.retry_in.as_millis() as u64,
                "A batch was not delivered again; reading the file again after a longer wait."
            );
        }
        self.metrics.rewinds.inc();
        self.metrics.rewound_bytes.add(self.bytes);
    }
}

// === impl FileClosed ===

impl FileClosed<'_> {
    /// Log the event.
    pub fn emit(self) {
        tracing::debug!(component_id = %self.metrics.component.id(), path = %self.path.display(), "Rotated file drained and closed.");
    }
}

// === impl FileIdleClosed ===

impl FileIdleClosed<'_> {
    /// Log and count the event.
    pub fn emit(self) {
        tracing::debug!(component_id = %self.metrics.component.id(), path = %self.path.display(), offset = self.offset, "Idle file closed to make room; it is opened again when it grows.");
        self.metrics.files_idle_closed.inc();
    }
}

// === impl OpenFileBudgetReached ===

impl OpenFileBudgetReached<'_> {
    /// Log the event (once per source run: the caller keeps track).
    pub fn emit(self) {
        tracing::info!(
            component_id = %self.metrics.component.id(),
            max_open_files = self.max_open_files,
            "Open file budget reached; found files wait for a descriptor and idle files are closed to make room."
        );
    }
}

// === impl FileSourceError ===

impl<E: fmt::Display> FileSourceError<'_, E> {
    /// Log and count the error.
    pub fn emit(self) {
        ComponentError {
            component: &self.metrics.component,
            error_type: self.error_type,
            stage: ErrorStage::Receiving,
            error: format_args!("{}: {}", self.path.display(), self.error),
        }
        .emit();
    }
}

/// The kubelet's pod list could not be fetched; records keep the metadata
/// of the last good list (or what their paths say).
#[derive(Debug)]
pub struct KubeletMetadataFailed<'a, E: fmt::Display> {
    /// Metrics of the source.
    pub metrics: &'a FileSourceMetrics,
    /// The error.
    pub error: E,
    /// The previous attempt succeeded (log this one; later ones are only
    /// counted).
    pub first: bool,
}

// === impl KubeletMetadataFailed ===

impl<E: fmt::Display> KubeletMetadataFailed<'_, E> {
    /// Count the failure; log it when it is the first of a run of them.
    pub fn emit(self) {
        if self.first {
            tracing::warn!(component_id = %self.metrics.component.id(), error = %self.error, "Cannot fetch pod metadata from the kubelet; logs flow on with what their paths say.");
        }
        let mut labels = self.metrics.component.labels();
        labels.push(("error_type", "kubelet_metadata_failed".to_owned()));
        labels.push(("stage", ErrorStage::Receiving.as_str().to_owned()));
        registry()
            .counter(
                "neurallog_agent_component_errors_total",
                "Errors a component met, by error type and stage.",
                labels,
            )
            .inc();
    }
}
