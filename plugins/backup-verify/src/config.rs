//! The `backup-verify` configuration: backup sets and, for each, what the
//! newest backup must satisfy. `plugins/backup-verify/README.md` documents
//! it for operators; the JSON Schema returned by `describe` is derived from
//! the doc comments here.

use neurallog_plugin_sdk::RunError;
use schemars::JsonSchema;
use serde::Deserialize;

/// Configuration of the `backup-verify` check.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The backup sets to verify (at least one).
    pub sets: Vec<BackupSet>,
}

/// One backup set: the files in a directory that match a pattern, of which
/// the newest (by modification time) is verified.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSet {
    /// Name of the set, reported as the `backup_set` label.
    pub name: String,
    /// Absolute path of the directory holding the backups. It must be listed
    /// in the check's `grants.directories`.
    pub directory: String,
    /// Pattern of backup file names, relative to `directory` (`*`, `?`,
    /// `[...]`, and `**` for any depth, e.g. `db-*.sql.gz` or
    /// `*/dump.tar.gz`). Sidecar `.sha256` files and the manifest are never
    /// taken for backups.
    #[serde(default = "default_glob")]
    pub glob: String,
    /// The newest backup must be younger than this many seconds, or the set
    /// is `critical` (stale).
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// The newest backup must have at least this many bytes, or the set is
    /// `critical`. An empty backup is always `critical`.
    #[serde(default = "default_min_size_bytes")]
    pub min_size_bytes: u64,
    /// The newest backup may be at most this many percent smaller than the
    /// one before it, or the set is `warning`.
    #[serde(default = "default_max_shrink_percent")]
    pub max_shrink_percent: f64,
    /// Whether to decode the newest backup as gzip (every member, to the end)
    /// to prove it is complete: `auto` (when it starts with the gzip magic
    /// bytes or its name ends in `.gz`, `.tgz` or `.gzip`), `always`, or
    /// `never`.
    #[serde(default)]
    pub gzip: GzipMode,
    /// Name of a checksum manifest in `directory`, in `sha256sum` format
    /// (for example `SHA256SUMS`), used when the backup has no sidecar
    /// `<file>.sha256`.
    #[serde(default)]
    pub manifest: Option<String>,
    /// Fail verification when the newest backup has neither a sidecar nor a
    /// manifest entry. Without this a missing checksum is only reported.
    #[serde(default)]
    pub require_checksum: bool,
    /// Fail verification unless the newest backup looks encrypted: an
    /// `age`, OpenPGP or `openssl enc` header, or byte entropy of at least
    /// 7.9 bits per byte without the signature of a known compression format.
    #[serde(default)]
    pub expect_encrypted: bool,
}

/// When to decode a backup as gzip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GzipMode {
    /// Files with the gzip magic bytes or a gzip file name.
    #[default]
    Auto,
    /// Every backup; one that is not gzip fails verification.
    Always,
    /// None.
    Never,
}

/// The default of [`BackupSet::glob`]: every file.
#[must_use]
pub fn default_glob() -> String {
    "*".to_owned()
}

/// The default of [`BackupSet::max_age_secs`]: 26 hours, a daily backup
/// with two hours to spare.
#[must_use]
pub fn default_max_age_secs() -> u64 {
    26 * 3600
}

/// The default of [`BackupSet::min_size_bytes`]: 1 (not empty).
#[must_use]
pub fn default_min_size_bytes() -> u64 {
    1
}

/// The default of [`BackupSet::max_shrink_percent`]: 20.
#[must_use]
pub fn default_max_shrink_percent() -> f64 {
    20.0
}

// === impl Config ===

impl Config {
    /// Checks what serde cannot: at least one set, unique names, absolute
    /// directories, a sane shrink percentage, a plain manifest name.
    ///
    /// # Errors
    ///
    /// [`RunError::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), RunError> {
        if self.sets.is_empty() {
            return Err(RunError::invalid_config(
                "sets",
                "list at least one backup set",
            ));
        }
        for (index, set) in self.sets.iter().enumerate() {
            let field = |name: &str| format!("sets[{index}].{name}");
            if set.name.is_empty() {
                return Err(RunError::invalid_config(
                    &field("name"),
                    "must not be empty",
                ));
            }
            if self.sets[..index]
                .iter()
                .any(|other| other.name == set.name)
            {
                return Err(RunError::invalid_config(
                    &field("name"),
                    format!("{:?} is used by an earlier set", set.name),
                ));
            }
            if !set.directory.starts_with('/') {
                return Err(RunError::invalid_config(
                    &field("directory"),
                    "must be an absolute path",
                ));
            }
            if !(0.0..=100.0).contains(&set.max_shrink_percent) {
                return Err(RunError::invalid_config(
                    &field("max_shrink_percent"),
                    format!("{} is not between 0 and 100", set.max_shrink_percent),
                ));
            }
            if set.glob.is_empty() || set.glob.starts_with('/') {
                return Err(RunError::invalid_config(
                    &field("glob"),
                    "must be a non-empty pattern relative to directory",
                ));
            }
            if let Some(manifest) = &set.manifest
                && (manifest.is_empty() || manifest.contains('/'))
            {
                return Err(RunError::invalid_config(
                    &field("manifest"),
                    "must be a file name in directory",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::parse_config;

    use super::*;

    #[test]
    fn defaults_fill_everything_but_name_and_directory() {
        let config: Config =
            parse_config(r#"{"sets": [{"name": "db", "directory": "/backups/db"}]}"#)
                .expect("valid");
        let set = &config.sets[0];
        assert_eq!(set.glob, "*");
        assert_eq!(set.max_age_secs, 93_600);
        assert_eq!(set.min_size_bytes, 1);
        assert_eq!(set.max_shrink_percent, 20.0);
        assert_eq!(set.gzip, GzipMode::Auto);
        assert_eq!(set.manifest, None);
        assert!(!set.require_checksum && !set.expect_encrypted);
        config.validate().expect("valid");
    }

    #[test]
    fn parse_errors_name_the_set_and_field() {
        let error = parse_config::<Config>(
            r#"{"sets": [{"name": "db", "directory": "/b", "gzip": "sometimes"}]}"#,
        )
        .expect_err("bad enum");
        assert!(
            error
                .to_string()
                .contains("sets[0].gzip: unknown variant `sometimes`"),
            "{error}"
        );
        let error = parse_config::<Config>(r#"{"sets": [{"name": "db"}]}"#).expect_err("missing");
        assert!(
            error.to_string().contains("missing field `directory`"),
            "{error}"
        );
    }

    #[test]
    fn validation_names_the_set_and_field() {
        let cases = [
            (r#"{"sets": []}"#, "sets: list at least one backup set"),
            (
                r#"{"sets": [{"name": "a", "directory": "/x"}, {"name": "a", "directory": "/y"}]}"#,
                r#"sets[1].name: "a" is used by an earlier set"#,
            ),
            (
                r#"{"sets": [{"name": "a", "directory": "x"}]}"#,
                "sets[0].directory: must be an absolute path",
            ),
            (
                r#"{"sets": [{"name": "a", "directory": "/x", "max_shrink_percent": 150}]}"#,
                "sets[0].max_shrink_percent: 150 is not between 0 and 100",
            ),
            (
                r#"{"sets": [{"name": "a", "directory": "/x", "manifest": "../SUMS"}]}"#,
                "sets[0].manifest: must be a file name in directory",
            ),
        ];
        for (json, expected) in cases {
            let config: Config = parse_config(json).expect(json);
            let error = config.validate().expect_err(json);
            assert_eq!(error.to_string(), format!("invalid config: {expected}"));
        }
    }
}
