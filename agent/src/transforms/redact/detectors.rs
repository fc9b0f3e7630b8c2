//! The built-in detectors: what each looks for, the literals that must be
//! in a text for it to find anything (its anchors, for the prefilter), and
//! the checks a match must pass beyond the regex (Luhn for card numbers).
//!
//! The patterns replace the capture group named `secret` when there is one
//! (the first that took part in the match of those whose names start with
//! `secret`), so the context that found a value (`Authorization: Bearer `,
//! `https://user:`) stays readable.

/// A built-in detector.
#[derive(Debug)]
pub struct Builtin {
    /// Its name: the marker's `{detector}` and the counter's label.
    pub name: &'static str,
    /// The regex (Rust `regex` syntax).
    pub pattern: &'static str,
    /// Literals (ASCII) of which a text must hold one for the pattern to
    /// match; empty: always run it. They are matched without regard to
    /// case when the pattern is (it starts with `(?i)`), else exactly.
    pub anchors: &'static [&'static str],
    /// What a match must pass beyond the regex.
    pub check: Check,
    /// Endings (ASCII, case ignored) of attribute keys that name a secret:
    /// a string attribute so named is replaced whole, if it passes
    /// `check`.
    pub fields: &'static [&'static str],
}

/// A test a match must pass to be redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The regex is enough.
    None,
    /// The digits pass the Luhn check (card numbers).
    Luhn,
    /// The text is an IPv6 address with at least one decimal digit (so
    /// `d::f` in a C++ or Rust path is not one).
    Ipv6,
    /// The value is not a flag (`true`, `false`, `null`...) nor a word
    /// for a state (`expired`, `invalid`, `missing`...): a setting such as
    /// `require_password: true`, or `token: expired` in a message, names a
    /// secret it does not hold.
    NotFlag,
    /// The credentials are not an authorization scheme's name (`Bearer`
    /// alone, its token already replaced by a marker): the scheme is
    /// optional in the pattern, so without this a second redaction took
    /// the scheme for the credentials.
    NotScheme,
}

/// The `Authorization` schemes `authorization_header`'s pattern reads
/// before the credentials.
pub const AUTHORIZATION_SCHEMES: &[&str] = &["basic", "bearer", "digest", "negotiate", "token"];

/// Values of a field named like a secret that are not one: flags, and
/// words for its state.
const NOT_SECRETS: &[&str] = &[
    "true", "false", "null", "none", "nil", "yes", "no", "invalid", "expired", "missing",
    "required", "empty", "unset", "redacted", "masked", "hidden", "present", "provided", "valid",
    "verified", "unknown", "enabled", "disabled",
];

/// The names of fields `secret_field` takes for secrets (endings: the
/// pattern has no boundary before them, `DB_PASSWORD`, `client_secret`).
macro_rules! secret_names {
    () => {
        concat!(
            r"password|passwd|passphrase|secret|token|api[_\-]?key|apikey",
            r"|(?:secret|private|access|account|client|encryption|signing|master)[_\-]?key",
            // A signed URL's signature (S3's `X-Amz-Signature`, Azure's
            // SAS `sig`).
            r#"|signature\b|(?:[?&]|;\s*|\\?")sig\b"#,
            // Short names, only where they are a field's or a query's
            // name (`MYSQL_PWD`, ODBC's `;Pwd=`, `?pass=`, `"pass":`):
            // `PWD=/home/app` and `tests pass=12` are none.
            r#"|(?:[?&_\-]|;\s*|\\?")(?:pass|pwd)\b"#,
        )
    };
}

