//! On-disk cache of compiled components, so a plugin is compiled once per
//! content and engine configuration, not at every agent start.
//!
//! A cache file is named `<sha256 of the component>-<engine hash>.cwasm`,
//! where the engine hash is a SHA-256 over wasmtime's
//! `Engine::precompile_compatibility_hash` (target, compiler flags,
//! tunables, features, wasmtime version). Its content is a magic header,
//! the SHA-256 of the component it was compiled from, a SHA-256 over that
//! and the payload, and the payload from `Component::serialize`. Files are
//! written atomically with mode 0600 in a directory that must be owned by
//! the agent's user with mode 0700: the cache refuses to open any other, as
//! whoever can write there could make the agent run their machine code.
//!
//! Loading a compiled artifact is `unsafe` in wasmtime: the bytes are
//! machine code run as is. The one `unsafe` call below is sound because the
//! cache only deserializes bytes that are exactly what it wrote for this
//! component: the file is opened once (not through a link, never blocking),
//! its owner and mode are checked on that descriptor and its bytes read
//! from it, the component hash in the header must be the one being loaded,
//! and the checksum must match. Anything else (missing, truncated,
//! corrupted, foreign, for another component or engine) is recompiled,
//! never fatal.

use std::fmt;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::fsutil::{self, Follow, ReadError};

/// Header of a cache file, with the format version.
const MAGIC: &[u8; 8] = b"NLCWASM2";
/// Length of a component's SHA-256 in the header (hex).
const COMPONENT_HASH_LEN: usize = 64;
/// Header length: magic, the component's SHA-256 (hex), then the SHA-256
/// of both that and the payload.
const HEADER_LEN: usize = MAGIC.len() + COMPONENT_HASH_LEN + 32;
/// A compiled component (of any engine) not loaded for this long is removed
/// when another is stored.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Largest cache file read: compiled code is a few times the size of the
/// component, itself capped at 64 MiB.
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// Where a loaded plugin's compiled code came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cache")]
pub enum CacheStatus {
    /// No cache directory is configured: compiled.
    Disabled,
    /// Loaded from the cache.
    Hit,
    /// Not in the cache: compiled and stored.
    Miss,
    /// A cache file was unusable: compiled and stored anew.
    Recompiled {
        /// Why the file was not used.
        reason: String,
    },
}

/// The compiled-artifact cache in one directory, for one engine.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
}

// === impl ArtifactCache ===

