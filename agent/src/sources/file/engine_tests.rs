//! The tailing engine as a component: a panic fails it, and a replacement
//! never runs beside the engine it replaces.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::tailer::batch_capacity;
use super::*;
use crate::config::ComponentKind;
use crate::event::EventBatch;
use crate::telemetry::events::ComponentMetrics;
use crate::topology::{Fanout, Globals, StatusRegistry};

/// The plain factory, running `F` whenever the engine asks about a file.
struct Probe<F>(F, PlainFactory);

fn probe<F: FnMut() + Send + 'static>(on_stream: F) -> Box<dyn StreamFactory> {
    Box::new(Probe(
        on_stream,
        PlainFactory::new(Arc::default(), Attributes::default(), None),
    ))
}

impl<F: FnMut() + Send> StreamFactory for Probe<F> {
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec> {
        (self.0)();
        self.1.stream_for(path)
    }

    fn handler(&mut self, spec: &StreamSpec, path: &Path) -> Box<dyn LineHandler> {
        self.1.handler(spec, path)
    }
}

fn spawn(dir: &Path, factory: Box<dyn StreamFactory>) -> (BoxedComponent, CancellationToken) {
    let (component, shutdown, _rx) = spawn_receiving(dir, factory);
    (component, shutdown)
}

/// An engine as a source component, its batches in the returned receiver.
fn spawn_receiving(
    dir: &Path,
    factory: Box<dyn StreamFactory>,
) -> (
    BoxedComponent,
    CancellationToken,
    mpsc::Receiver<EventBatch>,
) {
    let (tx, rx) = mpsc::channel(16);
    let (fanout, _control) = Fanout::fixed(vec![("sink".into(), tx)]);
    let metrics = ComponentMetrics::new("engine", ComponentKind::Source, "file");
    let registry = StatusRegistry::default();
    let status = registry.register(ComponentKind::Source, "engine", "file", metrics.clone());
    let shutdown = CancellationToken::new();
    let cx = SourceContext {
        id: "engine".into(),
        out: fanout,
        shutdown: shutdown.clone(),
        globals: Arc::new(Globals::standalone(&dir.join("data"))),
        metrics,
        status,
    };
    let discovery = Discovery::new(&[format!("{}/logs/*.log", dir.display())], &[]).unwrap();
    let component = spawn_tailer(TailConfig::default(), discovery, factory, cx).unwrap();
    (component, shutdown, rx)
}

/// The bodies of the next batches until `n` arrived, each acknowledged as
/// delivered.
async fn delivered(rx: &mut mpsc::Receiver<EventBatch>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a batch in time")
            .expect("the engine sends");
        for event in batch.events() {
            if let crate::event::Event::Log(record) = event {
                out.push(record.body.to_string());
            }
        }
        batch.resolve(crate::event::AckStatus::Delivered);
    }
    out
}

fn dir_with_a_log() -> tempfile::TempDir {
    dir_with_log("a line\n")
}

/// A directory with `logs/app.log` holding `text`.
fn dir_with_log(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/app.log"), text).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_engine_fails_its_component() {
    let dir = dir_with_a_log();
    let (component, _shutdown) = spawn(dir.path(), probe(|| panic!("the engine broke")));
    let ended = tokio::time::timeout(Duration::from_secs(10), tokio::spawn(component))
        .await
        .expect("the component ends");
    let error = ended.expect_err("a panic is not a normal end");
    assert!(error.is_panic());
    let payload = error.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the engine broke"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_engine_waits_for_the_one_it_replaces() {
    let dir = dir_with_a_log();
    // The first engine gets stuck in its first scan (a read on a hung
    // filesystem, say) until released.
    let (entered_tx, entered_rx) = std_mpsc::channel();
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let (first, first_shutdown) = spawn(
        dir.path(),
        probe(move || {
            let _ = entered_tx.send(());
            let _ = release_rx.recv();
        }),
    );
    let first = tokio::spawn(first);
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the first engine scans");

    // Reloaded: the first is told to stop, the second is started.
    first_shutdown.cancel();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let (second, second_shutdown) = spawn(
        dir.path(),
        probe(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let second = tokio::spawn(second);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the replacement ran beside the engine it replaces"
    );

    release_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first engine ends once released")
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replacement never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    second_shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the replacement ends")
        .unwrap();
}

/// Chaos seed 6014 (3,000 lines/s): a reload that rebuilt the file source
/// while the data directory's disk was full sent a file's lines again. The
/// engine it replaced could not save its last checkpoints, and the
/// replacement read the older ones on disk. It now goes on from the
/// engine's own.
#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_goes_on_from_the_engine_before_when_its_last_save_failed() {
    let dir = dir_with_a_log();
    let (first, first_shutdown, mut first_rx) = spawn_receiving(dir.path(), plain_lines());
    let first = tokio::spawn(first);
    assert_eq!(delivered(&mut first_rx, 1).await, ["a line"]);
    // Reloaded: the replacement is built while the first still runs.
    let (second, second_shutdown, mut second_rx) = spawn_receiving(dir.path(), plain_lines());
    // The last save cannot be written (a directory in its way stands for
    // a full disk).
    let saved = dir.path().join("data/checkpoints/engine.json");
    let _ = std::fs::remove_file(&saved);
    std::fs::create_dir_all(saved.join("in-the-way")).unwrap();
    stop_and_wait(first_shutdown, first).await;
    sends_only_what_comes_next(dir.path(), second, second_shutdown, &mut second_rx).await;
}

