//! Events of `wasm` transforms: a processor plugin that failed a batch.

use crate::telemetry::escape_controls;
use crate::telemetry::registry;

use super::ComponentMetrics;

/// A processor failed a batch (a trap, a limit, its own error, output over
/// the bound), and what became of the batch: `passed` on unprocessed, or
/// `held` to be tried again. Never lost either way.
#[derive(Debug)]
pub struct ProcessorBatchFailed<'a> {
    /// The transform's metrics.
    pub metrics: &'a ComponentMetrics,
    /// The failure's `snake_case` reason (`trap`, `deadline_exceeded`...).
    pub reason: &'static str,
    /// `passed` or `held`.
    pub action: &'static str,
    /// Log records in the batch.
    pub records: usize,
    /// What happened, from the sandbox or the plugin.
    pub message: &'a str,
}

// === impl ProcessorBatchFailed ===

impl ProcessorBatchFailed<'_> {
    /// Log it and count it.
    pub fn emit(self) {
        let message = escape_controls(self.message);
        tracing::warn!(
            component_id = %self.metrics.id(),
            error_type = self.reason,
            action = self.action,
            records = self.records,
            %message,
            "Processor plugin failed a batch."
        );
        let mut labels = self.metrics.labels();
        labels.push(("error_type", self.reason.to_owned()));
        labels.push(("stage", "processing".to_owned()));
        labels.push(("action", self.action.to_owned()));
        registry()
            .counter(
                "neurallog_agent_transform_processor_failures_total",
                "Batches a Wasm processor failed, by reason and by what became of the batch (`passed` on unprocessed or `held` for a retry).",
                labels,
            )
            .inc();
    }
}