impl ArtifactCache {
    /// Opens (creating if needed) the cache in `dir` for `engine`. Refuses
    /// a directory not owned by the agent's user or open to anyone else.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        fsutil::create_private_dir(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        let euid = rustix::process::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "owned by uid {} with mode {:o}: expected a directory owned by the agent's user (uid {euid}) with mode 0700",
                    meta.uid(),
                    meta.mode() & 0o7777
                ),
            ));
        }
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        Ok(Self {
            dir: dir.to_owned(),
            engine_hash: hex(&digest[..8]),
        })
    }

    /// The cache file for a component whose SHA-256 (hex) is `wasm_sha256`.
    pub(crate) fn path_for(&self, wasm_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{wasm_sha256}-{}.cwasm", self.engine_hash))
    }

    /// The compiled component for `wasm`, from the cache or compiled (and
    /// then stored). Only compiling can fail.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_sha256: &str,
    ) -> wasmtime::Result<(Component, CacheStatus)> {
        let path = self.path_for(wasm_sha256);
        // One compile per component at a time, across processes: checks of
        // one plugin start their workers together, and a large component
        // (a Python one takes tens of seconds) would be compiled by each.
        // The others wait here and then load what the first stored.
        let _compiling = self.lock(&path);
        let status = match self.load(engine, &path, wasm_sha256) {
            Ok(component) => {
                // Used now: the sweep keeps what is in use.
                let touched = fs::File::open(&path).and_then(|f| f.set_modified(SystemTime::now()));
                if let Err(error) = touched {
                    tracing::debug!(%error, path = %path.display(), "Cannot mark a compiled plugin as used.");
                }
                return Ok((component, CacheStatus::Hit));
            }
            Err(Unusable::Missing) => CacheStatus::Miss,
            Err(Unusable::Bad(reason)) => {
                tracing::warn!(path = %path.display(), %reason, "Compiled plugin cache file is unusable; recompiling.");
                CacheStatus::Recompiled { reason }
            }
        };
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(payload) => {
                let framed = frame(wasm_sha256, &payload);
                match fsutil::write_atomically(&path, &framed) {
                    Ok(()) => self.sweep(&path, SystemTime::now()),
                    Err(error) => {
                        tracing::warn!(%error, path = %path.display(), "Failed to write the compiled plugin cache.");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "Failed to serialize a compiled plugin."),
        }
        Ok((component, status))
    }

    /// Remove what is no longer loaded, after storing `kept`: compiled
    /// components not used for [`UNUSED_FOR`] (plugins since replaced, an
    /// agent since upgraded), whatever their engine (workers of other
    /// limits use engines of their own, and share the directory), and
    /// their lock files. Each is a compiled copy of a component, tens of
    /// MiB for some, in the data directory the disk queues share. Best
    /// effort.
    fn sweep(&self, kept: &Path, now: SystemTime) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let unused = |path: &Path| {
            fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|used| now.duration_since(used).unwrap_or_default() > UNUSED_FOR)
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let Some((component, _engine)) = stem.split_once('-') else {
                continue;
            };
            let ours = component.len() == COMPONENT_HASH_LEN
                && component.bytes().all(|b| b.is_ascii_hexdigit());
            if !ours || path == kept || path == kept.with_extension("lock") {
                continue;
            }
            let stale = match ext {
                "cwasm" => unused(&path),
                // A lock whose component is gone (its own sweep failed
                // to take the lock along, or it was never stored).
                "lock" => !path.with_extension("cwasm").exists() && unused(&path),
                _ => false,
            };
            if !stale {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "Removed a compiled plugin no longer used.");
                    if ext == "cwasm" {
                        let _ = fs::remove_file(path.with_extension("lock"));
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, path = %path.display(), "Cannot remove a compiled plugin.");
                }
            }
        }
    }

    /// Takes the lock file beside the cache file `path` (blocking), held
    /// until the returned file is dropped. Best effort: without it, two
    /// loads may both compile, which is slower but correct.
    fn lock(&self, path: &Path) -> Option<fs::File> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let lock = path.with_extension("lock");
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock);
        let locked = file.and_then(|file| {
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
            Ok(file)
        });
        match locked {
            Ok(file) => Some(file),
            Err(error) => {
                tracing::warn!(%error, path = %lock.display(), "Cannot lock the compiled plugin cache; compiling without the lock.");
                None
            }
        }
    }

    fn load(&self, engine: &Engine, path: &Path, wasm_sha256: &str) -> Result<Component, Unusable> {
        let bad = |error: ReadError| Unusable::Bad(error.to_string());
        let (file, meta) = match fsutil::open_regular(path, Follow::No) {
            Ok(opened) => opened,
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unusable::Missing);
            }
            Err(error) => return Err(bad(error)),
        };
        if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
            return Err(Unusable::Bad(
                "not a regular file owned by the agent's user and writable only by it".into(),
            ));
        }
        let bytes = fsutil::read_capped(file, &meta, MAX_ARTIFACT_BYTES).map_err(bad)?;
        let payload = unframe(&bytes, wasm_sha256).map_err(|why| Unusable::Bad(why.into()))?;
        deserialize_own_artifact(engine, payload).map_err(|e| Unusable::Bad(format!("{e:#}")))
    }
}

/// Why a cache file was not used.
enum Unusable {
    Missing,
    Bad(String),
}

