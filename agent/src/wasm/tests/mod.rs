//! Sandbox tests with real components: the test-only guests in
//! `tests/plugins/` (built once per test process, see `support`), a real
//! engine, real files, real TLS.

mod grants;
mod loading;
mod resources;
mod sandbox;
pub(crate) mod support;
mod tls;
