//! The agent's side of a plugin worker: [`WorkerPlugin`] is what the check
//! scheduler runs a worker-isolated plugin through, and what a `wasm`
//! transform sends its batches through when its processor is isolated.
//!
//! One worker process per plugin, started from the agent's own executable
//! (`/proc/self/exe plugin-worker`), its end of a socketpair as stdin. The
//! agent keeps what must outlive a worker: the plugin's state (the worker
//! forwards each change, the agent persists it and answers), its
//! quarantine, and the restart backoff. A worker that dies (SIGKILL, a
//! crash, its seccomp filter) or does not answer within the run's deadline
//! plus grace costs that run (`worker_crashed`, `worker_unresponsive`);
//! the next run starts a new worker once the backoff has passed. A batch
//! fails the same way (the transform's `on_error` then applies), and what a
//! worker returns for a batch is checked again here: a worker that has run
//! guest code is not trusted. Dropping
//! the [`WorkerPlugin`] (shutdown, reload) kills its worker; the worker also
//! dies with the agent (`PR_SET_PDEATHSIG`) and exits when its socket
//! closes.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};

use super::cgroup;
use super::logs;
use super::protocol::{
    self, Confinement, ConfinementRequest, FrameError, FromWorker, HostConfig, LoadRequest,
    ToWorker, WorkerSource, World,
};
use crate::telemetry::events::{
    PluginWorkerDied, PluginWorkerRestarted, PluginWorkerStarted, WorkerOwner,
};
use crate::wasm::error::{LoadError, LoadErrorKind};
use crate::wasm::host::state::PluginState;
use crate::wasm::loader::valid_name;
use crate::wasm::plugin::{quarantined_report, record};
use crate::wasm::quarantine::{Quarantine, QuarantineStatus};
use crate::wasm::{
    ColumnBatch, FailureReason, Grants, Limits, Outcome, OutputBound, PluginHost, PluginInfo,
    PluginSource, ProcessFailure, ProcessFailureReason, RunReport, columns, verify_output,
};

/// Time beyond a run's deadline plus the host's grace for the worker's
/// answer to arrive, before it counts as unresponsive.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

/// Time beyond the load timeout for a new worker to say it loaded.
const START_GRACE: Duration = Duration::from_secs(5);

/// Log lines beyond the plugin's own cap a worker may send in one run (its
/// own warnings): past that, lines are dropped and counted.
const WORKER_LOG_LINES: u64 = 64;

/// Bytes of records (bodies, severity texts, own attributes) sent to a
/// processor's worker in one frame: a larger batch goes in parts, each
/// well under the frame cap even if every byte needs escaping.
const PART_BYTES: u64 = 4 << 20;

/// How the agent starts and restarts workers.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The agent's executable, re-executed as the worker.
    pub executable: PathBuf,
    /// User the worker switches to when the agent runs as root.
    pub user: String,
    /// Group the worker switches to when the agent runs as root.
    pub group: String,
    /// CPU seconds one worker may use over its life before it is killed
    /// and restarted.
    pub cpu_secs: u64,
    /// Put each worker in a cgroup of its own under the agent's, when the
    /// agent's cgroup is writable.
    pub cgroup: bool,
    /// Wait before the first restart after a worker died; doubles with each
    /// failure in a row.
    pub restart_backoff_initial: Duration,
    /// Longest wait between restarts.
    pub restart_backoff_max: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            executable: PathBuf::from("/proc/self/exe"),
            user: "nobody".into(),
            group: "nogroup".into(),
            cpu_secs: 3600,
            cgroup: true,
            restart_backoff_initial: Duration::from_millis(500),
            restart_backoff_max: Duration::from_secs(60),
        }
    }
}

/// A worker's state, for `/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerStatus {
    /// Process id of the running worker, if one is running.
    pub pid: Option<u32>,
    /// Workers started again after one died.
    pub restarts: u64,
    /// How the last worker that died ended, and why.
    pub last_exit: Option<String>,
    /// Failures in a row (deaths, failed restarts); sets the backoff.
    pub consecutive_failures: u32,
    /// What the running worker's confinement did.
    pub confinement: Option<Confinement>,
    /// The worker's cgroup, or why it has none.
    pub cgroup: String,
}

