//! One scenario: a seed, a world of files and pods, the agent, the
//! receiver, the writers and the two fault lanes running for a while;
//! then the faults stop, the writers stop, the agent is given time to
//! deliver everything, and the oracle's verdict becomes a summary row.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::agent_proc::{self, AgentConfig, AgentProc, Broken, Counters, Tmpfs};
use super::faults::{AGENT_LANE, FaultKind, INGEST_LANE, Lane, Planned};
use super::mirror::{Mirror, MirrorTally};
use super::oracle::{Oracle, Tally};
use super::world::{StreamKind, World};
use crate::support::receiver::{Fault, Receiver};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed of everything random.
    pub seed: u64,
    /// How long faults are injected.
    pub duration: Duration,
    /// Lines per second over every stream.
    pub rate: f64,
    /// How long the agent may take to deliver what is left afterwards.
    pub drain_timeout: Duration,
    /// Steer clear of the bugs found and not fixed yet, so a scenario
    /// fails only on something new (the fixed seeds set this; the bench
    /// does on `--avoid-open-bugs`): unexplained copies are reported, not
    /// failed. The copytruncate copies of seed 115 were a scan race, fixed;
    /// not explained yet: seed 104 at 400 lines/s (a pod's lines twice at
    /// the same moment after a counted rewind) and seed 118 at 1000 lines/s
    /// (a copytruncate shortly after two reloads, once in three runs), as
    /// found then. The schedules seeds draw have changed since (new fault
    /// kinds): both seeds now run others, with no unexplained copy
    /// (2026-12-07). Seed 6014 at 3,000 lines/s (a file sent again after
    /// `reload_include` with the data directory's disk full) was a rebuilt
    /// source reading checkpoints its predecessor could not save, fixed
    /// (`a_replacement_goes_on_from_the_engine_before_when_its_last_save_failed`).
    /// Not explained yet: seed 6205 at 6,000 lines/s, with a build loading
    /// both CPUs (2026-12-07): 4,417 copies, about 0.7 s of every
    /// stream's lines delivered once just after a `reload_include` that
    /// rebuilt the file source (its engine waiting out a 429) and again
    /// 2.6 s later, when a 401 hold ended; no rewind or retry counted.
    /// Six replays of the seed (three with both CPUs loaded), the 14 seeds
    /// after it, 17 more with both CPUs loaded and 12 on the agent of the
    /// next fix did not show it again. Seed 7100 at 6,000 lines/s (one
    /// body cut: the start of a pod's line split by kubelet's rotation
    /// while the agent was stopped, read again without its rest after a
    /// batch before it failed and the one with it was delivered) was
    /// fixed (`a_record_split_by_a_rotation_is_joined_again_when_its_start_is_read_again`).
    /// Loss always fails.
    pub avoid_open_bugs: bool,
    /// Where every life's log of the agent is appended (else where
    /// `CHAOS_AGENT_LOG` says, if set).
    pub agent_log: Option<PathBuf>,
}

/// The outcome of a scenario.
#[derive(Debug)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// The oracle's verdict.
    pub tally: Tally,
    /// The verdict on the second sink.
    pub mirror: MirrorTally,
    /// Faults injected, per kind.
    pub faults: BTreeMap<FaultKind, u32>,
    /// Faults skipped, per kind (a precondition did not hold).
    pub skipped: BTreeMap<FaultKind, u32>,
    /// The agent's counters over all its lives.
    pub counters: Counters,
    /// What went wrong besides lost lines.
    pub problems: Vec<String>,
    /// Remarks (a fault that cannot run here).
    pub notes: Vec<String>,
    /// Whether the data directory was a tmpfs the disk-full fault can fill.
    pub disk_full_possible: bool,
}

/// The world and the oracle, under one lock so a rotation and the
/// bookkeeping of what arrived never interleave.
struct State {
    world: World,
    oracle: Oracle,
    mirror: Mirror,
}

/// What the threads share.
struct Shared {
    seed: u64,
    start: Instant,
    state: Mutex<State>,
    receiver: Mutex<Receiver>,
    /// The second sink's receiver.
    mirror: Mutex<Receiver>,
    token: Mutex<(u32, PathBuf)>,
    stop_faults: AtomicBool,
    stop_writing: AtomicBool,
    faults: Mutex<BTreeMap<FaultKind, u32>>,
    skipped: Mutex<BTreeMap<FaultKind, u32>>,
    /// Reloads the agent refused while `reload_broken` had broken its
    /// configuration: expected, unlike any other.
    refusals_expected: Mutex<f64>,
    /// Broken configurations the agent took.
    broken_taken: Mutex<Vec<String>>,
}

