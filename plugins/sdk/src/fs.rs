//! Finding files in granted directories with glob patterns.
//!
//! The agent preopens each directory granted to a check (read-only) at its
//! real absolute path, so a plugin reads `/etc/ssl/private/site.pem` with
//! plain `std::fs`. What it cannot do is look at the parents of a granted
//! directory: `/etc` is invisible when only `/etc/ssl/private` is granted.
//! General-purpose glob crates walk from `/` and therefore find nothing;
//! [`glob()`] starts its walk at the longest literal prefix of the pattern
//! instead.
//!
//! Patterns use the usual syntax, matched one path component at a time:
//! `*` (any run of characters other than `/`), `?`, `[abc]`, `[!abc]`, and
//! `**` as a whole component for any number of directories. Names starting
//! with `.` only match a pattern that starts with `.` too.
//!
//! ```no_run
//! use neurallog_plugin_sdk::fs;
//!
//! for path in fs::glob("/etc/letsencrypt/live/*/fullchain.pem")? {
//!     println!("{}", path.display());
//! }
//! # Ok::<(), fs::GlobError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// How deep `**` descends, so that a symlink loop or a huge tree cannot keep
/// a run busy until its deadline.
const MAX_RECURSION_DEPTH: usize = 32;

/// Why a glob could not be expanded.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    /// The pattern is not valid glob syntax.
    #[error("glob pattern {pattern:?} is invalid: {message}")]
    Pattern {
        /// The offending pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// The pattern is relative; granted directories are seen at their
    /// absolute paths, so patterns must be absolute too.
    #[error("glob pattern {pattern:?} is not an absolute path")]
    NotAbsolute {
        /// The offending pattern.
        pattern: String,
    },
    /// The directory the walk starts from cannot be read (not granted to
    /// the check, missing, or not a directory).
    #[error("cannot read directory {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// The paths matching an absolute glob `pattern`, sorted. A pattern without
/// wildcards yields its path when it exists and nothing otherwise.
///
/// # Errors
///
/// [`GlobError::NotAbsolute`] and [`GlobError::Pattern`] for a bad pattern,
/// [`GlobError::Io`] when the directory where the walk starts (the longest
/// literal prefix, for example `/etc/ssl` for `/etc/ssl/*.pem`) cannot be
/// read. Unreadable directories further down are skipped.
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    if !pattern.starts_with('/') {
        return Err(GlobError::NotAbsolute {
            pattern: pattern.to_owned(),
        });
    }
    let components: Vec<&str> = pattern
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    let literal = components
        .iter()
        .take_while(|part| !has_wildcard(part))
        .count();
    let base: PathBuf = std::iter::once("/")
        .chain(components[..literal].iter().copied())
        .collect();
    if literal == components.len() {
        return Ok(if base.exists() {
            vec![base]
        } else {
            Vec::new()
        });
    }
    glob_in(&base, &components[literal..].join("/"))
}

/// The paths under `directory` matching the relative glob `pattern` (for
/// example `db-*.sql.gz` or `*/dump.gz`), sorted. `directory` is taken
/// literally, wildcard characters included.
///
/// # Errors
///
/// [`GlobError::Pattern`] for a bad pattern and [`GlobError::Io`] when
/// `directory` cannot be read.
pub fn glob_in(directory: &Path, pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    let components = pattern
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .map(|part| Component::parse(part, pattern))
        .collect::<Result<Vec<_>, _>>()?;
    // Reading the start directory up front turns "not granted" into an
    // error instead of an empty match.
    std::fs::read_dir(directory).map_err(|source| GlobError::Io {
        path: directory.to_owned(),
        source,
    })?;
    let mut found = Vec::new();
    walk(directory, &components, 0, &mut found);
    found.sort();
    found.dedup();
    Ok(found)
}

