//! Plugin host benchmark: cold load (compile) against cached load, the
//! per-run overhead of a trivial check (fresh store, instantiate, call),
//! and memory per loaded plugin; then the same cached load and trivial run
//! through a plugin worker process (the agent's binary, confined as it is
//! in the agent), from the same sitting. Prints plain lines; exits non-zero
//! when a floor is missed (in process: cached load under 10 ms, trivial run
//! under 1 ms; through a worker: cached load, which starts the process,
//! under 20 ms, trivial run under 1 ms).
//!
//! ```text
//! cargo bench -p neurallog-agent --bench wasm
//! ```
//!
//! With `NEURALLOG_BENCH_SMOKE=1` (CI) it runs a tenth of the rounds
//! against ten times the floors: it catches a crash or a figure off by an
//! order of magnitude, not noise.
//!
//! The guest is `tests/plugins/ok`, built like the sandbox tests build it
//! (`$NEURALLOG_TEST_PLUGINS_DIR` to use prebuilt files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use neurallog_agent::wasm::worker::{WorkerOptions, WorkerPlugin};
use neurallog_agent::wasm::{CacheStatus, Grants, HostSettings, Limits, PluginHost, PluginSource};

const COLD_LOAD_ROUNDS: usize = 10;
const CACHED_LOAD_ROUNDS: usize = 100;
const RUN_ROUNDS: usize = 2000;
const RESIDENT_PLUGINS: usize = 50;
const CACHED_LOAD_FLOOR: Duration = Duration::from_millis(10);
const TRIVIAL_RUN_FLOOR: Duration = Duration::from_millis(1);
const WORKER_LOAD_ROUNDS: usize = 30;
const WORKER_CACHED_LOAD_FLOOR: Duration = Duration::from_millis(20);
const WORKER_RUN_FLOOR: Duration = Duration::from_millis(1);

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench())
}

