//! From framed lines to records: the interface between the tailing engine
//! and the format-specific processing (plain lines, CRI, docker json,
//! multiline).
//!
//! The engine frames bytes into [`RawLine`]s and hands each to the
//! [`LineHandler`] of its stream. A handler may emit a record at once or
//! hold lines back (a multiline group, a CRI partial); what it holds it
//! reports through [`LineHandler::held_from`], so the engine never
//! checkpoints past a byte whose record has not been sent.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;

use crate::event::{Event, Resource};

/// Identifies one tracked file for as long as the source runs (never
/// reused).
pub type FileKey = u64;

/// One line as framed from a file, without its `\n` (or `\r\n`).
#[derive(Debug, Clone, Copy)]
pub struct RawLine<'a> {
    /// The file it was read from.
    pub file: FileKey,
    /// Its bytes, at most `max_line_bytes`.
    pub bytes: &'a [u8],
    /// The chunk `bytes` was read in, when it lies in one: parts of the
    /// line become record bodies by reference ([`RawLine::share`]).
    pub chunk: Option<&'a Bytes>,
    /// Offset of its first byte in the file.
    pub start: u64,
    /// Offset just past its `\n`: where reading resumes after it.
    pub end: u64,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
    /// The line had no `\n` and was sent after `unterminated_timeout_ms`.
    pub unterminated: bool,
    /// The line was read before, and is read again after a rewind.
    pub replayed: bool,
    /// When it was read, nanoseconds since the Unix epoch.
    pub observed_unix_nano: u64,
}

// === impl RawLine ===

impl RawLine<'_> {
    /// `part` (a slice of [`bytes`](Self::bytes)) as shared bytes: a view
    /// into the read chunk when the line lies in one, else a copy.
    pub fn share(&self, part: &[u8]) -> Bytes {
        match self.chunk {
            Some(chunk) if contains(chunk, part) => chunk.slice_ref(part),
            _ => Bytes::copy_from_slice(part),
        }
    }

    /// `part` of the line as text: shared when it is valid UTF-8, replaced
    /// lossily (and so copied) when not. Returns whether it was invalid.
    pub fn text(&self, part: &[u8]) -> (ByteString, bool) {
        match ByteString::try_from(self.share(part)) {
            Ok(text) => (text, false),
            Err(_) => (String::from_utf8_lossy(part).into_owned().into(), true),
        }
    }
}

/// Whether `part` lies within `chunk`'s memory.
fn contains(chunk: &[u8], part: &[u8]) -> bool {
    let (outer, inner) = (chunk.as_ptr_range(), part.as_ptr_range());
    outer.start <= inner.start && inner.end <= outer.end
}

/// Turns a stream's lines into records.
pub trait LineHandler: Send {
    /// Process one line; emit finished records to `out`.
    fn handle(&mut self, line: RawLine<'_>, out: &mut Emitter);

    /// Emit what has waited past its timeout (multiline groups, partials).
    fn tick(&mut self, now: Instant, out: &mut Emitter);

    /// When the earliest record held back times out, if one is.
    fn due(&self) -> Option<Instant>;

    /// The offset of the earliest byte of `file` held back and not yet
    /// emitted, if any.
    fn held_from(&self, file: FileKey) -> Option<u64>;

    /// Whether nothing of any file is held back.
    fn holds_nothing(&self) -> bool;

    /// `file` will send no more lines (closed for good): emit what is held
    /// from it.
    fn file_closed(&mut self, file: FileKey, out: &mut Emitter);

    /// `file` is read from `offset` on: it was opened there (its start, or
    /// its checkpoint), or read again from there after a rewind.
    fn reading_from(&mut self, _file: FileKey, _offset: u64) {}

    /// Forget every record held back, unsent: the engine reads the bytes
    /// of every file they came from again, from [`held_from`](Self::held_from).
    fn discard(&mut self);
}

/// What a handler needs to know about a stream when it is created.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Files with the same key feed one handler, oldest first: a rotated
    /// file and its successor form one stream, so a record split across the
    /// rotation is joined.
    pub key: String,
    /// The resource of the stream's records.
    pub resource: Arc<Resource>,
}

