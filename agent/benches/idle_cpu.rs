//! The idle agent's CPU use: the release binary with host metrics every
//! 10 s exposed on the admin `/metrics`, measured as utime + stime from
//! `/proc/<pid>/stat` over a minute after a warm-up. Run with `cargo bench
//! -p neurallog-agent --bench idle_cpu`; `IDLE_SECS` changes the minute,
//! `IDLE_BUDGET_PERCENT` the budget (CI's smoke run: a few seconds against
//! ten times it) and `NEURALLOG_AGENT_BIN` the binary (default: the one
//! built with this bench). Exits non-zero above half a percent of one core,
//! and when the agent is not alive and answering at the end (a process
//! that died at start would measure as idle).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const BUDGET_PERCENT: f64 = 0.5;

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the agent is running");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// The body of `GET /metrics` on the admin address, if it answers 200.
fn admin_metrics(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

fn main() {
    let secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let budget: f64 = std::env::var("IDLE_BUDGET_PERCENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BUDGET_PERCENT);
    let agent = std::env::var_os("NEURALLOG_AGENT_BIN").map_or_else(
        || env!("CARGO_BIN_EXE_neurallog-agent").into(),
        PathBuf::from,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = format!(
        "data_dir: {}\nadmin:\n  address: 127.0.0.1:{port}\nlog:\n  level: warn\nsources:\n  host:\n    type: host_metrics\n    interval_secs: 10\nsinks:\n  metrics:\n    type: prometheus\n    inputs: [host]\n",
        dir.path().join("data").display()
    );
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, config).expect("write config");
    let mut child = Command::new(&agent)
        .arg("run")
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    std::thread::sleep(Duration::from_secs(5));
    let hz = rustix::param::clock_ticks_per_second().max(1) as f64;
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(secs));
    let after = cpu_ticks(child.id());
    let exited = child.try_wait().ok().flatten();
    let metrics = admin_metrics(port);
    let _ = child.kill();
    let _ = child.wait();
    if let Some(status) = exited {
        println!("FAIL: the agent exited ({status}); its CPU use says nothing");
        std::process::exit(1);
    }
    if !metrics.is_some_and(|m| m.contains("neurallog_agent_")) {
        println!("FAIL: the agent did not answer /metrics at the end");
        std::process::exit(1);
    }
    let cpu_secs = (after - before) as f64 / hz;
    let percent = 100.0 * cpu_secs / secs as f64;
    println!(
        "idle agent, host_metrics every 10 s: {cpu_secs:.3} s of CPU (utime+stime) in {secs} s = {percent:.3}% of one core (budget {budget}%)"
    );
    if percent > budget {
        println!("FAIL: over budget");
        std::process::exit(1);
    }
    println!("PASS");
}
