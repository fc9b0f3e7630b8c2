//! Does a file look encrypted? A heuristic over its first bytes: the headers
//! of common encryption tools, the signatures of compression formats (whose
//! output is also close to random, but not encrypted), and otherwise the
//! Shannon entropy of the bytes, which is close to 8 bits per byte for
//! ciphertext and well below it for text, SQL dumps and tar archives.
//!
//! Headers recognised: age ([age-encryption.org/v1]), armored age and
//! OpenPGP, binary OpenPGP messages starting with a public-key or symmetric
//! session key packet ([RFC 9580 §4.2/§5.1/§5.3]), and `openssl enc`
//! (`Salted__`).
//!
//! [age-encryption.org/v1]: https://age-encryption.org/v1
//! [RFC 9580 §4.2/§5.1/§5.3]: https://www.rfc-editor.org/rfc/rfc9580

/// How many leading bytes the heuristic looks at.
pub const SAMPLE_BYTES: usize = 1 << 20;

/// Entropy (bits per byte) from which a sample counts as ciphertext.
pub const ENCRYPTED_ENTROPY_BITS: f64 = 7.9;

/// Fewest bytes for the entropy test to mean anything: a sample of n bytes
/// cannot show more than log2(n) bits, and small random samples fall short
/// of 8 by about 255 / (2 n ln 2).
pub const MIN_ENTROPY_SAMPLE_BYTES: usize = 4096;

/// What the first bytes of a file suggest.
#[derive(Debug, Clone, PartialEq)]
pub enum Guess {
    /// The header of an encryption format.
    EncryptedHeader(&'static str),
    /// The signature of a compression or archive format, which is not
    /// encryption even though its bytes look random.
    Compressed(&'static str),
    /// No known header; the sample's entropy in bits per byte, and the
    /// sample size.
    Entropy {
        /// Shannon entropy, bits per byte.
        bits_per_byte: f64,
        /// Bytes sampled.
        sample_bytes: usize,
    },
}

// === impl Guess ===

impl Guess {
    /// Whether the file looks encrypted.
    #[must_use]
    pub fn looks_encrypted(&self) -> bool {
        match self {
            Guess::EncryptedHeader(_) => true,
            Guess::Compressed(_) => false,
            Guess::Entropy {
                bits_per_byte,
                sample_bytes,
            } => {
                *sample_bytes >= MIN_ENTROPY_SAMPLE_BYTES
                    && *bits_per_byte >= ENCRYPTED_ENTROPY_BITS
            }
        }
    }

    /// A short human description, for details.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Guess::EncryptedHeader(format) => format!("{format} header"),
            Guess::Compressed(format) => format!("{format} data, not encrypted"),
            Guess::Entropy {
                bits_per_byte,
                sample_bytes,
            } => format!("entropy {bits_per_byte:.3} bits/byte over {sample_bytes} bytes"),
        }
    }
}

/// Classifies `sample`, the first bytes (up to [`SAMPLE_BYTES`]) of a file.
#[must_use]
pub fn classify(sample: &[u8]) -> Guess {
    const HEADERS: [(&[u8], &str); 4] = [
        (b"age-encryption.org/v1\n", "age"),
        (b"-----BEGIN AGE ENCRYPTED FILE-----", "age (armored)"),
        (b"-----BEGIN PGP MESSAGE-----", "OpenPGP (armored)"),
        (b"Salted__", "openssl enc"),
    ];
    const COMPRESSED: [(&[u8], &str); 6] = [
        (&[0x1f, 0x8b], "gzip"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
        (b"BZh", "bzip2"),
        (b"PK\x03\x04", "zip"),
        (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7z"),
    ];
    for (header, format) in HEADERS {
        if sample.starts_with(header) {
            return Guess::EncryptedHeader(format);
        }
    }
    if sample
        .first()
        .is_some_and(|first| is_openpgp_session_key_packet(*first))
    {
        return Guess::EncryptedHeader("OpenPGP");
    }
    for (signature, format) in COMPRESSED {
        if sample.starts_with(signature) {
            return Guess::Compressed(format);
        }
    }
    Guess::Entropy {
        bits_per_byte: entropy(sample),
        sample_bytes: sample.len(),
    }
}

/// Whether `first` starts an OpenPGP packet with tag 1 (public-key encrypted
/// session key) or 3 (symmetric-key encrypted session key), which is how
/// `gpg --encrypt` and `gpg --symmetric` output begins. Old format:
/// `10tttt ll`; new format: `11tttttt`. No text or common archive starts
/// with these bytes (all are 0x84 and above).
fn is_openpgp_session_key_packet(first: u8) -> bool {
    let old_format_tag = (first & 0xc0 == 0x80).then_some((first >> 2) & 0x0f);
    let new_format_tag = (first & 0xc0 == 0xc0).then_some(first & 0x3f);
    matches!(old_format_tag.or(new_format_tag), Some(1 | 3))
}

/// Shannon entropy of `bytes` in bits per byte (0 for no bytes).
#[must_use]
pub fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0_u64; 256];
    for byte in bytes {
        counts[usize::from(*byte)] += 1;
    }
    let total = bytes.len() as f64;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = *count as f64 / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift64*), standing in for
    /// ciphertext.
    fn random_bytes(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn encryption_headers_are_recognised() {
        for (bytes, format) in [
            (&b"age-encryption.org/v1\n-> X25519 abc"[..], "age"),
            (b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl", "age (armored)"),
            (b"-----BEGIN PGP MESSAGE-----\n\nhQEMA", "OpenPGP (armored)"),
            (b"Salted__\x01\x02\x03\x04\x05\x06\x07\x08", "openssl enc"),
            (&[0x85, 0x01, 0x0c, 0x03], "OpenPGP"),
            (&[0x8c, 0x0d, 0x04, 0x09], "OpenPGP"),
            (&[0xc3, 0x0d, 0x04], "OpenPGP"),
        ] {
            let guess = classify(bytes);
            assert_eq!(guess, Guess::EncryptedHeader(format));
            assert!(guess.looks_encrypted());
        }
    }

    #[test]
    fn compressed_data_is_not_taken_for_ciphertext() {
        let mut gzip = vec![0x1f, 0x8b, 0x08, 0x00];
        gzip.extend(random_bytes(100_000));
        let guess = classify(&gzip);
        assert_eq!(guess, Guess::Compressed("gzip"));
        assert!(!guess.looks_encrypted());
    }

    #[test]
    fn random_bytes_look_encrypted_and_text_does_not() {
        let guess = classify(&random_bytes(65_536));
        assert!(guess.looks_encrypted(), "{guess:?}");
        let text = "INSERT INTO users VALUES (1, 'alice', 'alice@example.com');\n".repeat(2000);
        let guess = classify(text.as_bytes());
        let Guess::Entropy { bits_per_byte, .. } = guess else {
            panic!("expected an entropy guess, got {guess:?}");
        };
        assert!(bits_per_byte < 5.0, "{bits_per_byte}");
        assert!(!classify(text.as_bytes()).looks_encrypted());
    }

    #[test]
    fn tiny_samples_are_never_judged_encrypted() {
        assert!(!classify(&random_bytes(1000)).looks_encrypted());
    }

    #[test]
    fn entropy_of_known_distributions() {
        assert_eq!(entropy(&[]), 0.0);
        assert_eq!(entropy(&[7; 100]), 0.0);
        assert!((entropy(&[0, 1, 0, 1]) - 1.0).abs() < 1e-12);
        let all: Vec<u8> = (0..=255).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-12);
    }
}
