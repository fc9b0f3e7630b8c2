//! The tailing engine: one thread per source that discovers files, reads
//! them round-robin, batches records, waits on acknowledgements and moves
//! checkpoints.
//!
//! Reading is blocking I/O, so the engine runs on a dedicated thread and
//! hands batches to the async pipeline with `Handle::block_on`; while a
//! sink holds it back (backpressure) it keeps processing acknowledgements,
//! saving checkpoints and enforcing its hold budget, in slices.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::budget::OpenBudget;
use super::checkpoint::Checkpoints;
use super::config::TailConfig;
use super::discovery::{Discovery, Wake};
use super::files::{AwaitingStream, Pending, Tracked, Truncation};
use super::fingerprint::FileId;
use super::handler::{Emitter, FileKey, LineHandler, StreamFactory};
use super::ignored::Ignored;
use super::reader::Framed;
use crate::error::Chain;
use crate::event::{AckReceiver, AckStatus, BatchId, EventBatch, now_unix_nanos};
use crate::telemetry::events::{
    FileBytesLost, FileRewound, FileSourceError, FileSourceMetrics, LossReason,
};
use crate::topology::Fanout;

/// How long a blocked send waits before doing housekeeping again.
const SEND_SLICE: Duration = Duration::from_millis(200);

/// A batch that holds records is sent after at most this long.
const MAX_BATCH_AGE: Duration = Duration::from_millis(100);

/// How long records read at the end of their files wait for more before
/// their batch is sent. A file appended to in many small writes is then
/// sent once per linger, not once per write: each send wakes the sink's
/// threads, and at 10k lines/s in 100 writes a second those wake-ups cost
/// more than the lines. The sink's own batching (`timeout_ms`) bounds the
/// rest.
const LINGER: Duration = Duration::from_millis(50);

/// The read buffer, and so the most bytes one chunk holds. Records are
/// views into their chunk, which lives until the last of them is sent:
/// smaller chunks pin less memory. 128 KiB reads cost no more CPU than
/// 256 KiB ones in the shipping benchmark, and lowered its peak RSS.
const READ_CHUNK_BYTES: usize = 128 * 1024;

/// The least a file's read asks for, however close the batch is to full.
const MIN_READ_BYTES: usize = 4 * 1024;

/// Room for a batch's records: its size, and what the read that fills it
/// may bring past it (reads are sized by the lines' average length).
pub(super) fn batch_capacity(max_events: usize) -> usize {
    max_events.saturating_add(max_events / 4)
}

/// How long a file waits before it is read again after its first rewind;
/// the wait doubles with each rewind in a row, up to [`REWIND_BACKOFF_MAX`].
const REWIND_BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// The longest wait before a file is read again after a rewind.
const REWIND_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Upper bound on waiting for the last acknowledgements after shutdown
/// (the topology resolves them well before: its sinks end or give up).
const FINAL_ACK_WAIT: Duration = Duration::from_secs(120);

/// While it waits for its last acknowledgements, how often the engine
/// looks at its files' sizes.
const FINAL_LOOK_EVERY: Duration = Duration::from_millis(50);

