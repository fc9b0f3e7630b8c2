//! NeuralLog agent.

pub mod wasm;
