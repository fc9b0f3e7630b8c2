//! Expected SHA-256 digests from `sha256sum` files: a sidecar `<file>.sha256`
//! beside the backup, or an entry in a manifest covering the directory.
//!
//! The format is GNU coreutils' `sha256sum` output: one line per file,
//! `<64 hex digits><space><space or *><name>`. A sidecar may also hold just
//! the digest. Names in a manifest are relative to its directory (an
//! optional `./` prefix is ignored).

use std::io::Read;
use std::path::Path;

/// Largest checksum file read, so that a wrong path to a huge file cannot
/// stall a run.
const MAX_CHECKSUM_FILE_BYTES: u64 = 1 << 20;

/// Where an expected digest came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `<file>.sha256`.
    Sidecar,
    /// The configured manifest.
    Manifest,
}

/// An expected digest and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// 64 lower-case hex digits.
    pub digest: String,
    /// Sidecar or manifest.
    pub origin: Origin,
}

/// Why the checksum files could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The checksum file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The sidecar holds no digest.
    #[error("{path} holds no sha256 digest")]
    Malformed {
        /// The checksum file.
        path: String,
    },
}

// === impl Origin ===

impl Origin {
    /// `sidecar` or `manifest`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Sidecar => "sidecar",
            Origin::Manifest => "manifest",
        }
    }
}

/// The expected digest of `backup` (whose name relative to the set's
/// directory is `relative_name`): from its sidecar when there is one, else
/// from `manifest` (a path) when it lists the file. `Ok(None)` when neither
/// has it.
///
/// # Errors
///
/// A sidecar or manifest that exists but cannot be read, or a sidecar with
/// no digest.
pub fn expected_digest(
    backup: &Path,
    relative_name: &str,
    manifest: Option<&Path>,
) -> Result<Option<Expected>, ChecksumError> {
    let mut sidecar = backup.as_os_str().to_owned();
    sidecar.push(".sha256");
    let sidecar = Path::new(&sidecar);
    if let Some(contents) = read_if_present(sidecar)? {
        let digest = contents
            .lines()
            .find_map(|line| parse_line(line).map(|(digest, _)| digest))
            .ok_or_else(|| ChecksumError::Malformed {
                path: sidecar.display().to_string(),
            })?;
        return Ok(Some(Expected {
            digest,
            origin: Origin::Sidecar,
        }));
    }
    let Some(manifest) = manifest else {
        return Ok(None);
    };
    let Some(contents) = read_if_present(manifest)? else {
        return Ok(None);
    };
    let wanted = relative_name.trim_start_matches("./");
    Ok(contents.lines().find_map(|line| {
        let (digest, name) = parse_line(line)?;
        (name?.trim_start_matches("./") == wanted).then_some(Expected {
            digest,
            origin: Origin::Manifest,
        })
    }))
}

/// The contents of `path`, `None` when it does not exist.
fn read_if_present(path: &Path) -> Result<Option<String>, ChecksumError> {
    let error = |message: String| ChecksumError::Read {
        path: path.display().to_string(),
        message,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(io) if io.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(io) => return Err(error(io.to_string())),
    };
    let mut contents = String::new();
    file.take(MAX_CHECKSUM_FILE_BYTES)
        .read_to_string(&mut contents)
        .map_err(|io| error(io.to_string()))?;
    Ok(Some(contents))
}

/// Parses one `sha256sum` line into the lower-case digest and the name, if
/// any. `None` for lines that do not start with a digest (comments, blank
/// lines, other algorithms).
#[must_use]
pub fn parse_line(line: &str) -> Option<(String, Option<&str>)> {
    let line = line.trim_end_matches(['\r', '\n']);
    let digest = line.get(..64)?;
    if !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let rest = &line[64..];
    let name = match rest.as_bytes() {
        [] => None,
        [b' ', b' ' | b'*', ..] => Some(&rest[2..]),
        [b' ', ..] => Some(&rest[1..]),
        _ => return None,
    };
    Some((
        digest.to_ascii_lowercase(),
        name.filter(|name| !name.is_empty()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn parses_text_binary_and_bare_lines() {
        assert_eq!(
            parse_line(&format!("{DIGEST}  db.sql.gz")),
            Some((DIGEST.to_owned(), Some("db.sql.gz")))
        );
        assert_eq!(
            parse_line(&format!("{DIGEST} *db.sql.gz\r")),
            Some((DIGEST.to_owned(), Some("db.sql.gz")))
        );
        assert_eq!(
            parse_line(&DIGEST.to_uppercase()),
            Some((DIGEST.to_owned(), None))
        );
        assert_eq!(parse_line("# comment"), None);
        assert_eq!(parse_line(&format!("{DIGEST}x  name")), None);
        assert_eq!(parse_line(""), None);
    }

    #[test]
    fn sidecar_wins_over_manifest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backup = dir.path().join("db.sql.gz");
        std::fs::write(&backup, b"x").expect("write backup");
        let manifest = dir.path().join("SHA256SUMS");
        let other = "0".repeat(64);
        std::fs::write(&manifest, format!("{other}  db.sql.gz\n")).expect("write manifest");
        let expected = expected_digest(&backup, "db.sql.gz", Some(&manifest)).expect("readable");
        assert_eq!(
            expected,
            Some(Expected {
                digest: other.clone(),
                origin: Origin::Manifest
            })
        );

        std::fs::write(
            dir.path().join("db.sql.gz.sha256"),
            format!("{DIGEST}  db.sql.gz\n"),
        )
        .expect("write sidecar");
        let expected = expected_digest(&backup, "db.sql.gz", Some(&manifest)).expect("readable");
        assert_eq!(
            expected,
            Some(Expected {
                digest: DIGEST.to_owned(),
                origin: Origin::Sidecar
            })
        );
    }

    #[test]
    fn manifest_entries_match_by_relative_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("SUMS");
        std::fs::write(
            &manifest,
            format!(
                "# sums\n{}  ./day1/db.gz\n{DIGEST} *day2/db.gz\n",
                "1".repeat(64)
            ),
        )
        .expect("write manifest");
        let backup = dir.path().join("day2/db.gz");
        let expected = expected_digest(&backup, "day2/db.gz", Some(&manifest)).expect("readable");
        assert_eq!(
            expected.map(|expected| expected.digest),
            Some(DIGEST.to_owned())
        );
        let unlisted = expected_digest(
            &dir.path().join("day3/db.gz"),
            "day3/db.gz",
            Some(&manifest),
        );
        assert_eq!(unlisted, Ok(None));
        assert_eq!(expected_digest(&backup, "day2/db.gz", None), Ok(None));
    }

    #[test]
    fn a_sidecar_without_a_digest_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backup = dir.path().join("db.gz");
        std::fs::write(dir.path().join("db.gz.sha256"), "not a digest\n").expect("write sidecar");
        let error = expected_digest(&backup, "db.gz", None).expect_err("malformed");
        assert!(
            error
                .to_string()
                .ends_with("db.gz.sha256 holds no sha256 digest"),
            "{error}"
        );
    }
}
