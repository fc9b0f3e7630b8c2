//! The open-file budget (`max_open_files`): more files than descriptors.
//!
//! A file found while the budget is spent waits in line for a descriptor.
//! To make room, an idle file — live, read to its end, every batch of it
//! acknowledged, nothing of it held by its handler — is closed, least
//! recently read first. Its checkpoint entry stays (not finished), and the
//! file is remembered by identity: when a scan finds it at its path bigger
//! (or smaller) than it was left, it waits in line again and is opened
//! from its checkpoint. One that left its path while closed was rotated:
//! it is found by inode in its directory and drained if it grew, or
//! finished.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::fingerprint::{FileId, Fingerprint};
use super::handler::{FileKey, StreamSpec};
use super::reader::Reader;
use super::tailer::Tailer;
use crate::telemetry::events::{
    FileBytesLost, FileIdleClosed, FileRotated, LossReason, OpenFileBudgetReached, RotationKind,
};

/// Files waiting for a descriptor and files closed while idle.
#[derive(Debug, Default)]
pub struct OpenBudget {
    /// In order of waiting, oldest first.
    waiting: VecDeque<Waiting>,
    queued: HashSet<FileId>,
    idle: HashMap<FileId, Idle>,
    /// Scans so far, to tell which idle files the last scan saw.
    scan: u64,
    /// Whether the budget was ever reached (logged once).
    reached: bool,
}

/// A file found while the budget was spent.
#[derive(Debug)]
struct Waiting {
    path: PathBuf,
    id: FileId,
    /// Its size when found.
    size: u64,
    /// Found by the first scan (`read_from` applies).
    initial: bool,
}

/// A file closed while idle.
#[derive(Debug)]
struct Idle {
    path: PathBuf,
    /// Its size when closed: everything before was read and acknowledged.
    offset: u64,
    /// The last scan that found it at a path.
    seen: u64,
}

/// What to do with a file a scan found.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Open it now.
    Open,
    /// Nothing to do: it waits already, or it is idle and unchanged.
    Skip,
    /// It waits for a descriptor.
    Wait,
}

// === impl OpenBudget ===

impl OpenBudget {
    /// Decide about a file found at `path` with identity `id` and `size`,
    /// while `open` of `max` descriptors are in use.
    pub fn admit(
        &mut self,
        path: &Path,
        id: FileId,
        size: u64,
        initial: bool,
        open: usize,
        max: usize,
    ) -> Admission {
        if let Some(idle) = self.idle.get_mut(&id) {
            idle.seen = self.scan;
            if size == idle.offset {
                return Admission::Skip;
            }
            // It grew (or shrank: the checkpoint's fingerprint check
            // decides what that means): it wants a descriptor again.
            self.idle.remove(&id);
        }
        if self.queued.contains(&id) {
            return Admission::Skip;
        }
        if open < max && self.waiting.is_empty() {
            return Admission::Open;
        }
        self.queued.insert(id);
        self.waiting.push_back(Waiting {
            path: path.to_owned(),
            id,
            size,
            initial,
        });
        Admission::Wait
    }

