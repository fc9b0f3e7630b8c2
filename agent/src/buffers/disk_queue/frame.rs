//! Record framing inside a segment.
//!
//! Segments written by this version (`<id>.seg2`) hold frames
//! `[len: u32 LE][crc32(payload): u32 LE][crc32(len): u32 LE][payload]`:
//! the length has its own check, so a frame whose payload is damaged is
//! skipped by a length known to be right, and a frame whose length is
//! damaged ends the segment. Without that check (the frames of earlier
//! versions, `<id>.seg`: `[len][crc32(payload)][payload]`, still read), a
//! damaged length sends reading into the middle of a payload, where bytes
//! that happen to form a frame would be returned as a record that was
//! never written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// How a segment's frames are laid out, told by its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// `[len][crc32(payload)][payload]`, in `<id>.seg` (read only).
    V1,
    /// `[len][crc32(payload)][crc32(len)][payload]`, in `<id>.seg2`.
    V2,
}

/// The largest payload a frame may carry. A length above it can only be
/// corruption, so reading gives up on the rest of that segment.
pub(super) const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// What reading one frame found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    /// A good record, ending at `end`.
    Record {
        /// The payload.
        data: Vec<u8>,
        /// Offset just past the frame.
        end: u64,
    },
    /// A frame whose CRC does not match, ending at `end`; skip it.
    Corrupt {
        /// Offset just past the frame.
        end: u64,
    },
    /// A frame cut short or with an impossible length: nothing after
    /// `offset` in this segment can be trusted.
    Torn,
    /// No frame starts at `offset`: the end of what was written.
    End,
}

// === impl Format ===

impl Format {
    /// Bytes of a frame header.
    pub(super) fn header_bytes(self) -> u64 {
        match self {
            Format::V1 => 8,
            Format::V2 => 12,
        }
    }

    /// The segment file name extension.
    pub(super) fn extension(self) -> &'static str {
        match self {
            Format::V1 => "seg",
            Format::V2 => "seg2",
        }
    }
}

/// Append the frame of `payload` to `out`, in the current format ([`Format::V2`]).
pub(super) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + Format::V2.header_bytes() as usize);
    // Callers keep payloads under MAX_RECORD_BYTES, well inside u32.
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&len).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Read the frame at `offset` of `file`, whose valid length is `len`.
pub(super) fn read_at(
    file: &mut File,
    format: Format,
    offset: u64,
    len: u64,
) -> std::io::Result<Frame> {
    if offset >= len {
        return Ok(Frame::End);
    }
    let header_bytes = format.header_bytes();
    if len - offset < header_bytes {
        return Ok(Frame::Torn);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut header = [0u8; 12];
    let header = &mut header[..header_bytes as usize];
    file.read_exact(header)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let size = u64::from(word(0));
    let crc = word(4);
    if format == Format::V2 && crc32fast::hash(&header[..4]) != word(8) {
        // The length itself is damaged: nothing after it can be found.
        return Ok(Frame::Torn);
    }
    let end = offset + header_bytes + size;
    if size == 0 || size > MAX_RECORD_BYTES || end > len {
        return Ok(Frame::Torn);
    }
    let mut data = vec![0u8; size as usize];
    file.read_exact(&mut data)?;
    if crc32fast::hash(&data) != crc {
        return Ok(Frame::Corrupt { end });
    }
    Ok(Frame::Record { data, end })
}

/// Count the good records of `file` from `offset` to `len`, and the bad
/// frames met on the way.
pub(super) fn scan(
    file: &mut File,
    format: Format,
    mut offset: u64,
    len: u64,
) -> std::io::Result<(u64, u64)> {
    let (mut good, mut bad) = (0, 0);
    loop {
        match read_at(file, format, offset, len)? {
            Frame::Record { end, .. } => {
                good += 1;
                offset = end;
            }
            Frame::Corrupt { end } => {
                bad += 1;
                offset = end;
            }
            Frame::Torn => return Ok((good, bad + 1)),
            Frame::End => return Ok((good, bad)),
        }
    }
}
