//! The `otlp_http` sink: logs, metrics and check results to an OTLP/HTTP
//! receiver as protobuf (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).
//!
//! Logs go straight into requests (up to `concurrency` in flight) and are
//! acknowledged to their source only after a 2xx; their files are their
//! buffer. Metrics and check results are written to the sink's disk queue,
//! acknowledged once written, and sent from it in order. Both paths share
//! retries, 413 splitting and the dead-letter file
//! ([`crate::sinks::util::service`]).

mod config;
mod convert;
mod logs;
mod metrics;
mod protocol;
pub mod record;
#[cfg(test)]
mod tests;
mod wire;

pub use config::OtlpHttpSinkConfig;
pub use logs::{CHECK_EVENT_NAME, SCOPE_NAME, SCOPE_VERSION};
pub use protocol::{Otlp, Signal};

use crate::sinks::util::build::{ServiceSettings, http_sink, join_path, parse_endpoint};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// Build the sink: reads TLS and token files, opens the disk queue.
pub fn build(config: &OtlpHttpSinkConfig, cx: SinkContext) -> Result<BoxedComponent, BuildError> {
    let endpoint = parse_endpoint(&config.endpoint).map_err(BuildError::new)?;
    let protocol = Otlp {
        logs: join_path(&endpoint, "/v1/logs")?,
        metrics: join_path(&endpoint, "/v1/metrics")?,
    };
    let settings = ServiceSettings {
        endpoint: &endpoint,
        tls: config.tls.as_ref(),
        timeout_ms: config.timeout_ms,
        concurrency: config.concurrency,
        headers: &config.headers,
        auth: &config.auth,
        tenant: config.tenant.as_ref(),
        retry: &config.retry,
        dead_letter: &config.dead_letter,
        codec: config.compression.codec(),
        queue: &config.queue,
        batch: &config.batch,
    };
    http_sink(protocol, settings, cx)
}
