//! Configuration of the `file` source (and the tailing part of
//! `kubernetes_logs`, which shares it).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::multiline::MultilineConfig;
use crate::config::{ConfigError, FieldPath, Validate, tagged};

/// Configuration of the `file` source.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FileSourceConfig {
    /// Glob patterns of files to tail. `*` matches within one path
    /// component, `**` across directories, `{a,b}` either. Symbolic links
    /// are followed to the file they name, and a file reached by two paths
    /// is tailed once.
    pub include: Vec<String>,
    /// Glob patterns of files never to tail, matched against the path found.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Tailing behaviour shared with `kubernetes_logs`.
    #[serde(flatten)]
    pub tail: TailConfig,
    /// Group lines into multiline records (stack traces).
    #[serde(default)]
    pub multiline: Option<MultilineConfig>,
    /// Static attributes added to every record of this source.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Resource attributes of this source's records, beside the host's
    /// (`host.*`, `os.*`): the workload's identity, e.g. `service.name:
    /// billing`. Without it the records name no service (the agent only
    /// reads them; it is not their producer).
    #[serde(default)]
    pub resource: BTreeMap<String, String>,
}

/// The fields of [`FileSourceConfig`] other than the flattened tail
/// settings. serde cannot combine `flatten` with `deny_unknown_fields`, so
/// the map is split by hand (see [`split_tail_fields`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOwnFields {
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    multiline: Option<MultilineConfig>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    resource: BTreeMap<String, String>,
}

impl FileOwnFields {
    const FIELDS: &[&str] = &["include", "exclude", "multiline", "attributes", "resource"];
}

impl<'de> Deserialize<'de> for FileSourceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_yaml_ng::Mapping::deserialize(deserializer)?;
        let (tail, own) = split_tail_fields(map, FileOwnFields::FIELDS)?;
        let own: FileOwnFields = tagged::inner(own)?;
        let tail: TailConfig = tagged::inner(tail)?;
        Ok(FileSourceConfig {
            include: own.include,
            exclude: own.exclude,
            tail,
            multiline: own.multiline,
            attributes: own.attributes,
            resource: own.resource,
        })
    }
}

/// Split a source's map into the [`TailConfig`] fields and the rest, the
/// source's `own` fields. A key that is neither is an error naming every
/// field of the source.
pub fn split_tail_fields<E: serde::de::Error>(
    map: serde_yaml_ng::Mapping,
    own: &[&str],
) -> Result<(serde_yaml_ng::Mapping, serde_yaml_ng::Mapping), E> {
    tagged::known_fields(&map, &[own, TailConfig::FIELDS].concat())?;
    let mut tail = serde_yaml_ng::Mapping::new();
    let mut rest = serde_yaml_ng::Mapping::new();
    for (key, value) in map {
        if key
            .as_str()
            .is_some_and(|k| TailConfig::FIELDS.contains(&k))
        {
            tail.insert(key, value);
        } else {
            rest.insert(key, value);
        }
    }
    Ok((tail, rest))
}