/// Decides which files are tailed and how their lines become records.
pub trait StreamFactory: Send {
    /// The stream `path` belongs to, or `None` to skip the file (for now:
    /// see [`StreamFactory::is_waiting`]).
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec>;

    /// Whether `path`, refused by `stream_for`, may be accepted later (its
    /// metadata is loading): the file is kept open and asked about again.
    fn is_waiting(&self, _path: &Path) -> bool {
        false
    }

    /// A handler for a new stream.
    fn handler(&mut self, spec: &StreamSpec, path: &Path) -> Box<dyn LineHandler>;

    /// Called once per scan, before files are matched (refresh metadata).
    fn before_scan(&mut self) {}
}

/// Collects the records of one batch and, per file, how far the batch
/// reaches.
#[derive(Debug, Default)]
pub struct Emitter {
    events: Vec<Event>,
    /// How far the records reach per file, but for the file of the latest
    /// record, kept in `last`: lines come in runs of one file, and a map
    /// entry per line cost a twentieth of the reading thread's time.
    ends: HashMap<FileKey, u64>,
    last: Option<(FileKey, u64)>,
    bytes: usize,
    /// Records emitted whose start is in one file and whose rest is in
    /// another (a line or group split by a rotation), the latest
    /// [`MAX_LINKS`]: the file of the start, where it starts, and the file
    /// of the rest.
    links: VecDeque<(FileKey, u64, FileKey)>,
}

/// How many records split across files an [`Emitter`] remembers.
const MAX_LINKS: usize = 256;

// === impl Emitter ===

impl Emitter {
    /// An empty emitter with room for `capacity` records.
    pub fn with_capacity(capacity: usize) -> Self {
        Emitter {
            events: Vec::with_capacity(capacity),
            ends: HashMap::new(),
            last: None,
            bytes: 0,
            links: VecDeque::new(),
        }
    }

    /// Emit a record whose last byte in `file` ends at `end`.
    pub fn emit(&mut self, event: Event, file: FileKey, end: u64) {
        self.bytes += event.size_hint();
        self.events.push(event);
        self.consumed(file, end);
    }

    /// Mark bytes of `file` up to `end` as done without a record of their
    /// own (a partial joined into a record emitted from another file, a line
    /// filtered out).
    pub fn consumed(&mut self, file: FileKey, end: u64) {
        match &mut self.last {
            Some((key, last_end)) if *key == file => *last_end = (*last_end).max(end),
            _ => {
                self.settle_last();
                self.last = Some((file, self.ends.remove(&file).map_or(end, |e| e.max(end))));
            }
        }
    }

    /// Move the latest file's end into the map.
    fn settle_last(&mut self) {
        if let Some((key, end)) = self.last.take() {
            self.ends.insert(key, end);
        }
    }

    /// A record starting at `start` in `file` had its rest in `rest`.
    pub fn link(&mut self, file: FileKey, start: u64, rest: FileKey) {
        if file == rest {
            return;
        }
        if self.links.len() == MAX_LINKS {
            self.links.pop_front();
        }
        self.links.push_back((file, start, rest));
    }

    /// The files holding the rest of records whose start is in `file` at
    /// `from` or after: read again from `from`, those starts need their
    /// rest read again too.
    pub fn continued_in(&self, file: FileKey, from: u64) -> Vec<FileKey> {
        let mut rest: Vec<FileKey> = self
            .links
            .iter()
            .filter(|(f, start, _)| *f == file && *start >= from)
            .map(|(_, _, rest)| *rest)
            .collect();
        rest.sort_unstable();
        rest.dedup();
        rest
    }

    /// Stop tracking how far the collected records reach into `file`: the
    /// file is read again from before them, so the records still go out
    /// (as duplicates) but settle nothing of the file.
    pub fn forget(&mut self, file: FileKey) {
        self.settle_last();
        self.ends.remove(&file);
    }

    /// The records collected from `old` now settle `new` (a copy that
    /// holds the same bytes at the same offsets).
    pub fn rekey(&mut self, old: FileKey, new: FileKey) {
        self.settle_last();
        if let Some(end) = self.ends.remove(&old) {
            self.consumed(new, end);
        }
        // The records split across `old` and another file are split
        // across the copy now.
        for (file, _, rest) in &mut self.links {
            for key in [file, rest] {
                if *key == old {
                    *key = new;
                }
            }
        }
    }

