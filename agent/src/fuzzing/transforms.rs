//! The transforms that read a log line's text: `parse` (every format, with
//! `timestamp_field` and `severity_field`) then `redact` (the built-in
//! detectors, personal data if chosen, a pattern of one's own).
//!
//! Besides never panicking on any line:
//!
//! - a line that does not parse is left as it was (but for the flag
//!   `on_failure: flag` adds); one that parses keeps its body, and its
//!   severity number is one of OpenTelemetry's (0 to 24);
//! - `format: json` parses exactly the lines `serde_json` reads as an
//!   object;
//! - every attribute a parse found is found again by its key;
//! - redacting a parsed record, whose fields are views into its body and
//!   are scanned only where the body's anchors fall, gives the same record
//!   and the same counts as redacting the same record with every field a
//!   copy of its own, scanned whole;
//! - with the built-in secret detectors only, redacting again changes
//!   nothing and counts nothing: a marker is never taken for a secret;
//!   with personal-data detectors too, what the first redaction left in
//!   place of a value is kept (digits a neighbour's replacement cut from a
//!   longer run may read as a card number the second time).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::Input;
use crate::config::{FieldPath, Validate};
use crate::event::{AnyValue, Attributes, LogRecord, Resource};
use crate::transforms::parse::{OnFailure, ParseConfig, ParseFormat, Parser};
use crate::transforms::redact::{CustomPattern, RedactConfig, Redactor};

/// The `regex` format's patterns: two as operators write them, and one
/// the fuzzer writes.
const PATTERNS: &[&str] = &[
    r"^(?P<time>\S+) (?P<level>\w+) (?P<message>.*)$",
    r"(?P<key>\w+)=(?P<value>[^ ]*)",
];

/// Patterns of one's own for `redact`.
const CUSTOM: &[&str] = &[
    r"token=(?P<secret>\w+)",
    r"(?:id|ID)-(?P<secret_a>\d{4})|(?P<secret_b>[a-f]{6,})",
    r"\d{3}-\d{2}-\d{4}",
];

/// Markers: the default, and others an operator might choose.
const MARKERS: &[&str] = &["[REDACTED:{detector}]", "***", "<{detector}>", "#"];

/// Run one input: `[format: u8][pattern?][fields: u8][on_failure: u8]
/// [pii: u8][custom: u8][marker: u8][observed: u64][lines separated by \n]`.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let formats = [
        ParseFormat::Json,
        ParseFormat::Logfmt,
        ParseFormat::Regex,
        ParseFormat::ApacheCombined,
        ParseFormat::ApacheCommon,
        ParseFormat::NginxCombined,
        ParseFormat::SyslogRfc3164,
        ParseFormat::Auth,
        ParseFormat::SyslogRfc5424,
        ParseFormat::Klog,
    ];
    let format = formats[usize::from(input.byte()) % formats.len()];
    let pattern = (format == ParseFormat::Regex).then(|| match input.byte() % 3 {
        n @ (0 | 1) => PATTERNS[usize::from(n)].to_owned(),
        _ => input.short_string(24),
    });
    // Fields the mappings read: names the fuzzer's lines can hold.
    let fields = input.byte();
    let field = |n: u8| ["t", "time", "level", "ts", "l"][usize::from(n % 5)].to_owned();
    let parse = ParseConfig {
        format,
        pattern,
        timestamp_field: (fields & 0x08 != 0).then(|| field(fields)),
        severity_field: (fields & 0x80 != 0).then(|| field(fields >> 4)),
        on_failure: [OnFailure::Pass, OnFailure::Drop, OnFailure::Flag]
            [usize::from(input.byte() % 3)],
    };
    let mut errors = Vec::new();
    parse.validate(&FieldPath::root(), &mut errors);
    if !errors.is_empty() {
        // Validation refuses it; the transform is never built with it.
        return;
    }
    let Ok(mut parser) = Parser::new(&parse) else {
        return;
    };
    let pii = input.byte() & 0x0f;
    let custom = usize::from(input.byte()) % (CUSTOM.len() + 1);
    let marker = usize::from(input.byte()) % MARKERS.len();
    let own_patterns = custom < CUSTOM.len();
    // Compiling the detectors takes far longer than a run: each choice of
    // them is built once, and counts are compared by how much they grew.
    let mut redactors = REDACTORS.with(|cache| {
        cache
            .borrow_mut()
            .remove(&(pii, custom, marker))
            .unwrap_or_else(|| {
                let redact = redact_config(pii, custom, marker);
                let mut errors = Vec::new();
                redact.validate(&FieldPath::root(), &mut errors);
                assert!(errors.is_empty(), "{errors:?}");
                let redactor =
                    || Redactor::new(&redact).expect("a valid redact configuration builds");
                [redactor(), redactor(), redactor()]
            })
    });
    let [by_view, by_copy, again] = &mut redactors;
    // When the line was read: from 1970 to about 2500.
    let observed = input.u64() % 16_000_000_000_000_000_000;

    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let shared = Arc::new(Attributes::new());
    let resource = Arc::new(Resource::default());
    for line in text.split('\n') {
        let mut log = LogRecord::new(line.to_owned(), Arc::clone(&shared), Arc::clone(&resource));
        log.observed_time_unix_nano = observed;
        let before = log.clone();
        let (keeps, parsed) = parser.parse_record(&mut log);
        check_parse(&parse, line, &before, &log, keeps, parsed);
        if !keeps {
            continue;
        }

        let mut copied = log.clone();
        copied.attributes = owned_attributes(&log.attributes);
        let (view_before, copy_before) = (by_view.counts().to_vec(), by_copy.counts().to_vec());
        by_view.redact_record(&mut log);
        by_copy.redact_record(&mut copied);
        assert_eq!(log.body, copied.body, "the body of {line:?}");
        assert_eq!(
            log.attributes, copied.attributes,
            "the fields of {line:?}, redacted as views and as copies"
        );
        assert_eq!(
            grown(&view_before, by_view.counts()),
            grown(&copy_before, by_copy.counts()),
            "counts for {line:?}"
        );

        if own_patterns {
            continue;
        }
        let counted = again.counts().to_vec();
        let mut twice = copied.clone();
        again.redact_record(&mut twice);
        if pii == 0 {
            assert_eq!(twice.body, copied.body, "redacted twice: {line:?}");
            assert_eq!(
                twice.attributes, copied.attributes,
                "fields redacted twice: {line:?}"
            );
            assert_eq!(again.counts(), counted, "counted twice: {line:?}");
        } else {
            // Digits that a neighbour's replacement cut from a longer run
            // (a card number once an address after it is gone) may read
            // as personal data the second time; what the first left in
            // place of a value is kept.
            let marker = MARKERS[marker]
                .split("{detector}")
                .next()
                .unwrap_or_default();
            let kept = |after: &str, before: &str| {
                after.matches(marker).count() >= before.matches(marker).count()
            };
            assert!(
                kept(&twice.body, &copied.body),
                "markers redacted: {line:?}"
            );
        }
    }
    REDACTORS.with(|cache| cache.borrow_mut().insert((pii, custom, marker), redactors));
}