/// A plugin loaded in a worker process: a check's, or a log processor's.
pub struct WorkerPlugin {
    name: String,
    request: LoadRequest,
    options: WorkerOptions,
    /// The agent's persisted copy of a check's state (a processor has
    /// none).
    state: Option<Arc<PluginState>>,
    /// How long a run's answer may take.
    answer_within: Duration,
    info: Mutex<PluginInfo>,
    quarantine: Mutex<Quarantine>,
    status: Mutex<WorkerStatus>,
    slot: tokio::sync::Mutex<Slot>,
}

/// The running worker, if any, and when the next may start.
struct Slot {
    connection: Option<Connection>,
    restart_at: Option<Instant>,
}

struct Connection {
    child: Child,
    pid: u32,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
}

/// What the agent asks a worker.
enum Job<'a> {
    /// Run the check with this configuration.
    Run(&'a str),
    /// Process a batch: its frame, encoded.
    Process(Vec<u8>),
}

/// A worker's answer to a [`Job`].
enum Answer {
    Ran(RunReport),
    Processed(Result<Outcome, ProcessFailure>),
}

/// Why a conversation with a worker ended.
enum Broken {
    /// It closed the socket or sent garbage.
    Died(String),
    /// It did not answer in time.
    Unresponsive(Duration),
}

// === impl WorkerPlugin ===

impl WorkerPlugin {
    /// Starts a worker for check `name` and loads the plugin in it. Fails
    /// as [`PluginHost::load`] does, with the worker's own error chain.
    pub async fn start(
        host: &PluginHost,
        name: &str,
        source: PluginSource,
        limits: Limits,
        grants: Grants,
        options: WorkerOptions,
    ) -> Result<Arc<Self>, LoadError> {
        Self::start_world(World::Check, host, name, source, limits, grants, options).await
    }

    /// Starts a worker for `wasm` transform `name` and loads its processor
    /// in it. Fails as [`PluginHost::load_processor`] does, with the
    /// worker's own error chain.
    pub async fn start_processor(
        host: &PluginHost,
        name: &str,
        source: PluginSource,
        limits: Limits,
        grants: Grants,
        options: WorkerOptions,
    ) -> Result<Arc<Self>, LoadError> {
        Self::start_world(
            World::Processor,
            host,
            name,
            source,
            limits,
            grants,
            options,
        )
        .await
    }

    async fn start_world(
        world: World,
        host: &PluginHost,
        name: &str,
        source: PluginSource,
        limits: Limits,
        grants: Grants,
        options: WorkerOptions,
    ) -> Result<Arc<Self>, LoadError> {
        let fail = |kind| LoadError {
            plugin: name.to_owned(),
            source_name: source.display_name(),
            kind,
        };
        if !valid_name(name) {
            return Err(fail(LoadErrorKind::InvalidName));
        }
        let state = match world {
            World::Check => Some(
                host.plugin_state(name, limits.max_state_bytes)
                    .map_err(|e| fail(e.into()))?,
            ),
            World::Processor => None,
        };
        let settings = host.settings();
        let worker_source = match &source {
            PluginSource::File { path, sha256 } => WorkerSource::File {
                path: path.clone(),
                sha256: sha256.clone(),
            },
            PluginSource::Embedded { name, .. } => WorkerSource::Embedded {
                name: (*name).to_owned(),
            },
        };
        let answer_within = limits.deadline() + settings.deadline_grace + ANSWER_GRACE;
        let request = LoadRequest {
            name: name.to_owned(),
            world,
            source: worker_source,
            limits,
            grants,
            state: Default::default(),
            host: HostConfig {
                cache_dir: settings.cache_dir.clone(),
                state_dir: settings.state_dir.clone(),
                mounts_file: settings.mounts_file.clone(),
                fuel_enabled: settings.fuel_enabled,
                deadline_grace: settings.deadline_grace,
                load_timeout: settings.load_timeout,
            },
            confinement: ConfinementRequest {
                user: options.user.clone(),
                group: options.group.clone(),
                cpu_secs: options.cpu_secs,
            },
            log_level: logs::current_level(),
        };
        let quarantine = Quarantine::new(request.limits.quarantine.clone());
        let mut status = WorkerStatus::default();
        let (connection, info) = spawn(&request, state.as_deref(), &options, &mut status)
            .await
            .map_err(|message| fail(LoadErrorKind::Worker(message)))?;
        let plugin = Arc::new(Self {
            name: name.to_owned(),
            request,
            options,
            state,
            answer_within,
            info: Mutex::new(info),
            quarantine: Mutex::new(quarantine),
            status: Mutex::new(status),
            slot: tokio::sync::Mutex::new(Slot {
                connection: Some(connection),
                restart_at: None,
            }),
        });
        tokio::spawn(watch_idle(Arc::downgrade(&plugin)));
        Ok(plugin)
    }

