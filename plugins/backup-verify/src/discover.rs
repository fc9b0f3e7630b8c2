//! Finding a set's backups: the files under its directory matching its
//! pattern, minus checksum files, newest first by modification time.

use std::io;
use std::path::PathBuf;

use neurallog_plugin_sdk::clock::Timestamp;
use neurallog_plugin_sdk::fs::{self, GlobError};

use crate::config::BackupSet;

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to the set's directory, as a manifest names it.
    pub relative: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time.
    pub modified: Timestamp,
}

/// Why a set's backups could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The directory does not exist, or is not granted to the check (the
    /// plugin cannot tell the two apart).
    #[error("directory {0} does not exist or is not granted to the check (grants.directories)")]
    Missing(String),
    /// The directory exists but cannot be read.
    #[error("cannot read directory {directory}: {source}")]
    Unreadable {
        /// The directory.
        directory: String,
        /// The OS error.
        source: io::Error,
    },
    /// The pattern is not valid glob syntax.
    #[error("{0}")]
    Pattern(String),
}

/// The backups of `set`, newest first (ties: by name, last first).
///
/// # Errors
///
/// A [`DiscoverError`] when the directory cannot be listed or the pattern is
/// invalid. Files that vanish or cannot be stat'ed meanwhile are skipped.
pub fn discover(set: &BackupSet) -> Result<Vec<BackupFile>, DiscoverError> {
    let directory = PathBuf::from(&set.directory);
    let paths = fs::glob_in(&directory, &set.glob).map_err(|error| match error {
        GlobError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            DiscoverError::Missing(set.directory.clone())
        }
        GlobError::Io { source, .. } => DiscoverError::Unreadable {
            directory: set.directory.clone(),
            source,
        },
        other => DiscoverError::Pattern(other.to_string()),
    })?;
    let mut backups: Vec<BackupFile> = paths
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(&directory)
                .ok()?
                .to_string_lossy()
                .into_owned();
            if relative.ends_with(".sha256") || set.manifest.as_deref() == Some(relative.as_str()) {
                return None;
            }
            let metadata = std::fs::metadata(&path)
                .ok()
                .filter(|metadata| metadata.is_file())?;
            Some(BackupFile {
                modified: metadata.modified().ok()?.into(),
                size: metadata.len(),
                relative,
                path,
            })
        })
        .collect();
    backups.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then_with(|| b.relative.cmp(&a.relative))
    });
    Ok(backups)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use neurallog_plugin_sdk::parse_config;

    use super::*;
    use crate::config::Config;

    fn set(directory: &str, glob: &str) -> BackupSet {
        let json = format!(
            r#"{{"sets": [{{"name": "db", "directory": "{directory}", "glob": "{glob}", "manifest": "SHA256SUMS"}}]}}"#
        );
        parse_config::<Config>(&json).expect("valid").sets.remove(0)
    }

    fn write(path: &std::path::Path, bytes: &[u8], age_secs: u64) {
        std::fs::write(path, bytes).expect("write");
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .expect("set mtime");
    }

    #[test]
    fn newest_first_without_checksum_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(&dir.path().join("db-1.sql.gz"), b"old", 3000);
        write(&dir.path().join("db-2.sql.gz"), b"newer", 100);
        write(&dir.path().join("db-2.sql.gz.sha256"), b"x", 50);
        write(&dir.path().join("SHA256SUMS"), b"x", 10);
        write(&dir.path().join("other.txt"), b"x", 10);
        let backups = discover(&set(&dir.path().display().to_string(), "*")).expect("listed");
        let names: Vec<&str> = backups
            .iter()
            .map(|backup| backup.relative.as_str())
            .collect();
        assert_eq!(names, vec!["other.txt", "db-2.sql.gz", "db-1.sql.gz"]);
        let backups =
            discover(&set(&dir.path().display().to_string(), "db-*.sql.gz")).expect("listed");
        assert_eq!(backups[0].relative, "db-2.sql.gz");
        assert_eq!(backups[0].size, 5);
        assert_eq!(backups.len(), 2);
    }

    #[test]
    fn missing_directory_is_reported_as_such() {
        let error = discover(&set("/nonexistent-backups", "*")).expect_err("missing");
        assert!(matches!(error, DiscoverError::Missing(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "directory /nonexistent-backups does not exist or is not granted to the check (grants.directories)"
        );
    }

    #[test]
    fn backups_in_subdirectories_keep_their_relative_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("2026-11-26")).expect("mkdir");
        write(&dir.path().join("2026-11-26/dump.gz"), b"x", 10);
        let backups =
            discover(&set(&dir.path().display().to_string(), "*/dump.gz")).expect("listed");
        assert_eq!(backups[0].relative, "2026-11-26/dump.gz");
    }
}
