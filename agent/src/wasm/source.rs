//! Where a plugin comes from: bytes built into the agent or a `.wasm` file,
//! read with a size cap and checked against an optional SHA-256 pin.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cache;
use super::loader::LoadErrorKind;

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

    /// The component's bytes and SHA-256, checked against the pin.
    pub(crate) async fn read(&self) -> Result<(Arc<[u8]>, String), LoadErrorKind> {
        let (bytes, pin): (Arc<[u8]>, _) = match self {
            PluginSource::Embedded { bytes, .. } => (Arc::from(*bytes), None),
            PluginSource::File { path, sha256 } => {
                let size = tokio::fs::metadata(path)
                    .await
                    .map_err(LoadErrorKind::Read)?
                    .len();
                if size > MAX_COMPONENT_BYTES {
                    return Err(LoadErrorKind::TooLarge {
                        size,
                        limit: MAX_COMPONENT_BYTES,
                    });
                }
                let bytes = tokio::fs::read(path).await.map_err(LoadErrorKind::Read)?;
                (bytes.into(), sha256.as_deref())
            }
        };
        let pin = pin.map(normalize_pin).transpose()?;
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
