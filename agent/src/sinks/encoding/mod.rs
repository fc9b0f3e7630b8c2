//! Encodings shared by sinks.

pub mod json;
pub mod lines;
