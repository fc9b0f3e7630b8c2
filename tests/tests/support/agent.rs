//! The real `neurallog-agent` binary, started with a test configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::net::{free_port, http_get};
use super::wait_for;

/// Path of the binary under test: `NEURALLOG_AGENT_BIN`, or the workspace's
/// `neurallog-agent` built (once per test run) with the same profile and
/// target directory as this test binary. Cargo only provides
/// `CARGO_BIN_EXE_*` to tests of the binary's own package, and the
/// integration tests are a crate of their own.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_binary).clone()
}

fn build_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NEURALLOG_AGENT_BIN") {
        return PathBuf::from(path);
    }
    // This test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps layout");
    let target_dir = profile_dir.parent().expect("target dir");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "neurallog-agent",
        "--bin",
        "neurallog-agent",
    ])
    .env("CARGO_TARGET_DIR", target_dir)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build for neurallog-agent");
    assert!(status.success(), "building neurallog-agent failed");
    profile_dir.join("neurallog-agent")
}

/// Run the binary to completion with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run neurallog-agent")
}

/// A running agent in its own temporary directory.
pub struct Agent {
    /// The child process.
    pub child: Option<Child>,
    /// The admin server's address.
    pub admin: SocketAddr,
    /// Temporary directory: `data/` is its data_dir, `agent.yaml` its config.
    pub dir: tempfile::TempDir,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The agent's stdout when started with [`Agent::start_piped`]: not
    /// read until the test reads it, so a `console` sink blocks when the
    /// pipe is full — a sink that is down, as far as the agent can tell.
    pub stdout_pipe: Option<std::process::ChildStdout>,
}

impl Agent {
    /// Write `yaml` to `agent.yaml` in a fresh directory and start the agent
    /// on it. `{data_dir}`, `{dir}` and `{admin}` in `yaml` are replaced.
    pub fn start(yaml: &str) -> Agent {
        Self::start_in(tempfile::tempdir().expect("temp dir"), yaml, &[])
    }

    /// Like [`Agent::start`], with extra environment variables.
    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Agent {
        Self::start_in(tempfile::tempdir().expect("temp dir"), yaml, env)
    }

    /// Start with stdout on a pipe the test reads from (see
    /// [`Agent::stdout_pipe`]).
    pub fn start_piped(dir: tempfile::TempDir, yaml: &str) -> Agent {
        Self::spawn(dir, yaml, &[], true)
    }

    /// Start in an existing directory (to restart on the same data_dir).
    pub fn start_in(dir: tempfile::TempDir, yaml: &str, env: &[(&str, &str)]) -> Agent {
        Self::spawn(dir, yaml, env, false)
    }

    fn spawn(dir: tempfile::TempDir, yaml: &str, env: &[(&str, &str)], piped: bool) -> Agent {
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let config = render(yaml, dir.path(), admin);
        let config_path = dir.path().join("agent.yaml");
        std::fs::write(&config_path, config).expect("write config");
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let mut child = Command::new(binary())
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            // The test's own `RUST_LOG` is not the agent's; a test that
            // wants one passes it in `env`.
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(if piped {
                Stdio::piped()
            } else {
                Stdio::from(std::fs::File::create(&stdout).expect("stdout file"))
            })
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn neurallog-agent");
        let stdout_pipe = child.stdout.take();
        Agent {
            child: Some(child),
            admin,
            dir,
            stdout,
            stderr,
            stdout_pipe,
        }
    }

    /// Wait until `/readyz` answers 200.
    pub fn wait_ready(&mut self) {
        let admin = self.admin;
        let mut exited = None;
        wait_for("the agent to be ready", Duration::from_secs(60), || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                exited = Some(status);
                return Some(());
            }
            http_get(admin, "/readyz")
                .filter(|(code, _)| *code == 200)
                .map(|_| ())
        });
        if let Some(status) = exited {
            panic!(
                "the agent exited before becoming ready ({status}):\n{}",
                self.stderr()
            );
        }
    }

    /// GET an admin path; panics if the agent does not answer.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
            .unwrap_or_else(|| panic!("admin {path} did not answer\n{}", self.stderr()))
    }

    /// The value of the first `/metrics` sample whose line starts with
    /// `series` (name and labels as rendered), if any.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// The sum of the `/metrics` samples of `name` whose labels contain
    /// every one of `labels` (`key="value"`); 0 when there is none.
    pub fn metric_sum(&self, name: &str, labels: &[&str]) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
                    && labels.iter().all(|l| line.contains(l))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            // Not `sum()`: the sum of no floats is -0, printed as "-0".
            .fold(0.0, |total, value| total + value)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Rewrite the configuration file (placeholders replaced).
    pub fn write_config(&self, yaml: &str) {
        let config = render(yaml, self.dir.path(), self.admin);
        let tmp = self.dir.path().join("agent.yaml.tmp");
        std::fs::write(&tmp, config).expect("write config");
        std::fs::rename(&tmp, self.dir.path().join("agent.yaml")).expect("replace config");
    }

    /// Send a signal to the agent.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM and wait (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(timeout)
    }

    /// Wait for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let status = wait_for("the agent to exit", timeout, || {
            child.try_wait().ok().flatten()
        });
        self.child = None;
        status
    }

    /// SIGKILL, no shutdown.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the process (SIGKILL) and hand back the directory, to restart
    /// on the same state.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self.kill9();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// The plugin workers it runs (its children started as
    /// `plugin-worker`), by pid.
    pub fn plugin_workers(&self) -> Vec<u32> {
        let Some(agent_pid) = self.child.as_ref().map(|c| c.id().to_string()) else {
            return Vec::new();
        };
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // The parent's pid is the 2nd field after the command's name.
                let parent = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1));
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                parent == Some(agent_pid.as_str())
                    && String::from_utf8_lossy(&cmdline).contains("plugin-worker")
            })
            .collect();
        pids.sort_unstable();
        pids
    }

    /// What the agent printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What the agent logged on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn render(yaml: &str, dir: &Path, admin: SocketAddr) -> String {
    let yaml = yaml
        .replace("{data_dir}", &dir.join("data").display().to_string())
        .replace("{dir}", &dir.display().to_string())
        .replace("{admin}", &admin.to_string());
    if yaml.contains("admin:") {
        yaml
    } else {
        format!("admin:\n  address: {admin}\n{yaml}")
    }
}
