//! Record framing inside a segment: `[len: u32 LE][crc32: u32 LE][payload]`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Bytes of a frame header.
pub(super) const HEADER_BYTES: u64 = 8;

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

/// Append the frame of `payload` to `out`.
pub(super) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + HEADER_BYTES as usize);
    // Callers keep payloads under MAX_RECORD_BYTES, well inside u32.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Read the frame at `offset` of `file`, whose valid length is `len`.
pub(super) fn read_at(file: &mut File, offset: u64, len: u64) -> std::io::Result<Frame> {
    if offset >= len {
        return Ok(Frame::End);
    }
    if len - offset < HEADER_BYTES {
        return Ok(Frame::Torn);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut header = [0u8; HEADER_BYTES as usize];
    file.read_exact(&mut header)?;
    let size = u64::from(u32::from_le_bytes([
        header[0], header[1], header[2], header[3],
    ]));
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let end = offset + HEADER_BYTES + size;
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
pub(super) fn scan(file: &mut File, mut offset: u64, len: u64) -> std::io::Result<(u64, u64)> {
    let (mut good, mut bad) = (0, 0);
    loop {
        match read_at(file, offset, len)? {
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
