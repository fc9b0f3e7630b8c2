//! The plugin worker confining itself, in two steps.
//!
//! [`early`], first thing in the process, before any thread exists (so what
//! it sets is inherited by every thread): die with the agent
//! (`PR_SET_PDEATHSIG`), never gain privileges (`PR_SET_NO_NEW_PRIVS`), and,
//! unless it is root able to switch users later, drop every capability (a
//! container's root without `CAP_SETUID` keeps uid 0 but nothing else).
//!
//! [`confine`], once the plugin is loaded (its file read, its granted
//! directories opened as handles, the compiled-artifact cache used):
//! resource limits, then, when root, the unprivileged user and group
//! (through glibc, which switches every thread), then the seccomp filter
//! (see `seccomp`). From then on the worker can use what it holds and reach
//! granted network targets, and nothing else.

use std::io;

use rustix::process::{Resource, Rlimit, Signal};
use rustix::thread::{CapabilitySet, CapabilitySets};

use super::protocol::{Confinement, ConfinementRequest};
use super::seccomp;
use crate::wasm::Limits;

/// Address space beyond the plugin's own memory the Wasm host needs: the
/// runtime, compiled code, thread stacks, a result being lifted. Sized from
/// what workers of the checks test suite held beyond their plugin's memory
/// (`VmData` 18 to 35 MiB), with room.
const HOST_DATA_BYTES: u64 = 256 << 20;

/// Descriptors beyond the plugin's handles: the socket, the runtime's
/// epoll and wakeups, the granted directories, a TLS probe.
const HOST_DESCRIPTORS: u64 = 64;

/// The worker could not confine itself.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfineError {
    /// A `prctl` or capability call failed.
    #[error("cannot {what}")]
    Prctl {
        /// What was being set.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The agent is gone already.
    #[error("the agent (pid {0}) exited before the worker started")]
    Orphaned(u32),
    /// A resource limit could not be set.
    #[error("cannot set {name}")]
    Rlimit {
        /// Which.
        name: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The user or group is unknown.
    #[error("no {kind} named {name:?} in {file}")]
    UnknownId {
        /// `user` or `group`.
        kind: &'static str,
        /// The name.
        name: String,
        /// Where it was looked up.
        file: &'static str,
    },
    /// `setgroups`, `setgid` or `setuid` failed, or did not stick.
    #[error("cannot switch to {what}")]
    Identity {
        /// The user or group.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The seccomp filter could not be installed.
    #[error("cannot install the seccomp filter")]
    Seccomp(#[source] io::Error),
}

/// The first step, before any thread: see the module docs. `parent` is the
/// agent's pid, to catch an agent that died before the death signal was
/// armed.
pub(crate) fn early(parent: u32) -> Result<(), ConfineError> {
    let prctl = |what| {
        move |source: rustix::io::Errno| ConfineError::Prctl {
            what,
            source: source.into(),
        }
    };
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(prctl("set the parent-death signal"))?;
    if rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32) != Some(parent) {
        return Err(ConfineError::Orphaned(parent));
    }
    rustix::thread::set_no_new_privs(true).map_err(prctl("set no_new_privs"))?;
    if !can_switch_user() {
        drop_capabilities().map_err(prctl("drop capabilities"))?;
    }
    Ok(())
}

/// Whether this process can become another user later: root with
/// `CAP_SETUID` and `CAP_SETGID` (a container's root may lack them).
fn can_switch_user() -> bool {
    let needed = CapabilitySet::SETUID | CapabilitySet::SETGID;
    rustix::process::getuid().is_root()
        && rustix::thread::capabilities(None).is_ok_and(|caps| caps.effective.contains(needed))
}

/// Drops every capability of this thread (and of the threads it starts
/// later). Setting none when none are held is skipped: an outer seccomp
/// filter (systemd's `~@privileged`) may refuse `capset` itself.
fn drop_capabilities() -> Result<(), rustix::io::Errno> {
    rustix::thread::clear_ambient_capability_set()?;
    let none = CapabilitySet::empty();
    let held = rustix::thread::capabilities(None)?;
    if held.effective.is_empty() && held.permitted.is_empty() && held.inheritable.is_empty() {
        return Ok(());
    }
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: none,
            permitted: none,
            inheritable: none,
        },
    )
}

