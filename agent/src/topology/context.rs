//! What a component gets when it is built.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::status::{StatusHandle, StatusRegistry};
use crate::event::{EventBatch, Resource};
use crate::telemetry::events::ComponentMetrics;

/// A built component: a future that runs it to completion.
pub type BoxedComponent = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A component could not be built (a file it needs is missing, a port is
/// taken). Fatal at start-up; on reload, that component is marked failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    message: String,
}

/// What every component shares.
#[derive(Debug)]
pub struct Globals {
    /// The agent's state directory (`data_dir`).
    pub data_dir: PathBuf,
    /// The host resource (`host.name`, `os.type`...), shared by every
    /// source.
    pub host: Arc<Resource>,
    /// Component states for `/status` and `/readyz`.
    pub status: Arc<StatusRegistry>,
    /// Extra sections of the admin server's `/metrics`.
    pub exposition: Arc<crate::admin::Exposition>,
    /// The plugin host and the check run slots.
    pub plugins: Arc<crate::checks::PluginRuntime>,
}

/// What a source (or a check) gets when it is built.
#[derive(Debug)]
pub struct SourceContext {
    /// The component's name.
    pub id: Arc<str>,
    /// Where its batches go.
    pub out: Fanout,
    /// Cancelled when the source must stop producing. It should then flush
    /// what it holds, drop `out`, wait for outstanding acknowledgements
    /// (they all resolve once the sinks finish or give up) and return.
    pub shutdown: CancellationToken,
    /// Shared state.
    pub globals: Arc<Globals>,
    /// Its metrics.
    pub metrics: ComponentMetrics,
    /// Its `/status` entry.
    pub status: StatusHandle,
}

/// What a sink gets when it is built.
#[derive(Debug)]
pub struct SinkContext {
    /// The component's name.
    pub id: Arc<str>,
    /// Batches from its inputs.
    pub input: SinkInput,
    /// Cancelled when the shutdown deadline has passed: give up in-flight
    /// deliveries (their acknowledgements resolve as dropped) and return.
    pub hard_stop: CancellationToken,
    /// Shared state.
    pub globals: Arc<Globals>,
    /// Its metrics.
    pub metrics: ComponentMetrics,
    /// Its `/status` entry.
    pub status: StatusHandle,
}

/// A sink's input: batches until every source has let go or the topology
/// asks the sink to stop, then what was already queued.
#[derive(Debug)]
pub struct SinkInput {
    rx: mpsc::Receiver<EventBatch>,
    stop: CancellationToken,
    closed: bool,
}

// === impl Globals ===

impl Globals {
    /// Globals with an empty host resource and no checks configured, for
    /// tests, benchmarks and one-off tools.
    pub fn standalone(data_dir: &std::path::Path) -> Globals {
        Globals {
            data_dir: data_dir.to_owned(),
            host: Arc::new(Resource::default()),
            status: Arc::new(StatusRegistry::default()),
            exposition: Default::default(),
            plugins: Arc::new(crate::checks::PluginRuntime::new(
                Default::default(),
                data_dir,
                false,
            )),
        }
    }
}

// === impl BuildError ===

impl BuildError {
    /// A build error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
        }
    }
}

// === impl SinkInput ===

impl SinkInput {
    pub(crate) fn new(rx: mpsc::Receiver<EventBatch>, stop: CancellationToken) -> Self {
        SinkInput {
            rx,
            stop,
            closed: false,
        }
    }

    /// A standalone input, for tests and benchmarks.
    pub fn from_receiver(rx: mpsc::Receiver<EventBatch>) -> Self {
        SinkInput::new(rx, CancellationToken::new())
    }

    /// The next batch; `None` once the input is finished and drained.
    pub async fn recv(&mut self) -> Option<EventBatch> {
        if !self.closed {
            tokio::select! {
                biased;
                batch = self.rx.recv() => return batch,
                () = self.stop.cancelled() => {
                    // Refuse new batches, then hand out what is queued.
                    self.rx.close();
                    self.closed = true;
                }
            }
        }
        self.rx.recv().await
    }
}
