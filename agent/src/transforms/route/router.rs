//! Splitting a batch among the routes, with its acknowledgement shared.

use crate::event::{AckStatus, Event, EventBatch};
use crate::telemetry::events::TransformMetrics;
use crate::topology::BuildError;
use crate::transforms::filter::Compiled;

use super::config::RouteConfig;

/// The routes' conditions, compiled, in the order of
/// [`RouteConfig::outputs`]; the output after the last route is
/// `_unmatched`.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Compiled>,
}

// === impl Router ===

impl Router {
    /// The router `config` describes (which validated).
    pub fn new(config: &RouteConfig) -> Result<Router, BuildError> {
        let routes = config
            .routes
            .iter()
            .map(|(name, condition)| {
                Compiled::new(condition)
                    .map_err(|message| BuildError::new(format!("route `{name}`: {message}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Router { routes })
    }

    /// The outputs `event` goes to, pushed onto `to`.
    fn outputs_of(&self, event: &Event, to: &mut Vec<usize>) {
        to.clear();
        if let Event::Log(log) = event {
            to.extend(
                self.routes
                    .iter()
                    .enumerate()
                    .filter(|(_, condition)| condition.matches(log))
                    .map(|(i, _)| i),
            );
        }
        if to.is_empty() {
            to.push(self.routes.len());
        }
    }

    /// Split `batch` among the outputs: `(output, batch)` for each output
    /// that gets records, in output order. Each part holds a share of the
    /// batch's acknowledgement, so its source hears once all of them are
    /// resolved; this transform's own share is resolved as delivered here
    /// (an empty batch has nothing left to wait for).
    pub fn route(&self, batch: EventBatch, metrics: &TransformMetrics) -> Vec<(usize, EventBatch)> {
        let received = batch.len();
        let (events, ack) = batch.into_parts();
        let mut parts: Vec<Vec<Event>> = vec![Vec::new(); self.routes.len() + 1];
        let mut to = Vec::new();
        for event in events {
            self.outputs_of(&event, &mut to);
            if let Some((last, others)) = to.split_last() {
                for output in others {
                    parts[*output].push(event.clone());
                }
                parts[*last].push(event);
            }
        }
        let sent: usize = parts.iter().map(Vec::len).sum();
        metrics.component().received(received, 0);
        metrics.component().sent(sent, 0);
        let routed = parts
            .into_iter()
            .enumerate()
            .filter(|(_, events)| !events.is_empty())
            .map(|(output, events)| (output, EventBatch::new(events, ack.clone())))
            .collect();
        ack.resolve(AckStatus::Delivered);
        routed
    }
}
