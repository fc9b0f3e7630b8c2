//! FNV-1a, 64 bits: small, and the same on every node and release. File
//! fingerprints are stored in checkpoints with it, and `sample` keys on
//! it so that a key is sampled the same way everywhere.

/// The FNV-1a 64 hash of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
