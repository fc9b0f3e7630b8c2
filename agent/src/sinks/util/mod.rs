//! Pieces shared by the sinks that ship over HTTP (`otlp_http`,
//! `prometheus_remote_write`): batching, retries, the HTTP client with TLS,
//! auth headers, the dead-letter file and the disk-queue plumbing.

pub mod auth;
pub mod prometheus_names;
pub mod retry;
pub mod tls;
