//! A container's log stream: parse each line, join partial lines per
//! stdout/stderr (also across a rotation), optionally group multiline
//! records, and attach the container's resource.
//!
//! The files of one container are read side by side (the live file, its
//! rotations, a `.gz` read again after a restart), so the pieces of two
//! files can arrive interleaved. A partial is continued by the next piece
//! of its own file; a piece of another file continues it only as the
//! stream's first line in a file read from its start and tracked after the
//! partial's, stamped later (or alike, and not one of its pieces again),
//! which is how a line split across a rotation looks (its end opens the
//! next file). A file read on from a checkpoint in its middle never
//! continues a partial: its beginning was delivered before.
//! An older rotation read again is never spliced onto a newer line.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::format::{self, IoStream};
use super::metadata::PodSlot;
use super::path::ContainerLog;
use crate::event::{
    AnyValue, Attributes, Event, GrowingRecord, Handout, LogFlags, LogRecord, Resource,
};
use crate::sources::file::{
    Emitter, FileKey, LineHandler, Multiline, MultilineConfig, RawLine, group_or_emit,
};

/// Lines of one container instance (`<restart>.log` and its rotations).
pub struct ContainerHandler {
    slot: Arc<PodSlot>,
    resource: Handout<Resource>,
    generation: u64,
    stdout: StreamState,
    stderr: StreamState,
    max_merged_bytes: usize,
    partial_timeout: Duration,
    parse_failures: Arc<AtomicBool>,
    /// Files read on from past their start (a checkpoint, a rewind).
    read_midway: HashSet<FileKey>,
}

/// One of stdout/stderr: the partials being joined (one per file at
/// most) and the multiline group.
struct StreamState {
    shared: Handout<Attributes>,
    partials: Vec<Partial>,
    /// The files this stream has had a line from (a stream's first line
    /// in a file may end another file's partial).
    files: Vec<FileKey>,
    /// The runtime's latest time stamp on a line read so far, since its
    /// clock last went back.
    latest: u64,
    /// The file and time stamp of the last line read.
    last_read: Option<(FileKey, u64)>,
    multiline: Option<Multiline>,
}

/// Pieces of one line split by the runtime (`P` ... `F`).
struct Partial {
    record: GrowingRecord,
    spans: Vec<(FileKey, u64, u64)>,
    capped: bool,
    last_piece_at: Instant,
    /// The runtime's time stamp of the last piece.
    last_piece_time: u64,
    /// A hash of each piece's line, as read.
    piece_hashes: Vec<u64>,
}

// === impl ContainerHandler ===

impl ContainerHandler {
    /// A handler for `log`'s container.
    pub fn new(
        log: &ContainerLog,
        slot: Arc<PodSlot>,
        multiline: Option<&MultilineConfig>,
        max_merged_bytes: usize,
        partial_timeout: Duration,
        parse_failures: Arc<AtomicBool>,
    ) -> Self {
        let stream = |io: IoStream| {
            let mut shared = Attributes::new();
            shared.insert("log.iostream", io.as_str());
            shared.insert("log.file.path", log.live_path.display().to_string());
            StreamState {
                shared: Handout::new(Arc::new(shared)),
                partials: Vec::new(),
                files: Vec::new(),
                latest: 0,
                last_read: None,
                multiline: multiline.map(Multiline::new),
            }
        };
        let (resource, generation) = slot.resource();
        ContainerHandler {
            slot,
            resource: Handout::new(resource),
            generation,
            stdout: stream(IoStream::Stdout),
            stderr: stream(IoStream::Stderr),
            max_merged_bytes,
            partial_timeout,
            parse_failures,
            read_midway: HashSet::new(),
        }
    }

    fn refresh_resource(&mut self) {
        if self.slot.generation() != self.generation {
            let (resource, generation) = self.slot.resource();
            (self.resource, self.generation) = (Handout::new(resource), generation);
        }
    }
}

