//! A bounded, crash-safe, append-only queue of records on disk.
//!
//! ```text
//! <dir>/00000000000000000007.seg2  oldest segment still needed
//! <dir>/00000000000000000008.seg2  ...
//! <dir>/00000000000000000009.seg2  the segment being written
//! <dir>/cursor                      where reading resumes after a restart
//! ```
//!
//! Each segment is a sequence of frames `[len: u32 LE][crc32: u32 LE]
//! [crc32 of len: u32 LE][len bytes]`, the CRCs (IEEE, `crc32fast`) taken
//! over the payload and over the length's four bytes (see `frame` for why
//! the length has its own; segments of earlier versions, `<id>.seg`, whose
//! frames have no length check, are still read). Segments are only ever
//! appended to; a process never appends to a segment an earlier process
//! wrote, so a torn tail stays at the end of an old segment, where reading
//! detects and skips it.
//!
//! Records are read in order and *committed* once delivered; the cursor
//! file records the committed position and segments wholly before it are
//! deleted. Records read but not committed when the agent stops are read
//! again after a restart (at-least-once).
//!
//! When the queue would grow past its size cap, the oldest segment is
//! deleted, delivered or not, and its records are counted as dropped. A
//! record whose CRC does not match, or a frame that is cut short, is
//! skipped and counted; the queue never fails to open because of its
//! content.
//!
//! A full filesystem refuses a record whole ([`QueueError::NoSpace`]): the
//! part of its frame that was written is cut off again, so the records
//! appended once there is room follow the last whole frame, and none is
//! ever read as torn or corrupt.

mod cursor;
mod frame;
mod queue;
#[cfg(test)]
mod tests;

pub use cursor::Position;
pub use queue::{DiskQueue, FsyncPolicy, QueueError, QueueOptions, QueueStats, Record};
