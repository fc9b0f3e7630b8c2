//! Encodings shared by sinks.

pub mod json;
