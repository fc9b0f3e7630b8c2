//! Pieces shared by the sinks that ship over HTTP (`otlp_http`,
//! `prometheus_remote_write`): batching, retries, the HTTP client with TLS,
//! auth headers, the dead-letter file and the disk-queue plumbing.

pub mod auth;
pub mod batch;
pub mod build;
pub mod compression;
pub mod dead_letter;
pub mod driver;
pub mod http;
pub mod queue;
pub mod retry;
pub mod service;
pub mod tls;
