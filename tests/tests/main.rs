//! Integration tests: the real `neurallog-agent` binary against real peers
//! (Prometheus from Debian's package, the `opentelemetry-proto` Python
//! decoder, real TLS). One test binary, a module per area.

mod support;

mod chaos;
mod checks;
mod cli;
mod file_source;
mod kubernetes_logs;
mod lifecycle;
mod metrics;
mod packaging;
mod shipping;
mod transforms;
mod transforms_wasm;
