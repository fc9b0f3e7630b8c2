//! The chaos harness: the real binary under a random schedule of faults,
//! judged by an oracle that knows every line written.
//!
//! Each capability has its own tests; operators meet combinations (a
//! reload while the ingest flaps, a rotation during a restart). Writers
//! append sequence-numbered lines to plain files and to kubelet-style pod
//! directories (CRI lines, partial ones included) while two lanes inject
//! faults drawn from a seed: rotations of every kind, pods coming and
//! going, kill -9 and SIGTERM restarts, reloads, a full data disk, and an
//! ingest that is down, refuses, throttles, is slow or resets. The oracle
//! ([`oracle`]) then checks that no line was lost beyond what the agent
//! itself reported giving up, and that every body arrived whole.
//!
//! Every scenario prints its seed and each fault as it is injected; the
//! same seed replays the same schedule:
//! `cargo bench -p neurallog-agent-tests --bench chaos -- --seed N --secs S`
//! (`./x soak MINUTES SEED` for long runs). `fixed_seeds` runs a few
//! short scenarios as part of the test suite.

pub mod agent_proc;
pub mod faults;
pub mod lines;
pub mod oracle;
pub mod scenario;
pub mod world;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use faults::{AGENT_LANE, FaultKind, INGEST_LANE};
use scenario::Summary;

/// The summary table of `summaries`, and the faults per kind over all.
pub fn table(summaries: &[Summary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:>20} {:>7} {:>4} {:>6} {:>9} {:>8} {:>7} {:>8} {:>9} {:>7} {:>6}  result",
        "scenario",
        "seed",
        "lines",
        "lost",
        "dups",
        "destroyed",
        "given_up",
        "corrupt",
        "q_corrupt",
        "disk_full",
        "rewinds",
        "faults"
    );
    for (n, s) in summaries.iter().enumerate() {
        let c = &s.counters;
        let _ = writeln!(
            out,
            "{:<9} {:>20} {:>7} {:>4} {:>6} {:>9} {:>8} {:>7} {:>8} {:>9} {:>7} {:>6}  {}",
            format!("chaos-{}", n + 1),
            s.seed,
            s.tally.lines,
            s.tally.lost,
            s.tally.duplicates,
            s.tally.destroyed,
            s.tally.given_up,
            s.tally.corrupt,
            c.get("neurallog_agent_sink_queue_corrupt_records_total"),
            c.get("neurallog_agent_sink_dropped_events_total:disk_full"),
            c.get("neurallog_agent_file_rewinds_total"),
            s.faults.values().sum::<u32>(),
            if s.problems.is_empty() { "ok" } else { "FAIL" },
        );
    }
    let mut injected: BTreeMap<FaultKind, (u32, u32)> = AGENT_LANE
        .iter()
        .chain(INGEST_LANE)
        .map(|&k| (k, (0, 0)))
        .collect();
    for s in summaries {
        for (kind, n) in &s.faults {
            injected.entry(*kind).or_default().0 += n;
        }
        for (kind, n) in &s.skipped {
            injected.entry(*kind).or_default().1 += n;
        }
    }
    let _ = writeln!(out, "\nfaults injected per kind (skipped when a precondition did not hold):");
    for (kind, (done, skipped)) in injected {
        let _ = writeln!(out, "  {:<16} {done:>5} {:>8}", kind.name(), format!("({skipped})"));
    }
    for s in summaries {
        for problem in &s.problems {
            let _ = writeln!(out, "seed {}: {problem}", s.seed);
        }
        for note in &s.notes {
            let _ = writeln!(out, "seed {}: note: {note}", s.seed);
        }
    }
    out
}

/// A few short scenarios with seeds that cover every fault kind; a
/// failure prints the seed to replay. (Not in a `tests` module: the bench
/// binary compiles this file too, and would find its imports unused.)
#[test]
fn fixed_seeds() {
    let summaries: Vec<_> = [1u64, 2, 3]
        .iter()
        .map(|&seed| {
            scenario::run(&scenario::Options {
                seed,
                duration: std::time::Duration::from_secs(35),
                rate: 300.0,
                drain_timeout: std::time::Duration::from_secs(60),
            })
        })
        .collect();
    let table = table(&summaries);
    println!("{table}");
    assert!(
        summaries.iter().all(|s| s.problems.is_empty()),
        "chaos found problems:\n{table}"
    );
}
