//! Finding the files to tail: glob patterns walked from their fixed
//! prefix, inotify events on the directories walked, and periodic rescans
//! for what events miss.
//!
//! Writes are reported only while they are news. The first write in a
//! directory wakes the tailer; from then on the tailer reads the
//! directory's files round after round anyway, so the directory stops
//! reporting writes ([`Discovery::wait`]) until the tailer has read
//! everything and is about to wait again ([`Discovery::report_writes`]).
//! At a steady rate the tailer then wakes for its own batches, not for
//! every `write(2)` of every writer. Appearing, disappearing and renamed
//! files are always reported.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsFd as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

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
    /// `None` where inotify is unavailable: polling and rescans find
    /// everything, only later.
    watches: Option<Watches>,
}

struct Pattern {
    glob: GlobMatcher,
    base: PathBuf,
    max_depth: Option<usize>,
}

/// What a directory's watch reports, besides writes.
const STRUCTURE: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);

/// One inotify instance and a watch per directory walked.
struct Watches {
    inotify: Inotify,
    /// The watch of each directory, and the directory of each watch (by
    /// its number).
    by_dir: HashMap<PathBuf, WatchDescriptor>,
    by_id: HashMap<i32, PathBuf>,
    /// Watches not reporting writes now (their directory is being read).
    quiet: HashSet<i32>,
    buffer: Vec<u8>,
}

// === impl Discovery ===

impl Discovery {
    /// Compile validated patterns and start watching their base
    /// directories (the directories under them are watched as scans find
    /// them). Watching is best effort: without it, polling and rescans
    /// still find everything, only later.
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
        let watches = match Inotify::init() {
            Ok(inotify) => Some(Watches {
                inotify,
                by_dir: HashMap::new(),
                by_id: HashMap::new(),
                quiet: HashSet::new(),
                buffer: vec![0; 16 * 1024],
            }),
            Err(error) => {
                tracing::warn!(%error, "Filesystem events unavailable; relying on polling and rescans.");
                None
            }
        };
        let mut discovery = Discovery {
            include,
            exclude,
            watches,
        };
        discovery.watch_bases();
        Ok(discovery)
    }

    /// Watch each pattern's base directory, if not yet (it may appear
    /// after the start).
    fn watch_bases(&mut self) {
        if let Some(watches) = &mut self.watches {
            for pattern in &self.include {
                watches.watch(&pattern.base);
            }
        }
    }

    /// Every file matching an include pattern and no exclude pattern, as
    /// found (symbolic links not resolved), deduplicated. The directories
    /// walked are watched from now on.
    pub fn scan(&mut self) -> Vec<PathBuf> {
        self.watch_bases();
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
                    // Watched before its entries are walked: a file made
                    // in it after the walk is reported.
                    if pattern.max_depth.is_none_or(|max| entry.depth() < max)
                        && let Some(watches) = &mut self.watches
                    {
                        watches.watch(entry.path());
                    }
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

    /// Wait up to `timeout` for filesystem events and collect them. A
    /// directory whose write is reported here reports no more writes
    /// until [`Discovery::report_writes`].
    pub fn wait(&mut self, timeout: Duration) -> Wake {
        let mut wake = Wake::default();
        let Some(watches) = &mut self.watches else {
            std::thread::sleep(timeout);
            return wake;
        };
        if !timeout.is_zero() {
            watches.wait_readable(timeout);
        }
        watches.read(&mut wake);
        wake
    }

    /// Have every directory report writes again, before the tailer waits
    /// for them. Whether any had stopped: then what was written since the
    /// tailer's last read was not reported, and it reads once more before
    /// it waits.
    pub fn report_writes(&mut self) -> bool {
        self.watches.as_mut().is_some_and(Watches::report_writes)
    }

    /// Resolves when an event is waiting (for a tailer waiting on a full
    /// pipeline rather than in [`Discovery::wait`]): never without
    /// inotify.
    pub async fn event_waiting(&self) {
        let Some(watches) = &self.watches else {
            return std::future::pending().await;
        };
        // Registered for this wait only, as a borrow of the descriptor
        // `self` keeps open: the I/O safety the deprecation is about.
        #[expect(
            deprecated,
            reason = "the registered descriptor is borrowed, so open throughout"
        )]
        let registered = tokio::io::unix::AsyncFd::with_interest(
            watches.inotify.as_fd(),
            tokio::io::Interest::READABLE,
        );
        match registered {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(_) => std::future::pending().await,
        }
    }
}

// === impl Watches ===

