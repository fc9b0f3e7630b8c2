//! The worker process: `neurallog-agent plugin-worker`, started by the
//! agent with its end of a socketpair as stdin.
//!
//! It confines itself early (see `sandbox::early`), reads the load request,
//! loads the plugin with a host of its own sized for that one plugin,
//! confines itself the rest of the way, says so, and then serves runs (a
//! check) or batches (a log processor, whose instance it keeps from batch
//! to batch as the agent would) until the agent closes the socket. Its log lines and the plugin's state
//! changes go to the agent (see `logs`, and `host::state`'s forwarded
//! store); it never writes a file.

use std::os::fd::AsFd as _;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{Mutex, mpsc};
use tracing_subscriber::layer::SubscriberExt as _;

use super::logs::{self, Forward};
use super::protocol::{
    self, FromWorker, LoadRequest, ProcessRequest, ToWorker, WorkerSource, World,
};
use super::sandbox;
use crate::embedded;
use crate::wasm::host::state::{ForwardState, PluginState};
use crate::wasm::{HostSettings, LoadedPlugin, PluginHost, PluginSource, ProcessorInstance};

/// Set in the agent's environment (tests only), makes the worker attempt
/// `execve` after confining itself, at each run: a guest escape that the
/// seccomp filter must stop.
pub const ESCAPE_TEST_ENV: &str = "NEURALLOG_PLUGIN_WORKER_TEST_ESCAPE";

/// Frames waiting for the socket.
const OUTBOX: usize = 1024;

/// Threads for blocking work (reading the component, compiling, DNS): one
/// plugin needs few, and the worker's cgroup caps its tasks.
const BLOCKING_THREADS: usize = 8;

/// Runs the worker until the agent closes the socket. `parent` is the
/// agent's pid. Called from `main` before anything else.
pub fn serve(parent: u32) -> ExitCode {
    if let Err(error) = sandbox::early(parent) {
        eprintln!("plugin worker: {}", crate::error::Chain(&error));
        return ExitCode::FAILURE;
    }
    let escape = std::env::var_os(ESCAPE_TEST_ENV).is_some();
    let socket = match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::os::unix::net::UnixStream::from)
    {
        Ok(socket) => socket,
        Err(error) => {
            eprintln!("plugin worker: stdin is not the agent's socket: {error}");
            return ExitCode::FAILURE;
        }
    };
    // One thread for the worker's tasks; wasmtime's epoch ticker and tokio's
    // blocking pool add theirs.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("plugin worker: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(session(socket, escape)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("plugin worker: {}", crate::error::Chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The worker's conversation with the agent.
