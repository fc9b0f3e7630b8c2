//! Multiline grouping (`sources::file::Multiline`): the presets' state
//! machines and custom rules with the fuzzer's patterns.
//!
//! No byte lost or invented: the records, split at their `\n`, are the
//! lines in order; a record has at most `max_lines` lines and, unless it is
//! one line, at most `max_bytes` bytes; the position reported for the file
//! is the end of the last line, and while a group is held the handler
//! reports the start of its first line as held.

use std::sync::Arc;
use std::time::Instant;

use super::Input;
use crate::config::{FieldPath, Validate};
use crate::event::{Attributes, Event, LogRecord, Resource};
use crate::sources::file::{Emitter, Multiline, MultilineConfig, MultilinePreset};

/// Run one input: `[rule: u8][patterns...][max_lines: u8][max_bytes: u16][lines]`.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let (preset, start_pattern, continuation_pattern) = match input.byte() % 5 {
        0 => (Some(MultilinePreset::Java), None, None),
        1 => (Some(MultilinePreset::Python), None, None),
        2 => (Some(MultilinePreset::Go), None, None),
        3 => (None, Some(input.short_string(16)), None),
        _ => {
            let start = input.bool().then(|| input.short_string(16));
            (None, start, Some(input.short_string(16)))
        }
    };
    let config = MultilineConfig {
        preset,
        start_pattern,
        continuation_pattern,
        timeout_ms: 1_000,
        max_lines: usize::from(input.byte() % 16) + 1,
        max_bytes: usize::from(input.u16()),
    };
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    if !errors.is_empty() {
        // Validation refuses it; the source is never built with it.
        return;
    }
    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let lines: Vec<&str> = text.split('\n').collect();

    let mut multiline = Multiline::new(&config);
    let mut out = Emitter::default();
    let now = Instant::now();
    let shared = Arc::new(Attributes::new());
    let resource = Arc::new(Resource::default());
    let mut offset = 0u64;
    // Where the group being built starts: the next line's offset once a
    // record was emitted.
    let mut group_start = 0u64;
    for line in &lines {
        let record = LogRecord::new(
            (*line).to_owned(),
            Arc::clone(&shared),
            Arc::clone(&resource),
        );
        let end = offset + line.len() as u64 + 1;
        let before = out.len();
        multiline.push(record, 1, offset, end, now, &mut out);
        if out.len() > before {
            // The line just pushed starts the group now held.
            group_start = offset;
        }
        assert_eq!(
            multiline.held_from(1),
            Some(group_start),
            "the held group starts at its first line"
        );
        offset = end;
    }
    multiline.flush(&mut out);
    assert_eq!(multiline.held_from(1), None, "nothing held after a flush");

    let (events, ends) = out.take(0);
    assert_eq!(ends.get(&1).copied(), Some(offset), "the file is consumed");
    let mut joined = Vec::new();
    for event in &events {
        let Event::Log(log) = event else {
            panic!("multiline emits logs only");
        };
        let record_lines: Vec<&str> = log.body.split('\n').collect();
        assert!(record_lines.len() <= config.max_lines, "max_lines");
        assert!(
            record_lines.len() == 1 || log.body.len() <= config.max_bytes,
            "max_bytes"
        );
        joined.extend(record_lines);
    }
    assert_eq!(joined, lines, "records are the lines, in order");
}
