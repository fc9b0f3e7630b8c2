//! Loading: the compiled-artifact cache, sha256 pins, components the host
//! cannot run, and `plugin inspect`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::support::{host_with, plugin_path, source};
use crate::wasm::{CacheStatus, Grants, Limits, LoadErrorKind, PluginHost, PluginSource};

fn sha256_of(path: &Path) -> String {
    crate::wasm::cache::hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

/// A cache directory the host accepts: owned by the test's user, 0700
/// (a `TempDir` has the umask's mode).
fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

async fn load_ok(host: &PluginHost) -> CacheStatus {
    let plugin = host
        .load("ok", source("ok"), Limits::default(), Grants::default())
        .await
        .unwrap();
    // Whatever the cache did, the plugin works.
    super::support::ok_result(&plugin.run("{}").await);
    plugin.info().cache.clone()
}

#[tokio::test]
async fn second_load_is_a_cache_hit() {
    let cache = private_dir();
    let (host, _dir) = host_with(|s| s.cache_dir = Some(cache.path().to_owned()));
    let cold = host
        .load("ok", source("ok"), Limits::default(), Grants::default())
        .await
        .unwrap();
    assert_eq!(cold.info().cache, CacheStatus::Miss);
    let files = cache_files(cache.path());
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{}-", sha256_of(&plugin_path("ok")))),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let warm = host
        .load("ok", source("ok"), Limits::default(), Grants::default())
        .await
        .unwrap();
    // A hit, told by the loader (how much faster it is, the `wasm` bench
    // measures; a test on a busy machine cannot).
    assert_eq!(warm.info().cache, CacheStatus::Hit);

    // Another engine configuration (fuel on) does not use that artifact.
    let (fueled, _dir) = host_with(|s| {
        s.cache_dir = Some(cache.path().to_owned());
        s.fuel_enabled = true;
    });
    assert_eq!(load_ok(&fueled).await, CacheStatus::Miss);
    assert_eq!(cache_files(cache.path()).len(), 2);
}

#[tokio::test]
async fn corrupt_or_foreign_cache_files_are_recompiled() {
    let cache = private_dir();
    let (host, _dir) = host_with(|s| s.cache_dir = Some(cache.path().to_owned()));
    assert_eq!(load_ok(&host).await, CacheStatus::Miss);
    let file = cache_files(cache.path()).remove(0);

    // One flipped bit in the compiled code.
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    match load_ok(&host).await {
        CacheStatus::Recompiled { reason } => assert!(reason.contains("checksum"), "{reason}"),
        other => panic!("expected a recompile, got {other:?}"),
    }
    assert_eq!(
        load_ok(&host).await,
        CacheStatus::Hit,
        "the recompiled artifact was stored"
    );

    // Truncated.
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    assert!(matches!(
        load_ok(&host).await,
        CacheStatus::Recompiled { .. }
    ));

    // Writable by others: not trusted, whatever it holds.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    match load_ok(&host).await {
        CacheStatus::Recompiled { reason } => {
            assert!(reason.contains("writable only by it"), "{reason}")
        }
        other => panic!("expected a recompile, got {other:?}"),
    }
    assert_eq!(load_ok(&host).await, CacheStatus::Hit);
}

#[tokio::test]
async fn sha256_pins_are_enforced() {
    let (host, _dir) = host_with(|_| {});
    let path = plugin_path("ok");
    let actual = sha256_of(&path);
    let wrong = "0".repeat(64);
    let err = host
        .load(
            "ok",
            PluginSource::File {
                path: path.clone(),
                sha256: Some(wrong.clone()),
            },
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    match &err.kind {
        LoadErrorKind::Sha256Mismatch {
            expected,
            actual: got,
        } => {
            assert_eq!(expected, &wrong);
            assert_eq!(got, &actual);
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    assert_eq!(
        err.kind.to_string(),
        format!("sha256 is {actual}, but {wrong} is pinned")
    );

    let pinned = PluginSource::File {
        path,
        sha256: Some(format!("sha256:{}", actual.to_uppercase())),
    };
    let plugin = host
        .load("ok", pinned, Limits::default(), Grants::default())
        .await
        .unwrap();
    assert_eq!(plugin.info().sha256, actual);
}

#[tokio::test]
async fn unusable_components_are_clear_load_errors() {
    let (host, dir) = host_with(|_| {});
    let evil = host
        .load("evil", source("evil"), Limits::default(), Grants::default())
        .await
        .unwrap_err();
    assert!(matches!(evil.kind, LoadErrorKind::Link(_)), "{evil:?}");
    let message = format!("{evil}: {}", evil.kind);
    assert!(message.contains("cannot load plugin \"evil\""), "{message}");
    assert!(message.contains("neurallog:evil/backdoor"), "{message}");

    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm not really").unwrap();
    let err = host
        .load(
            "garbage",
            PluginSource::File {
                path: garbage,
                sha256: None,
            },
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Compile(_)), "{err:?}");

    let missing = dir.path().join("missing.wasm");
    let err = host
        .load(
            "missing",
            PluginSource::File {
                path: missing,
                sha256: None,
            },
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Read(_)), "{err:?}");

    let huge = dir.path().join("huge.wasm");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let err = host
        .load(
            "huge",
            PluginSource::File {
                path: huge,
                sha256: None,
            },
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, LoadErrorKind::TooLarge { limit } if limit == 64 << 20),
        "{err:?}"
    );

    let err = host
        .load(
            "../escape",
            source("ok"),
            Limits::default(),
            Grants::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::InvalidName), "{err:?}");

    // Embedded bytes go the same way.
    let bytes: &'static [u8] =
        Box::leak(std::fs::read(plugin_path("ok")).unwrap().into_boxed_slice());
    let embedded = PluginSource::Embedded {
        name: "ok.wasm",
        bytes,
    };
    let plugin = host
        .load("embedded", embedded, Limits::default(), Grants::default())
        .await
        .unwrap();
    assert_eq!(plugin.info().source, "embedded:ok.wasm");
}

