//! Log records, after the OpenTelemetry log data model.

use std::sync::Arc;

use bytestring::ByteString;

use super::value::{Attributes, Resource};

/// Flags a source sets on a record it had to alter to deliver it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogFlags(u8);

/// One log record.
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// When the event happened (from the line itself, e.g. the CRI
    /// timestamp), in nanoseconds since the Unix epoch; 0 when unknown.
    pub time_unix_nano: u64,
    /// When the agent read it, in nanoseconds since the Unix epoch.
    pub observed_time_unix_nano: u64,
    /// OpenTelemetry severity number (0 = unspecified).
    pub severity_number: i32,
    /// Severity text as found in the source, if any.
    pub severity_text: Option<ByteString>,
    /// The message: UTF-8, often a view into the buffer the line was read
    /// into (shared, not copied).
    pub body: ByteString,
    /// Attributes shared by many records of one source (for example
    /// `log.file.path` of a file, or `log.iostream` of a container stream).
    pub shared_attributes: Arc<Attributes>,
    /// Attributes of this record alone.
    pub attributes: Attributes,
    /// Alterations made to the record.
    pub flags: LogFlags,
    /// The producing resource.
    pub resource: Arc<Resource>,
}

// === impl LogFlags ===

impl LogFlags {
    /// The line was longer than `max_line_bytes` and was cut.
    pub const TRUNCATED: LogFlags = LogFlags(1);
    /// The line was not valid UTF-8; invalid sequences were replaced.
    pub const INVALID_UTF8: LogFlags = LogFlags(2);
    /// A multiline group was cut at its line or byte limit.
    pub const MULTILINE_CUT: LogFlags = LogFlags(4);
    /// A partial (unterminated) line was emitted after its timeout.
    pub const UNTERMINATED: LogFlags = LogFlags(8);
    /// Read again after its batch was not delivered (a sink gave it up):
    /// a transform that counts records (`throttle`, `log_to_metric`)
    /// counted it when it was first read. Internal: not encoded.
    pub const REPLAYED: LogFlags = LogFlags(16);

    /// Whether every flag in `other` is set.
    pub fn contains(self, other: LogFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the flags in `other`.
    pub fn insert(&mut self, other: LogFlags) {
        self.0 |= other.0;
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Names of the flags set, for encodings (not [`REPLAYED`](Self::REPLAYED),
    /// which is the agent's own business).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (LogFlags::TRUNCATED, "truncated"),
            (LogFlags::INVALID_UTF8, "invalid_utf8"),
            (LogFlags::MULTILINE_CUT, "multiline_cut"),
            (LogFlags::UNTERMINATED, "unterminated"),
        ]
        .into_iter()
        .filter(move |(flag, _)| self.contains(*flag))
        .map(|(_, name)| name)
    }
}

// === impl LogRecord ===

impl LogRecord {
    /// A record with `body`, observed now, with no attributes of its own.
    pub fn new(
        body: impl Into<ByteString>,
        shared_attributes: Arc<Attributes>,
        resource: Arc<Resource>,
    ) -> Self {
        LogRecord {
            time_unix_nano: 0,
            observed_time_unix_nano: super::now_unix_nanos(),
            severity_number: 0,
            severity_text: None,
            body: body.into(),
            shared_attributes,
            attributes: Attributes::new(),
            flags: LogFlags::default(),
            resource,
        }
    }
}

/// A record whose body grows piece by piece (a multiline group, merged CRI
/// partials). The first piece stays as it came (often shared with the read
/// buffer); the second moves the text into one owned buffer that the rest
/// are appended to, so a long group is copied once, not once per piece.
#[derive(Debug)]
pub struct GrowingRecord {
    record: LogRecord,
    text: Option<String>,
}

// === impl GrowingRecord ===

impl GrowingRecord {
    /// Start from `record`, its body the first piece.
    pub fn new(record: LogRecord) -> Self {
        GrowingRecord { record, text: None }
    }

    /// The record, to set flags and the like; not for the body.
    pub fn record_mut(&mut self) -> &mut LogRecord {
        &mut self.record
    }

    /// Length in bytes of the body so far.
    pub fn body_len(&self) -> usize {
        self.text
            .as_ref()
            .map_or(self.record.body.len(), String::len)
    }

    /// Append `piece` to the body.
    pub fn push_str(&mut self, piece: &str) {
        let record = &self.record;
        self.text
            .get_or_insert_with(|| String::from(&*record.body))
            .push_str(piece);
    }

    /// The finished record.
    pub fn finish(self) -> LogRecord {
        let mut record = self.record;
        if let Some(text) = self.text {
            record.body = text.into();
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_record_keeps_its_first_piece_and_joins_the_rest_once() {
        let first = ByteString::from("first");
        let record = LogRecord::new(
            first.clone(),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        // With one piece, the body is that piece itself, not a copy.
        let alone = GrowingRecord::new(record.clone()).finish();
        assert_eq!(alone.body.as_ptr(), first.as_ptr());
        let mut growing = GrowingRecord::new(record);
        assert_eq!(growing.body_len(), 5);
        growing.push_str("\n");
        growing.push_str("second");
        growing.record_mut().flags.insert(LogFlags::TRUNCATED);
        assert_eq!(growing.body_len(), 12);
        let record = growing.finish();
        assert_eq!(record.body, "first\nsecond");
        assert!(record.flags.contains(LogFlags::TRUNCATED));
    }
}
