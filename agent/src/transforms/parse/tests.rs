//! The parsers over real lines: the Apache access log in
//! `tests/fixtures/syslog` (see SOURCES.md), syslog and klog lines as
//! their daemons write them.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::event::{Attributes, LogRecord, Resource};
use crate::time::{format_rfc3339_nanos, parse_rfc3339_nanos};

const ACCESS_LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/syslog/elastic-examples_apache_access_first2000.log"
);

fn parser(format: ParseFormat) -> Parser {
    parser_with(ParseConfig {
        format,
        pattern: None,
        timestamp_field: None,
        severity_field: None,
        on_failure: OnFailure::Pass,
    })
}

fn parser_with(config: ParseConfig) -> Parser {
    let mut errors = Vec::new();
    crate::config::Validate::validate(&config, &crate::config::FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    Parser::new(&config).unwrap()
}

fn record(body: &str) -> LogRecord {
    let mut log = LogRecord::new(
        body.to_owned(),
        Arc::new(Attributes::new()),
        Arc::new(Resource::default()),
    );
    log.observed_time_unix_nano = parse_rfc3339_nanos(b"2026-03-01T00:00:00Z").unwrap();
    log
}

fn parsed(parser: &mut Parser, body: &str) -> LogRecord {
    let mut log = record(body);
    let (keep, ok) = parser.parse_record(&mut log);
    assert!(keep && ok, "did not parse: {body}");
    log
}

fn attr<'a>(log: &'a LogRecord, key: &str) -> &'a AnyValue {
    log.attributes
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", log.attributes))
}

fn time(log: &LogRecord) -> String {
    format_rfc3339_nanos(log.time_unix_nano)
}

#[test]
fn apache_combined_reads_every_field_of_a_real_line() {
    let line = std::fs::read_to_string(ACCESS_LOG).unwrap();
    let first = line.lines().next().unwrap();
    let log = parsed(&mut parser(ParseFormat::ApacheCombined), first);
    assert_eq!(
        attr(&log, "client.address"),
        &AnyValue::from("83.149.9.216")
    );
    assert_eq!(attr(&log, "http.request.method"), &AnyValue::from("GET"));
    assert_eq!(
        attr(&log, "url.path"),
        &AnyValue::from("/presentations/logstash-monitorama-2013/images/kibana-search.png")
    );
    assert_eq!(attr(&log, "network.protocol.name"), &AnyValue::from("http"));
    assert_eq!(
        attr(&log, "network.protocol.version"),
        &AnyValue::from("1.1")
    );
    assert_eq!(attr(&log, "http.response.status_code"), &AnyValue::Int(200));
    assert_eq!(
        attr(&log, "http.response.body.size"),
        &AnyValue::Int(203023)
    );
    assert_eq!(
        attr(&log, "http.request.header.referer"),
        &AnyValue::from("http://semicomplete.com/presentations/logstash-monitorama-2013/")
    );
    assert!(
        attr(&log, "user_agent.original")
            .to_string()
            .starts_with("Mozilla/5.0 (Macintosh")
    );
    assert_eq!(log.attributes.get("user.name"), None, "`-` is no user");
    assert_eq!(time(&log), "2015-05-17T10:05:03.000000000Z");
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (9, Some("INFO"))
    );
    assert_eq!(log.body, first, "the body stays the line");
}

#[test]
fn every_line_of_the_real_access_log_parses() {
    let text = std::fs::read_to_string(ACCESS_LOG).unwrap();
    let mut parser = parser(ParseFormat::ApacheCombined);
    let mut statuses = std::collections::BTreeMap::new();
    for line in text.lines() {
        let log = parsed(&mut parser, line);
        let AnyValue::Int(status) = attr(&log, "http.response.status_code") else {
            panic!("status is a number");
        };
        *statuses.entry(*status).or_insert(0) += 1;
        let expected = if *status >= 400 { 13 } else { 9 };
        assert_eq!(log.severity_number, expected, "{line}");
    }
    // Counted with `awk '{print $9}' | sort | uniq -c`.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [(200, 1845), (206, 21), (301, 62), (304, 37), (404, 35)]
    );
}

