//! Lines per CPU-second through a `wasm` transform: a file of 200-byte
//! lines, the file source, a test processor as a `type: wasm` transform, a
//! counting sink. In one run: no transform, a processor that returns its
//! batch unchanged, and one that drops half the records by a field
//! (`keep=no`), each by world (`wasm-*`: `tests/plugins/processor`, world
//! `processor`; `columns-*`: `tests/plugins/columns`, world
//! `column-processor`), in the agent's process (`in_process`) and, given an
//! agent binary to start as the worker, in a plugin worker process
//! (`worker`, the default for third-party plugins).
//!
//! ```sh
//! cargo build --release -p neurallog-agent
//! NEURALLOG_AGENT_BIN=target/release/neurallog-agent \
//!   cargo bench -p neurallog-agent --bench transforms_wasm                # 1,000,000 lines per case
//! cargo bench -p neurallog-agent --bench transforms_wasm -- --lines 200000
//! cargo bench -p neurallog-agent --bench transforms_wasm -- --only none,columns-identity
//! ```
//!
//! CPU time is the whole process's (`/proc/self/stat`) and its worker's
//! (`/proc/PID/stat` of each child), from when the processor is loaded
//! (its one-time compile is not counted) until the sink has every record.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use neurallog_agent::checks::PluginRuntime;
use neurallog_agent::config::{
    ComponentKind, Isolation, PluginsConfig, SourceConfig, TransformConfig,
};
use neurallog_agent::event::{AckStatus, EventBatch};
use neurallog_agent::telemetry::events::ComponentMetrics;
use neurallog_agent::topology::{
    ComponentState, Fanout, Globals, SinkInput, SourceContext, StatusRegistry, TransformContext,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[path = "../../tests/plugins/guests.rs"]
mod guests;

const LINE_BYTES: usize = 200;

/// A case: a name, the test guest and its mode (none: no transform), and
/// whether it runs in a worker process.
type Case = (&'static str, Option<(&'static str, &'static str)>, bool);

const CASES: &[Case] = &[
    ("none", None, false),
    ("wasm-identity", Some(("processor", "identity")), false),
    ("wasm-drop-half", Some(("processor", "drop_half")), false),
    ("columns-identity", Some(("columns", "identity")), false),
    ("columns-drop-half", Some(("columns", "drop_half")), false),
    ("worker-identity", Some(("processor", "identity")), true),
    ("worker-drop-half", Some(("processor", "drop_half")), true),
    (
        "worker-columns-identity",
        Some(("columns", "identity")),
        true,
    ),
    (
        "worker-columns-drop-half",
        Some(("columns", "drop_half")),
        true,
    ),
];

/// The agent's allocator, so the figures are the agent's.
#[global_allocator]
static ALLOCATOR: neurallog_agent::Allocator = neurallog_agent::ALLOCATOR;

fn main() {
    neurallog_agent::telemetry::init_logging(&neurallog_agent::config::LogConfig {
        level: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        format: neurallog_agent::config::LogFormat::Text,
    });
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines: u64 = args
        .iter()
        .position(|a| a == "--lines")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // `--only none,columns-identity`: just those cases.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(str::to_owned).collect());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("agent/ has a parent");
    let guests = guests::built_dir(repo);
    let agent = std::env::var_os("NEURALLOG_AGENT_BIN").map(PathBuf::from);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.log");
    write_file(&path, lines);
    for &(name, mode, in_worker) in CASES {
        if only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == name))
        {
            continue;
        }
        let isolation = match (in_worker, &agent) {
            (false, _) => Isolation::InProcess,
            (true, Some(_)) => Isolation::Worker,
            (true, None) => {
                println!(
                    "transforms_wasm/{name}: skipped (set NEURALLOG_AGENT_BIN to an agent binary)"
                );
                continue;
            }
        };
        let data = dir.path().join(format!("data-{name}"));
        let transform = mode.map(|(guest, mode)| {
            format!(
                "type: wasm\npath: \"{}\"\nconfig: {{ mode: {mode} }}\n",
                guests.join(format!("{guest}.wasm")).display()
            )
        });
        let mut config = PluginsConfig::default();
        config.isolation.third_party = isolation;
        let mut plugins = PluginRuntime::new(config, &data, false);
        if let Some(agent) = &agent {
            plugins = plugins.with_worker_executable(agent.clone());
        }
        let (wall, cpu, delivered) = run(
            name,
            &path,
            &data,
            transform.as_deref(),
            lines,
            Arc::new(plugins),
        );
        println!(
            "transforms_wasm/{name}: {lines} lines ({delivered} delivered) in {wall:.2}s wall: {:.0} lines per CPU-second",
            lines as f64 / cpu
        );
    }
}

