//! The agent's own log: `tracing` to stderr, as text or JSON.

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::{LogConfig, LogFormat};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Install the global subscriber. `RUST_LOG`, when set, overrides the
/// configured level. Calling it again (on reload) only changes the level;
/// the format is fixed at start-up.
pub fn init(config: &LogConfig) {
    let filter = filter(config);
    if let Some(handle) = FILTER.get() {
        if std::env::var_os("RUST_LOG").is_none() {
            let _ = handle.reload(filter);
        }
        return;
    }
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_target(true),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if result.is_ok() {
        let _ = FILTER.set(handle);
    }
}

fn filter(config: &LogConfig) -> EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(&config.level))
        }
        _ => EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info")),
    }
}

/// `text` with every control character but tab escaped as Rust does
/// (`\n`, `\r`, `\u{1b}`): for text that is not the agent's own (a
/// plugin's log line or error message), so it cannot start a line of its
/// own in the text log, nor move the cursor of a terminal showing it.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => escaped.push(c),
            c if c.is_control() => escaped.extend(c.escape_default()),
            c => escaped.push(c),
        }
    }
    std::borrow::Cow::Owned(escaped)
}
