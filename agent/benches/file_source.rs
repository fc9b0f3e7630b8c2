//! Drain 1 GiB of 200-byte lines from 10 files into a counting sink and
//! print lines/s, lines per CPU-second, CPU-seconds per GiB and peak RSS.
//!
//! The `many` mode (only when named) drains many small files instead —
//! 10,000 files of 100 lines by default, ten times the default
//! `max_open_files` — and also prints the most descriptors the process
//! held (sampled every 20 ms).
//!
//! ```sh
//! cargo bench -p neurallog-agent --bench file_source            # plain and CRI
//! NEURALLOG_BENCH_BYTES=268435456 cargo bench -p neurallog-agent --bench file_source
//! cargo bench -p neurallog-agent --bench file_source many       # 10,000 files
//! NEURALLOG_BENCH_FILES=3000 NEURALLOG_BENCH_LINES_PER_FILE=10 cargo bench -p neurallog-agent --bench file_source many
//! ```
//!
//! The files are written first (into the page cache, as a busy node's
//! logs are) and the clock starts when the source does. CPU time is the
//! whole process's (`/proc/self/stat`), so it counts the source's thread,
//! the runtime and the counting sink.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use neurallog_agent::config::{ComponentKind, SourceConfig};
use neurallog_agent::event::{AckStatus, EventBatch};
use neurallog_agent::telemetry::events::ComponentMetrics;
use neurallog_agent::topology::{Fanout, Globals, SourceContext, StatusRegistry};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const FILES: usize = 10;
const LINE_BYTES: usize = 200;

/// The agent's allocator, so the figures are the agent's.
#[global_allocator]
static ALLOCATOR: neurallog_agent::Allocator = neurallog_agent::ALLOCATOR;

fn main() {
    neurallog_agent::telemetry::init_logging(&neurallog_agent::config::LogConfig {
        level: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        format: neurallog_agent::config::LogFormat::Text,
    });
    let total_bytes: u64 = std::env::var("NEURALLOG_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let chosen: Vec<&str> = ["plain", "cri", "many"]
        .into_iter()
        .filter(|mode| match only.as_deref() {
            Some(only) => mode.contains(only),
            None => *mode != "many",
        })
        .collect();
    if chosen.len() > 1 {
        // Each mode in a process of its own: peak RSS (`VmHWM`) is the
        // process's, and one mode's peak must not show up in the next's.
        let exe = std::env::current_exe().expect("this bench's executable");
        for mode in chosen {
            let status = std::process::Command::new(&exe)
                .arg(mode)
                .status()
                .expect("run one mode");
            assert!(status.success(), "the {mode} run failed: {status}");
        }
        return;
    }
    for mode in chosen {
        let (files, lines_per_file) = match mode {
            "many" => (
                env("NEURALLOG_BENCH_FILES", 10_000) as usize,
                env("NEURALLOG_BENCH_LINES_PER_FILE", 100),
            ),
            _ => (FILES, total_bytes / FILES as u64 / LINE_BYTES as u64),
        };
        run(mode, files, lines_per_file);
    }
}

fn run(mode: &str, files: usize, lines_per_file: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let total_lines = lines_per_file * files as u64;
    let written = Instant::now();
    let yaml = match mode {
        "cri" => write_cri(dir.path(), files, lines_per_file),
        _ => write_plain(dir.path(), files, lines_per_file),
    };
    eprintln!(
        "{mode}: wrote {} MiB in {:.1}s",
        (total_lines * LINE_BYTES as u64) >> 20,
        written.elapsed().as_secs_f64()
    );
    // Extra source settings, for experiments (YAML lines, `\n` for newlines).
    let yaml = match std::env::var("NEURALLOG_BENCH_SOURCE_EXTRA") {
        Ok(extra) => format!("{yaml}{}\n", extra.replace("\\n", "\n")),
        Err(_) => yaml,
    };
    let config: SourceConfig = serde_yaml_ng::from_str(&yaml).expect("bench config");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let counted = Arc::new(AtomicU64::new(0));
    let fds_before = open_descriptors();
    let mut max_fds = fds_before;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel::<EventBatch>(8);
        let (fanout, control) = Fanout::fixed(vec![("count".into(), tx)]);
        let status = Arc::new(StatusRegistry::default());
        let metrics = ComponentMetrics::new("bench", ComponentKind::Source, "bench");
        let shutdown = CancellationToken::new();
        let cx = SourceContext {
            id: "bench".into(),
            out: fanout,
            shutdown: shutdown.clone(),
            globals: Arc::new(Globals::standalone(&dir.path().join("data"))),
            metrics: metrics.clone(),
            status: status.register(ComponentKind::Source, "bench", "bench", metrics),
        };
        let source = tokio::spawn(config.build(cx).expect("build source"));
        let sink_count = Arc::clone(&counted);
        let sink = tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                sink_count.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.resolve(AckStatus::Delivered);
            }
        });
        let mut last_progress = (0, Instant::now());
        let mut last_fd_sample = Instant::now();
        while counted.load(Ordering::Relaxed) < total_lines {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if mode == "many" && last_fd_sample.elapsed() >= Duration::from_millis(20) {
                last_fd_sample = Instant::now();
                max_fds = max_fds.max(open_descriptors());
            }
            let now = counted.load(Ordering::Relaxed);
            if now != last_progress.0 {
                last_progress = (now, Instant::now());
            } else if last_progress.1.elapsed() > Duration::from_secs(10) {
                eprintln!("{mode}: stalled at {now} of {total_lines} lines");
                std::process::exit(1);
            }
        }
        shutdown.cancel();
        let _ = source.await;
        // The control holds the last sender: drop it so the sink sees the end.
        drop(control);
        let _ = sink.await;
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let gib = (total_lines * LINE_BYTES as u64) as f64 / (1u64 << 30) as f64;
    println!(
        "file_source/{mode}: {total_lines} lines in {wall:.2}s wall: {:.0} lines/s, {:.0} lines per CPU-second, {:.2} CPU-seconds per GiB, peak RSS {:.1} MiB",
        total_lines as f64 / wall,
        total_lines as f64 / cpu,
        cpu / gib,
        peak_rss_mib()
    );
    if mode == "many" {
        println!(
            "file_source/{mode}: {files} files of {lines_per_file} lines: at most {} descriptors held by the source (process: {max_fds}, before start: {fds_before})",
            max_fds.saturating_sub(fds_before)
        );
    }
}