impl LineHandler for ContainerHandler {
    fn handle(&mut self, line: RawLine<'_>, out: &mut Emitter) {
        self.refresh_resource();
        if self.slot.excluded() {
            // The pod opted out (`neurallog.io/exclude: "true"`).
            out.consumed(line.file, line.end);
            return;
        }
        let Some(parsed) = format::parse(&line) else {
            // Not CRI nor docker: keep the line as it is, flagged by an
            // attribute, rather than lose it.
            self.parse_failures.store(true, Ordering::Relaxed);
            let (body, invalid) = line.text(line.bytes);
            let mut record = LogRecord::new(body, self.stdout.shared.get(), self.resource.get());
            record.observed_time_unix_nano = line.observed_unix_nano;
            record
                .attributes
                .insert("log.record.parse_error", AnyValue::Bool(true));
            if invalid {
                record.flags.insert(LogFlags::INVALID_UTF8);
            }
            if line.truncated {
                record.flags.insert(LogFlags::TRUNCATED);
            }
            if line.replayed {
                record.flags.insert(LogFlags::REPLAYED);
            }
            out.emit(Event::Log(record), line.file, line.end);
            return;
        };
        let max_merged = self.max_merged_bytes;
        let resource = self.resource.get();
        let midway = self.read_midway.contains(&line.file);
        let state = match parsed.stream {
            IoStream::Stdout => &mut self.stdout,
            IoStream::Stderr => &mut self.stderr,
        };
        let now = Instant::now();
        let mut flags = LogFlags::default();
        if parsed.invalid_utf8 {
            flags.insert(LogFlags::INVALID_UTF8);
        }
        if line.truncated {
            flags.insert(LogFlags::TRUNCATED);
        }
        if line.replayed {
            flags.insert(LogFlags::REPLAYED);
        }
        let continued =
            state.continued_by(&line, parsed.time_unix_nano, midway, self.partial_timeout);
        if !state.files.contains(&line.file) {
            state.files.push(line.file);
        }
        // A file's lines are in the order they were written: one stamped
        // before the line above it in the same file means the runtime's
        // clock was set back (NTP stepping a clock that ran ahead). The
        // times before it no longer tell which line is newer; kept, they
        // would stop every partial split across a rotation from being
        // joined until the clock caught up with them.
        if state
            .last_read
            .is_some_and(|(file, time)| file == line.file && parsed.time_unix_nano < time)
        {
            state.latest = 0;
        }
        state.last_read = Some((line.file, parsed.time_unix_nano));
        state.latest = state.latest.max(parsed.time_unix_nano);
        match continued {
            Some(index) => {
                let partial = &mut state.partials[index];
                // Once cut, the rest of the line is dropped: a later piece
                // that fits the room a cut on a character boundary left
                // would be spliced onto text it never followed.
                if !partial.capped {
                    let room = max_merged.saturating_sub(partial.record.body_len());
                    if parsed.message.len() > room {
                        partial.record.push_str(floor_char(&parsed.message, room));
                        partial.capped = true;
                    } else {
                        partial.record.push_str(&parsed.message);
                    }
                }
                partial.record.record_mut().flags.insert(flags);
                match partial.spans.last_mut() {
                    Some((file, _, end)) if *file == line.file => *end = line.end,
                    _ => partial.spans.push((line.file, line.start, line.end)),
                }
                partial.last_piece_at = now;
                if partial.last_piece_time != parsed.time_unix_nano {
                    // Only the pieces stamped like the last are compared
                    // (`may_go_on_with`): a line that never ends keeps a
                    // few hashes, not one per piece.
                    partial.piece_hashes.clear();
                }
                partial.last_piece_time = parsed.time_unix_nano;
                partial.piece_hashes.push(crate::hash::fnv1a(line.bytes));
                if !parsed.partial {
                    state.complete(index, out, now);
                }
            }
            None => {
                let body = if parsed.partial {
                    // The first piece waits for the rest: a copy, so that
                    // it does not keep the whole read chunk alive meanwhile.
                    String::from(&*parsed.message).into()
                } else {
                    parsed.message
                };
                let mut record = LogRecord::new(body, state.shared.get(), resource);
                record.time_unix_nano = parsed.time_unix_nano;
                record.observed_time_unix_nano = line.observed_unix_nano;
                record.flags = flags;
                let capped = record.body.len() > max_merged;
                if capped {
                    record.body = record.body.slice_ref(floor_char(&record.body, max_merged));
                }
                if parsed.partial {
                    state.partials.push(Partial {
                        record: GrowingRecord::new(record),
                        spans: vec![(line.file, line.start, line.end)],
                        capped,
                        last_piece_at: now,
                        last_piece_time: parsed.time_unix_nano,
                        piece_hashes: vec![crate::hash::fnv1a(line.bytes)],
                    });
                } else {
                    // A whole line (the common case): no partial to keep.
                    if capped {
                        record.flags.insert(LogFlags::TRUNCATED);
                    }
                    group_or_emit(
                        state.multiline.as_mut(),
                        record,
                        &[],
                        (line.file, line.start, line.end),
                        now,
                        out,
                    );
                }
            }
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Emitter) {
        let timeout = self.partial_timeout;
        for state in [&mut self.stdout, &mut self.stderr] {
            while let Some(index) = state
                .partials
                .iter()
                .position(|p| now.saturating_duration_since(p.last_piece_at) >= timeout)
            {
                state.partials[index]
                    .record
                    .record_mut()
                    .flags
                    .insert(LogFlags::UNTERMINATED);
                state.complete(index, out, now);
            }
            if let Some(multiline) = state.multiline.as_mut() {
                multiline.tick(now, out);
            }
        }
    }

    fn due(&self) -> Option<Instant> {
        let timeout = self.partial_timeout;
        [&self.stdout, &self.stderr]
            .into_iter()
            .flat_map(|state| {
                let partials = state
                    .partials
                    .iter()
                    .map(move |p| p.last_piece_at + timeout);
                partials.chain(state.multiline.as_ref().and_then(|m| m.due()))
            })
            .min()
    }

    fn holds_nothing(&self) -> bool {
        [&self.stdout, &self.stderr].into_iter().all(|state| {
            state.partials.is_empty() && state.multiline.as_ref().is_none_or(|m| m.is_empty())
        })
    }

    fn held_from(&self, file: FileKey) -> Option<u64> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flat_map(|state| {
                let partials = state.partials.iter().filter_map(move |p| {
                    p.spans
                        .iter()
                        .find(|(f, _, _)| *f == file)
                        .map(|(_, start, _)| *start)
                });
                let group = state.multiline.as_ref().and_then(|m| m.held_from(file));
                partials.chain(group)
            })
            .min()
    }

