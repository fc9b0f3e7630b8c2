//! NeuralLog agent.