/// A 200-byte line, varied so compression and parsing see realistic text.
fn line(file: usize, n: u64, out: &mut Vec<u8>) {
    let start = out.len();
    let words = [
        "GET",
        "POST",
        "/api/v1/orders",
        "/healthz",
        "user=42",
        "status=200",
        "status=503",
        "latency_ms=12",
    ];
    let _ = write!(out, "ts={n:012} file={file} level=info msg=\"request\" ");
    let mut k = n.wrapping_mul(2_654_435_761);
    while out.len() - start < LINE_BYTES - 1 {
        out.extend_from_slice(words[(k % 8) as usize].as_bytes());
        out.push(b' ');
        k = k / 8 + 7;
    }
    out.truncate(start + LINE_BYTES - 1);
    out.push(b'\n');
}

fn write_plain(dir: &Path, files: usize, lines_per_file: u64) -> String {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    for f in 0..files {
        write_file(
            &logs.join(format!("app-{f}.log")),
            lines_per_file,
            |n, out| line(f, n, out),
        );
    }
    format!("type: file\ninclude: [\"{}/*.log\"]\n", logs.display())
}

fn write_cri(dir: &Path, files: usize, lines_per_file: u64) -> String {
    let pods = dir.join("pods");
    for f in 0..files {
        let container = pods.join(format!(
            "bench_web-{f}_0000000{f}-1111-2222-3333-444455556666/app"
        ));
        std::fs::create_dir_all(&container).expect("pod dir");
        // `<time> <stream> F ` is 39 bytes; the message fills the 200.
        write_file(&container.join("0.log"), lines_per_file, |n, out| {
            let _ = write!(
                out,
                "2024-05-01T10:{:02}:{:02}.{:09}Z stdout F ",
                (n / 60) % 60,
                n % 60,
                n % 1_000_000_000
            );
            let before = out.len();
            line(f, n, out);
            out.truncate(before + LINE_BYTES - 40);
            out.push(b'\n');
        });
    }
    // No kubelet runs here: with its metadata on, the source would first
    // wait for a kubelet at `https://bench:10250` to fail (seconds of wall
    // time, no CPU) before the lines flow.
    format!(
        "type: kubernetes_logs\npods_dir: \"{}\"\nnode_name: bench\nkubelet:\n  enabled: false\n",
        pods.display()
    )
}

fn write_file(path: &Path, lines: u64, mut make: impl FnMut(u64, &mut Vec<u8>)) {
    let mut file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut buf = Vec::with_capacity(1 << 20);
    for n in 0..lines {
        make(n, &mut buf);
        if buf.len() > (1 << 20) - 512 {
            file.write_all(&buf).expect("write");
            buf.clear();
        }
    }
    file.write_all(&buf).expect("write");
    file.flush().expect("flush");
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks
}

/// Descriptors the process holds (the bench's own, the runtime's and the
/// source's).
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
