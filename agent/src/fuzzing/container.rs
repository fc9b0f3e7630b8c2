//! CRI and docker json-file lines (`kubernetes_logs::format`) and the
//! joining of `P`/`F` partial lines (`ContainerHandler`).
//!
//! Each line is parsed and checked against an independent reading of its
//! format (the fourth space-separated CRI field; docker's `log` string,
//! decoded by `serde_json::Value`). The lines then go through a real
//! `ContainerHandler`, whose records must be exactly what a model built from
//! the parsed pieces predicts: per stream, the pieces up to an `F` joined,
//! cut on a character boundary at `max_merged_line_bytes` (a cut record is
//! a prefix of the whole line, never pieces spliced around a cut), in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Input;
use crate::event::{AnyValue, Event, LogFlags, Resource};
use crate::sources::file::{Emitter, LineHandler, RawLine};
use crate::sources::kubernetes_logs::{
    ContainerHandler, ContainerLine, ContainerLog, IoStream, PodSlot, format,
};
use crate::time::{format_rfc3339_nanos, parse_rfc3339_nanos};

const PARTIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// A record the model expects: stream, body, whether it was cut, whether
/// it was a line that is neither format.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    stream: &'static str,
    body: String,
    truncated: bool,
    unterminated: bool,
    parse_error: bool,
}

/// Run one input: `[max_merged: u16][lines separated by \n]`.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let max_merged = usize::from(input.u16()) + 1;
    let chunk = Bytes::copy_from_slice(input.rest());
    let lines = split_lines(&chunk);

    let mut model = Model::new(max_merged);
    for line in &lines {
        let parsed = format::parse(line);
        if let Some(parsed) = &parsed {
            check_parse(line.bytes, parsed);
        }
        model.push(line, parsed.as_ref());
    }
    model.finish();

    let got = run_handler(&lines, max_merged);
    assert_eq!(got, model.out, "records differ from the model");
}

/// The lines of `chunk` as the file reader frames them (without `\n`).
fn split_lines(chunk: &Bytes) -> Vec<RawLine<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for piece in chunk.split(|b| *b == b'\n') {
        let end = start + piece.len() as u64 + 1;
        lines.push(RawLine {
            file: 1,
            bytes: piece,
            chunk: Some(chunk),
            start,
            end,
            truncated: false,
            unterminated: false,
            replayed: false,
            observed_unix_nano: 1,
        });
        start = end;
    }
    lines
}

/// What the parser returned must agree with an independent reading.
fn check_parse(bytes: &[u8], parsed: &ContainerLine) {
    // Formatting a parsed time and parsing it again is the identity.
    let text = format_rfc3339_nanos(parsed.time_unix_nano);
    assert_eq!(
        parse_rfc3339_nanos(text.as_bytes()),
        Some(parsed.time_unix_nano),
        "{text}"
    );
    if bytes.first() == Some(&b'{') {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            // The parser skips the fields it does not use without checking
            // their escapes (a lone surrogate in an unknown field): nothing
            // to compare with.
            return;
        };
        let log = value["log"].as_str().expect("docker `log` is a string");
        let mut message = parsed.message.to_string();
        if !parsed.partial {
            message.push('\n');
        }
        assert_eq!(message, log, "docker message");
        let stream = value.get("stream").and_then(|s| s.as_str());
        assert_eq!(stream.unwrap_or("stdout"), parsed.stream.as_str());
    } else {
        let fields: Vec<&[u8]> = bytes.splitn(4, |b| *b == b' ').collect();
        let message = fields.get(3).copied().unwrap_or_default();
        assert_eq!(
            &*parsed.message,
            &*String::from_utf8_lossy(message),
            "CRI message"
        );
        assert_eq!(parsed.invalid_utf8, std::str::from_utf8(message).is_err());
        assert_eq!(fields[1], parsed.stream.as_str().as_bytes());
        assert_eq!(
            parsed.partial,
            fields[2].split(|b| *b == b':').next() == Some(b"P")
        );
    }
}

/// Feed the lines to a real handler, then let its partial timeout pass.
fn run_handler(lines: &[RawLine<'_>], max_merged: usize) -> Vec<Expected> {
    let log = ContainerLog {
        namespace: "ns".into(),
        pod: "pod".into(),
        uid: "uid".into(),
        container: "c".into(),
        restart_count: 0,
        live_path: PathBuf::from("/var/log/pods/ns_pod_uid/c/0.log"),
    };
    let slot = Arc::new(PodSlot::new(Resource::default(), false));
    let mut handler = ContainerHandler::new(
        &log,
        slot,
        None,
        max_merged,
        PARTIAL_TIMEOUT,
        Arc::new(AtomicBool::new(false)),
    );
    let mut out = Emitter::default();
    for line in lines {
        handler.handle(*line, &mut out);
    }
    handler.tick(Instant::now() + 2 * PARTIAL_TIMEOUT, &mut out);
    let (events, _) = out.take(0);
    events.into_iter().map(observed).collect()
}

fn observed(event: Event) -> Expected {
    let Event::Log(log) = event else {
        panic!("a container handler emits logs only");
    };
    let stream = match log.shared_attributes.get("log.iostream") {
        Some(AnyValue::String(s)) if s == "stderr" => "stderr",
        _ => "stdout",
    };
    Expected {
        stream,
        body: log.body.to_string(),
        truncated: log.flags.contains(LogFlags::TRUNCATED),
        unterminated: log.flags.contains(LogFlags::UNTERMINATED),
        parse_error: log.attributes.get("log.record.parse_error").is_some(),
    }
}

/// The records a container's lines must become.
struct Model {
    max_merged: usize,
    /// The pieces joined so far, per stream (stdout, stderr).
    pending: [Option<String>; 2],
    out: Vec<Expected>,
}

impl Model {
    fn new(max_merged: usize) -> Self {
        Model {
            max_merged,
            pending: [None, None],
            out: Vec::new(),
        }
    }

    fn push(&mut self, line: &RawLine<'_>, parsed: Option<&ContainerLine>) {
        let Some(parsed) = parsed else {
            self.out.push(Expected {
                stream: "stdout",
                body: String::from_utf8_lossy(line.bytes).into_owned(),
                truncated: false,
                unterminated: false,
                parse_error: true,
            });
            return;
        };
        let index = usize::from(parsed.stream == IoStream::Stderr);
        let whole = self.pending[index].get_or_insert_with(String::new);
        whole.push_str(&parsed.message);
        if !parsed.partial {
            self.complete(index, false);
        }
    }

    /// Streams with pieces still pending are sent by the timeout, stdout
    /// first.
    fn finish(&mut self) {
        for index in 0..2 {
            self.complete(index, true);
        }
    }

    fn complete(&mut self, index: usize, unterminated: bool) {
        let Some(whole) = self.pending[index].take() else {
            return;
        };
        let mut end = whole.len().min(self.max_merged);
        while !whole.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push(Expected {
            stream: if index == 0 { "stdout" } else { "stderr" },
            body: whole[..end].to_owned(),
            truncated: end < whole.len(),
            unterminated,
            parse_error: false,
        });
    }
}
