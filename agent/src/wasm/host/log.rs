//! `neurallog:plugin/log`: a plugin's log lines, forwarded to the agent's
//! `tracing` log with the check's name as the `plugin` field. Lines over the
//! per-run cap are dropped and counted; long lines are cut. Control
//! characters are escaped (`\n` becomes the two characters `\` `n`), so a
//! plugin cannot start a line of its own in the agent's text log and pass
//! it off as the agent's.

use super::HostState;
use crate::telemetry::escape_controls;
use crate::wasm::bindings::v0_1::neurallog::plugin::log::{Host, Level};

/// Longest message kept from one line, in bytes.
const MAX_LINE_BYTES: usize = 4096;

impl Host for HostState {
    fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        self.budget.charge_host_call()?;
        if !self.budget.admit_log_line() {
            return Ok(());
        }
        truncate(&mut message, MAX_LINE_BYTES);
        let message = escape_controls(&message);
        let plugin = &*self.plugin.name;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(" [truncated]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_line() {
        let forged = "done\n2026-01-01T00:00:00Z  INFO neurallog_agent: Config reloaded.\r\x1b[2K";
        let escaped = escape_controls(forged);
        assert!(!escaped.contains(['\n', '\r', '\x1b']), "{escaped}");
        assert_eq!(
            escaped,
            "done\\n2026-01-01T00:00:00Z  INFO neurallog_agent: Config reloaded.\\r\\u{1b}[2K"
        );
        assert_eq!(escape_controls("tab\tand é"), "tab\tand é");
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        let mut s = "aé".repeat(3);
        truncate(&mut s, 4);
        assert_eq!(s, "aéa [truncated]");
        let mut short = String::from("ok");
        truncate(&mut short, 4);
        assert_eq!(short, "ok");
    }
}