    /// Whether files wait for a descriptor.
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// How many files wait for a descriptor.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// How many files are closed while idle.
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Whether `id` waits for a descriptor or is closed while idle (so it
    /// is not missing, though not open).
    pub fn knows(&self, id: FileId) -> bool {
        self.queued.contains(&id) || self.idle.contains_key(&id)
    }

    /// Note the start of a scan.
    pub fn start_scan(&mut self) {
        self.scan += 1;
    }

    /// The file that waited longest, out of line.
    fn next_waiting(&mut self) -> Option<Waiting> {
        let next = self.waiting.pop_front()?;
        self.queued.remove(&next.id);
        Some(next)
    }

    /// Remember a file closed while idle.
    fn closed_idle(&mut self, path: PathBuf, id: FileId, offset: u64) {
        let seen = self.scan;
        self.idle.insert(id, Idle { path, offset, seen });
    }

    /// Idle files the last scan did not find at a path: take them out, to
    /// be looked for as rotated.
    fn take_unseen(&mut self) -> Vec<(FileId, Idle)> {
        let scan = self.scan;
        let unseen: Vec<FileId> = self
            .idle
            .iter()
            .filter(|(_, idle)| idle.seen != scan)
            .map(|(id, _)| *id)
            .collect();
        unseen
            .into_iter()
            .filter_map(|id| self.idle.remove(&id).map(|idle| (id, idle)))
            .collect()
    }
}

/// Of `candidates` (when each was last read, and its key), the `need`
/// read least recently.
pub fn least_recently_read(mut candidates: Vec<(Instant, FileKey)>, need: usize) -> Vec<FileKey> {
    if need < candidates.len() {
        candidates.select_nth_unstable(need);
        candidates.truncate(need);
    }
    candidates.into_iter().map(|(_, key)| key).collect()
}

// === impl Tailer (open budget) ===

impl Tailer {
    /// Close idle files while files wait for their descriptors, then open
    /// waiting files, oldest first, into the free slots.
    pub(super) fn rotate_open_files(&mut self) {
        if !self.budget.has_waiting() {
            return;
        }
        if !self.budget.reached {
            self.budget.reached = true;
            OpenFileBudgetReached {
                metrics: &self.metrics,
                max_open_files: self.config.max_open_files,
            }
            .emit();
        }
        let max = self.config.max_open_files;
        let free = max.saturating_sub(self.live_files());
        let need = self.budget.waiting().saturating_sub(free);
        if need > 0 {
            let idle: Vec<(Instant, FileKey)> = self
                .files
                .iter()
                .filter(|(key, _)| self.is_idle(**key))
                .map(|(key, file)| (file.last_read, *key))
                .collect();
            for key in least_recently_read(idle, need) {
                self.close_idle(key);
            }
        }
        while self.live_files() < max {
            let Some(next) = self.budget.next_waiting() else {
                break;
            };
            self.open_waiting(next);
        }
    }

    /// Files open at a path (not rotated ones being drained): what
    /// `max_open_files` bounds. Rotated files hold their descriptors until
    /// drained (`max_hold_secs`, `max_held_bytes` bound them); counted
    /// here, a backlog of them would keep the next generation of every
    /// file waiting for a descriptor, and a generation rotated away and
    /// deleted meanwhile would never be read.
    pub(super) fn live_files(&self) -> usize {
        self.files.values().filter(|f| f.held.is_none()).count()
    }

    /// Files written to, as filesystem events tell: one closed while idle
    /// wants its descriptor back now, not at the next scan.
    pub(super) fn note_written(&mut self, paths: &mut Vec<PathBuf>) {
        if self.budget.idle() == 0 {
            return;
        }
        paths.sort_unstable();
        paths.dedup();
        for path in paths.iter() {
            if self.discovery.matches(path) {
                self.consider(path, false);
            }
        }
    }

    /// Whether `key` is live, read to its end, with every batch
    /// acknowledged and nothing held: closing it loses nothing. A file
    /// waiting to be read again after a rewind is not idle.
    fn is_idle(&self, key: FileKey) -> bool {
        let Some(file) = self.files.get(&key) else {
            return false;
        };
        file.held.is_none()
            && file.retry_at.is_none()
            && file.eof
            && !file.reader.is_gzip()
            && !file.reader.has_partial()
            && file.pending.is_empty()
            && file.committed == file.reader.position()
            && self
                .streams
                .get(&file.stream)
                .is_none_or(|h| h.held_from(key).is_none())
            && file
                .reader
                .size()
                .is_ok_and(|size| size == file.reader.position())
    }

    /// Close an idle file, keeping its checkpoint entry open (not
    /// finished) to read on from when it grows.
    fn close_idle(&mut self, key: FileKey) {
        let Some(file) = self.files.remove(&key) else {
            return;
        };
        self.by_id.remove(&file.id);
        if let Some(handler) = self.streams.get_mut(&file.stream) {
            handler.file_closed(key, &mut self.emitter);
        }
        if !self.files.values().any(|f| f.stream == file.stream) {
            self.streams.remove(&file.stream);
        }
        self.checkpoints.advance(file.id, file.committed);
        FileIdleClosed {
            metrics: &self.metrics,
            path: &file.path,
            offset: file.committed,
        }
        .emit();
        self.budget.closed_idle(file.path, file.id, file.committed);
    }

