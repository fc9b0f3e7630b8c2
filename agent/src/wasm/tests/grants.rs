//! Capabilities, proven with real guests: what is granted works, what is
//! not is refused, and a refusal fails only that run.

use std::path::Path;

use super::support::{host, host_with, load, ok_result};
use crate::wasm::{Grants, Limits, PluginErrorKind, RunOutcome};

fn plugin_failure(outcome: &RunOutcome) -> &str {
    match outcome {
        RunOutcome::PluginError {
            kind: PluginErrorKind::Failed,
            message,
        } => message,
        other => panic!("expected the plugin's own failure, got {other:?}"),
    }
}

fn fs_config(path: &Path, write: bool) -> String {
    serde_json::json!({ "path": path, "write": write }).to_string()
}

#[tokio::test]
async fn files_are_readable_only_inside_granted_directories() {
    let granted = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("inside.txt"), "granted content").unwrap();
    std::fs::write(other.path().join("outside.txt"), "secret").unwrap();

    let (host, _dir) = host();
    let grants = Grants {
        directories: vec![granted.path().to_owned()],
        ..Grants::default()
    };
    let reader = load(&host, "fsreader", Limits::default(), grants).await;

    let inside = reader
        .run(&fs_config(&granted.path().join("inside.txt"), false))
        .await;
    assert_eq!(
        ok_result(&inside).detail("content"),
        Some("granted content")
    );

    let outside = reader
        .run(&fs_config(&other.path().join("outside.txt"), false))
        .await;
    assert!(plugin_failure(&outside.outcome).starts_with("cannot read"));

    let escape = granted
        .path()
        .join("..")
        .join(other.path().file_name().unwrap())
        .join("outside.txt");
    let escaped = reader.run(&fs_config(&escape, false)).await;
    assert!(plugin_failure(&escaped.outcome).starts_with("cannot read"));

    let etc = reader
        .run(&fs_config(Path::new("/etc/hostname"), false))
        .await;
    assert!(plugin_failure(&etc.outcome).starts_with("cannot read"));

    // Read-only: no writes, not even inside the grant.
    let target = granted.path().join("written.txt");
    let write = reader.run(&fs_config(&target, true)).await;
    assert!(plugin_failure(&write.outcome).starts_with("cannot write"));
    assert!(!target.exists());

    // Only those runs failed.
    let again = reader
        .run(&fs_config(&granted.path().join("inside.txt"), false))
        .await;
    ok_result(&again);
    assert_eq!(reader.quarantine().consecutive_failures, 0);
}

#[tokio::test]
async fn no_grants_means_no_files() {
    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("inside.txt"), "x").unwrap();
    let (host, _dir) = host();
    let reader = load(&host, "fsreader", Limits::default(), Grants::default()).await;
    let report = reader
        .run(&fs_config(&granted.path().join("inside.txt"), false))
        .await;
    assert!(plugin_failure(&report.outcome).starts_with("cannot read"));
}

#[tokio::test]
async fn wasi_sockets_and_name_lookup_are_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (host, _dir) = host();
    // Even a TLS grant for the address does not open raw sockets.
    let grants = Grants {
        tls_targets: vec![addr.to_string()],
        ..Grants::default()
    };
    let net = load(&host, "netprobe", Limits::default(), grants).await;
    let report = net
        .run(&serde_json::json!({ "addr": addr.to_string(), "host": "localhost" }).to_string())
        .await;
    let result = ok_result(&report);
    let connect = result.detail("connect").unwrap();
    let resolve = result.detail("resolve").unwrap();
    assert!(connect.starts_with("error: "), "{connect}");
    assert!(resolve.starts_with("error: "), "{resolve}");
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}