    /// Whether records (or consumed bytes) of `file` wait to be cut into a
    /// batch.
    pub fn holds(&self, file: FileKey) -> bool {
        self.last.is_some_and(|(key, _)| key == file) || self.ends.contains_key(&file)
    }

    /// How far the records collected from `file` reach, no longer tracked:
    /// its bytes are gone, so the records settle nothing.
    pub fn take_end(&mut self, file: FileKey) -> Option<u64> {
        self.settle_last();
        self.ends.remove(&file)
    }

    /// Records collected so far.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing (not even a consumed span) was collected.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.last.is_none() && self.ends.is_empty()
    }

    /// Approximate size of the records, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Take the records and the per-file ends, leaving the emitter empty.
    pub fn take(&mut self, capacity: usize) -> (Vec<Event>, HashMap<FileKey, u64>) {
        self.settle_last();
        self.bytes = 0;
        (
            std::mem::replace(&mut self.events, Vec::with_capacity(capacity)),
            std::mem::take(&mut self.ends),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::{Emitter, FileKey};

    #[derive(Debug, Clone)]
    enum Op {
        Consumed(FileKey, u64),
        Forget(FileKey),
        Rekey(FileKey, FileKey),
        TakeEnd(FileKey),
        Take,
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..4u64;
        prop_oneof![
            8 => (key.clone(), 0..1000u64).prop_map(|(k, e)| Op::Consumed(k, e)),
            1 => key.clone().prop_map(Op::Forget),
            1 => (key.clone(), key.clone()).prop_map(|(a, b)| Op::Rekey(a, b)),
            1 => key.prop_map(Op::TakeEnd),
            1 => Just(Op::Take),
        ]
    }

    /// A record split across two files is found by the file of its start
    /// and where it starts, also once that file's records settle a copy.
    #[test]
    fn records_split_across_files_are_found_by_their_start() {
        let mut emitter = Emitter::with_capacity(4);
        emitter.link(1, 100, 2);
        emitter.link(1, 300, 3);
        emitter.link(2, 50, 2);
        assert_eq!(emitter.continued_in(1, 0), [2, 3]);
        assert_eq!(emitter.continued_in(1, 200), [3]);
        assert!(emitter.continued_in(1, 301).is_empty());
        assert!(
            emitter.continued_in(2, 0).is_empty(),
            "a record within one file"
        );
        emitter.rekey(1, 7);
        assert!(emitter.continued_in(1, 0).is_empty());
        assert_eq!(emitter.continued_in(7, 0), [2, 3]);
    }

    proptest! {
        /// The emitter's ends (the latest file kept aside) agree with a
        /// plain map of the furthest end per file, whatever the order.
        #[test]
        fn ends_agree_with_a_map_of_the_furthest_end(ops in prop::collection::vec(op(), 0..60)) {
            let mut emitter = Emitter::with_capacity(4);
            let mut model: HashMap<FileKey, u64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Consumed(k, e) => {
                        emitter.consumed(k, e);
                        let slot = model.entry(k).or_insert(e);
                        *slot = (*slot).max(e);
                    }
                    Op::Forget(k) => {
                        emitter.forget(k);
                        model.remove(&k);
                    }
                    Op::Rekey(a, b) => {
                        emitter.rekey(a, b);
                        if let Some(e) = model.remove(&a) {
                            let slot = model.entry(b).or_insert(e);
                            *slot = (*slot).max(e);
                        }
                    }
                    Op::TakeEnd(k) => prop_assert_eq!(emitter.take_end(k), model.remove(&k)),
                    Op::Take => {
                        let (_, ends) = emitter.take(4);
                        prop_assert_eq!(ends, std::mem::take(&mut model));
                    }
                }
                for k in 0..4 {
                    prop_assert_eq!(emitter.holds(k), model.contains_key(&k));
                }
                prop_assert_eq!(emitter.is_empty(), model.is_empty());
            }
        }
    }
}