    /// Open a file that waited for a descriptor: at its path if it is
    /// still there, else where it was rotated to in its directory (drained
    /// from its checkpoint, or from where a new file starts); gone, what
    /// it held when found is counted lost.
    fn open_waiting(&mut self, waiting: Waiting) {
        let Waiting {
            path,
            id,
            size,
            initial,
        } = waiting;
        let same = std::fs::metadata(&path).is_ok_and(|m| m.dev() == id.dev && m.ino() == id.ino);
        if same {
            self.open_found(&path, id, initial);
            return;
        }
        // What is at the path now is another file, for the next scan.
        tracing::debug!(path = %path.display(), "A file waiting for a descriptor left its path.");
        if self.checkpoints.get(id).is_some() {
            self.drain_rotated_while_closed(id, &path);
            return;
        }
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let rotated = find_by_inode(&dir, id).and_then(|at| File::open(&at).ok().map(|f| (at, f)));
        let spec = self.factory.stream_for(&path);
        match (rotated, spec) {
            (Some((at, file)), Some(spec)) => {
                let start = self.start_of_new_file(initial, size);
                let fingerprint =
                    Fingerprint::read(&file, self.config.fingerprint_bytes).unwrap_or_default();
                self.track_rotated_away(&path, &at, file, id, fingerprint, spec, start);
            }
            (None, Some(_)) if size > 0 => FileBytesLost {
                metrics: &self.metrics,
                path: &path,
                bytes: size,
                reason: LossReason::GoneWhileWaiting,
            }
            .emit(),
            _ => {}
        }
    }

    /// A file without a descriptor (closed idle, or waiting for one) left
    /// its path: if it is still in its directory and has more than its
    /// checkpoint, read it on from there as a rotated file, before what
    /// is at its path now. Returns whether it did.
    fn drain_rotated_while_closed(&mut self, id: FileId, was_at: &Path) -> bool {
        let Some(entry) = self.checkpoints.get(id).cloned() else {
            return false;
        };
        let dir = was_at.parent().map(Path::to_owned).unwrap_or_default();
        let grown = find_by_inode(&dir, id).and_then(|path| {
            let file = File::open(&path).ok()?;
            let grew = file.metadata().is_ok_and(|m| m.len() > entry.offset);
            (grew && entry.fingerprint.matches(&file).unwrap_or(false)).then_some((path, file))
        });
        let Some((path, file)) = grown else {
            return false;
        };
        let Some(spec) = self.factory.stream_for(was_at) else {
            return false;
        };
        let offset = entry.resume_offset(self.config.fingerprint_bytes);
        self.track_rotated_away(was_at, &path, file, id, entry.fingerprint, spec, offset);
        true
    }

    /// Read `file`, found at `at` after it left `was_at` without a
    /// descriptor, from `offset` as a rotated file: before whatever is at
    /// `was_at` now (opened by this very scan, maybe), same stream, older
    /// lines.
    #[allow(clippy::too_many_arguments, reason = "the parts of one tracked file")]
    fn track_rotated_away(
        &mut self,
        was_at: &Path,
        at: &Path,
        file: File,
        id: FileId,
        fingerprint: Fingerprint,
        spec: StreamSpec,
        offset: u64,
    ) {
        FileRotated {
            metrics: &self.metrics,
            path: was_at,
            kind: RotationKind::Rename,
        }
        .emit();
        let reader = Reader::new(file, self.next_key, offset);
        self.track(
            at,
            reader,
            id,
            fingerprint,
            spec,
            offset,
            Some((Instant::now(), RotationKind::Rename)),
            Some(0),
        );
    }