#[tokio::test]
async fn inspect_shows_world_imports_and_exports() {
    let (host, _dir) = host_with(|_| {});
    let ok = host.inspect(source("tlsprobe")).await.unwrap();
    assert_eq!(ok.world.as_deref(), Some("neurallog:plugin/check@0.1.0"));
    assert_eq!(ok.contract_versions, ["0.1.0"]);
    let names: Vec<&str> = ok.imports.iter().map(|i| i.name.as_str()).collect();
    assert!(names.contains(&"neurallog:plugin/tls@0.1.0"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("wasi:cli/stderr@0.2")),
        "{names:?}"
    );
    let exports: Vec<(&str, &str)> = ok
        .exports
        .iter()
        .map(|e| (e.name.as_str(), e.kind))
        .collect();
    assert!(
        exports.contains(&("describe", "function")) && exports.contains(&("run", "function")),
        "{exports:?}"
    );
    assert_eq!(ok.link_error, None);
    assert!(ok.loadable());

    let evil = host.inspect(source("evil")).await.unwrap();
    assert!(
        evil.imports
            .iter()
            .any(|i| i.name == "neurallog:evil/backdoor" && i.kind == "instance")
    );
    assert!(
        evil.link_error
            .as_deref()
            .is_some_and(|e| e.contains("neurallog:evil/backdoor"))
    );
    assert!(!evil.loadable());
}

#[tokio::test]
async fn inspect_tells_the_processor_worlds_apart() {
    let (host, _dir) = host_with(|_| {});
    let rows = host.inspect(source("processor")).await.unwrap();
    let columns = host.inspect(source("columns")).await.unwrap();
    // Built against 0.1.0 and against 0.1.1; this host loads both.
    assert_eq!(
        rows.world.as_deref(),
        Some("neurallog:plugin/processor@0.1.0")
    );
    assert_eq!(
        columns.world.as_deref(),
        Some("neurallog:plugin/column-processor@0.1.1")
    );
    assert!(rows.loadable() && columns.loadable());
    assert!(
        columns
            .exports
            .iter()
            .any(|e| e.name == "process-columns" && e.kind == "function"),
        "{columns:?}"
    );
}

#[tokio::test]
async fn reading_and_compiling_have_a_deadline() {
    // No cache and 1 ms: compiling any component takes longer.
    let (host, _dir) = host_with(|s| {
        s.cache_dir = None;
        s.load_timeout = std::time::Duration::from_millis(1);
    });
    let err = host
        .load("ok", source("ok"), Limits::default(), Grants::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, LoadErrorKind::LoadTimeout(t) if t.as_millis() == 1),
        "{err:?}"
    );
    assert_eq!(
        err.kind.to_string(),
        "reading and compiling took longer than 1ms"
    );
}

#[tokio::test]
async fn a_fifo_or_a_link_to_a_device_is_not_a_plugin_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.wasm");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let zero = dir.path().join("zero.wasm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let (host, _dir) = host_with(|_| {});
    for (path, kind) in [(fifo, "FIFO"), (zero, "character device")] {
        let started = std::time::Instant::now();
        let source = PluginSource::File { path, sha256: None };
        let err = host
            .load("x", source, Limits::default(), Grants::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind, LoadErrorKind::NotAFile { kind: k } if k == kind),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
