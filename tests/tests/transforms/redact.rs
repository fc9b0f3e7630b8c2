//! Redaction with the real binary: a corpus of secrets, one per detector
//! (all made up for this test), written to a file the agent tails. Each is
//! replaced by its marker in what the OTLP receiver got, decoded by the
//! `opentelemetry-proto` Python decoder, and none of them appears there, in
//! the agent's own log (at `debug`), in `/status` or in `/metrics`.

use std::time::Duration;

use crate::shipping::decode::python_decode;
use crate::support::receiver::Receiver;
use crate::support::wait_for;

use super::{start, wait_for_checkpoint_at_end};

/// `n` characters cycling through `alphabet`, from `seed` on: made-up key
/// material of the right shape.
fn made_up(alphabet: &str, n: usize, seed: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    (0..n)
        .map(|i| chars[(i * 7 + seed * 13 + i / 3) % chars.len()])
        .collect()
}

/// (detector, secret, line holding it).
fn corpus() -> Vec<(&'static str, String, String)> {
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let aws_id = format!("AKIA{}", made_up(upper, 16, 1));
    let aws_secret = made_up(base64, 40, 2);
    let gcp_key = format!("AIza{}", made_up(url, 35, 3));
    let sa_key_id = made_up("0123456789abcdef", 40, 4);
    let pem_body = made_up(base64, 64, 5);
    let sa_pem_body = made_up(base64, 48, 6);
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiJ9.eyJ{}.{}",
        made_up(url, 40, 7),
        made_up(url, 43, 8)
    );
    let basic = made_up(base64, 24, 9);
    let bearer = made_up(url, 32, 10);
    let password = format!("Pw{}", made_up(url, 14, 11));
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let github = format!("ghp_{}", made_up(alnum, 36, 12));
    let slack = format!(
        "xoxb-{}-{}",
        made_up("0123456789", 12, 13),
        made_up(alnum, 24, 14)
    );
    let stripe = format!("sk_live_{}", made_up(alnum, 24, 15));
    let field = format!("Fd{}", made_up(url, 18, 16));
    let listed = format!("Ls{}", made_up(url, 20, 17));
    let escaped = format!("Es{}", made_up(url, 18, 18));
    let cookie = made_up(url, 26, 19);
    let gitlab = format!("glpat-{}", made_up(url, 20, 20));
    let ai_key = format!("sk-proj-{}", made_up(url, 40, 21));
    let sas = made_up(base64, 43, 22);
    let odbc = format!("Od{}", made_up(url, 12, 23));
    let digest = made_up("0123456789abcdef", 32, 24);
    let flag = format!("Fl{}", made_up(url, 14, 25));
    vec![
        (
            "authorization_header",
            basic.clone(),
            format!("GET /v1/orders Authorization: Basic {basic} status=401"),
        ),
        (
            "bearer_token",
            bearer.clone(),
            format!("refreshing session with bearer {bearer} for user 42"),
        ),
        (
            "url_password",
            password.clone(),
            format!("connecting to postgres://orders:{password}@db.internal:5432/orders"),
        ),
        (
            "aws_access_key",
            aws_id.clone(),
            format!("assumed role with access key {aws_id} in eu-west-1"),
        ),
        (
            "aws_secret_key",
            aws_secret.clone(),
            format!("env dump: AWS_SECRET_ACCESS_KEY={aws_secret} HOME=/root"),
        ),
        (
            "gcp_api_key",
            gcp_key.clone(),
            format!("GET /maps/api/geocode/json?key={gcp_key}&address=x"),
        ),
        (
            "gcp_service_account_key",
            sa_key_id.clone(),
            format!(
                r#"loaded credentials {{"type": "service_account", "private_key_id": "{sa_key_id}", "private_key": "-----BEGIN PRIVATE KEY-----\n{sa_pem_body}\n-----END PRIVATE KEY-----\n"}}"#
            ),
        ),
        (
            "private_key",
            pem_body.clone(),
            format!(
                r#"tls: loaded key "-----BEGIN EC PRIVATE KEY-----\n{pem_body}\n-----END EC PRIVATE KEY-----" from vault"#
            ),
        ),
        (
            "jwt",
            jwt.clone(),
            format!("rejected token={jwt} reason=expired"),
        ),
        (
            "github_token",
            github.clone(),
            format!("git clone https://github.com/org/repo failed with token {github}"),
        ),
        (
            "slack_token",
            slack.clone(),
            format!("notifier: posting to #alerts with {slack}"),
        ),
        (
            "stripe_key",
            stripe.clone(),
            format!("payments: client built with key {stripe} mode=live"),
        ),
        (
            "secret_field",
            field.clone(),
            format!(r#"request body {{"user":"bob","password":"{field}","remember":true}}"#),
        ),
        (
            "secret_field",
            listed.clone(),
            format!(r#"config loaded {{"service":"orders","api_keys":2,"apiKey":["{listed}", 42]}}"#),
        ),
        (
            "email",
            "grace.hopper@navy.example".to_owned(),
            "password reset mailed to grace.hopper@navy.example".to_owned(),
        ),
        (
            "credit_card",
            "4111-1111-1111-1111".to_owned(),
            "charge declined for card 4111-1111-1111-1111 amount=12.00".to_owned(),
        ),
        (
            "ipv4",
            "203.0.113.77".to_owned(),
            "login accepted from 203.0.113.77 port 51234".to_owned(),
        ),
        (
            "ipv6",
            "2001:db8:85a3::8a2e:370:7334".to_owned(),
            "peer 2001:db8:85a3::8a2e:370:7334 closed the stream".to_owned(),
        ),
        (
            // JSON held in a JSON string: its quotes escaped.
            "secret_field",
            escaped.clone(),
            format!(r#"{{"msg":"upstream said","body":"{{\"user\":\"bob\",\"password\":\"{escaped}\"}}"}}"#),
        ),
        (
            "cookie",
            cookie.clone(),
            format!("GET /cart Cookie: session={cookie}; theme=dark status=200"),
        ),
        (
            "gitlab_token",
            gitlab.clone(),
            format!("ci: clone with {gitlab} denied"),
        ),
        (
            "sk_api_key",
            ai_key.clone(),
            format!("llm client: OPENAI key {ai_key} rejected"),
        ),
        (
            // A signed URL's signature, URL-encoded.
            "secret_field",
            format!("{sas}%3D"),
            format!("GET https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sp=r&sig={sas}%3D 403"),
        ),
        (
            "secret_field",
            odbc.clone(),
            format!("connect: Driver={{ODBC Driver 18 for SQL Server}};Server=tcp:db,1433;Uid=sa;Pwd={odbc};Encrypt=yes failed"),
        ),
        (
            // Digest's response: a hash of the password.
            "authorization_header",
            digest.clone(),
            format!(r#"proxy: Proxy-Authorization: Digest username="svc", realm="edge", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/v2/", qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", response="{digest}""#),
        ),
        (
            "secret_field",
            flag.clone(),
            format!("backup: pg_dump --db-pass {flag} --host db.internal exited 1"),
        ),
    ]
    .into_iter()
    .chain(std::iter::once((
        "gcp_service_account_key",
        sa_pem_body,
        String::new(),
    )))
    .collect()
}

#[test]
fn every_secret_in_the_corpus_is_replaced_and_never_leaks() {
    let corpus = corpus();
    let mut lines: Vec<String> = corpus
        .iter()
        .map(|(_, _, line)| line.clone())
        .filter(|line| !line.is_empty())
        .collect();
    // A line with nothing to redact goes through as it was.
    let clean = "GET /healthz 200 1.2ms user=anonymous".to_owned();
    lines.push(clean.clone());
    let receiver = Receiver::start();
    let yaml = format!(
        "
data_dir: {{data_dir}}
shutdown_timeout_secs: 2
log: {{ level: debug }}
# `apache`: the name the checkpoint helper of this area reads.
sources:
  apache:
    type: file
    include: ['{{dir}}/logs/*.log']
    checkpoint_interval_ms: 100
transforms:
  scrub:
    type: redact
    inputs: [apache]
    pii: [email, credit_card, ipv4, ipv6]
sinks:
  ingest:
    type: otlp_http
    inputs: [scrub]
    endpoint: {}
    batch: {{timeout_ms: 100}}
",
        receiver.endpoint()
    );
    let (agent, log) = start(&yaml, &lines);
    wait_for(
        "every record at the receiver",
        Duration::from_secs(30),
        || (receiver.log_bodies().len() >= lines.len()).then_some(()),
    );
    wait_for_checkpoint_at_end(&agent, &log);

    let work = tempfile::tempdir().unwrap();
    let decoded = python_decode("logs", &receiver, "/v1/logs", work.path());
    let mut bodies: Vec<String> = Vec::new();
    for request in &decoded {
        for resource_logs in request["resource_logs"].as_array().unwrap() {
            for scope in resource_logs["scope_logs"].as_array().unwrap() {
                for record in scope["log_records"].as_array().unwrap() {
                    bodies.push(record["body"]["string_value"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    assert_eq!(bodies.len(), lines.len(), "{bodies:#?}");
    for (detector, _, line) in corpus.iter().filter(|(_, _, line)| !line.is_empty()) {
        let marker = format!("[REDACTED:{detector}]");
        let i = lines.iter().position(|l| l == line).unwrap();
        assert!(
            bodies[i].contains(&marker),
            "{detector}: {marker} not in {:?}",
            bodies[i]
        );
        // The text around the secret stays.
        let words: Vec<&str> = line.split(' ').collect();
        assert!(bodies[i].starts_with(words[0]), "{:?}", bodies[i]);
    }
    assert_eq!(bodies.last(), Some(&clean));

    let decoded_text = serde_json::to_string(&decoded).unwrap();
    let (_, status) = agent.get("/status");
    let (_, metrics) = agent.get("/metrics");
    let stderr = agent.stderr();
    assert!(
        stderr.contains("DEBUG") || stderr.contains("debug"),
        "the agent logs at debug"
    );
    for (detector, secret, _) in &corpus {
        for (place, text) in [
            ("the receiver's records", &decoded_text),
            ("/status", &status),
            ("/metrics", &metrics),
            ("the agent's log", &stderr),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{detector}'s secret {secret:?} leaked into {place}"
            );
        }
    }
    for detector in [
        "authorization_header",
        "bearer_token",
        "url_password",
        "aws_access_key",
        "aws_secret_key",
        "gcp_api_key",
        "private_key",
        "jwt",
        "github_token",
        "slack_token",
        "stripe_key",
        "gitlab_token",
        "sk_api_key",
        "cookie",
        "secret_field",
        "email",
        "credit_card",
        "ipv4",
        "ipv6",
    ] {
        // One for each line of the corpus holding its secret.
        let lines = corpus
            .iter()
            .filter(|(d, _, line)| *d == detector && !line.is_empty())
            .count();
        assert_eq!(
            agent.metric_sum(
                "neurallog_agent_transform_redactions_total",
                &[
                    "component_id=\"scrub\"",
                    &format!("detector=\"{detector}\"")
                ]
            ),
            lines as f64,
            "{detector}"
        );
    }
    // The key id and the key of the service-account file.
    assert_eq!(
        agent.metric_sum(
            "neurallog_agent_transform_redactions_total",
            &["detector=\"gcp_service_account_key\""]
        ),
        2.0
    );
}
