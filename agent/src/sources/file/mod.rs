//! The `file` source: tails log files and loses no line.
//!
//! - Discovery (`discovery`): include/exclude globs, inotify events, and
//!   periodic rescans for what events miss.
//! - Identity (`fingerprint`): device and inode plus a hash of the first
//!   bytes, so inode reuse, copies and rewrites are told apart.
//! - Reading (`reader`): large positioned reads framed with `memchr`; long
//!   lines cut and flagged; invalid UTF-8 kept (lossy) and flagged.
//! - Processing (`handler`, `plain`, `multiline`): lines become records,
//!   possibly joined (stack traces, CRI partials).
//! - Delivery and checkpoints (`tailer`, `checkpoint`): a file's checkpoint
//!   moves only when every sink acknowledged its lines, and is written
//!   atomically. Rotated and deleted files (`files`) stay open until
//!   drained and acknowledged, within a budget; what is given up is counted.
//! - Descriptors (`budget`): past `max_open_files`, found files wait in
//!   line and idle files are closed to make room, and opened again when
//!   they grow.

mod budget;
mod checkpoint;
mod config;
mod discovery;
mod files;
mod fingerprint;
mod handler;
mod ignored;
mod multiline;
mod plain;
pub(crate) mod reader;
mod tailer;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod model_tests;

pub use checkpoint::{Checkpoints, Entry};
pub use config::{FileSourceConfig, ReadFrom, TailConfig, split_tail_fields, validate_globs};
pub use discovery::Discovery;
pub use fingerprint::{FileId, Fingerprint};
pub use handler::{Emitter, FileKey, LineHandler, RawLine, StreamFactory, StreamSpec};
pub use multiline::{Multiline, MultilineConfig, MultilinePreset, group_or_emit};
pub use plain::PlainFactory;
pub use tailer::Tailer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, TryLockError};

use crate::event::{Attributes, Resource};
use crate::telemetry::events::FileSourceMetrics;
use crate::topology::{BoxedComponent, BuildError, ComponentState, SourceContext};

/// Build the source: compile the patterns, load the checkpoints, and run
/// the engine on its own thread.
pub fn build(config: &FileSourceConfig, cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    let discovery =
        Discovery::new(&config.include, &config.exclude).map_err(BuildError::from_error)?;
    let attributes: Attributes = config
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let resource = crate::sources::workload_resource(&cx.globals.host, &config.resource);
    let factory = PlainFactory::new(
        Arc::new(Resource::new(resource)),
        attributes,
        config.multiline.clone(),
    );
    spawn_tailer(config.tail.clone(), discovery, Box::new(factory), cx)
}

/// Run a tailing engine for `cx` on a thread of its own.
///
/// One engine per source and data directory at a time: after a reload,
/// the replacement waits for the engine it replaces to end (it may be
/// saving its last checkpoints, or stuck in a read) and goes on from the
/// checkpoints it left, so that two engines never write them side by
/// side. It takes them from the engine itself, not from the disk: a save
/// that failed (the data directory's disk full) or that came after this
/// engine was built would otherwise have it read again what was delivered.
/// A panic in the engine ends the component as failed.
pub fn spawn_tailer(
    tail: TailConfig,
    discovery: Discovery,
    factory: Box<dyn StreamFactory>,
    cx: SourceContext,
) -> Result<BoxedComponent, BuildError> {
    // Loaded here too, so that an unusable checkpoint directory fails the
    // build with its reason.
    let checkpoints =
        Checkpoints::load(&cx.globals.data_dir, &cx.id).map_err(BuildError::from_error)?;
    let metrics = FileSourceMetrics::new(cx.metrics.clone());
    let status = Arc::new(Mutex::new(serde_json::Value::Null));
    let report = Arc::clone(&status);
    cx.status
        .set_reporter(move || report.lock().map(|s| s.clone()).unwrap_or_default());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<std::thread::Result<()>>();
    let id = cx.id.clone();
    let data_dir = cx.globals.data_dir.clone();
    let engine = engine_lock(&data_dir, &id);
    // Ready once the first scan has opened every file that exists: what
    // is written after `/readyz` answers is not missed.
    let ready = cx.status.clone();
    ready.defer_running();
    let SourceContext { out, shutdown, .. } = cx;
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("tail-{id}"))
        .spawn(move || {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let (mut running, checkpoints) = match engine.try_lock() {
                    Ok(guard) => (guard, checkpoints),
                    Err(TryLockError::Poisoned(poisoned)) => (poisoned.into_inner(), checkpoints),
                    Err(TryLockError::WouldBlock) => {
                        tracing::info!(component_id = %id, "Waiting for the engine this one replaces to end.");
                        let guard = crate::sync::lock(&engine);
                        let latest = Checkpoints::load(&data_dir, &id).unwrap_or(checkpoints);
                        (guard, latest)
                    }
                };
                // What the engine before left, if one ran since this one was
                // built: newer than the disk's when its last save failed.
                let checkpoints = match running.take() {
                    Some(left) => left.handed_on(),
                    None => checkpoints,
                };
                let _guard = runtime.enter();
                let mut tailer = Tailer::new(
                    tail,
                    discovery,
                    factory,
                    checkpoints,
                    metrics,
                    out,
                    shutdown,
                    status,
                );
                drop(_guard);
                tailer.on_first_scan(move || ready.set_state(ComponentState::Running));
                tracing::debug!(component_id = %id, "Engine started.");
                *running = Some(tailer.run());
                tracing::debug!(component_id = %id, "Engine ended.");
            }));
            let _ = done_tx.send(ran);
        })
        .map_err(|e| BuildError::caused("cannot start the tailing thread", e))?;
    Ok(Box::pin(async move {
        if let Ok(Err(panic)) = done_rx.await {
            // Carried to the task, whose supervisor marks the source failed.
            std::panic::resume_unwind(panic);
        }
    }))
}

/// The lock an engine holds while it runs, one per checkpoint file, and
/// the checkpoints the last engine to run left in it. Kept for the life
/// of the process, not only while an engine holds it: a reload stops the
/// engine it replaces (which ends) before it builds the replacement, and
/// what the ended engine left must still be there then. One slot per
/// source name and data directory ever run, each as large as that
/// source's checkpoint file.
fn engine_lock(data_dir: &Path, id: &str) -> Arc<Mutex<Option<Checkpoints>>> {
    type Slot = Mutex<Option<Checkpoints>>;
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<Slot>>>> = LazyLock::new(Default::default);
    let key = data_dir.join("checkpoints").join(id);
    Arc::clone(crate::sync::lock(&LOCKS).entry(key).or_default())
}