/// Drain `path` through `transform` (if any); wall seconds, CPU seconds
/// and how many records reached the sink.
fn run(
    name: &str,
    path: &Path,
    data: &Path,
    transform: Option<&str>,
    lines: u64,
    plugins: Arc<PluginRuntime>,
) -> (f64, f64, u64) {
    let source: SourceConfig =
        serde_yaml_ng::from_str(&format!("type: file\ninclude: [\"{}\"]\n", path.display()))
            .expect("source config");
    let transform: Option<TransformConfig> =
        transform.map(|yaml| serde_yaml_ng::from_str(yaml).expect("transform config"));
    // One worker thread per core unless `TOKIO_WORKER_THREADS` says
    // otherwise, as in the agent.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let delivered = Arc::new(AtomicU64::new(0));
    let (wall, cpu) = runtime.block_on(async {
        let status = Arc::new(StatusRegistry::default());
        let mut controls = Vec::new();
        let (tx, mut rx) = mpsc::channel::<EventBatch>(8);
        let mut first = tx;
        let mut task = None;
        if let Some(config) = &transform {
            let (tx, rx) = mpsc::channel::<EventBatch>(8);
            let (out, control) = Fanout::fixed(vec![("sink".into(), first)]);
            controls.push(control);
            let metrics = ComponentMetrics::new("wasm", ComponentKind::Transform, "wasm");
            let handle = status.register(ComponentKind::Transform, "wasm", "wasm", metrics.clone());
            let cx = TransformContext {
                id: "wasm".into(),
                input: SinkInput::from_receiver(rx),
                out,
                outputs: Vec::new(),
                status: handle.clone(),
                metrics,
                plugins: Arc::clone(&plugins),
            };
            task = Some(tokio::spawn(config.build(cx).expect("build transform")));
            // The processor compiles once, before any line: not counted.
            while handle.state() != ComponentState::Running {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            first = tx;
        }
        let cpu_before = cpu_seconds();
        let start = Instant::now();
        let (fanout, control) = Fanout::fixed(vec![("first".into(), first)]);
        controls.push(control);
        // A source name of each case's own: the metrics registry is the
        // process's, and the end is told by the lines this source read.
        let id = format!("bench-{name}");
        let metrics = ComponentMetrics::new(&id, ComponentKind::Source, "file");
        let shutdown = CancellationToken::new();
        let cx = SourceContext {
            id: id.as_str().into(),
            out: fanout,
            shutdown: shutdown.clone(),
            globals: Arc::new(Globals::standalone(data)),
            metrics: metrics.clone(),
            status: status.register(ComponentKind::Source, &id, "file", metrics.clone()),
        };
        let source = tokio::spawn(source.build(cx).expect("build source"));
        let count = Arc::clone(&delivered);
        let sink = tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                count.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.resolve(AckStatus::Delivered);
            }
        });
        // Done when the source has read every line and nothing moves any
        // more.
        let mut last = (0, Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let read = metrics.sent_events();
            let now = read + delivered.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if read >= lines && last.1.elapsed() > Duration::from_millis(50) {
                break;
            } else if last.1.elapsed() > Duration::from_secs(10) {
                eprintln!("stalled at {read} of {lines} lines");
                std::process::exit(1);
            }
        }
        // The quiet 50 ms at the end cost no CPU, but they are wall time.
        let wall = start.elapsed().as_secs_f64() - 0.05;
        let cpu = cpu_seconds() - cpu_before;
        shutdown.cancel();
        let _ = source.await;
        drop(controls);
        if let Some(task) = task {
            let _ = task.await;
        }
        let _ = sink.await;
        (wall, cpu)
    });
    (wall, cpu, delivered.load(Ordering::Relaxed))
}

/// A 200-byte line; every other one has the field `keep=no`.
fn write_file(path: &PathBuf, lines: u64) {
    let mut file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut line = Vec::with_capacity(LINE_BYTES);
    for n in 0..lines {
        line.clear();
        let keep = if n % 2 == 0 { "yes" } else { "no" };
        let _ = write!(
            line,
            "ts=2024-05-01T10:00:{:02}.{:03}Z level=info msg=\"request served\" path=/api/v1/orders/{} status=200 keep={keep} pad=",
            n % 60,
            n % 1000,
            n % 100_000,
        );
        line.resize(LINE_BYTES - 1, b'x');
        line.push(b'\n');
        file.write_all(&line).expect("write");
    }
    file.flush().expect("flush");
}

/// CPU seconds of this process and of its running children (a plugin
/// worker).
fn cpu_seconds() -> f64 {
    let me = std::process::id().to_string();
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| {
            let fields = fields_after_name(&stat);
            // The 4th field is the parent's pid.
            (fields.get(1) == Some(&me.as_str())).then(|| process_seconds(&fields))
        })
        .sum();
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    process_seconds(&fields_after_name(&own)) + children
}

/// The fields of a `/proc/PID/stat` line after the command's name (the
/// 3rd field onwards).
fn fields_after_name(stat: &str) -> Vec<&str> {
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace().collect()
}

/// utime plus stime, the 14th and 15th fields, in seconds.
fn process_seconds(fields: &[&str]) -> f64 {
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks
}
