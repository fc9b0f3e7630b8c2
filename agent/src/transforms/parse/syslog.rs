//! Syslog lines: BSD syslog as daemons write it to files (RFC 3164,
//! <https://www.rfc-editor.org/rfc/rfc3164>) and RFC 5424
//! (<https://www.rfc-editor.org/rfc/rfc5424>).
//!
//! Attributes: `syslog.facility` (when the line has a `<PRI>`),
//! `syslog.hostname`, `syslog.appname`, `syslog.procid`, `syslog.msgid`
//! and, for RFC 5424, `syslog.structured_data` (a map of SD-ID to its
//! parameters). The severity comes from `<PRI>`; the body stays the line.

use bytestring::ByteString;

use crate::event::{AnyValue, Attributes};
use crate::time::parse_rfc3339_nanos;

use super::Parsed;
use super::mapping::{digits, month, syslog_severity, without_year};

/// `<PRI>` at the start of `line`: facility, severity, and the rest.
fn priority(line: &str) -> Option<(Option<(u32, u8)>, &str)> {
    let Some(rest) = line.strip_prefix('<') else {
        return Some((None, line));
    };
    let end = rest.find('>').filter(|end| (1..=3).contains(end))?;
    let pri = digits(&rest.as_bytes()[..end]).filter(|pri| *pri <= 191)?;
    Some((Some((pri / 8, (pri % 8) as u8)), &rest[end + 1..]))
}

fn set_priority(pri: Option<(u32, u8)>, attributes: &mut Attributes) -> Option<(i32, ByteString)> {
    let (facility, severity) = pri?;
    attributes.insert("syslog.facility", i64::from(facility));
    let (number, text) = syslog_severity(severity);
    Some((number, ByteString::from_static(text)))
}

/// `Mmm dd hh:mm:ss host tag[pid]: message`, or with an RFC 3339 time in
/// place of the first three.
pub fn rfc3164(line: &str, observed_unix_nanos: u64) -> Option<Parsed> {
    let (pri, rest) = priority(line)?;
    let b = rest.as_bytes();
    let (time, rest) = if b.first().is_some_and(u8::is_ascii_digit) {
        let end = rest.find(' ')?;
        (parse_rfc3339_nanos(&b[..end])?, &rest[end + 1..])
    } else {
        if b.len() < 16 || b[3] != b' ' || b[6] != b' ' || b[15] != b' ' {
            return None;
        }
        let month = month(&b[0..3])?;
        let day = match b[4] {
            b' ' => digits(&b[5..6])?,
            _ => digits(&b[4..6])?,
        };
        let time = without_year(month, day, &b[7..15], 0, observed_unix_nanos)?;
        (time, &rest[16..])
    };
    let (host, rest) = rest.split_once(' ')?;
    if host.is_empty() {
        return None;
    }
    let mut attributes = Attributes::new();
    let severity = set_priority(pri, &mut attributes);
    attributes.insert("syslog.hostname", host.to_owned());
    tag(rest, &mut attributes);
    Some(Parsed {
        attributes,
        time_unix_nano: Some(time),
        severity,
    })
}

/// `app[pid]: ` or `app: ` at the start of the message, if there is one.
fn tag(message: &str, attributes: &mut Attributes) {
    let end = message
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
        .unwrap_or(message.len());
    if end == 0 || end > 48 {
        return;
    }
    let (app, after) = message.split_at(end);
    let (pid, after) = match after.strip_prefix('[').and_then(|a| a.split_once(']')) {
        Some((pid, after)) if !pid.is_empty() => (Some(pid), after),
        _ => (None, after),
    };
    if !after.starts_with(':') {
        return;
    }
    attributes.insert("syslog.appname", app.to_owned());
    if let Some(pid) = pid {
        attributes.insert("syslog.procid", pid.to_owned());
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
pub fn rfc5424(line: &str) -> Option<Parsed> {
    let (pri, rest) = priority(line)?;
    pri?;
    let rest = rest.strip_prefix("1 ")?;
    let mut fields = rest.splitn(6, ' ');
    let time = fields.next()?;
    let host = fields.next()?;
    let app = fields.next()?;
    let procid = fields.next()?;
    let msgid = fields.next()?;
    let rest = fields.next().unwrap_or("");
    let time = match time {
        "-" => None,
        time => Some(parse_rfc3339_nanos(time.as_bytes())?),
    };
    let mut attributes = Attributes::new();
    let severity = set_priority(pri, &mut attributes);
    for (key, value) in [
        ("syslog.hostname", host),
        ("syslog.appname", app),
        ("syslog.procid", procid),
        ("syslog.msgid", msgid),
    ] {
        if value.is_empty() {
            return None;
        }
        if value != "-" {
            attributes.insert(key, value.to_owned());
        }
    }
    let data = structured_data(rest)?;
    if !data.is_empty() {
        attributes.insert("syslog.structured_data", AnyValue::Map(data));
    }
    Some(Parsed {
        attributes,
        time_unix_nano: time,
        severity,
    })
}

/// `-` or `[id k="v" ...]...`, as a map of SD-ID to parameters.
fn structured_data(text: &str) -> Option<Attributes> {
    let mut data = Attributes::new();
    if text == "-" || text.starts_with("- ") {
        return Some(data);
    }
    let mut rest = text;
    while let Some(element) = rest.strip_prefix('[') {
        let (id, mut params_text) = element.split_at(element.find([' ', ']'])?);
        let mut params = Attributes::new();
        loop {
            params_text = params_text.trim_start_matches(' ');
            if let Some(after) = params_text.strip_prefix(']') {
                rest = after;
                break;
            }
            let (name, after) = params_text.split_once("=\"")?;
            let (value, after) = quoted_value(after)?;
            params.insert(name.to_owned(), value);
            params_text = after;
        }
        data.insert(id.to_owned(), AnyValue::Map(params));
    }
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(data)
}

/// A PARAM-VALUE up to its closing `"`, with `\"`, `\\` and `\]`
/// unescaped.
fn quoted_value(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, next @ ('"' | '\\' | ']'))) => value.push(next),
                Some((_, next)) => {
                    value.push('\\');
                    value.push(next);
                }
                None => return None,
            },
            '"' => return Some((value, &text[i + 1..])),
            c => value.push(c),
        }
    }
    None
}
