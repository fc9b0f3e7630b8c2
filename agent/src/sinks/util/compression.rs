//! Request body compression: gzip (RFC 1952) and zstd (RFC 8878) for OTLP,
//! Snappy's block format for Prometheus remote write.
//!
//! The gzip and zstd contexts are kept per worker thread and reset for each
//! request: a fresh deflate state is a few hundred KiB allocated, faulted in
//! and freed per request, which showed as page faults and peak RSS.

use std::cell::RefCell;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// gzip level 1, chosen for CPU: gzip is the costliest part of shipping
/// (with zlib-rs, level 1 is its `deflate_quick`); higher levels buy some
/// size on log lines for several times the CPU. zstd at level 1 is both
/// smaller and cheaper.
const GZIP_LEVEL: u32 = 1;

/// The gzip member header: no name, no mtime, `XFL` 4 (fastest), OS
/// unknown (RFC 1952, 2.3).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
/// zstd level: 1 is zstd's fast default and already beats gzip's ratio.
const ZSTD_LEVEL: i32 = 1;
/// zstd window: 256 KiB rather than the 512 KiB level 1 picks for a body
/// over 256 KiB. A log line repeats what came shortly before it (a file's
/// attributes, its format), so the ratio of a request of 1,000 lines of
/// 200 bytes (295 KiB of protobuf) stayed the same, 4.78, and zstd
/// compressed it 14% faster (`docs/PERFORMANCE.md`).
const ZSTD_WINDOW_LOG: u32 = 18;

/// How request bodies are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (`Content-Encoding: gzip`).
    #[default]
    Gzip,
    /// zstd (`Content-Encoding: zstd`): smaller and cheaper than gzip;
    /// the receiver must support it.
    Zstd,
}

/// A codec as applied to a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Send as is.
    Identity,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// Snappy block format (remote write).
    Snappy,
}

thread_local! {
    /// One zstd context per worker thread, reused across requests.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    /// One raw deflate context per worker thread, reset for each request.
    static DEFLATE: RefCell<Option<flate2::Compress>> = const { RefCell::new(None) };
}

// === impl Compression ===

impl Compression {
    /// The codec.
    pub fn codec(self) -> Codec {
        match self {
            Compression::None => Codec::Identity,
            Compression::Gzip => Codec::Gzip,
            Compression::Zstd => Codec::Zstd,
        }
    }
}

// === impl Codec ===

impl Codec {
    /// The `Content-Encoding` value, if any.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Codec::Identity => None,
            Codec::Gzip => Some("gzip"),
            Codec::Zstd => Some("zstd"),
            Codec::Snappy => Some("snappy"),
        }
    }

    /// Compress `raw` into a new buffer (`Identity` copies it: a caller
    /// sending an uncompressed body sends its buffer as is instead).
    pub fn compress(self, raw: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Codec::Identity => Ok(raw.to_vec()),
            Codec::Gzip => gzip(raw),
            Codec::Zstd => ZSTD.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.is_none() {
                    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
                    compressor
                        .set_parameter(zstd::zstd_safe::CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
                    *slot = Some(compressor);
                }
                match slot.as_mut() {
                    Some(compressor) => compressor.compress(raw),
                    None => zstd::bulk::compress(raw, ZSTD_LEVEL),
                }
            }),
            Codec::Snappy => snap::raw::Encoder::new()
                .compress_vec(raw)
                .map_err(std::io::Error::other),
        }
    }
}

/// One gzip member: the header, `raw` deflated with this thread's reused
/// context, then the CRC-32 and the length modulo 2^32.
fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let deflate = match slot.as_mut() {
            Some(deflate) => {
                deflate.reset();
                deflate
            }
            None => slot.insert(flate2::Compress::new(
                flate2::Compression::new(GZIP_LEVEL),
                false,
            )),
        };
        let mut out = Vec::with_capacity(raw.len() / 3 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        let mut input = raw;
        loop {
            let before = deflate.total_in();
            let status = deflate
                .compress_vec(input, &mut out, flate2::FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            let consumed = usize::try_from(deflate.total_in() - before).unwrap_or(input.len());
            input = input.get(consumed..).unwrap_or_default();
            if status == flate2::Status::StreamEnd {
                break;
            }
            // Out of room: grow, and go on from where it stopped.
            out.reserve(out.capacity().max(4096));
        }
        out.extend_from_slice(&crc32fast::hash(raw).to_le_bytes());
        out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let raw: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gz = Codec::Gzip.compress(&raw).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        let gz2 = Codec::Gzip.compress(&raw).unwrap();
        assert_eq!(gz, gz2, "a reused deflate context gives the same output");
        let zs = Codec::Zstd.compress(&raw).unwrap();
        assert_eq!(zstd::bulk::decompress(&zs, raw.len()).unwrap(), raw);
        let zs2 = Codec::Zstd.compress(&raw).unwrap();
        assert_eq!(zs, zs2, "a reused context gives the same output");
        // The window, from the frame header (RFC 8878, 3.1.1.1): a body
        // larger than it says so, where level 1 alone would say 512 KiB.
        let big: Vec<u8> = (0..75_000u32)
            .flat_map(|i| (i % 7919).to_le_bytes())
            .collect();
        let zs = Codec::Zstd.compress(&big).unwrap();
        let descriptor = zs[4];
        assert_eq!(descriptor & 0x20, 0, "not a single segment");
        assert_eq!(10 + u32::from(zs[5] >> 3), ZSTD_WINDOW_LOG);
        assert_eq!(zstd::bulk::decompress(&zs, big.len()).unwrap(), big);
        let sn = Codec::Snappy.compress(&raw).unwrap();
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&sn).unwrap(), raw);
        assert_eq!(Codec::Identity.compress(&raw).unwrap(), raw);
    }
}
