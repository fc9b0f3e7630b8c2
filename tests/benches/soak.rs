//! The leak soak: the real agent for a long while under a steady load,
//! with its resident set, open descriptors, threads and data directory
//! sampled every 10 s. What grows with time, not with load, is a leak.
//!
//! ```text
//! cargo bench -p neurallog-agent-tests --bench soak -- [--minutes M | --secs S]
//!     [--variant plain|plugins|both] [--rate LINES_PER_SEC] [--files N] [--pods N]
//! ```
//!
//! The load (defaults): 10,000 lines/s over 500 plain files, each renamed
//! away (logrotate's `create`) every 10 s, staggered, its rotated copy
//! deleted 30 s later; and 200 short-lived kubelet-style pod directories
//! over the run (CRI lines, partials included), a few alive at a time,
//! each written to, then retired and its directory removed. A
//! `heartbeat` and a `disk_usage` check run every 5 s. The `plugins`
//! variant adds third-party Wasm checks (`tests/plugins/ok`) every 5 s and
//! reloads the agent (SIGHUP) every minute with their configuration
//! changed and a second plugin added or removed, so every reload compiles
//! and drops components.
//!
//! `both` (the default) runs the two variants at the same time, each with
//! its own agent, files and receiver, so one sitting covers both. Each
//! sample is printed as a line; at the end, per variant, the least-squares
//! slope of each quantity per hour over the last 20 minutes (the last two
//! thirds of a shorter run), and the lines written against those the
//! receiver decoded (distinct per stream and sequence number), lost and
//! duplicated (bodies checked whole). The exit status is 1 when a line
//! was lost or arrived corrupt, or the agent died.

#![allow(missing_docs, reason = "a bench binary")]

// `support/mod.rs` allows its own dead code.
#[path = "../tests/support/mod.rs"]
mod support;

/// The chaos harness's writers: files, pods and their lines.
#[allow(dead_code, reason = "the harness exposes more than this binary uses")]
#[path = "../tests/chaos"]
mod chaos {
    pub mod lines;
    pub mod world;
}

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos::lines;
use chaos::world::World;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use support::agent::Agent;
use support::receiver::Receiver;

/// How often the resources are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How often each plain file is rotated.
const ROTATE_EVERY: Duration = Duration::from_secs(10);
/// How long a rotated file stays before it is deleted.
const KEEP_ROTATED: Duration = Duration::from_secs(30);
/// How long a retired pod's directory stays before kubelet removes it.
const KEEP_RETIRED_POD: Duration = Duration::from_secs(10);
/// How often the `plugins` variant reloads.
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// The longest window the slopes are fitted over.
const SLOPE_WINDOW: Duration = Duration::from_secs(20 * 60);

#[derive(Debug, Clone)]
struct Options {
    duration: Duration,
    rate: f64,
    files: u32,
    pods: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Plugins,
}

/// One reading of the agent's resources.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Seconds since the agent started.
    t: f64,
    rss_kib: f64,
    fds: f64,
    threads: f64,
    data_dir_kib: f64,
}

/// What the receiver decoded: per stream, which sequence numbers arrived.
#[derive(Default)]
struct Delivered {
    /// A bit per sequence number, per stream.
    seen: HashMap<String, Vec<u64>>,
    distinct: u64,
    duplicates: u64,
    /// Writers' lines that arrived cut or merged wrongly, and requests
    /// that do not decode.
    corrupt: u64,
    /// Log records that are not the writers' (the checks' status events).
    other: u64,
}

