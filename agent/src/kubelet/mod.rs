//! The kubelet on this node, over HTTPS with the service-account token:
//! `/stats/summary` for pod metrics, `/pods` for log metadata. Only the
//! node's own kubelet is ever asked; nothing watches the cluster's API.

mod client;
mod config;
mod error;
mod tls;

pub use client::{Kubelet, KubeletSettings};
pub use config::{KubeletConfig, KubeletOverrides, present, validate_overrides};
pub use error::KubeletError;