    /// What the plugin is (as its latest worker described it).
    pub fn info(&self) -> PluginInfo {
        crate::sync::lock(&self.info).clone()
    }

    /// Its quarantine state now.
    pub fn quarantine(&self) -> QuarantineStatus {
        crate::sync::lock(&self.quarantine).status(Instant::now())
    }

    /// The worker's state now.
    pub fn status(&self) -> WorkerStatus {
        crate::sync::lock(&self.status).clone()
    }

    /// Runs the check once in the worker, starting a new worker first if
    /// the last one died and its backoff has passed. Never fails: a dead or
    /// hung worker is a [`RunOutcome::Failed`].
    pub async fn run(&self, config_json: &str) -> RunReport {
        if let Some(report) = quarantined_report(&self.quarantine()) {
            return report;
        }
        let started = Instant::now();
        let report = match self.in_worker(Job::Run(config_json)).await {
            Ok(Answer::Ran(report)) => report,
            Ok(Answer::Processed(_)) => unreachable_answer(started),
            Err((reason, message)) => failed_report(reason, message, started.elapsed()),
        };
        record(&self.name, &self.quarantine, &report.outcome);
        report
    }

    /// Processes `batch` in the worker as
    /// [`ProcessorInstance::process`](crate::wasm::ProcessorInstance::process)
    /// would in the agent, starting a new worker first if the last one died
    /// and its backoff has passed; a dead or hung worker fails the batch.
    /// A batch of more than [`PART_BYTES`] goes in parts, each processed on
    /// its own; a part that fails fails the batch.
    pub async fn process(
        &self,
        config_json: &str,
        batch: &ColumnBatch,
        bound: OutputBound,
    ) -> Result<Outcome, ProcessFailure> {
        let parts = parts(batch);
        if let [_] = parts.as_slice() {
            return self.process_part(config_json, batch, bound).await;
        }
        let mut processed = Vec::with_capacity(parts.len());
        for range in parts {
            let offset = u32::try_from(range.start).unwrap_or(u32::MAX);
            let part = columns::slice(batch, range);
            let outcome = self.process_part(config_json, &part, bound).await?;
            processed.push(outcome.shifted(offset));
        }
        Outcome::concat(processed).ok_or_else(|| ProcessFailure {
            reason: ProcessFailureReason::Sandbox(FailureReason::InvalidOutput),
            message: "the parts of one batch were answered by processors of two worlds (the plugin changed between them)".into(),
        })
    }

    async fn process_part(
        &self,
        config_json: &str,
        batch: &ColumnBatch,
        bound: OutputBound,
    ) -> Result<Outcome, ProcessFailure> {
        let frame = protocol::encode_process(config_json, batch, bound).map_err(|error| {
            ProcessFailure {
                reason: ProcessFailureReason::Sandbox(FailureReason::Setup),
                message: format!(
                    "the batch cannot be sent to the plugin worker: {}",
                    super::chain(&error)
                ),
            }
        })?;
        let outcome = match self.in_worker(Job::Process(frame)).await {
            Ok(Answer::Processed(processed)) => processed?,
            Ok(Answer::Ran(_)) => {
                return Err(ProcessFailure {
                    reason: ProcessFailureReason::Sandbox(FailureReason::WorkerCrashed),
                    message: "the plugin worker answered a batch with a check's report".into(),
                });
            }
            Err((reason, message)) => {
                return Err(ProcessFailure {
                    reason: ProcessFailureReason::Sandbox(reason),
                    message,
                });
            }
        };
        if let Err(failure) = verify_output(&outcome, batch, bound) {
            // The worker checks this itself: one that did not is not sound.
            let mut slot = self.slot.lock().await;
            if let Some(mut connection) = slot.connection.take() {
                let exit = reap(&mut connection.child).await;
                let cause = format!("returned what the agent refuses ({failure}); killed, {exit}");
                self.fail_and_back_off(&mut slot, &cause);
            }
            return Err(failure);
        }
        Ok(outcome)
    }

