//! Loading a plugin: bytes (embedded or from a file, optionally pinned by
//! SHA-256), compiled code (from the cache or compiled), `instantiate_pre`
//! against the host's linker once, then `describe` once. Every failure is a
//! [`LoadError`] naming the plugin and what went wrong; nothing here can
//! take the agent down.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::Component;

use super::bindings::v0_1;
use super::cache::CacheStatus;
use super::error::{LoadError, LoadErrorKind};
use super::host::PluginContext;
use super::host::tls::TlsProber;
use super::limits::Limits;
use super::output;
use super::permissions::Grants;
use super::plugin::LoadedPlugin;
use super::quarantine::Quarantine;
use super::report::{Contract, FailureReason, PluginInfo};
use super::runner::{self, Bindings, Call, Returned};
use super::shared::Shared;
use super::source::PluginSource;

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Compiles `bytes` (through the cache when there is one) off the executor.
pub(crate) async fn compile(
    shared: &Arc<Shared>,
    bytes: Arc<[u8]>,
    sha256: &str,
) -> Result<(Component, CacheStatus), LoadErrorKind> {
    let shared = shared.clone();
    let sha256 = sha256.to_owned();
    tokio::task::spawn_blocking(move || match &shared.cache {
        Some(cache) => cache.load_or_compile(&shared.engine, &bytes, &sha256),
        None => Component::new(&shared.engine, &*bytes).map(|c| (c, CacheStatus::Disabled)),
    })
    .await
    .map_err(|e| LoadErrorKind::Compile(e.to_string()))?
    .map_err(|e| LoadErrorKind::Compile(format!("{e:#}")))
}

/// Reads and compiles a component within the host's `load_timeout`.
///
/// Compiling cannot be interrupted: past the deadline the load fails and
/// the compiling thread finishes on its own, its result dropped. The size
/// cap on the component bounds how long that takes.
pub(crate) async fn read_and_compile(
    shared: &Arc<Shared>,
    source: &PluginSource,
) -> Result<(Component, String, CacheStatus), LoadErrorKind> {
    let timeout = shared.settings.load_timeout;
    let work = async {
        let (bytes, sha256) = source.read().await?;
        let (component, cache) = compile(shared, bytes, &sha256).await?;
        Ok((component, sha256, cache))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(LoadErrorKind::LoadTimeout(timeout)))
}

/// See [`PluginHost::load`](super::PluginHost::load).
pub(crate) async fn load(
    shared: &Arc<Shared>,
    name: &str,
    source: PluginSource,
    limits: Limits,
    grants: Grants,
) -> Result<Arc<LoadedPlugin>, LoadError> {
    let started = Instant::now();
    let fail = |kind| LoadError {
        plugin: name.to_owned(),
        source_name: source.display_name(),
        kind,
    };
    let context = Arc::new(plugin_context(shared, name, limits, grants).map_err(fail)?);
    let (component, sha256, cache) = read_and_compile(shared, &source).await.map_err(fail)?;
    let pre = shared
        .linker
        .instantiate_pre(&component)
        .map_err(|e| fail(LoadErrorKind::Link(format!("{e:#}"))))?;
    let bindings = v0_1::CheckPre::new(pre)
        .map(Bindings::V0_1)
        .map_err(|e| fail(LoadErrorKind::NotACheck(format!("{e:#}"))))?;
    let load_time = started.elapsed();

    let described = describe(shared, &context, &bindings).await.map_err(fail)?;
    let info = PluginInfo {
        name: described.name,
        version: described.version,
        description: described.description,
        config_schema: described.config_schema,
        contract: Contract::V0_1,
        sha256,
        source: source.display_name(),
        cache,
        load_time,
    };
    // The version is the plugin's own text: logged as a quoted string.
    tracing::info!(plugin = name, version = info.version.as_str(), cache = %info.cache,
        load_ms = load_time.as_millis() as u64, "Plugin loaded.");
    Ok(Arc::new(LoadedPlugin {
        info,
        bindings,
        quarantine: Mutex::new(Quarantine::new(context.limits.quarantine.clone())),
        context,
        shared: shared.clone(),
    }))
}

/// Checks the name, limits and grants, and sets up what every run of the
/// plugin shares.
pub(crate) fn plugin_context(
    shared: &Shared,
    name: &str,
    limits: Limits,
    grants: Grants,
) -> Result<PluginContext, LoadErrorKind> {
    if !valid_name(name) {
        return Err(LoadErrorKind::InvalidName);
    }
    check_limits(shared, &limits)?;
    let grants = grants.check()?;
    let roots = match grants.has_tls_targets() {
        true => shared.platform_roots(),
        false => Arc::new(rustls::RootCertStore::empty()),
    };
    let tls = TlsProber::new(&roots, grants.tls_ca_files(), limits.tls_timeout())?;
    let state = shared.plugin_state(name, limits.max_state_bytes)?;
    Ok(PluginContext {
        name: Arc::from(name),
        grants,
        tls,
        mounts_file: shared.settings.mounts_file.clone(),
        state,
        limits,
    })
}

/// Calls `describe` once, under the plugin's limits.
async fn describe(
    shared: &Shared,
    context: &Arc<PluginContext>,
    bindings: &Bindings,
) -> Result<v0_1::neurallog::plugin::types::PluginInfo, LoadErrorKind> {
    match runner::execute(shared, context, bindings, Call::Describe)
        .await
        .result
    {
        Ok(Returned::Describe(info)) => {
            // Kept for as long as the plugin is loaded: capped like output.
            let max = context.limits.max_output_bytes;
            match output::check_size("plugin-info", output::info_size(&info), max) {
                Ok(()) => Ok(info),
                Err(error) => Err(LoadErrorKind::Describe {
                    reason: FailureReason::OutputTooLarge,
                    message: error.to_string(),
                }),
            }
        }
        Ok(Returned::Run(_)) => Err(LoadErrorKind::Describe {
            reason: FailureReason::Trap,
            message: "describe returned a run result".into(),
        }),
        Err(failure) => Err(LoadErrorKind::Describe {
            reason: failure.reason,
            message: failure.message,
        }),
    }
}

fn check_limits(shared: &Shared, limits: &Limits) -> Result<(), LoadErrorKind> {
    if let Some(problem) = limits.problems().into_iter().next() {
        return Err(LoadErrorKind::Limits(format!(
            "{}: {}",
            problem.field, problem.message
        )));
    }
    let settings = &shared.settings;
    if limits.fuel.is_some() && !settings.fuel_enabled {
        return Err(LoadErrorKind::Limits(
            "fuel is set but the plugin host has fuel metering off".into(),
        ));
    }
    if limits.memory_bytes > settings.memory_budget_bytes {
        return Err(LoadErrorKind::Limits(format!(
            "memory_bytes {} is over the host's memory budget of {} bytes",
            limits.memory_bytes, settings.memory_budget_bytes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_safe_file_names() {
        for good in ["cert-expiry", "disk_usage", "a", "x.v2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "../etc",
            "a/b",
            "with space",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
