//! Framing a file into lines (`sources::file::reader`), plain or gzip.
//!
//! The reader sees the fuzzer's bytes through a read buffer, a per-call
//! budget and a line limit of the fuzzer's choosing. Every byte must be
//! accounted for exactly once and in order: a line is the bytes between
//! the previous line's end and its `\n` (less one `\r`), a cut line is the
//! first `max_line` bytes of its line and is followed by a skip to that
//! line's end, and what has no `\n` is handed out whole by the
//! unterminated-line timeout.

use std::fs::File;
use std::io::Write as _;
use std::time::{Duration, Instant};

use super::Input;
use crate::sources::file::reader::{Framed, Reader};

/// What the reader handed out, owned.
#[derive(Debug)]
enum Out {
    Line {
        bytes: Vec<u8>,
        start: u64,
        end: u64,
        truncated: bool,
        unterminated: bool,
    },
    Skipped(u64),
}

/// Run one input: `[gzip: u8][buffer: u8][budget: u16][max_line: u8][content]`.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let gzip = input.bool();
    let buffer = usize::from(input.byte() % 64) + 1;
    let budget = usize::from(input.u16()) + 1;
    let max_line = usize::from(input.byte()) + 1;
    let content = input.rest();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("input.log");
    let mut file = File::create(&path).expect("create the input file");
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(content).expect("compress");
        encoder.finish().expect("compress");
    } else {
        file.write_all(content).expect("write the input file");
    }
    let file = File::open(&path).expect("open the input file");
    let mut reader = if gzip {
        Reader::gzip(file, 1, 0).expect("a gzip reader")
    } else {
        Reader::new(file, 1, 0)
    };

    let mut out = Vec::new();
    let mut sink = |framed: Framed<'_>| {
        out.push(match framed {
            Framed::Line(line) => Out::Line {
                bytes: line.bytes.to_vec(),
                start: line.start,
                end: line.end,
                truncated: line.truncated,
                unterminated: line.unterminated,
            },
            Framed::Skipped(end) => Out::Skipped(end),
        });
    };
    let mut buf = vec![0u8; buffer];
    while reader
        .read(&mut buf, budget, max_line, 0, &mut sink)
        .expect("reading a local file")
        > 0
    {}
    let later = Instant::now() + Duration::from_secs(3600);
    reader.flush_unterminated(later, Duration::from_secs(1), 0, &mut sink);

    check(content, max_line, &out);
    assert_eq!(reader.position(), content.len() as u64, "read to the end");
}

/// Every byte of `content` accounted for once, in order.
fn check(content: &[u8], max_line: usize, out: &[Out]) {
    // The offset the next line must start at.
    let mut next = 0usize;
    // A cut line whose skip is still to come: its start.
    let mut cut: Option<usize> = None;
    for item in out {
        match item {
            Out::Line {
                bytes,
                start,
                end,
                truncated,
                unterminated,
            } => {
                assert!(cut.is_none(), "a line between a cut line and its skip");
                let (start, end) = (*start as usize, *end as usize);
                assert_eq!(start, next, "a line starts where the previous ended");
                assert!(!bytes.contains(&b'\n'), "a line holds no newline");
                if *unterminated {
                    let rest = &content[start..];
                    assert!(!rest.contains(&b'\n'));
                    assert_eq!(end, content.len());
                    assert_eq!(bytes.as_slice(), rest.strip_suffix(b"\r").unwrap_or(rest));
                    next = end;
                } else if *truncated && end == start {
                    // Cut before its `\n` was read: a skip follows.
                    assert_eq!(bytes.as_slice(), &content[start..start + max_line]);
                    cut = Some(start);
                } else {
                    assert_eq!(content[end - 1], b'\n', "a line ends with a newline");
                    let line = &content[start..end - 1];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    assert!(!line.contains(&b'\n'), "a line spans one newline");
                    if *truncated {
                        assert!(line.len() > max_line);
                        assert_eq!(bytes.as_slice(), &line[..max_line]);
                    } else {
                        assert_eq!(bytes.as_slice(), line);
                    }
                    next = end;
                }
            }
            Out::Skipped(end) => {
                let start = cut.take().expect("a skip follows a cut line");
                let end = *end as usize;
                assert_eq!(content[end - 1], b'\n', "a skip ends at a newline");
                assert!(!content[start..end - 1].contains(&b'\n'));
                next = end;
            }
        }
    }
    match cut {
        // A cut line with no `\n` yet: nothing after it is handed out.
        Some(start) => assert!(!content[start..].contains(&b'\n')),
        None => assert_eq!(next, content.len(), "every byte was handed out"),
    }
}
