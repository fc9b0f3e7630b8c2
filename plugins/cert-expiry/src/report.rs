//! Turns the assessments into the check's result: the worst status, a
//! one-line summary naming the worst findings, the `cert_expiry_days` and
//! `cert_chain_valid` metrics, and one detail per certificate and source.

use neurallog_plugin_sdk::clock::Timestamp;
use neurallog_plugin_sdk::{CheckResult, Metric, Status};

use crate::assess::{CertAssessment, SourceAssessment, SourceKind};

/// How many findings the summary names before `(+N more)`.
const SUMMARY_FINDINGS: usize = 2;

/// Builds the result of a run from its assessed sources and the files that
/// were skipped for holding no certificate.
#[must_use]
pub fn build(sources: &[SourceAssessment], skipped: &[String]) -> CheckResult {
    let status = Status::worst_of(sources.iter().map(|source| source.status));
    let mut result = CheckResult::new(status, summary(sources));
    for source in sources {
        for cert in &source.certificates {
            result.push_metric(expiry_metric(&source.source, cert));
            result.push_detail(format!("{}#{}", source.source, cert.index), describe(cert));
        }
        if let SourceKind::Endpoint {
            verification: Some(verification),
            protocol_version,
        } = &source.kind
        {
            let chain_ok = source.problems.is_empty()
                && source
                    .certificates
                    .iter()
                    .all(|cert| !cert.expired && !cert.not_yet_valid);
            result.push_metric(
                Metric::gauge("cert_chain_valid", if chain_ok { 1.0 } else { 0.0 })
                    .description("1 when TLS clients would accept the endpoint's chain, else 0.")
                    .label("source", &source.source),
            );
            let mut value = format!("verification={}", verification.kind());
            if !verification.message().is_empty() {
                value.push_str(&format!(" ({})", verification.message()));
            }
            if let Some(protocol) = protocol_version {
                value.push_str(&format!(" protocol={protocol}"));
            }
            for problem in &source.problems {
                value.push_str(&format!("; {problem}"));
            }
            result.push_detail(&source.source, value);
        }
        if let Some(error) = &source.error {
            result.push_detail(&source.source, format!("error: {error}"));
        }
    }
    for path in skipped {
        result.push_detail(path, "skipped: no certificate in file");
    }
    result
}

fn expiry_metric(source: &str, cert: &CertAssessment) -> Metric {
    Metric::gauge("cert_expiry_days", cert.days_left)
        .unit("d")
        .description("Days until the certificate expires (negative once expired).")
        .label("source", source)
        .label("position", cert.position.as_str())
        .label("subject", &cert.info.subject)
        .label("serial", &cert.info.serial)
}

/// One certificate as a detail value.
fn describe(cert: &CertAssessment) -> String {
    let info = &cert.info;
    let mut value = format!(
        "{} subject={:?} issuer={:?} serial={} not_before={} not_after={} days_left={:.2}",
        cert.position.as_str(),
        info.subject,
        info.issuer,
        info.serial,
        Timestamp::from_unix_seconds(info.not_before),
        Timestamp::from_unix_seconds(info.not_after),
        cert.days_left
    );
    for (flag, set) in [
        ("expired", cert.expired),
        ("not-yet-valid", cert.not_yet_valid),
        ("self-signed", info.self_signed),
    ] {
        if set {
            value.push(' ');
            value.push_str(flag);
        }
    }
    value
}

/// `N certificates from M sources OK; nearest expiry in D days (...)`, or
/// the worst findings first.
fn summary(sources: &[SourceAssessment]) -> String {
    let mut findings: Vec<(Status, String)> = Vec::new();
    for source in sources {
        if let Some(error) = &source.error {
            findings.push((Status::Unknown, format!("{}: {error}", source.source)));
        }
        for problem in &source.problems {
            findings.push((Status::Critical, format!("{}: {problem}", source.source)));
        }
        for cert in source
            .certificates
            .iter()
            .filter(|cert| cert.status != Status::Ok)
        {
            findings.push((cert.status, format!("{} {}", source.source, finding(cert))));
        }
    }
    if findings.is_empty() {
        let count: usize = sources.iter().map(|source| source.certificates.len()).sum();
        let nearest = sources
            .iter()
            .flat_map(|source| source.certificates.iter().map(move |cert| (source, cert)))
            .min_by(|(_, a), (_, b)| a.days_left.total_cmp(&b.days_left));
        return match nearest {
            Some((source, cert)) => format!(
                "{count} certificates from {} sources OK; nearest expiry in {:.1} days ({} {} at {})",
                sources.len(),
                cert.days_left,
                cert.position.as_str(),
                cert.info.subject,
                source.source
            ),
            None => "no certificates checked".to_owned(),
        };
    }
    // Stable: equally bad findings keep the config's order.
    findings.sort_by_key(|(status, _)| std::cmp::Reverse(*status));
    let shown: Vec<&str> = findings
        .iter()
        .take(SUMMARY_FINDINGS)
        .map(|(_, text)| text.as_str())
        .collect();
    let mut summary = shown.join("; ");
    if findings.len() > SUMMARY_FINDINGS {
        summary.push_str(&format!(" (+{} more)", findings.len() - SUMMARY_FINDINGS));
    }
    summary
}

