//! Auth logs (`/var/log/auth.log`, `/var/log/secure`): BSD syslog lines
//! whose sshd messages are also read for the login they record, so failed
//! logins can be counted and alerted on (`auth_failed_attempts`). Lines of
//! other programs (sudo, cron, logind) parse as `syslog_rfc3164`.
//!
//! sshd's messages (OpenSSH `auth.c`, `auth_log()`):
//! `Failed password for [invalid user ]USER from ADDR port PORT ssh2`,
//! `Accepted publickey for USER from ADDR port PORT ssh2: ...`,
//! `Invalid user USER from ADDR port PORT`. Attributes: `ssh.event`
//! (`failed`, `accepted`, `invalid_user`), `ssh.auth.method`,
//! `ssh.invalid_user`, `user.name`, `client.address`, `client.port`, and
//! `ssh.attempts`: 1, or N for rsyslog's `message repeated N times: [...]`.

use crate::event::Attributes;

use super::Parsed;
use super::syslog;

/// OpenTelemetry severity numbers: `WARN` for a failed or invalid login,
/// `INFO` for an accepted one (the line's `<PRI>`, when it has one, wins).
const WARN: (i32, &str) = (13, "WARN");
const INFO: (i32, &str) = (9, "INFO");

/// An auth log line: syslog, and sshd's login events.
pub fn parse(line: &str, observed_unix_nanos: u64) -> Option<Parsed> {
    let mut parsed = syslog::rfc3164(line, observed_unix_nanos)?;
    let is_sshd = parsed
        .attributes
        .get("syslog.appname")
        .and_then(|app| app.as_str())
        == Some("sshd");
    if !is_sshd {
        return Some(parsed);
    }
    let message = line
        .find("sshd")
        .and_then(|at| line[at..].split_once(": "))
        .map(|(_, message)| repeated(message));
    if let Some((times, message)) = message
        && let Some(severity) = sshd(message, &mut parsed.attributes)
    {
        parsed.attributes.insert("ssh.attempts", times);
        if parsed.severity.is_none() {
            parsed.severity = Some((severity.0, severity.1.into()));
        }
    }
    Some(parsed)
}

/// How many times `message` stands for, and the message: rsyslog's
/// `message repeated N times: [ MESSAGE]` (`$RepeatedMsgReduction`, on in
/// Ubuntu's default configuration) stands for N lines of MESSAGE, such as
/// several failed passwords on one connection.
fn repeated(message: &str) -> (i64, &str) {
    let inner = message
        .strip_prefix("message repeated ")
        .and_then(|rest| rest.split_once(" times: ["))
        .and_then(|(times, rest)| Some((times.parse::<i64>().ok()?, rest.strip_suffix(']')?)));
    match inner {
        Some((times, inner)) if times > 0 => (times, inner.trim_start()),
        _ => (1, message),
    }
}

/// Read a login event of sshd's `message` into `attributes`; its severity.
fn sshd(message: &str, attributes: &mut Attributes) -> Option<(i32, &'static str)> {
    let (event, method, rest, severity) = if let Some(rest) = message.strip_prefix("Failed ") {
        let (method, rest) = rest.split_once(" for ")?;
        ("failed", Some(method), rest, WARN)
    } else if let Some(rest) = message.strip_prefix("Accepted ") {
        let (method, rest) = rest.split_once(" for ")?;
        ("accepted", Some(method), rest, INFO)
    } else if let Some(rest) = message.strip_prefix("Invalid user ") {
        ("invalid_user", None, rest, WARN)
    } else {
        return None;
    };
    let (invalid, rest) = match rest.strip_prefix("invalid user ") {
        Some(rest) => (true, rest),
        None => (event == "invalid_user", rest),
    };
    let (user, from) = rest.rsplit_once(" from ")?;
    let mut words = from.split(' ');
    let address = words.next().filter(|a| !a.is_empty())?;
    let port = match (words.next(), words.next()) {
        (Some("port"), Some(port)) => port.parse::<i64>().ok(),
        _ => None,
    };
    attributes.insert("ssh.event", event);
    if let Some(method) = method {
        attributes.insert("ssh.auth.method", method.to_owned());
    }
    attributes.insert("ssh.invalid_user", invalid);
    attributes.insert("user.name", user.to_owned());
    attributes.insert("client.address", address.to_owned());
    if let Some(port) = port {
        attributes.insert("client.port", port);
    }
    Some(severity)
}
