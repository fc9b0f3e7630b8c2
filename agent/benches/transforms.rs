//! Lines per CPU-second through transforms: a file of 200-byte lines, the
//! file source, a chain of transforms, a counting sink; the same lines with
//! and without each transform, in one run, so the figures compare.
//!
//! ```sh
//! cargo bench -p neurallog-agent --bench transforms                  # 1,000,000 lines per case
//! cargo bench -p neurallog-agent --bench transforms -- --lines 200000
//! cargo bench -p neurallog-agent --bench transforms -- json          # the cases whose name has `json`
//! ```
//!
//! CPU time is the whole process's (`/proc/self/stat`): the source's
//! thread, the runtime, every transform task and the sink. The runtime has
//! one worker thread per core, as the agent's, unless `TOKIO_WORKER_THREADS`
//! sets another number (as it does for the agent):
//!
//! ```sh
//! TOKIO_WORKER_THREADS=1 cargo bench -p neurallog-agent --bench transforms -- access/
//! ```

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use neurallog_agent::checks::PluginRuntime;
use neurallog_agent::config::{ComponentKind, SourceConfig, TransformConfig};
use neurallog_agent::event::{AckStatus, EventBatch};
use neurallog_agent::telemetry::events::ComponentMetrics;
use neurallog_agent::topology::{
    Fanout, Globals, SinkInput, SourceContext, StatusRegistry, TransformContext,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LINE_BYTES: usize = 200;

/// Each case: a name, the lines it reads, and its transforms (YAML).
const CASES: &[(&str, Lines, &[&str])] = &[
    ("access/none", Lines::Access, &[]),
    (
        "access/filter",
        Lines::Access,
        &["type: filter\ndrop: { field: body, regex: 'GET /healthz' }"],
    ),
    (
        "access/parse",
        Lines::Access,
        &["type: parse\nformat: apache_combined"],
    ),
    (
        "access/parse+filter",
        Lines::Access,
        &[
            "type: parse\nformat: apache_combined",
            "type: filter\ndrop: { field: attributes.url.path, equals: /healthz }",
        ],
    ),
    ("access/redact", Lines::Access, &["type: redact"]),
    (
        "access/parse+filter+redact",
        Lines::Access,
        &[
            "type: parse\nformat: apache_combined",
            "type: filter\ndrop: { field: attributes.url.path, equals: /healthz }",
            "type: redact",
        ],
    ),
    (
        "access/parse+log_to_metric",
        Lines::Access,
        &[
            "type: parse\nformat: apache_combined",
            "type: log_to_metric\nmetrics:\n  - type: counter\n    name: http_requests_total\n    labels:\n      status: attributes.http.response.status_code\n      method: attributes.http.request.method",
        ],
    ),
    ("json/none", Lines::Json, &[]),
    ("json/parse", Lines::Json, &["type: parse\nformat: json"]),
    (
        "json/parse+filter",
        Lines::Json,
        &[
            "type: parse\nformat: json",
            "type: filter\ndrop: { field: attributes.path, equals: /healthz }",
        ],
    ),
    (
        "json/parse+filter+redact",
        Lines::Json,
        &[
            "type: parse\nformat: json",
            "type: filter\ndrop: { field: attributes.path, equals: /healthz }",
            "type: redact",
        ],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Lines {
    Access,
    Json,
}

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
    let only = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with('-') && (*i == 0 || args[i - 1] != "--lines"))
        .map(|(_, a)| a.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    for kind in [Lines::Access, Lines::Json] {
        let path = dir.path().join(format!("{kind:?}.log"));
        write_file(&path, lines, kind);
    }
    for (name, kind, transforms) in CASES {
        if only.as_deref().is_some_and(|only| !name.contains(only)) {
            continue;
        }
        let path = dir.path().join(format!("{kind:?}.log"));
        let data = dir.path().join(format!("data-{}", name.replace('/', "-")));
        let (wall, cpu, delivered) = run(&path, &data, transforms, lines);
        println!(
            "transforms/{name}: {lines} lines ({delivered} delivered) in {wall:.2}s wall: {:.0} lines per CPU-second",
            lines as f64 / cpu
        );
    }
}

/// Drain `path` through `transforms`; wall seconds, CPU seconds and how
/// many records reached the sink.
fn run(path: &Path, data: &Path, transforms: &[&str], lines: u64) -> (f64, f64, u64) {
    let source: SourceConfig =
        serde_yaml_ng::from_str(&format!("type: file\ninclude: [\"{}\"]\n", path.display()))
            .expect("source config");
    let transforms: Vec<TransformConfig> = transforms
        .iter()
        .map(|yaml| serde_yaml_ng::from_str(yaml).expect("transform config"))
        .collect();
    // One worker thread per core unless `TOKIO_WORKER_THREADS` says
    // otherwise, as in the agent.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let delivered = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    runtime.block_on(async {
        let status = Arc::new(StatusRegistry::default());
        let mut controls = Vec::new();
        // The sink at the end of the chain, then each transform feeding
        // the one after it.
        let (tx, mut rx) = mpsc::channel::<EventBatch>(8);
        let mut next = tx;
        let mut tasks = Vec::new();
        for (i, config) in transforms.iter().enumerate().rev() {
            let (tx, rx) = mpsc::channel::<EventBatch>(8);
            let (out, control) = Fanout::fixed(vec![("next".into(), next)]);
            controls.push(control);
            let id = format!("t{i}");
            let metrics = ComponentMetrics::new(&id, ComponentKind::Transform, config.type_name());
            let cx = TransformContext {
                id: id.as_str().into(),
                input: SinkInput::from_receiver(rx),
                out,
                outputs: Vec::new(),
                status: status.register(
                    ComponentKind::Transform,
                    &id,
                    config.type_name(),
                    metrics.clone(),
                ),
                metrics,
                plugins: Arc::new(PluginRuntime::new(Default::default(), data, false)),
            };
            tasks.push(tokio::spawn(config.build(cx).expect("build transform")));
            next = tx;
        }
        let (fanout, control) = Fanout::fixed(vec![("first".into(), next)]);
        controls.push(control);
        let metrics = ComponentMetrics::new("bench", ComponentKind::Source, "file");
        // The registry is the process's: the counter goes on from the cases
        // before. Without this, every case after the first counted as read
        // at once, and a 50 ms stall (a loaded machine) ended it early.
        let read_before = metrics.sent_events();
        let shutdown = CancellationToken::new();
        let cx = SourceContext {
            id: "bench".into(),
            out: fanout,
            shutdown: shutdown.clone(),
            globals: Arc::new(Globals::standalone(data)),
            metrics: metrics.clone(),
            status: status.register(ComponentKind::Source, "bench", "file", metrics.clone()),
        };
        let source = tokio::spawn(source.build(cx).expect("build source"));
        let count = Arc::clone(&delivered);
        let sink = tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                count.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.resolve(AckStatus::Delivered);
            }
        });
        // Done when the source has read every line (a filter delivers
        // fewer) and nothing moves any more.
        let mut last = (0, Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let read = metrics.sent_events() - read_before;
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
        shutdown.cancel();
        let _ = source.await;
        drop(controls);
        for task in tasks {
            let _ = task.await;
        }
        let _ = sink.await;
    });
    // The quiet 50 ms at the end cost no CPU, but they are wall time.
    let wall = start.elapsed().as_secs_f64() - 0.05;
    let cpu = cpu_seconds() - cpu_before;
    (wall, cpu, delivered.load(Ordering::Relaxed))
}