    fn reading_from(&mut self, file: FileKey, offset: u64) {
        // Its lines are read anew: the next is again the first one read,
        // and one stamped before the last read is not the clock going back.
        for state in [&mut self.stdout, &mut self.stderr] {
            state.files.retain(|f| *f != file);
            if state.last_read.is_some_and(|(f, _)| f == file) {
                state.last_read = None;
            }
        }
        if offset == 0 {
            self.read_midway.remove(&file);
        } else {
            self.read_midway.insert(file);
        }
    }

    fn file_closed(&mut self, file: FileKey, out: &mut Emitter) {
        self.read_midway.remove(&file);
        // A partial is kept across the end of a rotated file: its end is in
        // the next file of the stream. It is only sent here when the whole
        // stream ends (the handler is dropped with its last file), or by the
        // timeout in `tick`.
        for state in [&mut self.stdout, &mut self.stderr] {
            state.files.retain(|f| *f != file);
            if let Some(multiline) = state.multiline.as_mut()
                && multiline.holds(file)
                && state
                    .partials
                    .iter()
                    .all(|p| p.spans.iter().all(|(f, _, _)| *f != file))
            {
                multiline.flush(out);
            }
        }
    }

    fn discard(&mut self) {
        for state in [&mut self.stdout, &mut self.stderr] {
            state.partials.clear();
            // Lines are read again from before what was held.
            state.latest = 0;
            state.last_read = None;
            if let Some(multiline) = state.multiline.as_mut() {
                multiline.discard();
            }
        }
    }
}