/// The secret detectors, in the order they run: the ones that take a
/// whole span (key blocks, service-account files) before those that would
/// find a piece of it.
pub const SECRETS: &[Builtin] = &[
    Builtin {
        name: "gcp_service_account_key",
        // Quotes escaped too: the file held in a JSON string.
        pattern: r#""private_key(?:_id)?\\?"\s*:\s*\\?"(?P<secret>[^"]+?)\\?""#,
        anchors: &["private_key"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "private_key",
        // A block cut before its end (a line limit) is redacted to the
        // end of the text.
        // PEM (`RSA`, `EC`, `OPENSSH`, `ENCRYPTED`...) and OpenPGP
        // (`PRIVATE KEY BLOCK`) armour.
        pattern: r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*)",
        anchors: &["-----BEGIN"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "authorization_header",
        // A quote may be escaped (`\"authorization\":\"Basic …\"`: JSON
        // held in a JSON string). Digest's credentials are parameters
        // (`username="bob", …, response="6629fae4…"`): every one of them,
        // to the last, is replaced (the response is a hash of the password
        // a dictionary can reverse).
        pattern: concat!(
            r#"(?i)\bauthorization(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?(?:"#,
            r#"digest\s+(?P<secret_digest>[a-z][a-z0-9\-]*=(?:\\*"[^"\\]*\\*"|[^\s"\\,]+)"#,
            r#"(?:\s*,\s*[a-z][a-z0-9\-]*=(?:\\*"[^"\\]*\\*"|[^\s"\\,]+))*)"#,
            r#"|(?:(?:basic|bearer|digest|negotiate|token)\s+)?(?P<secret>[^\s"'\\,;\[\]]{6,}))"#,
        ),
        anchors: &["authorization"],
        check: Check::NotScheme,
        // A parser's `authorization` field (a header) is credentials
        // whole, its scheme too.
        fields: &["authorization"],
    },
    Builtin {
        name: "bearer_token",
        // `Bearer TOKEN`, and as a field: `bearer: TOKEN`, `"bearer":"…"`.
        pattern: r#"(?i)\bbearer(?:\s+|(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)"#,
        anchors: &["bearer"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "url_password",
        // As URL parsers read one, the user info ends at the last `@`
        // before the path: a user name that is an email address and a
        // password with an unescaped `@` in it are found whole. A `"`, a
        // bracket or an angle bracket (never in a URL unescaped, RFC 3986)
        // ends the URL in the text: `{"url":"https://u:p@h","mail":"a@b"}`
        // is not one password from `p` to `a`, nor is a marker after it.
        pattern: r#"\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#\s"<>\[\]]*:(?P<secret>[^/?#\s"<>\[\]]+)@"#,
        anchors: &["://"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        anchors: &["eyJ"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "aws_access_key",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "aws_secret_key",
        // `aws_secret_key`, `AWS_SECRET_ACCESS_KEY`, and the API's and the
        // CLI's JSON `SecretAccessKey`.
        pattern: r#"(?i)(?:aws[_\-]?secret[_\-]?(?:access[_\-]?)?key|secret[_\-]?access[_\-]?key)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        anchors: &["secret"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "gcp_api_key",
        pattern: r"(?P<secret>AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        anchors: &["AIza"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})\b",
        anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "slack_token",
        pattern: r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        anchors: &["xox"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "stripe_key",
        pattern: r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
        anchors: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "gitlab_token",
        pattern: r"\bglp(?:at|tt)-[A-Za-z0-9_\-]{20,}",
        anchors: &["glpat-", "glptt-"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "npm_token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}\b",
        anchors: &["npm_"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "sendgrid_key",
        pattern: r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b",
        anchors: &["SG."],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        // `sk-` keys of AI APIs (OpenAI's `sk-…` and `sk-proj-…`,
        // Anthropic's `sk-ant-api03-…`): 32 characters at least after the
        // kind, so `sk-learn-model` is none.
        name: "sk_api_key",
        pattern: r"\bsk-(?:(?:proj|svcacct|admin|ant-api[0-9]{2}|ant-admin[0-9]{2})-)?[A-Za-z0-9_\-]{32,}",
        anchors: &["sk-"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        // A Slack incoming webhook's path is its credential.
        name: "slack_webhook",
        pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/_\-]+)",
        anchors: &["hooks.slack.com/"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        // The `Cookie` and `Set-Cookie` headers' pairs (`session=…;
        // csrftoken=…`), to the end of the header: a space not after a
        // `;`, a quote, a bracket.
        name: "cookie",
        pattern: r#"(?i)cookie(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?(?P<secret>[^\s"'\\;\[\]][^\s"'\\;\[\]]*(?:;\s?[^\s"'\\;\[\]]+)*)"#,
        anchors: &["cookie"],
        check: Check::NotFlag,
        // `cookie`, `set-cookie`, nginx's `http_cookie`.
        fields: &["cookie"],
    },
    // Last: a value the detectors above recognise is already a marker,
    // which this one leaves alone (a value starting with `[`).
    Builtin {
        name: "secret_field",
        // The value of a field named like a password, a secret, a token or
        // a key (`password=`, `DB_PASSWORD: `, `"api_key": "..."`,
        // `?token=`, `SECRET_KEY=`, `AccountKey=`): quoted, to its closing
        // quote, which may be escaped (`\"password\":\"…\"`, JSON held in
        // a JSON string); bare, to a space or a separator; a JSON list of
        // strings or numbers, its items (a marker in brackets,
        // `[REDACTED:…]`, is not a list). Then a command line's
        // `--password VALUE` (`--db-pass VALUE`), and XML's
        // `<password>VALUE</` (`<db_pass>`).
        pattern: concat!(
            "(?i)(?:",
            secret_names!(),
            r#")(?:\\?["'])?\s*[:=]\s*(?:"#,
            r#""(?P<secret>(?:[^"\\\[]|\\.)(?:[^"\\]|\\.)*)""#,
            // Escaped: `\\` and `\"` stand for `\` and `"` inside.
            r#"|\\"(?P<secret_escaped>(?:[^"\\\[]|\\[^"\\]|\\\\(?:\\.|[^\\]))(?:[^"\\]|\\[^"\\]|\\\\(?:\\.|[^\\]))*)\\""#,
            r#"|'(?P<secret_quoted>[^'\[][^']*)'"#,
            r#"|\[(?P<secret_list>\s*[\\"'0-9\-][^\[\]]*)\]"#,
            r#"|(?P<secret_bare>[^\s"'\\&,;\[\]{}<>][^\s"'&,;\[\]{}<>]*))"#,
            // `--pass` and `--db-pass` too: a flag's name is a name.
            r"|--(?:[a-z0-9]+[_\-])*(?:",
            secret_names!(),
            r#"|pass|pwd)\s+(?P<secret_flag>[^\s"'\\&,;\[\]{}<>\-][^\s"'&,;\[\]{}<>]*)"#,
            r"|<(?:[a-z0-9]+[_\-.:])*(?:",
            secret_names!(),
            r"|pass|pwd)>(?P<secret_xml>[^<\[][^<]*)</",
        ),
        anchors: &["pass", "pwd", "secret", "key", "token", "sig"],
        check: Check::NotFlag,
        // A parser's field so named (`password` from `password=...`,
        // `db.password` from JSON) is its value whole.
        fields: &[
            "password",
            "passwd",
            "passphrase",
            "secret",
            "apikey",
            "api_key",
            "api-key",
            "token",
            "secretkey",
            "secret_key",
            "secret-key",
            "privatekey",
            "private_key",
            "private-key",
            "accesskey",
            "access_key",
            "access-key",
            "accountkey",
            "account_key",
            "account-key",
        ],
    },
];

/// The personal-data detectors, run only when named in `pii`.
pub const PII: &[Builtin] = &[
    Builtin {
        name: "email",
        // The `@` may be URL-encoded (`?email=jane%40example.com`).
        pattern: r"\b[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
        anchors: &["@", "%40"],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "credit_card",
        // Cards' numbers start with 2 to 6 (Mastercard's 2-series, Amex,
        // Visa, Mastercard, Discover and UnionPay): a time in epoch
        // milliseconds (`1733500000000`, 13 digits) passes Luhn one time
        // in ten, and is none.
        pattern: r"\b[2-6](?:[ \-]?[0-9]){12,18}\b",
        anchors: &[],
        check: Check::Luhn,
        fields: &[],
    },
    Builtin {
        name: "ipv4",
        pattern: r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b",
        anchors: &["."],
        check: Check::None,
        fields: &[],
    },
    Builtin {
        name: "ipv6",
        // Groups of up to four hex digits, the last not empty unless the
        // address ends in `::` (`2001:db8::1: refused` is `2001:db8::1`);
        // an address that goes on past the match (`2001::dbdb8::1`) is
        // none (see `Check::ends_here`).
        pattern: r"(?i)(?:^|[^0-9a-z:])(?P<secret>[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){0,6}(?::[0-9a-f]{1,4}|::))",
        anchors: &[":"],
        check: Check::Ipv6,
        fields: &[],
    },
];

impl Builtin {
    /// Whether the pattern, and so its anchors, ignore case.
    pub fn ignores_case(&self) -> bool {
        self.pattern.starts_with("(?i)")
    }
}

/// The personal-data detector called `name`.
pub fn pii_detector(name: &str) -> Option<&'static Builtin> {
    PII.iter().find(|d| d.name == name)
}

// === impl Check ===

impl Check {
    /// Whether `found` passes.
    pub fn passes(self, found: &str) -> bool {
        match self {
            Check::None => true,
            Check::Luhn => luhn(found),
            Check::Ipv6 => {
                found.bytes().any(|b| b.is_ascii_digit())
                    && found.parse::<std::net::Ipv6Addr>().is_ok()
            }
            Check::NotFlag => !NOT_SECRETS
                .iter()
                .any(|flag| found.eq_ignore_ascii_case(flag)),
            Check::NotScheme => !AUTHORIZATION_SCHEMES
                .iter()
                .any(|scheme| found.eq_ignore_ascii_case(scheme)),
        }
    }

    /// Whether a match may end where `after` begins. An IPv6 address does
    /// not go on in a hex digit, nor in `:` and another group: its start
    /// alone is not an address (`2001::dbdb8::1`), and redacting it would
    /// leave a tail that is one (`8::1`).
    pub fn ends_here(self, after: &str) -> bool {
        match self {
            Check::Ipv6 => match after.as_bytes() {
                [b, ..] if b.is_ascii_hexdigit() => false,
                [b':', b, ..] if b.is_ascii_hexdigit() || *b == b':' => false,
                _ => true,
            },
            Check::None | Check::Luhn | Check::NotFlag | Check::NotScheme => true,
        }
    }
}

/// Whether the digits of `text` (13 to 19 of them) pass the Luhn check
/// every payment card number carries.
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