/// How files are found, read, checkpointed and let go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TailConfig {
    /// Where to start in a file seen for the first time when the source
    /// starts with no checkpoints. Files that appear later (rotations, new
    /// pods) are always read from the beginning, so no line is skipped.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// Skip files not modified for this many seconds (checked at every
    /// scan, so a file written again is picked up).
    #[serde(default)]
    pub ignore_older_than_secs: Option<u64>,
    /// Longest line kept, in bytes. A longer line is cut to this length,
    /// flagged `truncated`, and the rest of it skipped; tailing goes on.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Bytes at the start of a file whose hash, with the device and inode,
    /// identifies it. A shorter file is identified by its device and inode
    /// and the hash of what it has; once read past that, its hash is taken
    /// again, up to this length. A hash that covers less than was read
    /// (one taken while the file was empty) identifies nothing: a file on
    /// its inode is read from its beginning, never from the old offset.
    #[serde(default = "default_fingerprint_bytes")]
    pub fingerprint_bytes: usize,
    /// Most files held open at once. Past it, found files wait in line for
    /// a descriptor (`neurallog_agent_files_waiting`), and idle files —
    /// read to their end, every line acknowledged — are closed to make
    /// room, least recently read first; they are opened again, from their
    /// checkpoint, when they grow. Rotated files still being drained may
    /// go past it.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
    /// Bytes read from one file before moving to the next, so one busy file
    /// cannot starve the others. A read asks for less once about
    /// `batch_max_events` lines (at the file's line length) fill the batch,
    /// which is then sent: batches stay near that size.
    #[serde(default = "default_read_budget_bytes")]
    pub read_budget_bytes: usize,
    /// How often files at their end are checked for new data when no
    /// filesystem event arrives, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How often the include patterns are scanned for new files, in
    /// milliseconds. Filesystem events trigger scans sooner; this catches
    /// what events miss (inotify overflow, NFS, overlayfs).
    #[serde(default = "default_scan_interval_ms")]
    pub scan_interval_ms: u64,
    /// A last line without `\n` is held this long for its end, then sent
    /// as it is (flagged `unterminated`), in milliseconds.
    #[serde(default = "default_unterminated_timeout_ms")]
    pub unterminated_timeout_ms: u64,
    /// A rotated or deleted file stays open until everything read from it is
    /// acknowledged, but at most this many seconds. What is still unread
    /// then is given up and counted in `neurallog_agent_file_bytes_lost_total`.
    #[serde(default = "default_max_hold_secs")]
    pub max_hold_secs: u64,
    /// Most unread bytes kept in rotated or deleted files (they use disk
    /// space until closed). Past it, the oldest held file is given up.
    #[serde(default = "default_max_held_bytes")]
    pub max_held_bytes: u64,
    /// Read gzip-compressed rotations (recognized by their magic bytes,
    /// not their name). Off: compressed files are ignored. A compressed
    /// copy of a file already read is recognized and not read again.
    #[serde(default)]
    pub read_gzip: bool,
    /// Most records in one batch.
    #[serde(default = "default_batch_max_events")]
    pub batch_max_events: usize,
    /// How often acknowledged positions are written to disk, in
    /// milliseconds. A kill -9 sends again at most what was read since.
    #[serde(default = "default_checkpoint_interval_ms")]
    pub checkpoint_interval_ms: u64,
}

/// Where to start reading a file seen for the first time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// From its first byte.
    #[default]
    Beginning,
    /// From its current end.
    End,
}

fn default_max_line_bytes() -> usize {
    512 * 1024
}

fn default_fingerprint_bytes() -> usize {
    1024
}

fn default_max_open_files() -> usize {
    1024
}

fn default_read_budget_bytes() -> usize {
    512 * 1024
}

fn default_poll_interval_ms() -> u64 {
    250
}

fn default_scan_interval_ms() -> u64 {
    5_000
}

fn default_unterminated_timeout_ms() -> u64 {
    5_000
}

fn default_max_hold_secs() -> u64 {
    3_600
}

fn default_max_held_bytes() -> u64 {
    1024 * 1024 * 1024
}

fn default_batch_max_events() -> usize {
    1_000
}

fn default_checkpoint_interval_ms() -> u64 {
    1_000
}

impl TailConfig {
    /// The field names, for splitting flattened maps.
    pub const FIELDS: &[&str] = &[
        "read_from",
        "ignore_older_than_secs",
        "max_line_bytes",
        "fingerprint_bytes",
        "max_open_files",
        "read_budget_bytes",
        "poll_interval_ms",
        "scan_interval_ms",
        "unterminated_timeout_ms",
        "max_hold_secs",
        "max_held_bytes",
        "read_gzip",
        "batch_max_events",
        "checkpoint_interval_ms",
    ];
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            read_from: ReadFrom::default(),
            ignore_older_than_secs: None,
            max_line_bytes: default_max_line_bytes(),
            fingerprint_bytes: default_fingerprint_bytes(),
            max_open_files: default_max_open_files(),
            read_budget_bytes: default_read_budget_bytes(),
            poll_interval_ms: default_poll_interval_ms(),
            scan_interval_ms: default_scan_interval_ms(),
            unterminated_timeout_ms: default_unterminated_timeout_ms(),
            max_hold_secs: default_max_hold_secs(),
            max_held_bytes: default_max_held_bytes(),
            read_gzip: false,
            batch_max_events: default_batch_max_events(),
            checkpoint_interval_ms: default_checkpoint_interval_ms(),
        }
    }
}