/// The same, in the order a reload takes: the engine is stopped and has
/// ended before its replacement is built. Nothing of the first engine
/// holds the checkpoints it left then, unless the source keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_built_after_the_engine_before_ended_goes_on_from_it() {
    let dir = dir_with_a_log();
    let (first, first_shutdown, mut first_rx) = spawn_receiving(dir.path(), plain_lines());
    let first = tokio::spawn(first);
    let batch = tokio::time::timeout(Duration::from_secs(10), first_rx.recv())
        .await
        .expect("a batch in time")
        .expect("the engine sends");
    // What the disk holds before the line is acknowledged: the file, at
    // its start (saved when the file was found).
    let saved = dir.path().join("data/checkpoints/engine.json");
    let stale = std::fs::read(&saved).expect("the file's entry is saved when found");
    batch.resolve(crate::event::AckStatus::Delivered);
    // Every later save fails (a directory in the way stands for a full
    // disk), then the disk is as it was: the older checkpoints. The
    // acknowledgement reaches the engine before it ends either way (it
    // waits for its batches in flight).
    let _ = std::fs::remove_file(&saved);
    std::fs::create_dir_all(saved.join("in-the-way")).unwrap();
    stop_and_wait(first_shutdown, first).await;
    std::fs::remove_dir_all(&saved).unwrap();
    std::fs::write(&saved, &stale).unwrap();
    // Reloaded: the replacement is built now.
    let (second, second_shutdown, mut second_rx) = spawn_receiving(dir.path(), plain_lines());
    sends_only_what_comes_next(dir.path(), second, second_shutdown, &mut second_rx).await;
}

/// Plain lines, no multiline.
fn plain_lines() -> Box<dyn StreamFactory> {
    Box::new(PlainFactory::new(
        Arc::default(),
        Attributes::default(),
        None,
    ))
}

/// Stop the first engine and wait until it has ended.
async fn stop_and_wait(shutdown: CancellationToken, first: tokio::task::JoinHandle<()>) {
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first engine ends")
        .unwrap();
}

/// A replacement engine (`second`, not started yet) sends the line
/// appended next, and nothing the engine before it delivered.
async fn sends_only_what_comes_next(
    dir: &Path,
    second: BoxedComponent,
    shutdown: CancellationToken,
    rx: &mut mpsc::Receiver<EventBatch>,
) {
    let second = tokio::spawn(second);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("logs/app.log"))
        .unwrap()
        .write_all(b"b line\n")
        .unwrap();
    assert_eq!(
        delivered(rx, 1).await,
        ["b line"],
        "the replacement read again what the first delivered"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the replacement ends")
        .unwrap();
}

/// An engine over `dir/logs/app.log*` driven step by step by the test,
/// its batches kept in the returned receiver.
fn stepped(dir: &Path) -> (Tailer, mpsc::Receiver<EventBatch>) {
    stepped_over(dir, "app.log*")
}

/// An engine over `dir/logs/PATTERN`, driven step by step.
fn stepped_over(dir: &Path, pattern: &str) -> (Tailer, mpsc::Receiver<EventBatch>) {
    stepped_with(dir, pattern, TailConfig::default())
}

/// An engine over `dir/logs/PATTERN` with `config`, driven step by step.
fn stepped_with(
    dir: &Path,
    pattern: &str,
    config: TailConfig,
) -> (Tailer, mpsc::Receiver<EventBatch>) {
    let plain = PlainFactory::new(Arc::default(), Attributes::default(), None);
    stepped_by(dir, pattern, config, Box::new(plain))
}

/// An engine over `dir/logs/PATTERN` with `config` and `factory`, driven
/// step by step.
fn stepped_by(
    dir: &Path,
    pattern: &str,
    config: TailConfig,
    factory: Box<dyn StreamFactory>,
) -> (Tailer, mpsc::Receiver<EventBatch>) {
    let (tx, rx) = mpsc::channel(1024);
    let (fanout, _control) = Fanout::fixed(vec![("sink".into(), tx)]);
    let metrics = ComponentMetrics::new("engine", ComponentKind::Source, "file");
    let checkpoints = Checkpoints::load(&dir.join("data"), "engine").unwrap();
    let discovery = Discovery::new(&[format!("{}/logs/{pattern}", dir.display())], &[]).unwrap();
    let tailer = Tailer::new(
        config,
        discovery,
        factory,
        checkpoints,
        FileSourceMetrics::new(metrics),
        fanout,
        CancellationToken::new(),
        Arc::default(),
    );
    (tailer, rx)
}

fn bodies(rx: &mut mpsc::Receiver<EventBatch>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        for event in batch.events() {
            if let crate::event::Event::Log(record) = event {
                out.push(record.body.to_string());
            }
        }
    }
    out
}

/// The bodies of every batch the engine sent, each batch acknowledged as
/// delivered.
fn deliver_all(rx: &mut mpsc::Receiver<EventBatch>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        for event in batch.events() {
            if let crate::event::Event::Log(record) = event {
                out.push(record.body.to_string());
            }
        }
        batch.resolve(crate::event::AckStatus::Delivered);
    }
    out
}

/// After an undelivered batch: run the engine (acknowledgements, reads,
/// batches) until `expected` records came again or 5 s passed, past the
/// first rewind's backoff.
fn read_again(
    tailer: &mut Tailer,
    rx: &mut mpsc::Receiver<EventBatch>,
    expected: usize,
) -> Vec<String> {
    std::thread::sleep(Duration::from_millis(300));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut again = Vec::new();
    while again.len() < expected && std::time::Instant::now() < deadline {
        tailer.process_acks();
        read_and_send(tailer);
        again.extend(bodies(rx));
        std::thread::sleep(Duration::from_millis(20));
    }
    again
}

