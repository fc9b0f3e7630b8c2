//! The queue itself: segments, the read and committed positions, the size
//! cap.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cursor::{self, Position};
use super::frame::{self, Format, Frame, MAX_RECORD_BYTES};

/// When appended records are forced to stable storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fsync every record before it is acknowledged: survives a machine
    /// crash or power loss, at the cost of one disk flush per batch.
    Always,
    /// Write every record before it is acknowledged (an agent crash or
    /// `kill -9` loses nothing) and fsync at most every 500 ms (a machine
    /// crash may lose the last half second).
    #[default]
    Batch,
    /// Write every record before it is acknowledged; leave flushing to the
    /// operating system.
    Never,
}

/// How a queue is sized and synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Size cap over all segments, in bytes.
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// When writes are synced.
    pub fsync: FsyncPolicy,
}

/// A record read from the queue.
#[derive(Debug)]
pub struct Record {
    /// Its payload.
    pub data: Vec<u8>,
    /// The position just past it: commit this once it is delivered.
    pub position: Position,
}

/// What the queue holds, not yet committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Records.
    pub records: u64,
    /// Bytes on disk, frames included.
    pub bytes: u64,
}

/// Queue failures. Bad content is never one: it is skipped and counted.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A file operation failed.
    #[error("disk queue {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The filesystem is full: the record was not written (nothing of it
    /// stays in the segment).
    #[error("disk queue {path}: no space left on the filesystem")]
    NoSpace {
        /// The segment being written.
        path: PathBuf,
    },
    /// A record larger than the queue (or the frame format) allows.
    #[error("a record of {bytes} bytes does not fit in a queue of {max} bytes")]
    TooLarge {
        /// The record's size.
        bytes: u64,
        /// The most a record may be.
        max: u64,
    },
}

/// A disk queue; see the [module docs](super).
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    options: QueueOptions,
    /// Oldest first; the last one is being written.
    segments: VecDeque<Segment>,
    writer: File,
    reader: Option<(u64, File)>,
    read: Position,
    committed: Position,
    dirty: bool,
    /// A failed append left bytes past the active segment's known length
    /// that could not be cut off: the next append starts a new segment, so
    /// no good frame is ever written after a torn one.
    torn_tail: bool,
    /// Bytes the filesystem has room for, in tests that fill it.
    #[cfg(test)]
    pub(super) space_left: Option<u64>,
    corrupt: u64,
    frame: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    len: u64,
    records: u64,
    format: Format,
}

// === impl QueueError ===

impl QueueError {
    /// Whether the filesystem was full: the record was refused whole.
    pub fn is_no_space(&self) -> bool {
        match self {
            QueueError::NoSpace { .. } => true,
            QueueError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            QueueError::TooLarge { .. } => false,
        }
    }
}

// === impl DiskQueue ===