#[test]
fn access_lines_with_a_query_no_size_a_user_and_escaped_quotes() {
    let mut combined = parser(ParseFormat::ApacheCombined);
    let log = parsed(
        &mut combined,
        r#"218.30.103.62 - - [17/May/2015:11:05:11 +0000] "GET /robots.txt?a=1 HTTP/1.1" 503 - "-" "Sogou \"web\" spider/4.0""#,
    );
    assert_eq!(attr(&log, "url.path"), &AnyValue::from("/robots.txt"));
    assert_eq!(attr(&log, "url.query"), &AnyValue::from("a=1"));
    assert_eq!(log.attributes.get("http.response.body.size"), None);
    assert_eq!(log.attributes.get("http.request.header.referer"), None);
    assert_eq!(
        attr(&log, "user_agent.original"),
        &AnyValue::from(r#"Sogou "web" spider/4.0"#)
    );
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (17, Some("ERROR"))
    );

    let mut common = parser(ParseFormat::ApacheCommon);
    let log = parsed(
        &mut common,
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
    );
    assert_eq!(attr(&log, "user.name"), &AnyValue::from("frank"));
    assert_eq!(time(&log), "2000-10-10T20:55:36.000000000Z");
    // A probe's junk request line is kept whole.
    let log = parsed(
        &mut common,
        r#"10.0.0.9 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 226"#,
    );
    assert_eq!(
        attr(&log, "http.request.line"),
        &AnyValue::from(r"\x16\x03\x01")
    );
    for bad in [
        "",
        "not an access line",
        r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" abc 12"#,
        r#"127.0.0.1 - - [yesterday] "GET / HTTP/1.0" 200 12"#,
        r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0 200 12"#,
    ] {
        assert!(
            common.parse_body(&ByteString::from(bad), 0).is_none(),
            "{bad}"
        );
    }
}

#[test]
fn syslog_rfc3164_as_rsyslog_writes_it_to_files() {
    let mut p = parser(ParseFormat::SyslogRfc3164);
    let log = parsed(
        &mut p,
        "Feb 28 06:25:31 web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 51122 ssh2",
    );
    assert_eq!(attr(&log, "syslog.hostname"), &AnyValue::from("web-1"));
    assert_eq!(attr(&log, "syslog.appname"), &AnyValue::from("sshd"));
    assert_eq!(attr(&log, "syslog.procid"), &AnyValue::from("4242"));
    assert_eq!(time(&log), "2026-02-28T06:25:31.000000000Z");
    assert_eq!(log.severity_number, 0, "no <PRI>, no severity");

    let log = parsed(
        &mut p,
        "<34>Oct  1 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    );
    assert_eq!(attr(&log, "syslog.facility"), &AnyValue::Int(4));
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (22, Some("crit"))
    );
    assert_eq!(attr(&log, "syslog.appname"), &AnyValue::from("su"));
    // October is after March: the line is from last year.
    assert_eq!(time(&log), "2025-10-01T22:14:15.000000000Z");

    let log = parsed(&mut p, "2026-02-28T06:25:31.5+01:00 web-1 kernel: eth0 up");
    assert_eq!(time(&log), "2026-02-28T05:25:31.500000000Z");
    for bad in [
        "",
        "Foo 28 06:25:31 web-1 x: y",
        "<999>Feb 28 06:25:31 h a: b",
    ] {
        assert!(p.parse_body(&ByteString::from(bad), 0).is_none(), "{bad}");
    }
}

