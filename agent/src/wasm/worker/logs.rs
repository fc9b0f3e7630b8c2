//! Log lines across the process boundary: in the worker, a `tracing` layer
//! that turns each event into a [`LogLine`] frame for the agent (dropped,
//! not waited for, when the socket is backed up); in the agent, those lines
//! logged again with the check's name and the worker's pid, escaped (the
//! worker is not trusted to have done it) and capped per run.

use std::fmt::{self, Write as _};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use super::protocol::{FromWorker, LogLevel, LogLine};
use crate::telemetry::escape_controls;
use crate::telemetry::events::WorkerOwner;

/// The worker's layer: every event becomes a frame on `tx`.
pub(crate) struct Forward {
    pub(crate) tx: mpsc::Sender<FromWorker>,
}

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // Only the `log` import's lines are the plugin's own; the host's
        // lines about the plugin carry a `plugin` field too.
        let own = event.metadata().target() == PLUGIN_LOG_TARGET;
        let mut fields = Fields {
            own,
            ..Fields::default()
        };
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::TRACE => LogLevel::Trace,
            Level::DEBUG => LogLevel::Debug,
            Level::INFO => LogLevel::Info,
            Level::WARN => LogLevel::Warn,
            Level::ERROR => LogLevel::Error,
        };
        let mut message = fields.message;
        message.push_str(&fields.rest);
        let line = LogLine {
            level,
            plugin: fields.plugin,
            message,
        };
        // Full: the agent is not reading; the line is lost, not the run.
        let _ = self.tx.try_send(FromWorker::Log(line));
    }
}

/// Where the plugin's own log lines are logged from.
const PLUGIN_LOG_TARGET: &str = "neurallog_agent::wasm::host::log";

/// An event's fields: the message, the `plugin` field of a plugin's own
/// line, and the others as ` key=value`.
#[derive(Default)]
struct Fields {
    own: bool,
    message: String,
    plugin: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "plugin" if self.own => self.plugin = Some(value.to_owned()),
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "plugin" if self.own => self.plugin = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// Logs a line a worker sent, in the agent's log.
pub(crate) fn emit(owner: WorkerOwner<'_>, pid: u32, line: &LogLine) {
    let message = escape_controls(&line.message);
    let (component_kind, component_id) = (owner.kind(), owner.name());
    // A plugin's own line keeps the shape it has in-process: `plugin` is
    // the component's name. The worker's own lines say whose worker, as
    // the worker's other events do.
    let plugin = line.plugin.is_some().then_some(component_id);
    macro_rules! log {
        ($macro:ident) => {
            match plugin {
                Some(plugin) => tracing::$macro!(plugin, worker_pid = pid, "{message}"),
                None => tracing::$macro!(
                    component_kind,
                    component_id,
                    worker_pid = pid,
                    "Plugin worker: {message}"
                ),
            }
        };
    }
    match line.level {
        LogLevel::Trace => log!(trace),
        LogLevel::Debug => log!(debug),
        LogLevel::Info => log!(info),
        LogLevel::Warn => log!(warn),
        LogLevel::Error => log!(error),
    }
}

/// The level the agent logs at, for the worker's filter.
pub(crate) fn current_level() -> LogLevel {
    match tracing::level_filters::LevelFilter::current().into_level() {
        Some(Level::TRACE) => LogLevel::Trace,
        Some(Level::DEBUG) => LogLevel::Debug,
        Some(Level::INFO) => LogLevel::Info,
        Some(Level::WARN) => LogLevel::Warn,
        Some(Level::ERROR) | None => LogLevel::Error,
    }
}

/// `level` as a filter for the worker's subscriber.
pub(crate) fn filter(level: LogLevel) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}