impl Watches {
    /// Watch `dir` (reporting writes), unless it is watched already.
    fn watch(&mut self, dir: &Path) {
        if self.by_dir.contains_key(dir) {
            return;
        }
        let Ok(wd) = self
            .inotify
            .watches()
            .add(dir, STRUCTURE | WatchMask::MODIFY | WatchMask::ONLYDIR)
        else {
            return;
        };
        let id = wd.get_watch_descriptor_id();
        // The same directory under another path (renamed, or a second
        // pattern's way to it): one watch, known by the latest path.
        if let Some(old) = self.by_id.insert(id, dir.to_owned()) {
            self.by_dir.remove(&old);
        }
        self.quiet.remove(&id);
        self.by_dir.insert(dir.to_owned(), wd);
    }

    fn wait_readable(&self, timeout: Duration) {
        let timeout = rustix::event::Timespec::try_from(timeout).ok();
        let mut fds = [rustix::event::PollFd::new(
            &self.inotify,
            rustix::event::PollFlags::IN,
        )];
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
    }

    /// Read every event waiting into `wake`; quiet the directories
    /// written to.
    fn read(&mut self, wake: &mut Wake) {
        let mut written_in = Vec::new();
        let mut moved = Vec::new();
        loop {
            let events = match self.inotify.read_events(&mut self.buffer) {
                Ok(events) => events,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    wake.rescan = true;
                    break;
                }
            };
            for event in events {
                let id = event.wd.get_watch_descriptor_id();
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    wake.rescan = true;
                } else if event.mask.contains(EventMask::IGNORED) {
                    // Its directory is gone (or unmounted).
                    if let Some(dir) = self.by_id.remove(&id) {
                        self.by_dir.remove(&dir);
                    }
                    self.quiet.remove(&id);
                    wake.rescan = true;
                } else if event.mask.contains(EventMask::MOVE_SELF) {
                    // Its directory is elsewhere now, under a path this
                    // watch does not know: the scan watches it again
                    // where it is, if it is still to be walked.
                    moved.push(id);
                    wake.rescan = true;
                } else if event.mask.contains(EventMask::MODIFY) {
                    if let (Some(dir), Some(name)) = (self.by_id.get(&id), event.name) {
                        wake.written.push(dir.join(name));
                        written_in.push(id);
                    }
                } else if !(event.mask
                    & (EventMask::CREATE
                        | EventMask::DELETE
                        | EventMask::MOVED_FROM
                        | EventMask::MOVED_TO
                        | EventMask::DELETE_SELF
                        | EventMask::MOVE_SELF))
                    .is_empty()
                {
                    wake.rescan = true;
                }
            }
        }
        for id in moved {
            self.forget(id);
        }
        for id in written_in {
            if self.by_id.contains_key(&id) && self.quiet.insert(id) {
                self.set_mask(id, STRUCTURE);
            }
        }
    }

    fn report_writes(&mut self) -> bool {
        let quiet: Vec<i32> = self.quiet.drain().collect();
        for &id in &quiet {
            self.set_mask(id, STRUCTURE | WatchMask::MODIFY);
        }
        !quiet.is_empty()
    }

    /// Replace the mask of watch `id` (adding a watch for a directory
    /// watched already changes what it reports).
    fn set_mask(&mut self, id: i32, mask: WatchMask) {
        let Some(dir) = self.by_id.get(&id) else {
            return;
        };
        match self.inotify.watches().add(dir, mask | WatchMask::ONLYDIR) {
            Ok(wd) if wd.get_watch_descriptor_id() == id => {}
            // Not the directory it was (gone, or another in its place):
            // the next scan watches what is there.
            Ok(wd) => {
                let _ = self.inotify.watches().remove(wd);
                self.forget(id);
            }
            Err(_) => self.forget(id),
        }
    }

    /// Drop watch `id`, whose directory is no longer at its path.
    fn forget(&mut self, id: i32) {
        if let Some(dir) = self.by_id.remove(&id)
            && let Some(wd) = self.by_dir.remove(&dir)
        {
            let _ = self.inotify.watches().remove(wd);
        }
        self.quiet.remove(&id);
    }
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
        let mut flat = Discovery::new(&[format!("{r}/*.log")], &[format!("{r}/skip.log")]).unwrap();
        let names: Vec<String> = flat
            .scan()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.log", "link.log"]);

        let mut deep = Discovery::new(&[format!("{r}/**/*.log")], &[]).unwrap();
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

        let mut exact = Discovery::new(&[format!("{r}/sub/c.log")], &[]).unwrap();
        assert_eq!(exact.scan(), [root.join("sub/c.log")]);
        assert!(exact.matches(&root.join("sub/c.log")));
        assert!(!exact.matches(&root.join("sub/d.log")));
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// inotify queues an event within the `write(2)` that causes it, so
    /// `wait(ZERO)` right after a write sees it if it was reported.
    #[test]
    fn a_directory_reports_writes_until_one_is_reported_then_once_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let other = dir.path().join("other.log");
        append(&log, "");
        append(&other, "");
        let mut discovery =
            Discovery::new(&[format!("{}/*.log", dir.path().display())], &[]).unwrap();
        discovery.scan();
        assert!(!discovery.report_writes(), "nothing was quiet");

        append(&log, "one\n");
        let wake = discovery.wait(Duration::from_secs(5));
        assert_eq!(wake.written, std::slice::from_ref(&log));
        assert!(!wake.rescan);

        // The directory is being read: its writes are no news.
        append(&log, "two\n");
        append(&other, "one\n");
        let wake = discovery.wait(Duration::ZERO);
        assert!(wake.written.is_empty(), "{:?}", wake.written);

        // What appears, disappears or is renamed still is.
        let rotated = dir.path().join("app.log.1");
        std::fs::rename(&log, &rotated).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        append(&log, "three\n");
        assert!(discovery.wait(Duration::ZERO).rescan);

        // Asked again before the tailer waits: writes are news again.
        assert!(discovery.report_writes());
        assert!(!discovery.report_writes());
        append(&other, "two\n");
        assert_eq!(discovery.wait(Duration::ZERO).written, [other]);
    }

    /// A directory made after the start is watched from the scan that
    /// finds it: a file made in it afterwards is reported, and so is a
    /// write to it.
    #[test]
    fn directories_found_by_a_scan_are_watched() {
        let root = tempfile::tempdir().unwrap();
        // The base directory does not exist at the start (a node whose
        // first pod has not started): watched from the first scan after
        // it appears.
        let dir = root.path().join("pods");
        let mut discovery = Discovery::new(&[format!("{}/*/*/*.log", dir.display())], &[]).unwrap();
        assert!(discovery.scan().is_empty());
        std::fs::create_dir(&dir).unwrap();
        assert!(!discovery.wait(Duration::ZERO).rescan, "not watched yet");
        assert!(discovery.scan().is_empty());
        let pod = dir.join("ns_web-1_uid");
        std::fs::create_dir(&pod).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        assert!(discovery.scan().is_empty());
        let container = pod.join("web");
        std::fs::create_dir(&container).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        assert!(discovery.scan().is_empty());
        let log = container.join("0.log");
        append(&log, "");
        assert!(discovery.wait(Duration::ZERO).rescan);
        assert_eq!(discovery.scan(), std::slice::from_ref(&log));
        append(&log, "a line\n");
        assert_eq!(discovery.wait(Duration::ZERO).written, [log]);

        // Renamed: its files, and their writes, under the new path.
        let moved = dir.join("ns_web-1_uid2");
        std::fs::rename(&pod, &moved).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        let log = moved.join("web/0.log");
        assert_eq!(discovery.scan(), std::slice::from_ref(&log));
        append(&log, "another line\n");
        assert_eq!(discovery.wait(Duration::ZERO).written, [log]);
        std::fs::rename(&moved, &pod).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        discovery.scan();

        // Gone and made again: watched again once scanned.
        std::fs::remove_dir_all(&pod).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        assert!(discovery.scan().is_empty());
        std::fs::create_dir_all(&container).unwrap();
        assert!(discovery.wait(Duration::ZERO).rescan);
        assert!(discovery.scan().is_empty());
        append(&container.join("1.log"), "");
        assert!(discovery.wait(Duration::ZERO).rescan);
    }

    /// A tailer waiting on a full pipeline is woken by a file appearing
    /// (it opens it at once, so one rotated away meanwhile is held), even
    /// in a directory whose writes are not reported now.
    #[tokio::test]
    async fn a_file_appearing_ends_a_wait_on_a_full_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "");
        let mut discovery =
            Discovery::new(&[format!("{}/*.log", dir.path().display())], &[]).unwrap();
        discovery.scan();
        append(&log, "one\n");
        assert_eq!(
            discovery.wait(Duration::ZERO).written,
            std::slice::from_ref(&log)
        );

        {
            let waiting = discovery.event_waiting();
            tokio::pin!(waiting);
            append(&log, "two\n");
            let early = tokio::time::timeout(Duration::from_millis(100), &mut waiting).await;
            assert!(early.is_err(), "woken by a write in a directory being read");
            append(&dir.path().join("app.log.1"), "");
            tokio::time::timeout(Duration::from_secs(10), waiting)
                .await
                .expect("woken by the new file");
        }
        assert!(discovery.wait(Duration::ZERO).rescan);
    }
}