/// A directory whose `logs/app.log` holds `text`, and an engine that has
/// read all of it (collected, not yet cut into a batch). Call within a
/// runtime: the engine sends through it.
fn read_log(
    text: &str,
) -> (
    tempfile::TempDir,
    PathBuf,
    Tailer,
    mpsc::Receiver<EventBatch>,
) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let live = logs.join("app.log");
    std::fs::write(&live, text).unwrap();
    let (mut tailer, rx) = stepped(dir.path());
    tailer.scan();
    while tailer.read_round() {}
    (dir, live, tailer, rx)
}

/// `copytruncate` finishing between a scan's look at the tracked files and
/// its discovery of the copy (a scan preempted there, as under load): the
/// copy is taken for what it is and read on from where the original
/// stopped, not from its start.
#[test]
fn copy_found_after_its_original_was_truncated_within_one_scan_is_not_read_again() {
    // The engine blocks on its sends: it runs on a thread of its own
    // beside a runtime, as it does in the agent.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..300)
        .map(|n| format!("line {n:05} of the first generation\n"))
        .collect();
    let (_dir, live, mut tailer, mut rx) = read_log(&lines);
    let logs = live.parent().unwrap().to_owned();
    tailer.flush_batch();
    let first = bodies(&mut rx);
    assert_eq!(first.len(), 300);

    // logrotate: copy, truncate; the application writes on.
    let copy = logs.join("app.log.1");
    std::fs::copy(&live, &copy).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::fs::write(&live, "the second generation begins\n").unwrap();

    // The scan's discovery of the copy, as if its look at the tracked
    // files came just before the truncation.
    tailer.consider(&copy, false);
    tailer.scan();
    read_and_send(&mut tailer);
    let after = bodies(&mut rx);
    let again = after
        .iter()
        .filter(|b| b.contains("first generation"))
        .count();
    assert_eq!(again, 0, "{again} of the copy's lines were sent again");
    assert_eq!(after, ["the second generation begins"]);
}

/// A file truncated in place while a stopping engine waits for its last
/// acknowledgements (a reload that rebuilds the source while the ingest is
/// down): what was written after its last read and destroyed by the
/// truncation is counted by its successor, not silently gone.
#[test]
fn truncation_while_the_engine_waits_for_its_last_acks_is_counted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let line = |n: usize| format!("line {n:05} written before the reload\n");
    let (dir, live, mut tailer, mut rx) = read_log(&(0..100).map(line).collect::<String>());
    tailer.flush_batch();
    let held = rx.try_recv().expect("a batch in flight");

    let stopping = std::thread::spawn(move || tailer.finish());
    // Written while the engine waits, then destroyed by a truncation.
    std::thread::sleep(Duration::from_millis(200));
    let unread: String = (100..150).map(line).collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap();
    std::io::Write::write_all(&mut file, unread.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    file.set_len(0).unwrap();
    held.resolve(crate::event::AckStatus::Delivered);
    stopping.join().unwrap();

    let (mut successor, _rx) = stepped(dir.path());
    successor.scan();
    let lost = crate::telemetry::registry()
        .counter(
            "neurallog_agent_file_bytes_lost_total",
            "Bytes of tailed files given up unread, by path and reason.",
            vec![
                ("component_id", "engine".to_owned()),
                ("path", live.display().to_string()),
                ("reason", "rewritten_while_stopped".to_owned()),
            ],
        )
        .get();
    assert_eq!(lost, unread.len() as u64, "bytes counted lost");
}

/// Records read from a file but not yet cut into a batch when its
/// `copytruncate` is seen: their batch settles the copy, so when it is not
/// delivered the copy is read again from before them.
#[test]
fn records_collected_before_a_copytruncate_settle_the_copy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..100)
        .map(|n| format!("line {n:05} before the rotation\n"))
        .collect();
    let (_dir, live, mut tailer, mut rx) = read_log(&lines);
    let logs = live.parent().unwrap().to_owned();
    // Not cut into a batch yet: logrotate copies and truncates.
    std::fs::copy(&live, logs.join("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    tailer.scan();
    tailer.flush_batch();
    let batch = rx.try_recv().expect("the batch of the collected records");
    assert_eq!(batch.len(), 100);
    batch.resolve(crate::event::AckStatus::Dropped);

    // The copy is read again from before the undelivered records.
    let again = read_again(&mut tailer, &mut rx, 100);
    assert_eq!(
        again.len(),
        100,
        "lines read again after the undelivered batch: {again:?}"
    );
}

/// A `copytruncate` while no engine reads the file (a reload rebuilding
/// the source waits for the old engine; the agent is stopped): the next
/// engine finds the copy before the original (it is older) and reads it on
/// from the original's checkpoint, not from its start.
#[test]
fn copy_found_before_its_original_after_a_stop_is_read_from_the_checkpoint() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..200)
        .map(|n| format!("line {n:05} read before the stop\n"))
        .collect();
    let (dir, live, mut tailer, mut rx) = read_log(&lines);
    tailer.flush_batch();
    let batch = rx.try_recv().expect("the batch of the first lines");
    batch.resolve(crate::event::AckStatus::Delivered);
    tailer.finish();

    // logrotate while no engine reads: the copy is the older file.
    std::fs::copy(&live, live.with_extension("log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::fs::write(&live, "the next generation begins\n").unwrap();

    let (mut successor, mut rx) = stepped(dir.path());
    successor.scan();
    read_and_send(&mut successor);
    let after = bodies(&mut rx);
    let again = after
        .iter()
        .filter(|b| b.contains("before the stop"))
        .count();
    assert_eq!(again, 0, "{again} of the copy's lines were sent again");
    assert_eq!(after, ["the next generation begins"]);
}

/// A rotated file read to its end while its last records wait to be cut
/// into a batch is not closed (its checkpoint done) before they are: when
/// their batch is not delivered, they are read again.
#[test]
fn a_rotated_file_is_not_closed_while_its_records_wait_for_a_batch() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..100)
        .map(|n| format!("line {n:05} of the rotated file\n"))
        .collect();
    let (_dir, live, mut tailer, mut rx) = read_log(&lines);
    std::fs::rename(&live, live.with_extension("log.1")).unwrap();
    tailer.check_tracked(false);
    // Past the grace a rotated file at its end is given before it closes.
    std::thread::sleep(Duration::from_millis(1100));
    while tailer.read_round() {}
    tailer.housekeeping();
    tailer.flush_batch();
    let batch = rx
        .try_recv()
        .expect("the batch of the rotated file's records");
    assert_eq!(batch.len(), 100);
    batch.resolve(crate::event::AckStatus::Dropped);

    let again = read_again(&mut tailer, &mut rx, 100);
    assert_eq!(
        again.len(),
        100,
        "lines read again after the undelivered batch"
    );
}