    fn owner(&self) -> WorkerOwner<'_> {
        owner_of(self.request.world, &self.name)
    }

    async fn in_worker(&self, job: Job<'_>) -> Result<Answer, (FailureReason, String)> {
        let mut slot = self.slot.lock().await;
        self.reap_if_exited(&mut slot).await;
        if let Some(connection) = slot.connection.take_if(|c| self.near_cpu_limit(c)) {
            self.recycle(connection).await;
        }
        let mut connection = match slot.connection.take() {
            Some(connection) => connection,
            None => self.restart(&mut slot).await?,
        };
        let broken = match self.exchange(&mut connection, &job).await {
            Ok(answer) => {
                slot.connection = Some(connection);
                self.status_mut().consecutive_failures = 0;
                return Ok(answer);
            }
            Err(broken) => broken,
        };
        let (reason, cause) = match broken {
            Broken::Died(why) => {
                let exit = reap(&mut connection.child).await;
                (FailureReason::WorkerCrashed, format!("{exit} ({why})"))
            }
            Broken::Unresponsive(waited) => {
                let exit = reap(&mut connection.child).await;
                (
                    FailureReason::WorkerUnresponsive,
                    format!("no answer within {waited:?}; killed, {exit}"),
                )
            }
        };
        let backoff = self.fail_and_back_off(&mut slot, &cause);
        PluginWorkerDied {
            owner: self.owner(),
            pid: connection.pid,
            error_type: reason.as_str(),
            cause: &cause,
            restart_in: backoff,
            idle: false,
        }
        .emit();
        Err((
            reason,
            format!("the plugin worker (pid {}) {cause}", connection.pid),
        ))
    }

    /// A worker that died between two jobs (killed, out of memory): it is
    /// reaped and counted, and the next job starts a new one; none of its
    /// jobs failed. Only when the one before also failed does the backoff
    /// hold the next start back (a worker that keeps dying must not be
    /// started in a loop).
    async fn reap_if_exited(&self, slot: &mut Slot) {
        let exited = |c: &mut Connection| c.child.try_wait().is_ok_and(|s| s.is_some());
        let Some(mut connection) = slot.connection.take_if(exited) else {
            return;
        };
        let cause = format!(
            "{} between {}",
            reap(&mut connection.child).await,
            match self.request.world {
                World::Check => "runs",
                World::Processor => "batches",
            }
        );
        let backoff = self.fail_and_back_off(slot, &cause);
        let backoff = if self.status().consecutive_failures <= 1 {
            slot.restart_at = None;
            Duration::ZERO
        } else {
            backoff
        };
        PluginWorkerDied {
            owner: self.owner(),
            pid: connection.pid,
            error_type: FailureReason::WorkerCrashed.as_str(),
            cause: &cause,
            restart_in: backoff,
            idle: true,
        }
        .emit();
    }

    /// Starts a new worker, unless the backoff since the last failure has
    /// not passed.
    async fn restart(&self, slot: &mut Slot) -> Result<Connection, (FailureReason, String)> {
        let now = Instant::now();
        if let Some(at) = slot.restart_at.filter(|at| *at > now) {
            let status = self.status();
            return Err((
                FailureReason::WorkerCrashed,
                format!(
                    "the plugin worker is restarting in {:.1?} after {} failures in a row; last: {}",
                    at - now,
                    status.consecutive_failures,
                    status.last_exit.as_deref().unwrap_or("unknown")
                ),
            ));
        }
        let mut status = self.status();
        match spawn(
            &self.request,
            self.state.as_deref(),
            &self.options,
            &mut status,
        )
        .await
        {
            Ok((connection, info)) => {
                status.restarts += 1;
                *self.status_mut() = status;
                *crate::sync::lock(&self.info) = info;
                slot.restart_at = None;
                PluginWorkerRestarted {
                    owner: self.owner(),
                    pid: connection.pid,
                }
                .emit();
                Ok(connection)
            }
            Err(message) => {
                let cause = format!("could not be restarted: {message}");
                self.fail_and_back_off(slot, &cause);
                Err((
                    FailureReason::WorkerCrashed,
                    format!("the plugin worker {cause}"),
                ))
            }
        }
    }

    /// Whether a processor's worker has used nine tenths of its CPU time
    /// limit. A check's worker is left to it (a run it kills is one run),
    /// but a processor's serves batches for as long as the agent runs, and
    /// the batch the limit would cut short would fail (passed unprocessed
    /// under `on_error: pass`): it is replaced between batches instead.
    fn near_cpu_limit(&self, connection: &Connection) -> bool {
        self.request.world == World::Processor
            && cpu_seconds(connection.pid)
                .is_some_and(|used| used >= self.options.cpu_secs as f64 * 0.9)
    }

    /// Ends a sound worker between batches, neither a failure nor a backoff:
    /// the next batch starts a new one.
    async fn recycle(&self, mut connection: Connection) {
        let _ = connection.child.start_kill();
        let exit = reap(&mut connection.child).await;
        tracing::info!(component_id = %self.name, pid = connection.pid, %exit,
            "Plugin worker replaced before its CPU time limit.");
        let mut status = self.status_mut();
        status.pid = None;
        status.last_exit = Some(format!("replaced before its CPU time limit; {exit}"));
    }

    /// Counts a failure and sets when the next worker may start.
    fn fail_and_back_off(&self, slot: &mut Slot, cause: &str) -> Duration {
        let mut status = self.status_mut();
        status.pid = None;
        status.confinement = None;
        status.last_exit = Some(cause.to_owned());
        status.consecutive_failures = status.consecutive_failures.saturating_add(1);
        let doublings = status.consecutive_failures.saturating_sub(1).min(16);
        let backoff = self
            .options
            .restart_backoff_initial
            .saturating_mul(1 << doublings)
            .min(self.options.restart_backoff_max);
        slot.restart_at = Some(Instant::now() + backoff);
        backoff
    }

    fn status_mut(&self) -> std::sync::MutexGuard<'_, WorkerStatus> {
        crate::sync::lock(&self.status)
    }

    /// One run's or batch's conversation: the request, then log lines and
    /// state writes until the answer, all within the deadline plus grace.
    async fn exchange(&self, connection: &mut Connection, job: &Job<'_>) -> Result<Answer, Broken> {
        let deadline = tokio::time::Instant::now() + self.answer_within;
        let died = |error: FrameError| Broken::Died(super::chain(&error));
        match job {
            Job::Run(config_json) => {
                let run = ToWorker::Run {
                    config_json: (*config_json).to_owned(),
                };
                protocol::write(&mut connection.writer, &run).await
            }
            Job::Process(frame) => protocol::write_frame(&mut connection.writer, frame).await,
        }
        .map_err(died)?;
        let limits = &self.request.limits;
        let max_lines = limits.max_log_lines + WORKER_LOG_LINES;
        let (mut lines, mut dropped, mut state_written) = (0u64, 0u64, 0u64);
        loop {
            let frame = tokio::time::timeout_at(deadline, protocol::read(&mut connection.reader))
                .await
                .map_err(|_| Broken::Unresponsive(self.answer_within))?
                .map_err(died)?;
            match (frame, job) {
                (Some(FromWorker::Ran(report)), Job::Run(_)) => {
                    let mut report = *report;
                    report.logs_dropped += dropped;
                    return Ok(Answer::Ran(report));
                }
                (Some(FromWorker::Processed(processed)), Job::Process(_)) => {
                    if dropped > 0 {
                        tracing::warn!(component_id = %self.name, dropped,
                            "Processor log lines over the per-batch cap were dropped.");
                    }
                    return Ok(Answer::Processed(*processed));
                }
                (Some(FromWorker::Ran(_) | FromWorker::Processed(_)), _) => {
                    return Err(Broken::Died("it answered another kind of request".into()));
                }
                (Some(FromWorker::Log(line)), _) => {
                    lines += 1;
                    match lines <= max_lines {
                        true => logs::emit(self.owner(), connection.pid, &line),
                        false => dropped += 1,
                    }
                }
                (Some(FromWorker::StateWrite { key, value }), _) => {
                    // A processor has no state to write to.
                    let Some(state) = &self.state else {
                        return Err(Broken::Died("a processor's worker wrote state".into()));
                    };
                    // The worker enforces the run's write budget; a worker
                    // that does not is refused here too.
                    state_written += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
                    let result = match state_written <= limits.max_state_write_bytes {
                        true => state.apply(key, value).await,
                        false => Err(format!(
                            "the run's state write budget of {} bytes is spent",
                            limits.max_state_write_bytes
                        )),
                    };
                    let answer = ToWorker::StateWritten(result);
                    protocol::write(&mut connection.writer, &answer)
                        .await
                        .map_err(died)?;
                }
                (Some(FromWorker::Loaded { .. } | FromWorker::LoadFailed { .. }), _) => {
                    return Err(Broken::Died("it sent a load answer during a run".into()));
                }
                (None, _) => return Err(Broken::Died("it closed the socket".into())),
            }
        }
    }
}