async fn session(
    socket: std::os::unix::net::UnixStream,
    escape: bool,
) -> Result<(), protocol::FrameError> {
    socket.set_nonblocking(true)?;
    let (mut reader, writer) = tokio::io::split(UnixStream::from_std(socket)?);
    let Some(ToWorker::Load(request)) = protocol::read(&mut reader).await? else {
        return Err(std::io::Error::other("the first message is not a load request").into());
    };
    let (outbox, queued) = mpsc::channel(OUTBOX);
    let sender = tokio::spawn(send_all(writer, queued));
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::WARN)
        .with_target("neurallog_agent", logs::filter(request.log_level));
    let subscriber = tracing_subscriber::registry()
        .with(targets)
        .with(Forward { tx: outbox.clone() });
    // Only fails when a subscriber is set already, which `main` does not do
    // for a worker.
    let _ = tracing::subscriber::set_global_default(subscriber);

    let (acks, acked) = mpsc::channel(1);
    let (jobs, mut to_do) = mpsc::channel(1);
    tokio::spawn(receive_all(reader, jobs, acks));
    let mut plugin = match load(*request, &outbox, acked).await {
        Ok(plugin) => plugin,
        Err(message) => {
            // The writer stops after this frame; wait until it is out.
            let _ = outbox.send(FromWorker::LoadFailed { message }).await;
            let _ = sender.await;
            return Ok(());
        }
    };
    while let Some(job) = to_do.recv().await {
        if escape {
            attempt_escape();
        }
        let answer = match (&mut plugin, job) {
            (Loaded::Check(plugin), Job::Run(config_json)) => {
                FromWorker::Ran(Box::new(plugin.run_once(&config_json).await))
            }
            (Loaded::Processor(instance), Job::Process(request)) => {
                let ProcessRequest {
                    config_json,
                    batch,
                    bound,
                } = *request;
                let processed = instance.process(&config_json, &batch, bound).await;
                FromWorker::Processed(Box::new(processed))
            }
            // A job for the other world: the agent closes the socket on
            // the silence.
            _ => break,
        };
        if outbox.send(answer).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The plugin a worker serves.
enum Loaded {
    /// A check, instantiated for each run.
    Check(Arc<LoadedPlugin>),
    /// A log processor and its instance.
    Processor(ProcessorInstance),
}

/// What the agent asked for.
enum Job {
    /// Run the check with this configuration.
    Run(String),
    /// Process a batch.
    Process(Box<ProcessRequest>),
}

/// Loads the plugin and confines the worker; answers `Loaded`. Errors are
/// the whole chain, for the agent's log.
async fn load(
    request: LoadRequest,
    outbox: &mpsc::Sender<FromWorker>,
    acked: mpsc::Receiver<Result<(), String>>,
) -> Result<Loaded, String> {
    let chain = |error: &dyn std::error::Error| super::chain(error);
    let mut settings = HostSettings::new(&request.host.state_dir);
    settings.cache_dir = request.host.cache_dir;
    // One plugin: its memory is the budget; a run and nothing else.
    settings.memory_budget_bytes = request.limits.memory_bytes;
    settings.max_concurrent_instances = 1;
    settings.mounts_file = request.host.mounts_file;
    settings.fuel_enabled = request.host.fuel_enabled;
    settings.deadline_grace = request.host.deadline_grace;
    settings.load_timeout = request.host.load_timeout;
    let host = PluginHost::new(settings).map_err(|e| chain(&e))?;
    let state = Arc::new(PluginState::forwarded(
        request.state,
        request.limits.max_state_bytes,
        Box::new(StateLink {
            outbox: outbox.clone(),
            acked: Mutex::new(acked),
        }),
    ));
    host.preset_state(&request.name, &state);
    let source = match request.source {
        WorkerSource::File { path, sha256 } => PluginSource::File { path, sha256 },
        WorkerSource::Embedded { name } => {
            let plugin = embedded::by_name(&name)
                .ok_or_else(|| format!("no first-party plugin is named {name:?}"))?;
            PluginSource::Embedded {
                name: plugin.name,
                bytes: plugin.bytes,
            }
        }
    };
    let limits = request.limits.clone();
    let (plugin, info) = match request.world {
        World::Check => {
            let plugin = host
                .load(&request.name, source, request.limits, request.grants)
                .await
                .map_err(|e| chain(&e))?;
            let info = plugin.info().clone();
            (Loaded::Check(plugin), info)
        }
        World::Processor => {
            let processor = host
                .load_processor(&request.name, source, request.limits, request.grants)
                .await
                .map_err(|e| chain(&e))?;
            let info = processor.info().clone();
            (Loaded::Processor(processor.instance()), info)
        }
    };
    let confinement = sandbox::confine(&request.confinement, &limits).map_err(|e| chain(&e))?;
    let loaded = FromWorker::Loaded {
        info: Box::new(info),
        confinement,
    };
    outbox
        .send(loaded)
        .await
        .map_err(|_| "the agent's socket closed".to_owned())?;
    Ok(plugin)
}

/// Writes queued frames to the agent until every sender is gone or a
/// `LoadFailed` is out (the worker's last word).
async fn send_all(mut writer: WriteHalf<UnixStream>, mut queued: mpsc::Receiver<FromWorker>) {
    while let Some(frame) = queued.recv().await {
        let last = matches!(frame, FromWorker::LoadFailed { .. });
        let encoded = match &frame {
            FromWorker::Processed(outcome) => protocol::encode_processed(outcome),
            other => protocol::encode(other),
        };
        let written = match encoded {
            Ok(encoded) => protocol::write_frame(&mut writer, &encoded).await,
            Err(error) => Err(error),
        };
        if written.is_err() || last {
            break;
        }
    }
}

/// Reads the agent's frames: runs and batches to the job loop, state
/// answers to the state link. The agent closing the socket ends the
/// worker.
async fn receive_all(
    mut reader: ReadHalf<UnixStream>,
    jobs: mpsc::Sender<Job>,
    acks: mpsc::Sender<Result<(), String>>,
) {
    loop {
        let job = match protocol::read(&mut reader).await {
            Ok(Some(ToWorker::Run { config_json })) => Job::Run(config_json),
            Ok(Some(ToWorker::Process(request))) => Job::Process(request),
            Ok(Some(ToWorker::StateWritten(result))) => {
                let _ = acks.send(result).await;
                continue;
            }
            // A second load, a broken frame, or the end: stop.
            Ok(Some(ToWorker::Load(_)) | None) | Err(_) => break,
        };
        if jobs.send(job).await.is_err() {
            break;
        }
    }
    // Nothing more will come: exit rather than wait on a run nobody reads.
    std::process::exit(0);
}

/// The forwarded store's link to the agent: one write at a time (the store
/// serializes them), each answered before the next.
struct StateLink {
    outbox: mpsc::Sender<FromWorker>,
    acked: Mutex<mpsc::Receiver<Result<(), String>>>,
}

impl ForwardState for StateLink {
    fn forward(
        &self,
        key: String,
        value: Option<Vec<u8>>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let mut acked = self.acked.lock().await;
            let gone = || "the agent is gone".to_owned();
            self.outbox
                .send(FromWorker::StateWrite { key, value })
                .await
                .map_err(|_| gone())?;
            acked.recv().await.ok_or_else(gone)?
        })
    }
}

/// The test-only escape: replace the worker with a shell. The seccomp
/// filter kills the process at `execve`; if it ever returns, the worker
/// says so on stderr and exits, and the test fails on the exit status.
fn attempt_escape() {
    use std::os::unix::process::CommandExt as _;
    let error = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("true")
        .exec();
    eprintln!("plugin worker: the escape test's execve was not stopped: {error}");
    std::process::exit(3);
}
