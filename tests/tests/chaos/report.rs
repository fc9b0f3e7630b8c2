//! The summary table: a row per scenario, then the faults per kind over
//! all of them, then what went wrong.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::faults::{AGENT_LANE, FaultKind, INGEST_LANE};
use super::scenario::Summary;

/// The summary table of `summaries`, and the faults per kind over all.
pub fn table(summaries: &[Summary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:>20} {:>7} {:>4} {:>6} {:>7} {:>9} {:>8} {:>7} {:>8} {:>9} {:>7} {:>8} {:>6} {:>6}  result",
        "scenario",
        "seed",
        "lines",
        "lost",
        "dups",
        "unexpl",
        "destroyed",
        "given_up",
        "corrupt",
        "q_corrupt",
        "disk_full",
        "rewinds",
        "mirrored",
        "missed",
        "faults"
    );
    for (n, s) in summaries.iter().enumerate() {
        let c = &s.counters;
        let _ = writeln!(
            out,
            "{:<9} {:>20} {:>7} {:>4} {:>6} {:>7} {:>9} {:>8} {:>7} {:>8} {:>9} {:>7} {:>8} {:>6} {:>6}  {}",
            format!("chaos-{}", n + 1),
            s.seed,
            s.tally.lines,
            s.tally.lost,
            s.tally.duplicates,
            s.tally.unexplained_duplicates,
            s.tally.destroyed,
            s.tally.given_up,
            s.tally.corrupt,
            c.get("neurallog_agent_sink_queue_corrupt_records_total"),
            c.get("neurallog_agent_sink_dropped_events_total:disk_full"),
            c.get("neurallog_agent_file_rewinds_total"),
            s.mirror.checked,
            s.mirror.missed,
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
    let _ = writeln!(
        out,
        "\nfaults injected per kind (skipped when a precondition did not hold):"
    );
    for (kind, (done, skipped)) in injected {
        let _ = writeln!(
            out,
            "  {:<17} {done:>5} {:>8}",
            kind.name(),
            format!("({skipped})")
        );
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
