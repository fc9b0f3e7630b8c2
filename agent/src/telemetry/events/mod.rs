//! Typed internal events: each `emit()` writes the log line and updates the
//! metric together. One file per area, after Vector's `internal_events`.
//!
//! Metric names follow `neurallog_agent_<noun>_<unit>_total`; error counters
//! carry `error_type` and `stage`.

mod auth;
mod check;
mod component;
mod file;
mod lifecycle;
mod metrics;
mod processor;
mod prometheus;
mod sink;
mod transform;

pub use auth::{SinkAuthAccepted, SinkAuthFailed};
pub use check::{
    CheckMetrics, CheckRunFinished, CheckStatusChanged, PluginLoadFailed, PluginLoaded,
    PluginWorkerDied, PluginWorkerRestarted, PluginWorkerStarted, WorkerOwner,
};
pub use component::{ComponentError, ComponentMetrics, ErrorStage};
pub use file::{
    FileBytesLost, FileClosed, FileIdleClosed, FileOpened, FileRewound, FileRotated,
    FileSourceError, FileSourceMetrics, KubeletMetadataFailed, LossReason, OpenFileBudgetReached,
    RotationKind,
};
pub use lifecycle::{BuildInfo, ConfigReloadFailed, ConfigReloaded};
pub use metrics::{
    CollectorFailed, KubeletVerificationDisabled, MetricsCollected, PodMetricsFromCgroups,
};
pub use processor::ProcessorBatchFailed;
pub use prometheus::{
    PrometheusExporterListening, PrometheusMetricSkipped, PrometheusSeriesExpired,
    PrometheusSeriesStored,
};
pub use sink::{
    BearerTokenReloaded, InsecureTlsEnabled, QueueLeftUnread, QueueRecordsCorrupt,
    SinkDeadLettered, SinkDelivered, SinkEventsDropped, SinkEventsUnsupported, SinkPartialSuccess,
    SinkRequestCompleted, SinkRequestFailed, SinkRequestSplit, SinkRetrying, SinkTelemetry,
};
pub use transform::{
    RedactionMetrics, TransformEventsDropped, TransformMetrics, TransformParseFailed,
    TransformRedacted, TransformSeriesDropped,
};
