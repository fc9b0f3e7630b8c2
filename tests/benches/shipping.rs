//! Shipping benchmark: the whole agent process (release build), a `file`
//! source tailing 1M varied 200-byte lines into an `otlp_http` sink that
//! sends to a receiver on 127.0.0.1 (in this process).
//!
//! ```text
//! cargo bench -p neurallog-agent-tests --bench shipping -- [--lines N] [--line-bytes B]
//!     [--only none,gzip,zstd,latency,rate] [--rates 1000,10000,50000] [--seconds S]
//!     [--min-lines-per-cpu-s N | none=N,zstd=N,gzip=N] [--compression none|zstd|gzip]
//!     [--peer fluent-bit=PATH]
//! ```
//!
//! For each compression it prints the agent's CPU time (utime + stime from
//! `/proc/<pid>/stat`), lines per CPU-second, wall time and peak RSS
//! (`VmHWM`). Then, with the sink's defaults, it writes 10k lines/s for
//! 10 s, each stamped with its write time, and prints the line-written →
//! received latency percentiles. The `rate` mode (only when named) writes
//! each of `--rates` lines/s for `--seconds` (default 30) and prints the
//! share of one core the agent used meanwhile, with its idle and loaded
//! RSS. `--compression` sets the sink's for those two (default: the
//! sink's default, gzip). The log file is in a directory of its own. Plain lines; floors are checked by reading them. The only failures
//! are a crash or lines that never arrive, and, with
//! `--min-lines-per-cpu-s`, a drain slower than that (a smoke check in CI,
//! set an order of magnitude under the floors, so noise never trips it).
//!
//! `--peer fluent-bit=PATH` measures a Fluent Bit binary instead, on the
//! same lines, receiver and machine: its `tail` input (from the head of
//! the file, offsets in its SQLite database, as operators run it) into its
//! `opentelemetry` output, with the same compression; everything else at
//! Fluent Bit's defaults. Run it in the same sitting as the agent and
//! compare the ratios.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::TokioIo;
use prost::encoding::{WireType, decode_key, decode_varint};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lines: usize = flag(&args, "--lines").map_or(1_000_000, |v| v.parse().expect("--lines N"));
    let line_bytes: usize =
        flag(&args, "--line-bytes").map_or(200, |v| v.parse().expect("--line-bytes B"));
    assert!(line_bytes >= 2, "--line-bytes is at least 2");
    let only = flag(&args, "--only");
    let rates: Vec<usize> = flag(&args, "--rates").map_or(vec![1_000, 10_000, 50_000], |v| {
        v.split(',')
            .map(|r| r.trim().parse().expect("--rates N,N,..."))
            .collect()
    });
    let seconds: u64 = flag(&args, "--seconds").map_or(30, |v| v.parse().expect("--seconds S"));
    // One floor for all, or one per compression (`none=N,zstd=N,gzip=N`).
    let min_rate = |compression: &str| -> Option<f64> {
        let value = flag(&args, "--min-lines-per-cpu-s")?;
        let parse = |v: &str| v.parse::<f64>().expect("--min-lines-per-cpu-s N");
        if !value.contains('=') {
            return Some(parse(&value));
        }
        value
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == compression)
            .map(|(_, v)| parse(v))
    };
    let sink_compression = flag(&args, "--compression");
    let chosen = |mode: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|m| m == mode))
    };
    let agent = match flag(&args, "--peer") {
        Some(peer) => Subject::peer(&peer),
        None => Subject::Agent(agent_binary()),
    };
    println!("{}", agent.describe());
    println!("lines: {lines} of {line_bytes} bytes");
    let mut failed = false;
    for compression in ["none", "zstd", "gzip"] {
        if chosen(compression) {
            let rate = throughput(&agent, compression, lines, line_bytes);
            if let Some(min) = min_rate(compression)
                && rate < min
            {
                println!(
                    "FAIL: compression={compression} drained {rate:.0} lines per CPU-second, under {min:.0}"
                );
                failed = true;
            }
        }
    }
    if chosen("latency") {
        failed |= !latency(
            &agent,
            10_000,
            Duration::from_secs(10),
            line_bytes,
            sink_compression.as_deref(),
        );
    }
    if only.as_deref().is_some() && chosen("rate") {
        for rate in rates {
            failed |= !steady(
                &agent,
                rate,
                Duration::from_secs(seconds),
                line_bytes,
                sink_compression.as_deref(),
            );
        }
    }
    if failed {
        std::process::exit(1);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The optimized `neurallog-agent`, built if needed, beside this bench.
/// Built with the `bench` profile (which inherits `release`): building it
/// with `--release` would fight `cargo bench` over the shared
/// `target/release` fingerprints and rebuild half the tree on every run.
fn agent_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NEURALLOG_AGENT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("bench exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target dir");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "build",
            "--quiet",
            "--profile",
            "bench",
            "-p",
            "neurallog-agent",
            "--bin",
            "neurallog-agent",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the agent failed");
    target_dir.join("release/neurallog-agent")
}

