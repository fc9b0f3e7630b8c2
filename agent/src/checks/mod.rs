//! Checks: Wasm plugins run on a schedule; their results become events.
//!
//! Each check is a producer in the pipeline, like a source: its runs yield
//! `neurallog_check_status{check}` (0 ok, 1 warning, 2 critical,
//! 3 unknown), the plugin's own metrics with a `check` label, and a check
//! result event when the status changes. Sinks name checks in their
//! `inputs` as they name sources.
//!
//! - `runtime`: the one plugin host, started when the first check needs it,
//!   and the limit on runs in flight (`plugins.max_concurrent_runs`).
//! - `plan`: what a check's configuration resolves to (which component,
//!   limits, grants).
//! - `plugin`: a loaded plugin, in the agent's process or in a worker.
//! - `scheduler`: interval with jitter, loading and reloading, the last
//!   result for `/status`.
//! - `results`: a run's report as events.

pub(crate) mod config;
mod plan;
mod plugin;
mod results;
mod runtime;
mod scheduler;
mod schemas;

pub use config::CheckConfig;
pub use plan::CheckPlan;
pub use plugin::CheckPlugin;
pub use results::report_events;
pub use runtime::PluginRuntime;
pub use schemas::{check_plugin_configs, first_party_schemas, merge_into};

use crate::topology::{BoxedComponent, BuildError, SourceContext};

/// Build the scheduler of one check, whose runs take place on `plugins`.
pub fn build(
    config: &CheckConfig,
    cx: SourceContext,
    plugins: &PluginRuntime,
) -> Result<BoxedComponent, BuildError> {
    let plan = CheckPlan::new(&cx.id, config, plugins)?;
    let host = plugins.host()?;
    let slots = plugins.slots();
    let worker = plugins.worker_options();
    Ok(Box::pin(scheduler::run(plan, host, worker, slots, cx)))
}
