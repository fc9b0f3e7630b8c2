//! End-to-end runs of the check over real files: gzip data made here,
//! sidecars written with the digest `sha256sum` would print.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use neurallog_plugin_sdk::{CheckResult, Status, run_check, testing};
use sha2::{Digest, Sha256};

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("compress");
    encoder.finish().expect("finish")
}

fn dump(rows: usize) -> Vec<u8> {
    (0..rows)
        .map(|row| {
            format!(
                "INSERT INTO orders VALUES ({row}, 'customer {row}', {});\n",
                row * 13
            )
        })
        .collect::<String>()
        .into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Writes `bytes` to `dir/name`, modified `age_secs` ago, with a sidecar
/// holding `digest` when given.
fn backup(dir: &Path, name: &str, bytes: &[u8], age_secs: u64, digest: Option<&str>) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write backup");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .expect("set mtime");
    if let Some(digest) = digest {
        std::fs::write(
            dir.join(format!("{name}.sha256")),
            format!("{digest}  {name}\n"),
        )
        .expect("write sidecar");
    }
}

fn run(dir: &Path, extra: &str) -> CheckResult {
    testing::reset();
    let config = format!(
        r#"{{"sets": [{{"name": "orders", "directory": "{}", "glob": "*.sql.gz"{extra}}}]}}"#,
        dir.display()
    );
    run_check::<BackupVerify>(&config).expect("run succeeds")
}

fn metric(result: &CheckResult, name: &str) -> Option<f64> {
    result.metrics_named(name).next().map(|metric| {
        assert_eq!(metric.label_value("backup_set"), Some("orders"));
        metric.value
    })
}

#[test]
fn good_backup_is_ok_and_verified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = gzip(&dump(9_000));
    backup(dir.path(), "orders-1.sql.gz", &old, 90_000, None);
    let good = gzip(&dump(10_000));
    backup(
        dir.path(),
        "orders-2.sql.gz",
        &good,
        600,
        Some(&sha256_hex(&good)),
    );
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Ok, "{}", result.summary);
    assert!(
        result.summary.starts_with(
            "1 backup sets verified; oldest newest backup orders (orders-2.sql.gz) 10m"
        ),
        "{}",
        result.summary
    );
    assert_eq!(metric(&result, "backup_verified"), Some(1.0));
    assert_eq!(
        metric(&result, "backup_size_bytes"),
        Some(good.len() as f64)
    );
    let age = metric(&result, "backup_age_seconds").expect("age");
    assert!((600.0..700.0).contains(&age), "{age}");
    let detail = result.detail_value("orders").expect("detail");
    assert!(detail.contains("sha256 matches the sidecar"), "{detail}");
    assert!(detail.ends_with(", verified"), "{detail}");
}

#[test]
fn truncated_backup_is_critical() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = gzip(&dump(10_000));
    backup(
        dir.path(),
        "orders.sql.gz",
        &good[..good.len() - 100],
        60,
        None,
    );
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert!(
        result
            .summary
            .starts_with("orders: orders.sql.gz: bad gzip stream: "),
        "{}",
        result.summary
    );
    assert_eq!(metric(&result, "backup_verified"), Some(0.0));
}

#[test]
fn one_corrupted_byte_is_critical_even_with_a_matching_checksum() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut corrupted = gzip(&dump(10_000));
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0x01;
    // The checksum was taken after the corruption: only the decode can tell.
    backup(
        dir.path(),
        "orders.sql.gz",
        &corrupted,
        60,
        Some(&sha256_hex(&corrupted)),
    );
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert!(
        result.summary.contains("bad gzip stream"),
        "{}",
        result.summary
    );
    assert_eq!(metric(&result, "backup_verified"), Some(0.0));
}

#[test]
fn stale_backup_is_critical() {
    let dir = tempfile::tempdir().expect("temp dir");
    backup(
        dir.path(),
        "orders.sql.gz",
        &gzip(&dump(100)),
        3 * 86_400,
        None,
    );
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert!(
        result
            .summary
            .starts_with("orders: orders.sql.gz is stale: 3d 0h old, limit 1d 2h"),
        "{}",
        result.summary
    );
    assert_eq!(
        metric(&result, "backup_verified"),
        Some(1.0),
        "the content itself is fine"
    );
}

