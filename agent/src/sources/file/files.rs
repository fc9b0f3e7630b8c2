//! The files a source tracks: finding new ones, noticing rotation,
//! truncation and deletion, holding rotated files until they are drained
//! and acknowledged, and letting them go.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::budget::{Admission, find_by_inode};
use super::checkpoint::Entry;
use super::config::ReadFrom;
use super::fingerprint::{FileId, Fingerprint};
use super::handler::{FileKey, StreamSpec};
use super::ignored::Stamp;
use super::reader::Reader;
use super::tailer::Tailer;
use crate::error::Chain;
use crate::event::BatchId;
use crate::telemetry::events::{
    FileBytesLost, FileClosed, FileOpened, FileRotated, FileSourceError, LossReason, RotationKind,
};

/// A rotated or deleted file at its end is closed only after this long,
/// so writes that land just after a rename are still read.
const ROTATION_GRACE: Duration = Duration::from_secs(1);

/// How often a file that could not be opened is tried again.
const UNREADABLE_RETRY: Duration = Duration::from_secs(60);

/// How long a truncation is remembered, to resume from its copy if the
/// copy is found later.
const TRUNCATION_MEMORY: Duration = Duration::from_secs(60);

/// A batch that covers part of a file, waiting for its acknowledgement.
#[derive(Debug)]
pub struct Pending {
    /// The batch.
    pub batch: BatchId,
    /// The file's checkpoint once this batch (and every earlier one) is
    /// acknowledged.
    pub offset: u64,
    /// Acknowledged.
    pub done: bool,
}

/// A file opened before its stream could be told (its pod's metadata was
/// still loading): the descriptor is kept until it can.
#[derive(Debug)]
pub struct AwaitingStream {
    file: File,
    /// Where the scan found it.
    path: PathBuf,
    /// Found by the first scan (`read_from` applies).
    initial: bool,
}

/// A truncation seen recently: a copy of the file's old content that shows
/// up later is read from where the original stopped.
#[derive(Debug)]
pub struct Truncation {
    dir: PathBuf,
    fingerprint: Fingerprint,
    offset: u64,
    at: Instant,
}

/// One file being read.
#[derive(Debug)]
pub struct Tracked {
    /// Where it was found (or last seen).
    pub path: PathBuf,
    /// Device and inode.
    pub id: FileId,
    /// Hash of its first bytes.
    pub fingerprint: Fingerprint,
    /// The stream it feeds.
    pub stream: String,
    /// Read order within the source (older first).
    pub seq: u64,
    /// The open file and its framing state.
    pub reader: Reader,
    /// Acknowledged offset.
    pub committed: u64,
    /// Batches with lines of this file, oldest first.
    pub pending: VecDeque<Pending>,
    /// Since when, and why, the file is no longer at its path.
    pub held: Option<(Instant, RotationKind)>,
    /// Size at the last look.
    pub size: u64,
    /// The last read found nothing new.
    pub eof: bool,
    /// Not read before this, after a rewind.
    pub retry_at: Option<Instant>,
    /// Rewinds in a row, without a delivery in between.
    pub rewinds: u32,
    /// When a read last found data (idle files are closed least recently
    /// read first).
    pub last_read: Instant,
    /// Bytes per line of its latest read (at least the read, if it ended
    /// no line): the next read is sized to about what fills the batch.
    /// Until then, short lines.
    pub line_bytes: usize,
}

// === impl Tracked ===

impl Tracked {
    /// `live`, or how it left its path.
    pub fn state_name(&self) -> &'static str {
        match self.held {
            None => "live",
            Some((_, RotationKind::Delete)) => "deleted",
            Some((_, RotationKind::Rename)) => "rotated",
            Some((_, RotationKind::CopyTruncate)) => "copy",
            Some((_, RotationKind::Truncate)) => "truncated",
        }
    }
}

// === impl Tailer (files) ===

impl Tailer {
    /// Look at tracked files for rotation and truncation, then open new
    /// files matching the patterns.
    pub(super) fn scan(&mut self) {
        let started = Instant::now();
        self.factory.before_scan();
        self.budget.start_scan();
        self.ignored.start_scan();
        self.check_tracked(true);
        self.retry_awaiting_stream();
        let initial = !self.first_scan_done;
        // Oldest first: a rotated file found beside its successor is read
        // before it, so records keep their order. Compressed files before
        // the others: rotations are compressed once older ones are (kubelet
        // and logrotate's `delaycompress` leave the newest as it is), and
        // a compressed file's time is when it was compressed, later than
        // the last line of the rotation after it.
        let mut found: Vec<(bool, Option<SystemTime>, PathBuf, Option<FileId>)> = self
            .discovery
            .scan()
            .into_iter()
            .map(|p| {
                let plain = p.extension().is_none_or(|e| e != "gz");
                let meta = std::fs::metadata(&p).ok();
                let modified = meta.as_ref().and_then(|m| m.modified().ok());
                let id = meta.map(|m| FileId {
                    dev: m.dev(),
                    ino: m.ino(),
                });
                (plain, modified, p, id)
            })
            .collect();
        found.sort();
        let mut seen = HashSet::new();
        for (_, _, path, id) in found {
            seen.extend(id);
            self.consider(&path, initial);
        }
        self.check_idle_files();
        self.forget_finished_streams();
        self.ignored.forget_unseen();
        // A file that could not be opened and is gone now (deleted,
        // rotated out of the patterns) is not tried again.
        self.unreadable.retain(|id, _| seen.contains(id));
        if initial {
            self.recover_missing();
            self.first_scan_done = true;
        }
        self.truncations
            .retain(|t| t.at.elapsed() < TRUNCATION_MEMORY);
        if self.checkpoints.added() {
            // Before any of the files found is read (see `Checkpoints::added`).
            self.save_checkpoints();
        }
        self.scan_started = started;
        self.mark_scanned();
    }