/// What a variant's run came to.
struct Outcome {
    variant: Variant,
    slopes: Vec<(&'static str, f64)>,
    written: u64,
    distinct: u64,
    duplicates: u64,
    corrupt: u64,
    other: u64,
    died: Option<String>,
    reloads: u32,
    /// Bytes the agent itself counted as given up, with a reason
    /// (`neurallog_agent_file_bytes_lost_total`): lost lines it did not
    /// count are lost silently.
    given_up_bytes: f64,
}

fn main() {
    let mut options = Options {
        duration: Duration::from_secs(30 * 60),
        rate: 10_000.0,
        files: 500,
        pods: 200,
    };
    let mut variants = vec![Variant::Plain, Variant::Plugins];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--minutes" => options.duration = Duration::from_secs(parse::<u64>(&value()) * 60),
            "--secs" => options.duration = Duration::from_secs(parse(&value())),
            "--rate" => options.rate = parse(&value()),
            "--files" => options.files = parse(&value()),
            "--pods" => options.pods = parse(&value()),
            "--variant" => {
                variants = match value().as_str() {
                    "plain" => vec![Variant::Plain],
                    "plugins" => vec![Variant::Plugins],
                    "both" => vec![Variant::Plain, Variant::Plugins],
                    other => usage(other),
                }
            }
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            _ => usage(&arg),
        }
    }
    println!(
        "soak: {:?} per variant at {} lines/s over {} files (rotated every {} s) and {} pods, checks every 5 s; agent {}",
        options.duration,
        options.rate,
        options.files,
        ROTATE_EVERY.as_secs(),
        options.pods,
        support::agent::binary().display()
    );
    let runs: Vec<_> = variants
        .into_iter()
        .map(|variant| {
            let options = options.clone();
            std::thread::spawn(move || run(variant, &options))
        })
        .collect();
    let outcomes: Vec<Outcome> = runs
        .into_iter()
        .map(|r| r.join().expect("a variant's thread panicked"))
        .collect();
    let mut failed = false;
    println!("\nsoak summary");
    for outcome in &outcomes {
        let name = outcome.variant.name();
        let slopes: Vec<String> = outcome
            .slopes
            .iter()
            .map(|(name, slope)| format!("{name}={slope:.1}"))
            .collect();
        println!("{name:<8} {}", slopes.join(" "));
        let lost = outcome.written.saturating_sub(outcome.distinct);
        println!(
            "{name:<8} lines_written={} lines_delivered={} lost={lost} given_up_bytes={} duplicates={} corrupt={} other_records={} reloads={}{}",
            outcome.written,
            outcome.distinct,
            outcome.given_up_bytes,
            outcome.duplicates,
            outcome.corrupt,
            outcome.other,
            outcome.reloads,
            outcome
                .died
                .as_ref()
                .map(|d| format!(" AGENT DIED: {d}"))
                .unwrap_or_default(),
        );
        failed |= lost > 0 || outcome.corrupt > 0 || outcome.died.is_some();
    }
    if failed {
        std::process::exit(1);
    }
}

fn parse<T: std::str::FromStr>(text: &str) -> T {
    text.parse().unwrap_or_else(|_| usage(text))
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "unexpected argument {arg:?}\nusage: soak [--minutes M | --secs S] [--variant plain|plugins|both] [--rate LINES_PER_SEC] [--files N] [--pods N]"
    );
    std::process::exit(2)
}