#[test]
fn syslog_rfc5424_with_structured_data() {
    let mut p = parser(ParseFormat::SyslogRfc5424);
    let log = parsed(
        &mut p,
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event"#,
    );
    assert_eq!(attr(&log, "syslog.facility"), &AnyValue::Int(20));
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (10, Some("notice"))
    );
    assert_eq!(
        attr(&log, "syslog.hostname"),
        &AnyValue::from("mymachine.example.com")
    );
    assert_eq!(attr(&log, "syslog.appname"), &AnyValue::from("evntslog"));
    assert_eq!(log.attributes.get("syslog.procid"), None);
    assert_eq!(attr(&log, "syslog.msgid"), &AnyValue::from("ID47"));
    assert_eq!(time(&log), "2003-10-11T22:14:15.003000000Z");
    let AnyValue::Map(data) = attr(&log, "syslog.structured_data") else {
        panic!("structured data is a map");
    };
    let AnyValue::Map(params) = data.get("exampleSDID@32473").unwrap() else {
        panic!("an element is a map");
    };
    assert_eq!(params.get("eventID"), Some(&AnyValue::from("1011")));

    let log = parsed(
        &mut p,
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
    );
    assert_eq!(log.attributes.get("syslog.structured_data"), None);
    assert!(
        p.parse_body(&ByteString::from("<34>2 2003-10-11T22:14:15Z h a - - -"), 0)
            .is_none()
    );
    assert!(
        p.parse_body(&ByteString::from("Oct 11 22:14:15 h a: b"), 0)
            .is_none()
    );
}

#[test]
fn klog_header() {
    let mut p = parser(ParseFormat::Klog);
    let log = parsed(
        &mut p,
        r#"E0227 13:55:36.123456    1234 reflector.go:138] k8s.io/client-go: Failed to watch *v1.Pod: unknown"#,
    );
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (17, Some("ERROR"))
    );
    assert_eq!(time(&log), "2026-02-27T13:55:36.123456000Z");
    assert_eq!(attr(&log, "thread.id"), &AnyValue::Int(1234));
    assert_eq!(attr(&log, "code.filepath"), &AnyValue::from("reflector.go"));
    assert_eq!(attr(&log, "code.lineno"), &AnyValue::Int(138));
    assert!(
        p.parse_body(&ByteString::from("X0227 13:55:36.123456 1 a.go:1] x"), 0)
            .is_none()
    );
}

#[test]
fn json_with_timestamp_and_severity_fields() {
    let mut p = parser_with(ParseConfig {
        format: ParseFormat::Json,
        pattern: None,
        timestamp_field: Some("ts".into()),
        severity_field: Some("level".into()),
        on_failure: OnFailure::Pass,
    });
    let log = parsed(
        &mut p,
        r#"{"ts":"2024-05-01T12:00:00.25Z","level":"warning","msg":"disk slow","ms":12,"ratio":0.5,"ok":false,"tags":["a","b"],"req":{"id":"x"},"gone":null}"#,
    );
    assert_eq!(time(&log), "2024-05-01T12:00:00.250000000Z");
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (13, Some("warning"))
    );
    assert_eq!(attr(&log, "ms"), &AnyValue::Int(12));
    assert_eq!(attr(&log, "ratio"), &AnyValue::Double(0.5));
    assert_eq!(attr(&log, "ok"), &AnyValue::Bool(false));
    assert_eq!(
        attr(&log, "tags"),
        &AnyValue::Array(vec!["a".into(), "b".into()])
    );
    assert_eq!(attr(&log, "req").to_string(), r#"{"id":"x"}"#);
    assert_eq!(log.attributes.get("gone"), None);
    for bad in ["[1,2]", "{\"a\":", "plain text"] {
        assert!(p.parse_body(&ByteString::from(bad), 0).is_none(), "{bad}");
    }
}

