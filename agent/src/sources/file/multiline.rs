//! Multiline records: stack traces and other messages written as several
//! lines are joined into one record.
//!
//! Either a custom rule — `start_pattern` (a matching line starts a record,
//! any other continues the current one) and/or `continuation_pattern` (a
//! matching line always continues) — or a preset for Java, Python or Go
//! traces, which are small state machines: whether a line continues can
//! depend on what came before it (a Python `ValueError: x` line ends a
//! traceback but starts a record anywhere else).

use std::time::{Duration, Instant};

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::handler::{Emitter, FileKey};
use crate::config::{ConfigError, FieldPath, Validate};
use crate::event::{Event, GrowingRecord, LogFlags, LogRecord};

/// How lines are grouped into records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// A built-in rule set for stack traces: `java`, `python` or `go`.
    #[serde(default)]
    pub preset: Option<MultilinePreset>,
    /// Regular expression: a line that matches starts a new record; a line
    /// that does not continues the current one.
    #[serde(default)]
    pub start_pattern: Option<String>,
    /// Regular expression: a line that matches always continues the current
    /// record (checked before `start_pattern`). Alone, every other line
    /// starts a record.
    #[serde(default)]
    pub continuation_pattern: Option<String>,
    /// A record is sent when no line has joined it for this long, in
    /// milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Most lines in one record; the rest start a new one (both flagged
    /// `multiline_cut`).
    #[serde(default = "default_max_lines")]
    pub max_lines: usize,
    /// Most bytes in one record.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

/// Built-in rule sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MultilinePreset {
    /// Java exceptions: `at ...` frames, `Caused by:`, `... N more`, and an
    /// exception class line following a log line.
    Java,
    /// Python tracebacks, chained ones included.
    Python,
    /// Go panics with their goroutine dumps.
    Go,
}

fn default_timeout_ms() -> u64 {
    1_000
}

fn default_max_lines() -> usize {
    500
}

fn default_max_bytes() -> usize {
    512 * 1024
}

impl Validate for MultilineConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        let custom = self.start_pattern.is_some() || self.continuation_pattern.is_some();
        if self.preset.is_some() == custom {
            errors.push(path.error(
                "expected either `preset` or a custom rule (`start_pattern` and/or `continuation_pattern`), not both or neither",
            ));
        }
        for (field, pattern) in [
            ("start_pattern", &self.start_pattern),
            ("continuation_pattern", &self.continuation_pattern),
        ] {
            if let Some(pattern) = pattern
                && let Err(error) = Regex::new(pattern)
            {
                errors.push(
                    path.field(field)
                        .error(format!("regular expression is invalid: {error}")),
                );
            }
        }
        if self.max_lines == 0 {
            errors.push(path.field("max_lines").error("must be at least 1"));
        }
        if self.timeout_ms == 0 {
            errors.push(path.field("timeout_ms").error("must be at least 1"));
        }
    }
}

/// What a line does to the current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Start,
    Continue,
}

enum Rules {
    Custom {
        start: Option<Regex>,
        continuation: Option<Regex>,
    },
    Java(JavaRules),
    Python(PythonRules),
    Go(GoRules),
}

/// Joins the lines of one stream into records.
pub struct Multiline {
    rules: Rules,
    timeout: Duration,
    max_lines: usize,
    max_bytes: usize,
    group: Option<Group>,
}

struct Group {
    record: GrowingRecord,
    lines: usize,
    /// (file, first byte, end) per file the group has lines from, in order.
    spans: Vec<(FileKey, u64, u64)>,
    last_line_at: Instant,
}

// === impl Multiline ===

impl Multiline {
    /// Build from a validated configuration.
    pub fn new(config: &MultilineConfig) -> Self {
        let compile = |p: &Option<String>| p.as_deref().and_then(|p| Regex::new(p).ok());
        let rules = match config.preset {
            Some(MultilinePreset::Java) => Rules::Java(JavaRules::new()),
            Some(MultilinePreset::Python) => Rules::Python(PythonRules::default()),
            Some(MultilinePreset::Go) => Rules::Go(GoRules::new()),
            None => Rules::Custom {
                start: compile(&config.start_pattern),
                continuation: compile(&config.continuation_pattern),
            },
        };
        Multiline {
            rules,
            timeout: Duration::from_millis(config.timeout_ms),
            max_lines: config.max_lines,
            max_bytes: config.max_bytes,
            group: None,
        }
    }

