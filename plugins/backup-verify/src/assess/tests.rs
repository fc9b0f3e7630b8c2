//! Tests of the judgement of one set: age, size, shrinkage, gzip, checksum
//! and encryption findings, each with its status.

use std::path::PathBuf;

use neurallog_plugin_sdk::clock::Timestamp;
use neurallog_plugin_sdk::parse_config;

use super::*;
use crate::config::Config;

const NOW: i64 = 1_800_000_000;
const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn set(extra: &str) -> BackupSet {
    let json = format!(r#"{{"sets": [{{"name": "db", "directory": "/backups"{extra}}}]}}"#);
    parse_config::<Config>(&json).expect("valid").sets.remove(0)
}

fn backup(name: &str, size: u64, age_secs: i64) -> BackupFile {
    BackupFile {
        path: PathBuf::from("/backups").join(name),
        relative: name.to_owned(),
        size,
        modified: Timestamp::from_unix_seconds(NOW - age_secs),
    }
}

fn contents(gzip: Option<Result<u64, String>>) -> Option<Result<Contents, String>> {
    Some(Ok(Contents {
        bytes_read: 100,
        sha256: DIGEST.to_owned(),
        gzip,
        sample: b"plain text".to_vec(),
    }))
}

fn sidecar(digest: &str) -> Result<Option<Expected>, ChecksumError> {
    Ok(Some(Expected {
        digest: digest.to_owned(),
        origin: Origin::Sidecar,
    }))
}

fn statuses(findings: &Findings) -> Vec<Status> {
    findings
        .problems
        .iter()
        .map(|(status, _)| *status)
        .collect()
}

#[test]
fn fresh_verified_backup_has_no_problems() {
    let findings = assess(
        &set(""),
        &[backup("db-2.gz", 100, 3600), backup("db-1.gz", 95, 90_000)],
        contents(Some(Ok(1000))),
        sidecar(DIGEST),
        NOW as f64,
    );
    assert!(findings.problems.is_empty(), "{:?}", findings.problems);
    assert!(findings.verified);
    assert_eq!(findings.age_secs, 3600.0);
    assert_eq!(findings.checksum, ChecksumOutcome::Matched(Origin::Sidecar));
    assert_eq!(findings.shrink_percent, None);
    assert_eq!(findings.count, 2);
}

#[test]
fn stale_backup_is_critical_but_still_verified() {
    let findings = assess(
        &set(""),
        &[backup("db.gz", 100, 100_000)],
        contents(Some(Ok(1))),
        Ok(None),
        NOW as f64,
    );
    assert_eq!(statuses(&findings), vec![Status::Critical]);
    assert_eq!(
        findings.problems[0].1,
        "db.gz is stale: 1d 3h old, limit 1d 2h"
    );
    assert!(findings.verified);
}

#[test]
fn empty_and_small_backups_are_critical() {
    let findings = assess(
        &set(""),
        &[backup("db.gz", 0, 10)],
        contents(Some(Err("empty".into()))),
        Ok(None),
        NOW as f64,
    );
    assert!(
        findings
            .problems
            .iter()
            .any(|(_, text)| text == "db.gz is empty"),
        "{:?}",
        findings.problems
    );
    assert!(!findings.verified);
    let findings = assess(
        &set(r#", "min_size_bytes": 1000"#),
        &[backup("db.gz", 999, 10)],
        contents(None),
        Ok(None),
        NOW as f64,
    );
    assert_eq!(
        findings.problems,
        vec![(
            Status::Critical,
            "db.gz has 999 bytes, below 1000".to_owned()
        )]
    );
    assert!(
        findings.verified,
        "size limits are not content verification"
    );
}

#[test]
fn shrinkage_beyond_the_limit_warns() {
    let backups = [backup("db-2.gz", 70, 10), backup("db-1.gz", 100, 86_400)];
    let findings = assess(&set(""), &backups, contents(None), Ok(None), NOW as f64);
    assert_eq!(findings.shrink_percent, Some(30.0));
    assert_eq!(
        findings.problems,
        vec![(
            Status::Warning,
            "db-2.gz is 30.0% smaller than the previous backup".to_owned()
        )]
    );
    let lenient = assess(
        &set(r#", "max_shrink_percent": 50"#),
        &backups,
        contents(None),
        Ok(None),
        NOW as f64,
    );
    assert!(lenient.problems.is_empty());
}

#[test]
fn bad_gzip_fails_verification() {
    let findings = assess(
        &set(""),
        &[backup("db.gz", 100, 10)],
        contents(Some(Err("corrupt deflate stream".into()))),
        Ok(None),
        NOW as f64,
    );
    assert!(!findings.verified);
    assert_eq!(
        findings.problems,
        vec![(
            Status::Critical,
            "db.gz: bad gzip stream: corrupt deflate stream".to_owned()
        )]
    );
}

#[test]
fn checksum_mismatch_fails_verification() {
    let other = "0".repeat(64);
    let findings = assess(
        &set(""),
        &[backup("db.gz", 100, 10)],
        contents(None),
        sidecar(&other),
        NOW as f64,
    );
    assert!(!findings.verified);
    assert_eq!(
        findings.problems,
        vec![(
            Status::Critical,
            "db.gz: sha256 differs from the sidecar".to_owned()
        )]
    );
    assert!(
        matches!(findings.checksum, ChecksumOutcome::Mismatch { ref expected, .. } if *expected == other)
    );
}

#[test]
fn missing_checksum_fails_only_when_required() {
    let relaxed = assess(
        &set(""),
        &[backup("db.gz", 100, 10)],
        contents(None),
        Ok(None),
        NOW as f64,
    );
    assert!(relaxed.verified);
    assert_eq!(relaxed.checksum, ChecksumOutcome::Missing);
    let strict = assess(
        &set(r#", "require_checksum": true"#),
        &[backup("db.gz", 100, 10)],
        contents(None),
        Ok(None),
        NOW as f64,
    );
    assert!(!strict.verified);
    assert_eq!(
        strict.problems[0].1,
        "db.gz: no checksum (db.gz.sha256 or a manifest entry)"
    );
}

#[test]
fn plain_backup_fails_the_encryption_expectation() {
    let findings = assess(
        &set(r#", "expect_encrypted": true"#),
        &[backup("db.sql", 100, 10)],
        contents(None),
        Ok(None),
        NOW as f64,
    );
    assert!(!findings.verified);
    assert!(
        findings.problems[0]
            .1
            .starts_with("db.sql does not look encrypted (entropy "),
        "{:?}",
        findings.problems
    );
}

#[test]
fn unreadable_backup_is_unknown_and_unverified() {
    let findings = assess(
        &set(""),
        &[backup("db.gz", 100, 10)],
        Some(Err("permission denied".into())),
        Ok(None),
        NOW as f64,
    );
    assert_eq!(
        findings.problems,
        vec![(
            Status::Unknown,
            "cannot read db.gz: permission denied".to_owned()
        )]
    );
    assert!(!findings.verified);
    assert_eq!(findings.checksum, ChecksumOutcome::NotComputed);
}

#[test]
fn no_backup_is_critical() {
    let findings = assess(&set(r#", "glob": "*.gz""#), &[], None, Ok(None), NOW as f64);
    assert_eq!(
        findings.problems,
        vec![(
            Status::Critical,
            "no backup matches *.gz in /backups".to_owned()
        )]
    );
    assert!(!findings.verified);
}

#[test]
fn durations_read_naturally() {
    assert_eq!(duration(42.0), "42s");
    assert_eq!(duration(423.0), "7m 3s");
    assert_eq!(duration(18_720.0), "5h 12m");
    assert_eq!(duration(93_600.0), "1d 2h");
}
