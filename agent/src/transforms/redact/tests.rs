//! Each detector on what it must find and on the near misses it must
//! leave alone.

use super::*;
use crate::config::{FieldPath, Validate};
use crate::event::{AnyValue, Attributes, Event, LogRecord, Resource};
use crate::transforms::Transform;
use std::sync::Arc;

fn config() -> RedactConfig {
    serde_yaml_ng::from_str("{}").unwrap()
}

fn redactor(config: &RedactConfig) -> Redactor {
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    Redactor::new(config).unwrap()
}

fn with_pii(pii: &[&str]) -> Redactor {
    let mut config = config();
    config.pii = pii.iter().map(|s| (*s).to_owned()).collect();
    redactor(&config)
}

/// What `text` becomes, and the detectors that fired.
fn redacted(r: &mut Redactor, text: &str) -> (String, Vec<String>) {
    let before = r.counts().to_vec();
    let out = r.redact(text).unwrap_or_else(|| text.to_owned());
    let fired = r
        .detector_names()
        .zip(r.counts().iter().zip(before))
        .filter(|(_, (now, then))| **now > *then)
        .map(|(name, _)| name.to_owned())
        .collect();
    (out, fired)
}

#[track_caller]
fn assert_redacts(r: &mut Redactor, text: &str, secret: &str, expected: &str, detector: &str) {
    let (out, fired) = redacted(r, text);
    assert_eq!(out, expected);
    assert!(!out.contains(secret), "{secret:?} left in {out:?}");
    assert_eq!(fired, [detector]);
}

#[track_caller]
fn assert_keeps(r: &mut Redactor, text: &str) {
    assert_eq!(r.redact(text), None, "changed {text:?}");
}

#[test]
fn authorization_headers_keep_their_scheme() {
    let mut r = redactor(&config());
    assert_redacts(
        &mut r,
        "GET /api Authorization: Basic dXNlcjpwYXNzd29yZA== from 10.0.0.1",
        "dXNlcjpwYXNzd29yZA==",
        "GET /api Authorization: Basic [REDACTED:authorization_header] from 10.0.0.1",
        "authorization_header",
    );
    assert_redacts(
        &mut r,
        r#"{"headers":{"authorization":"Bearer abcdef123456"}}"#,
        "abcdef123456",
        r#"{"headers":{"authorization":"Bearer [REDACTED:authorization_header]"}}"#,
        "authorization_header",
    );
    assert_keeps(&mut r, "authorization: ok");
}

/// Found by the `transforms` fuzz target, redacting what a redaction left
/// (a second `redact` on the way to one sink): `authorization_header`'s
/// scheme is optional in its pattern, so it took `Bearer` for the
/// credentials once the marker after it could not be them, and replaced
/// the scheme too; `url_password` found its own marker where the password
/// was and counted it again.
#[test]
fn fuzz_a_second_redaction_changes_and_counts_nothing() {
    let mut r = redactor(&config());
    for line in [
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        r#"{"authorization":"Basic dXNlcjpwYXNzd29yZA=="}"#,
        "authorization=Negotiate YIIJvwYGKwYBBQUCoIIJszCCCa",
        "https://user:p@ss:w0rd@host.example.com/path",
    ] {
        let (once, _) = redacted(&mut r, line);
        assert_ne!(once, line);
        let (twice, fired) = redacted(&mut r, &once);
        assert_eq!(twice, once, "{line}");
        assert!(fired.is_empty(), "{line}: {fired:?}");
    }
    // The schemes the check knows are the pattern's.
    let pattern = SECRETS
        .iter()
        .find(|d| d.name == "authorization_header")
        .unwrap()
        .pattern;
    let alternation = format!("(?:{})", AUTHORIZATION_SCHEMES.join("|"));
    assert!(pattern.contains(&alternation), "{pattern}");
    // A scheme with no credentials after it is not a secret either.
    assert_keeps(&mut r, "Authorization: Bearer");
    assert_keeps(&mut r, "authorization: token ");
}