#[test]
fn logfmt_pairs_quoted_values_and_bare_keys() {
    let mut p = parser_with(ParseConfig {
        format: ParseFormat::Logfmt,
        pattern: None,
        timestamp_field: Some("t".into()),
        severity_field: Some("level".into()),
        on_failure: OnFailure::Pass,
    });
    let log = parsed(
        &mut p,
        r#"t=1714564800 level=error msg="could not \"connect\"" retry dry_run=true"#,
    );
    assert_eq!(time(&log), "2024-05-01T12:00:00.000000000Z");
    assert_eq!(log.severity_number, 17);
    assert_eq!(attr(&log, "msg"), &AnyValue::from(r#"could not "connect""#));
    assert_eq!(attr(&log, "retry"), &AnyValue::Bool(true));
    assert_eq!(attr(&log, "dry_run"), &AnyValue::from("true"));
    for bad in ["just words here", "a=\"open", ""] {
        assert!(p.parse_body(&ByteString::from(bad), 0).is_none(), "{bad}");
    }
}

#[test]
fn regex_named_captures_become_attributes() {
    let mut p = parser_with(ParseConfig {
        format: ParseFormat::Regex,
        pattern: Some(
            r"^Failed password for (invalid user )?(?P<user>\S+) from (?P<source_ip>\S+) port (?P<port>\d+)".into(),
        ),
        timestamp_field: None,
        severity_field: None,
        on_failure: OnFailure::Pass,
    });
    let log = parsed(
        &mut p,
        "Failed password for invalid user admin from 203.0.113.7 port 51122 ssh2",
    );
    assert_eq!(attr(&log, "user"), &AnyValue::from("admin"));
    assert_eq!(attr(&log, "source_ip"), &AnyValue::from("203.0.113.7"));
    assert_eq!(attr(&log, "port"), &AnyValue::from("51122"));
    assert_eq!(log.attributes.len(), 3, "unnamed groups are not attributes");
    assert!(
        p.parse_body(&ByteString::from("Accepted publickey for bob"), 0)
            .is_none()
    );
}

#[test]
fn on_failure_passes_drops_or_flags_and_counts() {
    let metrics = ComponentMetrics::new(
        "parse-failures-test",
        crate::config::ComponentKind::Transform,
        "parse",
    );
    for (on_failure, kept, flagged) in [
        (OnFailure::Pass, 2, false),
        (OnFailure::Drop, 1, false),
        (OnFailure::Flag, 2, true),
    ] {
        let mut p = parser_with(ParseConfig {
            format: ParseFormat::Json,
            pattern: None,
            timestamp_field: None,
            severity_field: None,
            on_failure,
        })
        .with_metrics(metrics.clone());
        let mut events: Vec<Event> = vec![record("not json").into(), record(r#"{"a":1}"#).into()];
        p.process(&mut events);
        assert_eq!(events.len(), kept, "{on_failure:?}");
        let Event::Log(first) = &events[0] else {
            panic!("logs stay logs");
        };
        if on_failure != OnFailure::Drop {
            assert_eq!(first.body, "not json", "an unparsed line is unchanged");
            assert_eq!(
                first.attributes.get(PARSE_FAILED_ATTRIBUTE).is_some(),
                flagged,
                "{on_failure:?}"
            );
        }
    }
    assert_eq!(TransformMetrics::new(metrics).parse_failures(), 3);
}

#[test]
fn auth_logs_read_sshd_logins() {
    let mut p = parser(ParseFormat::Auth);
    let log = parsed(
        &mut p,
        "Feb 28 06:25:31 web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 51122 ssh2",
    );
    assert_eq!(attr(&log, "syslog.appname"), &AnyValue::from("sshd"));
    assert_eq!(attr(&log, "ssh.event"), &AnyValue::from("failed"));
    assert_eq!(attr(&log, "ssh.auth.method"), &AnyValue::from("password"));
    assert_eq!(attr(&log, "ssh.invalid_user"), &AnyValue::Bool(true));
    assert_eq!(attr(&log, "user.name"), &AnyValue::from("admin"));
    assert_eq!(attr(&log, "client.address"), &AnyValue::from("203.0.113.7"));
    assert_eq!(attr(&log, "client.port"), &AnyValue::Int(51122));
    assert_eq!(
        (log.severity_number, log.severity_text.as_deref()),
        (13, Some("WARN"))
    );
    assert_eq!(time(&log), "2026-02-28T06:25:31.000000000Z");

    let log = parsed(
        &mut p,
        "Feb 28 06:26:00 web-1 sshd[4250]: Accepted publickey for deploy from 2001:db8::5 port 50000 ssh2: ED25519 SHA256:abc",
    );
    assert_eq!(attr(&log, "ssh.event"), &AnyValue::from("accepted"));
    assert_eq!(attr(&log, "ssh.auth.method"), &AnyValue::from("publickey"));
    assert_eq!(attr(&log, "ssh.invalid_user"), &AnyValue::Bool(false));
    assert_eq!(attr(&log, "client.address"), &AnyValue::from("2001:db8::5"));
    assert_eq!(log.severity_number, 9);

    let log = parsed(
        &mut p,
        "Feb 28 06:27:00 web-1 sshd[4251]: Invalid user oracle from 198.51.100.4 port 40022",
    );
    assert_eq!(attr(&log, "ssh.event"), &AnyValue::from("invalid_user"));
    assert_eq!(attr(&log, "user.name"), &AnyValue::from("oracle"));
    assert_eq!(attr(&log, "ssh.attempts"), &AnyValue::Int(1));

    // rsyslog's repeated-message reduction: three failed passwords on one
    // connection, in one line.
    let log = parsed(
        &mut p,
        "Feb 28 06:27:30 web-1 sshd[4252]: message repeated 3 times: [ Failed password for root from 198.51.100.9 port 40100 ssh2]",
    );
    assert_eq!(attr(&log, "ssh.event"), &AnyValue::from("failed"));
    assert_eq!(attr(&log, "user.name"), &AnyValue::from("root"));
    assert_eq!(attr(&log, "client.port"), &AnyValue::Int(40100));
    assert_eq!(attr(&log, "ssh.attempts"), &AnyValue::Int(3));
    assert_eq!(log.severity_number, 13);

    // Other sshd messages and other programs: syslog fields only.
    for line in [
        "Feb 28 06:28:00 web-1 sshd[4251]: Connection closed by 198.51.100.4 port 40022 [preauth]",
        "Feb 28 06:28:10 web-1 sshd[4251]: message repeated 2 times: [ Connection closed by 198.51.100.4 port 40022 [preauth]]",
        "Feb 28 06:28:20 web-1 sshd[4251]: message repeated x times: [ Failed password for root from 198.51.100.9 port 1 ssh2]",
        "Feb 28 06:29:00 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
        "Feb 28 06:30:00 web-1 CRON[99]: Failed password for x from y port 1",
    ] {
        let log = parsed(&mut p, line);
        assert!(log.attributes.get("ssh.event").is_none(), "{line}");
        assert!(log.attributes.get("syslog.hostname").is_some(), "{line}");
    }
}

/// JSON objects written out as text: repeated keys, `null`s, escapes,
/// numbers past `i64`, nesting.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(vec![
        "null",
        "true",
        "-7",
        "18446744073709551615",
        "1.5e3",
        "\"plain\"",
        "\"esc\\\"aped\\n\"",
        "\"\"",
        "\"é\"",
    ])
    .prop_map(str::to_owned);
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            members(inner),
        ]
    });
    members(value)
}