    /// After a scan: idle files it did not find at a path left it while
    /// closed. One that grew before it was rotated is drained from its
    /// checkpoint; the others are finished (remembered to recognize a
    /// compressed copy).
    pub(super) fn check_idle_files(&mut self) {
        for (id, idle) in self.budget.take_unseen() {
            let at_path =
                std::fs::metadata(&idle.path).is_ok_and(|m| m.dev() == id.dev && m.ino() == id.ino);
            if at_path {
                // Still there, no longer matched (excluded): it stays as
                // it was left.
                self.budget.idle.insert(id, idle);
                continue;
            }
            if self.checkpoints.get(id).is_some()
                && !self.drain_rotated_while_closed(id, &idle.path)
            {
                self.checkpoints.finish(id);
            }
        }
    }
}

/// The path of the file in `dir` with identity `id`, if there is one.
pub fn find_by_inode(dir: &Path, id: FileId) -> Option<PathBuf> {
    use std::os::unix::fs::DirEntryExt as _;
    let entries = std::fs::read_dir(dir).ok()?;
    // The inode number comes with the directory entry: only a match is
    // looked at (`stat`), not every file of a busy directory.
    entries
        .filter_map(Result::ok)
        .filter(|e| e.ino() == id.ino)
        .map(|e| e.path())
        .find(|p| {
            std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.is_file() && m.dev() == id.dev && m.ino() == id.ino)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64) -> FileId {
        FileId { dev: 1, ino }
    }

    fn path(ino: u64) -> PathBuf {
        PathBuf::from(format!("/logs/{ino}.log"))
    }

    #[test]
    fn files_wait_once_the_budget_is_spent_and_leave_in_order() {
        let mut budget = OpenBudget::default();
        assert_eq!(
            budget.admit(&path(1), id(1), 10, true, 1, 2),
            Admission::Open
        );
        assert_eq!(
            budget.admit(&path(2), id(2), 10, true, 2, 2),
            Admission::Wait
        );
        assert_eq!(
            budget.admit(&path(3), id(3), 10, true, 2, 2),
            Admission::Wait
        );
        // Found again by the next scan: it keeps its place.
        assert_eq!(
            budget.admit(&path(2), id(2), 10, false, 2, 2),
            Admission::Skip
        );
        assert_eq!(budget.waiting(), 2);
        assert!(budget.knows(id(3)) && !budget.knows(id(1)));
        // A free slot goes to the oldest waiting file, not to a new one.
        assert_eq!(
            budget.admit(&path(4), id(4), 10, false, 1, 2),
            Admission::Wait
        );
        let order: Vec<u64> = std::iter::from_fn(|| budget.next_waiting())
            .map(|w| w.id.ino)
            .collect();
        assert_eq!(order, [2, 3, 4]);
        assert!(!budget.has_waiting() && !budget.knows(id(2)));
    }

    #[test]
    fn an_idle_file_waits_again_only_once_its_size_changed() {
        let mut budget = OpenBudget::default();
        budget.start_scan();
        budget.closed_idle(path(1), id(1), 100);
        assert!(budget.knows(id(1)));
        budget.start_scan();
        assert_eq!(
            budget.admit(&path(1), id(1), 100, false, 2, 2),
            Admission::Skip
        );
        assert_eq!(budget.idle(), 1);
        assert_eq!(
            budget.admit(&path(1), id(1), 150, false, 2, 2),
            Admission::Wait
        );
        assert_eq!(budget.idle(), 0);
        assert_eq!(budget.waiting(), 1);
        // With a slot free and nobody waiting, it opens at once.
        budget.next_waiting();
        budget.closed_idle(path(1), id(1), 150);
        assert_eq!(
            budget.admit(&path(1), id(1), 90, false, 1, 2),
            Admission::Open
        );
    }

    #[test]
    fn idle_files_a_scan_did_not_find_are_taken_out() {
        let mut budget = OpenBudget::default();
        budget.start_scan();
        budget.closed_idle(path(1), id(1), 100);
        budget.closed_idle(path(2), id(2), 100);
        budget.start_scan();
        budget.admit(&path(1), id(1), 100, false, 2, 2);
        let unseen: Vec<u64> = budget.take_unseen().iter().map(|(id, _)| id.ino).collect();
        assert_eq!(unseen, [2]);
        assert!(budget.knows(id(1)) && !budget.knows(id(2)));
    }

    #[test]
    fn the_least_recently_read_files_are_closed_first() {
        let now = Instant::now();
        let at = |ms| now + std::time::Duration::from_millis(ms);
        let candidates = vec![(at(30), 1), (at(10), 2), (at(40), 3), (at(20), 4)];
        let mut chosen = least_recently_read(candidates.clone(), 2);
        chosen.sort_unstable();
        assert_eq!(chosen, [2, 4]);
        assert_eq!(least_recently_read(candidates, 9).len(), 4);
    }
}