/// One variant from start to drained.
fn run(variant: Variant, options: &Options) -> Outcome {
    let name = variant.name();
    let root = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start();
    let delivered = Arc::new(Mutex::new(Delivered::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let decoder = {
        let (delivered, stop) = (Arc::clone(&delivered), Arc::clone(&stop));
        let receiver = Arc::new(receiver);
        let handle = Arc::clone(&receiver);
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                decode(&handle, &delivered);
            }
            decode(&handle, &delivered);
        });
        (thread, receiver)
    };

    let mut world = World::new(root.path(), 1, options.files, 0, 0, false);
    std::fs::create_dir_all(root.path().join("pods")).expect("create pods/");
    let plugins = Plugins::install(variant, root.path());
    let mut reloads = 0u32;
    let config = |round: u32| render(root.path(), &decoder.1.endpoint(), plugins.as_ref(), round);
    // `SOAK_RUST_LOG` is the agent's `RUST_LOG` (the bench's own is not).
    let rust_log = std::env::var("SOAK_RUST_LOG").ok();
    let env: Vec<(&str, &str)> = rust_log.iter().map(|l| ("RUST_LOG", l.as_str())).collect();
    let mut agent = Agent::start_in(tempfile::tempdir().expect("temp dir"), &config(0), &env);
    agent.wait_ready();
    let pid = agent.child.as_ref().expect("started").id();
    let data_dir = agent.data_dir();
    println!(
        "{name}: agent pid {pid}, files under {}",
        root.path().display()
    );

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = started;
    let mut next_reload = started + RELOAD_EVERY;
    let mut rotated: VecDeque<(Instant, PathBuf)> = VecDeque::new();
    let mut pods = PodSchedule::new(options);
    let mut died = None;
    let tick = Duration::from_millis(100);
    let mut last = started;
    // Stream `i` rotates first at `ROTATE_EVERY * (1 + i / files)` and
    // every ROTATE_EVERY after: a steady trickle, not a stampede. Not
    // sooner: a file renamed out of the include before the agent has read
    // enough of it to tell it by its content is not followed, by design.
    let mut next_rotation: Vec<Instant> = (0..options.files)
        .map(|i| started + ROTATE_EVERY.mul_f64(1.0 + f64::from(i) / f64::from(options.files)))
        .collect();
    while started.elapsed() < options.duration {
        std::thread::sleep(tick.saturating_sub(last.elapsed()));
        let now = Instant::now();
        world.tick((now - last).as_secs_f64(), options.rate);
        last = now;
        for (i, at) in next_rotation.iter_mut().enumerate() {
            if *at <= now {
                world.rotate_rename(i);
                let files = &world.streams[i].files;
                rotated.push_back((now, files[files.len() - 2].path.clone()));
                *at += ROTATE_EVERY;
            }
        }
        while rotated
            .front()
            .is_some_and(|(at, _)| now - *at >= KEEP_ROTATED)
        {
            if let Some((_, path)) = rotated.pop_front() {
                let _ = std::fs::remove_file(path);
            }
        }
        pods.step(&mut world, now - started);
        if now >= next_sample {
            next_sample += SAMPLE_EVERY;
            match sample(pid, &data_dir, started) {
                Some(s) => {
                    println!(
                        "{name}: t={:.0}s rss_kib={:.0} fds={:.0} threads={:.0} data_dir_kib={:.0} written={} delivered={}",
                        s.t,
                        s.rss_kib,
                        s.fds,
                        s.threads,
                        s.data_dir_kib,
                        world.lines(),
                        lock(&delivered).distinct,
                    );
                    samples.push(s);
                }
                None => {
                    died = Some(
                        agent
                            .stderr()
                            .lines()
                            .rev()
                            .take(5)
                            .collect::<Vec<_>>()
                            .join(" | "),
                    );
                    break;
                }
            }
        }
        if let Some(plugins) = &plugins
            && now >= next_reload
        {
            next_reload += RELOAD_EVERY;
            reloads += 1;
            plugins.prepare(reloads);
            agent.write_config(&config(reloads));
            agent.signal("HUP");
        }
    }
    world.flush();
    pods.finish(&mut world);
    let written = world.lines();
    println!("{name}: writers stopped at {written} lines; draining");
    let deadline = Instant::now() + Duration::from_secs(120);
    while lock(&delivered).distinct < written && Instant::now() < deadline && died.is_none() {
        std::thread::sleep(Duration::from_millis(500));
    }
    if died.is_none()
        && agent
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    {
        died = Some("exited".to_owned());
    }
    let crashes: Vec<String> = agent
        .stderr()
        .lines()
        .filter(|l| l.contains("panicked") || l.contains("ERROR"))
        .take(5)
        .map(str::to_owned)
        .collect();
    for line in &crashes {
        println!("{name}: agent log: {line}");
    }
    let given_up_bytes = agent.metric_sum("neurallog_agent_file_bytes_lost_total", &[]);
    // `SOAK_AGENT_LOG=PREFIX` keeps each agent's log as `PREFIX-<variant>.log`
    // (with `SOAK_RUST_LOG` for detail), for what the summary cannot tell.
    if let Some(prefix) = std::env::var_os("SOAK_AGENT_LOG") {
        let path = format!("{}-{name}.log", prefix.to_string_lossy());
        if let Err(error) = std::fs::write(&path, agent.stderr()) {
            println!("{name}: cannot keep the agent's log in {path}: {error}");
        }
    }
    agent.kill9();
    stop.store(true, Ordering::Relaxed);
    decoder.0.join().expect("the decoder thread panicked");
    let delivered = lock(&delivered);
    for line in delivered.missing(&world).iter().take(10) {
        println!("{name}: missing {line}");
    }
    Outcome {
        variant,
        slopes: slopes(&samples, options.duration),
        written,
        distinct: delivered.distinct,
        duplicates: delivered.duplicates,
        corrupt: delivered.corrupt,
        other: delivered.other,
        died,
        reloads,
        given_up_bytes,
    }
}

