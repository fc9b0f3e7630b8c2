//! The first-party `backup_verify` check on real gzip files made here:
//! good, truncated, one corrupted byte, stale, checksum mismatch, empty.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::Digest as _;

use super::last_result;
use crate::support::agent::Agent;
use crate::support::wait_for;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A few MB of dump-like text.
fn dump() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..60_000 {
        writeln!(
            out,
            "INSERT INTO orders VALUES ({i}, 'customer-{}', {}.{:02}, '2026-11-{:02}');",
            i % 977,
            i % 500,
            i % 100,
            i % 28 + 1
        )
        .unwrap();
    }
    out
}

fn write_set(dir: &Path, name: &str, bytes: &[u8], sidecar: Option<&[u8]>) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    if let Some(content) = sidecar {
        let digest = hex(&sha2::Sha256::digest(content));
        std::fs::write(
            dir.join(format!("{name}.sha256")),
            format!("{digest}  {name}\n"),
        )
        .unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn backup_verify_tells_good_backups_from_broken_ones() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let good = gzip(&dump());
    assert!(good.len() > 100_000);
    write_set(&r.join("good"), "db-2026-11-26.sql.gz", &good, Some(&good));
    write_set(
        &r.join("truncated"),
        "db.sql.gz",
        &good[..good.len() / 2],
        None,
    );
    let mut corrupted = good.clone();
    corrupted[good.len() / 3] ^= 0x40;
    write_set(&r.join("corrupted"), "db.sql.gz", &corrupted, None);
    write_set(&r.join("stale"), "db.sql.gz", &good, None);
    let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(r.join("stale/db.sql.gz"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    write_set(
        &r.join("mismatch"),
        "db.sql.gz",
        &good,
        Some(b"something else"),
    );
    write_set(&r.join("empty"), "db.sql.gz", b"", None);

    let set = |name: &str| {
        format!(
            "      - {{name: {name}, directory: \"{dir}\", glob: \"*.gz\", max_age_secs: 86400}}\n",
            dir = r.join(name).display()
        )
    };
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  backups:
    type: backup_verify
    interval_secs: 3600
    config:
      sets:
{}{}{}{}{}{}    grants:
      directories: [\"{root}\"]
sinks:
  prom:
    type: prometheus
    inputs: [backups]
",
        set("good"),
        set("truncated"),
        set("corrupted"),
        set("stale"),
        set("mismatch"),
        set("empty"),
        root = r.display(),
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    wait_for("the backup check", Duration::from_secs(60), || {
        agent.metric("neurallog_check_status{check=\"backups\"}")
    });
    let verified = |set: &str| {
        agent.metric(&format!(
            "backup_verified{{backup_set=\"{set}\",check=\"backups\"}}"
        ))
    };
    assert_eq!(
        verified("good"),
        Some(1.0),
        "{}",
        last_result(&agent, "backups")
    );
    for broken in ["truncated", "corrupted", "mismatch", "empty"] {
        assert_eq!(
            verified(broken),
            Some(0.0),
            "{broken}: {}",
            last_result(&agent, "backups")
        );
    }
    // Stale but intact: verified, yet the set is not ok because of its age.
    let age = agent
        .metric("backup_age_seconds{backup_set=\"stale\",check=\"backups\"}")
        .unwrap();
    assert!((age - 3.0 * 86_400.0).abs() < 600.0, "age {age}");
    let size = agent
        .metric("backup_size_bytes{backup_set=\"good\",check=\"backups\"}")
        .unwrap();
    assert_eq!(size, good.len() as f64);
    assert_eq!(
        agent.metric("neurallog_check_status{check=\"backups\"}"),
        Some(2.0),
        "{}",
        last_result(&agent, "backups")
    );
    let details = last_result(&agent, "backups")["result"]["details"].to_string();
    for set in ["truncated", "corrupted", "stale", "mismatch", "empty"] {
        assert!(
            details.contains(set),
            "{set} missing from the details: {details}"
        );
    }
}

/// The check events a file sink wrote, as their statuses in order.
fn check_events(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["kind"] == "check")
        .map(|event| event["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_check_sends_an_event_when_its_status_changes_and_only_then() {
    let root = tempfile::tempdir().unwrap();
    let set = root.path().join("nightly");
    let good = gzip(&dump());
    write_set(&set, "db.sql.gz", &good, None);
    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  backups:
    type: backup_verify
    interval_secs: 1
    config:
      sets:
      - {{name: nightly, directory: \"{set}\", glob: \"*.gz\", max_age_secs: 86400}}
    grants:
      directories: [\"{set}\"]
sinks:
  out:
    type: file
    path: {{dir}}/events.jsonl
    inputs: [backups]
",
        set = set.display(),
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    let events = agent.dir.path().join("events.jsonl");
    let runs = |agent: &Agent| agent.metric_sum("neurallog_agent_check_runs_total", &[]);
    // Several runs at each status, so that an event per run would show.
    let settle = |agent: &Agent, status: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while last_result(agent, "backups")["status"] != status {
            assert!(
                std::time::Instant::now() < deadline,
                "status {status} not reached: {}",
                last_result(agent, "backups")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = runs(agent);
        wait_for("three more runs", Duration::from_secs(30), || {
            (runs(agent) >= seen + 3.0).then_some(())
        });
    };
    settle(&agent, "ok");
    let mut corrupted = good.clone();
    corrupted[good.len() / 3] ^= 0x40;
    write_set(&set, "db.sql.gz", &corrupted, None);
    settle(&agent, "critical");
    write_set(&set, "db.sql.gz", &good, None);
    settle(&agent, "ok");

    wait_for("the events in the sink", Duration::from_secs(10), || {
        (check_events(&events).len() >= 3).then_some(())
    });
    assert!(runs(&agent) >= 9.0);
    assert_eq!(check_events(&events), ["ok", "critical", "ok"]);
    let stderr = agent.stderr();
    for change in [
        "from=\"none\" to=\"ok\"",
        "from=\"ok\" to=\"critical\"",
        "from=\"critical\" to=\"ok\"",
    ] {
        assert!(stderr.contains(change), "no log of {change} in:\n{stderr}");
    }
}