impl std::fmt::Debug for WorkerPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPlugin")
            .field("name", &self.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Starts a worker, sends it the load request with the plugin's current
/// state, and waits for it to load and confine itself. Fills in `status`.
async fn spawn(
    request: &LoadRequest,
    state: Option<&PluginState>,
    options: &WorkerOptions,
    status: &mut WorkerStatus,
) -> Result<(Connection, PluginInfo), String> {
    let name = request.name.as_str();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| format!("cannot create its socket: {e}"))?;
    let mut child = Command::new(&options.executable)
        .arg0("neurallog-agent")
        .arg("plugin-worker")
        .arg("--parent")
        .arg(std::process::id().to_string())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", options.executable.display()))?;
    let pid = child.id().unwrap_or(0);
    status.cgroup = match options.cgroup {
        true => cgroup::attach(name, pid, request.limits.memory_bytes),
        false => "not used (plugins.worker.cgroup is off)".into(),
    };
    ours.set_nonblocking(true)
        .map_err(|e| format!("cannot use its socket: {e}"))?;
    let (mut reader, mut writer) = UnixStream::from_std(ours)
        .map_err(|e| format!("cannot use its socket: {e}"))?
        .into_split();
    let mut request = request.clone();
    request.state = state.map(PluginState::snapshot).unwrap_or_default();
    let load = ToWorker::Load(Box::new(request.clone()));
    let wait = request.host.load_timeout + START_GRACE;
    // `describe` runs guest code: its lines are capped like a run's.
    let max_lines = request.limits.max_log_lines + WORKER_LOG_LINES;
    let answer = async {
        protocol::write(&mut writer, &load).await?;
        let mut lines = 0u64;
        loop {
            match protocol::read(&mut reader).await? {
                Some(FromWorker::Log(line)) => {
                    lines += 1;
                    if lines <= max_lines {
                        logs::emit(owner_of(request.world, name), pid, &line);
                    }
                }
                other => return Ok::<_, FrameError>(other),
            }
        }
    };
    let answer = match tokio::time::timeout(wait, answer).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => {
            let exit = reap(&mut child).await;
            return Err(format!("{exit} while loading ({})", super::chain(&error)));
        }
        Err(_) => {
            let exit = reap(&mut child).await;
            return Err(format!("did not load within {wait:?}; killed, {exit}"));
        }
    };
    match answer {
        Some(FromWorker::Loaded { info, confinement }) => {
            let summary = summary(&confinement, &status.cgroup);
            let owner = owner_of(request.world, name);
            PluginWorkerStarted {
                owner,
                pid,
                confinement: &summary,
            }
            .emit();
            status.pid = Some(pid);
            status.confinement = Some(confinement);
            Ok((
                Connection {
                    child,
                    pid,
                    reader,
                    writer,
                },
                *info,
            ))
        }
        Some(FromWorker::LoadFailed { message }) => {
            reap(&mut child).await;
            Err(message)
        }
        Some(_) => {
            let exit = reap(&mut child).await;
            Err(format!(
                "sent something else than a load answer; killed, {exit}"
            ))
        }
        None => {
            let exit = reap(&mut child).await;
            Err(format!("{exit} while loading"))
        }
    }
}

