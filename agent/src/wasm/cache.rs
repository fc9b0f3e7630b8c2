//! On-disk cache of compiled components, so a plugin is compiled once per
//! content and engine configuration, not at every agent start.
//!
//! A cache file is named `<sha256 of the component>-<engine hash>.cwasm`,
//! where the engine hash is a SHA-256 over wasmtime's
//! `Engine::precompile_compatibility_hash` (target, compiler flags,
//! tunables, features, wasmtime version). Its content is a magic header,
//! the SHA-256 of the payload, and the payload from
//! `Component::serialize`. Files are written atomically with mode 0600 in a
//! 0700 directory.
//!
//! Loading a compiled artifact is `unsafe` in wasmtime: the bytes are
//! machine code run as is. The one `unsafe` call below is sound because the
//! cache only deserializes bytes that are exactly what it wrote: the
//! checksum must match, and the file must be owned by the agent's user and
//! not writable by anyone else. Anything else (missing, truncated,
//! corrupted, foreign, from another engine) is recompiled, never fatal.

use std::fmt;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::fsutil;

/// Header of a cache file, with the format version.
const MAGIC: &[u8; 8] = b"NLCWASM1";
/// Header length: magic plus SHA-256 of the payload.
const HEADER_LEN: usize = MAGIC.len() + 32;

/// Where a loaded plugin's compiled code came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Opens (creating if needed) the cache in `dir` for `engine`.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        fsutil::create_private_dir(dir)?;
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
        let status = match self.load(engine, &path) {
            Ok(component) => return Ok((component, CacheStatus::Hit)),
            Err(Unusable::Missing) => CacheStatus::Miss,
            Err(Unusable::Bad(reason)) => {
                tracing::warn!(path = %path.display(), %reason, "Compiled plugin cache file is unusable; recompiling.");
                CacheStatus::Recompiled { reason }
            }
        };
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(payload) => {
                if let Err(error) = fsutil::write_atomically(&path, &frame(&payload)) {
                    tracing::warn!(%error, path = %path.display(), "Failed to write the compiled plugin cache.");
                }
            }
            Err(error) => tracing::warn!(%error, "Failed to serialize a compiled plugin."),
        }
        Ok((component, status))
    }

    fn load(&self, engine: &Engine, path: &Path) -> Result<Component, Unusable> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
            Err(e) => return Err(Unusable::Bad(e.to_string())),
        };
        if !meta.is_file()
            || meta.uid() != rustix::process::geteuid().as_raw()
            || meta.mode() & 0o022 != 0
        {
            return Err(Unusable::Bad(
                "not a regular file owned by the agent's user and writable only by it".into(),
            ));
        }
        let bytes = fs::read(path).map_err(|e| Unusable::Bad(e.to_string()))?;
        let payload = unframe(&bytes)
            .ok_or_else(|| Unusable::Bad("checksum mismatch or truncated file".into()))?;
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

/// Header plus payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload, if the header is ours and the checksum matches.
fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (header, payload) = bytes.split_at_checked(HEADER_LEN)?;
    let (magic, digest) = header.split_at(MAGIC.len());
    (magic == MAGIC && digest == Sha256::digest(payload).as_slice()).then_some(payload)
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

    #[test]
    fn frames_round_trip_and_reject_any_change() {
        let framed = frame(b"compiled code");
        assert_eq!(unframe(&framed), Some(&b"compiled code"[..]));
        let mut flipped = framed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unframe(&flipped), None);
        assert_eq!(unframe(&framed[..framed.len() - 1]), None);
        assert_eq!(unframe(&framed[..10]), None);
        let mut foreign = framed;
        foreign[0] = b'X';
        assert_eq!(unframe(&foreign), None);
    }
}
