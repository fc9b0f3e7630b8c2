//! `neurallog-agent run`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::pipeline::Pipeline;
use super::watch::ConfigWatcher;
use crate::admin::{self, AdminState};
use crate::checks::PluginRuntime;
use crate::config::{self, Config, ConfigErrors, ConfigSource};
use crate::error::Chain;
use crate::sources::host_resource;
use crate::telemetry::Exposition;
use crate::telemetry::events::{BuildInfo, ConfigReloadFailed, ConfigReloaded};
use crate::topology::{BuildError, Globals, StatusRegistry};

/// Why the agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(ConfigErrors),
    /// The state directory cannot be used.
    #[error("cannot use data_dir {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another agent holds the state directory.
    #[error("data_dir {path} is locked by another running agent (lock file {path}/agent.lock)")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The admin server cannot listen.
    #[error("cannot listen on admin.address {address}")]
    Admin {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A component could not be built.
    #[error("cannot start the pipeline")]
    Build(#[source] BuildError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
}

/// Run the agent with the configuration from `source` until SIGTERM or
/// SIGINT.
pub async fn run(source: ConfigSource) -> Result<(), RunError> {
    let started = Instant::now();
    let config = load_valid(&source).map_err(RunError::Config)?;
    crate::telemetry::init_logging(&config.log);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %source.label(), "Starting the NeuralLog agent.");
    for warning in config::validate(&config, &source.label()).unwrap_or_default() {
        tracing::warn!("{warning}");
    }
    BuildInfo.emit();

    let _lock = lock_data_dir(&config)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;

    let status = Arc::new(StatusRegistry::default());
    let exposition = Arc::new(Exposition::default());
    let admin_state = Arc::new(AdminState {
        status: Arc::clone(&status),
        exposition: Arc::clone(&exposition),
        started,
        pipeline_up: Default::default(),
    });
    let mut admin = Admin::start(&config, &admin_state).await?;

    let globals = Arc::new(Globals {
        data_dir: config.data_dir.clone(),
        host: Arc::new(host_resource()),
        status,
        exposition,
    });
    let plugins = Arc::new(PluginRuntime::new(
        config.plugins.clone(),
        &config.data_dir,
        config.checks.values().any(|c| c.limits.fuel.is_some()),
    ));
    let mut pipeline = Pipeline::start(config.clone(), globals, plugins)
        .await
        .map_err(RunError::Build)?;
    admin_state.pipeline_up.store(true, Ordering::Release);
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Pipeline running."
    );

    let mut watcher = match (&source, config.watch_config) {
        (ConfigSource::File(path), true) => Some(ConfigWatcher::new(path)),
        _ => None,
    };
    loop {
        let trigger = tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => "sighup",
            () = async { match watcher.as_mut() { Some(w) => w.changed().await, None => std::future::pending().await } } => "file_change",
        };
        if let Some(w) = watcher.as_mut() {
            w.mark_loaded();
        }
        match load_valid(&source) {
            Ok(new) => {
                crate::telemetry::init_logging(&new.log);
                if new.admin != pipeline.config().admin {
                    admin.stop().await;
                    admin = Admin::start(&new, &admin_state)
                        .await
                        .unwrap_or_else(|error| {
                            tracing::error!(error = %Chain(&error), "Admin server not restarted.");
                            Admin::none()
                        });
                }
                let deadline = Duration::from_secs(new.shutdown_timeout_secs);
                pipeline.reload(new, deadline).await;
                ConfigReloaded { trigger }.emit();
            }
            Err(errors) => ConfigReloadFailed {
                trigger,
                error: errors,
            }
            .emit(),
        }
    }

    tracing::info!("Shutting down: draining in-flight batches.");
    admin_state.pipeline_up.store(false, Ordering::Release);
    let deadline = Duration::from_secs(pipeline.config().shutdown_timeout_secs);
    pipeline.shutdown(deadline).await;
    admin.stop().await;
    tracing::info!("Stopped.");
    Ok(())
}

fn load_valid(source: &ConfigSource) -> Result<Config, ConfigErrors> {
    let config = config::load(source)?;
    config::validate(&config, &source.label())?;
    Ok(config)
}

/// Create `data_dir` and take its lock, so two agents never share
/// checkpoints. The lock is released when the returned file closes.
fn lock_data_dir(config: &Config) -> Result<std::fs::File, RunError> {
    let path = config.data_dir.clone();
    std::fs::create_dir_all(&path).map_err(|source| RunError::DataDir {
        path: path.clone(),
        source,
    })?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join("agent.lock"))
        .map_err(|source| RunError::DataDir {
            path: path.clone(),
            source,
        })?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(RunError::Locked { path }),
        Err(error) => Err(RunError::DataDir {
            path,
            source: error.into(),
        }),
    }
}

/// The running admin server, if enabled.
struct Admin {
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Admin {
    fn none() -> Self {
        Admin {
            shutdown: CancellationToken::new(),
            task: None,
        }
    }

    async fn start(config: &Config, state: &Arc<AdminState>) -> Result<Self, RunError> {
        if !config.admin.enabled {
            return Ok(Admin::none());
        }
        let address: SocketAddr = config.admin.address.parse().map_err(|_| RunError::Admin {
            address: config.admin.address.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a socket address"),
        })?;
        let shutdown = CancellationToken::new();
        let (_, task) = admin::serve(address, Arc::clone(state), shutdown.clone())
            .await
            .map_err(|source| RunError::Admin {
                address: config.admin.address.clone(),
                source,
            })?;
        Ok(Admin {
            shutdown,
            task: Some(task),
        })
    }

    async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
