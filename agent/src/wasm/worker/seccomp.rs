//! The plugin worker's seccomp filter: a classic-BPF allowlist of the
//! system calls the Wasm host needs once the plugin is loaded, installed
//! on every thread at once (`SECCOMP_FILTER_FLAG_TSYNC`). Anything else
//! (`execve`, `fork`, `ptrace`, `mount`, `kill`, a foreign architecture, the
//! x32 ABI) kills the whole process (`SECCOMP_RET_KILL_PROCESS`, seen by
//! the agent as SIGSYS).
//!
//! The list was checked by running the checks test suite with the
//! filter's last action set to `ENOSYS` under `strace -f -Z` (failed calls
//! only): nothing but `clone3` (below) failed. Each group says who needs
//! it; `tests/tests/checks/worker.rs` runs real workers under it. A few calls are
//! narrowed by argument: `clone` only for threads, `tgkill` only to this
//! process, `prctl` only to name a thread, `socket` only for IPv4 and IPv6
//! (anything else fails with `EAFNOSUPPORT`, so glibc's resolver falls back
//! as it does without netlink or nscd). `clone3` fails with `ENOSYS`, which
//! makes glibc fall back to `clone`, whose flags the filter can read.
//!
//! See `Documentation/userspace-api/seccomp_filter.rst` in the kernel.

use std::io;

/// Which architecture the filter is for; any other kills the process.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;

// Classic BPF opcodes (linux/filter.h): class | size/op | mode/source.
/// `BPF_LD | BPF_W | BPF_ABS`.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
const BPF_JEQ_K: u16 = 0x05 | 0x10;
/// `BPF_JMP | BPF_JSET | BPF_K`.
const BPF_JSET_K: u16 = 0x05 | 0x40;
/// `BPF_RET | BPF_K`.
const BPF_RET_K: u16 = 0x06;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little-endian).
const fn offset_arg(i: u32) -> u32 {
    16 + 8 * i
}

/// System calls allowed whatever their arguments.
const ALLOWED: &[libc::c_long] = &[
    // Memory: the allocator, wasmtime's pool and code, thread stacks.
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_membarrier,
    // Threads: tokio's blocking pool, parking, wasmtime's signal stacks.
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_sigaltstack,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_gettid,
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_restart_syscall,
    // Time: deadlines, the epoch ticker, WASI clocks.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getrandom,
    // Descriptors: the agent socket, granted files (by handle), sockets.
    libc::SYS_read,
    libc::SYS_readv,
    libc::SYS_pread64,
    libc::SYS_preadv,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_close,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_fstatfs,
    libc::SYS_statfs,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getdents64,
    libc::SYS_fadvise64,
    libc::SYS_uname,
    libc::SYS_prlimit64,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    // The async runtime.
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_ppoll,
    libc::SYS_pipe2,
    // Network probes of granted targets, and DNS for them.
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendmmsg,
    libc::SYS_recvmmsg,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_shutdown,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_open,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_stat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_lstat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_access,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_readlink,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_getdents,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_dup2,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_pipe,
];

/// A BPF instruction (`struct sock_filter`).
type Insn = libc::sock_filter;

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

fn nr(call: libc::c_long) -> u32 {
    // Syscall numbers are small and non-negative on every architecture.
    call as u32
}

/// `when A == call: load argument `arg`, then `test`; past the block
/// otherwise. `test` ends in returns.
fn narrowed(program: &mut Vec<Insn>, call: libc::c_long, arg: u32, test: &[Insn]) {
    let len = u8::try_from(test.len() + 1).unwrap_or(u8::MAX);
    program.push(jump(BPF_JEQ_K, nr(call), 0, len));
    program.push(stmt(BPF_LD_W_ABS, offset_arg(arg)));
    program.extend_from_slice(test);
    program.push(stmt(BPF_LD_W_ABS, OFFSET_NR));
}

