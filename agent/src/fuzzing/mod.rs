//! Fuzz harnesses: one function per target, each feeding arbitrary bytes to
//! the agent's real parsers, framing, queue and encoders and checking an
//! invariant stronger than "does not panic" (a record read back was
//! written, frames cover their input exactly, an encoding decodes to what
//! was encoded).
//!
//! The `fuzz/` crate (cargo-fuzz, nightly) calls these functions; the tests
//! here replay every committed corpus file (`fuzz/corpus/<target>/`)
//! through the same functions on stable, so CI checks them without a
//! fuzzer. Compiled only for tests and with the `fuzzing` feature.
//!
//! A harness signals a broken invariant by panicking, which is what
//! libFuzzer records as a crash.

mod checkpoint;
mod config;
mod container;
mod disk_queue;
mod framing;
mod input;
mod kubelet;
mod multiline;
mod otlp;
#[cfg(test)]
mod tests;
mod transforms;

pub use input::Input;

/// A harness: takes any bytes, panics when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and of its
/// corpus directory.
pub const TARGETS: &[(&str, Harness)] = &[
    ("container_line", container::run),
    ("framing", framing::run),
    ("multiline", multiline::run),
    ("config", config::run),
    ("disk_queue", disk_queue::run),
    ("checkpoint", checkpoint::run),
    ("otlp", otlp::run),
    ("kubelet", kubelet::run),
    ("transforms", transforms::run),
];

/// CRI and docker json-file lines, and the joining of partial lines.
pub fn container_line(data: &[u8]) {
    container::run(data);
}

/// Framing a file (plain or gzip) into lines.
pub fn framing(data: &[u8]) {
    framing::run(data);
}

/// Multiline grouping (presets and custom rules).
pub fn multiline(data: &[u8]) {
    multiline::run(data);
}

/// The configuration loader: YAML, interpolation, typed config, validation.
pub fn config(data: &[u8]) {
    config::run(data);
}

/// Disk-queue segments and cursor, written then damaged.
pub fn disk_queue(data: &[u8]) {
    disk_queue::run(data);
}

/// File-source checkpoint files, written then damaged, or any bytes.
pub fn checkpoint(data: &[u8]) {
    checkpoint::run(data);
}

/// OTLP encoding, decoded back with `prost`.
pub fn otlp(data: &[u8]) {
    otlp::run(data);
}

/// The kubelet's `/pods` and `/stats/summary` JSON.
pub fn kubelet(data: &[u8]) {
    kubelet::run(data);
}

/// The transforms that read a line's text: `parse` (every format), then
/// `redact`.
pub fn transforms(data: &[u8]) {
    transforms::run(data);
}
