//! Framing a file into lines: large positioned reads, `memchr` for `\n`, no
//! syscall per line.
//!
//! Everything before `line_start` has been handed out as lines; bytes after
//! it belong to a line not yet complete. A line longer than
//! `max_line_bytes` is handed out cut (`truncated`) and the rest of it is
//! skipped up to its `\n`; the cut record does not move the file's
//! position past the line's start until that `\n` is found, so a restart
//! never resumes in the middle of a line.

use std::fs::File;
use std::io::{self, Read as _};
use std::os::unix::fs::FileExt as _;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::handler::{FileKey, RawLine};

/// What framing produced.
#[derive(Debug)]
pub enum Framed<'a> {
    /// A line.
    Line(RawLine<'a>),
    /// Bytes up to this offset were skipped (the rest of a cut line).
    Skipped(u64),
}

/// Where a reader's bytes come from.
enum Source {
    /// A plain file, read with positioned reads.
    Plain(File),
    /// A gzip-compressed file, decoded as a stream; positions count
    /// decoded bytes.
    Gzip {
        file: File,
        decoder: Box<GzDecoder>,
        decoded: u64,
    },
}

type GzDecoder = flate2::read::MultiGzDecoder<io::BufReader<File>>;

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Plain(_) => "Plain",
            Source::Gzip { .. } => "Gzip",
        })
    }
}

/// Reads one file sequentially from a position.
#[derive(Debug)]
pub struct Reader {
    source: Source,
    key: FileKey,
    pos: u64,
    line_start: u64,
    partial: Vec<u8>,
    discarding: bool,
    last_data_at: Instant,
    /// How far the file was read before its last rewind: lines that start
    /// before this are read again.
    read_before: u64,
}

// === impl Reader ===

impl Reader {
    /// Read `file` from `offset`, which must be at a line start.
    pub fn new(file: File, key: FileKey, offset: u64) -> Self {
        Reader {
            source: Source::Plain(file),
            key,
            pos: offset,
            line_start: offset,
            partial: Vec::new(),
            discarding: false,
            last_data_at: Instant::now(),
            read_before: 0,
        }
    }

    /// Read a gzip-compressed `file` from decoded offset `offset` (the
    /// bytes before it are decoded and skipped).
    pub fn gzip(file: File, key: FileKey, offset: u64) -> io::Result<Self> {
        let (decoder, decoded) = gzip_from(&file, offset)?;
        Ok(Reader {
            source: Source::Gzip {
                file,
                decoder,
                decoded,
            },
            key,
            pos: decoded,
            line_start: decoded,
            partial: Vec::new(),
            discarding: false,
            last_data_at: Instant::now(),
            read_before: 0,
        })
    }

    /// Go back to `offset`, which must be at a line start, forgetting any
    /// incomplete line: what follows is read again.
    pub fn rewind(&mut self, offset: u64) -> io::Result<()> {
        self.read_before = self.read_before.max(self.pos);
        if let Source::Gzip {
            file,
            decoder,
            decoded,
        } = &mut self.source
        {
            (*decoder, *decoded) = gzip_from(file, offset)?;
        }
        self.pos = match &self.source {
            Source::Plain(_) => offset,
            Source::Gzip { decoded, .. } => *decoded,
        };
        self.line_start = self.pos;
        self.partial.clear();
        self.discarding = false;
        Ok(())
    }

    /// The open file.
    pub fn file(&self) -> &File {
        match &self.source {
            Source::Plain(file) | Source::Gzip { file, .. } => file,
        }
    }

    /// Whether this reads a compressed file.
    pub fn is_gzip(&self) -> bool {
        matches!(self.source, Source::Gzip { .. })
    }

    /// Next offset to read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Offset of the first byte not yet handed out in a line.
    pub fn line_start(&self) -> u64 {
        self.line_start
    }