/// A file that appeared at the path by a rotation, read and delivered in
/// part, then the agent killed before its periodic checkpoint save, the
/// file rotated away while the agent was down (the pattern matches the
/// path only): the next engine finds it by its checkpoint and reads on.
/// Its checkpoint is written when it is first tracked, not at the next
/// interval.
#[test]
fn a_new_file_killed_before_its_checkpoint_interval_is_found_after_rotation() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, logs, live) = numbered_log(0..50);
    let (mut tailer, mut rx) = stepped_over(dir.path(), "app.log");
    tailer.scan();
    read_and_send(&mut tailer);
    rx.try_recv()
        .unwrap()
        .resolve(crate::event::AckStatus::Delivered);
    tailer.process_acks();
    tailer.save_checkpoints();

    // Rotated; the new file found and read, its lines delivered.
    std::fs::rename(&live, logs.join("app.log.1")).unwrap();
    std::fs::write(&live, (50..100).map(line).collect::<String>()).unwrap();
    tailer.scan();
    read_and_send(&mut tailer);
    deliver_all(&mut rx);
    tailer.process_acks();
    tailer.housekeeping();
    // kill -9: nothing more is saved.
    drop(tailer);

    // While the agent is down: more lines, another rotation.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap();
    std::io::Write::write_all(
        &mut file,
        (100..130).map(line).collect::<String>().as_bytes(),
    )
    .unwrap();
    std::fs::rename(&live, logs.join("app.log.2")).unwrap();
    std::fs::write(&live, (130..140).map(line).collect::<String>()).unwrap();

    let (mut successor, mut rx) = stepped_over(dir.path(), "app.log");
    successor.scan();
    read_and_send(&mut successor);
    let after = bodies(&mut rx);
    let body = |n: usize| line(n).trim_end().to_owned();
    let unread: Vec<String> = (100..140).map(body).collect();
    assert!(
        after.ends_with(&unread),
        "the unread lines in order: {after:?}"
    );
    // Delivered after the last save: sent again, nothing older.
    let again = &after[..after.len() - unread.len()];
    let unsaved: Vec<String> = (50..100).map(body).collect();
    assert!(unsaved.ends_with(again), "sent again: {again:?}");
}

/// A file found empty has no fingerprint. Written to, read, then truncated
/// with no copy to be found: the record of that truncation must not take
/// the next new file in its directory for the copy and skip its first
/// bytes. (The model test lost a new generation's first 83 lines this way:
/// `model_tests::regressions_found_by_the_model`,
/// `copytruncate_rename_copytruncate_with_held_acks`.)
#[test]
fn a_file_truncated_before_its_first_look_does_not_make_a_new_file_start_midway() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, logs, live) = numbered_log(0..0);
    let (mut tailer, mut rx) = stepped_over(dir.path(), "*.log");
    tailer.scan();
    // Written, read and delivered between two looks at the tracked files.
    std::fs::write(&live, (0..100).map(line).collect::<String>()).unwrap();
    read_and_send(&mut tailer);
    assert_eq!(deliver_all(&mut rx).len(), 100);
    tailer.process_acks();
    // Truncated in place; its content went nowhere the engine can see.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    tailer.check_tracked(false);

    // Another application's log appears beside it, longer than that was.
    let other = logs.join("other.log");
    let text: String = (0..200).map(|n| format!("other {n:05}\n")).collect();
    std::fs::write(&other, text).unwrap();
    tailer.scan();
    read_and_send(&mut tailer);
    let after = deliver_all(&mut rx);
    let expected: Vec<String> = (0..200).map(|n| format!("other {n:05}")).collect();
    assert_eq!(
        after.first(),
        expected.first(),
        "{} lines arrived",
        after.len()
    );
    assert_eq!(after, expected);
}