#[test]
fn bearer_tokens() {
    let mut r = redactor(&config());
    assert_redacts(
        &mut r,
        "calling upstream with bearer 9f8e7d6c5b4a3210.token",
        "9f8e7d6c5b4a3210.token",
        "calling upstream with bearer [REDACTED:bearer_token]",
        "bearer_token",
    );
    // As a field's name.
    for (line, expected) in [
        (
            "auth bearer: 9f8e7d6c5b4a3210.token ok",
            "auth bearer: [REDACTED:bearer_token] ok",
        ),
        (
            r#"{"bearer":"9f8e7d6c5b4a3210.token"}"#,
            r#"{"bearer":"[REDACTED:bearer_token]"}"#,
        ),
    ] {
        assert_redacts(&mut r, line, "9f8e7d6c5b4a3210", expected, "bearer_token");
    }
    // "Bearer" in prose, with no token after it; a token's type.
    assert_keeps(&mut r, "the bearer of bad news");
    assert_keeps(&mut r, "bearerAuthentication enabled");
    assert_keeps(&mut r, r#"{"token_type":"Bearer","expires_in":3600}"#);
}

#[test]
fn passwords_in_urls() {
    let mut r = redactor(&config());
    // Found by the `transforms` fuzz target: the password ran on to the
    // last `@` of the line, across quotes and what another detector had
    // replaced, taking the JSON around it.
    let (out, fired) = redacted(
        &mut r,
        r#"{"url":"https://u:pw@h","mail":"a@b.example","db.Password":"x y"}"#,
    );
    assert_eq!(
        out,
        r#"{"url":"https://u:[REDACTED:url_password]@h","mail":"a@b.example","db.Password":"[REDACTED:secret_field]"}"#
    );
    assert_eq!(fired, ["url_password", "secret_field"]);
    let (again, fired) = redacted(&mut r, &out);
    assert_eq!((again.as_str(), fired.len()), (out.as_str(), 0));
    assert_redacts(
        &mut r,
        "connecting to postgres://app:s3cr3t-Pa55@db.internal:5432/app",
        "s3cr3t-Pa55",
        "connecting to postgres://app:[REDACTED:url_password]@db.internal:5432/app",
        "url_password",
    );
    assert_keeps(&mut r, "GET https://example.com:8443/path?q=a@b");
    assert_keeps(&mut r, "referer http://www.example.com/index.html");
    // The user info ends at its last `@`, as URL parsers read it: a
    // password with an `@` of its own, a user name that is an address.
    assert_redacts(
        &mut r,
        "https://user:p@ss:w0rd@host.example.com/path",
        "ss:w0rd",
        "https://user:[REDACTED:url_password]@host.example.com/path",
        "url_password",
    );
    assert_redacts(
        &mut r,
        "smtp://bob@example.com:hunter2@mail.example.com:587",
        "hunter2",
        "smtp://bob@example.com:[REDACTED:url_password]@mail.example.com:587",
        "url_password",
    );
    assert_keeps(&mut r, "cloning ssh://git@github.com:22/org/repo.git");
}

#[test]
fn aws_keys() {
    let mut r = redactor(&config());
    assert_redacts(
        &mut r,
        "key=AKIAIOSFODNN7EXAMPLE region=us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "key=[REDACTED:aws_access_key] region=us-east-1",
        "aws_access_key",
    );
    // One character short of a key id.
    assert_keeps(&mut r, "key=AKIAIOSFODNN7EXAMPL region=us-east-1");
    // Part of a longer word.
    assert_keeps(&mut r, "xAKIAIOSFODNN7EXAMPLEx");
    assert_redacts(
        &mut r,
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = [REDACTED:aws_secret_key]\n",
        "aws_secret_key",
    );
    // The API's and the CLI's JSON.
    let (out, fired) = redacted(
        &mut r,
        r#"{"AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
    );
    assert_eq!(
        out,
        r#"{"AccessKeyId":"[REDACTED:aws_access_key]","SecretAccessKey":"[REDACTED:aws_secret_key]"}"#
    );
    assert_eq!(fired, ["aws_access_key", "aws_secret_key"]);
    // Forty characters with no name saying what they are: a hash, say.
    assert_keeps(&mut r, "commit wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    // Thirty-nine after the name: not an AWS key, but the value of a
    // field named as a secret key all the same.
    assert_redacts(
        &mut r,
        "AWS_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE",
        "AWS_SECRET_KEY=[REDACTED:secret_field]",
        "secret_field",
    );
}

#[test]
fn gcp_keys() {
    let mut r = redactor(&config());
    let key = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe";
    assert_redacts(
        &mut r,
        &format!("maps?key={key}&v=3"),
        key,
        "maps?key=[REDACTED:gcp_api_key]&v=3",
        "gcp_api_key",
    );
    assert_keeps(&mut r, "maps?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGew&v=3");
    let (out, fired) = redacted(
        &mut r,
        r#"{"type": "service_account", "private_key_id": "3f2a9c0e1b", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n", "client_email": "x"}"#,
    );
    assert_eq!(
        out,
        r#"{"type": "service_account", "private_key_id": "[REDACTED:gcp_service_account_key]", "private_key": "[REDACTED:gcp_service_account_key]", "client_email": "x"}"#
    );
    assert_eq!(fired, ["gcp_service_account_key"]);
}

#[test]
fn private_key_blocks_whole_or_cut() {
    let mut r = redactor(&config());
    assert_redacts(
        &mut r,
        "loaded -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34\n-----END RSA PRIVATE KEY----- ok",
        "MIIBOgIBAAJBAKj34",
        "loaded [REDACTED:private_key] ok",
        "private_key",
    );
    assert_redacts(
        &mut r,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA",
        "b3BlbnNzaC1rZXktdjEAAAA",
        "[REDACTED:private_key]",
        "private_key",
    );
    assert_redacts(
        &mut r,
        "gpg: -----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0Lx2kBCAC\n-----END PGP PRIVATE KEY BLOCK----- exported",
        "lQOYBF0Lx2kBCAC",
        "gpg: [REDACTED:private_key] exported",
        "private_key",
    );
    assert_keeps(
        &mut r,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENBF0\n-----END PGP PUBLIC KEY BLOCK-----",
    );
    // A certificate is public.
    assert_keeps(
        &mut r,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    );
}

#[test]
fn jwts() {
    let mut r = redactor(&config());
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_redacts(
        &mut r,
        &format!("token={jwt} user=1"),
        jwt,
        "token=[REDACTED:jwt] user=1",
        "jwt",
    );
    // Only a header.
    assert_keeps(&mut r, "header=eyJhbGciOiJIUzI1NiJ9 user=1");
    // Named a token, it is one all the same.
    assert_redacts(
        &mut r,
        "token=eyJhbGciOiJIUzI1NiJ9 user=1",
        "eyJhbGciOiJIUzI1NiJ9",
        "token=[REDACTED:secret_field] user=1",
        "secret_field",
    );
}

#[test]
fn emails_only_when_asked() {
    let text = "password reset sent to jane.doe+test@example.co.uk";
    assert_keeps(&mut redactor(&config()), text);
    assert_redacts(
        &mut with_pii(&["email"]),
        text,
        "jane.doe+test@example.co.uk",
        "password reset sent to [REDACTED:email]",
        "email",
    );
    assert_keeps(&mut with_pii(&["email"]), "user@localhost logged in");
    // URL-encoded, in a query string.
    assert_redacts(
        &mut with_pii(&["email"]),
        "GET /reset?email=jane.doe%40example.com&lang=en HTTP/1.1",
        "jane.doe%40example.com",
        "GET /reset?email=[REDACTED:email]&lang=en HTTP/1.1",
        "email",
    );
}

#[test]
fn card_numbers_must_pass_luhn() {
    let mut r = with_pii(&["credit_card"]);
    assert_redacts(
        &mut r,
        "paid with 4111 1111 1111 1111 today",
        "4111 1111 1111 1111",
        "paid with [REDACTED:credit_card] today",
        "credit_card",
    );
    assert_redacts(
        &mut r,
        "card=5500-0000-0000-0004",
        "5500-0000-0000-0004",
        "card=[REDACTED:credit_card]",
        "credit_card",
    );
    // Sixteen digits that fail the Luhn check: an order number.
    assert_keeps(&mut r, "order 4111111111111112 shipped");
    // Too short to be a card.
    assert_keeps(&mut r, "id 411111111111");
    // A time in epoch milliseconds that passes Luhn: no card starts with 1.
    assert!(luhn("1733500000000"));
    assert_keeps(&mut r, r#"{"ts":1733500000000,"msg":"ok"}"#);
    // Amex, 15 digits in its 4-6-5 groups.
    assert_redacts(
        &mut r,
        "amex 3782 822463 10005 declined",
        "822463",
        "amex [REDACTED:credit_card] declined",
        "credit_card",
    );
    assert!(luhn("378282246310005"));
    assert!(!luhn("4111111111111112"));
}

#[test]
fn ip_addresses() {
    let mut r = with_pii(&["ipv4", "ipv6"]);
    assert_redacts(
        &mut r,
        "accepted from 192.168.1.20 port 22",
        "192.168.1.20",
        "accepted from [REDACTED:ipv4] port 22",
        "ipv4",
    );
    assert_keeps(&mut r, "version 1.2.3 built 999.1.1.1x");
    assert_redacts(
        &mut r,
        "peer 2001:db8::8a2e:370:7334 closed",
        "2001:db8::8a2e:370:7334",
        "peer [REDACTED:ipv6] closed",
        "ipv6",
    );
    assert_redacts(
        &mut r,
        "listening on ::1",
        "::1",
        "listening on [REDACTED:ipv6]",
        "ipv6",
    );
    assert_keeps(&mut r, "at 12:00:05 in std::fmt::Display");
    for (line, expected) in [
        // Found by the `transforms` fuzz target: the start of a token that
        // goes on was taken for an address, leaving `8::1`, which a second
        // redaction took for another.
        ("from 2001::dbdb8::1 x", "from 2001::dbdb8::1 x"),
        ("addr 1:2:3:4:5:6:7:8::1", "addr 1:2:3:4:5:6:7:8::1"),
        // A colon after an address is not part of it.
        (
            "connect 2001:db8::1: refused",
            "connect [REDACTED:ipv6]: refused",
        ),
        ("route fe80:: via eth0", "route [REDACTED:ipv6] via eth0"),
        ("a 2001:db8:85a3:0:0:8a2e:370:7334", "a [REDACTED:ipv6]"),
        ("mac aa:bb:cc:dd:ee:ff", "mac aa:bb:cc:dd:ee:ff"),
    ] {
        let (once, _) = redacted(&mut r, line);
        assert_eq!(once, expected);
        let (twice, fired) = redacted(&mut r, &once);
        assert_eq!(twice, once);
        assert!(fired.is_empty(), "{line}: {fired:?}");
    }
}

#[test]
fn custom_patterns_replace_their_secret_group() {
    let mut config = config();
    config.secrets = false;
    config.marker = "<{detector}>".to_owned();
    config.patterns = vec![
        CustomPattern {
            name: "session".to_owned(),
            pattern: "session=(?P<secret>[0-9a-f]{8})".to_owned(),
        },
        CustomPattern {
            name: "ticket".to_owned(),
            pattern: "TCK-[0-9]+".to_owned(),
        },
    ];
    let mut r = redactor(&config);
    let (out, fired) = redacted(
        &mut r,
        "session=deadbeef ticket TCK-42 AKIAIOSFODNN7EXAMPLE",
    );
    assert_eq!(
        out,
        "session=<session> ticket <ticket> AKIAIOSFODNN7EXAMPLE"
    );
    assert_eq!(fired, ["session", "ticket"]);
}

#[test]
fn a_line_without_secrets_is_not_copied() {
    let mut r = with_pii(&["email"]);
    assert_keeps(
        &mut r,
        r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08""#,
    );
}

#[test]
fn records_body_and_own_attributes_are_redacted_and_counted() {
    let mut r = redactor(&config());
    let mut log = LogRecord::new(
        "login with AKIAIOSFODNN7EXAMPLE".to_owned(),
        Arc::new(Attributes::new().with("shared", "AKIAIOSFODNN7EXAMPLE")),
        Arc::new(Resource::default()),
    );
    log.attributes = Attributes::new()
        .with("url", "https://u:hunter22@example.com/")
        .with(
            "nested",
            AnyValue::Array(vec!["Bearer abcdefgh12345678".into(), AnyValue::Int(3)]),
        );
    let mut events = vec![Event::Log(log)];
    r.process(&mut events);
    let Event::Log(log) = &events[0] else {
        panic!("a log went in")
    };
    assert_eq!(&*log.body, "login with [REDACTED:aws_access_key]");
    assert_eq!(
        log.attributes.get("url").and_then(AnyValue::as_str),
        Some("https://u:[REDACTED:url_password]@example.com/")
    );
    assert_eq!(
        log.attributes.get("nested"),
        Some(&AnyValue::Array(vec![
            "Bearer [REDACTED:bearer_token]".into(),
            AnyValue::Int(3)
        ]))
    );
    // Shared attributes come from the configuration: left alone.
    assert_eq!(
        log.shared_attributes
            .get("shared")
            .and_then(AnyValue::as_str),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
    let counts: Vec<_> = r
        .detector_names()
        .zip(r.counts())
        .filter(|(_, c)| **c > 0)
        .collect();
    assert_eq!(
        counts,
        [
            ("bearer_token", &1),
            ("url_password", &1),
            ("aws_access_key", &1)
        ]
    );
}

#[test]
fn attributes_can_be_left_alone() {
    let mut config = config();
    config.attributes = false;
    let mut r = redactor(&config);
    let mut log = LogRecord::new(
        "plain".to_owned(),
        Arc::new(Attributes::new()),
        Arc::new(Resource::default()),
    );
    log.attributes = Attributes::new().with("key", "AKIAIOSFODNN7EXAMPLE");
    r.redact_record(&mut log);
    assert_eq!(
        log.attributes.get("key").and_then(AnyValue::as_str),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
}

#[test]
fn bad_configuration_is_refused_with_its_field_path() {
    let config: RedactConfig = serde_yaml_ng::from_str(
        r#"
        secrets: false
        pii: [email, phone]
        patterns:
          - { name: "bad name", pattern: "x" }
          - { name: jwt, pattern: "(" }
        marker: ""
        "#,
    )
    .unwrap();
    let mut errors = Vec::new();
    config.validate(
        &FieldPath::root().field("transforms").field("scrub"),
        &mut errors,
    );
    let errors: Vec<_> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "transforms.scrub.pii[1]",
        "transforms.scrub.patterns[0].name",
        "transforms.scrub.patterns[1].name",
        "transforms.scrub.patterns[1].pattern",
        "transforms.scrub.marker",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, path) in errors.iter().zip(expected) {
        assert!(error.contains(&format!(" {path}: ")), "{error}");
    }
}

/// Found by the `transforms` fuzz target: with `marker: REDACTED`, a
/// bearer token ending where an AWS key ID began (`…_id=AKIA…`) became
/// `REDACTEDAKIA…`, and the key, no longer a word of its own, went out
/// unseen. A marker must begin and end with a character that is not part
/// of a word.
#[test]
fn fuzz_a_marker_that_would_read_as_one_word_with_its_neighbours_is_refused() {
    for (marker, refused) in [
        ("REDACTED", true),
        ("{detector}", true),
        ("[{detector}]x", true),
        ("_", true),
        ("***", false),
        ("<{detector}>", false),
        ("[REDACTED]", false),
    ] {
        let mut config = config();
        config.marker = marker.to_owned();
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        assert_eq!(!errors.is_empty(), refused, "{marker}: {errors:?}");
    }
    let mut config = config();
    config.marker = "***".to_owned();
    let mut r = redactor(&config);
    let (out, fired) = redacted(
        &mut r,
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdW_access_key_id=AKIAIOSFODNN6EXAMPLE done",
    );
    // The token, then the key after it: two markers side by side.
    assert_eq!(out, "Bearer ****** done");
    assert_eq!(fired, ["bearer_token", "aws_access_key"]);
}

#[test]
fn overlapping_and_nested_anchors_each_run_their_detector() {
    // `AKIA` ends where `AIza` begins; `:` (ipv6) is inside `://`.
    let mut r = with_pii(&["ipv6"]);
    let gcp = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe";
    let (out, fired) = redacted(&mut r, &format!("xAKI{gcp} via ::1 and http://h/"));
    assert_eq!(
        out,
        "xAKI[REDACTED:gcp_api_key] via [REDACTED:ipv6] and http://h/"
    );
    assert_eq!(fired, ["gcp_api_key", "ipv6"]);
    // `@` (email) right after the end of `://`.
    let mut r = with_pii(&["email"]);
    let (out, fired) = redacted(&mut r, "see mailto://@x a@example.org");
    assert_eq!(out, "see mailto://@x [REDACTED:email]");
    assert_eq!(fired, ["email"]);
}

/// A parser's fields are parts of the body (views into it, or short
/// copies that know where in it they were found), and their detectors come
/// from the anchors found in the body rather than from a scan of their
/// own. Whatever the line, each field must come out exactly as a
/// redaction of a copy of it alone would leave it.
mod views_into_the_body {
    use proptest::prelude::*;

    use super::*;
    use crate::transforms::parse::{ParseConfig, Parser};

    /// Pieces of access-line fields: secrets, anchors cut short, anchors
    /// across the edges of fields, escapes.
    const PIECES: &[&str] = &[
        "a",
        "/",
        "-",
        "AKIAIOSFODNN7EXAMPLE",
        "AKI",
        "IA",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "https://u:hunter22@example.com/",
        "://",
        "Bearer abcdefgh12345678",
        "bearer",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIzNDU2",
        "secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "x@example.org",
        "10.1.2.3",
        "::1",
        "\\\"",
        "4111 1111 1111 1111",
    ];

    fn field() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 1..4)
            .prop_map(|pieces| pieces.concat())
    }

    fn access_line() -> impl Strategy<Value = String> {
        (field(), field(), field(), field(), field()).prop_map(
            |(user, path, query, referer, agent)| {
                let user = user.replace(['"', '\\', ' '], "u");
                let path = path.replace(['"', '\\', ' ', '?'], "p");
                let query = query.replace(['"', '\\', ' '], "q");
                format!(
                    r#"10.0.0.1 - {user} [10/Oct/2000:13:55:36 -0700] "GET /{path}?{query} HTTP/1.1" 200 12 "{referer}" "{agent}""#
                )
            },
        )
    }

    proptest! {
        #[test]
        fn each_field_is_redacted_as_a_scan_of_its_own_would(
            line in access_line(),
            pii in proptest::bool::ANY,
        ) {
            let parse: ParseConfig =
                serde_yaml_ng::from_str("format: apache_combined").unwrap();
            let mut parser = Parser::new(&parse).unwrap();
            let pii: &[&str] = if pii { &["email", "ipv4", "ipv6", "credit_card"] } else { &[] };
            let mut by_record = with_pii(pii);
            let mut alone = with_pii(pii);
            let mut log = LogRecord::new(
                line.clone(),
                Arc::new(Attributes::new()),
                Arc::new(Resource::default()),
            );
            let (_, parsed) = parser.parse_record(&mut log);
            prop_assume!(parsed);
            let fields: Vec<(String, AnyValue)> = log
                .attributes
                .iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect();
            by_record.redact_record(&mut log);
            let body = alone.redact(&line).unwrap_or_else(|| line.clone());
            prop_assert_eq!(&*log.body, body.as_str());
            for (key, value) in fields {
                let expected = match &value {
                    AnyValue::String(text) => {
                        let copy = String::from(&**text);
                        AnyValue::from(alone.redact(&copy).unwrap_or(copy))
                    }
                    other => other.clone(),
                };
                prop_assert_eq!(log.attributes.get(&key), Some(&expected), "{}", key);
            }
        }
    }
}

#[test]
fn a_detector_ignores_case_in_whole_or_not_at_all() {
    // Anchors are matched exactly unless the pattern starts with `(?i)`:
    // a pattern that ignored case only in part would find secrets the
    // exact anchors let through unscanned.
    for builtin in SECRETS.iter().chain(PII) {
        let inner = builtin.pattern.trim_start_matches("(?i)");
        assert!(
            !inner.contains("(?i"),
            "{}: `(?i` inside the pattern",
            builtin.name
        );
        assert_eq!(builtin.ignores_case(), inner.len() < builtin.pattern.len());
    }
}

#[test]
fn service_tokens_by_their_prefixes() {
    let mut r = redactor(&config());
    let github = "ghp_R4nd0mL00k1ngT0k3nW1thThirtySix01234";
    assert_redacts(
        &mut r,
        &format!("git push with {github} failed"),
        github,
        "git push with [REDACTED:github_token] failed",
        "github_token",
    );
    let fine_grained = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz";
    assert_redacts(
        &mut r,
        &format!("GITHUB_TOKEN={fine_grained}"),
        fine_grained,
        "GITHUB_TOKEN=[REDACTED:github_token]",
        "github_token",
    );
    let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
    assert_redacts(
        &mut r,
        &format!("posting with {slack}"),
        slack,
        "posting with [REDACTED:slack_token]",
        "slack_token",
    );
    let stripe = "sk_live_51HxY2abcdEFGHijklMNOPqr";
    assert_redacts(
        &mut r,
        &format!("charge via {stripe} ok"),
        stripe,
        "charge via [REDACTED:stripe_key] ok",
        "stripe_key",
    );
    // Too short to be one.
    assert_keeps(&mut r, "ghp_short and xoxb-123 and sk_live_abc");
    // One character short, and part of a longer word.
    assert_keeps(&mut r, "ghp_R4nd0mL00k1ngT0k3nW1thThirtySix0123 and");
    assert_keeps(&mut r, "my_ghp_R4nd0mL00k1ngT0k3nW1thThirtySix01234x");
}

#[test]
fn fields_named_as_secrets_lose_their_values() {
    let mut r = redactor(&config());
    assert_redacts(
        &mut r,
        "GET /login?user=bob&password=hunter2secret&next=/ HTTP/1.1",
        "hunter2secret",
        "GET /login?user=bob&password=[REDACTED:secret_field]&next=/ HTTP/1.1",
        "secret_field",
    );
    assert_redacts(
        &mut r,
        "env: DB_PASSWORD=hunter2secret HOME=/root",
        "hunter2secret",
        "env: DB_PASSWORD=[REDACTED:secret_field] HOME=/root",
        "secret_field",
    );
    // Quoted, to the closing quote, escaped quotes and spaces included.
    assert_redacts(
        &mut r,
        r#"{"user":"bob","password":"correct horse \"battery\" staple","ok":true}"#,
        "battery",
        r#"{"user":"bob","password":"[REDACTED:secret_field]","ok":true}"#,
        "secret_field",
    );
    assert_redacts(
        &mut r,
        "client_secret='two words' next=1",
        "two words",
        "client_secret='[REDACTED:secret_field]' next=1",
        "secret_field",
    );
    assert_redacts(
        &mut r,
        "X-Api-Key: 0123456789abcdef",
        "0123456789abcdef",
        "X-Api-Key: [REDACTED:secret_field]",
        "secret_field",
    );
    // Names in the cases they are written in.
    for text in [
        "dbPassword: hunter2x",
        "ApiKey=hunter2x",
        "AUTH_TOKEN=hunter2x",
        "PassWORD=hunter2x",
    ] {
        let (out, fired) = redacted(&mut r, text);
        assert!(!out.contains("hunter2x"), "{out}");
        assert_eq!(fired, ["secret_field"]);
    }
    // A JSON list of strings or numbers, its items; a list of lists or of
    // objects is not read here (a parser's field holds it).
    assert_redacts(
        &mut r,
        r#"{"api_keys":0,"apiKey":["k1-abcdef", 42],"n":1}"#,
        "k1-abcdef",
        r#"{"api_keys":0,"apiKey":[[REDACTED:secret_field]],"n":1}"#,
        "secret_field",
    );
    assert_redacts(
        &mut r,
        "vault login token=hvs.CAESIJ0123456789",
        "hvs.CAESIJ0123456789",
        "vault login token=[REDACTED:secret_field]",
        "secret_field",
    );
    // Words, not fields; other names that only start or end alike; flags;
    // and a value another detector already replaced.
    assert_keeps(
        &mut r,
        "Failed password for invalid user admin from 203.0.113.9 port 22 ssh2",
    );
    assert_keeps(&mut r, "password reset mailed; passwordless=on");
    assert_keeps(
        &mut r,
        "usage token_count=5 max_tokens=100 secretName=db-creds",
    );
    assert_keeps(&mut r, "require_password: true, api_key: null");
    assert_keeps(
        &mut r,
        "auth failed: token=expired, password: invalid, secret=missing, apiKey: Required",
    );
    assert_keeps(&mut r, "webhook signature: valid; password=disabled");
    let (out, fired) = redacted(&mut r, "x-api-key: AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe");
    assert_eq!(out, "x-api-key: [REDACTED:gcp_api_key]");
    assert_eq!(fired, ["gcp_api_key"]);
}

/// `body` as a parser of `format` leaves it, then redacted.
fn parsed_then_redacted(format: &str, body: &str) -> (LogRecord, Vec<(String, u64)>) {
    let parse: crate::transforms::parse::ParseConfig =
        serde_yaml_ng::from_str(&format!("format: {format}")).unwrap();
    let mut parser = crate::transforms::parse::Parser::new(&parse).unwrap();
    let mut r = redactor(&config());
    let mut events = vec![Event::Log(LogRecord::new(
        body.to_owned(),
        Arc::new(Attributes::new()),
        Arc::new(Resource::default()),
    ))];
    parser.process(&mut events);
    r.process(&mut events);
    let Some(Event::Log(log)) = events.pop() else {
        panic!("a log went in")
    };
    let counts = r
        .detector_names()
        .zip(r.counts())
        .filter(|(_, c)| **c > 0)
        .map(|(name, c)| (name.to_owned(), *c))
        .collect();
    (log, counts)
}

#[test]
fn a_parsers_fields_named_as_secrets_are_replaced_whole() {
    let (log, counts) = parsed_then_redacted(
        "logfmt",
        "msg=login user=bob password=hunter2secret token_count=5 require_password=true",
    );
    assert!(!log.body.contains("hunter2secret"), "{}", log.body);
    assert_eq!(
        log.attributes.get("password").and_then(AnyValue::as_str),
        Some("[REDACTED:secret_field]")
    );
    assert_eq!(
        log.attributes.get("token_count").and_then(AnyValue::as_str),
        Some("5")
    );
    assert_eq!(
        log.attributes
            .get("require_password")
            .and_then(AnyValue::as_str),
        Some("true")
    );
    // Once in the body, once in its field.
    assert_eq!(counts, [("secret_field".to_owned(), 2)]);

    // JSON: a nested object's member, a key in another case, a value no
    // detector of the body would have found on its own (no `=` or `:` in
    // the field), and one another detector replaced already.
    let (log, counts) = parsed_then_redacted(
        "json",
        r#"{"db":{"host":"pg","Password":"two words"},"AWS_API_KEY":"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe","note":"ok"}"#,
    );
    let text = format!("{:?} {}", log.attributes, log.body);
    assert!(!text.contains("two words"), "{text}");
    assert!(!text.contains("AIzaSy"), "{text}");
    let Some(AnyValue::Map(db)) = log.attributes.get("db") else {
        panic!("db is an object: {:?}", log.attributes)
    };
    assert_eq!(
        db.get("Password").and_then(AnyValue::as_str),
        Some("[REDACTED:secret_field]")
    );
    assert_eq!(db.get("host").and_then(AnyValue::as_str), Some("pg"));
    assert_eq!(
        log.attributes.get("AWS_API_KEY").and_then(AnyValue::as_str),
        Some("[REDACTED:gcp_api_key]")
    );
    assert_eq!(
        counts,
        [
            ("gcp_api_key".to_owned(), 2),
            ("secret_field".to_owned(), 2)
        ]
    );
}

/// A number or a list held by a field named as a secret went out as it
/// was in the parsed attributes while the body lost it (`"pin"` is not a
/// secret's name; `tokens` does not end in one; a flag stays).
#[test]
fn numbers_and_lists_named_as_secrets_are_replaced_whole() {
    let (log, counts) = parsed_then_redacted(
        "json",
        r#"{"user":"bob","password":82736451,"secret":1.5,"api_key":["k1-abc","k2-def"],"db":{"token":[[7]]},"tokens":3,"pin":1234,"require_password":true,"latency_ms":12}"#,
    );
    let text = format!("{:?} {}", log.attributes, log.body);
    for secret in ["82736451", "1.5", "k1-abc", "k2-def"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        log.body.contains(r#""api_key":[[REDACTED:secret_field]]"#),
        "{}",
        log.body
    );
    let marker = AnyValue::from("[REDACTED:secret_field]");
    assert_eq!(log.attributes.get("password"), Some(&marker));
    assert_eq!(log.attributes.get("secret"), Some(&marker));
    assert_eq!(
        log.attributes.get("api_key"),
        Some(&AnyValue::Array(vec![marker.clone(), marker.clone()]))
    );
    let Some(AnyValue::Map(db)) = log.attributes.get("db") else {
        panic!("db is an object: {:?}", log.attributes)
    };
    assert_eq!(
        db.get("token"),
        Some(&AnyValue::Array(vec![AnyValue::Array(vec![
            marker.clone()
        ])]))
    );
    assert_eq!(log.attributes.get("tokens"), Some(&AnyValue::Int(3)));
    assert_eq!(log.attributes.get("pin"), Some(&AnyValue::Int(1234)));
    assert_eq!(
        log.attributes.get("require_password"),
        Some(&AnyValue::Bool(true))
    );
    assert_eq!(log.attributes.get("latency_ms"), Some(&AnyValue::Int(12)));
    // In the attributes: 2 numbers, 2 items, 1 nested item; in the body,
    // `"password":82736451`, `"secret":1.5` and the list of `api_key`
    // (a list of lists, the body's `"token":[[7]]`, is left).
    assert_eq!(counts, [("secret_field".to_owned(), 8)]);
}

/// Found by the `transforms` fuzz target: a field named as a secret of
/// which a detector found a part (a GCP key after a prefix) kept the rest,
/// and only a second redaction replaced it whole.
#[test]
fn fuzz_a_field_named_as_a_secret_goes_whole_when_a_detector_found_part_of_it() {
    let (log, counts) = parsed_then_redacted(
        "logfmt",
        "user=bob api_key=ab-AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe other=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    );
    assert_eq!(
        log.attributes.get("api_key").and_then(AnyValue::as_str),
        Some("[REDACTED:secret_field]")
    );
    // Not named as a secret: what the detector found, and no more.
    assert_eq!(
        log.attributes.get("other").and_then(AnyValue::as_str),
        Some("[REDACTED:gcp_api_key]")
    );
    assert!(!log.body.contains("ab-"), "{}", log.body);
    assert_eq!(
        counts,
        [
            ("gcp_api_key".to_owned(), 4),
            ("secret_field".to_owned(), 2)
        ]
    );
}

/// Every built-in detector at once still leaves the search for their
/// anchors to SIMD (Teddy), not to an automaton walking every byte: a
/// detector with anchors in many cases could tip it over its limit.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_anchor_search_stays_simd_with_every_detector() {
    if !std::arch::is_x86_feature_detected!("ssse3") {
        return;
    }
    let every = with_pii(&["email", "credit_card", "ipv4", "ipv6"]);
    assert!(every.prefilter_is_packed());
}

/// Secrets as they appear in real logs in forms the detectors had missed,
/// each redacted (gone, its detector counted) and left as it is by a
/// second redaction.
#[test]
fn secrets_in_the_forms_real_logs_hold_them() {
    let mut r = redactor(&config());
    for (line, secret, detector) in [
        // JSON held in a JSON string (a request body logged as a field):
        // every quote escaped.
        (
            r#"{"level":"info","body":"{\"username\":\"bob\",\"password\":\"hunter2\"}"}"#,
            "hunter2",
            "secret_field",
        ),
        (
            r#"{"body":"{\"password\":\"a \\\"quoted\\\" one\",\"user\":\"bob\"}"}"#,
            "quoted",
            "secret_field",
        ),
        (
            r#"payload={\"api_key\":\"abcd1234efgh\",\"ok\":1}"#,
            "abcd1234efgh",
            "secret_field",
        ),
        (
            r#"{"req":"{\"authorization\":\"Basic dXNlcjpwYXNzd29yZA==\"}"}"#,
            "dXNlcjpwYXNzd29yZA==",
            "authorization_header",
        ),
        (
            r#"msg="{\"aws_secret_access_key\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}""#,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_key",
        ),
        (
            r#"{"sa":"{\"private_key\":\"MIIEvQIBADANBgkqhkiG9w0B\\nAQEFAASC\\n\"}"}"#,
            "MIIEvQIBADANBgkqhkiG9w0B",
            "gcp_service_account_key",
        ),
        (
            r#"{"list":"{\"api_key\":[\"t-1234\",\"t-5678\"]}"}"#,
            "t-5678",
            "secret_field",
        ),
        // Keys named as such (Django, Azure connection strings, PKCS#8).
        (
            "SECRET_KEY=django-insecure-abc123xyz",
            "django-insecure-abc123xyz",
            "secret_field",
        ),
        ("secretKey: 8f7d6s5a4", "8f7d6s5a4", "secret_field"),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4cXV1eA==;EndpointSuffix=core.windows.net",
            "Zm9vYmFyYmF6cXV4cXV1eA==",
            "secret_field",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcDEF123+/=",
            "abcDEF123+/=",
            "secret_field",
        ),
        (
            "private_key=MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "secret_field",
        ),
        // Command lines and XML.
        (
            "exec: mysql --user=root --password hunter2 --host db",
            "hunter2",
            "secret_field",
        ),
        (
            "run: app --api-token abcdef123456 --verbose",
            "abcdef123456",
            "secret_field",
        ),
        (
            "exec: pg_dump --db-pass hunter2 -h db",
            "hunter2",
            "secret_field",
        ),
        ("run: app --pass hunter2", "hunter2", "secret_field"),
        (
            "<cfg><db_pass>hunter2</db_pass></cfg>",
            "hunter2",
            "secret_field",
        ),
        // Digest: the response (a hash of the password) and the rest.
        (
            r#"Authorization: Digest username="bob", realm="api", nonce="dcd98b7102dd2f0e", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403e""#,
            "6629fae49393a05397450978507c4ef1",
            "authorization_header",
        ),
        (
            r#"{"msg":"{\"authorization\":\"Digest username=\\\"bob\\\", response=\\\"6629fae49393a05397450978507c4ef1\\\"\"}"}"#,
            "6629fae49393a05397450978507c4ef1",
            "authorization_header",
        ),
        (
            "<login><user>bob</user><ns:password>hunter2</ns:password></login>",
            "hunter2",
            "secret_field",
        ),
        // Cookies.
        (
            "Cookie: sessionid=abc123def456; theme=dark",
            "abc123def456",
            "cookie",
        ),
        (
            r#"{"http_cookie":"session=s%3Aabcdef.123; lang=en","status":200}"#,
            "s%3Aabcdef.123",
            "cookie",
        ),
        (
            "Set-Cookie: session=s%3Aabcdef.123; Path=/; HttpOnly",
            "s%3Aabcdef.123",
            "cookie",
        ),
        // Services' tokens.
        (
            "token glpat-abcdefghij0123456789 used",
            "glpat-abcdefghij0123456789",
            "gitlab_token",
        ),
        (
            "//registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "npm_token",
        ),
        (
            "mail via SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG failed",
            "SG.abcdefghijklmnopqrstuv",
            "sendgrid_key",
        ),
        (
            "model call with sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 refused",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "sk_api_key",
        ),
        (
            "x-api-call sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789_AB-cd",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "sk_api_key",
        ),
        (
            "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX 200",
            "XXXXXXXXXXXXXXXXXXXXXXXX",
            "slack_webhook",
        ),
        // Signed URLs: their signature is the credential (Azure's SAS,
        // S3's presigned URLs).
        (
            "GET https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sp=r&sig=Xk3Jb%2Bq9ZpL0aYf4RzT2vN8mQ1wE5sD7cU6hG0iK9oA%3D 403",
            "Xk3Jb%2Bq9ZpL0aYf4RzT2vN8mQ1wE5sD7cU6hG0iK9oA%3D",
            "secret_field",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=ns&sig=abcDEF123%2B%3D&se=1733500000",
            "abcDEF123%2B%3D",
            "secret_field",
        ),
        (
            "fetch https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7 ok",
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            "secret_field",
        ),
        // Passwords by their short names: an ODBC connection string's
        // `Pwd`, `MYSQL_PWD`, a query's or a field's `pass`.
        (
            "Driver={ODBC Driver 18 for SQL Server};Server=tcp:db,1433;Uid=sa;Pwd=Hunter2!x;Encrypt=yes",
            "Hunter2!x",
            "secret_field",
        ),
        (
            "env MYSQL_PWD=hunter2 mysql -u root",
            "hunter2",
            "secret_field",
        ),
        (
            "GET /login?user=bob&pass=hunter2 HTTP/1.1",
            "hunter2",
            "secret_field",
        ),
        (
            r#"{"user":"bob","pass":"hunter2"}"#,
            "hunter2",
            "secret_field",
        ),
        ("db_pass: hunter2", "hunter2", "secret_field"),
    ] {
        let (once, fired) = redacted(&mut r, line);
        assert!(!once.contains(secret), "{secret:?} left in {once:?}");
        assert_eq!(fired, [detector], "{line}");
        let (twice, fired) = redacted(&mut r, &once);
        assert_eq!(twice, once, "{line}");
        assert!(fired.is_empty(), "{line}: {fired:?}");
    }
    // What they must leave.
    for line in [
        "sk-learn-model-checkpoint-0001 loaded",
        "SharedAccessKeyName=RootManageSharedAccessKey;",
        "cookies: 3 set",
        "--password-file /etc/app/pw --verbose",
        "<password/>",
        r#"{"body":"{\"password\":\"\"}"}"#,
        "hooks.slack.com/",
        "PWD=/home/app HOME=/root",
        "tests pass=12 fail=0",
        "bypass=1 compass=north",
        "--bypass-cache 1 --pass-through on --compass north",
        "<bypass>1</bypass><compass>north</compass>",
        "signature_valid=true",
    ] {
        assert_keeps(&mut r, line);
    }
}

/// A parser's `authorization` and `cookie` fields (headers logged as JSON
/// fields) hold their credentials whole.
#[test]
fn header_fields_hold_credentials() {
    let (log, counts) = parsed_then_redacted(
        "json",
        r#"{"headers":{"Authorization":"Basic dXNlcjpwYXNzd29yZA==","Cookie":"sid=abc123def; theme=dark"},"http_cookie":"sid=abc123def","status":200}"#,
    );
    let text = format!("{:?} {}", log.attributes, log.body);
    for secret in ["dXNlcjpwYXNzd29yZA==", "abc123def"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(log.attributes.get("status"), Some(&AnyValue::Int(200)));
    assert_eq!(
        counts,
        [
            ("authorization_header".to_owned(), 2),
            ("cookie".to_owned(), 4)
        ]
    );
}

/// The names `secret_field` replaces as attributes are names its pattern
/// reads in text too: the two lists say one thing in two forms.
#[test]
fn every_secret_field_name_is_read_in_text_too() {
    let mut r = redactor(&config());
    let builtin = SECRETS.iter().find(|d| d.name == "secret_field").unwrap();
    for name in builtin.fields {
        let line = format!("{name}=s3cr3tvalue ok");
        let (out, fired) = redacted(&mut r, &line);
        assert_eq!(out, format!("{name}=[REDACTED:secret_field] ok"), "{name}");
        assert_eq!(fired, ["secret_field"], "{name}");
    }
}
