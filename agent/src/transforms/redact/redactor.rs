//! The redactor: the detectors compiled once, the prefilter over their
//! anchors, and the replacement of what they find.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use regex::Regex;

use crate::event::{AnyValue, Event, LogRecord};
use crate::telemetry::events::{ComponentMetrics, RedactionMetrics, TransformRedacted};
use crate::topology::BuildError;
use crate::transforms::Transform;

use super::config::RedactConfig;
use super::detectors::{Builtin, Check, PII, SECRETS};

/// A built redact transform.
#[derive(Debug)]
pub struct Redactor {
    detectors: Vec<Detector>,
    /// Every anchor of every detector.
    prefilter: AhoCorasick,
    /// The detectors to run when anchor `i` is found: its own, and those
    /// of the anchors inside it (`:` is inside `://`), which a search
    /// for the longest anchor at each position does not report.
    anchor_detectors: Vec<Vec<usize>>,
    redact_attributes: bool,
    /// Scratch: which detectors may match the text at hand.
    candidates: Vec<bool>,
    /// Scratch: replacements per detector in the batch at hand.
    counts: Vec<u64>,
    metrics: Option<RedactionMetrics>,
}

/// One detector, compiled.
#[derive(Debug)]
struct Detector {
    name: String,
    regex: Regex,
    /// The capture group replaced (`secret`), or the whole match.
    group: Option<usize>,
    check: Check,
    /// Whether it has no anchors, and so runs on every text.
    always: bool,
    marker: String,
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
        for builtin in builtins {
            for anchor in builtin.anchors {
                anchors.push(*anchor);
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
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            // Matching without regard to case leaves the prefilter too many
            // start bytes to skip ahead by, so the automaton walks every
            // byte: a DFA's walk is the cheapest (a few dozen states).
            .kind(Some(AhoCorasickKind::DFA))
            .build(&anchors)
            .map_err(|e| BuildError::caused("the redact prefilter", e))?;
        let anchor_detectors = anchors
            .iter()
            .map(|anchor| {
                let anchor = anchor.to_ascii_lowercase();
                let mut owners: Vec<usize> = anchors
                    .iter()
                    .zip(&anchor_owner)
                    .filter(|(inner, _)| anchor.contains(&inner.to_ascii_lowercase()))
                    .map(|(_, owner)| *owner)
                    .collect();
                owners.sort_unstable();
                owners.dedup();
                owners
            })
            .collect();
        Ok(Redactor {
            candidates: vec![false; detectors.len()],
            counts: vec![0; detectors.len()],
            detectors,
            prefilter,
            anchor_detectors,
            redact_attributes: config.attributes,
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

    /// Replacements per detector since the last batch was counted.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// `text` with what the detectors find replaced, or `None` when they
    /// find nothing.
    pub fn redact(&mut self, text: &str) -> Option<String> {
        self.candidates.fill(false);
        // The longest anchor starting at each position where one does,
        // searching on one past each find: a line without any costs one
        // scan of the prefilter's, and none is missed where anchors
        // overlap.
        let mut at = 0;
        while at < text.len()
            && let Some(found) = self.prefilter.find(Input::new(text).span(at..text.len()))
        {
            for detector in &self.anchor_detectors[found.pattern().as_usize()] {
                self.candidates[*detector] = true;
            }
            at = found.start() + 1;
        }
        let mut current = Cow::Borrowed(text);
        for (i, detector) in self.detectors.iter().enumerate() {
            if !(detector.always || self.candidates[i]) {
                continue;
            }
            if let Some(changed) = detector.replace(&current, &mut self.counts[i]) {
                current = Cow::Owned(changed);
            }
        }
        match current {
            Cow::Borrowed(_) => None,
            Cow::Owned(changed) => Some(changed),
        }
    }

    /// Redact one record in place.
    pub fn redact_record(&mut self, log: &mut LogRecord) {
        if let Some(body) = self.redact(&log.body) {
            log.body = body.into();
        }
        if self.redact_attributes {
            for value in log.attributes.values_mut() {
                self.redact_value(value);
            }
        }
    }

    fn redact_value(&mut self, value: &mut AnyValue) {
        match value {
            AnyValue::String(text) => {
                if let Some(changed) = self.redact(text) {
                    *text = Cow::Owned(changed);
                }
            }
            AnyValue::Array(values) => {
                for value in values {
                    self.redact_value(value);
                }
            }
            AnyValue::Map(map) => {
                for value in map.values_mut() {
                    self.redact_value(value);
                }
            }
            AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) | AnyValue::Bytes(_) => {}
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
        let group = regex.capture_names().position(|n| n == Some("secret"));
        Ok(Detector {
            name: name.to_owned(),
            regex,
            group,
            check,
            always,
            marker,
        })
    }

    /// `text` with each match replaced by the marker, or `None` when there
    /// is none; `count` goes up by the replacements made.
    fn replace(&self, text: &str, count: &mut u64) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        for captures in self.regex.captures_iter(text) {
            let span = match self.group {
                Some(group) => captures.get(group),
                None => captures.get(0),
            };
            let Some(span) = span else { continue };
            if span.is_empty() || !self.check.passes(span.as_str()) {
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