/// A new file that got the inode of a file the engine finished, whose
/// fingerprint was taken while it was empty (inodes are reused at once on
/// ext4): that entry tells nothing, and the new file is read from its
/// beginning, not from where the old one ended.
#[test]
fn a_new_file_on_the_inode_of_one_known_only_empty_is_read_from_its_start() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    // Finished (rotated, drained, closed), or still live when last saved.
    for done in [true, false] {
        let (dir, logs, live) = numbered_log(0..100);
        let (mut tailer, mut rx) = stepped_over(dir.path(), "app.log");
        let (id, _) = FileId::of(&std::fs::File::open(&live).unwrap()).unwrap();
        tailer.checkpoints.set(Entry {
            id,
            fingerprint: Fingerprint::default(),
            offset: 550,
            path: logs.join("app.log.1"),
            done,
            updated_unix_secs: 0,
            size: 550,
        });
        tailer.scan();
        read_and_send(&mut tailer);
        let after = deliver_all(&mut rx);
        let expected: Vec<String> = (0..100).map(|n| line(n).trim_end().to_owned()).collect();
        assert_eq!(after, expected, "with the old entry done: {done}");
    }
}

/// After a restart, a checkpointed file no longer at its path is looked
/// for by its inode beside it. Found there under a fingerprint too short
/// to tell it from a file that got the inode since, it is read from its
/// beginning, not from the old offset.
#[test]
fn a_file_found_by_inode_after_a_restart_with_a_too_short_fingerprint_is_read_whole() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, logs, _live) = numbered_log(0..0);
    let rotated = logs.join("app.log.1");
    std::fs::write(&rotated, (0..100).map(line).collect::<String>()).unwrap();
    let (id, _) = FileId::of(&std::fs::File::open(&rotated).unwrap()).unwrap();
    let (mut before, _rx) = stepped_over(dir.path(), "app.log");
    before.checkpoints.set(Entry {
        id,
        fingerprint: Fingerprint::default(),
        offset: 550,
        path: logs.join("app.log"),
        done: false,
        updated_unix_secs: 0,
        size: 550,
    });
    before.save_checkpoints();
    drop(before);

    let (mut after, mut rx) = stepped_over(dir.path(), "app.log");
    after.scan();
    read_and_send(&mut after);
    let expected: Vec<String> = (0..100).map(|n| line(n).trim_end().to_owned()).collect();
    assert_eq!(deliver_all(&mut rx), expected);
}

/// The open-file budget bounds the files open at a path, not the rotated
/// ones still being drained: with the budget spent on a backlog of
/// rotated files, the next generation of a file is still opened when
/// found, so that rotated away and deleted before the engine reads it,
/// its lines are read from the descriptor.
#[test]
fn rotated_files_being_drained_do_not_keep_the_next_generation_waiting() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, logs, live) = numbered_log(0..10);
    let config = TailConfig {
        max_open_files: 1,
        ..TailConfig::default()
    };
    let (mut tailer, mut rx) = stepped_with(dir.path(), "app.log", config);
    tailer.scan();
    // Rotated before it was read: held, to be drained.
    std::fs::rename(&live, logs.join("app.log.1")).unwrap();
    std::fs::write(&live, (10..20).map(line).collect::<String>()).unwrap();
    tailer.scan();
    // The next generation is rotated away and deleted before any read.
    std::fs::rename(&live, logs.join("app.log.2")).unwrap();
    std::fs::remove_file(logs.join("app.log.2")).unwrap();
    read_and_send(&mut tailer);
    let bodies = bodies(&mut rx);
    let expected: Vec<String> = (0..20).map(|n| line(n).trim_end().to_owned()).collect();
    assert_eq!(bodies, expected);
}

/// A file that waited for a descriptor and was rotated meanwhile is read
/// where it went; one rotated away and deleted is counted lost, by the
/// size it had when found, not silently forgotten.
#[test]
fn a_file_waiting_for_a_descriptor_is_followed_or_counted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let line = |name: &str, n: usize| format!("{name} line {n:05}\n");
    let text = |name: &str| (0..10).map(|n| line(name, n)).collect::<String>();
    for name in ["a", "b", "c"] {
        std::fs::write(logs.join(format!("{name}.log")), text(name)).unwrap();
    }
    let config = TailConfig {
        max_open_files: 1,
        ..TailConfig::default()
    };
    let (mut tailer, mut rx) = stepped_with(dir.path(), "*.log", config);
    tailer.scan();
    // One of them is open; the other two wait. Rotate one of the waiting
    // files within its directory and delete the other.
    read_and_send(&mut tailer);
    let opened = deliver_all(&mut rx);
    let first = opened[0].split(' ').next().unwrap().to_owned();
    let waiting: Vec<&str> = ["a", "b", "c"]
        .into_iter()
        .filter(|n| *n != first)
        .collect();
    let (moved, deleted) = (waiting[0], waiting[1]);
    std::fs::rename(
        logs.join(format!("{moved}.log")),
        logs.join(format!("{moved}.log.1")),
    )
    .unwrap();
    std::fs::remove_file(logs.join(format!("{deleted}.log"))).unwrap();
    // The open file's lines are delivered: it is idle, and closed to give
    // the waiting files their turn.
    tailer.process_acks();
    let mut all = opened;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while all.len() < 20 && std::time::Instant::now() < deadline {
        tailer.process_acks();
        tailer.housekeeping();
        tailer.rotate_open_files();
        read_and_send(&mut tailer);
        all.extend(deliver_all(&mut rx));
        std::thread::sleep(Duration::from_millis(10));
    }
    let of = |name: &str| {
        all.iter()
            .filter(|b| b.starts_with(&format!("{name} ")))
            .count()
    };
    assert_eq!((of(&first), of(moved), of(deleted)), (10, 10, 0), "{all:?}");
    let lost = crate::telemetry::registry()
        .counter(
            "neurallog_agent_file_bytes_lost_total",
            "Bytes of tailed files given up unread, by path and reason.",
            vec![
                ("component_id", "engine".to_owned()),
                (
                    "path",
                    logs.join(format!("{deleted}.log")).display().to_string(),
                ),
                ("reason", "gone_while_waiting".to_owned()),
            ],
        )
        .get();
    assert_eq!(lost, text(deleted).len() as u64);
}