/// CPU seconds process `pid` has used, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name: utime and stime are the 12th
    // and 13th of them (the 14th and 15th of the line).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// How often an idle worker is looked at: one killed between jobs is
/// reaped (not left a zombie) and `/status` says so within this.
const IDLE_WATCH: Duration = Duration::from_secs(5);

/// Looks at `plugin`'s worker every [`IDLE_WATCH`] while nothing uses it,
/// until the plugin is dropped.
async fn watch_idle(plugin: std::sync::Weak<WorkerPlugin>) {
    loop {
        tokio::time::sleep(IDLE_WATCH).await;
        let Some(plugin) = plugin.upgrade() else {
            return;
        };
        let Ok(mut slot) = plugin.slot.try_lock() else {
            continue;
        };
        plugin.reap_if_exited(&mut slot).await;
    }
}

/// Kills the worker if it still runs and says how it ended.
async fn reap(child: &mut Child) -> String {
    // A worker that closed its socket is exiting: give it a moment to say
    // how, then make sure.
    let status = match tokio::time::timeout(Duration::from_millis(200), child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    match status {
        Ok(status) => describe_exit(status),
        Err(error) => format!("could not be waited for: {error}"),
    }
}

/// `killed by signal 9 (SIGKILL)`, `exited with status 1`.
fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => format!("ended: {status}"),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSYS => "SIGSYS, its seccomp filter stopped a forbidden system call",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGXCPU => "SIGXCPU, its CPU time limit",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        _ => "another signal",
    }
}

