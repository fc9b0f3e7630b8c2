//! Request body compression: gzip (RFC 1952) and zstd (RFC 8878) for OTLP,
//! Snappy's block format for Prometheus remote write.

use std::cell::RefCell;
use std::io::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// gzip level 1, chosen for CPU: gzip is the costliest part of shipping
/// (the benchmark's lines per CPU-second drop from ~2.3M uncompressed to
/// ~0.67M at level 1); higher levels buy a few percent of size on log
/// lines. zstd at level 1 is both smaller and cheaper.
const GZIP_LEVEL: u32 = 1;
/// zstd level: 1 is zstd's fast default and already beats gzip's ratio.
const ZSTD_LEVEL: i32 = 1;

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

    /// Compress `raw`; `Identity` hands it back unchanged.
    pub fn compress(self, raw: Vec<u8>) -> std::io::Result<Vec<u8>> {
        match self {
            Codec::Identity => Ok(raw),
            Codec::Gzip => {
                let out = Vec::with_capacity(raw.len() / 4 + 64);
                let mut encoder =
                    flate2::write::GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL));
                encoder.write_all(&raw)?;
                encoder.finish()
            }
            Codec::Zstd => ZSTD.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.is_none() {
                    *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
                }
                match slot.as_mut() {
                    Some(compressor) => compressor.compress(&raw),
                    None => zstd::bulk::compress(&raw, ZSTD_LEVEL),
                }
            }),
            Codec::Snappy => snap::raw::Encoder::new()
                .compress_vec(&raw)
                .map_err(std::io::Error::other),
        }
    }
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
        let gz = Codec::Gzip.compress(raw.clone()).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        let zs = Codec::Zstd.compress(raw.clone()).unwrap();
        assert_eq!(zstd::bulk::decompress(&zs, raw.len()).unwrap(), raw);
        let zs2 = Codec::Zstd.compress(raw.clone()).unwrap();
        assert_eq!(zs, zs2, "a reused context gives the same output");
        let sn = Codec::Snappy.compress(raw.clone()).unwrap();
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&sn).unwrap(), raw);
        assert_eq!(Codec::Identity.compress(raw.clone()).unwrap(), raw);
    }
}
