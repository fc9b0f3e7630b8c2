//! The redactor: the detectors compiled once, the prefilter over their
//! anchors, and the replacement of what they find.

use std::borrow::Cow;

use regex::Regex;

use crate::event::{AnyValue, Event, LogRecord};
use crate::telemetry::events::{ComponentMetrics, RedactionMetrics, TransformRedacted};
use crate::topology::BuildError;
use crate::transforms::Transform;

use super::anchors::Anchors;
use super::config::RedactConfig;
use super::detectors::{Builtin, Check, PII, SECRETS};

/// A built redact transform.
#[derive(Debug)]
pub struct Redactor {
    detectors: Vec<Detector>,
    /// Every anchor of every detector.
    anchors: Anchors,
    /// The detector of each anchor.
    anchor_owner: Vec<usize>,
    redact_attributes: bool,
    /// The detectors that replace attributes by their keys, and how.
    named: Vec<(usize, FieldNames)>,
    /// Scratch: which detectors may match the text at hand.
    candidates: Vec<bool>,
    /// Whether a detector has no anchors (and so runs on every text).
    has_always: bool,
    /// Scratch: where in the record's body an anchor starts, and which.
    body_anchors: Vec<(usize, usize)>,
    /// Scratch: replacements per detector in the batch at hand.
    counts: Vec<u64>,
    metrics: Option<RedactionMetrics>,
}

/// One detector, compiled.
#[derive(Debug)]
struct Detector {
    name: String,
    regex: Regex,
    /// The capture groups of which the first that took part in a match is
    /// replaced (`secret`, and others whose names start so, for a pattern
    /// with alternatives); none: the whole match.
    groups: Vec<usize>,
    check: Check,
    /// Whether it has no anchors, and so runs on every text.
    always: bool,
    marker: String,
}

/// Attribute keys that name a secret, by their endings.
#[derive(Debug)]
struct FieldNames {
    endings: &'static [&'static str],
    /// The endings' last three bytes (ASCII lowercase), as [`tail`] packs
    /// them: most keys are told apart by theirs alone, in one comparison
    /// each.
    tails: Vec<u32>,
}

// === impl Redactor ===

