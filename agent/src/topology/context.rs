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
/// The message says what could not be done; the cause, when there is one,
/// is its source (see [`crate::error`]).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BuildError(BuildErrorRepr);

#[derive(Debug, thiserror::Error)]
enum BuildErrorRepr {
    #[error("{0}")]
    Message(String),
    #[error("{what}")]
    Caused {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Error(Box<dyn std::error::Error + Send + Sync>),
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
    /// Extra sections of the admin server's `/metrics` (where a
    /// `prometheus` sink without an address of its own serves).
    pub exposition: Arc<crate::telemetry::Exposition>,
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

/// What a transform gets when it is built: an input like a sink's and an
/// output like a source's.
#[derive(Debug)]
pub struct TransformContext {
    /// The component's name.
    pub id: Arc<str>,
    /// Batches from its inputs. It ends once the topology stops the
    /// transform and what was queued is handed out.
    pub input: SinkInput,
    /// Where its batches go.
    pub out: Fanout,
    /// Its named outputs (a `route`'s), by output name: each feeds the
    /// components that name `ID.OUTPUT` in their inputs. Empty for a
    /// transform with only `out`.
    pub outputs: Vec<(Arc<str>, Fanout)>,
    /// Its metrics.
    pub metrics: ComponentMetrics,
    /// Its `/status` entry.
    pub status: StatusHandle,
    /// The plugin host, for transforms that run Wasm processors.
    pub plugins: Arc<crate::checks::PluginRuntime>,
}

/// A sink's input: batches until every source has let go or the topology
/// asks the sink to stop, then what was already queued. Logs and buffered
/// signals (metrics, check results) arrive on separate lanes (see
/// [`SinkSender`](super::SinkSender)).
#[derive(Debug)]
pub struct SinkInput {
    logs: mpsc::Receiver<EventBatch>,
    buffered: mpsc::Receiver<EventBatch>,
    logs_open: bool,
    buffered_open: bool,
    stop: CancellationToken,
    closed: bool,
}

// === impl Globals ===

impl Globals {
    /// Globals with an empty host resource, for tests, benchmarks and
    /// one-off tools.
    pub fn standalone(data_dir: &std::path::Path) -> Globals {
        Globals {
            data_dir: data_dir.to_owned(),
            host: Arc::new(Resource::default()),
            status: Arc::new(StatusRegistry::default()),
            exposition: Default::default(),
        }
    }
}

// === impl BuildError ===

impl BuildError {
    /// A build error with `message` and no other cause.
    pub fn new(message: impl Into<String>) -> Self {
        BuildError(BuildErrorRepr::Message(message.into()))
    }

    /// `what` could not be done because of `source`.
    pub fn caused(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        BuildError(BuildErrorRepr::Caused {
            what: what.into(),
            source: source.into(),
        })
    }

    /// A typed error that says all there is to say: its message and its
    /// sources, unchanged.
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        BuildError(BuildErrorRepr::Error(Box::new(error)))
    }
}

// === impl SinkInput ===

impl SinkInput {
    pub(crate) fn new(
        logs: mpsc::Receiver<EventBatch>,
        buffered: mpsc::Receiver<EventBatch>,
        stop: CancellationToken,
    ) -> Self {
        SinkInput {
            logs,
            buffered,
            logs_open: true,
            buffered_open: true,
            stop,
            closed: false,
        }
    }

    /// A standalone input with one lane, for tests and benchmarks.
    pub fn from_receiver(rx: mpsc::Receiver<EventBatch>) -> Self {
        let (_, buffered) = mpsc::channel(1);
        SinkInput::new(rx, buffered, CancellationToken::new())
    }

    /// Cancelled once the topology asks the component to stop: for work
    /// that waits elsewhere than on [`recv`](Self::recv) (a plugin that
    /// does not load, a batch held for a retry), to give up.
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// The next batch of either lane; `None` once the input is finished
    /// and drained.
    pub async fn recv(&mut self) -> Option<EventBatch> {
        self.recv_from(true).await
    }

    /// The next batch; with `logs` false, only from the buffered lane
    /// (metrics and check results), which a sink whose logs wait keeps
    /// draining. `None` once both lanes are finished and drained.
    pub async fn recv_from(&mut self, logs: bool) -> Option<EventBatch> {
        loop {
            if !self.closed && self.stop.is_cancelled() {
                // Refuse new batches, then hand out what is queued.
                self.logs.close();
                self.buffered.close();
                self.closed = true;
            }
            if !self.logs_open && !self.buffered_open {
                return None;
            }
            tokio::select! {
                biased;
                () = self.stop.cancelled(), if !self.closed => {}
                batch = self.buffered.recv(), if self.buffered_open => match batch {
                    Some(batch) => return Some(batch),
                    None => self.buffered_open = false,
                },
                batch = self.logs.recv(), if logs && self.logs_open => match batch {
                    Some(batch) => return Some(batch),
                    None => self.logs_open = false,
                },
                else => std::future::pending::<()>().await,
            }
        }
    }
}