/// Sets the stop flags when dropped, so threads end also when the agent
/// lane panics.
struct StopGuard<'a>(&'a Shared);

/// Run one scenario.
pub fn run(options: &Options) -> Summary {
    let seed = options.seed;
    let mut rng = fastrand::Rng::with_seed(seed);
    let root = tempfile::tempdir().expect("temp dir");
    let data_dir = root.path().join("data");
    let mut notes = Vec::new();
    // The tmpfs is dropped (unmounted) before `root` is deleted.
    let tmpfs = match Tmpfs::mount(&data_dir, 16 * 1024 * 1024) {
        Ok(tmpfs) => Some(tmpfs),
        Err(why) => {
            let note = format!("disk_full skipped: cannot mount a tmpfs ({why})");
            eprintln!("chaos seed={seed}: note: {note}");
            notes.push(note);
            None
        }
    };
    let include_rotated = rng.bool();
    let compression = ["none", "gzip", "zstd"][rng.usize(..3)];
    let receiver = Receiver::start();
    let token_path = root.path().join("token");
    std::fs::write(&token_path, "token-0").expect("write the token");
    receiver.set_fault(baseline(0));
    let mirror = Receiver::start();
    let shared = Shared {
        seed,
        start: Instant::now(),
        state: Mutex::new(State {
            world: World::new(root.path(), seed, 6, 2, 3, include_rotated),
            oracle: Oracle::starting_now(),
            mirror: Mirror::default(),
        }),
        mirror: Mutex::new(mirror),
        token: Mutex::new((0, token_path)),
        stop_faults: AtomicBool::new(false),
        stop_writing: AtomicBool::new(false),
        faults: Mutex::default(),
        skipped: Mutex::default(),
        refusals_expected: Mutex::new(0.0),
        broken_taken: Mutex::default(),
        receiver: Mutex::new(receiver),
    };
    let config = AgentConfig {
        data_dir,
        root: root.path().to_owned(),
        endpoint: lock(&shared.receiver).endpoint(),
        mirror_endpoint: lock(&shared.mirror).endpoint(),
        compression,
        include_rotated,
        include_extra: false,
        include_variant: 0,
        pods_variant: 0,
        batch_variant: 0,
        // A third of the seeds start with the second sink, whose last
        // stretch in the configuration the mirror oracle checks.
        mirror: seed.is_multiple_of(3),
        mirror_stretch: 1,
        renamed: false,
        // Each seed starts from its own transforms (none in a fifth of
        // them), so reloads leave each variant, the route included:
        // starting from the route found a loss (seed 2 at 300 lines/s for
        // 35 s, a reload taking the route out while the ingest failed),
        // fixed with its regression test in `shipping::reload`.
        // Over two rounds of the variants, so that the Wasm processor of
        // either world is where some seeds start.
        transform_variant: (seed % u64::from(2 * agent_proc::TRANSFORM_VARIANTS)) as u32,
        broken: Broken::No,
    };
    shared.log(&format!(
        "start: include_rotated={include_rotated} compression={compression} rate={} duration={:?}",
        options.rate, options.duration
    ));
    let disk_full_possible = tmpfs.is_some();
    if config.mirror {
        shared.state().mirror.added(config.mirror_stretch);
    }
    let mut agent = AgentProc::start(config, options.agent_log.clone());
    std::thread::scope(|scope| {
        let _guard = StopGuard(&shared);
        let writer = scope.spawn(|| shared.write(options.rate));
        let ingest = scope.spawn(|| shared.ingest_lane());
        shared.agent_lane(&mut agent, tmpfs.as_ref(), options);
        shared.stop_faults.store(true, Ordering::SeqCst);
        let _ = ingest.join();
        shared.stop_writing.store(true, Ordering::SeqCst);
        let _ = writer.join();
    });
    // Heal everything, then let the agent deliver what is left.
    {
        let mut receiver = lock(&shared.receiver);
        receiver.resume();
        receiver.set_fault(baseline(lock(&shared.token).0));
        lock(&shared.mirror).resume();
    }
    lock(&shared.state).world.flush();
    if !agent.running() {
        agent.restart();
    }
    shared.drain(&mut agent, options.drain_timeout);
    agent.terminate();
    shared.collect();
    let counters = agent.totals();
    let state = lock(&shared.state);
    let extra = agent.config.include_extra;
    let tally = state
        .oracle
        .tally(&state.world, extra, &counters.lost_bytes);
    let mirror = state.mirror.tally(&state.world, &state.oracle);
    let mut problems = problems(
        &tally,
        &state.oracle,
        &counters,
        &agent,
        *lock(&shared.refusals_expected),
    );
    problems.extend(lock(&shared.broken_taken).iter().cloned());
    if mirror.missed > 0 {
        problems.push(format!(
            "the second sink missed {} of the {} lines the ingest got while it was there, e.g. {:?}",
            mirror.missed, mirror.checked, mirror.examples
        ));
    }
    if state.mirror.corrupt > 0 {
        problems.push(format!(
            "{} corrupt bodies at the second sink",
            state.mirror.corrupt
        ));
    }
    if let Some(copies) = unexplained_copies(&tally, &state.oracle) {
        if options.avoid_open_bugs {
            notes.push(copies);
        } else {
            problems.push(copies);
        }
    }
    Summary {
        seed,
        tally,
        mirror,
        faults: lock(&shared.faults).clone(),
        skipped: lock(&shared.skipped).clone(),
        counters,
        problems,
        notes,
        disk_full_possible,
    }
}

