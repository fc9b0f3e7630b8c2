//! The `neurallog-agent` binary.
fn main() {}
