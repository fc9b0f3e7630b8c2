//! Reading a backup once, end to end: its SHA-256, a full decode of its
//! gzip members when asked ([RFC 1952]; every member of a multi-member file,
//! so a truncated or corrupted stream fails on its CRC-32, length or deflate
//! data), and a sample of its first bytes for the encryption heuristic.
//!
//! [RFC 1952]: https://www.rfc-editor.org/rfc/rfc1952

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::config::GzipMode;
use crate::encryption::SAMPLE_BYTES;

/// Buffer size for reading backups.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// What reading a backup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Bytes read (the file's size when it did not change meanwhile).
    pub bytes_read: u64,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// The gzip decode: uncompressed bytes, or why the stream is bad.
    /// `None` when not decoded.
    pub gzip: Option<Result<u64, String>>,
    /// The first bytes (up to [`SAMPLE_BYTES`]).
    pub sample: Vec<u8>,
}

/// Reads the backup at `path` (whose file name is `name`), decoding it as
/// gzip according to `mode`.
///
/// # Errors
///
/// An I/O error reading the file (as opposed to a bad gzip stream, which is
/// reported in [`Contents::gzip`]).
pub fn read_backup(path: &Path, name: &str, mode: GzipMode) -> io::Result<Contents> {
    let mut reader = HashingReader::new(BufReader::with_capacity(
        READ_BUFFER_BYTES,
        File::open(path)?,
    ));
    let decode = match mode {
        GzipMode::Always => true,
        GzipMode::Never => false,
        GzipMode::Auto => {
            let gzip_name = [".gz", ".tgz", ".gzip"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            gzip_name || reader.inner.fill_buf()?.starts_with(&[0x1f, 0x8b])
        }
    };
    let gzip = if decode {
        let outcome = decode_gzip(&mut reader);
        if let Some(error) = reader.io_error.take() {
            return Err(error);
        }
        Some(outcome)
    } else {
        None
    };
    // Whatever the decoder left unread (all of it when not decoding, the
    // rest after a bad stream) still counts for the digest.
    io::copy(&mut reader, &mut io::sink())?;
    Ok(Contents {
        bytes_read: reader.bytes_read,
        sha256: reader
            .hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        gzip,
        sample: reader.sample,
    })
}

/// Decodes every gzip member to the end; the uncompressed size, or the
/// decoder's complaint.
fn decode_gzip(reader: &mut HashingReader<BufReader<File>>) -> Result<u64, String> {
    let mut decoder = MultiGzDecoder::new(&mut *reader);
    // Larger output chunks than `io::copy`'s 8 KiB: fewer trips through
    // the decoder's state machine per megabyte.
    let mut chunk = vec![0_u8; READ_BUFFER_BYTES];
    let mut uncompressed: u64 = 0;
    let outcome = loop {
        match decoder.read(&mut chunk) {
            Ok(0) => break Ok(uncompressed),
            Ok(read) => uncompressed += read as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => break Err(error.to_string()),
        }
    };
    drop(decoder);
    if reader.bytes_read == 0 {
        return Err("empty file is not a gzip stream".to_owned());
    }
    outcome
}

/// A reader that hashes, counts and samples what passes through it, and
/// remembers an I/O error of the file (so that it is not mistaken for a bad
/// stream by the decoder above it).
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes_read: u64,
    sample: Vec<u8>,
    io_error: Option<io::Error>,
}

