//! The sink's task: store what arrives, acknowledge it, expire what goes
//! stale, and render the page when it is scraped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::config::{Naming, PrometheusSinkConfig};
use super::node_exporter;
use super::render::{Families, Kind, Sample, labels, otel_name};
use super::server::{self, Render};
use super::store::Store;
use crate::event::{AckStatus, Event, Resource};
use crate::sync::lock;
use crate::telemetry::Exposition;
use crate::telemetry::events::{
    ComponentMetrics, PrometheusExporterListening, PrometheusMetricSkipped,
    PrometheusSeriesExpired, PrometheusSeriesStored, SinkEventsUnsupported,
};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// Names the admin server's `/metrics` already serves from the agent's own
/// registry; another family of the same name would make the page invalid.
const RESERVED_PREFIX: &str = "neurallog_agent_";

/// The exporter's state, shared by the sink task and the scrapes.
#[derive(Debug)]
pub struct Exporter {
    store: Store,
    naming: Naming,
    /// On the admin page: the agent's own names are left out.
    on_admin_page: bool,
    /// On its own page: the host resource, as `target_info`.
    host: Arc<Resource>,
    warned: HashSet<String>,
    metrics: ComponentMetrics,
}

/// How many skipped names are remembered, so that each is warned about
/// once rather than at every scrape.
const WARNED_MAX: usize = 1024;

/// Removes the sink's section from the admin page when the sink stops.
struct Registration {
    exposition: Arc<Exposition>,
    id: Arc<str>,
}

/// Build the sink. With `address`, the port is bound now, so a taken port
/// is a start-up error.
pub fn build(config: &PrometheusSinkConfig, cx: SinkContext) -> Result<BoxedComponent, BuildError> {
    let listener = match config.socket_address() {
        None => None,
        Some(Err(error)) => return Err(BuildError::caused("address", error)),
        Some(Ok(address)) => {
            let listener = std::net::TcpListener::bind(address)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|error| {
                    BuildError::caused(format!("cannot listen on {address}"), error)
                })?;
            Some(listener)
        }
    };
    let expire = Duration::from_secs(config.expire_secs);
    let exporter = Exporter {
        store: Store::new(Arc::clone(&cx.globals.host), expire),
        naming: config.naming,
        on_admin_page: listener.is_none(),
        host: Arc::clone(&cx.globals.host),
        warned: HashSet::new(),
        metrics: cx.metrics.clone(),
    };
    Ok(Box::pin(run(
        Arc::new(Mutex::new(exporter)),
        listener,
        expire,
        cx,
    )))
}

