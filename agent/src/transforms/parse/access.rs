//! Apache's and nginx's access logs, `common` and `combined`
//! (<https://httpd.apache.org/docs/2.4/logs.html#accesslog>):
//!
//! ```text
//! 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"
//! ```
//!
//! Read by hand rather than by regex: every access line of a busy server
//! goes through here. Attribute names follow the OpenTelemetry semantic
//! conventions for HTTP (`client.address`, `http.request.method`,
//! `url.path`, `http.response.status_code`...).

use std::borrow::Cow;

use bytestring::ByteString;

use crate::event::{AnyValue, Attributes};

use super::Parsed;
use super::mapping::{clf, http_severity};

/// A cursor over the line.
struct Cursor<'a> {
    line: &'a str,
    at: usize,
}

/// Parse an access line; `combined` also reads referer and user agent.
/// Fields are views into `line`, not copies.
pub fn parse(line: &ByteString, combined: bool) -> Option<Parsed> {
    let mut c = Cursor { line, at: 0 };
    let client = c.token()?;
    let _ident = c.token()?;
    let user = c.token()?;
    let time = c.bracketed()?;
    let request = c.quoted()?;
    let status = c.token()?;
    let size = c.token_or_end()?;
    let (referer, agent) = if combined {
        (Some(c.quoted()?), Some(c.quoted()?))
    } else {
        (None, None)
    };
    if !line[c.at..].trim().is_empty() && !combined {
        return None;
    }
    let status: u16 = status.parse().ok().filter(|s| (100..1000).contains(s))?;
    let size: Option<i64> = match size {
        "-" => None,
        digits => Some(digits.parse().ok()?),
    };
    let time = clf(time)?;

    let view = |part: &str| AnyValue::part_of(line, part);
    let field = |part: Cow<'_, str>| match part {
        Cow::Borrowed(part) => view(part),
        Cow::Owned(part) => AnyValue::from(part),
    };
    // Every key below is set once: no search for an earlier value.
    let mut attributes = Attributes::with_capacity(11);
    attributes.push_new("client.address", view(client));
    if user != "-" {
        attributes.push_new("user.name", view(user));
    }
    request_fields(&request, line, &mut attributes);
    attributes.push_new("http.response.status_code", i64::from(status));
    if let Some(size) = size {
        attributes.push_new("http.response.body.size", size);
    }
    if let Some(referer) = referer.filter(|r| r != "-") {
        attributes.push_new("http.request.header.referer", field(referer));
    }
    if let Some(agent) = agent.filter(|a| a != "-") {
        attributes.push_new("user_agent.original", field(agent));
    }
    let (number, text) = http_severity(status);
    Some(Parsed {
        attributes,
        time_unix_nano: Some(time),
        severity: Some((number, ByteString::from_static(text))),
    })
}

/// `GET /path?query HTTP/1.1` as method, path, query and protocol; a
/// request line of another shape (a bare `-`, a probe's junk) is kept
/// whole. A part of a request read as it stood in `line` is a view into
/// it; of one that was unescaped, a copy.
fn request_fields(request: &str, line: &ByteString, attributes: &mut Attributes) {
    let part = |text: &str| AnyValue::part_of(line, text);
    // Exactly three parts between single spaces, the last `NAME/VERSION`.
    let parsed = split(request, b' ').and_then(|(method, rest)| {
        let (target, protocol) = split(rest, b' ')?;
        if method.is_empty() || target.is_empty() || protocol.contains(' ') {
            return None;
        }
        let (name, version) = split(protocol, b'/')?;
        Some((method, target, name, version))
    });
    let Some((method, target, protocol, version)) = parsed else {
        if request != "-" {
            attributes.push_new("http.request.line", part(request));
        }
        return;
    };
    attributes.push_new("http.request.method", part(method));
    match split(target, b'?') {
        Some((path, query)) => {
            attributes.push_new("url.path", part(path));
            attributes.push_new("url.query", part(query));
        }
        None => attributes.push_new("url.path", part(target)),
    }
    let protocol = match protocol {
        "HTTP" => AnyValue::from("http"),
        other => AnyValue::from(other.to_ascii_lowercase()),
    };
    attributes.push_new("network.protocol.name", protocol);
    attributes.push_new("network.protocol.version", part(version));
}

/// `text` before and after the first `byte` (ASCII).
fn split(text: &str, byte: u8) -> Option<(&str, &str)> {
    memchr::memchr(byte, text.as_bytes()).map(|at| (&text[..at], &text[at + 1..]))
}

