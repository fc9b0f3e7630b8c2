//! The first-party `cert_expiry` check against real TLS servers on
//! 127.0.0.1 with certificates made here (rcgen): valid, expiring in 10
//! days, expired, self-signed, wrong host, a chain with an expiring
//! intermediate; and the expired PEM files in tests/fixtures/certs.

use std::time::Duration;

use super::{last_result, samples};
use crate::support::agent::Agent;
use crate::support::tls::{issue, root_ca, serve};
use crate::support::{fixtures, wait_for};

#[test]
fn cert_expiry_reports_each_kind_of_certificate_problem() {
    let ca = root_ca("NeuralLog Test CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();

    let server = |leaf: crate::support::tls::Issued,
                  extra: Vec<rustls_pki_types::CertificateDer<'static>>| {
        let mut chain = vec![leaf.der.clone()];
        chain.extend(extra);
        serve(chain, leaf.key)
    };
    let valid = server(
        issue(
            &["localhost"],
            "valid.test",
            -1,
            90,
            Some(ca.issuer()),
            false,
        ),
        vec![],
    );
    let expiring = server(
        issue(
            &["localhost"],
            "expiring.test",
            -80,
            10,
            Some(ca.issuer()),
            false,
        ),
        vec![],
    );
    let expired = server(
        issue(
            &["localhost"],
            "expired.test",
            -90,
            -2,
            Some(ca.issuer()),
            false,
        ),
        vec![],
    );
    let self_signed = server(
        issue(&["localhost"], "self.test", -1, 90, None, false),
        vec![],
    );
    let wrong_host = server(
        issue(
            &["other.example"],
            "other.example",
            -1,
            90,
            Some(ca.issuer()),
            false,
        ),
        vec![],
    );
    let intermediate = issue(
        &[],
        "Expiring Intermediate",
        -300,
        5,
        Some(ca.issuer()),
        true,
    );
    let behind = server(
        issue(
            &["localhost"],
            "behind.test",
            -1,
            90,
            intermediate.issuer.as_ref(),
            false,
        ),
        vec![intermediate.der.clone()],
    );

    let check = |name: &str, addr: std::net::SocketAddr| {
        format!(
            "  {name}:
    type: cert_expiry
    interval_secs: 3600
    config:
      endpoints: [{{address: \"{addr}\", server_name: localhost}}]
    grants:
      tls_targets: [\"localhost@{addr}\"]
      tls_ca_files: [\"{ca}\"]
",
            ca = ca_file.display()
        )
    };
    let certs = fixtures().join("certs");
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
{}{}{}{}{}{}  files:
    type: cert_expiry
    interval_secs: 3600
    config:
      files: [\"{certs}/*.pem\", \"{certs}/*.crt\"]
    grants:
      directories: [\"{certs}\"]
sinks:
  prom:
    type: prometheus
    inputs: [valid, expiring, expired, self_signed, wrong_host, intermediate, files]
",
        check("valid", valid),
        check("expiring", expiring),
        check("expired", expired),
        check("self_signed", self_signed),
        check("wrong_host", wrong_host),
        check("intermediate", behind),
        certs = certs.display(),
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    let status =
        |check: &str| agent.metric(&format!("neurallog_check_status{{check=\"{check}\"}}"));
    wait_for("every check's first run", Duration::from_secs(60), || {
        [
            "valid",
            "expiring",
            "expired",
            "self_signed",
            "wrong_host",
            "intermediate",
            "files",
        ]
        .iter()
        .all(|c| status(c).is_some())
        .then_some(())
    });
    let days = |check: &str, position: &str| -> f64 {
        let found = samples(&agent, "cert_expiry_days{");
        found
            .iter()
            .find(|(series, _)| {
                series.contains(&format!("check=\"{check}\""))
                    && series.contains(&format!("position=\"{position}\""))
            })
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no cert_expiry_days for {check}/{position} in {found:?}"))
    };

    assert_eq!(
        status("valid"),
        Some(0.0),
        "{}",
        last_result(&agent, "valid")
    );
    assert!((days("valid", "leaf") - 90.0).abs() < 0.1);

    assert_eq!(
        status("expiring"),
        Some(1.0),
        "warning: {}",
        last_result(&agent, "expiring")
    );
    assert!((days("expiring", "leaf") - 10.0).abs() < 0.1);

    assert_eq!(
        status("expired"),
        Some(2.0),
        "critical: {}",
        last_result(&agent, "expired")
    );
    assert!((days("expired", "leaf") + 2.0).abs() < 0.1);
    assert!(
        last_result(&agent, "expired")["summary"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    assert_eq!(status("self_signed"), Some(2.0));
    assert!(
        last_result(&agent, "self_signed")
            .to_string()
            .contains("self-signed"),
        "{}",
        last_result(&agent, "self_signed")
    );

    assert_eq!(status("wrong_host"), Some(2.0));
    let wrong = last_result(&agent, "wrong_host");
    assert!(
        wrong["summary"]
            .as_str()
            .unwrap()
            .contains("not valid for localhost"),
        "{wrong}"
    );
    assert!(
        wrong.to_string().contains("verification=name-mismatch"),
        "{wrong}"
    );

    assert_eq!(
        status("intermediate"),
        Some(2.0),
        "an intermediate within 7 days is critical"
    );
    assert!((days("intermediate", "intermediate") - 5.0).abs() < 0.1);
    assert!((days("intermediate", "leaf") - 90.0).abs() < 0.1);

    // The recorded certificates, long expired.
    assert_eq!(status("files"), Some(2.0));
    let file_days: Vec<f64> = samples(&agent, "cert_expiry_days{")
        .into_iter()
        .filter(|(s, _)| s.contains("check=\"files\""))
        .map(|(_, v)| v)
        .collect();
    assert!(file_days.len() >= 6, "{file_days:?}");
    assert!(
        file_days.iter().filter(|d| **d < 0.0).count() >= 5,
        "{file_days:?}"
    );
    assert!(
        file_days.iter().any(|d| *d > 365.0),
        "the nri-kubernetes root CA runs to 2034: {file_days:?}"
    );
}