async fn bench() -> ExitCode {
    // CI's smoke run: a tenth of the rounds, ten times the floors.
    let smoke = std::env::var_os("NEURALLOG_BENCH_SMOKE").is_some();
    let (scale, slack) = if smoke { (10, 10) } else { (1, 1) };
    let wasm = guest("ok");
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    println!("guest: {} ({size} bytes)", wasm.display());
    let scratch = tempfile::tempdir().expect("temp dir");
    let source = || PluginSource::File {
        path: wasm.clone(),
        sha256: None,
    };

    // Cold: no cache, every load compiles.
    let cold_host = host(scratch.path(), None, 8);
    let mut cold = Vec::new();
    for _ in 0..COLD_LOAD_ROUNDS / scale {
        let started = Instant::now();
        let plugin = cold_host
            .load("ok", source(), Limits::default(), Grants::default())
            .await
            .expect("load");
        cold.push(started.elapsed());
        assert_eq!(plugin.info().cache, CacheStatus::Disabled);
    }
    print_stats("load, compiled (cold)", &mut cold);

    // Cached: the first load fills the cache, the rest hit it.
    let cache_dir = scratch.path().join("cache");
    let warm_host = host(scratch.path(), Some(cache_dir.clone()), 8);
    warm_host
        .load("ok", source(), Limits::default(), Grants::default())
        .await
        .expect("load");
    let mut cached = Vec::new();
    for _ in 0..CACHED_LOAD_ROUNDS / scale {
        let started = Instant::now();
        let plugin = warm_host
            .load("ok", source(), Limits::default(), Grants::default())
            .await
            .expect("load");
        cached.push(started.elapsed());
        assert_eq!(plugin.info().cache, CacheStatus::Hit);
    }
    let cached_median = print_stats("load, from cache", &mut cached);
    let artifact: u64 = std::fs::read_dir(&cache_dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!("compiled artifact on disk: {artifact} bytes");

    // Per-run overhead of a trivial check.
    let plugin = warm_host
        .load("ok", source(), Limits::default(), Grants::default())
        .await
        .expect("load");
    for _ in 0..100 {
        plugin.run("{}").await;
    }
    let mut runs = Vec::with_capacity(RUN_ROUNDS / scale);
    for _ in 0..RUN_ROUNDS / scale {
        let started = Instant::now();
        let report = plugin.run("{}").await;
        runs.push(started.elapsed());
        assert_eq!(report.outcome.label(), "ok");
    }
    let run_median = print_stats("run, trivial check", &mut runs);

    // Memory per loaded plugin: resident set growth over many loads.
    let mem_host = host(scratch.path(), Some(cache_dir), 8);
    let before = resident_bytes();
    let resident_plugins = RESIDENT_PLUGINS / scale;
    let mut resident = Vec::with_capacity(resident_plugins);
    for i in 0..resident_plugins {
        let name = format!("ok-{i}");
        resident.push(
            mem_host
                .load(&name, source(), Limits::default(), Grants::default())
                .await
                .expect("load"),
        );
    }
    let after = resident_bytes();
    let per_plugin = after.saturating_sub(before) / resident_plugins as u64;
    println!(
        "memory per loaded plugin: {per_plugin} bytes resident ({resident_plugins} loaded, {} -> {} bytes)",
        before, after
    );
    drop(resident);

    // Through a worker process: a cached load starts the process, loads
    // from the cache and confines it; a run is a socket round trip more.
    let options = WorkerOptions {
        executable: PathBuf::from(env!("CARGO_BIN_EXE_neurallog-agent")),
        ..WorkerOptions::default()
    };
    let start_worker = || {
        WorkerPlugin::start(
            &warm_host,
            "ok",
            source(),
            Limits::default(),
            Grants::default(),
            options.clone(),
        )
    };
    let mut worker_loads = Vec::with_capacity(WORKER_LOAD_ROUNDS);
    for _ in 0..WORKER_LOAD_ROUNDS {
        let started = Instant::now();
        let worker = start_worker().await.expect("worker load");
        worker_loads.push(started.elapsed());
        assert_eq!(worker.info().cache, CacheStatus::Hit);
    }
    let worker_load_median = print_stats(
        "worker: load, from cache (process start)",
        &mut worker_loads,
    );
    let worker = start_worker().await.expect("worker load");
    let confinement = worker.status().confinement.expect("a confined worker");
    println!(
        "worker: uid={} seccomp={} {}",
        confinement.uid,
        confinement.seccomp,
        confinement.rlimits.join(" ")
    );
    for _ in 0..100 {
        worker.run("{}").await;
    }
    let mut worker_runs = Vec::with_capacity(RUN_ROUNDS);
    for _ in 0..RUN_ROUNDS {
        let started = Instant::now();
        let report = worker.run("{}").await;
        worker_runs.push(started.elapsed());
        assert_eq!(report.outcome.label(), "ok");
    }
    let worker_run_median = print_stats("worker: run, trivial check", &mut worker_runs);
    println!(
        "worker overhead per trivial run (median): {:?}",
        worker_run_median.saturating_sub(run_median)
    );
    drop(worker);

    let mut ok = true;
    ok &= floor("cached load", cached_median, CACHED_LOAD_FLOOR * slack);
    ok &= floor("trivial run", run_median, TRIVIAL_RUN_FLOOR * slack);
    ok &= floor(
        "worker cached load",
        worker_load_median,
        WORKER_CACHED_LOAD_FLOOR * slack,
    );
    ok &= floor(
        "worker trivial run",
        worker_run_median,
        WORKER_RUN_FLOOR * slack,
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn host(scratch: &Path, cache_dir: Option<PathBuf>, slots: u32) -> PluginHost {
    let mut settings = HostSettings::new(scratch.join("state"));
    settings.cache_dir = cache_dir;
    settings.max_concurrent_instances = slots;
    PluginHost::new(settings).expect("plugin host")
}

/// Prints min/median/p99/max of `samples` and returns the median.
fn print_stats(what: &str, samples: &mut [Duration]) -> Duration {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let median = at(0.5);
    println!(
        "{what}: n={} min={:?} median={:?} p99={:?} max={:?}",
        samples.len(),
        samples[0],
        median,
        at(0.99),
        samples[samples.len() - 1]
    );
    median
}

fn floor(what: &str, median: Duration, limit: Duration) -> bool {
    let met = median < limit;
    println!(
        "floor {what} < {limit:?}: {} (median {median:?})",
        if met { "met" } else { "MISSED" }
    );
    met
}

/// Resident set size of this process, from `VmRSS` in `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib * 1024
}

#[path = "../../tests/plugins/guests.rs"]
mod guests;

/// Path of test guest `name`, building `tests/plugins` if needed.
fn guest(name: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("agent/ has a parent");
    guests::built_dir(repo).join(format!("{name}.wasm"))
}