    /// Note how far each tracked file has grown, without reading it
    /// (`fstat`): while a sink holds the engine back, a file truncated in
    /// place is then measured against the size it reached, and what it
    /// held unread is counted lost, not silently gone.
    pub(super) fn note_sizes(&mut self) {
        for file in self.files.values_mut() {
            if file.reader.is_gzip() {
                continue;
            }
            if let Ok(size) = file.reader.size() {
                file.size = file.size.max(size);
            }
        }
    }

    /// Notice rotation, deletion and truncation of tracked files. Cheap
    /// (`stat` and `fstat`), so it runs whenever the reader is idle; with
    /// `full`, a rewrite in place is looked for too (a read of the first
    /// bytes per file).
    pub(super) fn check_tracked(&mut self, full: bool) {
        let mut changed = false;
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        for key in keys {
            let Some(file) = self.files.get_mut(&key) else {
                continue;
            };
            // The size a truncation is measured against: what the file
            // reached, not where the reader is (a rewind moves it back).
            let reached = file.size.max(file.reader.position());
            file.size = file.reader.size().unwrap_or(file.size);
            if file.reader.is_gzip() {
                continue;
            }
            if file.size < reached {
                // Truncated (also when rotated or deleted since, or while a
                // rewind waits): what is unread may survive in a copy. Told
                // in the look that sees the size drop, before anything else.
                self.truncated(key, reached);
                changed = true;
                continue;
            }
            if file.held.is_some() {
                continue;
            }
            let meta = std::fs::metadata(&file.path);
            let moved = match &meta {
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                Ok(meta) => meta.dev() != file.id.dev || meta.ino() != file.id.ino,
            };
            if moved {
                // Renamed if it is still beside its old path (its successor
                // may not be created yet), else deleted. Named by where it
                // went from now on: what is reported of it (bytes given up)
                // points to a file the operator can find.
                let renamed = file
                    .path
                    .parent()
                    .and_then(|dir| find_by_inode(dir, file.id));
                let kind = if renamed.is_some() {
                    RotationKind::Rename
                } else {
                    RotationKind::Delete
                };
                file.held = Some((Instant::now(), kind));
                FileRotated {
                    metrics: &self.metrics,
                    path: &file.path,
                    kind,
                }
                .emit();
                if let Some(renamed) = renamed {
                    file.path = renamed;
                }
                changed = true;
                continue;
            }
            if meta.is_err() {
                // Unreadable for now (permissions): looked at again later.
                continue;
            }
            let rewritten = full && !file.fingerprint.matches(file.reader.file()).unwrap_or(true);
            if rewritten {
                self.truncated(key, reached);
                changed = true;
            } else if (file.fingerprint.len as usize) < self.config.fingerprint_bytes
                && file.size > u64::from(file.fingerprint.len)
            {
                changed |= self.lengthen_fingerprint(key);
            }
        }
        if changed {
            // Where a rotated file's content went must survive a crash
            // right after: save now, not at the next interval.
            self.save_checkpoints();
        }
    }

    /// A file that grew past its fingerprint is identified by a longer
    /// prefix now, unless the prefix it had changed (truncated and written
    /// past its old size in between): then it is handled as truncated, and
    /// `true` returned.
    pub(super) fn lengthen_fingerprint(&mut self, key: FileKey) -> bool {
        let Some(file) = self.files.get_mut(&key) else {
            return false;
        };
        if !file.fingerprint.matches(file.reader.file()).unwrap_or(true) {
            let reached = file.size.max(file.reader.position());
            self.truncated(key, reached);
            return true;
        }
        if let Ok(fp) = Fingerprint::read(file.reader.file(), self.config.fingerprint_bytes) {
            file.fingerprint = fp;
            self.checkpoints.set(entry_of(file));
        }
        false
    }

