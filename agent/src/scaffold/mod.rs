//! `neurallog-agent plugin new`: a standalone plugin crate (a check, or
//! with `--kind processor` a log processor), made from what the agent
//! carries inside its binary.
//!
//! `build.rs` embeds the plugin SDK as it is packaged (its manifest, README,
//! sources and its copy of the WIT contract), the templates' code and
//! the plugins workspace's lock file. [`Scaffold::files`] turns them into
//! the files of a new crate: its own `Cargo.toml` (a `cdylib`, a workspace
//! of its own, the SDK vendored under `vendor/neurallog-plugin-sdk` or taken
//! from the registry), the template as `src/lib.rs` with its unit tests, a
//! README and a lock file, so that one command builds it anywhere:
//! `cargo build --release --target wasm32-wasip2`. Writing them to disk is
//! the command's (`cmd/plugin_new.rs`).

mod embedded;
mod render;

#[cfg(test)]
mod tests;

pub use render::{PluginKind, SDK_VENDOR_DIR, Scaffold, ScaffoldError, SdkSource, sdk_version};