/// The engine of one `file` or `kubernetes_logs` source.
pub struct Tailer {
    pub(super) config: TailConfig,
    pub(super) discovery: Discovery,
    pub(super) factory: Box<dyn StreamFactory>,
    pub(super) files: HashMap<FileKey, Tracked>,
    pub(super) by_id: HashMap<FileId, FileKey>,
    pub(super) streams: HashMap<String, Box<dyn LineHandler>>,
    pub(super) checkpoints: Checkpoints,
    pub(super) metrics: FileSourceMetrics,
    pub(super) truncations: Vec<Truncation>,
    pub(super) ignored: Ignored,
    pub(super) unreadable: HashMap<FileId, Instant>,
    pub(super) budget: OpenBudget,
    pub(super) next_key: FileKey,
    pub(super) next_seq: u64,
    /// Whether the source started with no checkpoints (`read_from`
    /// applies to the files of the first scan only then).
    pub(super) fresh_start: bool,
    pub(super) first_scan_done: bool,
    /// Called once the first scan has opened every file found.
    on_first_scan: Option<Box<dyn FnOnce() + Send>>,
    /// Files whose stream is not known yet (their pod's metadata is still
    /// loading), opened and kept by descriptor: a pod deleted meanwhile
    /// loses nothing. Looked at again at every scan.
    pub(super) awaiting_stream: HashMap<FileId, AwaitingStream>,
    out: Option<Fanout>,
    runtime: Handle,
    shutdown: CancellationToken,
    acks: AckReceiver,
    pub(super) in_flight: HashMap<BatchId, Vec<FileKey>>,
    /// Bytes of batches in flight whose file can no longer be read again
    /// (truncated in place with no copy): lost if the batch is not
    /// delivered.
    pub(super) orphaned: HashMap<BatchId, Vec<(PathBuf, u64)>>,
    /// The same, for records collected but not yet cut into a batch: they
    /// join `orphaned` with the next batch.
    pub(super) unsent_orphans: Vec<(PathBuf, u64)>,
    next_batch: BatchId,
    pub(super) emitter: Emitter,
    batch_started: Option<Instant>,
    buf: Vec<u8>,
    last_scan: Instant,
    /// When the last scan started: a file created before then was found.
    pub(super) scan_started: Instant,
    last_save: Instant,
    status: Arc<Mutex<serde_json::Value>>,
}

// === impl Tailer ===

