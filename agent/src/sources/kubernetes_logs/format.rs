//! Container log line formats: CRI (containerd, CRI-O) and docker
//! json-file, as kubelet's own `parseCRILog` and `parseDockerJSONLog` read
//! them (`pkg/kubelet/kuberuntime/logs/logs.go`).
//!
//! CRI: `<RFC3339Nano time> <stdout|stderr> <tags> <message>`, tags
//! `:`-separated with `P` (partial) or `F` (full) first. A runtime splits
//! lines longer than 16 KiB into `P` pieces ended by an `F` piece.
//! Docker: `{"log":"...\n","stream":"stdout","time":"..."}`, a piece
//! without the final `\n` being partial.

use std::borrow::Cow;

use bytestring::ByteString;
use serde::Deserialize;

use crate::sources::file::RawLine;
use crate::time::parse_rfc3339_nanos;

/// Which stream a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One parsed line.
#[derive(Debug, PartialEq, Eq)]
pub struct ContainerLine {
    /// When the runtime wrote it, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// stdout or stderr.
    pub stream: IoStream,
    /// A piece of a longer line, more to come.
    pub partial: bool,
    /// The text (without the trailing `\n` of docker's format): a view
    /// into the read chunk when the line is in one and needed no unescaping
    /// or replacement.
    pub message: ByteString,
    /// The message was not valid UTF-8 and was replaced lossily.
    pub invalid_utf8: bool,
}

#[derive(Deserialize)]
struct DockerLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(default)]
    stream: Option<&'a str>,
    #[serde(default)]
    time: Option<&'a str>,
}

// === impl IoStream ===

impl IoStream {
    /// The `log.iostream` value.
    pub fn as_str(self) -> &'static str {
        match self {
            IoStream::Stdout => "stdout",
            IoStream::Stderr => "stderr",
        }
    }
}

/// Parse a line in either format; `None` if it is neither.
pub fn parse(line: &RawLine<'_>) -> Option<ContainerLine> {
    if line.bytes.first() == Some(&b'{') {
        parse_docker(line)
    } else {
        parse_cri(line)
    }
}

fn parse_cri(line: &RawLine<'_>) -> Option<ContainerLine> {
    let mut fields = line.bytes.splitn(4, |b| *b == b' ');
    let time = parse_rfc3339_nanos(fields.next()?)?;
    let stream = match fields.next()? {
        b"stdout" => IoStream::Stdout,
        b"stderr" => IoStream::Stderr,
        _ => return None,
    };
    let tags = fields.next()?;
    let partial = match tags.split(|b| *b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let (message, invalid_utf8) = line.text(fields.next().unwrap_or_default());
    Some(ContainerLine {
        time_unix_nano: time,
        stream,
        partial,
        message,
        invalid_utf8,
    })
}

fn parse_docker(line: &RawLine<'_>) -> Option<ContainerLine> {
    let parsed: DockerLine<'_> = serde_json::from_slice(line.bytes).ok()?;
    let stream = match parsed.stream {
        Some("stdout") | None => IoStream::Stdout,
        Some("stderr") => IoStream::Stderr,
        Some(_) => return None,
    };
    // 0 (unknown) when absent; a present but malformed time is not docker's.
    let time = match parsed.time {
        Some(time) => parse_rfc3339_nanos(time.as_bytes())?,
        None => 0,
    };
    let (message, partial) = match parsed.log {
        // No escapes: the text is a slice of the line.
        Cow::Borrowed(text) => {
            let (text, partial) = match text.strip_suffix('\n') {
                Some(text) => (text, false),
                None => (text, true),
            };
            (line.text(text.as_bytes()).0, partial)
        }
        Cow::Owned(mut text) => {
            let partial = !text.ends_with('\n');
            if !partial {
                text.pop();
            }
            (text.into(), partial)
        }
    };
    Some(ContainerLine {
        time_unix_nano: time,
        stream,
        partial,
        message,
        invalid_utf8: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as the reader hands it out, inside the chunk it was read in.
    fn parse(bytes: &[u8]) -> Option<ContainerLine> {
        let chunk = bytes::Bytes::copy_from_slice(bytes);
        super::parse(&RawLine {
            file: 1,
            bytes: &chunk,
            chunk: Some(&chunk),
            start: 0,
            end: chunk.len() as u64 + 1,
            truncated: false,
            unterminated: false,
            replayed: false,
            observed_unix_nano: 0,
        })
    }

    #[test]
    fn cri_full_partial_and_empty_lines() {
        let line =
            parse(b"2021-02-16T09:21:15.518430714Z stdout F example: 10 Tue Feb 16").unwrap();
        assert_eq!(line.time_unix_nano, 1_613_467_275_518_430_714);
        assert_eq!(line.stream, IoStream::Stdout);
        assert!(!line.partial);
        assert_eq!(line.message, "example: 10 Tue Feb 16");
        let partial = parse(b"2021-02-16T08:59:33.254364766+00:00 stderr P:x part ").unwrap();
        assert!(partial.partial);
        assert_eq!(partial.stream, IoStream::Stderr);
        assert_eq!(partial.message, "part ");
        assert_eq!(parse(b"2021-02-16T09:21:15Z stdout F").unwrap().message, "");
        assert!(parse(b"2021-02-16T09:21:15Z stdin F x").is_none());
        assert!(parse(b"not a timestamp stdout F x").is_none());
    }

    #[test]
    fn a_cri_message_is_a_view_into_the_chunk_unless_it_is_replaced() {
        let chunk = bytes::Bytes::from_static(
            b"2021-02-16T09:21:15Z stdout F ok\n2021-02-16T09:21:15Z stdout F bad \xff",
        );
        let line = |bytes: &[u8]| {
            super::parse(&RawLine {
                file: 1,
                bytes,
                chunk: Some(&chunk),
                start: 0,
                end: 0,
                truncated: false,
                unterminated: false,
                replayed: false,
                observed_unix_nano: 0,
            })
            .unwrap()
        };
        let ok = line(&chunk[..32]);
        assert_eq!(ok.message, "ok");
        assert!(chunk.as_ptr_range().contains(&ok.message.as_ptr()));
        assert!(!ok.invalid_utf8);
        let bad = line(&chunk[33..]);
        assert_eq!(bad.message, "bad \u{fffd}");
        assert!(!chunk.as_ptr_range().contains(&bad.message.as_ptr()));
        assert!(bad.invalid_utf8);
    }

    #[test]
    fn docker_json_with_escapes_and_partials() {
        let line = parse(
            br#"{"log":"say \"hi\"\n","stream":"stderr","time":"2021-02-16T09:15:13.503624173Z"}"#,
        )
        .unwrap();
        assert_eq!(line.message, "say \"hi\"");
        assert!(!line.partial);
        assert_eq!(line.stream, IoStream::Stderr);
        let part = parse(
            br#"{"log":"2020-03-24 Single ","stream":"stdout","time":"2020-03-24T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(part.partial);
        assert!(
            parse(br#""log":"x\n","stream":"stdout","time":"2020-03-24T00:00:00Z"}"#).is_none()
        );
    }
}