#[test]
fn checksum_mismatch_is_critical() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = gzip(&dump(1000));
    backup(
        dir.path(),
        "orders.sql.gz",
        &data,
        60,
        Some(&sha256_hex(b"something else")),
    );
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert_eq!(
        result.summary,
        "orders: orders.sql.gz: sha256 differs from the sidecar"
    );
    let detail = result.detail_value("orders").expect("detail");
    assert!(
        detail.contains(&format!("got {}", sha256_hex(&data))),
        "{detail}"
    );
}

#[test]
fn empty_backup_is_critical() {
    let dir = tempfile::tempdir().expect("temp dir");
    backup(dir.path(), "orders.sql.gz", b"", 60, None);
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert!(
        result.summary.starts_with("orders: orders.sql.gz is empty"),
        "{}",
        result.summary
    );
    assert_eq!(metric(&result, "backup_size_bytes"), Some(0.0));
    assert_eq!(metric(&result, "backup_verified"), Some(0.0));
}

#[test]
fn missing_directory_and_no_backups_are_critical() {
    testing::reset();
    let result = run_check::<BackupVerify>(
        r#"{"sets": [{"name": "orders", "directory": "/nonexistent-backups"}]}"#,
    )
    .expect("run succeeds");
    assert_eq!(result.status, Status::Critical);
    assert_eq!(
        result.summary,
        "orders: directory /nonexistent-backups does not exist or is not granted to the check (grants.directories)"
    );
    assert_eq!(metric(&result, "backup_verified"), Some(0.0));
    assert_eq!(metric(&result, "backup_age_seconds"), None);

    let dir = tempfile::tempdir().expect("temp dir");
    let result = run(dir.path(), "");
    assert_eq!(result.status, Status::Critical);
    assert_eq!(
        result.summary,
        format!(
            "orders: no backup matches *.sql.gz in {}",
            dir.path().display()
        )
    );
}

#[test]
fn shrunken_backup_warns() {
    let dir = tempfile::tempdir().expect("temp dir");
    backup(dir.path(), "orders-1.sql", &dump(10_000), 86_400, None);
    backup(dir.path(), "orders-2.sql", &dump(5_000), 60, None);
    testing::reset();
    let config = format!(
        r#"{{"sets": [{{"name": "orders", "directory": "{}", "glob": "*.sql"}}]}}"#,
        dir.path().display()
    );
    let result = run_check::<BackupVerify>(&config).expect("run succeeds");
    assert_eq!(result.status, Status::Warning);
    assert!(
        result.summary.starts_with("orders: orders-2.sql is 50."),
        "{}",
        result.summary
    );
}

#[test]
fn manifest_entries_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = gzip(&dump(500));
    backup(dir.path(), "orders.sql.gz", &data, 60, None);
    std::fs::write(
        dir.path().join("SHA256SUMS"),
        format!("{}  orders.sql.gz\n", sha256_hex(&data)),
    )
    .expect("manifest");
    let result = run(
        dir.path(),
        r#", "manifest": "SHA256SUMS", "require_checksum": true"#,
    );
    assert_eq!(result.status, Status::Ok, "{}", result.summary);
    assert!(
        result
            .detail_value("orders")
            .is_some_and(|detail| detail.contains("matches the manifest"))
    );
}

#[test]
fn gzip_backup_expected_encrypted_is_critical() {
    let dir = tempfile::tempdir().expect("temp dir");
    backup(dir.path(), "orders.sql.gz", &gzip(&dump(5000)), 60, None);
    let result = run(dir.path(), r#", "expect_encrypted": true"#);
    assert_eq!(result.status, Status::Critical);
    assert_eq!(
        result.summary,
        "orders: orders.sql.gz does not look encrypted (gzip data, not encrypted)"
    );
}

#[test]
fn age_encrypted_backup_passes_the_encryption_test() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut encrypted = b"age-encryption.org/v1\n-> X25519 abc\n--- def\n".to_vec();
    encrypted.extend((0..5000_u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    backup(dir.path(), "orders.sql.age", &encrypted, 60, None);
    testing::reset();
    let config = format!(
        r#"{{"sets": [{{"name": "orders", "directory": "{}", "glob": "*.age", "expect_encrypted": true}}]}}"#,
        dir.path().display()
    );
    let result = run_check::<BackupVerify>(&config).expect("run succeeds");
    assert_eq!(result.status, Status::Ok, "{}", result.summary);
    assert!(
        result
            .detail_value("orders")
            .is_some_and(|detail| detail.contains("age header"))
    );
}
