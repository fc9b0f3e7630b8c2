//! The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/status`.

mod server;

pub use server::{AdminState, serve};
