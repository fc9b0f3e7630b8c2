//! Hostile plugins against the host resources a plugin can make the agent
//! spend: descriptors, blocking threads, host memory, and plugin files that
//! are not files. Each attack is contained (its check fails with a clear
//! outcome, within its deadline), the agent's descriptors, threads and peak
//! memory stay within bounds (printed beside an agent without the attacks),
//! and a well-behaved check keeps its schedule.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::last_result;
use crate::support::agent::{Agent, binary};
use crate::support::plugins::test_plugin;
use crate::support::wait_for;

/// A field of `/proc/<pid>/status` in its own unit (kB, or a count).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Bytes the process has written through `write(2)` and friends.
fn written_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("wchar: ")?.parse().ok())
        .expect("wchar in /proc/<pid>/io")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn runs(agent: &Agent, check: &str, outcome: &str) -> f64 {
    agent
        .metric(&format!(
            "neurallog_agent_check_runs_total{{check=\"{check}\",outcome=\"{outcome}\"}}"
        ))
        .unwrap_or(0.0)
}

fn component_error(agent: &Agent, id: &str) -> Option<String> {
    // Before the admin server is up there is no status yet.
    let (_, body) = crate::support::net::http_get(agent.admin, "/status")?;
    let status: serde_json::Value = serde_json::from_str(&body).ok()?;
    let component = status["components"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)?
        .clone();
    (component["state"] == "failed").then(|| component["error"].as_str().unwrap_or("").to_owned())
}

/// Checks every configuration below has: a heartbeat and a well-behaved
/// plugin, each every second.
fn good_checks() -> String {
    format!(
        "
  beat:
    type: heartbeat
    interval_secs: 1
    jitter_percent: 0
  fine:
    type: wasm
    path: {ok}
    interval_secs: 1
    jitter_percent: 0",
        ok = test_plugin("ok").display()
    )
}

fn config(checks: &str, inputs: &str) -> String {
    format!(
        "
data_dir: {{data_dir}}
checks:{good}{checks}
sinks:
  prom:
    type: prometheus
    inputs: [beat, fine{inputs}]
",
        good = good_checks()
    )
}