/// Line `n` of the numbered logs.
/// Read every file to its end and send what was read.
fn read_and_send(tailer: &mut Tailer) {
    while tailer.read_round() {}
    tailer.flush_batch();
}

fn line(n: usize) -> String {
    format!("line {n:05}\n")
}

/// A directory whose `logs/app.log` holds the numbered lines `lines`:
/// the directory, `logs/` and the file.
fn numbered_log(lines: std::ops::Range<usize>) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let live = logs.join("app.log");
    std::fs::write(&live, lines.map(line).collect::<String>()).unwrap();
    (dir, logs, live)
}

/// A rotated file compressed and deleted while the agent was stopped,
/// before it was finished (a rotated file is held a while after its end):
/// the `.gz` goes on from the original's checkpoint, at its end, instead
/// of being read again from its start.
#[test]
fn a_rotation_compressed_while_stopped_goes_on_from_its_checkpoint() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, logs, live) = numbered_log(0..200);
    let config = TailConfig {
        read_gzip: true,
        ..TailConfig::default()
    };
    let (mut tailer, mut rx) = stepped_with(dir.path(), "app.log*", config.clone());
    tailer.scan();
    read_and_send(&mut tailer);
    assert_eq!(deliver_all(&mut rx).len(), 200);
    let rotated = logs.join("app.log.1");
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::write(&live, line(200)).unwrap();
    tailer.scan();
    read_and_send(&mut tailer);
    assert_eq!(deliver_all(&mut rx), [line(200).trim_end()]);
    tailer.process_acks();
    tailer.housekeeping();
    tailer.finish();

    // Compressed as kubelet and logrotate do: a new file, the original
    // deleted.
    let gz = std::fs::File::create(logs.join("app.log.1.gz")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &std::fs::read(&rotated).unwrap()).unwrap();
    encoder.finish().unwrap();
    std::fs::remove_file(&rotated).unwrap();
    std::fs::write(&live, [line(200), line(201)].concat()).unwrap();

    let (mut successor, mut rx) = stepped_with(dir.path(), "app.log*", config);
    successor.scan();
    read_and_send(&mut successor);
    let after = deliver_all(&mut rx);
    assert_eq!(
        after,
        [line(201).trim_end()],
        "the compressed rotation was read again"
    );
}

/// Regression: a file that failed to open (deleted between the scan's look
/// and the open, a rotation race) stayed listed as unreadable for good, so
/// the list grew with every such file.
#[test]
fn a_file_that_failed_to_open_and_is_gone_is_forgotten() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "a line\n").unwrap();
    let (mut tailer, _rx) = stepped(dir.path());
    tailer.scan();
    for ino in 0..100 {
        let gone = logs.join(format!("app.log.{ino}"));
        tailer.open_found(&gone, FileId { dev: u64::MAX, ino }, false);
    }
    assert_eq!(tailer.unreadable.len(), 100);
    tailer.scan();
    assert!(tailer.unreadable.is_empty(), "{:?}", tailer.unreadable);
    assert_eq!(tailer.files.len(), 1, "the file that is there is tailed");
}

/// A handler that holds each line back until its next tick, as a CRI
/// partial waits for its end.
#[derive(Default)]
struct Holding {
    held: Option<(FileKey, u64)>,
}

impl LineHandler for Holding {
    fn handle(&mut self, line: RawLine<'_>, _out: &mut Emitter) {
        self.held.get_or_insert((line.file, line.start));
    }

    fn tick(&mut self, _now: std::time::Instant, _out: &mut Emitter) {
        self.held = None;
    }

    fn due(&self) -> Option<std::time::Instant> {
        None
    }

    fn held_from(&self, file: FileKey) -> Option<u64> {
        self.held
            .filter(|(f, _)| *f == file)
            .map(|(_, start)| start)
    }

    fn holds_nothing(&self) -> bool {
        self.held.is_none()
    }

    fn file_closed(&mut self, _file: FileKey, _out: &mut Emitter) {}

    fn discard(&mut self) {
        self.held = None;
    }
}

struct HoldingFactory(PlainFactory);

impl StreamFactory for HoldingFactory {
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec> {
        self.0.stream_for(path)
    }

    fn handler(&mut self, _spec: &StreamSpec, _path: &Path) -> Box<dyn LineHandler> {
        Box::new(Holding::default())
    }
}

/// Regression: a stream whose last file was closed for good (held past
/// `max_hold_secs`) while its handler held part of a record kept that
/// handler after the record went, for as long as the source ran.
#[test]
fn a_stream_closed_while_holding_a_record_is_forgotten_once_it_is_sent() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "the first piece of a line\n").unwrap();
    let plain = PlainFactory::new(Arc::default(), Attributes::default(), None);
    let (mut tailer, _rx) = stepped_by(
        dir.path(),
        "app.log*",
        TailConfig::default(),
        Box::new(HoldingFactory(plain)),
    );
    tailer.scan();
    read_and_send(&mut tailer);
    let key = *tailer.files.keys().next().expect("the file is tailed");
    std::fs::remove_file(logs.join("app.log")).unwrap();
    tailer.close(key, Some(crate::telemetry::events::LossReason::MaxHoldSecs));
    assert_eq!(tailer.streams.len(), 1, "its handler holds a record");
    tailer.scan();
    assert_eq!(tailer.streams.len(), 1, "still held");
    tailer.tick();
    tailer.scan();
    assert!(tailer.streams.is_empty(), "the stream is forgotten");
}