    /// Add a line (already decoded into a record) read from `file` at
    /// `start..end`.
    pub fn push(
        &mut self,
        record: LogRecord,
        file: FileKey,
        start: u64,
        end: u64,
        now: Instant,
        out: &mut Emitter,
    ) {
        self.push_spanning(record, &[], (file, start, end), now, out);
    }

    /// Add a line whose pieces were read from `earlier` spans (of files
    /// before it in the stream: a CRI partial across a rotation) and end
    /// in `last`. The group keeps every span until it is sent, so a file is
    /// never consumed while a record with its bytes is still being built.
    pub fn push_spanning(
        &mut self,
        record: LogRecord,
        earlier: &[(FileKey, u64, u64)],
        last: (FileKey, u64, u64),
        now: Instant,
        out: &mut Emitter,
    ) {
        let join = self.rules.classify(&record.body);
        if join == Join::Continue
            && let Some(group) = self.group.as_mut()
        {
            if group.lines < self.max_lines
                && group.record.body_len() + 1 + record.body.len() <= self.max_bytes
            {
                group.record.push_str("\n");
                group.record.push_str(&record.body);
                group.record.record_mut().flags.insert(record.flags);
                group.lines += 1;
                group.last_line_at = now;
                for &span in earlier.iter().chain([&last]) {
                    extend(&mut group.spans, span);
                }
                return;
            }
            // Over a limit: send what there is, flagged, and go on with a
            // new record that is flagged too.
            let mut full = self.group.take().map(|g| {
                let mut g = g;
                g.record.record_mut().flags.insert(LogFlags::MULTILINE_CUT);
                g
            });
            if let Some(group) = full.take() {
                emit(group, out);
            }
            let mut record = record;
            record.flags.insert(LogFlags::MULTILINE_CUT);
            self.begin(record, earlier, last, now);
            return;
        }
        if let Some(group) = self.group.take() {
            emit(group, out);
        }
        self.begin(record, earlier, last, now);
    }

    fn begin(
        &mut self,
        record: LogRecord,
        earlier: &[(FileKey, u64, u64)],
        last: (FileKey, u64, u64),
        now: Instant,
    ) {
        let mut spans = Vec::with_capacity(earlier.len() + 1);
        for &span in earlier.iter().chain([&last]) {
            extend(&mut spans, span);
        }
        self.group = Some(Group {
            record: GrowingRecord::new(record),
            lines: 1,
            spans,
            last_line_at: now,
        });
    }

    /// When the record being built times out, if there is one.
    pub fn due(&self) -> Option<Instant> {
        self.group.as_ref().map(|g| g.last_line_at + self.timeout)
    }

    /// Send the record if it waited past the timeout.
    pub fn tick(&mut self, now: Instant, out: &mut Emitter) {
        if self
            .group
            .as_ref()
            .is_some_and(|g| now.saturating_duration_since(g.last_line_at) >= self.timeout)
        {
            self.flush(out);
        }
    }

    /// Send the record being built, if any.
    pub fn flush(&mut self, out: &mut Emitter) {
        if let Some(group) = self.group.take() {
            emit(group, out);
        }
        self.rules.reset();
    }

    /// Forget the record being built: its lines are read again.
    pub fn discard(&mut self) {
        self.group = None;
        self.rules.reset();
    }

    /// The first held byte of `file`, if the current record has lines from it.
    pub fn held_from(&self, file: FileKey) -> Option<u64> {
        self.group.as_ref().and_then(|g| {
            g.spans
                .iter()
                .find(|(f, _, _)| *f == file)
                .map(|(_, start, _)| *start)
        })
    }

    /// Whether the current record has lines from `file`.
    pub fn holds(&self, file: FileKey) -> bool {
        self.held_from(file).is_some()
    }

    /// Whether no group is being gathered.
    pub fn is_empty(&self) -> bool {
        self.group.is_none()
    }
}

/// Hand a whole record, read from `earlier` spans and ending in `last`
/// (`file`, `start..end`), to `multiline` grouping when the stream has it,
/// else emit it.
pub fn group_or_emit(
    multiline: Option<&mut Multiline>,
    record: LogRecord,
    earlier: &[(FileKey, u64, u64)],
    last: (FileKey, u64, u64),
    now: Instant,
    out: &mut Emitter,
) {
    match multiline {
        Some(multiline) => multiline.push_spanning(record, earlier, last, now, out),
        None => {
            for &(file, start, end) in earlier {
                out.consumed(file, end);
                out.link(file, start, last.0);
            }
            out.emit(Event::Log(record), last.0, last.2);
        }
    }
}