/// The agent's configuration; `round` changes the plugins' settings.
fn render(root: &Path, endpoint: &str, plugins: Option<&Plugins>, round: u32) -> String {
    let root = root.display();
    let mut checks = String::new();
    let mut inputs = vec!["files", "pods", "beat", "disks"];
    if let Some(plugins) = plugins {
        checks.push_str(&format!(
            "
  echo:
    type: wasm
    path: {}
    interval_secs: 5
    config: {{round: {round}}}",
            plugins.echo.display()
        ));
        inputs.push("echo");
        // Every other minute a second plugin comes and goes, compiled anew
        // from its own copy of the file.
        if round % 2 == 1 {
            checks.push_str(&format!(
                "
  visitor:
    type: wasm
    path: {}
    interval_secs: 5
    config: {{round: {round}}}",
                plugins.visitor(round).display()
            ));
            inputs.push("visitor");
        }
    }
    format!(
        "
data_dir: {{data_dir}}
log:
  level: warn
sources:
  files:
    type: file
    include: ['{root}/logs/*.log']
  pods:
    type: kubernetes_logs
    pods_dir: {root}/pods
    node_name: soak-node
    kubelet:
      enabled: false
checks:
  beat:
    type: heartbeat
    interval_secs: 5
  disks:
    type: disk_usage
    interval_secs: 5
    config:
      mounts: [{root}]
    grants:
      mounts: [{root}]{checks}
sinks:
  ingest:
    type: otlp_http
    inputs: [{inputs}]
    endpoint: {endpoint}
",
        inputs = inputs.join(", "),
    )
}

/// The third-party plugins of the `plugins` variant: the `ok` test
/// component, and copies of it for the check that comes and goes.
struct Plugins {
    dir: PathBuf,
    echo: PathBuf,
}

// === impl Plugins ===

impl Plugins {
    fn install(variant: Variant, root: &Path) -> Option<Plugins> {
        if variant != Variant::Plugins {
            return None;
        }
        let dir = root.join("plugins");
        std::fs::create_dir_all(&dir).expect("create plugins/");
        let echo = dir.join("echo.wasm");
        std::fs::copy(support::plugins::test_plugin("ok"), &echo).expect("install ok.wasm");
        Some(Plugins { dir, echo })
    }

    fn visitor(&self, round: u32) -> PathBuf {
        self.dir.join(format!("visitor-{round}.wasm"))
    }

    /// Put the files round `round` names in place, and remove the
    /// previous round's.
    fn prepare(&self, round: u32) {
        let _ = std::fs::remove_file(self.visitor(round.wrapping_sub(2)));
        if round % 2 == 1 {
            std::fs::copy(&self.echo, self.visitor(round)).expect("install a visitor plugin");
        }
    }
}

/// Pods come and go: `pods` over the run, each alive for a while, a few
/// at a time.
struct PodSchedule {
    total: u32,
    started: u32,
    every: Duration,
    lifetime: Duration,
    alive: VecDeque<(Duration, usize)>,
    retired: VecDeque<(Duration, usize)>,
}

// === impl PodSchedule ===

impl PodSchedule {
    fn new(options: &Options) -> PodSchedule {
        let every = options.duration / options.pods.max(1);
        PodSchedule {
            total: options.pods,
            started: 0,
            every,
            // About ten alive at any time.
            lifetime: every * 10,
            alive: VecDeque::new(),
            retired: VecDeque::new(),
        }
    }

    fn step(&mut self, world: &mut World, elapsed: Duration) {
        while self.started < self.total && self.every * self.started <= elapsed {
            self.started += 1;
            self.alive.push_back((elapsed, world.add_pod()));
        }
        while let Some(&(born, i)) = self.alive.front() {
            if elapsed - born < self.lifetime {
                break;
            }
            self.alive.pop_front();
            world.retire(i);
            self.retired.push_back((elapsed, i));
        }
        while let Some(&(at, i)) = self.retired.front() {
            if elapsed - at < KEEP_RETIRED_POD {
                break;
            }
            self.retired.pop_front();
            world.delete_pod(i);
        }
    }

    /// Retire the pods still alive (their directories stay).
    fn finish(&mut self, world: &mut World) {
        for (_, i) in self.alive.drain(..) {
            world.retire(i);
        }
    }
}

