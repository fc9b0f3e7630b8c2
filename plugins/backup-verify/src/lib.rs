//! `backup-verify`: proves that each backup set's newest backup exists, is
//! recent, is not suspiciously small, and is intact.
//!
//! For every configured set the plugin lists the backups in a granted
//! directory (WASI filesystem), takes the newest by modification time, and
//! checks its age, its size (and shrinkage against the previous backup),
//! decodes it fully when it is gzip (every member, so truncation or a
//! flipped byte fails), compares its SHA-256 with a sidecar `<file>.sha256`
//! or a `sha256sum` manifest, and optionally tests that it looks encrypted.
//! `plugins/backup-verify/README.md` documents the configuration, statuses
//! and metrics for operators.
//!
//! Modules: [`config`], [`discover`] (finding backups), [`verify`] (reading
//! one: digest, gzip), [`checksum`] (sidecars and manifests),
//! [`encryption`] (the heuristic), [`assess`] (the judgement) and
//! [`report`] (the result).

pub mod assess;
pub mod checksum;
pub mod config;
pub mod discover;
pub mod encryption;
pub mod report;
pub mod verify;

use std::path::Path;

use neurallog_plugin_sdk::{Check, CheckResult, PluginInfo, RunError, clock};

use crate::assess::SetReport;
use crate::config::{BackupSet, Config};

/// The backup verification check.
pub struct BackupVerify;

neurallog_plugin_sdk::export_check!(BackupVerify);

impl Check for BackupVerify {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Verifies the newest backup of each configured set: its age and size (metrics \
             backup_age_seconds, backup_size_bytes), shrinkage against the previous backup, a \
             full decode of gzip streams, its sha256 against a sidecar or manifest, and \
             optionally that it looks encrypted (metric backup_verified).",
        )
        .config_schema_of::<Config>()
    }

    fn run(config: Config) -> Result<CheckResult, RunError> {
        config.validate()?;
        let now = clock::now().as_secs_f64();
        let reports: Vec<SetReport> = config.sets.iter().map(|set| check_set(set, now)).collect();
        Ok(report::build(&reports))
    }
}

/// Finds, reads and judges one set's newest backup.
fn check_set(set: &BackupSet, now: f64) -> SetReport {
    let outcome = discover::discover(set).map(|backups| {
        let newest = backups.first();
        let contents = newest.map(|newest| {
            verify::read_backup(&newest.path, &newest.relative, set.gzip)
                .map_err(|error| error.to_string())
        });
        let expected = match newest {
            Some(newest) => {
                let manifest = set
                    .manifest
                    .as_ref()
                    .map(|name| Path::new(&set.directory).join(name));
                checksum::expected_digest(&newest.path, &newest.relative, manifest.as_deref())
            }
            None => Ok(None),
        };
        assess::assess(set, &backups, contents, expected, now)
    });
    SetReport {
        name: set.name.clone(),
        outcome,
    }
}

#[cfg(test)]
mod tests;