/// Whether `part` contains glob wildcard characters.
fn has_wildcard(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

/// One `/`-separated piece of a pattern.
enum Component {
    /// `**`: zero or more directories.
    AnyDirectories,
    /// A name pattern.
    Name(Pattern),
}

// === impl Component ===

impl Component {
    fn parse(part: &str, whole: &str) -> Result<Self, GlobError> {
        if part == "**" {
            return Ok(Component::AnyDirectories);
        }
        Pattern::new(part)
            .map(Component::Name)
            .map_err(|error| GlobError::Pattern {
                pattern: whole.to_owned(),
                message: error.to_string(),
            })
    }
}

fn walk(directory: &Path, components: &[Component], depth: usize, found: &mut Vec<PathBuf>) {
    let Some((first, rest)) = components.split_first() else {
        return;
    };
    if depth > MAX_RECURSION_DEPTH {
        return;
    }
    let options = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    match first {
        Component::AnyDirectories => {
            if rest.is_empty() {
                // A trailing `**` matches everything below, files included.
                for_each_entry(directory, |path, is_dir| {
                    if !is_hidden(&path) {
                        found.push(path.clone());
                        if is_dir {
                            walk(&path, components, depth + 1, found);
                        }
                    }
                });
                return;
            }
            walk(directory, rest, depth, found);
            for_each_entry(directory, |path, is_dir| {
                if is_dir && !is_hidden(&path) {
                    walk(&path, components, depth + 1, found);
                }
            });
        }
        Component::Name(pattern) => for_each_entry(directory, |path, _| {
            let matches = path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| pattern.matches_with(name, options));
            if !matches {
                return;
            }
            if rest.is_empty() {
                found.push(path);
            } else if path.is_dir() {
                walk(&path, rest, depth + 1, found);
            }
        }),
    }
}

/// Calls `visit(path, is_dir)` for each entry of `directory`, where `is_dir`
/// does not follow symlinks (so `**` cannot loop through one). Unreadable
/// directories are skipped.
fn for_each_entry(directory: &Path, mut visit: impl FnMut(PathBuf, bool)) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        visit(entry.path(), is_dir);
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in [
            "a.pem",
            "b.pem",
            "c.key",
            ".hidden.pem",
            "live/site1/fullchain.pem",
            "live/site2/fullchain.pem",
            "live/site2/privkey.pem",
            "deep/x/y/z.pem",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
            std::fs::write(&path, b"x").expect("write");
        }
        dir
    }

    fn names(base: &Path, paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|path| {
                path.strip_prefix(base)
                    .expect("under base")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn star_matches_one_component_and_skips_hidden_files() {
        let dir = tree();
        let pattern = format!("{}/*.pem", dir.path().display());
        let found = glob(&pattern).expect("glob");
        assert_eq!(names(dir.path(), &found), ["a.pem", "b.pem"]);
    }

    #[test]
    fn wildcard_directories_are_walked() {
        let dir = tree();
        let pattern = format!("{}/live/*/fullchain.pem", dir.path().display());
        let found = glob(&pattern).expect("glob");
        assert_eq!(
            names(dir.path(), &found),
            ["live/site1/fullchain.pem", "live/site2/fullchain.pem"]
        );
    }

    #[test]
    fn double_star_matches_any_depth_including_zero() {
        let dir = tree();
        let found = glob_in(dir.path(), "**/*.pem").expect("glob");
        assert_eq!(
            names(dir.path(), &found),
            [
                "a.pem",
                "b.pem",
                "deep/x/y/z.pem",
                "live/site1/fullchain.pem",
                "live/site2/fullchain.pem",
                "live/site2/privkey.pem"
            ]
        );
    }

    #[test]
    fn literal_paths_yield_themselves_only_when_present() {
        let dir = tree();
        let present = dir.path().join("c.key");
        let found = glob(&present.to_string_lossy()).expect("glob");
        assert_eq!(found, vec![present]);
        let absent = dir.path().join("nope.key");
        assert!(glob(&absent.to_string_lossy()).expect("glob").is_empty());
    }

    #[test]
    fn unreadable_start_directory_is_an_error_not_an_empty_match() {
        let error = glob("/nonexistent-neurallog-dir/*.pem").expect_err("missing dir");
        assert!(
            matches!(error, GlobError::Io { ref path, .. } if path == Path::new("/nonexistent-neurallog-dir"))
        );
    }

    #[test]
    fn bad_patterns_are_reported() {
        assert!(matches!(
            glob("relative/*.pem"),
            Err(GlobError::NotAbsolute { .. })
        ));
        let dir = tree();
        assert!(matches!(
            glob_in(dir.path(), "[.pem"),
            Err(GlobError::Pattern { .. })
        ));
    }
}