    /// Whether bytes of an incomplete line are held.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty() || self.discarding
    }

    /// Read up to `budget` bytes through `buf`, handing each line to
    /// `sink`. Returns the number of bytes read; 0 means end of file.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        budget: usize,
        max_line: usize,
        observed_unix_nano: u64,
        sink: &mut dyn FnMut(Framed<'_>),
    ) -> io::Result<usize> {
        let mut total = 0;
        while total < budget {
            let want = buf.len().min(budget - total);
            let result = match &mut self.source {
                Source::Plain(file) => file.read_at(&mut buf[..want], self.pos),
                Source::Gzip {
                    decoder, decoded, ..
                } => io::Read::read(decoder.as_mut(), &mut buf[..want])
                    .inspect(|n| *decoded += *n as u64),
            };
            let n = match result {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            // The records' bodies are views into this one allocation: no
            // allocation or copy per line, and they are freed together.
            let chunk = Bytes::copy_from_slice(&buf[..n]);
            self.frame(&chunk, max_line, observed_unix_nano, sink);
            total += n;
            self.last_data_at = Instant::now();
            if n < want {
                break;
            }
        }
        Ok(total)
    }

    fn frame(
        &mut self,
        chunk: &Bytes,
        max_line: usize,
        observed: u64,
        sink: &mut dyn FnMut(Framed<'_>),
    ) {
        let base = self.pos;
        self.pos += chunk.len() as u64;
        let mut cursor = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            let end = base + nl as u64 + 1;
            if self.discarding {
                self.discarding = false;
                self.partial.clear();
                sink(Framed::Skipped(end));
            } else {
                let (bytes, shared): (&[u8], _) = if self.partial.is_empty() {
                    (&chunk[cursor..nl], Some(chunk))
                } else {
                    self.partial.extend_from_slice(&chunk[cursor..nl]);
                    (&self.partial, None)
                };
                let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                let truncated = bytes.len() > max_line;
                sink(Framed::Line(RawLine {
                    file: self.key,
                    bytes: if truncated { &bytes[..max_line] } else { bytes },
                    chunk: shared,
                    start: self.line_start,
                    end,
                    truncated,
                    unterminated: false,
                    replayed: self.line_start < self.read_before,
                    observed_unix_nano: observed,
                }));
                self.partial.clear();
            }
            self.line_start = end;
            cursor = nl + 1;
        }
        let rest = &chunk[cursor..];
        if self.discarding || rest.is_empty() {
            return;
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > max_line {
            // Hand out the cut line now, to bound memory; its end stays at
            // the line's start until the `\n` is found.
            sink(Framed::Line(RawLine {
                file: self.key,
                bytes: &self.partial[..max_line],
                chunk: None,
                start: self.line_start,
                end: self.line_start,
                truncated: true,
                unterminated: false,
                replayed: self.line_start < self.read_before,
                observed_unix_nano: observed,
            }));
            self.partial = Vec::new();
            self.discarding = true;
        }
    }

    /// Hand out a held incomplete line if nothing was added to it for
    /// `timeout`. Returns whether one was.
    pub fn flush_unterminated(
        &mut self,
        now: Instant,
        timeout: Duration,
        observed_unix_nano: u64,
        sink: &mut dyn FnMut(Framed<'_>),
    ) -> bool {
        if self.partial.is_empty()
            || self.discarding
            || now.saturating_duration_since(self.last_data_at) < timeout
        {
            return false;
        }
        let partial = std::mem::take(&mut self.partial);
        let bytes = partial.strip_suffix(b"\r").unwrap_or(&partial);
        sink(Framed::Line(RawLine {
            file: self.key,
            bytes,
            chunk: None,
            start: self.line_start,
            end: self.pos,
            truncated: false,
            unterminated: true,
            replayed: self.line_start < self.read_before,
            observed_unix_nano,
        }));
        self.line_start = self.pos;
        true
    }

    /// The file's current size (for a compressed file: the decoded bytes
    /// so far, as its decoded size is unknown until its end).
    pub fn size(&self) -> io::Result<u64> {
        match &self.source {
            Source::Plain(file) => file.metadata().map(|m| m.len()),
            Source::Gzip { decoded, .. } => Ok(*decoded),
        }
    }

    /// Take the file back (to reopen the same descriptor from another
    /// offset, after a truncation).
    pub fn into_file(self) -> File {
        match self.source {
            Source::Plain(file) | Source::Gzip { file, .. } => file,
        }
    }
}

/// A decoder of `file`'s gzip stream from its start, with the first
/// `offset` decoded bytes skipped; and how many were (fewer at the end).
fn gzip_from(file: &File, offset: u64) -> io::Result<(Box<GzDecoder>, u64)> {
    // A duplicated descriptor shares the file offset: start it at 0.
    let mut stream = file.try_clone()?;
    io::Seek::seek(&mut stream, io::SeekFrom::Start(0))?;
    let mut decoder = Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(
        stream,
    )));
    let skipped = io::copy(
        &mut io::Read::by_ref(decoder.as_mut()).take(offset),
        &mut io::sink(),
    )?;
    Ok((decoder, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(content: &[u8], max_line: usize, budget: usize) -> Vec<(String, u64, u64, bool)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let mut reader = Reader::new(File::open(&path).unwrap(), 1, 0);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 7];
        loop {
            let n = reader
                .read(&mut buf, budget, max_line, 0, &mut |f| match f {
                    Framed::Line(l) => out.push((
                        String::from_utf8_lossy(l.bytes).into_owned(),
                        l.start,
                        l.end,
                        l.truncated,
                    )),
                    Framed::Skipped(end) => out.push(("<skip>".into(), 0, end, false)),
                })
                .unwrap();
            if n == 0 {
                break;
            }
        }
        out
    }

    #[test]
    fn frames_lines_across_reads_and_trims_crlf() {
        let lines = frame_all(b"alpha\r\nbe\nlonger line here\n\nlast", 1024, 5);
        let bodies: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(bodies, ["alpha", "be", "longer line here", ""]);
        assert_eq!((lines[0].1, lines[0].2), (0, 7));
        assert_eq!((lines[1].1, lines[1].2), (7, 10));
        assert_eq!((lines[3].1, lines[3].2), (27, 28));
    }

    #[test]
    fn lines_within_one_read_are_shared_and_lines_across_reads_are_copied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one\ntwo\nthree\xff\nacross reads\n").unwrap();
        let mut reader = Reader::new(File::open(&path).unwrap(), 1, 0);
        // The first read ends inside "across reads".
        let mut buf = vec![0u8; 20];
        let mut seen = Vec::new();
        let mut sink = |f: Framed<'_>| {
            let Framed::Line(line) = f else {
                panic!("no line is skipped")
            };
            let (text, invalid) = line.text(line.bytes);
            let shared = line
                .chunk
                .is_some_and(|chunk| chunk.as_ptr_range().contains(&text.as_ptr()));
            seen.push((String::from(text), invalid, shared));
        };
        while reader.read(&mut buf, 1 << 20, 1024, 0, &mut sink).unwrap() > 0 {}
        assert_eq!(
            seen,
            [
                ("one".to_owned(), false, true),
                ("two".to_owned(), false, true),
                // Replaced lossily: a copy, flagged.
                ("three\u{fffd}".to_owned(), true, false),
                // Joined from two reads: a copy.
                ("across reads".to_owned(), false, false),
            ]
        );
    }

    #[test]
    fn overlong_line_is_cut_then_skipped_to_its_end() {
        let mut content = vec![b'x'; 100];
        content.extend_from_slice(b"\nnext\n");
        let lines = frame_all(&content, 10, 1 << 20);
        assert_eq!(
            lines[0],
            ("x".repeat(10), 0, 0, true),
            "the cut line does not move the position"
        );
        assert_eq!(lines[1], ("<skip>".into(), 0, 101, false));
        assert_eq!(lines[2], ("next".into(), 101, 106, false));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn unterminated_line_is_flushed_after_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"done\npart").unwrap();
        let mut reader = Reader::new(File::open(&path).unwrap(), 1, 0);
        let mut buf = vec![0u8; 64];
        let mut lines = Vec::new();
        reader
            .read(&mut buf, 1024, 1024, 0, &mut |f| {
                if let Framed::Line(l) = f {
                    lines.push(String::from_utf8_lossy(l.bytes).into_owned())
                }
            })
            .unwrap();
        assert_eq!(lines, ["done"]);
        assert!(reader.has_partial());
        let later = Instant::now() + Duration::from_secs(10);
        let mut flushed = Vec::new();
        assert!(
            reader.flush_unterminated(later, Duration::from_secs(5), 0, &mut |f| {
                if let Framed::Line(l) = f {
                    flushed.push((
                        String::from_utf8_lossy(l.bytes).into_owned(),
                        l.end,
                        l.unterminated,
                    ));
                }
            })
        );
        assert_eq!(flushed, [("part".to_owned(), 9, true)]);
        assert_eq!(reader.line_start(), 9);
    }
}