// === impl Cursor ===

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.line[self.at..]
    }

    /// The text up to the next space, and the space.
    fn token(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = memchr::memchr(b' ', rest.as_bytes())?;
        self.at += end + 1;
        (end > 0).then(|| &rest[..end])
    }

    /// The text up to the next space or the end.
    fn token_or_end(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = memchr::memchr(b' ', rest.as_bytes()).unwrap_or(rest.len());
        self.at += (end + 1).min(rest.len());
        (end > 0).then(|| &rest[..end])
    }

    /// `[...] `.
    fn bracketed(&mut self) -> Option<&'a str> {
        let rest = self.rest().strip_prefix('[')?;
        let end = memchr::memchr(b']', rest.as_bytes())?;
        let after = &rest[end + 1..];
        if !after.starts_with(' ') {
            return None;
        }
        self.at += end + 3;
        Some(&rest[..end])
    }

    /// `"..."` then a space or the end, with `\"` and `\\` unescaped.
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        let rest = self.rest().strip_prefix('"')?;
        let bytes = rest.as_bytes();
        let mut from = 0;
        let mut escaped = false;
        // The closing quote: the first `"` not escaped by a `\`.
        let i = loop {
            let at = from + memchr::memchr2(b'\\', b'"', bytes.get(from..)?)?;
            if bytes[at] == b'"' {
                break at;
            }
            escaped = true;
            from = at + 2;
        };
        let raw = &rest[..i];
        let after = &rest[i + 1..];
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        self.at += i + 2 + usize::from(!after.is_empty());
        Some(if escaped {
            Cow::Owned(raw.replace("\\\"", "\"").replace("\\\\", "\\"))
        } else {
            Cow::Borrowed(raw)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The request line read the plain way: split on spaces.
    fn reference(request: &str) -> Attributes {
        let mut attributes = Attributes::new();
        let mut parts = request.split(' ');
        let parsed = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(method), Some(target), Some(protocol), None)
                if !method.is_empty() && !target.is_empty() =>
            {
                protocol
                    .split_once('/')
                    .map(|(name, version)| (method, target, name, version))
            }
            _ => None,
        };
        let Some((method, target, name, version)) = parsed else {
            if request != "-" {
                attributes.insert("http.request.line", request.to_owned());
            }
            return attributes;
        };
        attributes.insert("http.request.method", method.to_owned());
        match target.split_once('?') {
            Some((path, query)) => {
                attributes.insert("url.path", path.to_owned());
                attributes.insert("url.query", query.to_owned());
            }
            None => attributes.insert("url.path", target.to_owned()),
        }
        attributes.insert("network.protocol.name", name.to_ascii_lowercase());
        attributes.insert("network.protocol.version", version.to_owned());
        attributes
    }

    /// A quoted field read the plain way: byte by byte.
    fn reference_quoted(rest: &str) -> Option<(String, usize)> {
        let rest_q = rest.strip_prefix('"')?;
        let bytes = rest_q.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return None;
        }
        let after = &rest_q[i + 1..];
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        let raw = rest_q[..i].replace("\\\"", "\"").replace("\\\\", "\\");
        Some((raw, i + 2 + usize::from(!after.is_empty())))
    }

    proptest! {
        #[test]
        fn a_request_line_is_read_as_splitting_it_on_spaces_would(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "", "GET", "/", "/a?x=1", "?", "HTTP/1.1", "Http/2", "HTTP", "1.1", "-", "a/b/c",
                ]),
                0..6,
            ),
            borrowed in proptest::bool::ANY,
        ) {
            let request = words.join(" ");
            let line = ByteString::from(request.clone());
            let request: Cow<'_, str> = if borrowed {
                Cow::Borrowed(&line)
            } else {
                Cow::Owned(request)
            };
            let mut attributes = Attributes::new();
            request_fields(&request, &line, &mut attributes);
            prop_assert_eq!(attributes, reference(&request));
        }

        #[test]
        fn a_quoted_field_is_read_as_a_byte_by_byte_scan_would(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["\"", "\\", "\\\"", "\\\\", "a", " ", "é"]),
                0..10,
            ),
        ) {
            let text = pieces.concat();
            let mut cursor = Cursor { line: &text, at: 0 };
            let found = cursor.quoted().map(|q| (q.into_owned(), cursor.at));
            prop_assert_eq!(found, reference_quoted(&text));
        }
    }
}