/// What is measured: the agent, or a peer doing the same work.
enum Subject {
    Agent(PathBuf),
    /// Fluent Bit: `tail` into `opentelemetry`.
    FluentBit(PathBuf),
}

impl Subject {
    /// From `--peer NAME=PATH`.
    fn peer(spec: &str) -> Subject {
        match spec.split_once('=') {
            Some(("fluent-bit", path)) => Subject::FluentBit(PathBuf::from(path)),
            _ => panic!("--peer fluent-bit=PATH, not {spec:?}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Subject::Agent(path) => format!("agent binary: {}", path.display()),
            Subject::FluentBit(path) => {
                let version = Command::new(path)
                    .arg("--version")
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_owned()
                    })
                    .unwrap_or_default();
                format!("peer: {} ({version})", path.display())
            }
        }
    }

    /// Start it on `dir`'s log, shipping to `receiver`; returns once it
    /// answers on its HTTP port.
    fn start(&self, dir: &Path, receiver: SocketAddr, compression: Option<&str>) -> Child {
        match self {
            Subject::Agent(path) => start_agent(path, dir, receiver, compression),
            Subject::FluentBit(path) => start_fluent_bit(path, dir, receiver, compression),
        }
    }
}

/// Start Fluent Bit with the same input and output as the agent's
/// configuration, and return once its HTTP server answers.
fn start_fluent_bit(
    binary: &Path,
    dir: &Path,
    receiver: SocketAddr,
    compression: Option<&str>,
) -> Child {
    let http = free_port();
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let compress = match compression {
        Some("none") | None => String::new(),
        Some(codec) => format!("    compress       {codec}\n"),
    };
    let config = format!(
        "[SERVICE]
    log_level      warn
    http_server    on
    http_listen    127.0.0.1
    http_port      {http}

[INPUT]
    name           tail
    path           {dir}/logs/bench.log
    read_from_head on
    db             {dir}/data/tail.db

[OUTPUT]
    name           opentelemetry
    match          *
    host           {host}
    port           {port}
    logs_uri       /v1/logs
{compress}",
        dir = dir.display(),
        host = receiver.ip(),
        port = receiver.port(),
    );
    let path = dir.join("fluent-bit.conf");
    std::fs::write(&path, config).expect("write config");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("peer.log")).expect("log file"))
        .spawn()
        .expect("start fluent-bit");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(http, "/") {
        assert!(
            Instant::now() < deadline,
            "fluent-bit does not answer after 30 s; see {}",
            dir.join("peer.log").display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A xorshift generator: varied, reproducible content.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: &[&str] = &[
    "request",
    "served",
    "user",
    "order",
    "payment",
    "cache",
    "miss",
    "hit",
    "timeout",
    "retry",
    "upstream",
    "connection",
    "accepted",
    "closed",
    "queue",
    "worker",
    "token",
    "session",
    "checkout",
    "inventory",
    "shipping",
    "invoice",
    "refund",
    "login",
    "logout",
    "search",
];

/// One log line of exactly `line_bytes` bytes (without the newline).
fn line(rng: &mut Rng, i: usize, prefix: &str, line_bytes: usize, out: &mut String) {
    let start = out.len();
    let level = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"][(rng.next() % 6) as usize];
    out.push_str(&format!(
        "{prefix}2026-11-27T00:{:02}:{:02}.{:06}Z {level} svc-{:02} req={:016x} user=u{} status={} dur_ms={}.{} seq={i} msg=\"",
        (i / 60_000) % 60,
        (i / 1000) % 60,
        rng.next() % 1_000_000,
        rng.next() % 32,
        rng.next(),
        rng.next() % 100_000,
        [200, 200, 201, 204, 301, 404, 500][(rng.next() % 7) as usize],
        rng.next() % 2000,
        rng.next() % 10,
    ));
    while out.len() - start < line_bytes {
        out.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out.truncate(start + line_bytes - 1);
    out.push('"');
}

/// What the receiver counts.
#[derive(Default)]
struct Counts {
    records: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    /// Latencies in microseconds, when lines carry `ts=<nanos>`.
    latencies: Mutex<Vec<u64>>,
    stamped: bool,
}

/// Start the receiver; returns its address and counters.
fn receiver(runtime: &tokio::runtime::Runtime, stamped: bool) -> (SocketAddr, Arc<Counts>) {
    let counts = Arc::new(Counts {
        stamped,
        ..Counts::default()
    });
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let shared = Arc::clone(&counts);
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counts = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let counts = Arc::clone(&counts);
                    async move { Ok::<_, hyper::Error>(handle(request, &counts).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, counts)
}

async fn handle(request: Request<Incoming>, counts: &Counts) -> Response<Full<Bytes>> {
    let encoding = request
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let raw = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = match encoding.as_deref() {
        Some("gzip") => {
            let mut out = Vec::new();
            let _ =
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out);
            out
        }
        Some("zstd") => zstd::stream::decode_all(&raw[..]).unwrap_or_default(),
        _ => raw.to_vec(),
    };
    let now = now_nanos();
    let mut latencies = Vec::new();
    let n = walk_records(&body, &mut |record| {
        if counts.stamped
            && let Some(ts) = stamp(record)
        {
            latencies.push(now.saturating_sub(ts) / 1000);
        }
    });
    counts.records.fetch_add(n, Ordering::Relaxed);
    counts.bytes.fetch_add(raw.len() as u64, Ordering::Relaxed);
    counts.requests.fetch_add(1, Ordering::Relaxed);
    if std::env::var_os("BENCH_TRACE").is_some() && !latencies.is_empty() {
        let (min, max) = (latencies.iter().min(), latencies.iter().max());
        eprintln!(
            "trace t={} n={n} lat_us min={min:?} max={max:?}",
            now / 1_000_000 % 100_000
        );
    }
    if !latencies.is_empty() {
        counts
            .latencies
            .lock()
            .expect("latencies")
            .extend(latencies);
    }
    Response::new(Full::new(Bytes::new()))
}

/// Call `f` with each `LogRecord`'s bytes of an `ExportLogsServiceRequest`;
/// returns how many there were. Walks the wire format without building
/// messages, to keep the receiver's share of the machine small.
fn walk_records(mut buf: &[u8], f: &mut impl FnMut(&[u8])) -> u64 {
    let mut n = 0;
    while let Some((tag, field)) = next_field(&mut buf) {
        if tag != 1 {
            continue;
        }
        let mut resource_logs = field;
        while let Some((tag, field)) = next_field(&mut resource_logs) {
            if tag != 2 {
                continue;
            }
            let mut scope_logs = field;
            while let Some((tag, record)) = next_field(&mut scope_logs) {
                if tag == 2 {
                    n += 1;
                    f(record);
                }
            }
        }
    }
    n
}

/// The next length-delimited field (others skipped): its tag and bytes.
fn next_field<'a>(buf: &mut &'a [u8]) -> Option<(u32, &'a [u8])> {
    loop {
        if buf.is_empty() {
            return None;
        }
        let (tag, wire) = decode_key(buf).ok()?;
        match wire {
            WireType::LengthDelimited => {
                let len = decode_varint(buf).ok()? as usize;
                let (field, rest) = buf.split_at(len.min(buf.len()));
                *buf = rest;
                return Some((tag, field));
            }
            WireType::Varint => {
                decode_varint(buf).ok()?;
            }
            WireType::SixtyFourBit => *buf = buf.get(8..)?,
            WireType::ThirtyTwoBit => *buf = buf.get(4..)?,
            _ => return None,
        }
    }
}

/// The `ts=<nanos>` a latency line starts its body with.
fn stamp(record: &[u8]) -> Option<u64> {
    let at = record.windows(3).position(|w| w == b"ts=")?;
    let digits: Vec<u8> = record[at + 3..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The log file, in a directory of its own under `dir`, as on a real host:
/// beside the configuration file, every append would also wake the
/// agent's configuration watcher (it watches the file's directory).
fn log_path(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("create the log directory");
    logs.join("bench.log")
}

/// Start the agent and return once its `/readyz` answers 200.
fn start_agent(agent: &Path, dir: &Path, receiver: SocketAddr, compression: Option<&str>) -> Child {
    let admin = free_port();
    let mut compression = compression
        .map(|c| format!("    compression: {c}\n"))
        .unwrap_or_default();
    // Extra sink settings, for experiments (YAML lines indented by 4).
    if let Ok(extra) = std::env::var("BENCH_SINK_EXTRA") {
        compression.push_str(&extra.replace("\\n", "\n"));
        compression.push('\n');
    }
    let config = format!(
        "data_dir: {dir}/data
admin:
  address: 127.0.0.1:{admin}
log:
  level: warn
sources:
  app:
    type: file
    include: ['{dir}/logs/bench.log']
sinks:
  ingest:
    type: otlp_http
    inputs: [app]
    endpoint: http://{receiver}
{compression}",
        dir = dir.display(),
    );
    let path = dir.join("agent.yaml");
    std::fs::write(&path, config).expect("write config");
    let child = Command::new(agent)
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log")).expect("log file"))
        .spawn()
        .expect("start the agent");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(admin, "/readyz") {
        assert!(
            Instant::now() < deadline,
            "the agent is not ready after 30 s; see {}",
            dir.join("agent.log").display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Whether the HTTP server on `port` answers `path` with 200.
fn answers(port: u16, path: &str) -> bool {
    use std::io::Read as _;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// CPU seconds (user + system) of `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Peak resident set, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Current resident set, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Drain `lines` lines written beforehand; returns lines per CPU-second.
fn throughput(agent: &Subject, compression: &str, lines: usize, line_bytes: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(log_path(dir.path())).expect("log"));
    let mut text = String::with_capacity(line_bytes + 1);
    for i in 0..lines {
        text.clear();
        line(&mut rng, i, "", line_bytes, &mut text);
        text.push('\n');
        file.write_all(text.as_bytes()).expect("write");
    }
    file.flush().expect("flush");
    drop(file);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, counts) = receiver(&runtime, false);
    let started = Instant::now();
    let mut child = agent.start(dir.path(), addr, Some(compression));
    let pid = child.id();
    let deadline = started + Duration::from_secs(300);
    while counts.records.load(Ordering::Relaxed) < lines as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    let cpu = cpu_seconds(pid);
    let rss = peak_rss_mib(pid);
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let received = counts.records.load(Ordering::Relaxed);
    let rate = received as f64 / cpu.max(1e-9);
    println!(
        "compression={compression:<5} line_bytes={line_bytes} lines={received} cpu_s={cpu:.3} lines_per_cpu_s={rate:.0} wall_s={:.3} peak_rss_mib={rss:.1} requests={} sent_mib={:.1}",
        wall.as_secs_f64(),
        counts.requests.load(Ordering::Relaxed),
        counts.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0),
    );
    if let Some(status) = exited {
        println!("compression={compression:<5} FAIL: the agent exited ({status})");
        return 0.0;
    }
    if received < lines as u64 {
        println!("compression={compression:<5} INCOMPLETE: {received} of {lines} lines arrived");
        return 0.0;
    }
    rate
}

/// Write `rate` lines/s to `log` in 100 writes a second until `until`,
/// each line starting with `prefix(now)`; returns how many were written.
fn write_at_rate(
    log: &Path,
    rate: usize,
    duration: Duration,
    line_bytes: usize,
    prefix: &dyn Fn() -> String,
) -> u64 {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    let mut rng = Rng(42);
    let per_tick = rate / 100;
    let ticks = duration.as_millis() as usize / 10;
    let start = Instant::now();
    let mut text = String::new();
    for tick in 0..ticks {
        let at = start + Duration::from_millis(tick as u64 * 10);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        text.clear();
        let stamp = prefix();
        for i in 0..per_tick {
            line(&mut rng, tick * per_tick + i, &stamp, line_bytes, &mut text);
            text.push('\n');
        }
        file.write_all(text.as_bytes()).expect("write");
    }
    (ticks * per_tick) as u64
}

/// The agent's share of one core while `rate` lines/s are written for
/// `duration` (the first 2 s not counted), and its RSS idle and loaded.
/// Returns false when the agent died or lines did not arrive.
fn steady(
    agent: &Subject,
    rate: usize,
    duration: Duration,
    line_bytes: usize,
    compression: Option<&str>,
) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = log_path(dir.path());
    std::fs::write(&log, "").expect("create log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, counts) = receiver(&runtime, false);
    let mut child = agent.start(dir.path(), addr, compression);
    let pid = child.id();
    // Idle RSS is taken once start-up has settled (first scan, admin
    // server, connection pool), before any line is written.
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_mib(pid);
    let warm_up = Duration::from_secs(2);
    let writer = {
        let log = log.clone();
        let total = duration + warm_up;
        std::thread::spawn(move || write_at_rate(&log, rate, total, line_bytes, &String::new))
    };
    std::thread::sleep(warm_up);
    let (cpu_before, at_before) = (cpu_seconds(pid), Instant::now());
    let written = writer.join().expect("writer");
    let (cpu_after, at_after) = (cpu_seconds(pid), Instant::now());
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts.records.load(Ordering::Relaxed) < written && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let loaded_rss = rss_mib(pid);
    let peak = peak_rss_mib(pid);
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let received = counts.records.load(Ordering::Relaxed);
    let cpu = cpu_after - cpu_before;
    let wall = (at_after - at_before).as_secs_f64();
    println!(
        "rate={rate}/s compression={} line_bytes={line_bytes} seconds={wall:.1} cpu_s={cpu:.3} core_percent={:.2} idle_rss_mib={idle_rss:.1} loaded_rss_mib={loaded_rss:.1} peak_rss_mib={peak:.1} requests={} lines={written} received={received}",
        compression.unwrap_or("default"),
        100.0 * cpu / wall.max(1e-9),
        counts.requests.load(Ordering::Relaxed),
    );
    if let Some(status) = exited {
        println!("rate={rate}/s FAIL: the agent exited ({status})");
        return false;
    }
    if received < written {
        println!("rate={rate}/s INCOMPLETE: {received} of {written} lines arrived");
        return false;
    }
    true
}

/// Returns false when the agent died or lines did not arrive.
fn latency(
    agent: &Subject,
    rate: usize,
    duration: Duration,
    line_bytes: usize,
    compression: Option<&str>,
) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = log_path(dir.path());
    std::fs::write(&log, "").expect("create log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, counts) = receiver(&runtime, true);
    let mut child = agent.start(dir.path(), addr, compression);

    // 100 writes a second of rate/100 lines each, stamped when written.
    let total = write_at_rate(&log, rate, duration, line_bytes, &|| {
        format!("ts={} ", now_nanos())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts.records.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let exited = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let mut latencies = counts.latencies.lock().expect("latencies").clone();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i] as f64 / 1000.0
    };
    println!(
        "latency rate={rate}/s lines={} received={} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} (default batching, compression {})",
        total,
        latencies.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        compression.unwrap_or("default (gzip)"),
    );
    if let Some(status) = exited {
        println!("latency FAIL: the agent exited ({status})");
        return false;
    }
    if (latencies.len() as u64) < total {
        println!(
            "latency INCOMPLETE: {} of {total} lines arrived",
            latencies.len()
        );
        return false;
    }
    true
}
