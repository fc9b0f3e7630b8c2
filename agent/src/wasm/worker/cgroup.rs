//! A cgroup v2 of its own for each worker, best effort: a child of the
//! agent's cgroup named after the check (`neurallog-plugin-worker-<check>`,
//! so a restarted agent reuses it), with `memory.max` and `pids.max` set
//! when those controllers are delegated to it. Those that no process is in
//! any more (a plugin removed or renamed, a worker ended) are removed as
//! the next worker starts. Where the agent's cgroup is not writable (no
//! cgroup v2, a read-only `/sys/fs/cgroup`, an unprivileged agent), the
//! worker stays in the agent's cgroup and `/status` says why.
//!
//! A cgroup with processes of its own cannot enable controllers for its
//! children (cgroup v2's "no internal processes" rule), so under a plain
//! systemd service the child gets no `memory.max`: it still groups the
//! worker for accounting, and the worker's rlimits bound it.

use std::path::{Path, PathBuf};

/// Memory the worker's cgroup allows beyond the plugin's cap.
const HOST_MEMORY_BYTES: u64 = 256 << 20;

/// The start of a worker's cgroup's name; the plugin's name follows.
const PREFIX: &str = "neurallog-plugin-worker-";

/// Processes and threads one worker may have.
const MAX_TASKS: u32 = 64;

/// Moves `pid` into the cgroup of check `check`'s worker; returns what was
/// done, or why not, for `/status`.
pub(crate) fn attach(check: &str, pid: u32, memory_bytes: u64) -> String {
    match try_attach(check, pid, memory_bytes) {
        Ok(done) => done,
        Err(why) => format!("not used: {why}"),
    }
}

fn try_attach(check: &str, pid: u32, memory_bytes: u64) -> Result<String, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let root = cgroup2_mount(&mountinfo).ok_or("no cgroup v2 hierarchy is mounted")?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("the agent is in no cgroup v2")?;
    let parent = root.join(own.trim_start_matches('/'));
    let dir = parent.join(format!("{PREFIX}{check}"));
    sweep(&parent, &dir);
    // Twice: another worker's sweep may remove the directory between its
    // creation and the move, while it has no process yet.
    let mut moved = Ok(());
    for _ in 0..2 {
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(format!("cannot create {}: {e}", dir.display()));
            }
            _ => {}
        }
        moved = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
        if moved.is_ok() {
            break;
        }
    }
    moved.map_err(|e| format!("cannot move the worker into {}: {e}", dir.display()))?;
    let memory = (memory_bytes + HOST_MEMORY_BYTES).to_string();
    let limits: Vec<String> = [("memory.max", memory), ("pids.max", MAX_TASKS.to_string())]
        .into_iter()
        .filter(|(file, value)| set(&dir, file, value))
        .map(|(file, value)| format!("{file}={value}"))
        .collect();
    Ok(match limits.is_empty() {
        true => format!("{} (no controllers delegated)", dir.display()),
        false => format!("{} ({})", dir.display(), limits.join(" ")),
    })
}

/// Removes the workers' cgroups under `parent` other than `keep` that no
/// process is in: those of plugins since removed or renamed, and of
/// workers that have ended. `rmdir` of a cgroup with a process in it
/// fails, and is left as it is.
fn sweep(parent: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX));
        if ours && path != keep {
            let _ = std::fs::remove_dir(&path);
        }
    }
}

fn set(dir: &Path, file: &str, value: &str) -> bool {
    let path = dir.join(file);
    path.exists() && std::fs::write(path, value).is_ok()
}

/// Where the cgroup v2 hierarchy is mounted, from `/proc/self/mountinfo`.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        (after.split_whitespace().next()? == "cgroup2")
            .then(|| before.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_removes_idle_worker_cgroups_and_nothing_else() {
        let parent = tempfile::tempdir().unwrap();
        let dir = |name: &str| parent.path().join(name);
        for name in [
            "neurallog-plugin-worker-gone",
            "neurallog-plugin-worker-busy",
            "neurallog-plugin-worker-kept",
            "other",
        ] {
            std::fs::create_dir(dir(name)).unwrap();
        }
        // A cgroup with a process in it cannot be removed; a directory
        // with a file in it stands for one here.
        std::fs::write(
            dir("neurallog-plugin-worker-busy").join("cgroup.procs"),
            "1",
        )
        .unwrap();
        sweep(parent.path(), &dir("neurallog-plugin-worker-kept"));
        let mut left: Vec<String> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "neurallog-plugin-worker-busy",
                "neurallog-plugin-worker-kept",
                "other"
            ]
        );
    }

    #[test]
    fn finds_the_cgroup2_mount_in_a_hybrid_layout() {
        let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup2_mount(mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount("34 30 0:30 / /x rw - cgroup cgroup rw\n"),
            None
        );
    }
}
