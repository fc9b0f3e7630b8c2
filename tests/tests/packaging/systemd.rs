//! `packaging/systemd/neurallog-agent.service` under `systemd-analyze`
//! (Debian's systemd; no systemd runs here, and none is needed):
//!
//! - `verify` loads the unit as systemd would and checks every executable
//!   it names. The unit says `/usr/bin/neurallog-agent`, which exists only
//!   once the package is installed, so it runs on a copy whose `Exec*=` lines
//!   name the binary under test; nothing else changes. (The Debian test runs
//!   `verify` again on the unit as installed, unmodified.)
//! - `security --offline=true` scores the sandbox from the file alone;
//!   `--threshold=40` makes it fail above 4.0 ("OK").

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::{output, repo, text};
use crate::support::agent::binary;

const UNIT: &str = "packaging/systemd/neurallog-agent.service";
const HINT: &str = "systemd-analyze comes with Debian's systemd package";

/// The directives of a unit file, by name, in order (a name can repeat).
fn directives(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in unit.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            map.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    map
}

/// The unit with its `Exec*=` lines pointing at the binary under test.
fn testable_copy(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(repo().join(UNIT)).unwrap();
    let agent = binary();
    let copy = unit.replace("/usr/bin/neurallog-agent", agent.to_str().unwrap());
    assert_ne!(copy, unit, "the unit runs /usr/bin/neurallog-agent");
    let path = dir.join("neurallog-agent.service");
    std::fs::write(&path, copy).unwrap();
    path
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = testable_copy(dir.path());
    let out = output(
        Command::new("systemd-analyze").arg("verify").arg(&unit),
        HINT,
    );
    println!("systemd-analyze verify:\n{}", text(&out));
    // verify exits 0 on some problems (an unknown directive, a bad value)
    // and only prints them: silence is the pass.
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify found problems:\n{}",
        text(&out)
    );

    // It does catch a broken unit.
    let broken = std::fs::read_to_string(&unit)
        .unwrap()
        .replace("ProtectSystem=strict", "ProtectSystem=very");
    std::fs::write(&unit, broken).unwrap();
    let out = output(
        Command::new("systemd-analyze").arg("verify").arg(&unit),
        HINT,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Failed to parse protect system value"),
        "{}",
        text(&out)
    );
}

#[test]
fn unit_exposure_is_at_most_4() {
    let dir = tempfile::tempdir().unwrap();
    let unit = testable_copy(dir.path());
    let out = output(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=40", "--no-pager"])
            .arg(&unit),
        HINT,
    );
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{report}");
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for neurallog-agent.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{}", text(&out)));
    println!("exposure score: {score}");
    assert!(score <= 4.0, "exposure {score} > 4.0");
    assert!(
        out.status.success(),
        "--threshold=40 failed:\n{}",
        text(&out)
    );
    // The JIT needs writable-then-executable memory.
    assert!(
        report
            .lines()
            .any(|l| l.starts_with('✗') && l.contains("MemoryDenyWriteExecute=")),
        "MemoryDenyWriteExecute must stay off (Wasm JIT)"
    );
}

#[test]
fn unit_validates_reloads_and_restarts_as_designed() {
    let unit = std::fs::read_to_string(repo().join(UNIT)).unwrap();
    let d = directives(&unit);
    let one = |key: &str| -> &str {
        let values = d.get(key).unwrap_or_else(|| panic!("{key}= missing"));
        assert_eq!(values.len(), 1, "{key}= set once");
        &values[0]
    };
    let config = "/etc/neurallog-agent/agent.yaml";
    assert_eq!(
        one("ExecStartPre"),
        format!("/usr/bin/neurallog-agent validate --config {config}")
    );
    assert_eq!(
        one("ExecStart"),
        format!("/usr/bin/neurallog-agent run --config {config}")
    );
    assert_eq!(
        d["ExecReload"],
        [
            format!("/usr/bin/neurallog-agent validate --config {config}"),
            "/bin/kill -HUP $MAINPID".to_owned()
        ],
        "validate first; a failed ExecReload= stops the reload before HUP"
    );
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("RestartPreventExitStatus"), "78");
    assert_eq!(one("User"), "neurallog-agent");
    assert_eq!(one("SupplementaryGroups"), "adm");
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/neurallog-agent"),
        ("StateDirectory", "neurallog-agent"),
        ("NoNewPrivileges", "true"),
        ("ProtectKernelTunables", "true"),
        ("ProtectKernelModules", "true"),
        ("ProtectControlGroups", "true"),
        ("LockPersonality", "true"),
        ("PrivateTmp", "true"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(key), value, "{key}=");
    }
    assert_eq!(d["SystemCallFilter"][0], "@system-service");
    assert!(!d.contains_key("MemoryDenyWriteExecute"));

    // SIGKILL comes after the agent's own drain deadline.
    let vm: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("config/examples/vm.yaml")).unwrap(),
    )
    .unwrap();
    let drain = vm["shutdown_timeout_secs"].as_u64().unwrap_or(30);
    let stop: u64 = one("TimeoutStopSec").trim_end_matches('s').parse().unwrap();
    assert!(
        stop > drain,
        "TimeoutStopSec {stop} <= shutdown_timeout_secs {drain}"
    );
}