#[test]
fn descriptor_thread_memory_and_file_attacks_are_contained() {
    // Baseline: the same agent without the attacks, its peak RSS after as
    // many runs as the attacked one gets.
    let mut baseline = Agent::start(&config("", ""));
    baseline.wait_ready();
    wait_for("baseline runs", Duration::from_secs(60), || {
        (runs(&baseline, "fine", "ok") >= 8.0).then_some(())
    });
    let base_pid = baseline.child.as_ref().unwrap().id();
    let base_rss_kb = proc_status(base_pid, "VmHWM");
    let base_fds = open_descriptors(base_pid);
    baseline.terminate(Duration::from_secs(30));

    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("file.txt"), "x").unwrap();
    mkfifo(&granted.path().join("pipe"));
    let files = tempfile::tempdir().unwrap();
    mkfifo(&files.path().join("fifo.wasm"));
    std::os::unix::fs::symlink("/dev/zero", files.path().join("zero.wasm")).unwrap();
    let p = |name: &str| test_plugin(name).display().to_string();
    let attacks = format!(
        "
  fds:
    type: wasm
    path: {fdhog}
    interval_secs: 1
    jitter_percent: 0
    config: {{path: \"{granted}/file.txt\", count: 100000}}
    grants: {{directories: [\"{granted}\"]}}
  fifo:
    type: wasm
    path: {fsreader}
    interval_secs: 1
    jitter_percent: 0
    config: {{path: \"{granted}/pipe\"}}
    grants: {{directories: [\"{granted}\"]}}
    limits: {{timeout_ms: 2000}}
  alias:
    type: wasm
    path: {badoutput}
    interval_secs: 1
    jitter_percent: 0
    config: {{mode: alias, bytes: 1048576, count: 128}}
    limits: {{memory_bytes: 16777216}}
  shout:
    type: wasm
    path: {badoutput}
    interval_secs: 1
    jitter_percent: 0
    config: {{mode: huge-error, bytes: 12582912}}
    limits: {{memory_bytes: 33554432}}
  scribble:
    type: wasm
    path: {statehog}
    interval_secs: 1
    jitter_percent: 0
    config: {{mode: rewrite, count: 10000, bytes: 61440}}
    limits: {{max_state_bytes: 65536}}
  vain:
    type: wasm
    path: {bigdescribe}
    interval_secs: 1
  fifofile:
    type: wasm
    path: {files}/fifo.wasm
    interval_secs: 1
  zerofile:
    type: wasm
    path: {files}/zero.wasm
    interval_secs: 1",
        fdhog = p("fdhog"),
        fsreader = p("fsreader"),
        badoutput = p("badoutput"),
        bigdescribe = p("bigdescribe"),
        statehog = p("statehog"),
        granted = granted.path().display(),
        files = files.path().display(),
    );
    let agent = Agent::start(&config(
        &attacks,
        ", fds, fifo, alias, shout, scribble, vain, fifofile, zerofile",
    ));
    let pid = agent.child.as_ref().unwrap().id();
    let written_at_start = written_bytes(pid);
    // Plugins that never load keep the agent from being all-ready.
    wait_for("the admin server", Duration::from_secs(60), || {
        crate::support::net::http_get(agent.admin, "/healthz")
    });

    // Sample descriptors and threads while the attacks run.
    let mut max_fds = 0;
    let mut threads_early = None;
    let started = Instant::now();
    wait_for(
        "every attack, three times or more",
        Duration::from_secs(90),
        || {
            max_fds = max_fds.max(open_descriptors(pid));
            let fifo_runs = runs(&agent, "fifo", "failed");
            if fifo_runs >= 2.0 && threads_early.is_none() {
                threads_early = Some(proc_status(pid, "Threads"));
            }
            // Three failed runs in a row quarantine a plugin.
            (runs(&agent, "fds", "handle_budget_exceeded") >= 3.0
                && fifo_runs >= 10.0
                && runs(&agent, "alias", "output_too_large") >= 3.0
                && runs(&agent, "shout", "output_too_large") >= 3.0
                && runs(&agent, "scribble", "state_write_budget_exceeded") >= 3.0
                && runs(&agent, "fine", "ok") >= 8.0)
                .then_some(())
        },
    );
    let elapsed = started.elapsed();
    let threads_late = proc_status(pid, "Threads");
    let threads_early = threads_early.unwrap();
    let rss_kb = proc_status(pid, "VmHWM");
    let written = written_bytes(pid) - written_at_start;
    let scribbles = runs(&agent, "scribble", "state_write_budget_exceeded");
    eprintln!(
        "written by the agent: {written} bytes over {scribbles} state-flooding runs; \
         peak RSS: {base_rss_kb} kB without the attacks, {rss_kb} kB with them; \
         descriptors: {base_fds} without, at most {max_fds} with; \
         threads after 2 FIFO runs: {threads_early}, after 10: {threads_late}"
    );

    // Descriptors: one run holds at most its 64 handles.
    assert!(
        max_fds <= base_fds + 64 + 32,
        "{max_fds} descriptors open (baseline {base_fds})"
    );
    let fds = last_result(&agent, "fds");
    assert!(
        fds.to_string().contains("more than 64 WASI handles"),
        "{fds}"
    );

    // Blocked threads: a FIFO is refused at once, so no run leaves one.
    let fifo = last_result(&agent, "fifo");
    assert!(fifo.to_string().contains("ermission denied"), "{fifo}");
    assert!(
        threads_late <= threads_early + 4,
        "threads grew from {threads_early} to {threads_late} over 8 FIFO runs"
    );
    assert_eq!(runs(&agent, "fifo", "deadline_exceeded"), 0.0);

    // Host memory: the aliased result and the 12 MiB error message are
    // refused before the host copies them; the 32 MiB description too.
    for check in ["alias", "shout"] {
        let result = last_result(&agent, check);
        assert!(
            result.to_string().contains("lift budget of 9437184 bytes"),
            "{check}: {result}"
        );
    }
    // Guest memory (16 + 32 + 64 MiB caps, touched only in part) is the
    // plugins'; what the host allocated on their behalf is not: 128 MiB
    // per aliased run if it were copied.
    assert!(
        rss_kb <= base_rss_kb + 96 * 1024,
        "peak RSS {rss_kb} kB against {base_rss_kb} kB without the attacks"
    );

    // Disk writes: each flooding run stops at its 4 MiB budget, which the
    // log takes twice over (values are hex) and compaction at most doubles
    // again; rewriting the 60 KiB store on every set wrote 1.2 GB per run
    // (60 KiB hex-encoded, 10,000 times).
    assert!(
        written as f64 <= scribbles * 4.5 * 4194304.0 + 16.0 * 1048576.0,
        "{written} bytes written over {scribbles} runs"
    );
    let scribble = last_result(&agent, "scribble");
    assert!(
        scribble
            .to_string()
            .contains("more than 4194304 bytes written to the plugin's state"),
        "{scribble}"
    );

    // Plugin files that are not files fail to load, at once and clearly.
    let vain = component_error(&agent, "vain").unwrap_or_default();
    assert!(vain.contains("output_too_large"), "{vain}");
    let fifofile = component_error(&agent, "fifofile").unwrap_or_default();
    assert!(
        fifofile.contains("not a regular file but a FIFO"),
        "{fifofile}"
    );
    let zerofile = component_error(&agent, "zerofile").unwrap_or_default();
    assert!(
        zerofile.contains("not a regular file but a character device"),
        "{zerofile}"
    );

    // The good checks kept their one-second schedule throughout.
    let fine_before = runs(&agent, "fine", "ok");
    let beats_before = runs(&agent, "beat", "ok");
    std::thread::sleep(Duration::from_secs(3));
    assert!(runs(&agent, "fine", "ok") >= fine_before + 2.0);
    assert!(runs(&agent, "beat", "ok") >= beats_before + 2.0);
    assert_eq!(agent.get("/healthz").0, 200);
    assert!(elapsed < Duration::from_secs(90));
}

#[test]
fn plugin_run_on_a_fifo_exits_within_its_deadline() {
    let granted = tempfile::tempdir().unwrap();
    mkfifo(&granted.path().join("pipe"));
    let config = granted.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({ "path": granted.path().join("pipe") }).to_string(),
    )
    .unwrap();
    let (agent, plugin) = (binary(), test_plugin("fsreader"));
    let started = Instant::now();
    let mut child = Command::new(agent)
        .args(["plugin", "run"])
        .arg(plugin)
        .arg("--config")
        .arg(&config)
        .arg("--grant-dir")
        .arg(granted.path())
        .args(["--timeout-ms", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for("plugin run to exit", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("\"outcome\": \"failed\""), "{stdout}");
    assert!(stdout.contains("ermission denied"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn server_names_granted_paths_the_cache_and_the_log_cannot_be_turned_against_the_agent() {
    // A listener at a granted TLS target: no probe with a server name of
    // the plugin's choosing may reach it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap();
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&granted).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(granted.join("file.txt"), "granted content").unwrap();
    std::fs::write(elsewhere.join("file.txt"), "secret").unwrap();
    // A plugin cache directory others may write to: refused, not used.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/plugin-cache")).unwrap();
    let forged = "FORGED  INFO neurallog_agent: Configuration reloaded.";
    let yaml = format!(
        "
data_dir: {{data_dir}}
log: {{level: info, format: text}}
checks:
  beat:
    type: heartbeat
    interval_secs: 1
    jitter_percent: 0
  exfil:
    type: wasm
    path: {tlsprobe}
    interval_secs: 1
    jitter_percent: 0
    config: {{host: 127.0.0.1, port: {port}, server_name: c2VjcmV0LWZpbGU.example}}
    grants: {{tls_targets: [\"{target}\"]}}
  swap:
    type: wasm
    path: {fsreader}
    interval_secs: 1
    jitter_percent: 0
    config: {{path: \"{granted}/file.txt\"}}
    grants: {{directories: [\"{granted}\"]}}
  forge:
    type: wasm
    path: {logflood}
    interval_secs: 1
    jitter_percent: 0
    config: {{lines: 1, fail: true, message: \"done\\n{forged}\\r\"}}
sinks:
  prom:
    type: prometheus
    inputs: [beat, exfil, swap, forge]
",
        tlsprobe = test_plugin("tlsprobe").display(),
        fsreader = test_plugin("fsreader").display(),
        logflood = test_plugin("logflood").display(),
        port = target.port(),
        granted = granted.display(),
    );
    std::fs::set_permissions(
        dir.path().join("data/plugin-cache"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // Refused at start, as a fatal start-up error that says why.
    let mut refused = Agent::start_in(dir, &yaml, &[]);
    let status = refused.wait_exit(Duration::from_secs(60));
    assert!(!status.success());
    let stderr = refused.stderr();
    assert!(
        stderr.contains("cannot use plugin cache directory")
            && stderr.contains("with mode 777: expected a directory owned by the agent's user"),
        "{stderr}"
    );
    drop(refused);

    let agent = Agent::start(&yaml);
    wait_for("the first runs", Duration::from_secs(60), || {
        (last_result(&agent, "swap")["status"] == "ok"
            && runs(&agent, "exfil", "ok") >= 1.0
            && runs(&agent, "forge", "failed") >= 1.0)
            .then_some(())
    });
    // The granted path is swapped for a link to another directory.
    std::fs::rename(&granted, root.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &granted).unwrap();
    let swapped_at = runs(&agent, "swap", "ok");
    wait_for("runs after the swap", Duration::from_secs(30), || {
        (runs(&agent, "swap", "ok") >= swapped_at + 2.0).then_some(())
    });
    let swap = last_result(&agent, "swap");
    assert!(swap.to_string().contains("granted content"), "{swap}");
    assert!(!swap.to_string().contains("secret"), "{swap}");

    let exfil = last_result(&agent, "exfil");
    assert!(
        exfil.to_string().contains("with that server name"),
        "{exfil}"
    );
    assert!(
        listener.accept().is_err(),
        "no probe reached the granted target"
    );

    // The forged line is inside the plugin's own line, escaped.
    let stderr = agent.stderr();
    assert!(stderr.contains("done\\n"), "{stderr}");
    assert!(
        !stderr.lines().any(|line| line.starts_with("FORGED")),
        "a plugin started a line of the agent's log:\n{stderr}"
    );
    // The heartbeat kept its schedule beside them.
    let beats = runs(&agent, "beat", "ok");
    wait_for("two more heartbeats", Duration::from_secs(10), || {
        (runs(&agent, "beat", "ok") >= beats + 2.0).then_some(())
    });
}
