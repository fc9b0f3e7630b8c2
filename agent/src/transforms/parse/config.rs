//! The parse transform's configuration.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};

/// Parse each log record's body into attributes, and set its timestamp and
/// severity from what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    /// The body's format. Presets (`apache_combined`, `apache_common`,
    /// `nginx_combined`, `syslog_rfc3164`, `syslog_rfc5424`, `auth`,
    /// `klog`) also set the record's timestamp and severity; for `json`,
    /// `logfmt` and `regex` name the fields in `timestamp_field` and
    /// `severity_field`.
    pub format: ParseFormat,
    /// With `format: regex`, the regular expression (Rust `regex` syntax)
    /// whose named captures (`(?P<name>...)`) become attributes. It must
    /// match for the line to count as parsed; anchor it with `^...$` to
    /// match the whole line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The extracted attribute that holds the event's time: RFC 3339
    /// (`2024-05-01T12:00:00.5Z`), the access-log form
    /// (`10/Oct/2000:13:55:36 -0700`), or a Unix time in seconds,
    /// milliseconds, microseconds or nanoseconds (told apart by size). It
    /// sets the record's timestamp (OTLP `time_unix_nano`); a value that
    /// does not read as a time leaves it unset. Overrides a preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_field: Option<String>,
    /// The extracted attribute that holds the level (`debug`, `INFO`,
    /// `warning`, `err`, `fatal`...). It sets the record's severity text
    /// as found and the severity number after the OpenTelemetry log data
    /// model. Overrides a preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_field: Option<String>,
    /// What to do with a line that does not parse: `pass` it on unchanged,
    /// `drop` it (it is acknowledged: dropping it was asked for), or `flag`
    /// it with the attribute `neurallog.parse_failed: true` and pass it
    /// on. Each is counted in
    /// `neurallog_agent_transform_parse_failures_total`.
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// Formats the parse transform reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParseFormat {
    /// A JSON object; its members become attributes (objects as maps,
    /// arrays as lists; `null` members are left out).
    Json,
    /// `key=value` pairs separated by spaces; values may be quoted
    /// (`msg="a b"`), a bare key is `true`.
    Logfmt,
    /// The named captures of `pattern`.
    Regex,
    /// Apache's and nginx's `combined` access log: client, user, time,
    /// request, status, size, referer, user agent. Severity from the
    /// status: 5xx `ERROR`, 4xx `WARN`, others `INFO`.
    ApacheCombined,
    /// Apache's `common` access log: `combined` without referer and user
    /// agent.
    ApacheCommon,
    /// nginx's default `combined` access log, the same format as Apache's.
    NginxCombined,
    /// BSD syslog (RFC 3164) as syslog daemons write it to files, the
    /// `<PRI>` optional: `Oct 11 22:14:15 host app[123]: message`. The
    /// year, which the line lacks, is the one that puts the time closest
    /// before the agent read it.
    SyslogRfc3164,
    /// An auth log (`/var/log/auth.log`, `/var/log/secure`): syslog lines
    /// as `syslog_rfc3164`, and sshd's logins read into `ssh.event`
    /// (`failed`, `accepted`, `invalid_user`), `ssh.auth.method`,
    /// `ssh.invalid_user`, `user.name`, `client.address` and
    /// `client.port`; a failed or invalid login is `WARN`, an accepted one
    /// `INFO`.
    Auth,
    /// Syslog (RFC 5424): `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`.
    SyslogRfc5424,
    /// The Kubernetes components' log format (klog):
    /// `I0501 12:00:00.123456 1234 file.go:42] message`. The time is read
    /// as UTC, its year found as for `syslog_rfc3164`.
    Klog,
}

/// What the parse transform does with a line it cannot parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Pass it on unchanged.
    #[default]
    Pass,
    /// Drop it (acknowledged: it was handled).
    Drop,
    /// Pass it on with `neurallog.parse_failed: true`.
    Flag,
}

// === impl ParseConfig ===

impl Validate for ParseConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        match (self.format, &self.pattern) {
            (ParseFormat::Regex, None) => errors.push(path.field("pattern").error(
                "is missing: `format: regex` needs a pattern with named captures, like `^(?P<level>\\w+) (?P<message>.*)$`",
            )),
            (ParseFormat::Regex, Some(pattern)) => match regex::Regex::new(pattern) {
                Err(error) => errors.push(
                    path.field("pattern")
                        .error(format!("{pattern:?} is not a valid regex: {error}")),
                ),
                Ok(regex) if regex.capture_names().flatten().next().is_none() => {
                    errors.push(path.field("pattern").error(format!(
                        "{pattern:?} has no named captures: expected at least one `(?P<name>...)`"
                    )));
                }
                Ok(_) => {}
            },
            (_, Some(_)) => errors.push(
                path.field("pattern")
                    .error("is only read with `format: regex`: remove it or set `format: regex`"),
            ),
            (_, None) => {}
        }
        for (name, field) in [
            ("timestamp_field", &self.timestamp_field),
            ("severity_field", &self.severity_field),
        ] {
            if field.as_deref() == Some("") {
                errors.push(
                    path.field(name)
                        .error("is empty: expected an attribute name"),
                );
            }
        }
    }
}
