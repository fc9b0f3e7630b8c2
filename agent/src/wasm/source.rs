//! Where a plugin comes from: bytes built into the agent or a `.wasm` file,
//! read as a regular file with a size cap on the read itself (a FIFO, or a
//! link to `/dev/zero`, is refused at once) and checked against an
//! optional SHA-256 pin.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cache;
use super::error::LoadErrorKind;
use super::fsutil::{self, ReadError};

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// Built into the agent (first-party checks).
    Embedded {
        /// A name for messages, for example `cert-expiry.wasm`.
        name: &'static str,
        /// The component.
        bytes: &'static [u8],
    },
    /// A `.wasm` file on disk (third-party checks).
    File {
        /// Path of the component.
        path: PathBuf,
        /// Expected SHA-256 (hex, optionally prefixed `sha256:`); the load
        /// fails when the file's differs.
        sha256: Option<String>,
    },
}

/// Largest component file the host reads, in bytes.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

// === impl PluginSource ===

impl PluginSource {
    /// For messages: the path or the embedded name.
    pub fn display_name(&self) -> String {
        match self {
            PluginSource::Embedded { name, .. } => format!("embedded:{name}"),
            PluginSource::File { path, .. } => path.display().to_string(),
        }
    }

    /// The component's bytes and SHA-256, checked against the pin. A file
    /// is read once, as a regular file only, and never past
    /// [`MAX_COMPONENT_BYTES`]; the digest is of exactly the bytes returned,
    /// which are the bytes compiled.
    pub(crate) async fn read(&self) -> Result<(Arc<[u8]>, String), LoadErrorKind> {
        let (bytes, pin) = match self {
            PluginSource::Embedded { bytes, .. } => (Arc::<[u8]>::from(*bytes), None),
            PluginSource::File { path, sha256 } => {
                let pin = sha256.as_deref().map(normalize_pin).transpose()?;
                let path = path.clone();
                let bytes = tokio::task::spawn_blocking(move || {
                    fsutil::read_regular(&path, MAX_COMPONENT_BYTES)
                })
                .await
                .map_err(|e| LoadErrorKind::Compile(e.to_string()))?
                .map_err(|error| match error {
                    ReadError::Io(error) => LoadErrorKind::Read(error),
                    ReadError::NotRegular(kind) => LoadErrorKind::NotAFile { kind },
                    ReadError::TooLarge { limit } => LoadErrorKind::TooLarge { limit },
                })?;
                (Arc::from(bytes), pin)
            }
        };
        let hashed = bytes.clone();
        let actual = tokio::task::spawn_blocking(move || cache::hex(&Sha256::digest(&hashed)))
            .await
            .map_err(|e| LoadErrorKind::Compile(e.to_string()))?;
        if let Some(expected) = pin
            && expected != actual
        {
            return Err(LoadErrorKind::Sha256Mismatch { expected, actual });
        }
        Ok((bytes, actual))
    }
}

fn normalize_pin(pin: &str) -> Result<String, LoadErrorKind> {
    let hex = pin
        .trim()
        .trim_start_matches("sha256:")
        .to_ascii_lowercase();
    match hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(hex),
        false => Err(LoadErrorKind::InvalidPin(pin.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_normalized() {
        let hex = "AB".repeat(32);
        assert_eq!(
            normalize_pin(&format!("sha256:{hex}")).unwrap(),
            "ab".repeat(32)
        );
        assert!(matches!(
            normalize_pin("abc"),
            Err(LoadErrorKind::InvalidPin(_))
        ));
        assert!(matches!(
            normalize_pin(&"zz".repeat(32)),
            Err(LoadErrorKind::InvalidPin(_))
        ));
    }
}