impl Redactor {
    /// The redactor `config` describes (which validated).
    pub fn new(config: &RedactConfig) -> Result<Redactor, BuildError> {
        let mut builtins: Vec<&Builtin> = Vec::new();
        if config.secrets {
            builtins.extend(SECRETS);
        }
        for name in &config.pii {
            let detector = PII
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| BuildError::new(format!("`{name}` is not a pii detector")))?;
            builtins.push(detector);
        }
        let marker = |name: &str| config.marker.replace("{detector}", name);
        let mut detectors = Vec::new();
        let mut anchors = Vec::new();
        let mut anchor_owner = Vec::new();
        let mut named = Vec::new();
        for builtin in builtins {
            if !builtin.fields.is_empty() {
                named.push((detectors.len(), FieldNames::new(builtin.fields)));
            }
            for anchor in builtin.anchors {
                anchors.push((*anchor, builtin.ignores_case()));
                anchor_owner.push(detectors.len());
            }
            detectors.push(Detector::new(
                builtin.name,
                builtin.pattern,
                builtin.check,
                builtin.anchors.is_empty(),
                marker(builtin.name),
            )?);
        }
        for custom in &config.patterns {
            detectors.push(Detector::new(
                &custom.name,
                &custom.pattern,
                Check::None,
                true,
                marker(&custom.name),
            )?);
        }
        let anchors = Anchors::new(anchors)?;
        Ok(Redactor {
            candidates: vec![false; detectors.len()],
            has_always: detectors.iter().any(|d| d.always),
            body_anchors: Vec::new(),
            counts: vec![0; detectors.len()],
            detectors,
            anchors,
            anchor_owner,
            redact_attributes: config.attributes,
            named,
            metrics: None,
        })
    }

    /// Count redactions in the transform's metrics.
    pub fn with_metrics(mut self, component: &ComponentMetrics) -> Self {
        self.metrics = Some(RedactionMetrics::new(
            component,
            self.detectors.iter().map(|d| d.name.as_str()),
        ));
        self
    }

    /// The detectors' names, in the order their counts are kept.
    pub fn detector_names(&self) -> impl Iterator<Item = &str> {
        self.detectors.iter().map(|d| d.name.as_str())
    }

    /// Whether the anchors are searched for with SIMD.
    #[cfg(test)]
    pub fn prefilter_is_packed(&self) -> bool {
        self.anchors.is_packed()
    }

    /// Replacements per detector since the last batch was counted.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// `text` with what the detectors find replaced, or `None` when they
    /// find nothing.
    pub fn redact(&mut self, text: &str) -> Option<String> {
        self.candidates.fill(false);
        let (owner, candidates) = (&self.anchor_owner, &mut self.candidates);
        self.anchors
            .each(text, |_, anchor| candidates[owner[anchor]] = true);
        self.replace_candidates(text)
    }

    /// Run the detectors marked in `candidates` (and those without
    /// anchors) over `text`.
    fn replace_candidates(&mut self, text: &str) -> Option<String> {
        let mut current = Cow::Borrowed(text);
        let detectors = &self.detectors;
        for (i, detector) in detectors.iter().enumerate() {
            if !(detector.always || self.candidates[i]) {
                continue;
            }
            if let Some(changed) = detector.replace(&current, &mut self.counts[i], |found| {
                is_marker(detectors, found)
            }) {
                current = Cow::Owned(changed);
            }
        }
        match current {
            Cow::Borrowed(_) => None,
            Cow::Owned(changed) => Some(changed),
        }
    }

    /// Redact one record in place.
    ///
    /// The body is scanned for anchors once. An attribute that is the
    /// body's own bytes (a field a parser found in it, see
    /// [`Text::offset_in`](crate::event::Text::offset_in)) is not scanned
    /// again: an anchor inside it is an anchor of the body starting within
    /// its bytes, so the body's anchors starting there mark every detector
    /// that may match it (and perhaps a few more, which find nothing).
    pub fn redact_record(&mut self, log: &mut LogRecord) {
        // A second handle on the body as read, which the views share.
        let body = log.body.clone();
        self.body_anchors.clear();
        self.candidates.fill(false);
        let (owner, candidates, found) = (
            &self.anchor_owner,
            &mut self.candidates,
            &mut self.body_anchors,
        );
        self.anchors.each(&body, |start, anchor| {
            found.push((start, anchor));
            candidates[owner[anchor]] = true;
        });
        if let Some(changed) = self.replace_candidates(&body) {
            log.body = changed.into();
        }
        if self.redact_attributes {
            for (key, value) in log.attributes.iter_mut() {
                self.redact_value(key, value, &body);
            }
        }
    }

    /// Replaces `value` whole when `key` names a secret: a string that is
    /// neither empty, a flag, nor a marker already; a number (JSON's
    /// `"pin": 123456`); bytes. A boolean is a setting, not a secret.
    fn redact_named(&mut self, key: &str, value: &mut AnyValue) {
        let Some(&(i, _)) = self.named.iter().find(|(_, names)| names.name(key)) else {
            return;
        };
        let detector = &self.detectors[i];
        let secret = match value {
            AnyValue::String(text) => {
                !text.is_empty() && !is_marker(&self.detectors, text) && detector.check.passes(text)
            }
            AnyValue::Int(_) | AnyValue::Double(_) | AnyValue::Bytes(_) => true,
            AnyValue::Bool(_) | AnyValue::Array(_) | AnyValue::Map(_) => false,
        };
        if secret {
            *value = AnyValue::from(detector.marker.clone());
            self.counts[i] += 1;
        }
    }

    /// Redacts `value`, the attribute `key` (for an item of a list, the
    /// list's): what the detectors find in it, and, if `key` names a
    /// secret, all of it unless that left one marker.
    fn redact_value(&mut self, key: &str, value: &mut AnyValue, body: &str) {
        match value {
            AnyValue::String(text) => {
                let changed = match text.offset_in(body) {
                    Some(start) => {
                        let within = |at: &usize| (start..start + text.len()).contains(at);
                        if !self.has_always && !self.body_anchors.iter().any(|(at, _)| within(at)) {
                            None
                        } else {
                            self.candidates.fill(false);
                            for (at, anchor) in &self.body_anchors {
                                if within(at) {
                                    self.candidates[self.anchor_owner[*anchor]] = true;
                                }
                            }
                            self.replace_candidates(text)
                        }
                    }
                    None => self.redact(text),
                };
                if let Some(changed) = changed {
                    *text = changed.into();
                }
                // A field named as a secret goes whole, unless what the
                // detectors left is one marker: a part of it they found
                // (`api_key=ab-AIza…`) leaves the rest.
                if !self.named.is_empty() {
                    self.redact_named(key, value);
                }
            }
            // The items of a list named as a secret (`"password": [...]`)
            // are secrets too.
            AnyValue::Array(values) => {
                for value in values {
                    self.redact_value(key, value, body);
                }
            }
            AnyValue::Map(map) => {
                for (key, value) in map.iter_mut() {
                    self.redact_value(key, value, body);
                }
            }
            AnyValue::Int(_) | AnyValue::Double(_) | AnyValue::Bytes(_) => {
                if !self.named.is_empty() {
                    self.redact_named(key, value);
                }
            }
            AnyValue::Bool(_) => {}
        }
    }
}