/// What fails the scenario.
fn problems(
    tally: &Tally,
    oracle: &Oracle,
    counters: &Counters,
    agent: &AgentProc,
    refusals_expected: f64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if tally.lost > 0 {
        problems.push(format!(
            "lost lines, per stream (first ones): {:?}",
            tally.lost_examples
        ));
    }
    if tally.corrupt > 0 {
        problems.push(format!(
            "corrupt bodies, e.g. {:?}",
            oracle.corrupt_examples
        ));
    }
    let queue_corrupt = counters.get("neurallog_agent_sink_queue_corrupt_records_total");
    if queue_corrupt > 0.0 {
        problems.push(format!(
            "{queue_corrupt} disk queue records skipped as corrupt"
        ));
    }
    let reload_failures =
        counters.get("neurallog_agent_config_reloads_total:failure") - refusals_expected;
    if reload_failures > 0.0 {
        problems.push(format!(
            "{reload_failures} reloads refused (besides {refusals_expected} of broken configurations)"
        ));
    }
    problems.extend(agent.crashes.iter().map(|c| format!("agent crashed: {c}")));
    problems.extend(agent.bad_exits.iter().map(|s| format!("SIGTERM exit: {s}")));
    problems
}

/// The copies nothing explains, if any.
fn unexplained_copies(tally: &Tally, oracle: &Oracle) -> Option<String> {
    if tally.unexplained_duplicates == 0 {
        return None;
    }
    let examples: Vec<String> = oracle
        .unexplained
        .iter()
        .take(6)
        .map(|(stream, seq, first, again)| format!("{stream}:{seq} at {first:.1}s and {again:.1}s"))
        .collect();
    // Per stream: how many, the lowest and highest line, the earliest
    // first arrival and the latest copy (one stream read again from an
    // old offset shows as one contiguous range).
    let mut streams: BTreeMap<&str, (u64, u64, u64, f64, f64)> = BTreeMap::new();
    for (stream, seq, first, again) in &oracle.unexplained {
        let e = streams
            .entry(stream)
            .or_insert((0, u64::MAX, 0, f64::MAX, 0.0));
        e.0 += 1;
        e.1 = e.1.min(*seq);
        e.2 = e.2.max(*seq);
        e.3 = e.3.min(*first);
        e.4 = e.4.max(*again);
    }
    let streams: Vec<String> = streams
        .iter()
        .map(|(stream, (n, low, high, first, again))| {
            format!(
                "{stream}: {n} in {low}..={high}, first from {first:.1}s, again until {again:.1}s"
            )
        })
        .collect();
    Some(format!(
        "{} copies nothing explains (no restart, slow ingest, counted rewind or retry), e.g. {}; by stream: {}",
        tally.unexplained_duplicates,
        examples.join(", "),
        streams.join("; ")
    ))
}