// === impl StreamState ===

impl StreamState {
    /// The partial `line` (stamped `time`) continues, if any: the one whose
    /// last piece is in `line`'s file. Else, for the stream's first line in
    /// its file, the latest partial that
    /// - is of a file tracked before `line`'s (file keys grow): a partial of
    ///   a file tracked later is from an older rotation, or a copy, read
    ///   again;
    /// - is older than `line`, or alike and not `line` again (see
    ///   [`Partial::may_go_on_with`]);
    /// - is as new as every line read so far: its end is the stream's next
    ///   line, so one newer read before it means that end came already,
    ///   alone (the partial's file was tracked after the next one);
    ///
    /// and only if `line`'s file was read from its start (not `midway`):
    /// the end of a line split across a rotation opens the next file, so a
    /// file read on from a checkpoint past its start had that end
    /// delivered (after a restart, the partial is the start of that line
    /// read again, from an older rotation whose checkpoint did not follow
    /// it).
    fn continued_by(
        &self,
        line: &RawLine<'_>,
        time: u64,
        midway: bool,
        within: Duration,
    ) -> Option<usize> {
        let last_file = |p: &Partial| p.spans.last().map(|(file, _, _)| *file);
        if let Some(index) = self
            .partials
            .iter()
            .position(|p| last_file(p) == Some(line.file))
        {
            return Some(index);
        }
        if midway || self.files.contains(&line.file) {
            return None;
        }
        self.partials
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                last_file(p) < Some(line.file)
                    && p.last_piece_time >= self.latest
                    && p.may_go_on_with(line, time, within)
            })
            .max_by_key(|(_, p)| p.last_piece_time)
            .map(|(index, _)| index)
    }

    /// Partial `index` is whole: hand it to multiline grouping or emit it.
    fn complete(&mut self, index: usize, out: &mut Emitter, now: Instant) {
        let partial = self.partials.remove(index);
        let mut record = partial.record.finish();
        if partial.capped {
            record.flags.insert(LogFlags::TRUNCATED);
        }
        let Some((&last, earlier)) = partial.spans.split_last() else {
            return;
        };
        // The earlier files are consumed only when the record is sent:
        // multiline grouping may hold it longer than the rotated file lives.
        group_or_emit(self.multiline.as_mut(), record, earlier, last, now, out);
    }
}

// === impl Partial ===

impl Partial {
    /// Whether `line`, stamped `time`, opening another file may be this
    /// partial's next piece: stamped later, but not by more than `within`
    /// (the partial timeout: a runtime that waited longer between two
    /// pieces had the first sent alone by an agent reading as it wrote; a
    /// line stamped much later is of an older rotation read again, from
    /// before the runtime's clock went back), or at the same time (CRI-O
    /// stamps the pieces of one write alike) unless it is one of the
    /// partial's pieces again, which a copy, or a rotation read anew, would
    /// start with.
    fn may_go_on_with(&self, line: &RawLine<'_>, time: u64, within: Duration) -> bool {
        let within = u64::try_from(within.as_nanos()).unwrap_or(u64::MAX);
        (self.last_piece_time < time && time - self.last_piece_time <= within)
            || (self.last_piece_time == time
                && !self.piece_hashes.contains(&crate::hash::fnv1a(line.bytes)))
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn floor_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Kubernetes resource attributes of a container, from its path.
pub fn resource_attributes(
    log: &ContainerLog,
    node_name: Option<&str>,
    host: &Resource,
) -> Attributes {
    let mut attributes = crate::sources::workload_resource(host, []);
    if let Some(node) = node_name {
        attributes.insert("k8s.node.name", node.to_owned());
    }
    attributes.insert("k8s.namespace.name", log.namespace.clone());
    attributes.insert("k8s.pod.name", log.pod.clone());
    attributes.insert("k8s.pod.uid", log.uid.clone());
    attributes.insert("k8s.container.name", log.container.clone());
    attributes.insert("k8s.container.restart_count", i64::from(log.restart_count));
    attributes
}

#[cfg(test)]
mod tests;