    /// A file found by a scan: open it unless it is known or ignored; over
    /// budget, it waits for a descriptor (`budget`).
    pub(super) fn consider(&mut self, path: &Path, initial: bool) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if !meta.is_file() {
            return;
        }
        let id = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        if self.by_id.contains_key(&id)
            || self.awaiting_stream.contains_key(&id)
            || self.ignored.contains(id, Stamp::of(&meta))
        {
            return;
        }
        if meta.len() < 2 && path.extension().is_some_and(|e| e == "gz") {
            // Being written (logrotate creates it, then compresses into
            // it): opened now, it would be taken for text.
            return;
        }
        if let Some(max_age) = self.config.ignore_older_than_secs {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok());
            if age.is_some_and(|age| age > Duration::from_secs(max_age)) {
                return;
            }
        }
        if self
            .unreadable
            .get(&id)
            .is_some_and(|since| since.elapsed() < UNREADABLE_RETRY)
        {
            return;
        }
        // Counting the files at a path only when the budget may be spent
        // keeps a scan of many files linear.
        let mut open = self.files.len() + self.awaiting_stream.len();
        if open >= self.config.max_open_files {
            open = self.live_files() + self.awaiting_stream.len();
        }
        let admission = self.budget.admit(
            path,
            id,
            meta.len(),
            initial,
            open,
            self.config.max_open_files,
        );
        if admission == Admission::Open {
            self.open_found(path, id, initial);
        }
    }

    /// Open a file found by a scan (now or after waiting for a
    /// descriptor) with identity `found` at its path.
    pub(super) fn open_found(&mut self, path: &Path, found: FileId, initial: bool) {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) => {
                // Reported once; tried again now and then (permissions
                // change), quietly.
                if self.unreadable.insert(found, Instant::now()).is_none() {
                    FileSourceError {
                        metrics: &self.metrics,
                        error_type: "open_failed",
                        path,
                        error: Chain(&error),
                    }
                    .emit();
                }
                return;
            }
        };
        self.open_descriptor(file, path, initial);
    }

    /// Files whose stream was not known when they were opened: try again
    /// with the descriptor kept (the path may be gone by now).
    pub(super) fn retry_awaiting_stream(&mut self) {
        let ids: Vec<FileId> = self.awaiting_stream.keys().copied().collect();
        for id in ids {
            if let Some(awaiting) = self.awaiting_stream.remove(&id) {
                self.open_descriptor(awaiting.file, &awaiting.path, awaiting.initial);
            }
        }
    }

    /// Start tailing `file`, opened at `path` (a scan found it there).
    fn open_descriptor(&mut self, file: File, path: &Path, initial: bool) {
        // Identify the descriptor itself: the path may have changed since.
        let Ok((id, size)) = FileId::of(&file) else {
            return;
        };
        self.unreadable.remove(&id);
        if self.by_id.contains_key(&id) {
            return;
        }
        let gzip = is_gzip(&file);
        if gzip && !self.config.read_gzip {
            if let Ok(meta) = file.metadata() {
                self.ignored.insert(id, Stamp::of(&meta));
            }
            return;
        }
        let fingerprint = if gzip {
            gzip_fingerprint(&file, self.config.fingerprint_bytes)
        } else {
            Fingerprint::read(&file, self.config.fingerprint_bytes).ok()
        };
        let Some(fingerprint) = fingerprint else {
            return;
        };
        let Some(spec) = self.factory.stream_for(path) else {
            if self.factory.is_waiting(path) {
                // Its pod's metadata is not known yet: keep the descriptor
                // (the pod may be deleted meanwhile) and, for `read_from`,
                // whether it belongs to the first scan.
                self.awaiting_stream.insert(
                    id,
                    AwaitingStream {
                        file,
                        path: path.to_owned(),
                        initial,
                    },
                );
            }
            return;
        };
        let Some(offset) = self.start_offset(id, fingerprint, &file, size, path, initial, gzip)
        else {
            return;
        };
        let reader = if gzip {
            let file_meta = file.metadata();
            match Reader::gzip(file, self.next_key, offset) {
                Ok(reader) => reader,
                Err(error) => {
                    FileSourceError {
                        metrics: &self.metrics,
                        error_type: "gzip_failed",
                        path,
                        error: Chain(&error),
                    }
                    .emit();
                    if let Ok(meta) = file_meta {
                        self.ignored.insert(id, Stamp::of(&meta));
                    }
                    return;
                }
            }
        } else {
            Reader::new(file, self.next_key, offset)
        };
        self.track(path, reader, id, fingerprint, spec, offset, None, None);
    }

    #[allow(clippy::too_many_arguments, reason = "the facts about a file found")]
    fn start_offset(
        &mut self,
        id: FileId,
        fingerprint: Fingerprint,
        file: &File,
        size: u64,
        path: &Path,
        initial: bool,
        gzip: bool,
    ) -> Option<u64> {
        let fingerprint_bytes = self.config.fingerprint_bytes;
        if let Some(entry) = self
            .checkpoints
            .get(id)
            .filter(|e| gzip || e.fingerprint.identifies(e.offset, fingerprint_bytes))
            .cloned()
        {
            let same = if gzip {
                entry.fingerprint == fingerprint
            } else {
                entry.fingerprint.matches(file).unwrap_or(false)
            };
            if same {
                return Some(if gzip || entry.offset <= size {
                    entry.offset
                } else {
                    0
                });
            }
            // Truncated or rewritten while the agent was stopped (or the
            // inode was reused): what was not read may survive in a copy.
            self.checkpoints.remove(id);
            if !gzip && !self.adopt_copy(path, &entry) {
                self.count_lost_while_stopped(&entry, LossReason::RewrittenWhileStopped);
            }
        }
        // An entry left here has a fingerprint too short to tell its file
        // from one that got the inode since (a file found empty, rotated
        // and deleted, say): read as a new file, from its beginning. At
        // worst lines twice, never lines skipped.
        self.checkpoints.remove(id);
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        if !gzip
            && self.see_to_truncated_originals(fingerprint, &dir)
            && self.by_id.contains_key(&id)
        {
            // The copy of an original truncated since the look at tracked
            // files: adopted, from where the original stopped.
            return None;
        }
        if !gzip
            && let Some(i) = self.truncations.iter().position(|t| {
                t.dir == dir
                    && size >= t.offset
                    && t.fingerprint
                        .identifies(t.offset, self.config.fingerprint_bytes)
                    && t.fingerprint.matches(file).unwrap_or(false)
            })
        {
            // The copy of a file truncated in place: go on from where the
            // original stopped.
            return Some(self.truncations.swap_remove(i).offset);
        }
        if !gzip
            && fingerprint.len as usize >= self.config.fingerprint_bytes
            && let Some(entry) =
                self.checkpoint_of_a_rewritten_original(id, fingerprint, size, &dir)
        {
            // The copy of a file truncated or rewritten while no engine
            // read it (the agent stopped, or a reload was rebuilding the
            // source), found before its original: go on from the
            // original's checkpoint, which is the copy's now. The original
            // is read from its new beginning.
            self.checkpoints.remove(entry.id);
            return Some(entry.offset);
        }
        if !gzip
            && (fingerprint.len as usize) < self.config.fingerprint_bytes
            && self.may_be_a_copy_being_written(file, size, &dir)
        {
            // Empty, or so far only the beginning of a file read at its
            // path: a copy still being written looks like this. Looked at
            // again at the next scan, once it has more to tell.
            return None;
        }
        if !gzip
            && fingerprint.len as usize >= self.config.fingerprint_bytes
            && self.is_copy_of_known(id, fingerprint, file, size, &dir)
        {
            // Its content is read through the original, and the copy
            // adopted from where the original stopped if the original is
            // truncated (`truncated`). Looked at again at every scan.
            return None;
        }
        if !gzip
            && self.see_to_truncated_originals(fingerprint, &dir)
            && self.by_id.contains_key(&id)
        {
            // `copytruncate` truncated the original while this file was
            // looked at, after the look for a truncated original above and
            // before its tail was compared with the original's: it is the
            // copy, adopted from where the original stopped.
            return None;
        }
        if gzip {
            if let Some(done) = self.checkpoints.find_done(fingerprint) {
                return Some(done.offset);
            }
            if self.files.values().any(|f| f.fingerprint == fingerprint) {
                // The uncompressed original is still being read: look again
                // once it is finished.
                return None;
            }
            return Some(self.start_of_compressed(fingerprint, &dir));
        }
        Some(self.start_of_new_file(initial, size))
    }

    /// Where reading a compressed file, fingerprinted `fingerprint` (its
    /// content's) in `dir`, that no finished file matches starts: where its
    /// uncompressed original stopped, when the original was compressed and
    /// deleted while no engine read it (the agent stopped before the
    /// original was finished, a rotated file still held, say); else at 0.
    /// The original's checkpoint is the compressed file's now: its
    /// content is the same, so nothing read is read again, and the start
    /// of a line split at its end is not sent a second time alone.
    fn start_of_compressed(&mut self, fingerprint: Fingerprint, dir: &Path) -> u64 {
        let original = self
            .checkpoints
            .entries()
            .find(|e| {
                !e.done
                    && e.fingerprint == fingerprint
                    && !self.by_id.contains_key(&e.id)
                    && e.path.parent() == Some(dir)
            })
            .map(|e| (e.id, e.offset));
        let Some((id, offset)) = original else {
            return 0;
        };
        let still_there = find_by_inode(dir, id)
            .and_then(|path| File::open(path).ok())
            .is_some_and(|file| {
                Fingerprint::read(&file, fingerprint.len as usize).ok() == Some(fingerprint)
            });
        if still_there {
            // Both are read (the original from its checkpoint, if the
            // patterns take it in): what the original had is sent twice
            // rather than skipped.
            return 0;
        }
        self.checkpoints.remove(id);
        offset
    }

    /// Where reading a file no checkpoint knows starts: at its end on the
    /// first scan of a first start with `read_from: end`, else at 0.
    pub(super) fn start_of_new_file(&self, initial: bool, size: u64) -> u64 {
        if initial && self.fresh_start && self.config.read_from == ReadFrom::End {
            size
        } else {
            0
        }
    }

    /// A new file in `dir` begins like a file this source reads at its
    /// path: if that one was truncated since it was last looked at
    /// (`copytruncate` finished between the look at tracked files and this
    /// file's discovery), see to the truncation now, so that the copy is
    /// read on from where the original stopped rather than from its start.
    /// Whether one was.
    fn see_to_truncated_originals(&mut self, fingerprint: Fingerprint, dir: &Path) -> bool {
        let originals: Vec<(FileKey, u64)> = self
            .files
            .iter()
            .filter(|(_, f)| {
                f.held.is_none()
                    && !f.reader.is_gzip()
                    && f.fingerprint == fingerprint
                    && f.path.parent() == Some(dir)
            })
            .filter_map(|(key, f)| {
                let reached = f.size.max(f.reader.position());
                let size = f.reader.size().ok()?;
                let rewritten = !f.fingerprint.matches(f.reader.file()).unwrap_or(true);
                (size < reached || rewritten).then_some((*key, reached))
            })
            .collect();
        let found = !originals.is_empty();
        for (key, reached) in originals {
            self.truncated(key, reached);
        }
        if found {
            self.save_checkpoints();
        }
        found
    }

    /// The checkpoint of a file in `dir` no engine reads now, whose content
    /// no longer begins as it did while a new file `id` of `size` bytes
    /// begins that way: `id` is its `copytruncate` copy.
    fn checkpoint_of_a_rewritten_original(
        &self,
        id: FileId,
        fingerprint: Fingerprint,
        size: u64,
        dir: &Path,
    ) -> Option<Entry> {
        self.checkpoints
            .entries()
            .find(|e| {
                !e.done
                    && e.id != id
                    && e.fingerprint == fingerprint
                    && e.offset <= size
                    && e.path.parent() == Some(dir)
                    && !self.by_id.contains_key(&e.id)
                    && File::open(&e.path).is_ok_and(|original| {
                        FileId::of(&original).is_ok_and(|(oid, _)| oid == e.id)
                            && !e.fingerprint.matches(&original).unwrap_or(false)
                    })
            })
            .cloned()
    }

    /// Whether a new file is a copy of one this source reads at its path
    /// (`copytruncate` with a pattern that matches the copy too,
    /// `app.log*`), read now or checkpointed before a restart: the same
    /// first bytes (a full fingerprint), in the same directory, and the
    /// same bytes where the copy ends. Two files that only share a header
    /// differ there. (A copy of an original truncated while no engine read
    /// it is recognised by `checkpoint_of_a_rewritten_original`.)
    fn is_copy_of_known(
        &self,
        id: FileId,
        fingerprint: Fingerprint,
        file: &File,
        size: u64,
        dir: &Path,
    ) -> bool {
        let live = self.files.values().any(|f| {
            f.held.is_none()
                && !f.reader.is_gzip()
                && f.fingerprint == fingerprint
                && f.path.parent() == Some(dir)
                && same_tail(file, f.reader.file(), size)
        });
        live || self.checkpoints.entries().any(|e| {
            !e.done
                && e.id != id
                && e.fingerprint == fingerprint
                && e.path.parent() == Some(dir)
                && !self.by_id.contains_key(&e.id)
                && File::open(&e.path).is_ok_and(|original| {
                    FileId::of(&original).is_ok_and(|(oid, _)| oid == e.id)
                        && same_tail(file, &original, size)
                })
        })
    }

    /// Whether a new file shorter than a fingerprint holds only the
    /// beginning of a file this source reads at its path in `dir` (an
    /// empty file does).
    fn may_be_a_copy_being_written(&self, file: &File, size: u64, dir: &Path) -> bool {
        let len = size as usize;
        let mut head = vec![0u8; len];
        if file.read_exact_at(&mut head, 0).is_err() {
            return false;
        }
        self.files.values().any(|f| {
            let mut other = vec![0u8; len];
            f.held.is_none()
                && !f.reader.is_gzip()
                && f.path.parent() == Some(dir)
                && f.fingerprint.len as usize >= len
                && f.reader.file().read_exact_at(&mut other, 0).is_ok()
                && other == head
        })
    }

    /// Start tracking an opened file.
    #[allow(clippy::too_many_arguments, reason = "the facts about a file found")]
    pub(super) fn track(
        &mut self,
        path: &Path,
        reader: Reader,
        id: FileId,
        fingerprint: Fingerprint,
        spec: StreamSpec,
        offset: u64,
        held: Option<(Instant, RotationKind)>,
        seq: Option<u64>,
    ) -> FileKey {
        let key = self.next_key;
        self.next_key += 1;
        let seq = seq.unwrap_or_else(|| {
            self.next_seq += 1;
            self.next_seq
        });
        self.streams
            .entry(spec.key.clone())
            .or_insert_with(|| self.factory.handler(&spec, path))
            .reading_from(key, offset);
        let size = reader.size().unwrap_or(0);
        let tracked = Tracked {
            path: path.to_owned(),
            id,
            fingerprint,
            stream: spec.key,
            seq,
            reader,
            committed: offset,
            pending: VecDeque::new(),
            held,
            size,
            eof: false,
            retry_at: None,
            rewinds: 0,
            last_read: Instant::now(),
            line_bytes: 16,
        };
        self.checkpoints.set(entry_of(&tracked));
        FileOpened {
            metrics: &self.metrics,
            path,
            offset,
        }
        .emit();
        self.by_id.insert(id, key);
        self.files.insert(key, tracked);
        key
    }

    /// A tracked file got shorter or was rewritten in place. Its old
    /// content may survive in a copy (`copytruncate`): if one is found in
    /// the same directory, it is read from where the original stopped,
    /// before what is now written to the original.
    ///
    /// `reached` is the size the file had reached: without a copy, what
    /// was not read of it (or read again after a rewind) is lost.
    pub(super) fn truncated(&mut self, key: FileKey, reached: u64) {
        let Some(old) = self.files.remove(&key) else {
            return;
        };
        self.by_id.remove(&old.id);
        if let Some(handler) = self.streams.get_mut(&old.stream) {
            handler.file_closed(key, &mut self.emitter);
        }
        let resume_at = old.reader.line_start();
        let dir = old.path.parent().map(Path::to_owned).unwrap_or_default();
        let copy = find_copy(
            &dir,
            &old.fingerprint,
            resume_at,
            self.config.fingerprint_bytes,
            &self.by_id,
        );
        let spec = match self.factory.stream_for(&old.path) {
            Some(spec) => StreamSpec {
                key: old.stream.clone(),
                ..spec
            },
            None => StreamSpec {
                key: old.stream.clone(),
                resource: Default::default(),
            },
        };
        match copy {
            Some((copy_path, copy_file, copy_id)) => {
                FileRotated {
                    metrics: &self.metrics,
                    path: &old.path,
                    kind: RotationKind::CopyTruncate,
                }
                .emit();
                let reader = Reader::new(copy_file, self.next_key, resume_at);
                let copy_key = self.track(
                    &copy_path,
                    reader,
                    copy_id,
                    old.fingerprint,
                    spec.clone(),
                    old.committed,
                    Some((Instant::now(), RotationKind::CopyTruncate)),
                    Some(old.seq),
                );
                // Batches in flight, and the records collected for the
                // next one, now settle the copy's checkpoint: the bytes
                // they cover are there.
                if let Some(copy) = self.files.get_mut(&copy_key) {
                    copy.pending = old.pending;
                }
                self.rekey_in_flight(key, copy_key);
                self.emitter.rekey(key, copy_key);
            }
            None => {
                FileRotated {
                    metrics: &self.metrics,
                    path: &old.path,
                    kind: RotationKind::Truncate,
                }
                .emit();
                // Batches in flight cover bytes that are gone from the
                // file: if one is not delivered, its bytes are lost.
                let mut from = old.committed;
                for pending in &old.pending {
                    let bytes = pending.offset.saturating_sub(from);
                    from = from.max(pending.offset);
                    if !pending.done && bytes > 0 {
                        self.orphaned
                            .entry(pending.batch)
                            .or_default()
                            .push((old.path.clone(), bytes));
                    }
                }
                // So do the records collected for the next batch.
                if let Some(end) = self.emitter.take_end(key)
                    && end > from
                {
                    self.unsent_orphans.push((old.path.clone(), end - from));
                }
                FileBytesLost {
                    metrics: &self.metrics,
                    path: &old.path,
                    bytes: reached.saturating_sub(resume_at),
                    reason: LossReason::Truncated,
                }
                .emit();
                self.truncations.push(Truncation {
                    dir,
                    fingerprint: old.fingerprint,
                    offset: resume_at,
                    at: Instant::now(),
                });
            }
        }
        // The same descriptor, from its new beginning, as a new file.
        let file = old.reader.into_file();
        let fingerprint =
            Fingerprint::read(&file, self.config.fingerprint_bytes).unwrap_or_default();
        self.checkpoints.remove(old.id);
        let reader = Reader::new(file, self.next_key, 0);
        self.track(
            &old.path,
            reader,
            old.id,
            fingerprint,
            spec,
            0,
            old.held,
            None,
        );
    }

    /// On the first scan: files the checkpoints know but the patterns did
    /// not find were probably rotated while the agent was stopped. A file
    /// with the same device and inode in the same directory is read on from
    /// its checkpoint; one that is gone is forgotten.
    fn recover_missing(&mut self) {
        let missing: Vec<Entry> = self
            .checkpoints
            .entries()
            .filter(|e| !e.done && !self.by_id.contains_key(&e.id) && !self.budget.knows(e.id))
            .cloned()
            .collect();
        for entry in missing {
            let dir = entry.path.parent().map(Path::to_owned).unwrap_or_default();
            let opened = find_by_inode(&dir, entry.id)
                .and_then(|path| File::open(&path).ok().map(|f| (path, f)));
            match opened {
                Some((path, file))
                    if entry.fingerprint.matches(&file).unwrap_or(false) && !is_gzip(&file) =>
                {
                    let Some(spec) = self.factory.stream_for(&entry.path) else {
                        continue;
                    };
                    let offset = entry.resume_offset(self.config.fingerprint_bytes);
                    let reader = Reader::new(file, self.next_key, offset);
                    FileRotated {
                        metrics: &self.metrics,
                        path: &entry.path,
                        kind: RotationKind::Rename,
                    }
                    .emit();
                    self.track(
                        &path,
                        reader,
                        entry.id,
                        entry.fingerprint,
                        spec,
                        offset,
                        Some((Instant::now(), RotationKind::Rename)),
                        Some(0),
                    );
                }
                _ => {
                    // Truncated (its copy made) and then deleted or rewritten
                    // before the last look: what was not delivered of it is
                    // in the copy, if there is one.
                    tracing::info!(path = %entry.path.display(), offset = entry.offset, "A checkpointed file is gone; forgetting it.");
                    self.checkpoints.remove(entry.id);
                    if !self.adopt_copy(&entry.path, &entry) {
                        self.count_lost_while_stopped(&entry, LossReason::GoneWhileStopped);
                    }
                }
            }
        }
    }

    /// What was not delivered of `entry`'s file when the agent stopped is
    /// gone with it (as far as the saved size tells: what was written after
    /// the last save is not known).
    fn count_lost_while_stopped(&self, entry: &Entry, reason: LossReason) {
        let bytes = entry.size.saturating_sub(entry.offset);
        if bytes > 0 {
            FileBytesLost {
                metrics: &self.metrics,
                path: &entry.path,
                bytes,
                reason,
            }
            .emit();
        }
    }

    /// `entry`'s file was truncated or rewritten while the agent was
    /// stopped: read its old content on from a `copytruncate` copy in the
    /// same directory, if there is one, before the file's new content.
    /// Whether a copy was found.
    fn adopt_copy(&mut self, path: &Path, entry: &Entry) -> bool {
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        match find_copy(
            &dir,
            &entry.fingerprint,
            entry.offset,
            self.config.fingerprint_bytes,
            &self.by_id,
        ) {
            Some((copy_path, copy_file, copy_id)) => {
                let Some(spec) = self.factory.stream_for(path) else {
                    return true;
                };
                FileRotated {
                    metrics: &self.metrics,
                    path,
                    kind: RotationKind::CopyTruncate,
                }
                .emit();
                let reader = Reader::new(copy_file, self.next_key, entry.offset);
                self.track(
                    &copy_path,
                    reader,
                    copy_id,
                    entry.fingerprint,
                    spec,
                    entry.offset,
                    Some((Instant::now(), RotationKind::CopyTruncate)),
                    None,
                );
                true
            }
            None => {
                self.truncations.push(Truncation {
                    dir,
                    fingerprint: entry.fingerprint,
                    offset: entry.offset,
                    at: Instant::now(),
                });
                false
            }
        }
    }

    /// Give up held files past `max_hold_secs`, then the oldest held files
    /// while they hold more than `max_held_bytes` unread.
    pub(super) fn enforce_hold_budget(&mut self) {
        let max_hold = Duration::from_secs(self.config.max_hold_secs);
        let expired: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(_, f)| f.held.is_some_and(|(since, _)| since.elapsed() > max_hold))
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            self.close(key, Some(LossReason::MaxHoldSecs));
        }
        loop {
            let mut held: Vec<(Instant, FileKey, u64)> = self
                .files
                .iter()
                .filter_map(|(k, f)| {
                    f.held
                        .map(|(since, _)| (since, *k, f.size.saturating_sub(f.reader.position())))
                })
                .collect();
            let total: u64 = held.iter().map(|h| h.2).sum();
            if total <= self.config.max_held_bytes || held.is_empty() {
                break;
            }
            held.sort_unstable();
            self.close(held[0].1, Some(LossReason::MaxHeldBytes));
        }
    }

    /// The source stops: what deleted files still held was not
    /// acknowledged of them is lost with their descriptors.
    pub(super) fn count_deleted_at_stop(&mut self) {
        for file in self.files.values_mut() {
            if !matches!(file.held, Some((_, RotationKind::Delete))) {
                continue;
            }
            file.size = file.reader.size().unwrap_or(file.size);
            let bytes = file.size.saturating_sub(file.committed);
            if bytes > 0 {
                FileBytesLost {
                    metrics: &self.metrics,
                    path: &file.path,
                    bytes,
                    reason: LossReason::DeletedAtStop,
                }
                .emit();
            }
        }
    }

    /// Close held and compressed files that are read to their end with
    /// every batch acknowledged. A compressed file is not written to: it
    /// is finished, and skipped by scans until it changes.
    pub(super) fn close_drained(&mut self) {
        let ready: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(key, f)| {
                f.eof
                    && !f.reader.has_partial()
                    // Records read from it and not yet in a batch: closed
                    // now, its checkpoint would say done before they are
                    // delivered.
                    && !self.emitter.holds(**key)
                    && (f.reader.is_gzip()
                        || f.held
                            .is_some_and(|(since, _)| since.elapsed() >= ROTATION_GRACE)
                            // The end-of-file flag is from the last read: a
                            // writer that still had the rotated file open
                            // may have appended since. Those lines are read
                            // in the next round instead of closed away.
                            && f.reader.size().is_ok_and(|size| size <= f.reader.position()))
            })
            .map(|(k, _)| *k)
            .collect();
        for key in ready {
            let Some(file) = self.files.get(&key) else {
                continue;
            };
            let stream = file.stream.clone();
            if let Some(handler) = self.streams.get_mut(&stream)
                && handler.held_from(key).is_some()
            {
                // Records held from this file will not be completed by it:
                // send them; the file closes once they are acknowledged.
                handler.file_closed(key, &mut self.emitter);
                continue;
            }
            let Some(file) = self.files.get(&key).filter(|f| f.pending.is_empty()) else {
                continue;
            };
            let finished = (file.reader.is_gzip() && file.held.is_none())
                .then(|| {
                    file.reader
                        .file()
                        .metadata()
                        .ok()
                        .map(|m| (file.id, Stamp::of(&m)))
                })
                .flatten();
            self.close(key, None);
            if let Some((id, stamp)) = finished {
                self.ignored.insert(id, stamp);
            }
        }
    }

    /// Stop tracking `key`. With a `reason`, its unread bytes are counted
    /// as lost.
    /// Drop the handlers of streams whose files are all closed and that
    /// hold nothing now. A stream's last file closed for good while a
    /// record from it was held (a CRI partial whose end never came) keeps
    /// its handler until the record is sent, by its timeout: then it goes.
    fn forget_finished_streams(&mut self) {
        let open: HashSet<&str> = self.files.values().map(|f| f.stream.as_str()).collect();
        self.streams
            .retain(|stream, handler| open.contains(stream.as_str()) || !handler.holds_nothing());
    }

    pub(super) fn close(&mut self, key: FileKey, reason: Option<LossReason>) {
        let Some(file) = self.files.remove(&key) else {
            return;
        };
        self.by_id.remove(&file.id);
        if let Some(handler) = self.streams.get_mut(&file.stream) {
            handler.file_closed(key, &mut self.emitter);
        }
        match reason {
            // Everything not acknowledged is given up, read or not.
            Some(reason) => FileBytesLost {
                metrics: &self.metrics,
                path: &file.path,
                bytes: file.size.saturating_sub(file.committed),
                reason,
            }
            .emit(),
            None => FileClosed {
                metrics: &self.metrics,
                path: &file.path,
            }
            .emit(),
        }
        self.checkpoints.advance(file.id, file.committed);
        self.checkpoints.finish(file.id);
        if !self.files.values().any(|f| f.stream == file.stream)
            && self
                .streams
                .get(&file.stream)
                .is_some_and(|h| h.held_from(key).is_none())
        {
            self.streams.remove(&file.stream);
        }
    }
}