impl Tailer {
    /// An engine over `discovery`, with streams from `factory`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one constructor wiring the engine's parts"
    )]
    pub fn new(
        config: TailConfig,
        discovery: Discovery,
        factory: Box<dyn StreamFactory>,
        checkpoints: Checkpoints,
        metrics: FileSourceMetrics,
        out: Fanout,
        shutdown: CancellationToken,
        status: Arc<Mutex<serde_json::Value>>,
    ) -> Self {
        let fresh_start = !checkpoints.existed();
        Tailer {
            on_first_scan: None,
            emitter: Emitter::with_capacity(batch_capacity(config.batch_max_events)),
            config,
            discovery,
            factory,
            files: HashMap::new(),
            by_id: HashMap::new(),
            streams: HashMap::new(),
            checkpoints,
            metrics,
            truncations: Vec::new(),
            ignored: Ignored::default(),
            unreadable: HashMap::new(),
            budget: OpenBudget::default(),
            next_key: 1,
            next_seq: 1,
            fresh_start,
            first_scan_done: false,
            awaiting_stream: HashMap::new(),
            out: Some(out),
            runtime: Handle::current(),
            shutdown,
            acks: AckReceiver::new(),
            in_flight: HashMap::new(),
            orphaned: HashMap::new(),
            unsent_orphans: Vec::new(),
            next_batch: 1,
            batch_started: None,
            buf: vec![0u8; READ_CHUNK_BYTES],
            last_scan: Instant::now(),
            scan_started: Instant::now(),
            last_save: Instant::now(),
            status,
        }
    }

    /// Call `ready` once the first scan is done: every file that exists
    /// is open (or waiting for a descriptor).
    pub fn on_first_scan(&mut self, ready: impl FnOnce() + Send + 'static) {
        self.on_first_scan = Some(Box::new(ready));
    }

    /// Run until shutdown, then wait for the last acknowledgements and save
    /// the checkpoints.
    /// Returns the checkpoints as it saved them (or tried to: a full
    /// disk), for the engine that replaces it after a reload.
    pub fn run(mut self) -> Checkpoints {
        self.scan();
        if let Some(ready) = self.on_first_scan.take() {
            ready();
        }
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let scan_every = Duration::from_millis(self.config.scan_interval_ms);
        while !self.shutdown.is_cancelled() {
            self.process_acks();
            let read_any = self.read_round();
            self.tick();
            let age = self.batch_started.map(|t| t.elapsed());
            let batch_due = age.is_some_and(|a| a >= MAX_BATCH_AGE);
            let lingered = age.is_none_or(|a| a >= LINGER);
            if !self.emitter.is_empty() && (batch_due || (!read_any && lingered)) {
                self.flush_batch();
            }
            self.housekeeping();
            if self.last_scan.elapsed() >= scan_every {
                self.scan();
            }
            if !read_any {
                self.check_tracked(false);
                // Files waiting for a descriptor get one as soon as the
                // batches of idle files are acknowledged.
                let for_acks = self.budget.has_waiting() && !self.in_flight.is_empty();
                // Records waiting for more are sent once they have waited
                // `LINGER`: meanwhile writers append (their notifications
                // queue up), and everything is read at once.
                let linger_left = self
                    .batch_started
                    .filter(|_| !self.emitter.is_empty())
                    .map(|t| LINGER.saturating_sub(t.elapsed()));
                let mut wake = match linger_left {
                    _ if for_acks => self.discovery.wait(Duration::ZERO),
                    Some(left) => {
                        std::thread::sleep(left);
                        self.discovery.wait(Duration::ZERO)
                    }
                    // Directories busy since the last wait reported no
                    // writes meanwhile: once they report them again, one
                    // more round reads what came before, then it waits.
                    None if self.discovery.report_writes() => Wake::default(),
                    None => self.discovery.wait(poll),
                };
                self.note_written(&mut wake.written);
                if for_acks {
                    self.wait_for_ack(poll);
                }
                if wake.rescan {
                    self.scan();
                }
            }
        }
        self.finish()
    }

    /// Read every file once, round-robin, within its budget. Within a
    /// stream, a newer file is read only once the older ones are at their
    /// end, so records stay in order across rotations.
    pub(super) fn read_round(&mut self) -> bool {
        self.rotate_open_files();
        let mut order: Vec<(u64, FileKey)> = self.files.iter().map(|(k, f)| (f.seq, *k)).collect();
        order.sort_unstable();
        let mut busy_streams: HashSet<String> = HashSet::new();
        let mut read_any = false;
        let mut rewritten = Vec::new();
        let mut grown = Vec::new();
        for (_, key) in order {
            let Some(file) = self.files.get_mut(&key) else {
                continue;
            };
            if busy_streams.contains(&file.stream) {
                continue;
            }
            let mut resuming = false;
            if let Some(at) = file.retry_at {
                if Instant::now() < at {
                    // Read again after a rewind, once the backoff is over;
                    // newer files of its stream wait for it.
                    busy_streams.insert(file.stream.clone());
                    continue;
                }
                file.retry_at = None;
                resuming = true;
            }
            if (file.eof || resuming) && !file.reader.is_gzip() {
                // A file at its end: look before reading (the `fstat` costs
                // what the empty read it replaces did). One that grew, or
                // one read again after a rewind, may have been truncated
                // and written past its old size meanwhile: its first bytes
                // tell.
                match file.reader.size() {
                    Ok(size) if file.eof && size <= file.reader.position() => continue,
                    Ok(_)
                        if file.held.is_none()
                            && !file.fingerprint.matches(file.reader.file()).unwrap_or(true) =>
                    {
                        rewritten.push((key, file.size.max(file.reader.position())));
                        continue;
                    }
                    _ => {}
                }
            }
            // About what fills the batch, not the whole budget: a
            // budget's worth of short lines was several batches' records,
            // in one vector grown by copying and then pinned whole by each
            // request the sink cut from it.
            let room = self
                .config
                .batch_max_events
                .saturating_sub(self.emitter.len());
            let budget = self
                .config
                .read_budget_bytes
                .min(room.saturating_mul(file.line_bytes).max(MIN_READ_BYTES));
            let Some(handler) = self.streams.get_mut(&file.stream) else {
                continue;
            };
            let emitter = &mut self.emitter;
            let metrics = &self.metrics;
            let mut lines = 0usize;
            let mut sink = |framed: Framed<'_>| match framed {
                Framed::Line(line) => {
                    lines += 1;
                    if line.truncated {
                        metrics.line_truncated();
                    }
                    handler.handle(line, emitter);
                }
                Framed::Skipped(end) => emitter.consumed(key, end),
            };
            let result = file.reader.read(
                &mut self.buf,
                budget,
                self.config.max_line_bytes,
                now_unix_nanos(),
                &mut sink,
            );
            match result {
                Ok(0) => file.eof = true,
                Ok(n) => {
                    // A read that ended no line was inside a longer one.
                    file.line_bytes = match n.checked_div(lines) {
                        Some(per_line) => per_line.max(1),
                        None => file.line_bytes.max(n),
                    };
                    file.eof = false;
                    file.last_read = Instant::now();
                    read_any = true;
                    self.metrics.component.received(lines, n);
                    if (file.fingerprint.len as usize) < self.config.fingerprint_bytes
                        && file.reader.position() > u64::from(file.fingerprint.len)
                    {
                        // Read past what its fingerprint covers: should it
                        // be truncated before the next look, a copy is
                        // told by what was read, not by the prefix it had
                        // when it was found (nothing, if it was empty);
                        // rotated, its checkpoint tells it after a restart.
                        grown.push(key);
                    }
                    if n >= budget {
                        busy_streams.insert(file.stream.clone());
                    }
                }
                Err(error) => {
                    FileSourceError {
                        metrics: &self.metrics,
                        error_type: "read_failed",
                        path: &file.path,
                        error: Chain(&error),
                    }
                    .emit();
                    file.eof = true;
                }
            }
            if !file.eof {
                busy_streams.insert(file.stream.clone());
            }
            if self.batch_started.is_none() && !self.emitter.is_empty() {
                self.batch_started = Some(Instant::now());
            }
            if self.emitter.len() >= self.config.batch_max_events {
                self.flush_batch();
            }
        }
        for key in grown {
            read_any |= self.lengthen_fingerprint(key);
        }
        for (key, reached) in rewritten {
            self.truncated(key, reached);
            read_any = true;
        }
        read_any
    }

    /// Emit what waited past its timeout: unterminated last lines, and
    /// multiline groups or partials in the handlers.
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        let timeout = Duration::from_millis(self.config.unterminated_timeout_ms);
        for (&key, file) in self.files.iter_mut() {
            if !file.eof {
                continue;
            }
            let Some(handler) = self.streams.get_mut(&file.stream) else {
                continue;
            };
            let emitter = &mut self.emitter;
            file.reader
                .flush_unterminated(now, timeout, now_unix_nanos(), &mut |framed| match framed {
                    Framed::Line(line) => handler.handle(line, emitter),
                    Framed::Skipped(end) => emitter.consumed(key, end),
                });
        }
        // The rest may also be in a file not found yet: the successor of a
        // file rotated since the last scan (kubelet's rotation between the
        // pieces of a CRI line; logrotate's in a stack trace). Under load
        // the reader is rarely idle, so new files are found by the scan
        // every `scan_interval_ms`, as long as the timeout by default: a
        // partial read just before a rotation could time out alone, and its
        // end, read from the new file, go out as a line of its own. So what is
        // due is timed out only once a scan that started after it was due
        // found nothing more to read: handlers are ticked at the time the
        // last scan started. When something is due that no scan has looked
        // past, one runs now, at most once a poll interval.
        let due = self
            .streams
            .values()
            .filter_map(|handler| handler.due())
            .min();
        let spacing = Duration::from_millis(
            self.config
                .poll_interval_ms
                .min(self.config.unterminated_timeout_ms),
        );
        if due.is_some_and(|due| due <= now && self.scan_started < due)
            && self.last_scan.elapsed() >= spacing
        {
            self.scan();
        }
        let scanned = now.min(self.scan_started);
        // A stream with bytes left unread is not timed out: the rest of its
        // partial line or multiline group may be among them, unread because
        // the source was held up (a full pipeline, a read sized to the
        // batch), not because the writer has not written it.
        let mut busy: Option<HashSet<&str>> = None;
        for (stream, handler) in self.streams.iter_mut() {
            if handler.holds_nothing() {
                continue;
            }
            let busy = busy.get_or_insert_with(|| {
                self.files
                    .values()
                    .filter(|f| !f.eof)
                    .map(|f| f.stream.as_str())
                    .collect()
            });
            if !busy.contains(stream.as_str()) {
                handler.tick(scanned, &mut self.emitter);
            }
        }
        if self.batch_started.is_none() && !self.emitter.is_empty() {
            self.batch_started = Some(now);
        }
    }

    /// Cut a batch from what the handlers emitted and send it.
    pub(super) fn flush_batch(&mut self) {
        self.batch_started = None;
        if self.emitter.is_empty() {
            return;
        }
        let (events, ends) = self
            .emitter
            .take(batch_capacity(self.config.batch_max_events));
        let id = self.next_batch;
        self.next_batch += 1;
        if !self.unsent_orphans.is_empty() {
            self.orphaned
                .entry(id)
                .or_default()
                .append(&mut self.unsent_orphans);
        }
        let mut keys = Vec::with_capacity(ends.len());
        for (key, end) in ends {
            let Some(file) = self.files.get_mut(&key) else {
                continue;
            };
            // Never past a byte a handler still holds back.
            let held = self
                .streams
                .get(&file.stream)
                .and_then(|h| h.held_from(key));
            let offset = held.map_or(end, |h| h.min(end));
            file.pending.push_back(Pending {
                batch: id,
                offset,
                done: false,
            });
            keys.push(key);
        }
        if events.is_empty() {
            // Only skipped or filtered bytes: nothing to deliver.
            self.apply_ack(id, &keys, AckStatus::Delivered);
            return;
        }
        let count = events.len();
        self.in_flight.insert(id, keys);
        let batch = EventBatch::new(events, self.acks.ack(id));
        self.send(batch);
        self.metrics.component.sent(count, 0);
    }

    /// Hand `batch` to the pipeline, waiting in slices while it is full.
    /// Files that appear meanwhile are opened at once (not read): one
    /// created and rotated away while the sink is down is then still held
    /// by its descriptor, not missed.
    fn send(&mut self, batch: EventBatch) {
        let Some(out) = self.out.as_mut() else { return };
        let mut pending = out.start(batch);
        // Most sends go through at once: only one that waits needs a
        // wake-up for files appearing meanwhile.
        let sent = self.runtime.block_on(async {
            tokio::select! {
                biased;
                () = out.drive(&mut pending) => true,
                () = std::future::ready(()) => false,
            }
        });
        if sent {
            return;
        }
        while !pending.is_done() {
            let Some(out) = self.out.as_mut() else { return };
            let shutdown = self.shutdown.clone();
            let discovery = &self.discovery;
            let sent = self.runtime.block_on(async {
                tokio::select! {
                    () = out.drive(&mut pending) => true,
                    () = tokio::time::sleep(SEND_SLICE) => false,
                    () = discovery.event_waiting() => false,
                    () = shutdown.cancelled() => false,
                }
            });
            if sent {
                return;
            }
            if self.shutdown.is_cancelled() {
                // Dropping the pending send drops the batch: it counts as
                // undelivered and is read again after the restart.
                return;
            }
            self.process_acks();
            self.housekeeping();
            self.note_sizes();
            let wake = self.discovery.wait(Duration::ZERO);
            let scan_due =
                self.last_scan.elapsed() >= Duration::from_millis(self.config.scan_interval_ms);
            if wake.rescan || scan_due {
                self.scan();
            }
        }
    }

    /// Batches in flight that covered `old` now cover `new`.
    pub(super) fn rekey_in_flight(&mut self, old: FileKey, new: FileKey) {
        for keys in self.in_flight.values_mut() {
            for key in keys.iter_mut() {
                if *key == old {
                    *key = new;
                }
            }
        }
    }

    /// Note that a scan just finished.
    pub(super) fn mark_scanned(&mut self) {
        self.last_scan = Instant::now();
        self.publish_status();
    }

    /// Apply every acknowledgement that arrived.
    pub(super) fn process_acks(&mut self) {
        while let Some((id, status)) = self.acks.try_recv() {
            if let Some(keys) = self.in_flight.remove(&id) {
                self.apply_ack(id, &keys, status);
            }
        }
    }

    fn apply_ack(&mut self, id: BatchId, keys: &[FileKey], status: AckStatus) {
        if let Some(orphans) = self.orphaned.remove(&id)
            && !status.is_final()
        {
            self.count_orphans(orphans);
        }
        if !status.is_final() {
            // Its files' checkpoints stay before it, and their readers go
            // back there: the batch is read and sent again.
            self.metrics.batch_undelivered();
            for key in keys {
                self.rewind(*key, id);
            }
            return;
        }
        for key in keys {
            let Some(file) = self.files.get_mut(key) else {
                continue;
            };
            if let Some(entry) = file.pending.iter_mut().find(|p| p.batch == id) {
                entry.done = true;
                file.rewinds = 0;
            }
            let mut advanced = None;
            while file.pending.front().is_some_and(|p| p.done) {
                advanced = file.pending.pop_front().map(|p| p.offset);
            }
            if let Some(offset) = advanced
                && offset > file.committed
            {
                file.committed = offset;
                self.checkpoints.advance(file.id, offset);
            }
        }
    }

    /// Batch `id`, which covered part of `key`, was not delivered: read
    /// the file again from where the batch began. Later batches of the
    /// file no longer settle anything (their lines are read again too, so
    /// what they delivered arrives twice). Records a handler of the
    /// stream holds back are dropped and their files read again from
    /// their first held byte. Reading resumes after a backoff that grows
    /// while the sinks keep failing.
    fn rewind(&mut self, key: FileKey, id: BatchId) {
        let Some(file) = self.files.get_mut(&key) else {
            return;
        };
        let Some(at) = file.pending.iter().position(|p| p.batch == id) else {
            // Already read again by an earlier rewind.
            return;
        };
        let to = match at {
            0 => file.committed,
            _ => file.pending[at - 1].offset,
        };
        file.pending.truncate(at);
        let stream = file.stream.clone();
        let mut targets = vec![(key, to)];
        if let Some(handler) = self.streams.get_mut(&stream) {
            targets.extend(
                self.files
                    .iter()
                    .filter(|(k, f)| **k != key && f.stream == stream)
                    .filter_map(|(k, _)| handler.held_from(*k).map(|held| (*k, held))),
            );
            handler.discard();
        }
        self.emitter.forget(key);
        // A record this rewind reads the start of again, whose rest is in a
        // newer file (a line split by a rotation), had that rest settled
        // with a batch that was delivered: the newer file is read again
        // from its start too (a rest is joined only as a file's first
        // lines), or the start goes out alone (chaos seed 7100).
        for rest in self.emitter.continued_in(key, to) {
            let Some(file) = self.files.get_mut(&rest) else {
                continue;
            };
            // Its batches in flight settle nothing now, and its checkpoint
            // goes back to its start, so that after a restart too the
            // start is read with its rest: it is read again.
            file.pending.clear();
            file.committed = 0;
            self.checkpoints.advance(file.id, 0);
            self.emitter.forget(rest);
            targets.retain(|(k, _)| *k != rest);
            targets.push((rest, 0));
        }
        for (key, to) in targets {
            let Some(file) = self.files.get_mut(&key) else {
                continue;
            };
            let bytes = file.reader.position().saturating_sub(to);
            // Truncation is told by the size the file reached, which the
            // reader's position no longer shows.
            file.size = file.size.max(file.reader.position());
            if let Err(error) = file.reader.rewind(to) {
                FileSourceError {
                    metrics: &self.metrics,
                    error_type: "rewind_failed",
                    path: &file.path,
                    error: Chain(&error),
                }
                .emit();
                continue;
            }
            if let Some(handler) = self.streams.get_mut(&stream) {
                handler.reading_from(key, to);
            }
            let delay = REWIND_BACKOFF_FIRST
                .saturating_mul(1 << file.rewinds.min(8))
                .min(REWIND_BACKOFF_MAX);
            file.rewinds = file.rewinds.saturating_add(1);
            file.retry_at = Some(Instant::now() + delay);
            file.eof = false;
            FileRewound {
                metrics: &self.metrics,
                path: &file.path,
                offset: to,
                bytes,
                retry_in: delay,
                first: file.rewinds == 1,
            }
            .emit();
        }
    }

    /// Wait up to `timeout` for an acknowledgement and apply it.
    fn wait_for_ack(&mut self, timeout: Duration) {
        let acks = &mut self.acks;
        let next = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, acks.recv()).await });
        if let Ok(Some((id, status))) = next
            && let Some(keys) = self.in_flight.remove(&id)
        {
            self.apply_ack(id, &keys, status);
        }
    }

    /// Periodic duties: the hold budget, checkpoints, status.
    pub(super) fn housekeeping(&mut self) {
        self.enforce_hold_budget();
        self.close_drained();
        if self.checkpoints.added()
            || self.last_save.elapsed() >= Duration::from_millis(self.config.checkpoint_interval_ms)
        {
            self.save_checkpoints();
            self.publish_status();
        }
    }

    pub(super) fn save_checkpoints(&mut self) {
        self.last_save = Instant::now();
        for file in self.files.values() {
            self.checkpoints
                .note_size(file.id, file.size.max(file.reader.position()));
        }
        if let Err(error) = self.checkpoints.save() {
            FileSourceError {
                metrics: &self.metrics,
                error_type: "checkpoint_write_failed",
                path: &PathBuf::from("checkpoints"),
                error: Chain(&error),
            }
            .emit();
        }
    }

    fn publish_status(&mut self) {
        let mut lag = 0;
        let mut files: Vec<(u64, serde_json::Value)> = self
            .files
            .values()
            .map(|f| {
                lag += f.size.saturating_sub(f.committed);
                (
                    f.seq,
                    serde_json::json!({
                        "path": f.path.display().to_string(),
                        "state": f.state_name(),
                        "size": f.size,
                        "read_offset": f.reader.position(),
                        "committed_offset": f.committed,
                        "compressed": f.reader.is_gzip(),
                        "rewinds_in_a_row": f.rewinds,
                    }),
                )
            })
            .collect();
        files.sort_by_key(|(seq, _)| *seq);
        self.metrics.set_checkpoint_lag(lag);
        self.metrics.set_files_open(self.files.len());
        self.metrics.set_files_waiting(self.budget.waiting());
        let doc = serde_json::json!({
            "files": files.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            "files_waiting": self.budget.waiting(),
            "files_idle_closed": self.budget.idle(),
            "batches_in_flight": self.in_flight.len(),
            "checkpoint_lag_bytes": lag,
        });
        if let Ok(mut status) = self.status.lock() {
            *status = doc;
        }
    }

    /// Shutdown: send what is cut, let go of the output, wait for the last
    /// acknowledgements, save checkpoints. Records still held by handlers
    /// (an open multiline group, a partial) are not sent: their bytes stay
    /// after the checkpoint and are read again, whole, after the restart.
    pub(super) fn finish(mut self) -> Checkpoints {
        self.flush_batch();
        drop(self.out.take());
        let start = Instant::now();
        while !self.in_flight.is_empty() && start.elapsed() < FINAL_ACK_WAIT {
            // Files still grow, and may be truncated, while the sinks hold
            // the last batches (a reload that rebuilds the source while the
            // ingest is down waits here, and its successor starts only
            // after): keep noting how far they reached. The checkpoints
            // saved at the end carry it, so the successor counts what a
            // truncation destroyed meanwhile instead of losing it silently.
            self.note_sizes();
            let acks = &mut self.acks;
            let next = self
                .runtime
                .block_on(async { tokio::time::timeout(FINAL_LOOK_EVERY, acks.recv()).await });
            if let Ok(Some((id, status))) = next
                && let Some(keys) = self.in_flight.remove(&id)
            {
                self.apply_ack(id, &keys, status);
            }
        }
        // Batches never answered: what no file can give again is lost.
        let orphans: Vec<(PathBuf, u64)> = self.orphaned.drain().flat_map(|(_, o)| o).collect();
        self.count_orphans(orphans);
        self.count_deleted_at_stop();
        self.save_checkpoints();
        self.publish_status();
        self.checkpoints
    }

    /// Count the bytes of undelivered batches whose file was truncated.
    fn count_orphans(&self, orphans: Vec<(PathBuf, u64)>) {
        for (path, bytes) in orphans {
            FileBytesLost {
                metrics: &self.metrics,
                path: &path,
                bytes,
                reason: LossReason::Truncated,
            }
            .emit();
        }
    }
}
