//! `/proc/stat`: CPU time per mode, boot time and process counters
//! (<https://docs.kernel.org/filesystems/proc.html#miscellaneous-kernel-statistics-in-proc-stat>).

use std::path::Path;

use super::error::HostMetricsError;
use super::procfs::{number, parse_error};

/// Ticks per second of the times in `/proc/stat`: the kernel reports them
/// in `USER_HZ`, which `sysconf(_SC_CLK_TCK)` (the `AT_CLKTCK` auxiliary
/// vector entry) gives; it is 100 on every Linux architecture we build for.
pub fn user_hz() -> f64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100.0,
        hz => hz as f64,
    }
}

/// CPU time of one CPU (or of all), in ticks, by mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Normal processes in user mode (includes `guest`).
    pub user: u64,
    /// Niced processes in user mode (includes `guest_nice`).
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle while I/O was outstanding.
    pub iowait: u64,
    /// Servicing hardware interrupts.
    pub irq: u64,
    /// Servicing softirqs.
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
    /// Running a guest's virtual CPU (part of `user`).
    pub guest: u64,
    /// Running a niced guest's virtual CPU (part of `nice`).
    pub guest_nice: u64,
}

/// What the collectors use from `/proc/stat`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcStat {
    /// The `cpu` line: all CPUs together.
    pub total: CpuTimes,
    /// The `cpuN` lines, with N.
    pub cpus: Vec<(u32, CpuTimes)>,
    /// Boot time, seconds since the Unix epoch.
    pub boot_time: u64,
    /// Processes (and threads) created since boot.
    pub forks: Option<u64>,
    /// Runnable processes.
    pub procs_running: Option<u64>,
    /// Processes blocked on I/O.
    pub procs_blocked: Option<u64>,
    /// Context switches since boot (`ctxt`).
    pub context_switches: Option<u64>,
    /// Interrupts serviced since boot (the first number of `intr`).
    pub interrupts: Option<u64>,
}

/// Reads one mode's ticks.
pub type ModeTicks = fn(&CpuTimes) -> u64;

/// The modes and their OpenTelemetry `state` names, in node_exporter's
/// order.
pub const STATES: [(&str, ModeTicks); 8] = [
    ("user", |t| t.user),
    ("nice", |t| t.nice),
    ("system", |t| t.system),
    ("idle", |t| t.idle),
    ("wait", |t| t.iowait),
    ("interrupt", |t| t.irq),
    ("softirq", |t| t.softirq),
    ("steal", |t| t.steal),
];

// === impl CpuTimes ===

impl CpuTimes {
    /// Every tick counted once: `guest` and `guest_nice` are already part
    /// of `user` and `nice`.
    pub fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }

    /// Ticks in which the CPU was doing nothing (idle, with or without I/O
    /// outstanding).
    pub fn idle_all(&self) -> u64 {
        self.idle + self.iowait
    }
}

// === impl ProcStat ===

impl ProcStat {
    /// Parse the text of `/proc/stat` (read from `path`).
    pub fn parse(path: &Path, text: &str) -> Result<ProcStat, HostMetricsError> {
        let mut stat = ProcStat::default();
        let mut saw_total = false;
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let Some(key) = fields.next() else { continue };
            if let Some(id) = key.strip_prefix("cpu") {
                let times = cpu_times(path, key, fields)?;
                if id.is_empty() {
                    stat.total = times;
                    saw_total = true;
                } else {
                    let id = id
                        .parse()
                        .map_err(|_| parse_error(path, format!("bad CPU line {key:?}")))?;
                    stat.cpus.push((id, times));
                }
                continue;
            }
            let value = fields.next();
            match key {
                "btime" => stat.boot_time = number(path, key, value)?,
                "processes" => stat.forks = Some(number(path, key, value)?),
                "procs_running" => stat.procs_running = Some(number(path, key, value)?),
                "procs_blocked" => stat.procs_blocked = Some(number(path, key, value)?),
                "ctxt" => stat.context_switches = Some(number(path, key, value)?),
                "intr" => stat.interrupts = Some(number(path, key, value)?),
                _ => {}
            }
        }
        if !saw_total {
            return Err(parse_error(path, "no `cpu` line"));
        }
        Ok(stat)
    }
}

fn cpu_times<'a>(
    path: &Path,
    key: &str,
    fields: impl Iterator<Item = &'a str>,
) -> Result<CpuTimes, HostMetricsError> {
    // Older kernels have fewer columns; missing ones are zero.
    let mut values = [0u64; 10];
    for (slot, field) in values.iter_mut().zip(fields) {
        *slot = field
            .parse()
            .map_err(|_| parse_error(path, format!("{key}: {field:?} is not a number")))?;
    }
    let [
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    ] = values;
    Ok(CpuTimes {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  261159 105895 34256 52260 1716 0 283 238 7 1
cpu0 128116 53729 16526 28812 543 0 25 117 0 0
cpu1 133042 52166 17730 23448 1172 0 258 120 0 0
intr 1816497 0 0
ctxt 2254703
btime 1795732152
processes 22616
procs_running 7
procs_blocked 1
softirq 1 2 3
";

    #[test]
    fn parses_cpu_lines_boot_time_and_process_counters() {
        let stat = ProcStat::parse(Path::new("/proc/stat"), STAT).unwrap();
        assert_eq!(stat.total.user, 261159);
        assert_eq!(stat.total.steal, 238);
        assert_eq!(stat.cpus.len(), 2);
        assert_eq!(stat.cpus[1].0, 1);
        assert_eq!(stat.cpus[1].1.iowait, 1172);
        assert_eq!(stat.boot_time, 1795732152);
        assert_eq!(stat.forks, Some(22616));
        assert_eq!(stat.procs_running, Some(7));
        assert_eq!(stat.procs_blocked, Some(1));
        assert_eq!(stat.context_switches, Some(2254703));
        assert_eq!(stat.interrupts, Some(1816497));
        assert_eq!((stat.total.guest, stat.total.guest_nice), (7, 1));
        // guest (7) and guest_nice (1) are inside user and nice already.
        assert_eq!(
            stat.total.total(),
            261159 + 105895 + 34256 + 52260 + 1716 + 283 + 238
        );
    }

    #[test]
    fn the_recorded_file_of_the_comparison_machine() {
        let stat = ProcStat::parse(Path::new("/proc/stat"), include_str!("fixtures/stat")).unwrap();
        assert_eq!(stat.cpus.len(), 2);
        assert!(stat.context_switches.is_some() && stat.interrupts.is_some());
        assert!(stat.boot_time > 1_700_000_000);
    }

    #[test]
    fn short_cpu_lines_of_old_kernels_are_zero_filled_and_garbage_is_an_error() {
        let stat = ProcStat::parse(Path::new("s"), "cpu 1 2 3 4\nbtime 5\n").unwrap();
        assert_eq!(stat.total.idle, 4);
        assert_eq!(stat.total.iowait, 0);
        assert!(ProcStat::parse(Path::new("s"), "cpu 1 x 3\n").is_err());
        assert!(ProcStat::parse(Path::new("s"), "btime 5\n").is_err());
    }
}
