//! The judgement for one backup set: the newest backup's age and size
//! against the limits, its shrinkage against the one before, and the
//! verification of its contents (gzip, checksum, encryption). Pure: the
//! files are found and read by the caller.
//!
//! Statuses: `critical` for a missing directory, no backup, an empty or too
//! small backup, a stale one, and any failed verification; `warning` for
//! shrinkage beyond the limit; `unknown` when the directory or the backup
//! cannot be read.

use neurallog_plugin_sdk::Status;

use crate::checksum::{ChecksumError, Expected, Origin};
use crate::config::BackupSet;
use crate::discover::{BackupFile, DiscoverError};
use crate::encryption::{self, Guess};
use crate::verify::Contents;

/// One set, judged.
#[derive(Debug)]
pub struct SetReport {
    /// The set's name (`backup_set` label).
    pub name: String,
    /// The newest backup and what was found, or why there is none.
    pub outcome: Result<Findings, DiscoverError>,
}

/// What was found about a set's newest backup.
#[derive(Debug)]
pub struct Findings {
    /// The newest backup, when there is one.
    pub newest: Option<BackupFile>,
    /// How many backups match the pattern.
    pub count: usize,
    /// Seconds since the newest backup was modified (0 when in the future).
    pub age_secs: f64,
    /// How much smaller the newest is than the previous one, in percent.
    pub shrink_percent: Option<f64>,
    /// Checksum comparison.
    pub checksum: ChecksumOutcome,
    /// The encryption heuristic, when asked for.
    pub encryption: Option<Guess>,
    /// Whether every verification of the contents passed (see
    /// [`Findings::problems`] for what did not).
    pub verified: bool,
    /// What is wrong, each with its status.
    pub problems: Vec<(Status, String)>,
}

/// How the backup's digest compared with the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumOutcome {
    /// The digests match.
    Matched(Origin),
    /// They differ.
    Mismatch {
        /// Where the expected digest came from.
        origin: Origin,
        /// The expected digest.
        expected: String,
        /// The backup's digest.
        actual: String,
    },
    /// Neither a sidecar nor a manifest entry exists.
    Missing,
    /// A checksum file exists but cannot be used.
    Unusable(String),
    /// The backup could not be read, so there is nothing to compare.
    NotComputed,
}

// === impl SetReport ===

impl SetReport {
    /// The set's status: the worst of its problems, `critical` when its
    /// directory is missing, `unknown` when it cannot be read.
    #[must_use]
    pub fn status(&self) -> Status {
        match &self.outcome {
            Ok(findings) => Status::worst_of(findings.problems.iter().map(|(status, _)| *status)),
            Err(DiscoverError::Missing(_)) => Status::Critical,
            Err(_) => Status::Unknown,
        }
    }
}

/// Judges a set from its backups (newest first), the contents of the newest
/// (or the error reading it), its expected digest, and the time (Unix
/// seconds).
#[must_use]
pub fn assess(
    set: &BackupSet,
    backups: &[BackupFile],
    contents: Option<Result<Contents, String>>,
    expected: Result<Option<Expected>, ChecksumError>,
    now: f64,
) -> Findings {
    let Some(newest) = backups.first() else {
        return Findings {
            newest: None,
            count: 0,
            age_secs: 0.0,
            shrink_percent: None,
            checksum: ChecksumOutcome::NotComputed,
            encryption: None,
            verified: false,
            problems: vec![(
                Status::Critical,
                format!("no backup matches {} in {}", set.glob, set.directory),
            )],
        };
    };
    let name = &newest.relative;
    let mut problems = Vec::new();
    let age_secs = (now - newest.modified.as_secs_f64()).max(0.0);
    if age_secs > set.max_age_secs as f64 {
        problems.push((
            Status::Critical,
            format!(
                "{name} is stale: {} old, limit {}",
                duration(age_secs),
                duration(set.max_age_secs as f64)
            ),
        ));
    }
    if newest.size == 0 {
        problems.push((Status::Critical, format!("{name} is empty")));
    } else if newest.size < set.min_size_bytes {
        problems.push((
            Status::Critical,
            format!(
                "{name} has {} bytes, below {}",
                newest.size, set.min_size_bytes
            ),
        ));
    }
    let shrink_percent = backups
        .get(1)
        .filter(|previous| previous.size > newest.size)
        .map(|previous| (previous.size - newest.size) as f64 * 100.0 / previous.size as f64);
    if let Some(shrink) = shrink_percent.filter(|shrink| *shrink > set.max_shrink_percent) {
        problems.push((
            Status::Warning,
            format!("{name} is {shrink:.1}% smaller than the previous backup"),
        ));
    }
    let mut verified = newest.size > 0;
    let (checksum, encryption) = match contents {
        None | Some(Err(_)) => {
            if let Some(Err(error)) = contents {
                problems.push((Status::Unknown, format!("cannot read {name}: {error}")));
            }
            verified = false;
            (ChecksumOutcome::NotComputed, None)
        }
        Some(Ok(contents)) => {
            if let Some(Err(error)) = &contents.gzip {
                verified = false;
                problems.push((
                    Status::Critical,
                    format!("{name}: bad gzip stream: {error}"),
                ));
            }
            let checksum = compare(expected, &contents.sha256);
            let checksum_problem = match &checksum {
                ChecksumOutcome::Mismatch { origin, .. } => Some(format!(
                    "{name}: sha256 differs from the {}",
                    origin.as_str()
                )),
                ChecksumOutcome::Unusable(error) => Some(format!("{name}: {error}")),
                ChecksumOutcome::Missing if set.require_checksum => Some(format!(
                    "{name}: no checksum ({name}.sha256 or a manifest entry)"
                )),
                _ => None,
            };
            if let Some(problem) = checksum_problem {
                verified = false;
                problems.push((Status::Critical, problem));
            }
            let encryption = set
                .expect_encrypted
                .then(|| encryption::classify(&contents.sample));
            if let Some(guess) = encryption.as_ref().filter(|guess| !guess.looks_encrypted()) {
                verified = false;
                problems.push((
                    Status::Critical,
                    format!("{name} does not look encrypted ({})", guess.describe()),
                ));
            }
            (checksum, encryption)
        }
    };
    Findings {
        newest: Some(newest.clone()),
        count: backups.len(),
        age_secs,
        shrink_percent,
        checksum,
        encryption,
        verified,
        problems,
    }
}

fn compare(expected: Result<Option<Expected>, ChecksumError>, actual: &str) -> ChecksumOutcome {
    match expected {
        Ok(Some(expected)) if expected.digest == actual => {
            ChecksumOutcome::Matched(expected.origin)
        }
        Ok(Some(expected)) => ChecksumOutcome::Mismatch {
            origin: expected.origin,
            expected: expected.digest,
            actual: actual.to_owned(),
        },
        Ok(None) => ChecksumOutcome::Missing,
        Err(error) => ChecksumOutcome::Unusable(error.to_string()),
    }
}

/// `3d 4h`, `5h 12m`, `7m 3s` or `42s`.
#[must_use]
pub fn duration(seconds: f64) -> String {
    // Whole seconds are precise enough for ages and limits.
    let total = seconds.max(0.0).round() as u64;
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{minutes}m {secs}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests;