#[tokio::test]
async fn environment_passes_only_granted_names() {
    let (host, _dir) = host();
    let grants = Grants {
        env: vec!["PATH".into()],
        ..Grants::default()
    };
    let api = load(&host, "hostapi", Limits::default(), grants).await;
    let path = api.run(r#"{"env":"PATH"}"#).await;
    assert_eq!(
        ok_result(&path).detail("env"),
        std::env::var("PATH").ok().as_deref()
    );
    assert!(std::env::var("HOME").is_ok(), "the agent has HOME");
    let home = api.run(r#"{"env":"HOME"}"#).await;
    assert_eq!(ok_result(&home).detail("env"), Some("<unset>"));
}

#[tokio::test]
async fn fs_stats_answers_for_granted_mounts_only() {
    let tables = tempfile::tempdir().unwrap();
    let mounts_file = tables.path().join("mounts");
    std::fs::write(
        &mounts_file,
        "/dev/root / ext4 rw,relatime 0 0\n/dev/sdz9 /srv/data\\040lake xfs rw 0 0\n",
    )
    .unwrap();
    let (host, _dir) = host_with(|s| s.mounts_file = mounts_file.clone());
    let grants = Grants {
        mounts: vec!["/".into(), "/srv/data lake".into()],
        ..Grants::default()
    };
    let api = load(&host, "hostapi", Limits::default(), grants).await;

    let root = api.run(r#"{"mount":"/"}"#).await;
    let result = ok_result(&root);
    assert_eq!(
        result.detail("mounts"),
        Some("/|/dev/root|ext4;/srv/data lake|/dev/sdz9|xfs")
    );
    let stat = rustix::fs::statvfs("/").unwrap();
    assert_eq!(
        result.detail("usage_total_bytes"),
        Some((stat.f_blocks * stat.f_frsize).to_string().as_str())
    );

    let tmp = api.run(r#"{"mount":"/tmp"}"#).await;
    assert_eq!(
        ok_result(&tmp).detail("usage_error"),
        Some("not-allowed: /tmp")
    );
    // Granted but not mounted here: statvfs itself fails.
    let lake = api.run(r#"{"mount":"/srv/data lake"}"#).await;
    assert!(
        ok_result(&lake)
            .detail("usage_error")
            .unwrap()
            .starts_with("failed: statvfs")
    );
}

#[tokio::test]
async fn state_persists_across_runs_and_restarts_and_is_capped() {
    let state_home = tempfile::tempdir().unwrap();
    let state_dir = state_home.path().join("state");
    let limits = Limits {
        max_state_bytes: 64,
        ..Limits::default()
    };
    {
        let (host, _dir) = host_with(|s| s.state_dir = state_dir.clone());
        let api = load(&host, "hostapi", limits.clone(), Grants::default()).await;
        assert_eq!(ok_result(&api.run("{}").await).detail("runs"), Some("1"));
        assert_eq!(ok_result(&api.run("{}").await).detail("runs"), Some("2"));
        let over = api.run(r#"{"state_fill":100}"#).await;
        assert_eq!(ok_result(&over).detail("runs"), Some("3"));
        assert_eq!(
            ok_result(&over).detail("state_fill"),
            Some("quota-exceeded 64")
        );
    }
    // A new host (an agent restart) with the same state directory.
    let (host, _dir) = host_with(|s| s.state_dir = state_dir.clone());
    let api = load(&host, "hostapi", limits, Grants::default()).await;
    let fourth = api.run("{}").await;
    assert_eq!(ok_result(&fourth).detail("runs"), Some("4"));
    assert_eq!(
        ok_result(&fourth).detail("keys"),
        Some("runs"),
        "the refused write left nothing"
    );
    assert!(state_dir.join("hostapi.state.jsonl").is_file());
}

#[tokio::test]
async fn a_reloaded_plugin_shares_state_with_the_copy_it_replaces() {
    let (host, _dir) = host();
    let old = load(&host, "hostapi", Limits::default(), Grants::default()).await;
    assert_eq!(ok_result(&old.run("{}").await).detail("runs"), Some("1"));
    // A reload (the file changed): both copies are alive for a while.
    let new = load(&host, "hostapi", Limits::default(), Grants::default()).await;
    assert_eq!(ok_result(&new.run("{}").await).detail("runs"), Some("2"));
    // A run of the old copy still in flight sees and keeps the new count.
    assert_eq!(ok_result(&old.run("{}").await).detail("runs"), Some("3"));
    drop(old);
    assert_eq!(ok_result(&new.run("{}").await).detail("runs"), Some("4"));
}

#[tokio::test]
async fn invalid_grants_are_load_errors() {
    let (host, _dir) = host();
    let grants = Grants {
        directories: vec!["/nonexistent/neurallog-test".into()],
        ..Grants::default()
    };
    let err = host
        .load(
            "ok",
            super::support::source("ok"),
            Limits::default(),
            grants,
        )
        .await
        .unwrap_err();
    assert!(
        err.kind
            .to_string()
            .contains("directories: /nonexistent/neurallog-test"),
        "{err}"
    );
}

#[tokio::test]
async fn a_granted_directory_is_the_one_opened_at_load_whatever_its_path_becomes() {
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&granted).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(granted.join("file.txt"), "granted content").unwrap();
    std::fs::write(elsewhere.join("file.txt"), "secret").unwrap();
    let (host, _dir) = host();
    let grants = Grants {
        directories: vec![granted.clone()],
        ..Grants::default()
    };
    let reader = load(&host, "fsreader", Limits::default(), grants).await;

    // Whoever can rename in the parent swaps the granted path for a link
    // to another directory.
    std::fs::rename(&granted, root.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &granted).unwrap();

    let report = reader
        .run(&fs_config(&granted.join("file.txt"), false))
        .await;
    assert_eq!(
        ok_result(&report).detail("content"),
        Some("granted content"),
        "the run still sees the directory granted at load"
    );
}
