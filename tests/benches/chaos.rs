//! The chaos harness from the command line (see `tests/tests/chaos/`):
//! long scenarios and many seeds, with the summary table at the end.
//!
//! ```text
//! cargo bench -p neurallog-agent-tests --bench chaos -- [--minutes M | --secs S]
//!     [--seed N] [--count K] [--rate LINES_PER_SEC] [--avoid-open-bugs]
//! ```
//!
//! `--count K` runs seeds N, N+1, ... N+K-1. Without `--seed`, the seed
//! comes from the clock (and is printed). `--avoid-open-bugs` steers
//! clear of the bugs found and not fixed yet, as the fixed seeds do (see
//! `Options::avoid_open_bugs`). `./x soak MINUTES SEED` runs one
//! scenario of MINUTES. The exit status is 1 when a scenario failed.

#![allow(missing_docs, reason = "a bench binary")]

// `support/mod.rs` allows its own dead code.
#[path = "../tests/support/mod.rs"]
mod support;

/// The harness without its tests (`mod.rs` holds those).
#[allow(dead_code, reason = "the harness exposes more than this binary uses")]
#[path = "../tests/chaos"]
mod chaos {
    pub mod agent_proc;
    pub mod faults;
    pub mod lines;
    pub mod mirror;
    pub mod oracle;
    pub mod report;
    pub mod scenario;
    pub mod world;
}

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaos::scenario::{Options, run};

fn main() {
    let mut secs = 60u64;
    let mut seed = None;
    let mut count = 1u64;
    let mut rate = 1000.0;
    let mut avoid_open_bugs = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--minutes" => secs = parse::<u64>(&value()) * 60,
            "--secs" => secs = parse(&value()),
            "--seed" => seed = Some(parse(&value())),
            "--count" => count = parse(&value()),
            "--rate" => rate = parse::<u64>(&value()) as f64,
            "--avoid-open-bugs" => avoid_open_bugs = true,
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            _ => usage(&arg),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let mut summaries = Vec::new();
    // Every life's log of the agent, kept for the seeds that fail (a
    // finding that does not replay is diagnosed from it), unless the
    // caller chose where it goes.
    let keep_logs = std::env::var_os("CHAOS_AGENT_LOG").is_none();
    for seed in seed..seed + count {
        eprintln!("chaos: seed {seed}, {secs} s of faults at {rate} lines/s");
        let log = std::env::temp_dir().join(format!("chaos-agent-seed-{seed}.log"));
        if keep_logs {
            let _ = std::fs::remove_file(&log);
        }
        let summary = run(&Options {
            seed,
            duration: Duration::from_secs(secs),
            rate,
            drain_timeout: Duration::from_secs(120),
            avoid_open_bugs,
            agent_log: keep_logs.then(|| log.clone()),
        });
        if keep_logs {
            if summary.problems.is_empty() {
                let _ = std::fs::remove_file(&log);
            } else {
                eprintln!(
                    "chaos: seed {seed} failed; the agent's log: {}",
                    log.display()
                );
            }
        }
        summaries.push(summary);
        // The table so far, so a long run shows progress.
        println!("{}", chaos::report::table(&summaries));
    }
    if summaries.iter().any(|s| !s.problems.is_empty()) {
        std::process::exit(1);
    }
}

fn parse<T: std::str::FromStr>(text: &str) -> T {
    text.parse().unwrap_or_else(|_| usage(text))
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "unexpected argument {arg:?}\nusage: chaos [--minutes M | --secs S] [--seed N] [--count K] [--rate LINES_PER_SEC] [--avoid-open-bugs]"
    );
    std::process::exit(2)
}
