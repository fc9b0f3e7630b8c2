//! The loop of the sinks that write JSON lines locally (`console`, `file`):
//! encode a batch, write it, and acknowledge it only once written.

use super::json::encode_line;
use crate::error::Chain;
use crate::event::AckStatus;
use crate::telemetry::events::{ComponentError, ErrorStage};
use crate::topology::SinkContext;

/// Where a JSON-lines sink puts its bytes.
pub trait LineWriter: Send {
    /// Write `buf` (whole lines) durably enough to acknowledge it.
    fn write(&mut self, buf: &[u8]) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// Write every batch of `cx`'s input as JSON lines to `writer` until the
/// input ends. A batch is acknowledged as delivered once written, or
/// dropped (and the error counted) when the write fails; at the hard stop
/// the batch being written is left unacknowledged.
pub async fn write_batches(cx: &mut SinkContext, writer: &mut impl LineWriter) {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(batch) = cx.input.recv().await {
        buf.clear();
        for event in batch.events() {
            encode_line(event, &mut buf);
        }
        let written = tokio::select! {
            result = writer.write(&buf) => result,
            () = cx.hard_stop.cancelled() => return,
        };
        match written {
            Ok(()) => {
                cx.metrics.sent(batch.len(), buf.len());
                batch.resolve(AckStatus::Delivered);
            }
            Err(error) => {
                ComponentError {
                    component: &cx.metrics,
                    error_type: "write_failed",
                    stage: ErrorStage::Sending,
                    error: Chain(&error),
                }
                .emit();
                batch.resolve(AckStatus::Dropped);
            }
        }
    }
}
