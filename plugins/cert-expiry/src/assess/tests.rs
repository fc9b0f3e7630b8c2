//! Tests of the judgement: thresholds, fractional days, chain problems, and
//! the real expired certificates in `fixtures/`.

use super::*;
use crate::certificate::split_certificates;
use crate::test_certs::{Chain, NOW, fixture, self_signed};

const DEFAULTS: Thresholds = Thresholds {
    warning_days: 30.0,
    critical_days: 7.0,
};

fn info(der: &[u8]) -> CertInfo {
    CertInfo::from_der(der).expect("valid certificate")
}

fn chain_infos(chain: &Chain) -> Vec<CertInfo> {
    vec![info(&chain.leaf_der), info(&chain.intermediate_der)]
}

fn now() -> f64 {
    NOW as f64
}

fn endpoint(chain: Vec<CertInfo>, verification: Verification, name: &str) -> SourceAssessment {
    assess_endpoint(
        "svc.example:443".to_owned(),
        chain,
        verification,
        "TLSv1.3".to_owned(),
        name,
        now(),
        DEFAULTS,
    )
}

#[test]
fn days_left_map_to_thresholds() {
    for (days, expected) in [
        (90, Status::Ok),
        (30, Status::Ok),
        (29, Status::Warning),
        (10, Status::Warning),
        (7, Status::Warning),
        (6, Status::Critical),
    ] {
        let chain = Chain::new(&["svc.example"], -10, days);
        let cert = assess_certificate(0, Position::Leaf, info(&chain.leaf_der), now(), DEFAULTS);
        assert_eq!(cert.status, expected, "{days} days left");
        assert!(
            (cert.days_left - days as f64).abs() < 1e-9,
            "{}",
            cert.days_left
        );
    }
}

#[test]
fn days_left_are_fractional() {
    let chain = Chain::new(&["svc.example"], -10, 10);
    let half_day_later = now() + 43_200.0;
    let cert = assess_certificate(
        0,
        Position::Leaf,
        info(&chain.leaf_der),
        half_day_later,
        DEFAULTS,
    );
    assert!((cert.days_left - 9.5).abs() < 1e-9, "{}", cert.days_left);
}

#[test]
fn expired_and_not_yet_valid_are_critical_whatever_the_thresholds() {
    let lenient = Thresholds {
        warning_days: -100.0,
        critical_days: -100.0,
    };
    let expired = Chain::new(&["svc.example"], -100, -3);
    let cert = assess_certificate(0, Position::Leaf, info(&expired.leaf_der), now(), lenient);
    assert!(cert.expired && !cert.not_yet_valid);
    assert_eq!(cert.status, Status::Critical);
    assert!((cert.days_left + 3.0).abs() < 1e-9);

    let future = Chain::new(&["svc.example"], 2, 400);
    let cert = assess_certificate(0, Position::Leaf, info(&future.leaf_der), now(), lenient);
    assert!(cert.not_yet_valid && !cert.expired);
    assert_eq!(cert.status, Status::Critical);
}

#[test]
fn valid_chain_with_expiring_intermediate_warns_on_the_intermediate() {
    let chain = Chain::with_intermediate_days(&["svc.example"], -10, 200, 12);
    let source = endpoint(chain_infos(&chain), Verification::Valid, "svc.example");
    assert!(source.problems.is_empty());
    assert_eq!(source.status, Status::Warning);
    let [leaf, intermediate] = &source.certificates[..] else {
        panic!("two certificates expected");
    };
    assert_eq!((leaf.position, leaf.status), (Position::Leaf, Status::Ok));
    assert_eq!(
        (intermediate.position, intermediate.status),
        (Position::Intermediate, Status::Warning)
    );
    assert_eq!(intermediate.info.subject, "Test Intermediate CA");
}

#[test]
fn self_signed_leaf_is_reported_as_such() {
    let leaf = info(&self_signed(&["svc.example"], 300));
    let source = endpoint(
        vec![leaf],
        Verification::UnknownIssuer("UnknownIssuer".to_owned()),
        "svc.example",
    );
    assert_eq!(source.problems, vec![ChainProblem::SelfSigned]);
    assert_eq!(source.status, Status::Critical);
    assert_eq!(source.certificates[0].status, Status::Ok);
}

#[test]
fn missing_intermediate_is_an_incomplete_chain() {
    let chain = Chain::new(&["svc.example"], -10, 300);
    let source = endpoint(
        vec![info(&chain.leaf_der)],
        Verification::UnknownIssuer("UnknownIssuer".to_owned()),
        "svc.example",
    );
    assert_eq!(source.problems, vec![ChainProblem::IncompleteChain]);
    assert_eq!(source.status, Status::Critical);
}