thread_local! {
    /// Redactors by their choice of detectors: the one redacting views,
    /// the one redacting copies, the one redacting again.
    static REDACTORS: RefCell<HashMap<(u8, usize, usize), [Redactor; 3]>> =
        RefCell::new(HashMap::new());
}

/// The `redact` configuration of personal-data detectors `pii` (a bit
/// each), pattern `custom` of [`CUSTOM`] (none past its end) and
/// [`MARKERS`]`[marker]`.
fn redact_config(pii: u8, custom: usize, marker: usize) -> RedactConfig {
    RedactConfig {
        secrets: true,
        pii: ["email", "credit_card", "ipv4", "ipv6"]
            .iter()
            .enumerate()
            .filter(|(i, _)| pii & (1 << i) != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect(),
        patterns: CUSTOM
            .get(custom)
            .map(|pattern| CustomPattern {
                name: "own".to_owned(),
                pattern: (*pattern).to_owned(),
            })
            .into_iter()
            .collect(),
        attributes: true,
        marker: MARKERS[marker].to_owned(),
    }
}

/// How much each count grew since `before`.
fn grown(before: &[u64], now: &[u64]) -> Vec<u64> {
    now.iter().zip(before).map(|(n, b)| n - b).collect()
}

/// What `parse_record` did to `line` (`before`, now `after`).
fn check_parse(
    config: &ParseConfig,
    line: &str,
    before: &LogRecord,
    after: &LogRecord,
    keeps: bool,
    parsed: bool,
) {
    if config.format == ParseFormat::Json {
        let object = matches!(
            serde_json::from_str::<serde_json::Value>(line),
            Ok(serde_json::Value::Object(_))
        );
        assert_eq!(parsed, object, "parsed as JSON: {line:?}");
    }
    assert_eq!(
        after.body, before.body,
        "parse changed the body of {line:?}"
    );
    if !parsed {
        assert_eq!(keeps, config.on_failure != OnFailure::Drop);
        let mut expected = before.attributes.clone();
        if config.on_failure == OnFailure::Flag {
            expected.insert("neurallog.parse_failed", true);
        }
        assert_eq!(after.attributes, expected, "a failed parse of {line:?}");
        assert_eq!(after.time_unix_nano, before.time_unix_nano);
        assert_eq!(after.severity_number, before.severity_number);
        assert_eq!(after.severity_text, before.severity_text);
        return;
    }
    assert!(keeps);
    assert!(
        (0..=24).contains(&after.severity_number),
        "severity {} from {line:?}",
        after.severity_number
    );
    for (key, value) in after.attributes.iter() {
        assert_eq!(
            after.attributes.get(key),
            Some(value),
            "{key:?} is not found again in {line:?}"
        );
    }
}

/// `attributes` with every string a copy of its own, not a view into the
/// body it was found in.
fn owned_attributes(attributes: &Attributes) -> Attributes {
    let mut copy = attributes.clone();
    for (_, value) in copy.iter_mut() {
        *value = owned(value);
    }
    copy
}

fn owned(value: &AnyValue) -> AnyValue {
    match value {
        AnyValue::String(text) => AnyValue::from(String::from(&**text)),
        AnyValue::Array(items) => AnyValue::Array(items.iter().map(owned).collect()),
        AnyValue::Map(members) => AnyValue::Map(owned_attributes(members)),
        other => other.clone(),
    }
}