impl Transform for Redactor {
    fn process(&mut self, events: &mut Vec<Event>) {
        self.counts.fill(0);
        for event in events.iter_mut() {
            if let Event::Log(log) = event {
                self.redact_record(log);
            }
        }
        if let Some(metrics) = &self.metrics {
            TransformRedacted {
                metrics,
                counts: &self.counts,
            }
            .emit();
        }
    }
}

// === impl FieldNames ===

impl FieldNames {
    fn new(endings: &'static [&'static str]) -> FieldNames {
        let mut tails: Vec<u32> = endings.iter().filter_map(|e| tail(e)).collect();
        tails.sort_unstable();
        tails.dedup();
        FieldNames { endings, tails }
    }

    /// Whether `key` ends with one of the endings, case ignored.
    fn name(&self, key: &str) -> bool {
        tail(key).is_some_and(|t| self.tails.contains(&t))
            && self.endings.iter().any(|ending| {
                let (key, ending) = (key.as_bytes(), ending.as_bytes());
                key.len() >= ending.len()
                    && key[key.len() - ending.len()..].eq_ignore_ascii_case(ending)
            })
    }
}

/// Whether `text` is what one of `detectors` puts in place of a value.
fn is_marker(detectors: &[Detector], text: &str) -> bool {
    detectors.iter().any(|d| d.marker == text)
}

/// The last three bytes of `text`, ASCII lowercase, in one number; none
/// for a shorter text (every ending is longer).
fn tail(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    let [a, b, c] = *bytes.get(bytes.len().checked_sub(3)?..)? else {
        return None;
    };
    Some(u32::from_le_bytes([
        a.to_ascii_lowercase(),
        b.to_ascii_lowercase(),
        c.to_ascii_lowercase(),
        0,
    ]))
}

// === impl Detector ===

impl Detector {
    fn new(
        name: &str,
        pattern: &str,
        check: Check,
        always: bool,
        marker: String,
    ) -> Result<Detector, BuildError> {
        // The pattern is configuration, never a value found: safe to name.
        let regex = Regex::new(pattern).map_err(|e| {
            BuildError::caused(format!("detector `{name}`: pattern {pattern:?}"), e)
        })?;
        let groups = regex
            .capture_names()
            .enumerate()
            .filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret")))
            .map(|(i, _)| i)
            .collect();
        Ok(Detector {
            name: name.to_owned(),
            regex,
            groups,
            check,
            always,
            marker,
        })
    }

    /// `text` with each match replaced by the marker, or `None` when there
    /// is none; `count` goes up by the replacements made. A match that is a
    /// marker already (`https://user:[REDACTED:url_password]@host` seen by
    /// a second `redact`) is left as it is and not counted again.
    fn replace(
        &self,
        text: &str,
        count: &mut u64,
        is_marker: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        for captures in self.regex.captures_iter(text) {
            let span = match self.groups.as_slice() {
                [] => captures.get(0),
                groups => groups.iter().find_map(|g| captures.get(*g)),
            };
            let Some(span) = span else { continue };
            if span.is_empty()
                || !self.check.passes(span.as_str())
                || !self.check.ends_here(&text[span.end()..])
                || is_marker(span.as_str())
            {
                continue;
            }
            out.push_str(&text[last..span.start()]);
            out.push_str(&self.marker);
            last = span.end();
            *count += 1;
        }
        if last == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}
