//! The host the plugin runs in, behind one set of functions with two
//! implementations:
//!
//! - `wasm` (built for `wasm32-wasip2`): the agent's imports, through the
//!   bindings wit-bindgen generates from `wit/plugin.wit` (`bindings`), and
//!   the glue that exports a [`crate::Check`] as the world's `describe` and
//!   `run`;
//! - `native` (every other target, so `cargo test`): an in-memory mock that
//!   tests configure through [`crate::testing`].
//!
//! The public modules ([`crate::tls`], [`crate::state`], ...) call
//! `imp::*` and never see which one they got.

#[cfg(target_family = "wasm")]
pub mod bindings;
#[cfg(target_family = "wasm")]
pub mod column_processor_bindings;
#[cfg(target_family = "wasm")]
pub mod processor_bindings;
#[cfg(target_family = "wasm")]
pub mod wasm;
#[cfg(target_family = "wasm")]
pub(crate) use wasm as imp;

#[cfg(not(target_family = "wasm"))]
pub(crate) mod native;
#[cfg(not(target_family = "wasm"))]
pub(crate) use native as imp;