/// Lines read again after their batch was given up are flagged as
/// replayed (a throttle or log_to_metric counted them the first time);
/// lines read for the first time after them are not.
#[test]
fn lines_read_again_after_a_dropped_batch_are_flagged_replayed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..20).map(line).collect();
    let (_dir, live, mut tailer, mut rx) = read_log(&lines);
    tailer.flush_batch();
    let batch = rx.try_recv().expect("the first batch");
    let replayed = |batch: &EventBatch| -> Vec<bool> {
        batch
            .events()
            .iter()
            .map(|e| match e {
                crate::event::Event::Log(log) => {
                    log.flags.contains(crate::event::LogFlags::REPLAYED)
                }
                _ => false,
            })
            .collect()
    };
    assert_eq!(replayed(&batch), [false; 20]);
    batch.resolve(crate::event::AckStatus::Dropped);
    // Written meanwhile: read for the first time with the replay.
    let more: String = (20..25).map(line).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .and_then(|mut f| std::io::Write::write_all(&mut f, more.as_bytes()))
        .unwrap();

    std::thread::sleep(Duration::from_millis(300));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut flags = Vec::new();
    while flags.len() < 25 && std::time::Instant::now() < deadline {
        tailer.process_acks();
        read_and_send(&mut tailer);
        while let Ok(batch) = rx.try_recv() {
            flags.extend(replayed(&batch));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let expected: Vec<bool> = (0..25).map(|n| n < 20).collect();
    assert_eq!(flags, expected);
}

/// A busy file of short lines is read about a batch at a time: the batches
/// stay near `batch_max_events` (not a read budget's worth of records, a
/// vector grown by copying and pinned whole by every request a sink cut
/// from it), and together they hold every line once, in order.
#[test]
fn short_lines_are_cut_into_batches_near_their_size() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let lines: String = (0..60_000).map(|n| format!("l{n:06}\n")).collect();
    let dir = dir_with_log(&lines);
    let (mut tailer, mut rx) = stepped(dir.path());
    tailer.scan();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    for _ in 0..1000 {
        tailer.read_round();
        while let Ok(batch) = rx.try_recv() {
            sizes.push(batch.len());
            for event in batch.events() {
                if let crate::event::Event::Log(record) = event {
                    got.push(record.body.to_string());
                }
            }
        }
        if got.len() == 60_000 {
            break;
        }
    }
    tailer.flush_batch();
    got.extend(bodies(&mut rx));
    let want: Vec<String> = (0..60_000).map(|n| format!("l{n:06}")).collect();
    assert!(
        got == want,
        "{} lines, not every line once in order",
        got.len()
    );
    let max = TailConfig::default().batch_max_events;
    assert!(
        sizes.iter().all(|&n| n <= 2 * max),
        "batches of {sizes:?}, not near {max} records"
    );
    assert!(
        sizes.iter().filter(|&&n| n > batch_capacity(max)).count() <= 1,
        "batches of {sizes:?}, over {max} records and its room"
    );
}

/// A multiline group whose read ended in its middle is not cut by its
/// timeout while the rest of it lies unread in the file: the source was
/// held up (here by a read sized to the batch, then a wait past the
/// timeout, as a full pipeline makes it wait), not the writer. The same
/// holds for a CRI partial line and its next piece (both time out in the
/// handler's `tick`).
#[test]
fn a_group_whose_rest_is_unread_is_not_cut_by_its_timeout() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let head = "ERROR it broke\n  at first\n";
    let dir = dir_with_log(&format!("{head}  at second\n  at third\nINFO next\n"));
    let multiline: MultilineConfig =
        serde_yaml_ng::from_str("start_pattern: '^[^ ]'\ntimeout_ms: 20").unwrap();
    let config = TailConfig {
        read_budget_bytes: head.len(),
        unterminated_timeout_ms: 20,
        ..TailConfig::default()
    };
    let plain = PlainFactory::new(Arc::default(), Attributes::default(), Some(multiline));
    let (mut tailer, mut rx) = stepped_by(dir.path(), "app.log", config, Box::new(plain));
    tailer.scan();
    tailer.read_round();
    std::thread::sleep(Duration::from_millis(60));
    tailer.tick();
    for _ in 0..5 {
        tailer.read_round();
    }
    std::thread::sleep(Duration::from_millis(60));
    tailer.tick();
    tailer.flush_batch();
    assert_eq!(
        bodies(&mut rx),
        [
            "ERROR it broke\n  at first\n  at second\n  at third",
            "INFO next"
        ]
    );
}

