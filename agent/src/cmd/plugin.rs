//! `neurallog-agent plugin run` and `plugin inspect`: one plugin, outside
//! the agent, under the same host, sandbox and limits. (`plugin new` is
//! `plugin_new`.)

use std::sync::Arc;

use serde_json::json;

use super::{
    EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PluginCommand, PluginFileArg, PluginRunArgs,
    print_stdout, runtime,
};
use crate::error::Chain;
use crate::wasm::{
    Grants, HostSettings, Limits, LoadErrorKind, PluginHost, PluginSource, RunOutcome,
};

/// Run a `plugin` subcommand.
pub(super) fn plugin(command: PluginCommand) -> u8 {
    match command {
        PluginCommand::New(args) => super::plugin_new::plugin_new(&args),
        PluginCommand::Run(args) => block_on(run(*args)),
        PluginCommand::Inspect(args) => block_on(inspect(args)),
    }
}

/// Runs `work` on a new async runtime; returns its exit code.
fn block_on(work: impl Future<Output = u8>) -> u8 {
    match runtime(None) {
        Ok(runtime) => runtime.block_on(work),
        Err(code) => code,
    }
}

/// Run one plugin once and print the result; returns the exit code.
async fn run(args: PluginRunArgs) -> u8 {
    let config_json = match &args.config {
        None => "{}".to_owned(),
        Some(path) => match read_config(path) {
            Ok(json) => json,
            Err(message) => {
                eprintln!("{}: {message}", path.display());
                return EXIT_CONFIG;
            }
        },
    };
    if let Some(problem) = args.limits.problems().into_iter().next() {
        eprintln!(
            "error: --{}: {}",
            problem.field.replace('_', "-"),
            problem.message
        );
        return EXIT_USAGE;
    }
    let state = match &args.state_dir {
        Some(dir) => Ok(None::<tempfile::TempDir>).map(|t| (t, dir.clone())),
        None => tempfile::tempdir().map(|t| {
            let path = t.path().to_owned();
            (Some(t), path)
        }),
    };
    let (_temp, state_dir) = match state {
        Ok(state) => state,
        Err(error) => {
            eprintln!("error: cannot create a state directory: {error}");
            return EXIT_FAILURE;
        }
    };
    let mut settings = HostSettings::new(state_dir);
    settings.fuel_enabled = args.limits.fuel.is_some();
    let host = match PluginHost::new(settings) {
        Ok(host) => Arc::new(host),
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            return EXIT_FAILURE;
        }
    };
    let name = plugin_name(&args.file);
    let source = PluginSource::File {
        path: args.file.clone(),
        sha256: None,
    };
    if args.input.is_some() {
        return run_processor(&host, &name, source, &args, &config_json).await;
    }
    let plugin = match host
        .load(
            &name,
            source.clone(),
            args.limits.clone(),
            args.grants.clone(),
        )
        .await
    {
        Ok(plugin) => plugin,
        // A processor: records from stdin.
        Err(error) if matches!(error.kind, LoadErrorKind::NotACheck(_)) => {
            return run_processor(&host, &name, source, &args, &config_json).await;
        }
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            return EXIT_CONFIG;
        }
    };
    let report = plugin.run(&config_json).await;
    let info = plugin.info();
    let mut doc = json!({
        "plugin": info.name,
        "version": info.version,
        "outcome": report.outcome.label(),
        "duration_ms": report.duration.as_secs_f64() * 1000.0,
        "host_calls": report.host_calls,
        "log_lines": report.log_lines,
        "logs_dropped": report.logs_dropped,
        "peak_memory_bytes": report.peak_memory_bytes,
    });
    if let Some(fuel) = report.fuel_consumed {
        doc["fuel_consumed"] = fuel.into();
    }
    if !report.stderr.is_empty() {
        doc["stderr"] = report.stderr.clone().into();
    }
    let code = match &report.outcome {
        RunOutcome::Ok(result) => {
            doc["status"] = result.status.as_str().into();
            doc["summary"] = result.summary.clone().into();
            doc["metrics"] = serde_json::to_value(&result.metrics).unwrap_or_default();
            doc["details"] = serde_json::to_value(&result.details).unwrap_or_default();
            EXIT_OK
        }
        RunOutcome::PluginError { message, .. } | RunOutcome::Failed { message, .. } => {
            doc["status"] = "unknown".into();
            doc["error"] = message.clone().into();
            EXIT_FAILURE
        }
    };
    print_stdout(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    code
}

/// Run a processor over the records of `--input` (stdin when omitted);
/// returns the exit code.
async fn run_processor(
    host: &PluginHost,
    name: &str,
    source: PluginSource,
    args: &PluginRunArgs,
    config_json: &str,
) -> u8 {
    let plugin = match host
        .load_processor(name, source, args.limits.clone(), args.grants.clone())
        .await
    {
        Ok(plugin) => plugin,
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            return EXIT_CONFIG;
        }
    };
    let input = args.input.as_deref().unwrap_or(std::path::Path::new("-"));
    super::plugin_process::run(&plugin, config_json, input, args.batch_size).await
}

/// Describe a component; returns the exit code.
async fn inspect(args: PluginFileArg) -> u8 {
    let temp = match tempfile::tempdir() {
        Ok(temp) => temp,
        Err(error) => {
            eprintln!("error: cannot create a state directory: {error}");
            return EXIT_FAILURE;
        }
    };
    let host = match PluginHost::new(HostSettings::new(temp.path())) {
        Ok(host) => host,
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            return EXIT_FAILURE;
        }
    };
    let source = PluginSource::File {
        path: args.file.clone(),
        sha256: None,
    };
    let inspection = match host.inspect(source.clone()).await {
        Ok(inspection) => inspection,
        Err(error) => {
            eprintln!("error: {}", Chain(&error));
            return EXIT_CONFIG;
        }
    };
    let mut doc = serde_json::to_value(&inspection).unwrap_or_default();
    doc["file"] = args.file.display().to_string().into();
    doc["loadable"] = inspection.loadable().into();
    if inspection.loadable() {
        let name = plugin_name(&args.file);
        let (limits, grants) = (Limits::default(), Grants::default());
        let processor = inspection
            .world
            .as_deref()
            .is_some_and(|world| world.contains("/processor@"));
        let info = match processor {
            true => host
                .load_processor(&name, source, limits, grants)
                .await
                .map(|plugin| plugin.info().clone()),
            false => host
                .load(&name, source, limits, grants)
                .await
                .map(|plugin| plugin.info().clone()),
        };
        match info {
            Ok(info) => {
                doc["describe"] = json!({
                    "name": info.name,
                    "version": info.version,
                    "description": info.description,
                    "config_schema": serde_json::from_str::<serde_json::Value>(&info.config_schema).unwrap_or(serde_json::Value::String(info.config_schema.clone())),
                });
            }
            Err(error) => doc["describe_error"] = Chain(&error).to_string().into(),
        }
    }
    print_stdout(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    if inspection.loadable() {
        EXIT_OK
    } else {
        EXIT_CONFIG
    }
}

fn read_config(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plugin configuration: {e}"))?;
    let value: serde_json::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("not valid JSON or YAML: {e}"))?;
    if !value.is_object() {
        return Err("expected a map of the plugin's settings".to_owned());
    }
    Ok(value.to_string())
}

/// A state-file-safe name from the component's file name.
fn plugin_name(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "plugin".to_owned()
    } else {
        name
    }
}
