//! The chaos harness: the real binary under a random schedule of faults,
//! judged by an oracle that knows every line written.
//!
//! Each capability has its own tests; operators meet combinations (a
//! reload while the ingest flaps, a rotation during a restart). Writers
//! append sequence-numbered lines to plain files and to kubelet-style pod
//! directories (CRI lines, partial ones included) while two lanes inject
//! faults drawn from a seed: rotations of every kind, pods coming and
//! going, kill -9 and SIGTERM restarts, reloads, a full data disk, and an
//! ingest that is down, refuses, throttles, is slow or resets. The oracle
//! ([`oracle`]) then checks that no line was lost beyond what the agent
//! itself reported giving up, and that every body arrived whole.
//!
//! Every scenario prints its seed and each fault as it is injected; the
//! same seed replays the same schedule:
//! `cargo bench -p neurallog-agent-tests --bench chaos -- --seed N --secs S`
//! (`./x soak MINUTES SEED` for long runs). `fixed_seeds` runs a few
//! short scenarios as part of the test suite.

pub mod agent_proc;
pub mod faults;
pub mod lines;
pub mod mirror;
pub mod oracle;
mod regressions;
pub mod report;
pub mod scenario;
pub mod world;

/// A few short scenarios with seeds that cover every fault kind; a
/// failure prints the seed to replay.
#[test]
fn fixed_seeds() {
    let summaries: Vec<_> = [1u64, 2, 3]
        .iter()
        .map(|&seed| {
            scenario::run(&scenario::Options {
                seed,
                duration: std::time::Duration::from_secs(35),
                rate: 300.0,
                drain_timeout: std::time::Duration::from_secs(60),
                avoid_open_bugs: true,
                agent_log: None,
            })
        })
        .collect();
    let table = report::table(&summaries);
    println!("{table}");
    assert!(
        summaries.iter().all(|s| s.problems.is_empty()),
        "chaos found problems:\n{table}"
    );
    let missed: Vec<&str> = faults::AGENT_LANE
        .iter()
        .chain(faults::INGEST_LANE)
        // Without root, no tmpfs: the disk-full fault is skipped (and
        // the table says so).
        .filter(|&&kind| kind != faults::FaultKind::DiskFull || summaries[0].disk_full_possible)
        .filter(|kind| !summaries.iter().any(|s| s.faults.contains_key(kind)))
        .map(|kind| kind.name())
        .collect();
    assert!(
        missed.is_empty(),
        "faults never injected: {missed:?}\n{table}"
    );
}

/// Every configuration a reload fault can move the agent to is one the
/// agent takes: a refused reload would keep the old one and test nothing.
#[test]
fn every_configuration_the_reload_faults_render_is_valid() {
    let dir = tempfile::tempdir().expect("temp dir");
    for variant in 0..10u32 {
        let config = agent_proc::AgentConfig {
            data_dir: dir.path().join("data"),
            root: dir.path().to_owned(),
            endpoint: "http://127.0.0.1:1/v1/logs".to_owned(),
            mirror_endpoint: "http://127.0.0.1:2/v1/logs".to_owned(),
            compression: ["none", "gzip", "zstd"][variant as usize % 3],
            include_rotated: variant % 2 == 0,
            include_extra: variant >= 3,
            include_variant: variant,
            pods_variant: variant,
            batch_variant: variant,
            mirror: variant % 2 == 1,
            mirror_stretch: variant,
            renamed: variant % 4 >= 2,
            transform_variant: variant,
            broken: agent_proc::Broken::No,
        };
        let path = dir.path().join("agent.yaml");
        std::fs::write(&path, config.render()).expect("write the configuration");
        let out = crate::support::agent::run(&["validate", "--config", &path.to_string_lossy()]);
        assert!(
            out.status.success(),
            "variant {variant}:\n{}\n{}",
            config.render(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The broken configurations of `reload_broken` are broken the way each
/// says: two are refused by `validate`, and the third passes it, so the
/// agent builds it and meets the missing token file then (a sink that
/// does not build, whose predecessor runs again).
#[test]
fn the_broken_configurations_break_where_they_say() {
    use agent_proc::Broken;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "t").expect("write the token");
    for (broken, refused) in [
        (Broken::No, None),
        (Broken::Yaml, Some("agent.yaml")),
        (Broken::UnknownInput, Some("sinks.console.inputs")),
        (Broken::MissingTokenFile, None),
    ] {
        let config = agent_proc::AgentConfig {
            data_dir: dir.path().join("data"),
            root: dir.path().to_owned(),
            endpoint: "http://127.0.0.1:1/v1/logs".to_owned(),
            mirror_endpoint: "http://127.0.0.1:2/v1/logs".to_owned(),
            compression: "none",
            include_rotated: false,
            include_extra: false,
            include_variant: 0,
            pods_variant: 0,
            batch_variant: 0,
            mirror: false,
            mirror_stretch: 0,
            renamed: false,
            transform_variant: 0,
            broken,
        };
        let path = dir.path().join("agent.yaml");
        std::fs::write(&path, config.render()).expect("write the configuration");
        let out = crate::support::agent::run(&["validate", "--config", &path.to_string_lossy()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match refused {
            None => assert!(out.status.success(), "{broken:?}: {stderr}"),
            Some(said) => {
                assert!(!out.status.success(), "{broken:?} was taken");
                assert!(stderr.contains(said), "{broken:?}: {stderr}");
            }
        }
    }
}