/// The second step, once the plugin is loaded: see the module docs.
pub(crate) fn confine(
    request: &ConfinementRequest,
    limits: &Limits,
) -> Result<Confinement, ConfineError> {
    let mut confinement = Confinement {
        no_new_privs: true,
        ..Confinement::default()
    };
    let open = std::fs::read_dir("/proc/self/fd").map_or(32, |d| d.count() as u64);
    let nofile = open + u64::from(limits.max_open_handles) + HOST_DESCRIPTORS;
    let data = limits.memory_bytes.saturating_mul(2) + HOST_DATA_BYTES;
    let cpu = request.cpu_secs.max(1);
    for (name, resource, soft, hard) in [
        ("RLIMIT_NOFILE", Resource::Nofile, nofile, nofile),
        ("RLIMIT_DATA", Resource::Data, data, data),
        // SIGXCPU at the soft limit, SIGKILL a few seconds later.
        ("RLIMIT_CPU", Resource::Cpu, cpu, cpu + 5),
        ("RLIMIT_CORE", Resource::Core, 0, 0),
    ] {
        let limit = Rlimit {
            current: Some(soft),
            maximum: Some(hard),
        };
        rustix::process::setrlimit(resource, limit).map_err(|e| ConfineError::Rlimit {
            name,
            source: e.into(),
        })?;
        confinement.rlimits.push(format!("{name}={soft}"));
    }
    confinement.identity = match (rustix::process::getuid().is_root(), can_switch_user()) {
        (true, true) => {
            let uid = lookup("/etc/passwd", "user", &request.user)?;
            let gid = lookup("/etc/group", "group", &request.group)?;
            switch_identity(uid, gid, request)?;
            format!("switched to {}:{}", request.user, request.group)
        }
        (true, false) => {
            "kept uid 0 without CAP_SETUID/CAP_SETGID to switch; dropped every capability instead"
                .into()
        }
        (false, _) => "kept the agent's user; dropped every capability".into(),
    };
    confinement.uid = rustix::process::getuid().as_raw();
    confinement.gid = rustix::process::getgid().as_raw();
    seccomp::install().map_err(ConfineError::Seccomp)?;
    confinement.seccomp = true;
    Ok(confinement)
}

/// Sets the supplementary groups to `gid` alone, then the group, then the
/// user, and checks that root cannot be regained.
fn switch_identity(uid: u32, gid: u32, request: &ConfinementRequest) -> Result<(), ConfineError> {
    let fail = |what: &str| {
        let source = io::Error::last_os_error();
        ConfineError::Identity {
            what: what.to_owned(),
            source,
        }
    };
    let group = format!("group {} ({gid})", request.group);
    let user = format!("user {} ({uid})", request.user);
    // SAFETY: plain system calls through glibc, which applies each to every
    // thread of the process; the pointer is to one gid that outlives the
    // call. No memory of this process is touched.
    #[allow(
        unsafe_code,
        reason = "glibc's setgroups/setgid/setuid switch every thread"
    )]
    unsafe {
        if libc::setgroups(1, &gid) != 0 {
            return Err(fail(&group));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail(&group));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail(&user));
        }
        // With the saved ids gone too, this must fail.
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(ConfineError::Identity {
                what: user,
                source: io::Error::other("root could be regained"),
            });
        }
    }
    Ok(())
}

/// The id of `name` in an `/etc/passwd`-style `file` (third field).
fn lookup(file: &'static str, kind: &'static str, name: &str) -> Result<u32, ConfineError> {
    let unknown = || ConfineError::UnknownId {
        kind,
        name: name.to_owned(),
        file,
    };
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let text = std::fs::read_to_string(file).map_err(|_| unknown())?;
    find_id(&text, name).ok_or_else(unknown)
}

fn find_id(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_by_name_in_passwd_and_group_files() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(find_id(passwd, "nobody"), Some(65534));
        assert_eq!(find_id(passwd, "root"), Some(0));
        assert_eq!(find_id(passwd, "nob"), None);
        assert_eq!(find_id("nogroup:x:65534:\n", "nogroup"), Some(65534));
        assert_eq!(find_id("broken\n", "broken"), None);
    }
}
