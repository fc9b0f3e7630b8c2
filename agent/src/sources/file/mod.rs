//! The `file` source: tails log files and loses no line.
//!
//! - Discovery (`discovery`): include/exclude globs, `notify` events, and
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
mod model_tests;

pub use checkpoint::{Checkpoints, Entry};
pub use config::{FileSourceConfig, ReadFrom, TailConfig, split_tail_fields, validate_globs};
pub use discovery::Discovery;
pub use fingerprint::{FileId, Fingerprint};
pub use handler::{Emitter, FileKey, LineHandler, RawLine, StreamFactory, StreamSpec};
pub use multiline::{Multiline, MultilineConfig, MultilinePreset, group_or_emit};
pub use plain::PlainFactory;
pub use tailer::Tailer;

use std::sync::{Arc, Mutex};

use crate::event::Attributes;
use crate::telemetry::events::FileSourceMetrics;
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the source: compile the patterns, load the checkpoints, and run
/// the engine on its own thread.
pub fn build(config: &FileSourceConfig, cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    let discovery = Discovery::new(&config.include, &config.exclude)
        .map_err(|e| BuildError::new(e.to_string()))?;
    let attributes: Attributes = config
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let factory = PlainFactory::new(
        Arc::clone(&cx.globals.host),
        attributes,
        config.multiline.clone(),
    );
    spawn_tailer(config.tail.clone(), discovery, Box::new(factory), cx)
}

/// Run a tailing engine for `cx` on a thread of its own.
pub fn spawn_tailer(
    tail: TailConfig,
    discovery: Discovery,
    factory: Box<dyn StreamFactory>,
    cx: SourceContext,
) -> Result<BoxedComponent, BuildError> {
    let checkpoints = Checkpoints::load(&cx.globals.data_dir, &cx.id)
        .map_err(|e| BuildError::new(e.to_string()))?;
    let metrics = FileSourceMetrics::new(cx.metrics.clone());
    let status = Arc::new(Mutex::new(serde_json::Value::Null));
    let report = Arc::clone(&status);
    cx.status
        .set_reporter(move || report.lock().map(|s| s.clone()).unwrap_or_default());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let id = cx.id.clone();
    let SourceContext { out, shutdown, .. } = cx;
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("tail-{id}"))
        .spawn(move || {
            let _guard = runtime.enter();
            let tailer = Tailer::new(
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
            tailer.run();
            let _ = done_tx.send(());
        })
        .map_err(|e| BuildError::new(format!("cannot start the tailing thread: {e}")))?;
    Ok(Box::pin(async move {
        let _ = done_rx.await;
    }))
}