fn entry_of(file: &Tracked) -> Entry {
    Entry {
        id: file.id,
        fingerprint: file.fingerprint,
        offset: file.committed,
        path: file.path.clone(),
        done: false,
        updated_unix_secs: 0,
        size: file.size,
    }
}

/// Whether a file starts with the gzip magic bytes.
fn is_gzip(file: &File) -> bool {
    let mut magic = [0u8; 2];
    matches!(file.read_at(&mut magic, 0), Ok(2)) && magic == [0x1f, 0x8b]
}

/// The fingerprint of a compressed file's decoded content.
fn gzip_fingerprint(file: &File, len: usize) -> Option<Fingerprint> {
    use std::io::Read as _;
    // A duplicated descriptor shares the file offset: start it at 0.
    let mut clone = file.try_clone().ok()?;
    std::io::Seek::seek(&mut clone, std::io::SeekFrom::Start(0)).ok()?;
    let mut decoder =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::new(clone)).take(len as u64);
    let mut prefix = Vec::with_capacity(len);
    decoder.read_to_end(&mut prefix).ok()?;
    Some(Fingerprint::of(&prefix))
}

/// Whether `a` and `b` hold the same bytes just before `end` (up to
/// 1 KiB): a copy ends like its original at the same offset, while two
/// files that only share a header do not.
fn same_tail(a: &File, b: &File, end: u64) -> bool {
    let len = end.min(1024) as usize;
    let at = end - len as u64;
    let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
    a.read_exact_at(&mut x, at).is_ok() && b.read_exact_at(&mut y, at).is_ok() && x == y
}

/// A file in `dir`, not tracked, that begins like `fingerprint` and holds
/// at least `min_size` bytes: the copy `copytruncate` made. None when the
/// fingerprint is too short to tell (see [`Fingerprint::identifies`]).
fn find_copy(
    dir: &Path,
    fingerprint: &Fingerprint,
    min_size: u64,
    fingerprint_bytes: usize,
    tracked: &std::collections::HashMap<FileId, FileKey>,
) -> Option<(PathBuf, File, FileId)> {
    if !fingerprint.identifies(min_size, fingerprint_bytes) {
        return None;
    }
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let id = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        if !meta.is_file() || meta.len() < min_size || tracked.contains_key(&id) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if fingerprint.matches(&file).unwrap_or(false) {
            return Some((path, file, id));
        }
    }
    None
}
