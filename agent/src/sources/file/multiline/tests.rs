use std::sync::Arc;

use super::*;
use crate::event::{Attributes, Resource};

fn group(config: MultilineConfig, lines: &[&str]) -> Vec<String> {
    let mut multiline = Multiline::new(&config);
    let mut out = Emitter::default();
    let now = Instant::now();
    let mut offset = 0;
    for line in lines {
        let record = LogRecord::new(
            (*line).to_owned(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        let end = offset + line.len() as u64 + 1;
        multiline.push(record, 1, offset, end, now, &mut out);
        offset = end;
    }
    multiline.flush(&mut out);
    let (events, _) = out.take(0);
    events
        .into_iter()
        .map(|e| match e {
            Event::Log(log) => log.body.into(),
            _ => unreachable!("only logs"),
        })
        .collect()
}

/// The recorded Java and Go traces from the shared fixtures (copied into
/// tests/fixtures, see SOURCES.md there).
fn fixture() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cri/multiline/fluent-bit_java-and-go-panic.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn preset(preset: MultilinePreset) -> MultilineConfig {
    MultilineConfig {
        preset: Some(preset),
        start_pattern: None,
        continuation_pattern: None,
        timeout_ms: 1000,
        max_lines: 500,
        max_bytes: 1 << 20,
    }
}

#[test]
fn java_fixture_groups_the_exception_with_its_frames() {
    let fixture = fixture();
    let lines: Vec<&str> = fixture.lines().take(8).collect();
    let records = group(preset(MultilinePreset::Java), &lines);
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(records[0], "single line...");
    assert!(records[1].starts_with("Dec 14 06:41:08 Exception in thread \"main\""));
    assert_eq!(records[1].lines().count(), 6);
    assert_eq!(records[2], "another line...");
}

#[test]
fn java_exception_line_joins_the_log_line_before_it() {
    let records = group(
        preset(MultilinePreset::Java),
        &[
            "2024-05-01 12:00:00 ERROR [main] c.e.App - request failed",
            "java.lang.IllegalStateException: boom",
            "\tat com.example.App.handle(App.java:42)",
            "Caused by: java.io.IOException: disk",
            "\t... 3 more",
            "2024-05-01 12:00:01 INFO [main] c.e.App - next",
        ],
    );
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].lines().count(), 5);
}

#[test]
fn python_traceback_including_chained_exceptions() {
    let records = group(
        preset(MultilinePreset::Python),
        &[
            "ERROR:root:failed to load",
            "Traceback (most recent call last):",
            "  File \"app.py\", line 3, in <module>",
            "    load()",
            "KeyError: 'x'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            "  File \"app.py\", line 5, in <module>",
            "ValueError: bad",
            "INFO:root:carrying on",
            "ValueError: not a traceback here",
        ],
    );
    assert_eq!(records.len(), 3, "{records:#?}");
    assert!(records[0].ends_with("ValueError: bad"));
    assert_eq!(records[1], "INFO:root:carrying on");
    assert_eq!(records[2], "ValueError: not a traceback here");
}

#[test]
fn go_panic_fixture_is_one_record() {
    let fixture = fixture();
    let lines: Vec<&str> = fixture.lines().skip(8).collect();
    let records = group(preset(MultilinePreset::Go), &lines);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(records[0].starts_with("panic: my panic\n\ngoroutine 4 [running]:"));
    assert!(records[0].contains("created by runtime.gcenable"));
    assert_eq!(records[1], "one more line, no multiline");
}

#[test]
fn custom_start_pattern_and_limits() {
    let config = MultilineConfig {
        preset: None,
        start_pattern: Some(r"^\d{4}-".to_owned()),
        continuation_pattern: None,
        timeout_ms: 1000,
        max_lines: 3,
        max_bytes: 1 << 20,
    };
    let records = group(config, &["2024-01 a", "  b", "  c", "  d", "2024-02 e"]);
    assert_eq!(records, ["2024-01 a\n  b\n  c", "  d", "2024-02 e"]);
}

#[test]
fn held_lines_report_their_first_offset_and_time_out() {
    let config = preset(MultilinePreset::Java);
    let mut multiline = Multiline::new(&config);
    let mut out = Emitter::default();
    let start = Instant::now();
    let rec = |b: &str| {
        LogRecord::new(
            b.to_owned(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        )
    };
    multiline.push(rec("first"), 7, 0, 6, start, &mut out);
    multiline.push(rec("second"), 7, 6, 13, start, &mut out);
    assert_eq!(out.len(), 1, "first is complete once second starts");
    assert_eq!(multiline.held_from(7), Some(6));
    multiline.tick(start + Duration::from_millis(500), &mut out);
    assert_eq!(out.len(), 1);
    multiline.tick(start + Duration::from_millis(1000), &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(multiline.held_from(7), None);
}