/// Add `span` to a record's spans: it extends the last one when it is of
/// the same file.
fn extend(spans: &mut Vec<(FileKey, u64, u64)>, (file, start, end): (FileKey, u64, u64)) {
    match spans.last_mut() {
        Some((f, _, e)) if *f == file => *e = end,
        _ => spans.push((file, start, end)),
    }
}

fn emit(group: Group, out: &mut Emitter) {
    let Some((&(last_file, _, last_end), rest)) = group.spans.split_last() else {
        return;
    };
    for &(file, start, end) in rest {
        out.consumed(file, end);
        out.link(file, start, last_file);
    }
    out.emit(Event::Log(group.record.finish()), last_file, last_end);
}

// === impl Rules ===

impl Rules {
    fn classify(&mut self, line: &str) -> Join {
        match self {
            Rules::Custom {
                start,
                continuation,
            } => {
                if continuation.as_ref().is_some_and(|c| c.is_match(line)) {
                    Join::Continue
                } else if let Some(start) = start {
                    if start.is_match(line) {
                        Join::Start
                    } else {
                        Join::Continue
                    }
                } else {
                    Join::Start
                }
            }
            Rules::Java(rules) => rules.classify(line),
            Rules::Python(rules) => rules.classify(line),
            Rules::Go(rules) => rules.classify(line),
        }
    }

    fn reset(&mut self) {
        match self {
            Rules::Python(rules) => *rules = PythonRules::default(),
            Rules::Go(rules) => rules.in_panic = false,
            Rules::Custom { .. } | Rules::Java(_) => {}
        }
    }
}

/// Java: frames and causes continue; so does an exception class line
/// (`java.lang.IllegalStateException: boom`) right after a log line.
struct JavaRules {
    continuation: Regex,
}

impl JavaRules {
    fn new() -> Self {
        JavaRules {
            continuation: Regex::new(
                r"^(?:[\t ]+(?:at |\.\.\. \d+ (?:more|common frames omitted))|[\t ]*(?:Caused by|Suppressed): |(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?::.*)?$)",
            )
            .expect("static regex is valid"),
        }
    }

    fn classify(&self, line: &str) -> Join {
        if self.continuation.is_match(line) {
            Join::Continue
        } else {
            Join::Start
        }
    }
}

/// Python: `Traceback (most recent call last):` joins the message before
/// it; indented lines continue a traceback; the first unindented line after
/// the frames (`ValueError: x`) ends it; chained tracebacks stay together.
#[derive(Default)]
struct PythonRules {
    state: PythonState,
}

#[derive(Default, PartialEq, Eq)]
enum PythonState {
    #[default]
    Normal,
    Frames,
    AfterException,
}

impl PythonRules {
    fn classify(&mut self, line: &str) -> Join {
        let indented = line.starts_with([' ', '\t']);
        if line.starts_with("Traceback (most recent call last):") {
            self.state = PythonState::Frames;
            return Join::Continue;
        }
        match self.state {
            PythonState::Frames if indented || line.is_empty() => Join::Continue,
            PythonState::Frames => {
                self.state = PythonState::AfterException;
                Join::Continue
            }
            PythonState::AfterException
                if line.is_empty()
                    || line.starts_with("During handling of the above exception")
                    || line.starts_with("The above exception was the direct cause") =>
            {
                Join::Continue
            }
            _ => {
                self.state = PythonState::Normal;
                Join::Start
            }
        }
    }
}

/// Go: `panic:` (or `fatal error:`) starts a record; the goroutine dump —
/// blank lines, `goroutine N [...]:`, function lines, indented file lines,
/// `created by` — continues it.
struct GoRules {
    in_panic: bool,
    frame: Regex,
}

impl GoRules {
    fn new() -> Self {
        GoRules {
            in_panic: false,
            frame: Regex::new(r"^(?:goroutine \d+ \[.*\]:|created by |\[signal |[\w./*()\[\]-]+\(.*\)$|exit status \d+$)")
                .expect("static regex is valid"),
        }
    }

    fn classify(&mut self, line: &str) -> Join {
        if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            self.in_panic = true;
            return Join::Start;
        }
        if self.in_panic
            && (line.is_empty() || line.starts_with([' ', '\t']) || self.frame.is_match(line))
        {
            return Join::Continue;
        }
        self.in_panic = false;
        Join::Start
    }
}

#[cfg(test)]
mod tests;