#[test]
fn chain_ending_in_an_unknown_root_is_untrusted() {
    let chain = Chain::new(&["svc.example"], -10, 300);
    let mut infos = chain_infos(&chain);
    infos.push(info(&chain.root_der));
    let source = endpoint(
        infos,
        Verification::UnknownIssuer("UnknownIssuer".to_owned()),
        "svc.example",
    );
    assert_eq!(source.problems, vec![ChainProblem::UntrustedRoot]);
    assert_eq!(source.certificates[2].position, Position::Root);
}

#[test]
fn wrong_host_is_reported_from_the_host_or_from_the_names() {
    let chain = Chain::new(&["svc.example"], -10, 300);
    let source = endpoint(
        chain_infos(&chain),
        Verification::NameMismatch("NotValidForName".to_owned()),
        "other.example",
    );
    assert_eq!(
        source.problems,
        vec![ChainProblem::WrongHost {
            name: "other.example".to_owned()
        }]
    );
    assert_eq!(source.status, Status::Critical);

    // The host stopped at expiry; the name is still wrong, and both show.
    let expired = Chain::new(&["svc.example"], -100, -1);
    let source = endpoint(
        chain_infos(&expired),
        Verification::Expired("Expired".to_owned()),
        "other.example",
    );
    assert_eq!(source.problems.len(), 1, "{:?}", source.problems);
    assert!(matches!(source.problems[0], ChainProblem::WrongHost { .. }));
    assert!(source.certificates[0].expired);
}

#[test]
fn a_valid_verdict_is_trusted_over_the_name_heuristics() {
    let chain = Chain::new(&["svc.example"], -10, 300);
    let source = endpoint(chain_infos(&chain), Verification::Valid, "10.1.2.3");
    assert!(source.problems.is_empty());
    assert_eq!(source.status, Status::Ok);
}

#[test]
fn host_verdict_is_kept_when_the_dates_look_fine_here() {
    let chain = Chain::new(&["svc.example"], -10, 300);
    let source = endpoint(
        chain_infos(&chain),
        Verification::Expired("host clock says expired".to_owned()),
        "svc.example",
    );
    assert_eq!(
        source.problems,
        vec![ChainProblem::Rejected {
            reason: "host clock says expired".to_owned()
        }]
    );
}

#[test]
fn empty_chain_is_unknown() {
    let source = endpoint(Vec::new(), Verification::Valid, "svc.example");
    assert_eq!(source.status, Status::Unknown);
    assert_eq!(
        source.error.as_deref(),
        Some("the server sent no certificate")
    );
}

#[test]
fn real_expired_leaf_beside_its_valid_ca() {
    let mut pem = fixture("nri-kubernetes_server+3_expired-2026-09-10.pem");
    pem.extend(fixture("nri-kubernetes_rootCA.pem"));
    let infos: Vec<CertInfo> = split_certificates(&pem)
        .expect("valid PEM")
        .iter()
        .map(|der| info(der))
        .collect();
    let source = assess_file("/etc/ssl/mkcert.pem".to_owned(), infos, now(), DEFAULTS);
    assert_eq!(source.status, Status::Critical);
    let [leaf, root] = &source.certificates[..] else {
        panic!("two certificates expected");
    };
    assert_eq!(leaf.position, Position::Leaf);
    assert!(leaf.expired);
    // notAfter=Sep 10 22:20:51 2026 GMT, 126.4 days before NOW.
    assert!(
        (leaf.days_left + 126.4023).abs() < 1e-3,
        "{}",
        leaf.days_left
    );
    assert_eq!(root.position, Position::Root);
    assert_eq!(root.status, Status::Ok);
}

#[test]
fn every_real_expired_fixture_is_critical() {
    for name in [
        "telegraf_googlecloud_cert_expired-2005-08-14.pem",
        "otel-collector_test_cert_expired-2020-03-03.pem",
        "otel-contrib-kubeletstats_testcert_expired-2021-05-06.crt",
        "fluent-bit_certificate_expired-2023-08-17.pem",
    ] {
        let infos: Vec<CertInfo> = split_certificates(&fixture(name))
            .expect("valid PEM")
            .iter()
            .map(|der| info(der))
            .collect();
        let source = assess_file(name.to_owned(), infos, now(), DEFAULTS);
        assert_eq!(source.status, Status::Critical, "{name}");
        assert!(
            source.certificates.iter().all(|cert| cert.expired),
            "{name}"
        );
    }
}