// === impl Variant ===

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Plugins => "plugins",
        }
    }
}

/// Decode what the receiver accepted since the last call.
fn decode(receiver: &Receiver, delivered: &Mutex<Delivered>) {
    let requests = receiver.take_requests();
    let mut delivered = lock(delivered);
    for request in requests {
        if request.path != "/v1/logs" || !(200..300).contains(&request.status) {
            continue;
        }
        let Ok(logs) = ExportLogsServiceRequest::decode(request.body.as_slice()) else {
            delivered.corrupt += 1;
            continue;
        };
        for record in logs
            .resource_logs
            .into_iter()
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
        {
            match record.body.and_then(|b| b.value) {
                Some(Value::StringValue(body)) => delivered.record(&body),
                _ => delivered.other += 1,
            }
        }
    }
}

// === impl Delivered ===

impl Delivered {
    fn record(&mut self, body: &str) {
        if !body.starts_with("chaos ") {
            self.other += 1;
            return;
        }
        let Some((stream, seq)) = lines::parse(body).filter(|&(s, n)| lines::body(s, n) == body)
        else {
            self.corrupt += 1;
            return;
        };
        let bits = self.seen.entry(stream.to_owned()).or_default();
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) == 0 {
            bits[word] |= 1 << bit;
            self.distinct += 1;
        } else {
            self.duplicates += 1;
        }
    }

    /// The sequence numbers written and not delivered, as
    /// `<stream> <first>..<end> (<path of the file they were in>)`.
    fn missing(&self, world: &World) -> Vec<String> {
        let mut out = Vec::new();
        for stream in &world.streams {
            let bits = self.seen.get(&stream.id);
            let seen = |seq: u64| {
                bits.and_then(|b| b.get((seq / 64) as usize))
                    .is_some_and(|w| w & (1 << (seq % 64)) != 0)
            };
            let mut seq = 0;
            while seq < stream.next {
                if seen(seq) {
                    seq += 1;
                    continue;
                }
                let first = seq;
                while seq < stream.next && !seen(seq) {
                    seq += 1;
                }
                let file = stream
                    .files
                    .iter()
                    .find(|f| f.first <= first && first < f.end)
                    .map_or_else(String::new, |f| f.path.display().to_string());
                out.push(format!("{} {first}..{seq} ({file})", stream.id));
            }
        }
        out
    }
}

/// Read `/proc/<pid>` and the data directory; `None` once the agent is
/// gone.
fn sample(pid: u32, data_dir: &Path, started: Instant) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    if status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains("zombie"))
    {
        return None;
    }
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(Sample {
        t: started.elapsed().as_secs_f64(),
        rss_kib: field("VmRSS:"),
        fds: fds as f64,
        threads: field("Threads:"),
        data_dir_kib: dir_bytes(data_dir) as f64 / 1024.0,
    })
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// The least-squares slope of each quantity, per hour, over the samples
/// of the last 20 minutes (the last two thirds of a shorter run): the
/// start, when buffers and caches fill, is left out.
fn slopes(samples: &[Sample], duration: Duration) -> Vec<(&'static str, f64)> {
    let window = SLOPE_WINDOW.min(duration.mul_f64(2.0 / 3.0)).as_secs_f64();
    let end = samples.last().map_or(0.0, |s| s.t);
    let tail: Vec<&Sample> = samples.iter().filter(|s| s.t >= end - window).collect();
    let per_hour = |value: fn(&Sample) -> f64| fit(tail.iter().map(|s| (s.t, value(s)))) * 3600.0;
    vec![
        ("rss_slope_kib_per_hour", per_hour(|s| s.rss_kib)),
        ("fds_slope_per_hour", per_hour(|s| s.fds)),
        ("threads_slope_per_hour", per_hour(|s| s.threads)),
        ("data_dir_slope_kib_per_hour", per_hour(|s| s.data_dir_kib)),
    ]
}

/// The least-squares slope of `points` (NaN for fewer than two).
fn fit(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let points: Vec<(f64, f64)> = points.collect();
    let n = points.len() as f64;
    let (mean_x, mean_y) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (
            num + (x - mean_x) * (y - mean_y),
            den + (x - mean_x) * (x - mean_x),
        )
    });
    if points.len() < 2 || den == 0.0 {
        f64::NAN
    } else {
        num / den
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