/// Loads a compiled component this cache wrote.
#[allow(
    unsafe_code,
    reason = "wasmtime's only way to load a compiled artifact; see the SAFETY note"
)]
fn deserialize_own_artifact(engine: &Engine, payload: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` is sound for the unmodified output of
    // `Component::serialize`. `payload` is exactly such output: this cache
    // wrote it (atomically, mode 0600, in a 0700 directory), its SHA-256
    // was just checked against the one written beside it, and the file is
    // owned by the agent's user and writable by no one else. An artifact
    // from another wasmtime version or engine configuration is rejected by
    // wasmtime itself with an error, never run.
    unsafe { Component::deserialize(engine, payload) }
}

/// Header plus payload, for the component whose SHA-256 (hex) is
/// `wasm_sha256`.
fn frame(wasm_sha256: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(wasm_sha256.as_bytes());
    out.extend_from_slice(&checksum(wasm_sha256.as_bytes(), payload));
    out.extend_from_slice(payload);
    out
}

/// The payload, if the header is ours, names component `wasm_sha256`,
/// and the checksum matches; else why not.
fn unframe<'a>(bytes: &'a [u8], wasm_sha256: &str) -> Result<&'a [u8], &'static str> {
    let (header, payload) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or("checksum mismatch or truncated file")?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (component, digest) = rest.split_at(COMPONENT_HASH_LEN);
    if magic != MAGIC {
        return Err("not a cache file of this format");
    }
    if component != wasm_sha256.as_bytes() {
        return Err("compiled from another component");
    }
    if digest != checksum(component, payload).as_slice() {
        return Err("checksum mismatch or truncated file");
    }
    Ok(payload)
}

/// SHA-256 over the component's hash and the payload, so a payload is
/// bound to the component it was compiled from.
fn checksum(component: &[u8], payload: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(component)
        .chain_update(payload)
        .finalize()
        .into()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds a `Hash` into SHA-256 (only `write` is used; `finish` is required
/// by the trait and never called here).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheStatus::Disabled => f.write_str("disabled"),
            CacheStatus::Hit => f.write_str("hit"),
            CacheStatus::Miss => f.write_str("miss"),
            CacheStatus::Recompiled { reason } => write!(f, "recompiled ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn frames_round_trip_and_reject_any_change() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let framed = frame(&a, b"compiled code");
        assert_eq!(unframe(&framed, &a), Ok(&b"compiled code"[..]));
        // The artifact of another component, even intact, is not this one's.
        assert_eq!(unframe(&framed, &b), Err("compiled from another component"));
        let mut flipped = framed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(unframe(&flipped, &a).is_err());
        assert!(unframe(&framed[..framed.len() - 1], &a).is_err());
        assert!(unframe(&framed[..10], &a).is_err());
        // A header rewritten to name another component fails the checksum.
        let mut renamed = frame(&b, b"compiled code");
        renamed[MAGIC.len()..MAGIC.len() + 64].copy_from_slice(a.as_bytes());
        assert!(unframe(&renamed, &a).is_err());
        let mut foreign = framed;
        foreign[0] = b'X';
        assert!(unframe(&foreign, &a).is_err());
    }

    #[test]
    fn a_directory_open_to_others_is_refused() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        ArtifactCache::open(&cache, &engine).unwrap();
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o755)).unwrap();
        let error = ArtifactCache::open(&cache, &engine).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(error.to_string().contains("mode 755"), "{error}");
    }

    /// Regression: compiled components were kept for good, one per plugin
    /// build and agent version, in the data directory.
    #[test]
    fn storing_sweeps_what_is_no_longer_used() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::open(&dir.path().join("cache"), &engine).unwrap();
        let file = |sha: char, engine: &str, ext: &str| {
            dir.path()
                .join("cache")
                .join(format!("{}-{engine}.{ext}", sha.to_string().repeat(64)))
        };
        let now = SystemTime::now();
        let ours = cache.engine_hash.clone();
        let other = "0123456789abcdef";
        let write = |path: &Path, age_days: u64| {
            fs::write(path, b"x").unwrap();
            let at = now - Duration::from_secs(age_days * 24 * 3600);
            fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(at)
                .unwrap();
        };
        let kept = file('a', &ours, "cwasm");
        write(&kept, 0);
        write(&kept.with_extension("lock"), 40);
        // Replaced plugins, and an agent since upgraded.
        let replaced = file('c', &ours, "cwasm");
        write(&replaced, 40);
        write(&replaced.with_extension("lock"), 40);
        let upgraded_away = file('b', other, "cwasm");
        write(&upgraded_away, 31);
        let orphan_lock = file('e', &ours, "lock");
        write(&orphan_lock, 40);
        // In use: by this engine, and by another (a worker's).
        let in_use = file('d', &ours, "cwasm");
        write(&in_use, 29);
        write(&in_use.with_extension("lock"), 40);
        let workers = file('f', other, "cwasm");
        write(&workers, 1);
        let unrelated = dir.path().join("cache").join("notes-of-mine.txt");
        write(&unrelated, 400);

        cache.sweep(&kept, now);
        for gone in [
            &replaced,
            &replaced.with_extension("lock"),
            &upgraded_away,
            &orphan_lock,
        ] {
            assert!(!gone.exists(), "{} is swept", gone.display());
        }
        for stays in [
            &kept,
            &kept.with_extension("lock"),
            &in_use,
            &in_use.with_extension("lock"),
            &workers,
            &unrelated,
        ] {
            assert!(stays.exists(), "{} stays", stays.display());
        }
    }
}