/// One line about a worker's confinement.
fn summary(confinement: &Confinement, cgroup: &str) -> String {
    format!(
        "{}: uid={} gid={} no_new_privs={} seccomp={} {} cgroup={cgroup}",
        confinement.identity,
        confinement.uid,
        confinement.gid,
        confinement.no_new_privs,
        confinement.seccomp,
        confinement.rlimits.join(" "),
    )
}

fn failed_report(reason: FailureReason, message: String, duration: Duration) -> RunReport {
    RunReport::failed(reason, message, duration)
}

/// A run answered as a batch: `exchange` refuses that, so it cannot come.
fn unreachable_answer(started: Instant) -> RunReport {
    failed_report(
        FailureReason::WorkerCrashed,
        "the plugin worker answered a run with a batch".into(),
        started.elapsed(),
    )
}

/// The record ranges a batch goes to a worker in: consecutive, each of at
/// most [`PART_BYTES`] of records unless one record alone is more.
fn parts(batch: &ColumnBatch) -> Vec<std::ops::Range<usize>> {
    let len = columns::len(batch);
    if columns::batch_bytes(batch) <= PART_BYTES {
        return std::iter::once(0..len).collect();
    }
    let mut parts = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for i in 0..len {
        let size = columns::record_bytes(batch, i);
        if i > start && bytes + size > PART_BYTES {
            parts.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    parts.push(start..len);
    parts
}

/// The component a worker of `world` loaded under `name` serves.
fn owner_of(world: World, name: &str) -> WorkerOwner<'_> {
    match world {
        World::Check => WorkerOwner::Check(name),
        World::Processor => WorkerOwner::Transform(name),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wasm::{Batch, LogRecord};

    fn batch(sizes: &[usize]) -> ColumnBatch {
        columns::to_columns(&Batch {
            resources: Vec::new(),
            shared_attributes: Vec::new(),
            records: sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| LogRecord {
                    origin: i as u32,
                    timestamp: 0,
                    severity_number: 0,
                    severity_text: String::new(),
                    body: "x".repeat(size),
                    attributes: Vec::new(),
                    shared_attributes: 0,
                    resource: 0,
                })
                .collect(),
        })
    }

    #[test]
    fn a_process_cpu_time_is_read_from_proc_and_grows() {
        let pid = std::process::id();
        let before = cpu_seconds(pid).expect("this process's CPU time");
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_seconds(pid).expect("this process's CPU time");
        assert!(after > before, "{before} then {after}");
        assert_eq!(cpu_seconds(u32::MAX), None, "no such process");
    }

    proptest! {
        #[test]
        fn a_batch_goes_in_consecutive_parts_each_within_the_cap_unless_one_record(
            sizes in proptest::collection::vec(
                prop_oneof![0usize..64, Just(PART_BYTES as usize / 3), Just(PART_BYTES as usize + 1)],
                0..12,
            ),
        ) {
            let batch = batch(&sizes);
            let parts = parts(&batch);
            let bytes = |range: std::ops::Range<usize>| -> u64 {
                range.map(|i| columns::record_bytes(&batch, i)).sum()
            };
            let mut next = 0;
            for part in &parts {
                prop_assert_eq!(part.start, next, "consecutive, from the first record");
                next = part.end;
                let size = bytes(part.clone());
                prop_assert!(size <= PART_BYTES || part.len() == 1, "{:?}: {} bytes", part, size);
                prop_assert!(!part.is_empty() || sizes.is_empty());
            }
            prop_assert_eq!(next, sizes.len(), "every record");
            // Not split more than needed: a part and the next would not fit
            // together.
            for pair in parts.windows(2) {
                prop_assert!(bytes(pair[0].start..pair[1].end) > PART_BYTES);
            }
        }
    }
}
