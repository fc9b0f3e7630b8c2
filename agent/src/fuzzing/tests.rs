//! Every committed corpus file through its harness, on stable: what the
//! fuzzer found interesting (and every crash it found, kept in the corpus
//! once fixed) stays checked by `cargo test`.

use std::path::{Path, PathBuf};

use super::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn replay(target: &str) {
    let (_, harness) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no corpus", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| harness(&data)) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            // Panic again, naming the input.
            panic!("{}: {message}", file.display());
        }
    }
}

#[test]
fn every_target_has_a_corpus() {
    for (target, _) in TARGETS {
        assert!(
            corpus_dir(target).is_dir(),
            "fuzz/corpus/{target} is missing"
        );
    }
}

#[test]
fn corpus_container_line() {
    replay("container_line");
}

#[test]
fn corpus_framing() {
    replay("framing");
}

#[test]
fn corpus_multiline() {
    replay("multiline");
}

#[test]
fn corpus_config() {
    replay("config");
}

#[test]
fn corpus_disk_queue() {
    replay("disk_queue");
}

#[test]
fn corpus_checkpoint() {
    replay("checkpoint");
}

#[test]
fn corpus_otlp() {
    replay("otlp");
}

#[test]
fn corpus_kubelet() {
    replay("kubelet");
}

#[test]
#[ignore = "replays the files named by FUZZ_REPLAY=target:file,... (see docs/FUZZING.md)"]
fn replay_files() {
    let Ok(list) = std::env::var("FUZZ_REPLAY") else {
        return;
    };
    for item in list.split(',') {
        let (target, file) = item.split_once(':').expect("target:file");
        let (_, harness) = TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .expect("a target");
        // Relative to the repository (tests run in agent/).
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        harness(&data);
    }
}

#[test]
fn corpus_transforms() {
    replay("transforms");
}