// === impl HashingReader ===

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes_read: 0,
            sample: Vec::new(),
            io_error: None,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self.inner.read(buf) {
            Ok(read) => read,
            Err(error) => {
                let kind = error.kind();
                let message = error.to_string();
                self.io_error = Some(error);
                return Err(io::Error::new(kind, message));
            }
        };
        let bytes = &buf[..read];
        self.hasher.update(bytes);
        self.bytes_read += read as u64;
        let room = SAMPLE_BYTES.saturating_sub(self.sample.len());
        self.sample.extend_from_slice(&bytes[..room.min(read)]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).expect("compress");
        encoder.finish().expect("finish")
    }

    fn dump() -> Vec<u8> {
        (0..20_000)
            .map(|row| format!("INSERT INTO t VALUES ({row}, 'row {row}', {});\n", row * 7))
            .collect::<String>()
            .into_bytes()
    }

    fn read(bytes: &[u8], name: &str, mode: GzipMode) -> Contents {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        read_backup(&path, name, mode).expect("readable")
    }

    #[test]
    fn good_gzip_decodes_and_hashes_the_compressed_bytes() {
        let data = dump();
        let compressed = gzip(&data);
        let contents = read(&compressed, "db.sql.gz", GzipMode::Auto);
        assert_eq!(contents.gzip, Some(Ok(data.len() as u64)));
        assert_eq!(contents.bytes_read, compressed.len() as u64);
        let expected: String = Sha256::digest(&compressed)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(contents.sha256, expected);
        assert_eq!(&contents.sample[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn every_member_of_a_multi_member_file_is_decoded() {
        let mut two = gzip(b"first member\n");
        two.extend(gzip(b"second member\n"));
        let contents = read(&two, "two.gz", GzipMode::Auto);
        assert_eq!(contents.gzip, Some(Ok(27)));
        let mut broken = two.clone();
        broken.truncate(two.len() - 3);
        let contents = read(&broken, "two.gz", GzipMode::Auto);
        assert!(matches!(contents.gzip, Some(Err(_))), "{:?}", contents.gzip);
    }

    #[test]
    fn truncated_stream_fails() {
        let compressed = gzip(&dump());
        let truncated = &compressed[..compressed.len() / 2];
        let contents = read(truncated, "db.sql.gz", GzipMode::Auto);
        assert!(matches!(contents.gzip, Some(Err(_))), "{:?}", contents.gzip);
        assert_eq!(
            contents.bytes_read,
            truncated.len() as u64,
            "the digest still covers every byte"
        );
    }

    #[test]
    fn one_corrupted_byte_fails() {
        let mut compressed = gzip(&dump());
        let middle = compressed.len() / 2;
        compressed[middle] ^= 0x55;
        let contents = read(&compressed, "db.sql.gz", GzipMode::Auto);
        assert!(matches!(contents.gzip, Some(Err(_))), "{:?}", contents.gzip);
    }

    #[test]
    fn trailing_garbage_fails() {
        let mut compressed = gzip(b"data");
        compressed.extend_from_slice(b"garbage after the stream");
        let contents = read(&compressed, "x.gz", GzipMode::Auto);
        assert!(matches!(contents.gzip, Some(Err(_))), "{:?}", contents.gzip);
    }

    #[test]
    fn empty_gzip_file_fails() {
        let contents = read(b"", "empty.sql.gz", GzipMode::Auto);
        assert_eq!(
            contents.gzip,
            Some(Err("empty file is not a gzip stream".to_owned()))
        );
        assert_eq!(contents.bytes_read, 0);
    }

    #[test]
    fn gzip_mode_decides_what_is_decoded() {
        let plain = dump();
        assert_eq!(read(&plain, "db.sql", GzipMode::Auto).gzip, None);
        assert!(matches!(
            read(&plain, "db.sql", GzipMode::Always).gzip,
            Some(Err(_))
        ));
        assert!(matches!(
            read(&plain, "db.sql.gz", GzipMode::Auto).gzip,
            Some(Err(_))
        ));
        let compressed = gzip(&plain);
        assert!(matches!(
            read(&compressed, "db.dump", GzipMode::Auto).gzip,
            Some(Ok(_))
        ));
        assert_eq!(read(&compressed, "db.sql.gz", GzipMode::Never).gzip, None);
    }

    #[test]
    fn sample_is_capped() {
        let big = vec![b'a'; SAMPLE_BYTES + 1000];
        let contents = read(&big, "big.sql", GzipMode::Never);
        assert_eq!(contents.sample.len(), SAMPLE_BYTES);
        assert_eq!(contents.bytes_read, big.len() as u64);
    }
}
