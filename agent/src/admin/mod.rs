//! The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/status`.

mod server;

pub(crate) use server::http1;
pub use server::{AdminState, serve};