fn members(value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let key = proptest::sample::select(vec!["a", "b", "z", "é", "k\\\"q", ""]);
    proptest::collection::vec((key, value), 0..5).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// A JSON object read through `serde_json::Value`, the plain way.
fn json_reference(line: &str) -> Option<Attributes> {
    fn object(members: serde_json::Map<String, serde_json::Value>) -> Attributes {
        let mut attributes = Attributes::new();
        for (key, value) in members {
            if let Some(value) = any_value(value) {
                attributes.insert(key, value);
            }
        }
        attributes
    }
    fn any_value(value: serde_json::Value) -> Option<AnyValue> {
        use serde_json::Value;
        Some(match value {
            Value::Null => return None,
            Value::Bool(b) => AnyValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AnyValue::Int(i),
                None => AnyValue::Double(n.as_f64()?),
            },
            Value::String(s) => AnyValue::from(s),
            Value::Array(values) => {
                AnyValue::Array(values.into_iter().filter_map(any_value).collect())
            }
            Value::Object(members) => AnyValue::Map(object(members)),
        })
    }
    let serde_json::Value::Object(members) = serde_json::from_str(line).ok()? else {
        return None;
    };
    Some(object(members))
}

proptest! {
    #[test]
    fn a_json_line_is_read_as_through_serde_json_value(text in json_text(), cut in 0usize..64) {
        let line = ByteString::from(text.clone());
        let found = structured::json(&line).map(|parsed| parsed.attributes);
        prop_assert_eq!(found, json_reference(&text));
        // Cut short: not JSON, for both.
        let cut = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(0);
        let short = ByteString::from(text[..cut].to_owned());
        prop_assert_eq!(structured::json(&short).map(|p| p.attributes), json_reference(&short));
    }
}