/// What the receiver does between faults: accept the current token only.
fn baseline(token: u32) -> Fault {
    Fault::RequireToken {
        status: 401,
        token: format!("token-{token}"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

// === impl Shared ===

impl Shared {
    fn log(&self, what: &str) {
        eprintln!(
            "chaos seed={} t={:>6.1}s {what}",
            self.seed,
            self.start.elapsed().as_secs_f64()
        );
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Sample the agent's counters. A rewind counted since the last look,
    /// or a request retried after a timeout or a connection error (it may
    /// have been delivered: a CPU-starved debug build times out without
    /// any fault), explains the copies that arrived shortly before, and
    /// later copies of the lines written by then.
    fn watch(&self, agent: &mut AgentProc) {
        const RESENDS: [&str; 3] = [
            "neurallog_agent_file_rewinds_total",
            "neurallog_agent_sink_retries_total:timeout",
            "neurallog_agent_sink_retries_total:io",
        ];
        let resends = |agent: &AgentProc| -> f64 {
            let totals = agent.totals();
            RESENDS.iter().map(|key| totals.get(key)).sum()
        };
        let before = resends(agent);
        agent.sample();
        let rewound = resends(agent) > before;
        let mut state = self.state();
        let State { world, oracle, .. } = &mut *state;
        let written = world.streams.iter().map(|s| (s.id.clone(), s.next));
        oracle.settle_suspects(rewound, written, Duration::from_millis(1500));
    }

    /// Copies arriving within `window` from now are expected.
    fn excuse(&self, window: Duration) {
        self.state().oracle.excuse_until(Instant::now() + window);
    }

    /// Move what the receivers accepted into the oracle.
    fn collect(&self) {
        let requests = lock(&self.receiver).take_requests();
        let mirrored = lock(&self.mirror).take_requests();
        let mut state = self.state();
        state.oracle.ingest(requests);
        let State { world, mirror, .. } = &mut *state;
        mirror.ingest(mirrored, world);
    }

    /// Sleep `duration` unless `flag` is raised first.
    fn pause(&self, flag: &AtomicBool, duration: Duration) {
        let end = Instant::now() + duration;
        while !flag.load(Ordering::SeqCst) && Instant::now() < end {
            // Short steps so a stop is noticed quickly.
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
    }

    /// The writers: every stream gets its share of `rate` lines per
    /// second until told to stop.
    fn write(&self, rate: f64) {
        let mut last = Instant::now();
        while !self.stop_writing.load(Ordering::SeqCst) {
            // Lines are appended in small bursts, as busy applications do.
            std::thread::sleep(Duration::from_millis(20));
            let now = Instant::now();
            self.state().world.tick((now - last).as_secs_f64(), rate);
            last = now;
        }
    }

    fn done(&self, kind: FaultKind, detail: &str) {
        *lock(&self.faults).entry(kind).or_default() += 1;
        self.log(&format!("{} {detail}", kind.name()));
    }

    fn skip(&self, kind: FaultKind, why: &str) {
        *lock(&self.skipped).entry(kind).or_default() += 1;
        self.log(&format!("{} skipped: {why}", kind.name()));
    }

    // --- the ingest lane ---

    fn ingest_lane(&self) {
        let mut lane = Lane::new(self.seed, 0x1de57, INGEST_LANE);
        while !self.stop_faults.load(Ordering::SeqCst) {
            let fault = lane.next_fault();
            self.pause(&self.stop_faults, fault.gap);
            if self.stop_faults.load(Ordering::SeqCst) {
                break;
            }
            self.ingest_fault(fault);
        }
    }

    fn ingest_fault(&self, fault: Planned) {
        let Planned {
            kind,
            duration,
            pick,
            ..
        } = fault;
        let token = lock(&self.token).0;
        let never = AtomicBool::new(false);
        let set = |f: Fault| lock(&self.receiver).set_fault(f);
        let ms = duration.as_millis();
        match kind {
            FaultKind::IngestDown => {
                self.done(kind, &format!("for {ms} ms"));
                // A request being answered when it stops was delivered;
                // the agent sends it again (after a backoff up to 1 s).
                self.excuse(duration + Duration::from_secs(3));
                lock(&self.receiver).stop();
                self.pause(&never, duration);
                lock(&self.receiver).resume();
            }
            FaultKind::Status503 | FaultKind::Status429 => {
                let (status, retry_after) = match kind {
                    FaultKind::Status503 => (503, None),
                    _ => (429, Some("1".to_owned())),
                };
                self.done(kind, &format!("for {ms} ms"));
                set(Fault::Status {
                    status,
                    retry_after,
                    until: Instant::now() + duration,
                });
                self.pause(&never, duration);
                set(baseline(token));
            }
            FaultKind::Status413 => {
                self.done(kind, &format!("above 4096 bytes for {ms} ms"));
                set(Fault::TooLarge(4096));
                self.pause(&never, duration);
                set(baseline(token));
            }
            FaultKind::Unauthorized401 => {
                // The ingest wants a token the agent does not have yet:
                // the sink holds until the file is rotated.
                let new = self.next_token();
                self.done(
                    kind,
                    &format!("token-{new} wanted, file rotated after {ms} ms"),
                );
                set(baseline(new));
                self.pause(&never, duration);
                self.write_token(new);
            }
            FaultKind::TokenRotated => {
                let new = self.next_token();
                self.done(kind, &format!("to token-{new}"));
                self.write_token(new);
                // The ingest learns of it a moment later.
                self.pause(&never, Duration::from_millis(300));
                set(baseline(new));
            }
            FaultKind::Slow => {
                let delay = Duration::from_millis(500 + pick % 2500);
                self.done(kind, &format!("answers after {delay:?} for {ms} ms"));
                // Past the sink's 2 s timeout, a delivered request is sent
                // again; the last slow answer comes `delay` after the end.
                self.excuse(duration + delay + Duration::from_secs(3));
                set(Fault::Delay(delay));
                self.pause(&never, duration);
                set(baseline(token));
            }
            FaultKind::ResetMidBody => {
                let count = 1 + (pick % 5) as usize;
                self.done(kind, &format!("{count} connections"));
                set(Fault::ResetMidBody { count });
                self.pause(&never, duration);
                set(baseline(token));
            }
            FaultKind::MirrorDown => {
                let there = if self.state().mirror.is_in() {
                    ""
                } else {
                    " (not in the configuration now)"
                };
                self.done(kind, &format!("for {ms} ms{there}"));
                lock(&self.mirror).stop();
                self.pause(&never, duration);
                lock(&self.mirror).resume();
            }
            _ => self.skip(kind, "not an ingest fault"),
        }
    }

    fn next_token(&self) -> u32 {
        let mut token = lock(&self.token);
        token.0 += 1;
        token.0
    }

    /// Replace the token file atomically, as a secret manager does.
    fn write_token(&self, n: u32) {
        let token = lock(&self.token);
        let tmp = token.1.with_extension("tmp");
        std::fs::write(&tmp, format!("token-{n}")).expect("write the token");
        std::fs::rename(&tmp, &token.1).expect("rotate the token file");
    }

    // --- the agent lane ---

    fn agent_lane(&self, agent: &mut AgentProc, tmpfs: Option<&Tmpfs>, options: &Options) {
        let mut lane = Lane::new(self.seed, 0xa6e47, AGENT_LANE);
        let deadline = Instant::now() + options.duration;
        while Instant::now() < deadline {
            let fault = lane.next_fault();
            self.idle(agent, fault.gap);
            self.agent_fault(agent, tmpfs, fault);
        }
    }

    /// Let the system run for `duration`, watching it: what arrived, the
    /// agent's counters, rotated files and pods that may go.
    fn idle(&self, agent: &mut AgentProc, duration: Duration) {
        let end = Instant::now() + duration;
        loop {
            self.collect();
            self.watch(agent);
            self.housekeeping();
            let now = Instant::now();
            if now >= end {
                break;
            }
            // The pace of the watch: a receiver poll and a /metrics scrape.
            std::thread::sleep(Duration::from_millis(250).min(end - now));
        }
    }

    /// Delete rotated files whose every line arrived (keeping the newest
    /// two), and retired pods whose files the agent holds.
    fn housekeeping(&self) {
        let mut state = self.state();
        let State { world, oracle, .. } = &mut *state;
        for i in 0..world.streams.len() {
            let stream = &world.streams[i];
            let rotated: Vec<usize> = (0..stream.files.len().saturating_sub(1))
                .filter(|&r| {
                    let rec = &stream.files[r];
                    rec.reachable && !rec.truncated && rec.path != stream.live
                })
                .collect();
            for &r in rotated.iter().rev().skip(2) {
                let rec = &world.streams[i].files[r];
                if oracle.has_all(&world.streams[i].id, rec.first, rec.end) {
                    world.delete_rotated(i, r);
                }
            }
            let stream = &world.streams[i];
            if stream.retired && stream.pod_dir.is_some() {
                let live = stream.live_rec();
                let rotated_done = stream.files[..stream.files.len() - 1]
                    .iter()
                    .all(|r| oracle.has_all(&stream.id, r.first, r.end));
                if rotated_done && oracle.opened_in_this_life(&stream.id, live.first, live.end) {
                    world.delete_pod(i);
                    let id = world.streams[i].id.clone();
                    drop(state);
                    self.log(&format!("pod {id} deleted"));
                    return;
                }
            }
        }
    }

    /// Wait (up to 3 s) until the running agent has shown it reads the
    /// live file of stream `i`: one of its lines arrived from this life of
    /// the agent. A file the agent never opened cannot be followed
    /// through a rename out of its include, a deletion or a truncation.
    fn wait_opened(&self, agent: &mut AgentProc, i: usize) -> bool {
        let end = Instant::now() + Duration::from_secs(3);
        loop {
            self.collect();
            {
                let state = self.state();
                let stream = &state.world.streams[i];
                let live = stream.live_rec();
                if state
                    .oracle
                    .opened_in_this_life(&stream.id, live.first, live.end)
                {
                    return true;
                }
            }
            if Instant::now() >= end {
                return false;
            }
            self.watch(agent);
            // A receiver poll.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The agent stopped (killed with -9, or not): the oracles learn what
    /// it can no longer deliver.
    fn agent_stopped(&self, killed: bool) {
        let mut state = self.state();
        let State {
            world,
            oracle,
            mirror,
        } = &mut *state;
        oracle.agent_stopped(world, killed);
        mirror.agent_stopped(world, killed);
    }

    /// Rotate a file while no agent runs, the way `pick` says: a rename
    /// (`logrotate`'s `create`), a `copytruncate`, a delete and recreate,
    /// or kubelet's rotation of a pod's log. The next agent must go on
    /// from its checkpoints in whatever file now holds their lines, if a
    /// path it reads reaches it.
    fn rotate_while_down(&self, pick: u64) {
        let (kind, what) = match pick % 4 {
            0 => (StreamKind::Plain, "rename"),
            1 => (StreamKind::Plain, "copytruncate"),
            2 => (StreamKind::Plain, "delete_recreate"),
            _ => (StreamKind::Pod, "kubelet_rotate"),
        };
        let Some(i) = self.pick(kind, pick >> 2) else {
            return;
        };
        let mut state = self.state();
        let world = &mut state.world;
        match pick % 4 {
            0 => world.rotate_rename(i),
            1 => world.rotate_copytruncate(i, false),
            2 => world.delete_recreate(i),
            _ => world.kubelet_rotate(i),
        }
        let id = world.streams[i].id.clone();
        drop(state);
        self.log(&format!("  while down: {what} {id}"));
    }

    /// Add the second sink, or take it out (the reload is the caller's).
    fn toggle_mirror(&self, agent: &mut AgentProc) -> &'static str {
        agent.config.mirror = !agent.config.mirror;
        let mut state = self.state();
        match agent.config.mirror {
            true => {
                agent.config.mirror_stretch += 1;
                state.mirror.added(agent.config.mirror_stretch);
                "second sink added"
            }
            false => {
                state.mirror.removed();
                "second sink removed"
            }
        }
    }

    fn pick(&self, kind: StreamKind, pick: u64) -> Option<usize> {
        let candidates = self.state().world.candidates(kind);
        (!candidates.is_empty()).then(|| candidates[(pick % candidates.len() as u64) as usize])
    }

    fn agent_fault(&self, agent: &mut AgentProc, tmpfs: Option<&Tmpfs>, fault: Planned) {
        let Planned {
            kind,
            duration,
            pick,
            ..
        } = fault;
        match kind {
            FaultKind::RotateRename
            | FaultKind::RotateCopytruncate
            | FaultKind::TruncateInPlace
            | FaultKind::DeleteRecreate => {
                let Some(i) = self.pick(StreamKind::Plain, pick) else {
                    return self.skip(kind, "no file");
                };
                let follow_needed =
                    kind != FaultKind::RotateRename || !self.state().world.include_rotated;
                if follow_needed && !self.wait_opened(agent, i) {
                    return self.skip(kind, "the agent has not shown it reads the file");
                }
                let id = self.state().world.streams[i].id.clone();
                match kind {
                    FaultKind::RotateRename => self.state().world.rotate_rename(i),
                    FaultKind::RotateCopytruncate => {
                        self.state().world.rotate_copytruncate(i, true);
                    }
                    FaultKind::DeleteRecreate => self.state().world.delete_recreate(i),
                    _ => {
                        self.state().world.streams[i].paused = true;
                        // The agent checks files at their end every 100
                        // ms: paused this long, it has seen the file's
                        // final size, so it can count what it did not read.
                        std::thread::sleep(Duration::from_millis(600));
                        let mut state = self.state();
                        state.world.truncate_in_place(i);
                        state.world.streams[i].paused = false;
                    }
                }
                self.done(kind, &id);
            }
            FaultKind::KubeletRotate => {
                let Some(i) = self.pick(StreamKind::Pod, pick) else {
                    return self.skip(kind, "no pod");
                };
                let mut state = self.state();
                state.world.kubelet_rotate(i);
                let id = state.world.streams[i].id.clone();
                drop(state);
                self.done(kind, &id);
            }
            FaultKind::PodChurn => {
                let mut state = self.state();
                let active = state.world.candidates(StreamKind::Pod);
                if active.len() < 3 || pick % 2 == 0 {
                    let i = state.world.add_pod();
                    let id = state.world.streams[i].id.clone();
                    drop(state);
                    self.done(kind, &format!("pod {id} added"));
                } else {
                    let i = active[(pick / 2 % active.len() as u64) as usize];
                    state.world.retire(i);
                    let id = state.world.streams[i].id.clone();
                    drop(state);
                    self.done(kind, &format!("pod {id} stops (deleted once read)"));
                }
            }
            FaultKind::Kill9Restart | FaultKind::SigtermRestart => {
                let down = duration / 2;
                self.done(kind, &format!("down for {} ms", down.as_millis()));
                let killed = kind == FaultKind::Kill9Restart;
                if killed {
                    agent.kill9();
                } else {
                    agent.terminate();
                }
                self.collect();
                self.agent_stopped(killed);
                self.state().oracle.new_epoch();
                // Down for a while: the writers go on, a backlog grows,
                // and in two restarts of three, files rotate meanwhile.
                std::thread::sleep(down / 2);
                let rotations = pick % 3;
                for n in 0..rotations {
                    self.rotate_while_down(pick >> (8 + 8 * n));
                }
                if rotations > 0 {
                    // What no path reaches now died with the agent.
                    self.agent_stopped(killed);
                }
                std::thread::sleep(down - down / 2);
                agent.restart();
            }
            FaultKind::Sighup => {
                self.done(kind, "configuration unchanged");
                agent.hup();
            }
            FaultKind::ReloadBatch => {
                agent.config.batch_variant += 1;
                self.done(
                    kind,
                    &format!("batch variant {}", agent.config.batch_variant % 3),
                );
                agent.reload();
            }
            FaultKind::KillProcessorWorker => {
                let variants = agent_proc::TRANSFORM_VARIANTS;
                if agent.config.transform_variant % variants != agent_proc::PROCESSOR_VARIANT {
                    agent.config.transform_variant = agent.config.transform_variant / variants
                        * variants
                        + agent_proc::PROCESSOR_VARIANT;
                    agent.reload();
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                let worker = loop {
                    match agent.plugin_workers().first() {
                        Some(&pid) => break Some(pid),
                        None if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        None => break None,
                    }
                };
                let Some(pid) = worker else {
                    return self.skip(kind, "no processor worker within 10 s");
                };
                // A batch or two through it first, so the kill lands
                // between or in the middle of batches.
                std::thread::sleep(duration.min(Duration::from_millis(1500)));
                let killed = Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status()
                    .is_ok_and(|status| status.success());
                match killed {
                    true => self.done(kind, &format!("worker pid {pid}")),
                    false => self.skip(kind, "the worker was gone before the kill"),
                }
            }
            FaultKind::ReloadTransforms => {
                agent.config.transform_variant += 1;
                self.done(
                    kind,
                    &format!(
                        "transform variant {}",
                        agent.config.transform_variant % agent_proc::TRANSFORM_VARIANTS
                    ),
                );
                agent.reload();
            }
            FaultKind::ReloadSink => {
                // A third of them rename the ingest's sink: one sink goes
                // and another comes in its place, in one reload.
                let what = if pick % 3 == 0 {
                    agent.config.renamed = !agent.config.renamed;
                    match agent.config.renamed {
                        true => "ingest sink renamed to shipping",
                        false => "ingest sink renamed back to ingest",
                    }
                } else {
                    self.toggle_mirror(agent)
                };
                self.done(kind, what);
                agent.reload();
            }
            FaultKind::ReloadStorm => {
                // A deployment tool applying its edits one by one: each
                // reload comes while the ones before are still being
                // applied (a sink draining, a source ending).
                let n = 3 + pick % 4;
                let mut bits = pick >> 2;
                let mut what = Vec::new();
                for _ in 0..n {
                    let change = match bits % 4 {
                        0 => {
                            agent.config.batch_variant += 1;
                            "batch"
                        }
                        1 => {
                            agent.config.transform_variant += 1;
                            "transforms"
                        }
                        2 => {
                            agent.config.include_variant += 1;
                            agent.config.include_extra = true;
                            if (bits >> 2) % 2 == 0 {
                                "include"
                            } else {
                                agent.config.pods_variant += 1;
                                "include and pods"
                            }
                        }
                        _ => self.toggle_mirror(agent),
                    };
                    what.push(change);
                    agent.reload();
                    std::thread::sleep(Duration::from_millis(20 + (bits >> 2) % 180));
                    bits >>= 10;
                }
                self.done(kind, &what.join(", "));
            }
            FaultKind::ReloadInclude => {
                agent.config.include_variant += 1;
                agent.config.include_extra = true;
                // Half of them rebuild the pods source in the same reload:
                // two tailing engines handed over side by side.
                let pods = pick % 2 == 1;
                if pods {
                    agent.config.pods_variant += 1;
                }
                self.done(
                    kind,
                    &format!(
                        "include variant {}, extra/ in{}",
                        agent.config.include_variant % 2,
                        if pods {
                            ", the pods source rebuilt too"
                        } else {
                            ""
                        }
                    ),
                );
                agent.reload();
            }
            FaultKind::ReloadBroken => {
                // Broken and mended within one fault: a restart (on the
                // other faults of this lane) never meets the broken file.
                let (broken, what) = match pick % 3 {
                    0 => (Broken::Yaml, "YAML that does not parse"),
                    1 => (Broken::UnknownInput, "a sink reading an unknown input"),
                    _ => (Broken::MissingTokenFile, "the ingest's token file missing"),
                };
                self.done(kind, &format!("{what} for {} ms", duration.as_millis()));
                const REFUSED: &str = "neurallog_agent_config_reloads_total:failure";
                agent.sample();
                let before = agent.totals().get(REFUSED);
                agent.config.broken = broken;
                agent.reload();
                // A reload waits for the one before it (a sink draining):
                // the refusal comes when this one's turn comes.
                if broken != Broken::MissingTokenFile {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while agent.totals().get(REFUSED) <= before && Instant::now() < deadline {
                        self.idle(agent, Duration::from_millis(100));
                        agent.sample();
                    }
                    if agent.totals().get(REFUSED) <= before {
                        lock(&self.broken_taken).push(format!(
                            "{what}: not refused within 20 s at {:.1}s",
                            self.start.elapsed().as_secs_f64()
                        ));
                    }
                }
                self.idle(agent, duration);
                agent.sample();
                *lock(&self.refusals_expected) += agent.totals().get(REFUSED) - before;
                agent.config.broken = Broken::No;
                agent.reload();
            }
            FaultKind::DiskFull => {
                let Some(tmpfs) = tmpfs else {
                    return self.skip(kind, "no tmpfs");
                };
                // Half of them rebuild the file source while the disk is
                // full (its include changed): the engine it replaces cannot
                // save its last checkpoints, and the one after must go on
                // from them all the same.
                let reload = pick % 2 == 0;
                self.done(
                    kind,
                    &format!(
                        "for {} ms{}",
                        duration.as_millis(),
                        if reload {
                            ", the file source rebuilt meanwhile"
                        } else {
                            ""
                        }
                    ),
                );
                let ballast = tmpfs.fill();
                if reload {
                    self.idle(agent, duration / 3);
                    agent.config.include_variant += 1;
                    agent.reload();
                    self.idle(agent, duration - duration / 3);
                } else {
                    self.idle(agent, duration);
                }
                std::fs::remove_file(ballast).expect("remove the ballast");
            }
            _ => self.skip(kind, "not an agent fault"),
        }
    }

    /// Wait until every line that must arrive did, or `timeout`.
    fn drain(&self, agent: &mut AgentProc, timeout: Duration) {
        let end = Instant::now() + timeout;
        let extra = agent.config.include_extra;
        loop {
            self.collect();
            self.watch(agent);
            let outstanding = {
                let state = self.state();
                state.oracle.outstanding(&state.world, extra)
            };
            if outstanding == 0 {
                break;
            }
            if Instant::now() >= end {
                self.log(&format!(
                    "drain timed out with {outstanding} lines outstanding"
                ));
                break;
            }
            // A receiver poll.
            std::thread::sleep(Duration::from_millis(250));
        }
        // Copies of the last requests (retries whose first answer was
        // lost) would arrive within this.
        std::thread::sleep(Duration::from_secs(1));
        self.collect();
        self.watch(agent);
        let state = self.state();
        self.log(&format!("drained: {} lines written", state.world.lines()));
    }
}

// === impl StopGuard ===

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.stop_faults.store(true, Ordering::SeqCst);
        self.0.stop_writing.store(true, Ordering::SeqCst);
    }
}
