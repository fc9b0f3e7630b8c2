//! The cost of one host_metrics collection cycle on this machine: wall
//! time, CPU time and heap allocations, over the real `/proc`, `/sys` and
//! mounted filesystems. Run with `cargo bench -p neurallog-agent --bench
//! host_metrics`; `CYCLES` sets the number of cycles (default 2000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use neurallog_agent::event::{Resource, now_unix_nanos};
use neurallog_agent::sources::host_metrics::{Collector, HostMetricsConfig};
use rustix::time::{ClockId, clock_gettime};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn main() {
    let cycles: u32 = std::env::var("CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let config = HostMetricsConfig::default();
    let mut collector =
        Collector::new(&config, Arc::new(Resource::default())).expect("default filters compile");
    // Warm up: the first cycle sizes buffers and has no CPU delta yet.
    for _ in 0..3 {
        let _ = collector.collect_blocking(now_unix_nanos());
    }

    let mut walls = Vec::with_capacity(cycles as usize);
    let mut points = 0;
    let mut errors = 0;
    let region = Region::new(GLOBAL);
    let cpu_start = thread_cpu();
    let wall_start = Instant::now();
    for _ in 0..cycles {
        let started = Instant::now();
        let cycle = collector.collect_blocking(now_unix_nanos());
        walls.push(started.elapsed());
        points = cycle.points.metrics.len();
        errors = cycle.errors.len();
        drop(cycle);
    }
    let wall_total = wall_start.elapsed();
    let cpu_total = thread_cpu() - cpu_start;
    let allocs = region.change();
    walls.sort_unstable();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(cycles);
    println!(
        "host_metrics collection cycle: {cycles} cycles, {points} points per cycle, {errors} failing collectors"
    );
    println!(
        "  wall time per cycle: median {:.1} us, p99 {:.1} us, mean {:.1} us",
        walls[walls.len() / 2].as_secs_f64() * 1e6,
        walls[walls.len() * 99 / 100].as_secs_f64() * 1e6,
        per(wall_total)
    );
    println!(
        "  CPU time per cycle (this thread): {:.1} us",
        per(cpu_total)
    );
    println!(
        "  allocations per cycle: {:.1} ({:.0} bytes), frees {:.1}, reallocations {:.1}",
        allocs.allocations as f64 / f64::from(cycles),
        allocs.bytes_allocated as f64 / f64::from(cycles),
        allocs.deallocations as f64 / f64::from(cycles),
        allocs.reallocations as f64 / f64::from(cycles),
    );
    println!(
        "  at interval_secs: 10 that is {:.4}% of one core",
        per(cpu_total) / 10e6 * 100.0
    );
}