/// The filter for process `pid`.
pub(crate) fn program(pid: u32) -> Vec<Insn> {
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
    ];
    for call in ALLOWED {
        p.push(jump(BPF_JEQ_K, nr(*call), 0, 1));
        p.push(stmt(BPF_RET_K, RET_ALLOW));
    }
    // clone: threads only (CLONE_THREAD set), never a new process.
    let thread = u32::try_from(libc::CLONE_THREAD).unwrap_or(0);
    narrowed(
        &mut p,
        libc::SYS_clone,
        0,
        &[
            jump(BPF_JSET_K, thread, 0, 1),
            stmt(BPF_RET_K, RET_ALLOW),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
        ],
    );
    // clone3's flags are behind a pointer: say it does not exist.
    p.push(jump(BPF_JEQ_K, nr(libc::SYS_clone3), 0, 1));
    p.push(stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32));
    // tgkill: only to this process (a panic's abort, runtime wakeups).
    narrowed(
        &mut p,
        libc::SYS_tgkill,
        0,
        &[
            jump(BPF_JEQ_K, pid, 0, 1),
            stmt(BPF_RET_K, RET_ALLOW),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
        ],
    );
    // prctl: only PR_SET_NAME (thread names).
    narrowed(
        &mut p,
        libc::SYS_prctl,
        0,
        &[
            jump(BPF_JEQ_K, libc::PR_SET_NAME as u32, 0, 1),
            stmt(BPF_RET_K, RET_ALLOW),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
        ],
    );
    // socket: IPv4 and IPv6 only; other families are refused, not fatal.
    narrowed(
        &mut p,
        libc::SYS_socket,
        0,
        &[
            jump(BPF_JEQ_K, libc::AF_INET as u32, 1, 0),
            jump(BPF_JEQ_K, libc::AF_INET6 as u32, 0, 1),
            stmt(BPF_RET_K, RET_ALLOW),
            stmt(BPF_RET_K, RET_ERRNO | libc::EAFNOSUPPORT as u32),
        ],
    );
    p.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    p
}

/// Installs the filter on every thread of the process. `no_new_privs` must
/// be set already (the worker sets it before its first thread).
pub(crate) fn install() -> io::Result<()> {
    let mut program = program(std::process::id());
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::other("filter too long"))?,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the
    // kernel copies the filter and keeps no reference to it. The call has
    // no other effect on this process's memory.
    #[allow(unsafe_code, reason = "installing a seccomp filter is a raw syscall")]
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &raw const prog,
        )
    };
    match rc {
        0 => Ok(()),
        // With TSYNC, a positive result names a thread that could not be
        // synchronized.
        tid if tid > 0 => Err(io::Error::other(format!(
            "thread {tid} could not take the seccomp filter"
        ))),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter over one `seccomp_data` the way the kernel does.
    fn verdict(program: &[Insn], arch: u32, call: libc::c_long, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr(call).to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
        }
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let insn = program[pc];
            pc += 1;
            match insn.code {
                BPF_LD_W_ABS => {
                    let k = insn.k as usize;
                    a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                }
                BPF_JEQ_K | BPF_JSET_K => {
                    let hit = match insn.code {
                        BPF_JEQ_K => a == insn.k,
                        _ => a & insn.k != 0,
                    };
                    pc += usize::from(if hit { insn.jt } else { insn.jf });
                }
                BPF_RET_K => return insn.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn allows_the_host_and_kills_escapes() {
        let p = program(42);
        let run = |call, args| verdict(&p, AUDIT_ARCH, call, args);
        assert_eq!(run(libc::SYS_read, [0; 6]), RET_ALLOW);
        assert_eq!(run(libc::SYS_futex, [0; 6]), RET_ALLOW);
        for escape in [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_kill,
            libc::SYS_setuid,
            libc::SYS_unshare,
            libc::SYS_bpf,
        ] {
            assert_eq!(run(escape, [0; 6]), RET_KILL_PROCESS, "syscall {escape}");
        }
        let thread = libc::CLONE_THREAD as u64 | libc::CLONE_VM as u64;
        assert_eq!(run(libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            run(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(libc::SYS_clone3, [0; 6]),
            RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(run(libc::SYS_tgkill, [42, 1, 6, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(libc::SYS_tgkill, [1, 1, 9, 0, 0, 0]), RET_KILL_PROCESS);
        assert_eq!(
            run(libc::SYS_prctl, [libc::PR_SET_NAME as u64, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(
                libc::SYS_prctl,
                [libc::PR_SET_DUMPABLE as u64, 1, 0, 0, 0, 0]
            ),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(libc::SYS_socket, [libc::AF_INET6 as u64, 1, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(libc::SYS_socket, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
            RET_ERRNO | libc::EAFNOSUPPORT as u32
        );
        // The x32 ABI's numbers, and another architecture, are not ours.
        assert_eq!(
            verdict(&p, AUDIT_ARCH, libc::SYS_read | 0x4000_0000, [0; 6]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            verdict(&p, 0x4000_0003, libc::SYS_read, [0; 6]),
            RET_KILL_PROCESS
        );
    }
}