/// A 200-byte line of `kind`; one in ten asks for `/healthz`.
fn line(kind: Lines, n: u64, out: &mut Vec<u8>) {
    let start = out.len();
    let path = if n.is_multiple_of(10) {
        "/healthz".to_owned()
    } else {
        format!("/api/v1/orders/{}", n % 100_000)
    };
    let status = [200, 200, 200, 201, 304, 404, 500][(n % 7) as usize];
    match kind {
        Lines::Access => {
            let _ = write!(
                out,
                "10.{}.{}.{} - - [17/May/2015:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) ",
                n % 256,
                (n / 256) % 256,
                n % 200,
                (n / 60) % 60,
                n % 60,
                1000 + n % 50_000,
            );
            out.resize(start + LINE_BYTES - 2, b'x');
            out.extend_from_slice(b"\"\n");
        }
        Lines::Json => {
            let _ = write!(
                out,
                "{{\"ts\":\"2024-05-01T10:00:{:02}.{:03}Z\",\"level\":\"info\",\"msg\":\"request served\",\"path\":\"{path}\",\"status\":{status},\"latency_ms\":{},\"pad\":\"",
                n % 60,
                n % 1000,
                n % 500,
            );
            out.resize(start + LINE_BYTES - 3, b'x');
            out.extend_from_slice(b"\"}\n");
        }
    }
}

fn write_file(path: &Path, lines: u64, kind: Lines) {
    let mut file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut buf = Vec::with_capacity(1 << 20);
    for n in 0..lines {
        line(kind, n, &mut buf);
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
    // utime and stime are the 14th and 15th fields of the line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks
}
