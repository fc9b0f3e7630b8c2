//! The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/status`.

mod exposition;
mod server;

pub use exposition::Exposition;
pub use server::{AdminState, serve};