/// Found while looking into the chaos harness's seed 6000 (whose loss was
/// another fault, see the CRI handler's
/// `a_partial_split_across_a_rotation_after_the_clock_went_back_is_joined`):
/// a record whose rest went to the successor of its rotated file, created
/// after the last scan, was cut by its timeout, because under load new
/// files are found by the scan every `scan_interval_ms`, as long as the
/// timeout. A CRI partial would go out alone and its end as a line of its
/// own. What is due times out only after a scan that started past its
/// deadline; here the multiline group's rest is in the new file.
#[test]
fn a_group_whose_rest_is_in_a_file_not_found_yet_is_not_cut_by_its_timeout() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let dir = dir_with_log("ERROR it broke\n  at first\n");
    let multiline: MultilineConfig =
        serde_yaml_ng::from_str("start_pattern: '^[^ ]'\ntimeout_ms: 20").unwrap();
    let config = TailConfig {
        unterminated_timeout_ms: 20,
        poll_interval_ms: 20,
        scan_interval_ms: 60_000,
        ..TailConfig::default()
    };
    let plain = PlainFactory::new(Arc::default(), Attributes::default(), Some(multiline));
    let (mut tailer, mut rx) = stepped_by(dir.path(), "app.log", config, Box::new(plain));
    tailer.scan();
    tailer.read_round();
    // Rotated (renamed, a new file in its place) after the scan.
    let logs = dir.path().join("logs");
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    std::fs::write(logs.join("app.log"), "  at second\nINFO next\n").unwrap();
    tailer.check_tracked(false);
    tailer.read_round();
    std::thread::sleep(Duration::from_millis(60));
    tailer.tick();
    tailer.flush_batch();
    assert_eq!(bodies(&mut rx), Vec::<String>::new(), "cut before the scan");
    for _ in 0..3 {
        tailer.read_round();
    }
    std::thread::sleep(Duration::from_millis(60));
    tailer.tick();
    for _ in 0..3 {
        tailer.read_round();
        std::thread::sleep(Duration::from_millis(30));
        tailer.tick();
    }
    tailer.flush_batch();
    assert_eq!(
        bodies(&mut rx),
        ["ERROR it broke\n  at first\n  at second", "INFO next"]
    );
}

/// A line longer than the first reads (sized for short lines until a line
/// ends) is read in a few reads, not in steps of the smallest one.
#[test]
fn a_long_line_is_read_in_a_few_reads() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let long = "x".repeat(400 * 1024);
    let dir = dir_with_log(&format!("{long}\nnext\n"));
    let (mut tailer, mut rx) = stepped(dir.path());
    tailer.scan();
    let mut rounds = 0;
    while tailer.emitter.len() < 2 && rounds < 1000 {
        tailer.read_round();
        rounds += 1;
    }
    tailer.flush_batch();
    let got = bodies(&mut rx);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), long.len());
    assert!(rounds <= 4, "{rounds} reads for a line of 400 KiB");
}

/// Chaos seed 7100: a record whose start ends a rotated file and whose
/// rest opens the next one went out as two batches' worth (the lines
/// before it in one, the joined record in the next); the later batch was
/// delivered and the earlier one not. The rotated file was read again
/// from before the record's start, and the new file was not read again
/// (its rest was settled), so the start went out alone. The newer file
/// must be read again from its start too.
#[test]
fn a_record_split_by_a_rotation_is_joined_again_when_its_start_is_read_again() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (_dir, mut tailer, mut rx) = split_record_delivered_before_its_start();
    let again = read_again(&mut tailer, &mut rx, 3);
    assert_joined_again(&again);
}

/// The same, with the engine stopped then (a SIGTERM): the checkpoint it
/// leaves for the new file is its start, not past the record's rest, so
/// that the next engine reads the rest with the start (a CRI line split by
/// kubelet's rotation is joined across the two files after a restart).
#[test]
fn the_rest_of_a_split_record_read_again_is_checkpointed_at_its_start() {
    use std::os::unix::fs::MetadataExt as _;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let (dir, mut tailer, _rx) = split_record_delivered_before_its_start();
    tailer.process_acks();
    tailer.finish();
    let meta = std::fs::metadata(dir.path().join("logs/app.log")).unwrap();
    let saved = Checkpoints::load(&dir.path().join("data"), "engine").unwrap();
    let offset = saved
        .get(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
        .map(|entry| entry.offset);
    assert_eq!(offset, Some(0), "the new file's checkpoint");
}

/// Plain lines, a line starting with a space continuing the one above.
fn stack_traces() -> PlainFactory {
    let multiline = MultilineConfig {
        preset: None,
        start_pattern: None,
        continuation_pattern: Some(r"^\s".to_owned()),
        timeout_ms: 60_000,
        max_lines: 100,
        max_bytes: 65_536,
    };
    PlainFactory::new(Arc::default(), Attributes::default(), Some(multiline))
}

/// A record split by a rotation (`ERROR boom` ending `app.log.1`, its
/// frame opening `app.log`) sent in the batch after the lines before it;
/// that batch delivered, the one before not. Call within a runtime.
fn split_record_delivered_before_its_start()
-> (tempfile::TempDir, Tailer, mpsc::Receiver<EventBatch>) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "first\nsecond\nERROR boom\n").unwrap();
    let (mut tailer, mut rx) = stepped_by(
        dir.path(),
        "app.log*",
        TailConfig::default(),
        Box::new(stack_traces()),
    );
    tailer.scan();
    read_and_send(&mut tailer);
    let before = rx.try_recv().expect("the lines before the record");
    // Rotated: the rest of the record opens the new file.
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    std::fs::write(logs.join("app.log"), "  at frame\nthird\n").unwrap();
    tailer.scan();
    read_and_send(&mut tailer);
    let joined = rx.try_recv().expect("the joined record");
    let texts = |batch: &EventBatch| -> Vec<String> {
        batch
            .events()
            .iter()
            .filter_map(|e| match e {
                crate::event::Event::Log(record) => Some(record.body.to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(texts(&before), ["first", "second"]);
    assert_eq!(texts(&joined), ["ERROR boom\n  at frame"]);
    // Out of order: the later batch is delivered, the earlier is not.
    joined.resolve(crate::event::AckStatus::Delivered);
    before.resolve(crate::event::AckStatus::Dropped);
    (dir, tailer, rx)
}

fn assert_joined_again(again: &[String]) {
    assert!(
        again.iter().any(|b| b == "ERROR boom\n  at frame"),
        "the record was not joined again: {again:?}"
    );
    assert!(
        !again.iter().any(|b| b == "ERROR boom"),
        "its start went out alone: {again:?}"
    );
}
