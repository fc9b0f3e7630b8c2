use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::load_str;
use crate::topology::StatusRegistry;

fn config(dir: &std::path::Path) -> Config {
    let yaml = format!(
        "
data_dir: {data}
sources:
  own:
    type: internal_metrics
    interval_secs: 1
transforms:
  kept:
    type: filter
    inputs: [own]
    drop: {{ field: body, regex: '^never' }}
sinks:
  out:
    type: file
    inputs: [kept]
    path: {out}
",
        data = dir.join("data").display(),
        out = dir.join("out.jsonl").display(),
    );
    let config = load_str(&yaml, "test.yaml", &|_| None).expect("a valid configuration");
    crate::config::validate(&config, "test.yaml").expect("a valid configuration");
    config
}

async fn start(dir: &std::path::Path) -> Pipeline {
    let config = config(dir);
    let globals = Arc::new(Globals {
        data_dir: config.data_dir.clone(),
        host: Arc::new(crate::event::Resource::default()),
        status: Arc::new(StatusRegistry::default()),
        exposition: Default::default(),
    });
    let plugins = Arc::new(PluginRuntime::new(
        config.plugins.clone(),
        &config.data_dir,
        false,
    ));
    Pipeline::start(config, globals, plugins)
        .await
        .expect("the pipeline starts")
}

/// The tasks of the source, the transform and the sink.
fn tasks(pipeline: &Pipeline) -> [&Supervised; 3] {
    [
        &pipeline.producers["own"].task,
        &pipeline.transforms["kept"].running.as_ref().unwrap().task,
        &pipeline.sinks["out"].running.as_ref().unwrap().task,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_rebuilds_the_components_that_ended_even_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = start(dir.path()).await;

    // The same configuration, everything running: nothing is rebuilt.
    let before: Vec<_> = tasks(&pipeline).map(|t| t.component.id()).to_vec();
    pipeline
        .reload(config(dir.path()), Duration::from_secs(2))
        .await;
    let after: Vec<_> = tasks(&pipeline).map(|t| t.component.id()).to_vec();
    assert_eq!(
        before, after,
        "running components with their configuration unchanged keep running"
    );

    // Each ends as a panic would end it.
    for task in tasks(&pipeline) {
        task.component.abort();
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while !tasks(&pipeline).iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the components end");

    pipeline
        .reload(config(dir.path()), Duration::from_secs(2))
        .await;
    for (task, name) in tasks(&pipeline).into_iter().zip(["own", "kept", "out"]) {
        assert!(!task.is_finished(), "{name} runs again");
        assert!(
            !before.contains(&task.component.id()),
            "{name} is a new task"
        );
    }

    // And it works end to end: the source's points reach the file.
    let out = dir.path().join("out.jsonl");
    let len = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let written = len(&out);
    tokio::time::timeout(Duration::from_secs(10), async {
        while len(&out) <= written {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the rebuilt pipeline delivers");
    pipeline.shutdown(Duration::from_secs(2)).await;
}