async fn run(
    exporter: Arc<Mutex<Exporter>>,
    listener: Option<std::net::TcpListener>,
    expire: Duration,
    mut cx: SinkContext,
) {
    let render: Render = {
        let exporter = Arc::clone(&exporter);
        Arc::new(move |out: &mut String| lock(&exporter).render(out))
    };
    let stop_server = CancellationToken::new();
    // The server runs in this task, not one of its own: its listener is
    // closed when the sink ends, before a reload's replacement binds the
    // same address.
    let mut server = None;
    let _registration = match listener {
        Some(listener) => {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Ok(address) = listener.local_addr() {
                        PrometheusExporterListening {
                            component: &cx.metrics,
                            address,
                        }
                        .emit();
                    }
                    server = Some(server::serve(listener, render, stop_server.clone()));
                }
                Err(error) => {
                    tracing::error!(component_id = %cx.id, %error, "Prometheus exporter cannot serve its address.");
                }
            }
            None
        }
        None => {
            cx.globals
                .exposition
                .register(&cx.id, move |out: &mut String| render(out));
            Some(Registration {
                exposition: Arc::clone(&cx.globals.exposition),
                id: Arc::clone(&cx.id),
            })
        }
    };
    let _stop_server = stop_server.drop_guard();
    let serving = server.is_some();
    let server = async move {
        match server {
            Some(server) => server.await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(server);
    let mut sweep =
        tokio::time::interval((expire / 4).clamp(Duration::from_secs(1), Duration::from_secs(15)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = cx.input.recv() => {
                let Some(batch) = batch else { break };
                let now = Instant::now();
                let mut stored = 0;
                // A check's result comes with its status as a metric; a
                // log has no place here.
                let mut logs = 0;
                let series = {
                    let mut exporter = lock(&exporter);
                    for event in batch.events() {
                        match event {
                            Event::Metric(metric) => {
                                exporter.store.insert(metric, now);
                                stored += 1;
                            }
                            Event::Log(_) => logs += 1,
                            Event::Check(_) => {}
                        }
                    }
                    exporter.store.len()
                };
                cx.metrics.received(batch.len(), 0);
                cx.metrics.sent(stored, 0);
                SinkEventsUnsupported {
                    component: &cx.metrics,
                    events: logs,
                }
                .emit();
                PrometheusSeriesStored { component: &cx.metrics, series }.emit();
                batch.resolve(AckStatus::Delivered);
            }
            () = &mut server, if serving => {
                // It returns only once stopped, which is at the end.
                break;
            }
            _ = sweep.tick() => {
                let (expired, series) = {
                    let mut exporter = lock(&exporter);
                    let expired = exporter.store.expire(Instant::now());
                    (expired, exporter.store.len())
                };
                if expired > 0 {
                    PrometheusSeriesExpired { component: &cx.metrics, count: expired }.emit();
                    PrometheusSeriesStored { component: &cx.metrics, series }.emit();
                }
            }
        }
    }
}

// === impl Exporter ===

impl Exporter {
    /// Append the exposition of every live series to `out`.
    pub fn render(&mut self, out: &mut String) {
        // Scrapes between sweeps must not show series that are already
        // stale; the sweep removes and counts them.
        let now = Instant::now();
        let mut families = Families::default();
        let mut skipped: Vec<(String, &'static str)> = Vec::new();
        for (key, stored) in self.store.live(now) {
            if self.naming == Naming::NodeExporter && node_exporter::add(&mut families, key, stored)
            {
                continue;
            }
            if self.naming != Naming::NodeExporter && node_exporter::is_node_only(&key.name) {
                continue;
            }
            let (name, kind) = otel_name(key, stored);
            if self.on_admin_page && name.starts_with(RESERVED_PREFIX) {
                skipped.push((name, "reserved_name"));
                continue;
            }
            families.add_series(&name, kind, key, stored);
        }
        if !self.on_admin_page && !families.is_empty() {
            let host = labels(
                self.host
                    .attributes
                    .iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default())),
            );
            families.set(
                "target_info",
                Kind::Gauge,
                "Target metadata: the agent's host resource.",
                host,
                Sample::Value(1.0),
            );
        }
        skipped.extend(families.conflicts.drain(..).map(|n| (n, "type_conflict")));
        for (name, reason) in skipped {
            if self.warned.len() >= WARNED_MAX && !self.warned.contains(&name) {
                // Names come from what the sink is fed (plugins' output
                // among it): remembered up to a bound, then afresh.
                self.warned.clear();
            }
            if self.warned.insert(name.clone()) {
                PrometheusMetricSkipped {
                    component: &self.metrics,
                    name: &name,
                    reason,
                }
                .emit();
            }
        }
        families.write(out);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.exposition.unregister(&self.id);
    }
}

impl Exporter {
    /// How many skipped names are remembered, for tests.
    #[cfg(test)]
    pub(super) fn warned_len(&self) -> usize {
        self.warned.len()
    }
}

/// An exporter over `store` for tests: renders as the admin section would.
#[cfg(test)]
pub(super) fn exporter_for_tests(store: Store, naming: Naming, host: Arc<Resource>) -> Exporter {
    Exporter {
        store,
        naming,
        on_admin_page: true,
        host,
        warned: HashSet::new(),
        metrics: ComponentMetrics::new("test", crate::config::ComponentKind::Sink, "prometheus"),
    }
}