/// `leaf example.com: expired 3.2 days ago`, `... expires in 5.0 days`, or
/// `... not valid until <date>`.
fn finding(cert: &CertAssessment) -> String {
    let what = format!("{} {}", cert.position.as_str(), cert.info.subject);
    if cert.expired {
        format!("{what}: expired {:.1} days ago", -cert.days_left)
    } else if cert.not_yet_valid {
        format!(
            "{what}: not valid until {}",
            Timestamp::from_unix_seconds(cert.info.not_before)
        )
    } else {
        format!("{what}: expires in {:.1} days", cert.days_left)
    }
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::tls::Verification;

    use super::*;
    use crate::assess::{Thresholds, assess_endpoint, assess_file};
    use crate::certificate::CertInfo;
    use crate::test_certs::{Chain, NOW, self_signed};

    const DEFAULTS: Thresholds = Thresholds {
        warning_days: 30.0,
        critical_days: 7.0,
    };

    fn info(der: &[u8]) -> CertInfo {
        CertInfo::from_der(der).expect("valid certificate")
    }

    #[test]
    fn all_good_names_the_nearest_expiry() {
        let chain = Chain::new(&["a.example"], -10, 200);
        let source = assess_endpoint(
            "a.example:443".to_owned(),
            vec![info(&chain.leaf_der), info(&chain.intermediate_der)],
            Verification::Valid,
            "TLSv1.3".to_owned(),
            "a.example",
            NOW as f64,
            DEFAULTS,
        );
        let result = build(&[source], &[]);
        assert_eq!(result.status, Status::Ok);
        assert_eq!(
            result.summary,
            "2 certificates from 1 sources OK; nearest expiry in 200.0 days (leaf a.example at a.example:443)"
        );
        let days: Vec<(&str, f64)> = result
            .metrics_named("cert_expiry_days")
            .map(|metric| {
                (
                    metric.label_value("position").unwrap_or_default(),
                    metric.value,
                )
            })
            .collect();
        assert_eq!(days, vec![("leaf", 200.0), ("intermediate", 365.0)]);
        let leaf = result
            .metrics_named("cert_expiry_days")
            .next()
            .expect("leaf metric");
        assert_eq!(leaf.unit, "d");
        assert_eq!(leaf.label_value("source"), Some("a.example:443"));
        assert_eq!(leaf.label_value("subject"), Some("a.example"));
        assert_eq!(
            leaf.label_value("serial"),
            Some(info(&chain.leaf_der).serial.as_str())
        );
        let valid = result
            .metrics_named("cert_chain_valid")
            .next()
            .expect("chain metric");
        assert_eq!(valid.value, 1.0);
        assert_eq!(
            result.detail_value("a.example:443"),
            Some("verification=valid protocol=TLSv1.3")
        );
    }

    #[test]
    fn findings_are_listed_worst_first_with_a_count_of_the_rest() {
        let soon = Chain::new(&["soon.example"], -10, 20);
        let warning = assess_file(
            "/certs/soon.pem".to_owned(),
            vec![info(&soon.leaf_der)],
            NOW as f64,
            DEFAULTS,
        );
        let expired = Chain::new(&["old.example"], -400, -2);
        let critical = assess_file(
            "/certs/old.pem".to_owned(),
            vec![info(&expired.leaf_der)],
            NOW as f64,
            DEFAULTS,
        );
        let down = SourceAssessment::failed(
            "down.example:443",
            SourceKind::Endpoint {
                verification: None,
                protocol_version: None,
            },
            "connection failed: refused",
        );
        let result = build(&[warning, down, critical], &["/certs/key.pem".to_owned()]);
        assert_eq!(result.status, Status::Critical);
        assert_eq!(
            result.summary,
            "/certs/old.pem leaf old.example: expired 2.0 days ago; \
             down.example:443: connection failed: refused (+1 more)"
        );
        assert_eq!(
            result.detail_value("/certs/key.pem"),
            Some("skipped: no certificate in file")
        );
        assert_eq!(
            result.detail_value("down.example:443"),
            Some("error: connection failed: refused")
        );
        let old = result.detail_value("/certs/old.pem#0").expect("detail");
        assert!(
            old.starts_with("leaf subject=\"old.example\" issuer=\"Test Intermediate CA\""),
            "{old}"
        );
        assert!(old.ends_with("days_left=-2.00 expired"), "{old}");
        assert!(result.metrics_named("cert_chain_valid").next().is_none());
    }

    #[test]
    fn self_signed_endpoint_is_critical_and_invalid() {
        let source = assess_endpoint(
            "self.example:443".to_owned(),
            vec![info(&self_signed(&["self.example"], 300))],
            Verification::UnknownIssuer("UnknownIssuer".to_owned()),
            "TLSv1.3".to_owned(),
            "self.example",
            NOW as f64,
            DEFAULTS,
        );
        let result = build(&[source], &[]);
        assert_eq!(result.status, Status::Critical);
        assert_eq!(result.summary, "self.example:443: self-signed certificate");
        let valid = result
            .metrics_named("cert_chain_valid")
            .next()
            .expect("chain metric");
        assert_eq!(valid.value, 0.0);
        let leaf = result.detail_value("self.example:443#0").expect("detail");
        assert!(leaf.ends_with(" self-signed"), "{leaf}");
        assert_eq!(
            result.detail_value("self.example:443"),
            Some(
                "verification=unknown-issuer (UnknownIssuer) protocol=TLSv1.3; self-signed certificate"
            )
        );
    }
}
