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

use crate::event::{AnyValue, Attributes};

use super::Parsed;
use super::mapping::{clf, http_severity};

/// A cursor over the line.
struct Cursor<'a> {
    line: &'a str,
    at: usize,
}

/// Parse an access line; `combined` also reads referer and user agent.
pub fn parse(line: &str, combined: bool) -> Option<Parsed> {
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

    let mut attributes = Attributes::new();
    attributes.insert("client.address", client.to_owned());
    if user != "-" {
        attributes.insert("user.name", user.to_owned());
    }
    request_fields(&request, &mut attributes);
    attributes.insert("http.response.status_code", i64::from(status));
    if let Some(size) = size {
        attributes.insert("http.response.body.size", size);
    }
    if let Some(referer) = referer.filter(|r| r != "-") {
        attributes.insert("http.request.header.referer", referer.into_owned());
    }
    if let Some(agent) = agent.filter(|a| a != "-") {
        attributes.insert("user_agent.original", agent.into_owned());
    }
    let (number, text) = http_severity(status);
    Some(Parsed {
        attributes,
        time_unix_nano: Some(time),
        severity: Some((number, text.into())),
    })
}

/// `GET /path?query HTTP/1.1` as method, path, query and protocol; a
/// request line of another shape (a bare `-`, a probe's junk) is kept
/// whole.
fn request_fields(request: &str, attributes: &mut Attributes) {
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
    let Some((method, target, protocol, version)) = parsed else {
        if request != "-" {
            attributes.insert("http.request.line", request.to_owned());
        }
        return;
    };
    attributes.insert("http.request.method", method.to_owned());
    match target.split_once('?') {
        Some((path, query)) => {
            attributes.insert("url.path", path.to_owned());
            attributes.insert("url.query", query.to_owned());
        }
        None => attributes.insert("url.path", target.to_owned()),
    }
    attributes.insert(
        "network.protocol.name",
        AnyValue::String(Cow::Owned(protocol.to_ascii_lowercase())),
    );
    attributes.insert("network.protocol.version", version.to_owned());
}

// === impl Cursor ===

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.line[self.at..]
    }

    /// The text up to the next space, and the space.
    fn token(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = rest.find(' ')?;
        self.at += end + 1;
        (end > 0).then(|| &rest[..end])
    }

    /// The text up to the next space or the end.
    fn token_or_end(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = rest.find(' ').unwrap_or(rest.len());
        self.at += (end + 1).min(rest.len());
        (end > 0).then(|| &rest[..end])
    }

    /// `[...] `.
    fn bracketed(&mut self) -> Option<&'a str> {
        let rest = self.rest().strip_prefix('[')?;
        let end = rest.find(']')?;
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
        let mut i = 0;
        let mut escaped = false;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                    continue;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return None;
        }
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
