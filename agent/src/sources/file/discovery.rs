//! Finding the files to tail: glob patterns walked from their fixed
//! prefix, filesystem events through `notify`, and periodic rescans for
//! what events miss.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use notify::{EventKind, RecursiveMode, Watcher as _};

/// Why the tailer woke up.
#[derive(Debug, Default)]
pub struct Wake {
    /// Files whose content changed (data written).
    pub written: Vec<PathBuf>,
    /// Files or directories appeared, disappeared or were renamed, or the
    /// event queue overflowed: scan again.
    pub rescan: bool,
}

/// Include and exclude patterns, and the watches over their directories.
pub struct Discovery {
    include: Vec<Pattern>,
    exclude: GlobSet,
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    /// Woken when a file appears, disappears or is renamed, for a tailer
    /// waiting on a full pipeline rather than on `events`.
    structural: Arc<tokio::sync::Notify>,
    _watcher: Option<notify::RecommendedWatcher>,
}

struct Pattern {
    glob: GlobMatcher,
    base: PathBuf,
    max_depth: Option<usize>,
}

// === impl Discovery ===

impl Discovery {
    /// Compile validated patterns and start watching their base
    /// directories. Watching is best effort: without it, polling and
    /// rescans still find everything, only later.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Discovery, globset::Error> {
        let include = include
            .iter()
            .map(|p| Pattern::new(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = GlobSetBuilder::new();
        for pattern in exclude {
            builder.add(GlobBuilder::new(pattern).literal_separator(true).build()?);
        }
        let exclude = builder.build()?;
        let (tx, events) = mpsc::channel();
        let structural = Arc::new(tokio::sync::Notify::new());
        let wake = Arc::clone(&structural);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.as_ref().map_or(true, is_structural) {
                wake.notify_one();
            }
            let _ = tx.send(event);
        });
        let watcher = match watcher {
            Ok(mut watcher) => {
                for pattern in &include {
                    let mode = if pattern.max_depth == Some(1) {
                        RecursiveMode::NonRecursive
                    } else {
                        RecursiveMode::Recursive
                    };
                    if let Err(error) = watcher.watch(&pattern.base, mode) {
                        tracing::debug!(%error, dir = %pattern.base.display(), "Cannot watch directory; relying on polling.");
                    }
                }
                Some(watcher)
            }
            Err(error) => {
                tracing::warn!(%error, "Filesystem events unavailable; relying on polling and rescans.");
                None
            }
        };
        Ok(Discovery {
            include,
            exclude,
            events,
            structural,
            _watcher: watcher,
        })
    }

    /// Notified when a file appears, disappears or is renamed (and on
    /// overflow), not on writes.
    pub fn structural_changes(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.structural)
    }

    /// Every file matching an include pattern and no exclude pattern, as
    /// found (symbolic links not resolved), deduplicated.
    pub fn scan(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for pattern in &self.include {
            let mut walk = walkdir::WalkDir::new(&pattern.base)
                .follow_links(false)
                .min_depth(1);
            if let Some(depth) = pattern.max_depth {
                walk = walk.max_depth(depth);
            }
            for entry in walk.into_iter().filter_map(Result::ok) {
                let file_type = entry.file_type();
                if file_type.is_dir() {
                    continue;
                }
                let path = entry.path();
                if pattern.glob.is_match(path) && !self.exclude.is_match(path) {
                    // A symbolic link counts when it leads to a regular file.
                    if file_type.is_symlink() && !std::fs::metadata(path).is_ok_and(|m| m.is_file())
                    {
                        continue;
                    }
                    found.push(path.to_owned());
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    /// Whether `path` is one this source tails.
    pub fn matches(&self, path: &Path) -> bool {
        self.include.iter().any(|p| p.glob.is_match(path)) && !self.exclude.is_match(path)
    }

    /// Wait up to `timeout` for filesystem events and collect them.
    pub fn wait(&self, timeout: Duration) -> Wake {
        let mut wake = Wake::default();
        match self.events.recv_timeout(timeout) {
            Ok(event) => self.note(event, &mut wake),
            Err(mpsc::RecvTimeoutError::Timeout) => return wake,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(timeout);
                return wake;
            }
        }
        while let Ok(event) = self.events.try_recv() {
            self.note(event, &mut wake);
        }
        wake
    }

    fn note(&self, event: notify::Result<notify::Event>, wake: &mut Wake) {
        let Ok(event) = event else {
            wake.rescan = true;
            return;
        };
        if event.need_rescan() {
            wake.rescan = true;
            return;
        }
        if is_structural(&event) {
            wake.rescan = true;
        } else if matches!(
            event.kind,
            EventKind::Modify(notify::event::ModifyKind::Data(_))
                | EventKind::Modify(notify::event::ModifyKind::Any)
        ) {
            wake.written.extend(event.paths);
        }
    }
}

/// A file appeared, disappeared or was renamed, or events were lost: the
/// set of files may have changed.
fn is_structural(event: &notify::Event) -> bool {
    event.need_rescan()
        || matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(notify::event::ModifyKind::Name(_))
        )
}

// === impl Pattern ===

impl Pattern {
    fn new(pattern: &str) -> Result<Pattern, globset::Error> {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()?
            .compile_matcher();
        let mut base = PathBuf::new();
        let mut depth = 0usize;
        let mut unlimited = false;
        let mut in_glob = false;
        for component in Path::new(pattern).components() {
            let text = component.as_os_str().to_string_lossy();
            let magic = text.contains(['*', '?', '[', '{']);
            if !in_glob && !magic {
                base.push(component);
                continue;
            }
            in_glob = true;
            if matches!(component, Component::Normal(_)) {
                depth += 1;
                if text == "**" {
                    unlimited = true;
                }
            }
        }
        if !in_glob {
            // A plain path: its parent is walked, one level deep.
            let parent = base
                .parent()
                .map(Path::to_owned)
                .unwrap_or_else(|| PathBuf::from("/"));
            return Ok(Pattern {
                glob,
                base: parent,
                max_depth: Some(1),
            });
        }
        Ok(Pattern {
            glob,
            base,
            max_depth: if unlimited { None } else { Some(depth) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_globs_with_recursion_exclusion_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["a.log", "b.txt", "sub/c.log", "sub/deep/d.log", "skip.log"] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x\n").unwrap();
        }
        std::os::unix::fs::symlink(root.join("sub/c.log"), root.join("link.log")).unwrap();
        std::os::unix::fs::symlink(root.join("missing"), root.join("dangling.log")).unwrap();
        let r = root.display();
        let flat = Discovery::new(&[format!("{r}/*.log")], &[format!("{r}/skip.log")]).unwrap();
        let names: Vec<String> = flat
            .scan()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.log", "link.log"]);

        let deep = Discovery::new(&[format!("{r}/**/*.log")], &[]).unwrap();
        let names: Vec<String> = deep
            .scan()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "a.log",
                "link.log",
                "skip.log",
                "sub/c.log",
                "sub/deep/d.log"
            ]
        );

        let exact = Discovery::new(&[format!("{r}/sub/c.log")], &[]).unwrap();
        assert_eq!(exact.scan(), [root.join("sub/c.log")]);
        assert!(exact.matches(&root.join("sub/c.log")));
        assert!(!exact.matches(&root.join("sub/d.log")));
    }
}
