//! The source's task: a collection every `interval_secs`, sent as one
//! batch.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinHandle;

use super::collector::{Collector, Cycle};
use super::config::{CollectorKind, HostMetricsConfig};
use super::error::HostMetricsError;
use super::filesystem::{self, Mount, Usage};
use crate::error::Chain;
use crate::event::{Ack, Event, EventBatch, now_unix_nanos};
use crate::telemetry::events::{CollectorFailed, MetricsCollected};
use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the source.
pub fn build(config: &HostMetricsConfig, cx: SourceContext) -> Result<BoxedComponent, BuildError> {
    let collector = Collector::new(config, Arc::clone(&cx.globals.host))
        .map_err(|error| BuildError::caused("invalid filter", error))?;
    let task = Task {
        collector,
        interval: Duration::from_secs(config.interval_secs),
        stat_timeout: Duration::from_millis(config.filesystem.stat_timeout_ms),
        failing: HashSet::new(),
        report: Arc::default(),
    };
    Ok(Box::pin(task.run(cx)))
}

struct Task {
    collector: Collector,
    interval: Duration,
    stat_timeout: Duration,
    /// Collectors that failed last cycle, to log a persistent failure once.
    failing: HashSet<CollectorKind>,
    report: Arc<Mutex<serde_json::Value>>,
}

/// A `statvfs` run that missed its deadline and has not returned yet (a
/// hung network mount), for the whole process: a source rebuilt by a
/// reload waits for it too, rather than leave one more thread stuck.
static STUCK_STATVFS: Mutex<Option<Measuring>> = Mutex::new(None);

/// A `statvfs` run of every mount, on the blocking pool.
type Measuring = JoinHandle<Vec<(Mount, Usage)>>;

// === impl Task ===

impl Task {
    async fn run(mut self, mut cx: SourceContext) {
        let report = Arc::clone(&self.report);
        cx.status.set_reporter(move || {
            report
                .lock()
                .map(|r| r.clone())
                .unwrap_or(serde_json::Value::Null)
        });
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = cx.shutdown.cancelled() => return,
            }
            let started = Instant::now();
            let cycle = tokio::select! {
                cycle = self.collect() => cycle,
                () = cx.shutdown.cancelled() => return,
            };
            let points = cycle.points.metrics.len();
            self.report_errors(&cx, cycle.errors);
            MetricsCollected {
                component: &cx.metrics,
                points,
                duration: started.elapsed(),
            }
            .emit();
            if let Ok(mut report) = self.report.lock() {
                *report = json!({
                    "points": points,
                    "collection_ms": started.elapsed().as_secs_f64() * 1e3,
                    "failing_collectors": self.failing.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                });
            }
            let events: Vec<Event> = cycle
                .points
                .metrics
                .into_iter()
                .map(Event::Metric)
                .collect();
            cx.metrics.received(events.len(), 0);
            cx.out.send(EventBatch::new(events, Ack::none())).await;
            cx.metrics.sent(points, 0);
        }
    }

    async fn collect(&mut self) -> Cycle {
        let (mut cycle, mounts) = self.collector.procfs(now_unix_nanos());
        let Some(mounts) = mounts else {
            return cycle;
        };
        {
            let mut stuck = crate::sync::lock(&STUCK_STATVFS);
            if stuck.as_ref().is_some_and(|task| !task.is_finished()) {
                drop(stuck);
                cycle
                    .errors
                    .push((CollectorKind::Filesystem, self.timeout_error()));
                return cycle;
            }
            *stuck = None;
        }
        let mut task = tokio::task::spawn_blocking(move || filesystem::measure(mounts));
        match tokio::time::timeout(self.stat_timeout, &mut task).await {
            Ok(Ok(measured)) => self.collector.filesystems(&measured, &mut cycle),
            Ok(Err(join)) => cycle.errors.push((
                CollectorKind::Filesystem,
                HostMetricsError::Parse {
                    path: "statvfs".into(),
                    message: join.to_string(),
                },
            )),
            Err(_) => {
                *crate::sync::lock(&STUCK_STATVFS) = Some(task);
                cycle
                    .errors
                    .push((CollectorKind::Filesystem, self.timeout_error()));
            }
        }
        cycle
    }

    fn timeout_error(&self) -> HostMetricsError {
        HostMetricsError::StatTimeout {
            timeout_ms: u64::try_from(self.stat_timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn report_errors(
        &mut self,
        cx: &SourceContext,
        errors: Vec<(CollectorKind, HostMetricsError)>,
    ) {
        let mut now_failing = HashSet::new();
        for (kind, error) in errors {
            CollectorFailed {
                component: &cx.metrics,
                collector: kind.as_str(),
                error_type: error.error_type(),
                repeated: self.failing.contains(&kind),
                error: Chain(&error),
            }
            .emit();
            now_failing.insert(kind);
        }
        self.failing = now_failing;
    }
}
