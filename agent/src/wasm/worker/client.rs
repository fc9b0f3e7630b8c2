//! The agent's side of a plugin worker: [`WorkerPlugin`] is what the check
//! scheduler runs a worker-isolated plugin through.
//!
//! One worker process per plugin, started from the agent's own executable
//! (`/proc/self/exe plugin-worker`), its end of a socketpair as stdin. The
//! agent keeps what must outlive a worker: the plugin's state (the worker
//! forwards each change, the agent persists it and answers), its
//! quarantine, and the restart backoff. A worker that dies (SIGKILL, a
//! crash, its seccomp filter) or does not answer within the run's deadline
//! plus grace costs that run (`worker_crashed`, `worker_unresponsive`);
//! the next run starts a new worker once the backoff has passed. Dropping
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
    ToWorker, WorkerSource,
};
use crate::telemetry::events::{PluginWorkerDied, PluginWorkerRestarted, PluginWorkerStarted};
use crate::wasm::error::{LoadError, LoadErrorKind};
use crate::wasm::host::state::PluginState;
use crate::wasm::loader::valid_name;
use crate::wasm::plugin::{quarantined_report, record};
use crate::wasm::quarantine::{Quarantine, QuarantineStatus};
use crate::wasm::{FailureReason, Grants, Limits, PluginHost, PluginInfo, PluginSource, RunReport};

/// Time beyond a run's deadline plus the host's grace for the worker's
/// answer to arrive, before it counts as unresponsive.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

/// Time beyond the load timeout for a new worker to say it loaded.
const START_GRACE: Duration = Duration::from_secs(5);

/// Log lines beyond the plugin's own cap a worker may send in one run (its
/// own warnings): past that, lines are dropped and counted.
const WORKER_LOG_LINES: u64 = 64;

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

/// A plugin loaded in a worker process.
pub struct WorkerPlugin {
    name: String,
    request: LoadRequest,
    options: WorkerOptions,
    /// The agent's persisted copy of the plugin's state.
    state: Arc<PluginState>,
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
        let fail = |kind| LoadError {
            plugin: name.to_owned(),
            source_name: source.display_name(),
            kind,
        };
        if !valid_name(name) {
            return Err(fail(LoadErrorKind::InvalidName));
        }
        let state = host
            .plugin_state(name, limits.max_state_bytes)
            .map_err(|e| fail(e.into()))?;
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
        let (connection, info) = spawn(name, &request, &state, &options, &mut status)
            .await
            .map_err(|message| fail(LoadErrorKind::Worker(message)))?;
        Ok(Arc::new(Self {
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
        }))
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
        let report = match self.run_in_worker(config_json).await {
            Ok(report) => report,
            Err((reason, message)) => failed_report(reason, message, started.elapsed()),
        };
        record(&self.name, &self.quarantine, &report.outcome);
        report
    }

    async fn run_in_worker(&self, config_json: &str) -> Result<RunReport, (FailureReason, String)> {
        let mut slot = self.slot.lock().await;
        let mut connection = match slot.connection.take() {
            Some(connection) => connection,
            None => self.restart(&mut slot).await?,
        };
        let broken = match self.exchange(&mut connection, config_json).await {
            Ok(report) => {
                slot.connection = Some(connection);
                self.status_mut().consecutive_failures = 0;
                return Ok(report);
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
            check: &self.name,
            pid: connection.pid,
            error_type: reason.as_str(),
            cause: &cause,
            restart_in: backoff,
        }
        .emit();
        Err((
            reason,
            format!("the plugin worker (pid {}) {cause}", connection.pid),
        ))
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
            &self.name,
            &self.request,
            &self.state,
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
                    check: &self.name,
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

    /// One run's conversation: the request, then log lines and state writes
    /// until the report, all within the run's deadline plus grace.
    async fn exchange(
        &self,
        connection: &mut Connection,
        config_json: &str,
    ) -> Result<RunReport, Broken> {
        let deadline = tokio::time::Instant::now() + self.answer_within;
        let died = |error: FrameError| Broken::Died(super::chain(&error));
        let run = ToWorker::Run {
            config_json: config_json.to_owned(),
        };
        protocol::write(&mut connection.writer, &run)
            .await
            .map_err(died)?;
        let limits = &self.request.limits;
        let max_lines = limits.max_log_lines + WORKER_LOG_LINES;
        let (mut lines, mut dropped, mut state_written) = (0u64, 0u64, 0u64);
        loop {
            let frame = tokio::time::timeout_at(deadline, protocol::read(&mut connection.reader))
                .await
                .map_err(|_| Broken::Unresponsive(self.answer_within))?
                .map_err(died)?;
            match frame {
                Some(FromWorker::Ran(report)) => {
                    let mut report = *report;
                    report.logs_dropped += dropped;
                    return Ok(report);
                }
                Some(FromWorker::Log(line)) => {
                    lines += 1;
                    match lines <= max_lines {
                        true => logs::emit(&self.name, connection.pid, &line),
                        false => dropped += 1,
                    }
                }
                Some(FromWorker::StateWrite { key, value }) => {
                    // The worker enforces the run's write budget; a worker
                    // that does not is refused here too.
                    state_written += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
                    let result = match state_written <= limits.max_state_write_bytes {
                        true => self.state.apply(key, value).await,
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
                Some(FromWorker::Loaded { .. } | FromWorker::LoadFailed { .. }) => {
                    return Err(Broken::Died("it sent a load answer during a run".into()));
                }
                None => return Err(Broken::Died("it closed the socket".into())),
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
    name: &str,
    request: &LoadRequest,
    state: &PluginState,
    options: &WorkerOptions,
    status: &mut WorkerStatus,
) -> Result<(Connection, PluginInfo), String> {
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
    request.state = state.snapshot();
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
                        logs::emit(name, pid, &line);
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
            PluginWorkerStarted {
                check: name,
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
