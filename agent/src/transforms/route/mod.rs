//! The `route` transform: send each log record to the named outputs whose
//! condition it matches, in the condition language of `filter`. Components
//! read an output by naming `ROUTE_ID.ROUTE_NAME` in their `inputs`;
//! records no route matched (and metrics and check results, which no
//! condition tests) go to `ROUTE_ID._unmatched`.
//!
//! ```yaml
//! transforms:
//!   by_tenant:
//!     type: route
//!     inputs: [app]
//!     routes:
//!       payments: { field: attributes.namespace, equals: payments }
//!       search: { field: attributes.namespace, regex: '^search-' }
//! sinks:
//!   payments:
//!     type: otlp_http
//!     inputs: [by_tenant.payments]
//! ```
//!
//! A record that matches several routes goes to each, and its batch's
//! acknowledgement is shared among them: the source hears once every
//! output's consumers are done, with the worst outcome.

mod config;
mod router;

#[cfg(test)]
mod tests;

pub use config::RouteConfig;
pub use router::Router;

/// The output of records no route matched.
pub const UNMATCHED: &str = "_unmatched";

use crate::telemetry::events::TransformMetrics;
use crate::topology::{BoxedComponent, BuildError, Fanout, TransformContext};

/// Build the route transform `config` describes.
pub fn build(config: &RouteConfig, cx: TransformContext) -> Result<BoxedComponent, BuildError> {
    let router = Router::new(config)?;
    let TransformContext {
        mut input,
        mut outputs,
        metrics,
        ..
    } = cx;
    // The topology made one fanout per name `RouteConfig::outputs` gave;
    // put them in the router's order.
    let mut ordered: Vec<Fanout> = Vec::with_capacity(outputs.len());
    for name in config.outputs() {
        let at = outputs
            .iter()
            .position(|(output, _)| **output == *name)
            .ok_or_else(|| BuildError::new(format!("the topology gave no output `{name}`")))?;
        ordered.push(outputs.swap_remove(at).1);
    }
    let metrics = TransformMetrics::new(metrics);
    Ok(Box::pin(async move {
        while let Some(batch) = input.recv().await {
            for (output, batch) in router.route(batch, &metrics) {
                if let Some(out) = ordered.get_mut(output) {
                    out.hand_on(batch).await;
                }
            }
        }
    }))
}