impl DiskQueue {
    /// Open (or create) the queue in `dir`. An unusable cursor is counted
    /// in [`DiskQueue::take_corrupt`]; bad frames are counted as reading
    /// meets them.
    pub fn open(dir: &Path, options: QueueOptions) -> Result<Self, QueueError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| QueueError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut segments = VecDeque::new();
        let mut corrupt = 0;
        for (id, format) in segment_ids(dir).map_err(io(dir))? {
            let path = segment_path(dir, id, format);
            let mut file = File::open(&path).map_err(io(&path))?;
            let len = file.metadata().map_err(io(&path))?.len();
            // Bad frames are counted when reading meets them, not here.
            let (records, _bad) = frame::scan(&mut file, format, 0, len).map_err(io(&path))?;
            segments.push_back(Segment {
                id,
                len,
                records,
                format,
            });
        }
        let start = |segment| Position {
            segment,
            ..Position::default()
        };
        let committed = match (cursor::load(dir), segments.front().map(|s| s.id)) {
            (_, None) => start(1),
            (Ok(Some(pos)), Some(_))
                if segments.iter().any(|s| {
                    s.id == pos.segment && pos.offset <= s.len && pos.index <= s.records
                }) =>
            {
                pos
            }
            // Its segment was dropped under the size cap.
            (Ok(Some(pos)), Some(first)) if pos.segment < first => start(first),
            (Ok(None), Some(first)) => start(first),
            // Corrupt, or pointing past what exists: read everything again
            // (duplicates rather than losses).
            (_, Some(first)) => {
                corrupt += 1;
                start(first)
            }
        };
        while segments.front().is_some_and(|s| s.id < committed.segment) {
            if let Some(old) = segments.pop_front() {
                remove(dir, old.id)?;
            }
        }
        let next = segments.back().map_or(committed.segment, |s| s.id + 1);
        let writer = create_segment(dir, next)?;
        segments.push_back(Segment {
            id: next,
            len: 0,
            records: 0,
            format: Format::V2,
        });
        Ok(DiskQueue {
            dir: dir.to_owned(),
            options,
            segments,
            writer,
            reader: None,
            read: committed,
            committed,
            dirty: false,
            torn_tail: false,
            #[cfg(test)]
            space_left: None,
            corrupt,
            frame: Vec::new(),
        })
    }

    /// What the queue in `dir` holds past its cursor, read without opening
    /// it (nothing is created, locked or removed): for a queue no sink
    /// reads now. `None` when there is no queue there.
    pub fn undelivered(dir: &Path) -> std::io::Result<Option<QueueStats>> {
        let ids = match segment_ids(dir) {
            Ok(ids) => ids,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if ids.is_empty() {
            return Ok(None);
        }
        let cursor = cursor::load(dir).ok().flatten().unwrap_or_default();
        let mut stats = QueueStats {
            records: 0,
            bytes: 0,
        };
        for (id, format) in ids.into_iter().filter(|(id, _)| *id >= cursor.segment) {
            let mut file = File::open(segment_path(dir, id, format))?;
            let len = file.metadata()?.len();
            let from = if id == cursor.segment {
                cursor.offset.min(len)
            } else {
                0
            };
            let (records, _bad) = frame::scan(&mut file, format, from, len)?;
            stats.records += records;
            stats.bytes += len - from;
        }
        Ok(Some(stats))
    }

    /// The largest record [`append`](Self::append) takes, in bytes.
    pub fn max_record_bytes(&self) -> u64 {
        (self.options.max_bytes.min(MAX_RECORD_BYTES)).saturating_sub(Format::V2.header_bytes())
    }

    /// Append one record. Returns the number of records dropped from the
    /// front to stay under the size cap.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, QueueError> {
        let frame_len = payload.len() as u64 + Format::V2.header_bytes();
        let max = self.options.max_bytes.min(MAX_RECORD_BYTES);
        if payload.is_empty() || frame_len > max {
            return Err(QueueError::TooLarge {
                bytes: payload.len() as u64,
                max,
            });
        }
        if self.torn_tail
            || (self.active().len > 0 && self.active().len + frame_len > self.options.segment_bytes)
        {
            self.rotate()?;
        }
        let mut dropped = 0;
        while self.stats().bytes + self.committed.offset + frame_len > self.options.max_bytes {
            if self.segments.len() == 1 {
                self.rotate()?;
            }
            dropped += self.drop_oldest()?;
        }
        self.frame.clear();
        frame::encode(payload, &mut self.frame);
        let path = segment_path(&self.dir, self.active().id, Format::V2);
        if let Err(source) = self.write_frame() {
            // A write cut short (ENOSPC above all) leaves part of the frame
            // in the segment: cut it off, so the next record does not
            // follow a torn one and make reading skip both as corrupt.
            self.cut_torn_tail();
            return Err(if source.kind() == std::io::ErrorKind::StorageFull {
                QueueError::NoSpace { path }
            } else {
                QueueError::Io { path, source }
            });
        }
        if let Some(active) = self.segments.back_mut() {
            active.len += frame_len;
            active.records += 1;
        }
        if self.options.fsync == FsyncPolicy::Always {
            self.writer
                .sync_data()
                .map_err(|source| QueueError::Io { path, source })?;
        } else {
            self.dirty = true;
        }
        Ok(dropped)
    }

    /// The next record after the read position, if any. Bad frames on the
    /// way are skipped and counted.
    pub fn read(&mut self) -> Result<Option<Record>, QueueError> {
        loop {
            let Some(segment) = self.segment(self.read.segment) else {
                // Dropped under the reader: continue at the oldest left.
                let first = self.segments.front().map_or(self.read.segment, |s| s.id);
                self.read = Position {
                    segment: first,
                    ..Position::default()
                };
                continue;
            };
            let path = segment_path(&self.dir, segment.id, segment.format);
            let io = |source| QueueError::Io {
                path: path.clone(),
                source,
            };
            if self.reader.as_ref().is_none_or(|(id, _)| *id != segment.id) {
                self.reader = Some((segment.id, File::open(&path).map_err(io)?));
            }
            let Some((_, file)) = self.reader.as_mut() else {
                continue;
            };
            match frame::read_at(file, segment.format, self.read.offset, segment.len).map_err(io)? {
                Frame::Record { data, end } => {
                    self.read.offset = end;
                    self.read.index += 1;
                    return Ok(Some(Record {
                        data,
                        position: self.read,
                    }));
                }
                Frame::Corrupt { end } => {
                    self.corrupt += 1;
                    self.read.offset = end;
                }
                Frame::Torn => {
                    self.corrupt += 1;
                    self.read.offset = segment.len;
                }
                Frame::End => match self.segments.iter().find(|s| s.id > segment.id) {
                    Some(next) => {
                        self.read = Position {
                            segment: next.id,
                            ..Position::default()
                        }
                    }
                    None => return Ok(None),
                },
            }
        }
    }

    /// Whether a record may be waiting after the read position.
    pub fn has_unread(&self) -> bool {
        self.segments.iter().any(|s| {
            s.id > self.read.segment || (s.id == self.read.segment && s.len > self.read.offset)
        })
    }

    /// Everything up to `position` is delivered: persist it and delete the
    /// segments no longer needed. Positions at or before the committed one
    /// are ignored.
    pub fn commit(&mut self, position: Position) -> Result<(), QueueError> {
        if position <= self.committed || self.segment(position.segment).is_none() {
            return Ok(());
        }
        self.committed = position;
        if self.read < position {
            self.read = position;
        }
        while self
            .segments
            .front()
            .is_some_and(|s| s.id < position.segment)
        {
            if let Some(old) = self.segments.pop_front() {
                self.forget(old.id)?;
            }
        }
        self.store_cursor()
    }

    /// Read again from the committed position (after a delivery was given
    /// up).
    pub fn rewind(&mut self) {
        self.read = self.committed;
    }

    /// fsync what was written since the last sync.
    pub fn sync(&mut self) -> Result<(), QueueError> {
        if self.dirty {
            self.writer.sync_data().map_err(|source| QueueError::Io {
                path: segment_path(&self.dir, self.active().id, Format::V2),
                source,
            })?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Whether writes await an fsync.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// What is not committed yet.
    pub fn stats(&self) -> QueueStats {
        let records: u64 = self.segments.iter().map(|s| s.records).sum();
        let bytes: u64 = self.segments.iter().map(|s| s.len).sum();
        QueueStats {
            records: records.saturating_sub(self.committed.index),
            bytes: bytes.saturating_sub(self.committed.offset),
        }
    }

    /// Bad frames skipped since the last call.
    pub fn take_corrupt(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt)
    }

    /// The queue's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn active(&self) -> Segment {
        // `open` always pushes the segment being written; the deque is
        // never empty afterwards.
        self.segments.back().copied().unwrap_or(Segment {
            id: 0,
            len: 0,
            records: 0,
            format: Format::V2,
        })
    }

    fn segment(&self, id: u64) -> Option<Segment> {
        self.segments.iter().find(|s| s.id == id).copied()
    }

    /// Write the encoded frame at the end of the active segment.
    fn write_frame(&mut self) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(left) = self.space_left.as_mut() {
            // Emulate a filesystem that fills up: write what fits, then
            // fail the way write(2) does.
            let fits = self.frame.len().min(*left as usize);
            self.writer.write_all(&self.frame[..fits])?;
            *left -= fits as u64;
            if fits < self.frame.len() {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            return Ok(());
        }
        self.writer.write_all(&self.frame)
    }

    /// Truncate the active segment back to its last whole frame after a
    /// failed write. Shrinking a file frees space, so this works on a full
    /// filesystem; should it fail anyway, the segment is closed instead.
    fn cut_torn_tail(&mut self) {
        let len = self.active().len;
        let cut = self
            .writer
            .set_len(len)
            .and_then(|()| self.writer.seek(SeekFrom::Start(len)));
        self.torn_tail = cut.is_err();
    }

    fn rotate(&mut self) -> Result<(), QueueError> {
        if self.options.fsync != FsyncPolicy::Never {
            self.dirty = true;
            self.sync()?;
        }
        let id = self.active().id + 1;
        self.writer = create_segment(&self.dir, id)?;
        if self.options.fsync == FsyncPolicy::Always {
            // A record synced into the new segment survives a machine
            // crash only if the segment's name in the directory does.
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|source| QueueError::Io {
                    path: self.dir.clone(),
                    source,
                })?;
        }
        self.segments.push_back(Segment {
            id,
            len: 0,
            records: 0,
            format: Format::V2,
        });
        self.dirty = false;
        self.torn_tail = false;
        Ok(())
    }

    /// Delete the oldest segment; returns the uncommitted records it held.
    fn drop_oldest(&mut self) -> Result<u64, QueueError> {
        let Some(old) = self.segments.pop_front() else {
            return Ok(0);
        };
        let done = if self.committed.segment == old.id {
            self.committed.index
        } else {
            0
        };
        self.forget(old.id)?;
        let next = self.segments.front().map_or(old.id + 1, |s| s.id);
        let start = Position {
            segment: next,
            ..Position::default()
        };
        if self.committed.segment <= old.id {
            self.committed = start;
        }
        if self.read.segment <= old.id {
            self.read = start;
        }
        self.store_cursor()?;
        Ok(old.records.saturating_sub(done))
    }

    fn forget(&mut self, id: u64) -> Result<(), QueueError> {
        if self.reader.as_ref().is_some_and(|(r, _)| *r == id) {
            self.reader = None;
        }
        remove(&self.dir, id)
    }

    fn store_cursor(&self) -> Result<(), QueueError> {
        cursor::store(
            &self.dir,
            self.committed,
            self.options.fsync == FsyncPolicy::Always,
        )
        .map_err(|source| QueueError::Io {
            path: self.dir.join("cursor"),
            source,
        })
    }
}

fn segment_path(dir: &Path, id: u64, format: Format) -> PathBuf {
    dir.join(format!("{id:020}.{}", format.extension()))
}

/// The segments in `dir`, oldest first, with the format of each.
fn segment_ids(dir: &Path) -> std::io::Result<Vec<(u64, Format)>> {
    let mut ids: Vec<(u64, Format)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let (stem, extension) = name.to_str()?.rsplit_once('.')?;
            let format = [Format::V1, Format::V2]
                .into_iter()
                .find(|f| f.extension() == extension)?;
            Some((stem.parse().ok()?, format))
        })
        .collect();
    ids.sort_unstable_by_key(|(id, _)| *id);
    // One segment per id (both names can only come from tampering).
    ids.dedup_by_key(|(id, _)| *id);
    Ok(ids)
}

fn create_segment(dir: &Path, id: u64) -> Result<File, QueueError> {
    let path = segment_path(dir, id, Format::V2);
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|source| QueueError::Io { path, source })
}

fn remove(dir: &Path, id: u64) -> Result<(), QueueError> {
    for format in [Format::V1, Format::V2] {
        let path = segment_path(dir, id, format);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(QueueError::Io { path, source }),
        }
    }
    Ok(())
}