impl Validate for FileSourceConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.include.is_empty() {
            errors.push(
                path.field("include")
                    .error("is empty: expected at least one glob pattern"),
            );
        }
        validate_globs(&self.include, &path.field("include"), true, errors);
        validate_globs(&self.exclude, &path.field("exclude"), false, errors);
        self.tail.validate(path, errors);
        if let Some(multiline) = &self.multiline {
            multiline.validate(&path.field("multiline"), errors);
        }
    }
}

impl Validate for TailConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        let at_least = |field: &str, value: u64, min: u64, errors: &mut Vec<ConfigError>| {
            if value < min {
                errors.push(path.field(field).error(format!("must be at least {min}")));
            }
        };
        at_least("max_line_bytes", self.max_line_bytes as u64, 64, errors);
        at_least(
            "fingerprint_bytes",
            self.fingerprint_bytes as u64,
            16,
            errors,
        );
        at_least("max_open_files", self.max_open_files as u64, 1, errors);
        at_least(
            "read_budget_bytes",
            self.read_budget_bytes as u64,
            4096,
            errors,
        );
        at_least("poll_interval_ms", self.poll_interval_ms, 1, errors);
        at_least("scan_interval_ms", self.scan_interval_ms, 10, errors);
        at_least("batch_max_events", self.batch_max_events as u64, 1, errors);
        at_least(
            "checkpoint_interval_ms",
            self.checkpoint_interval_ms,
            1,
            errors,
        );
        if self.fingerprint_bytes > 1024 * 1024 {
            errors.push(
                path.field("fingerprint_bytes")
                    .error("must be at most 1048576"),
            );
        }
    }
}

/// Check that every pattern compiles (and, for includes, is absolute).
pub fn validate_globs(
    patterns: &[String],
    path: &FieldPath,
    absolute: bool,
    errors: &mut Vec<ConfigError>,
) {
    for (i, pattern) in patterns.iter().enumerate() {
        if let Err(error) = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
        {
            errors.push(
                path.index(i)
                    .error(format!("glob {pattern:?} is invalid: {}", error.kind())),
            );
        } else if absolute && !pattern.starts_with('/') {
            errors.push(
                path.index(i)
                    .error(format!("glob {pattern:?} is not an absolute path")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in a struct's schema, sorted.
    fn schema_fields(schema: &schemars::Schema) -> Vec<String> {
        let mut names: Vec<String> = schema.as_object().unwrap()["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn own_and_tail_fields_are_all_the_fields_of_the_file_source() {
        let mut fields = [FileOwnFields::FIELDS, TailConfig::FIELDS].concat();
        fields.sort_unstable();
        assert_eq!(
            schema_fields(&schemars::schema_for!(FileSourceConfig)),
            fields
        );
    }

    #[test]
    fn unknown_field_lists_own_and_tail_fields_sorted() {
        let error = serde_yaml_ng::from_str::<FileSourceConfig>(
            "include: [/var/log/*.log]\nread_form: beginning\n",
        )
        .unwrap_err()
        .to_string();
        let mut fields = [FileOwnFields::FIELDS, TailConfig::FIELDS].concat();
        fields.sort_unstable();
        let list: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
        assert_eq!(
            error,
            format!(
                "\u{1}read_form\u{1}unknown field `read_form` (did you mean `read_from`?), expected one of {}",
                list.join(", ")
            )
        );
    }

    #[test]
    fn fields_list_matches_the_struct() {
        let mut fields = TailConfig::FIELDS.to_vec();
        fields.sort_unstable();
        assert_eq!(schema_fields(&schemars::schema_for!(TailConfig)), fields);
    }
}
