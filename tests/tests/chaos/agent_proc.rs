//! The agent under test across its lives: its configuration (which the
//! reload faults change), start, kill -9 or SIGTERM and start again on the
//! same data directory, and the counters it reports on `/metrics`, summed
//! over every life (a restart starts them at zero again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::agent::Agent;
use crate::support::net::http_get;

/// The configuration, as the reload faults change it.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The data directory (maybe a small tmpfs).
    pub data_dir: PathBuf,
    /// Where the logs and pods are.
    pub root: PathBuf,
    /// The ingest.
    pub endpoint: String,
    /// The second sink's receiver.
    pub mirror_endpoint: String,
    /// `none`, `gzip` or `zstd`.
    pub compression: &'static str,
    /// Whether the include matches rotated names.
    pub include_rotated: bool,
    /// Whether `extra/` is included (once added, it stays).
    pub include_extra: bool,
    /// Which way of writing the include (a reload toggles it).
    pub include_variant: u32,
    /// Which poll interval the pods source has (a reload toggles it, so
    /// that source is rebuilt too).
    pub pods_variant: u32,
    /// Which batch settings (a reload moves through them).
    pub batch_variant: u32,
    /// Whether the second sink is there.
    pub mirror: bool,
    /// Sent by the second sink in a header, one more each time a reload
    /// adds it (see [`super::mirror`]).
    pub mirror_stretch: u32,
    /// Whether the ingest's sink goes by its second name (`shipping`, not
    /// `ingest`): a reload renaming it replaces the sink by another.
    pub renamed: bool,
    /// Which transforms stand between the log sources and the ingest
    /// sink (a reload moves through them): none; a filter that drops
    /// nothing; a parse (regex, unparsed lines passed) then that filter;
    /// a route splitting plain files from the rest, both outputs read by
    /// the sink; a Wasm processor (a test processor tagging each record,
    /// in its plugin worker process, holding a batch it fails): of world
    /// `processor` in even rounds of the variants, `column-processor` in
    /// odd ones.
    pub transform_variant: u32,
    /// How the configuration is broken, if it is (see [`Broken`]).
    pub broken: Broken,
}

/// A broken configuration, as an operator's edit breaks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// Not broken.
    No,
    /// YAML that does not parse.
    Yaml,
    /// A sink reading an input that does not exist (`validate` refuses it).
    UnknownInput,
    /// The ingest sink's token file missing: valid, but the sink does not
    /// build (the agent runs the one it replaced again).
    MissingTokenFile,
}

/// How many transform variants a reload moves through (see
/// [`AgentConfig::transform_variant`]).
pub const TRANSFORM_VARIANTS: u32 = 5;

/// The transform variant with the Wasm processor.
pub const PROCESSOR_VARIANT: u32 = 4;

/// A counter as `/metrics` shows it, summed over the agent's lives.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// `neurallog_agent_file_bytes_lost_total`, per stream and reason.
    pub lost_bytes: BTreeMap<(String, String), f64>,
    /// Every other series we watch, by name and its interesting label.
    pub values: BTreeMap<String, f64>,
}

/// The agent and its history.
pub struct AgentProc {
    agent: Option<Agent>,
    dir: Option<tempfile::TempDir>,
    /// The current configuration.
    pub config: AgentConfig,
    /// What the finished lives counted.
    pub past: Counters,
    /// What the current life counted at the last sample.
    pub current: Counters,
    /// Panics or crashes seen in the agent's own log.
    pub crashes: Vec<String>,
    /// Exit statuses of SIGTERMs that were not 0.
    pub bad_exits: Vec<String>,
    /// Where every life's log is appended, if anywhere.
    log: Option<PathBuf>,
}

/// A tmpfs mounted on the data directory for the disk-full fault,
/// unmounted when dropped (also on panic).
pub struct Tmpfs {
    path: PathBuf,
}

// === impl AgentConfig ===

impl AgentConfig {
    /// The YAML.
    pub fn render(&self) -> String {
        let root = self.root.display();
        let logs = if self.include_rotated {
            "*.log*"
        } else {
            "*.log"
        };
        let mut include = match self.include_variant % 2 {
            0 => vec![format!("'{root}/logs/{logs}'")],
            // Other globs, the same files: the source is rebuilt, its
            // checkpoints are not.
            _ => vec![
                format!("'{root}/logs/s0[0-4]{logs}'"),
                format!("'{root}/logs/s[0-9][0-9]{logs}'"),
            ],
        };
        if self.include_extra {
            include.push(format!("'{root}/extra/*.log'"));
        }
        let (max_events, batch_timeout) = match self.batch_variant % 3 {
            0 => (500, 200),
            1 => (50, 50),
            _ => (2000, 1000),
        };
        let (transforms, logs) = match self.transform_variant % TRANSFORM_VARIANTS {
            0 => (String::new(), "files, pods"),
            1 => (
                "
transforms:
  kept:
    type: filter
    inputs: [files, pods]
    drop: { field: body, regex: '^never ' }
"
                .to_owned(),
                "kept",
            ),
            3 => (
                "
transforms:
  split:
    type: route
    inputs: [files, pods]
    routes:
      plain: { field: body, regex: '^chaos s[0-9]' }
"
                .to_owned(),
                "split.plain, split._unmatched",
            ),
            PROCESSOR_VARIANT => (
                format!(
                    "
transforms:
  tagged:
    type: wasm
    inputs: [files, pods]
    path: {}
    on_error: retry
",
                    crate::support::plugins::test_plugin(
                        match (self.transform_variant / TRANSFORM_VARIANTS) % 2 {
                            0 => "processor",
                            _ => "columns",
                        }
                    )
                    .display()
                ),
                "tagged",
            ),
            _ => (
                "
transforms:
  fields:
    type: parse
    inputs: [files, pods]
    format: regex
    pattern: '^chaos (?P<stream>\\S+) (?P<seq>[0-9]+)'
  kept:
    type: filter
    inputs: [fields]
    drop: { all: [ { field: attributes.seq, exists: true }, { field: body, regex: '^never ' } ] }
"
                .to_owned(),
                "kept",
            ),
        };
        let mut yaml = format!(
            "
data_dir: {data_dir}
shutdown_timeout_secs: 5
sources:
  files:
    type: file
    include: [{include}]
    poll_interval_ms: 100
    checkpoint_interval_ms: 300
  pods:
    type: kubernetes_logs
    pods_dir: {root}/pods
    node_name: chaos-node
    kubelet:
      enabled: false
    read_gzip: true
    poll_interval_ms: {pods_poll}
    checkpoint_interval_ms: 300
  host:
    type: host_metrics
    interval_secs: 1
{transforms}sinks:
  {sink}:
    type: otlp_http
    inputs: [{logs}, host]
    endpoint: {endpoint}
    compression: {compression}
    timeout_ms: 2000
    batch: {{max_events: {max_events}, timeout_ms: {batch_timeout}}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 1000}}
    auth: {{bearer_token_file: {root}/{token}}}
    queue: {{max_bytes: 1048576}}
",
            data_dir = self.data_dir.display(),
            include = include.join(", "),
            endpoint = self.endpoint,
            compression = self.compression,
            sink = if self.renamed { "shipping" } else { "ingest" },
            pods_poll = 100 + 50 * (self.pods_variant % 2),
            token = match self.broken {
                Broken::MissingTokenFile => "token-missing",
                _ => "token",
            },
        );
        // For a diagnosis: `CHAOS_AGENT_LOG_LEVEL=info,neurallog_agent::app=debug`.
        if let Ok(level) = std::env::var("CHAOS_AGENT_LOG_LEVEL") {
            yaml.insert_str(0, &format!("log: {{level: '{level}'}}\n"));
        }
        if self.mirror {
            yaml.push_str(&format!(
                "  mirror:
    type: otlp_http
    inputs: [files, pods]
    endpoint: {}
    headers: {{{}: '{}'}}
    retry: {{initial_backoff_ms: 50, max_backoff_ms: 1000}}
",
                self.mirror_endpoint,
                super::mirror::HEADER,
                self.mirror_stretch,
            ));
        }
        match self.broken {
            Broken::No | Broken::MissingTokenFile => {}
            Broken::Yaml => yaml.push_str("  console: {type: console, inputs: [files\n"),
            Broken::UnknownInput => {
                yaml.push_str("  console:\n    type: console\n    inputs: [file]\n");
            }
        }
        yaml
    }
}

// === impl AgentProc ===

impl AgentProc {
    /// Start the agent on `config` and wait until it is ready.
    /// Every life's log is appended to `log`, or to the file
    /// `CHAOS_AGENT_LOG` names.
    pub fn start(config: AgentConfig, log: Option<PathBuf>) -> AgentProc {
        let mut proc = AgentProc {
            agent: None,
            dir: Some(tempfile::tempdir().expect("temp dir")),
            config,
            past: Counters::default(),
            current: Counters::default(),
            crashes: Vec::new(),
            bad_exits: Vec::new(),
            log: log.or_else(|| std::env::var_os("CHAOS_AGENT_LOG").map(PathBuf::from)),
        };
        proc.spawn();
        proc
    }

    fn spawn(&mut self) {
        let dir = self.dir.take().expect("the agent is stopped");
        let mut agent = Agent::start_in(dir, &self.config.render(), &[]);
        agent.wait_ready();
        self.agent = Some(agent);
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.agent.is_some()
    }

    /// Read the counters we watch from `/metrics` (kept from the last
    /// sample if it does not answer).
    pub fn sample(&mut self) {
        let Some(agent) = &self.agent else { return };
        let Some((200, text)) = http_get(agent.admin, "/metrics") else {
            return;
        };
        self.current = parse_counters(&text);
    }

    /// kill -9 (sampled just before).
    pub fn kill9(&mut self) {
        self.sample();
        if let Some(agent) = self.agent.take() {
            self.end_life(agent.stderr());
            self.dir = Some(agent.into_dir());
        }
    }

    /// SIGTERM and wait for the exit (sampled just before).
    pub fn terminate(&mut self) {
        self.sample();
        if let Some(mut agent) = self.agent.take() {
            let status = agent.terminate(Duration::from_secs(30));
            if !status.success() {
                self.bad_exits.push(status.to_string());
            }
            self.end_life(agent.stderr());
            self.dir = Some(agent.into_dir());
        }
    }

    /// Start again after [`AgentProc::kill9`] or [`AgentProc::terminate`].
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Write the current configuration and send SIGHUP.
    pub fn reload(&mut self) {
        if let Some(agent) = &self.agent {
            agent.write_config(&self.config.render());
            agent.signal("HUP");
        }
    }

    /// Its plugin workers' pids.
    pub fn plugin_workers(&self) -> Vec<u32> {
        self.agent
            .as_ref()
            .map(Agent::plugin_workers)
            .unwrap_or_default()
    }

    /// Send SIGHUP with the configuration unchanged.
    pub fn hup(&self) {
        if let Some(agent) = &self.agent {
            agent.signal("HUP");
        }
    }

    /// The counters over every life, the current one as last sampled.
    pub fn totals(&self) -> Counters {
        let mut total = self.past.clone();
        total.add(&self.current);
        total
    }

    fn end_life(&mut self, stderr: String) {
        // For a post-mortem: every life's log, appended.
        if let Some(path) = &self.log {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the agent's log file");
            std::io::Write::write_all(&mut log, stderr.as_bytes())
                .expect("write the agent's log file");
        }
        let mut current = std::mem::take(&mut self.current);
        // Bytes given up as the agent stopped (batches never answered) are
        // counted after the last sample: the log has every give-up of this
        // life, and it is never less than what `/metrics` showed.
        let logged = lost_bytes_logged(&stderr);
        if logged.values().sum::<f64>() > current.lost_bytes.values().sum::<f64>() {
            current.lost_bytes = logged;
        }
        self.past.add(&current);
        for line in stderr.lines() {
            if line.contains("panicked") || line.contains("RUST_BACKTRACE") {
                self.crashes.push(line.chars().take(300).collect());
            }
        }
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        // The agent's own Drop kills it; this only keeps the order clear.
        self.agent.take();
    }
}

// === impl Counters ===

impl Counters {
    fn add(&mut self, other: &Counters) {
        for (key, value) in &other.lost_bytes {
            *self.lost_bytes.entry(key.clone()).or_default() += value;
        }
        for (key, value) in &other.values {
            *self.values.entry(key.clone()).or_default() += value;
        }
    }

    /// A watched series (0 when never seen).
    pub fn get(&self, key: &str) -> f64 {
        self.values.get(key).copied().unwrap_or(0.0)
    }
}

/// The series we watch. Keys are the metric name, with `:<reason>` or
/// `:<result>` for the labelled ones.
fn parse_counters(text: &str) -> Counters {
    let mut counters = Counters::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let label = |key: &str| label(labels, key);
        match name {
            "neurallog_agent_file_bytes_lost_total" => {
                let stream = label("path")
                    .and_then(|p| super::oracle::stream_of_path(&p))
                    .unwrap_or_default();
                let reason = label("reason").unwrap_or_default();
                *counters.lost_bytes.entry((stream, reason)).or_default() += value;
            }
            "neurallog_agent_file_rewinds_total"
            | "neurallog_agent_file_rewound_bytes_total"
            | "neurallog_agent_sink_queue_corrupt_records_total"
            | "neurallog_agent_sink_dead_lettered_events_total" => {
                *counters.values.entry(name.to_owned()).or_default() += value;
            }
            "neurallog_agent_sink_dropped_events_total" | "neurallog_agent_sink_retries_total" => {
                let key = format!("{name}:{}", label("reason").unwrap_or_default());
                *counters.values.entry(key).or_default() += value;
            }
            "neurallog_agent_config_reloads_total" => {
                let key = format!("{name}:{}", label("result").unwrap_or_default());
                *counters.values.entry(key).or_default() += value;
            }
            _ => {}
        }
    }
    counters
}

/// The agent's "Gave up unread bytes of a file." log lines, summed per
/// stream and reason.
fn lost_bytes_logged(stderr: &str) -> BTreeMap<(String, String), f64> {
    let mut lost = BTreeMap::new();
    for line in stderr
        .lines()
        .filter(|l| l.contains("Gave up unread bytes"))
    {
        let field = |key: &str| {
            let start = line.find(&format!(" {key}="))? + key.len() + 2;
            let rest = &line[start..];
            let value = rest.split(' ').next()?;
            Some(value.trim_matches('"').to_owned())
        };
        let (Some(path), Some(bytes), Some(reason)) =
            (field("path"), field("bytes"), field("reason"))
        else {
            continue;
        };
        let Ok(bytes) = bytes.parse::<f64>() else {
            continue;
        };
        let stream = super::oracle::stream_of_path(&path).unwrap_or_default();
        *lost.entry((stream, reason)).or_default() += bytes;
    }
    lost
}

/// The value of label `key` in `a="1",b="2"}` (escapes undone).
fn label(labels: &str, key: &str) -> Option<String> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let mut value = String::new();
    let mut chars = labels[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '"' => return Some(value),
            c => value.push(c),
        }
    }
    None
}

// === impl Tmpfs ===

impl Tmpfs {
    /// Mount a tmpfs of `bytes` on `path`; `None` (with the reason) when
    /// that is not possible here (not root, no mount permission).
    pub fn mount(path: &Path, bytes: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Tmpfs {
            path: path.to_owned(),
        })
    }

    /// Fill the filesystem with a ballast file until it refuses a byte
    /// more; returns the ballast's path.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let ballast = self.path.join("ballast");
        let mut file = std::fs::File::create(&ballast).expect("create the ballast");
        let chunk = vec![0u8; 64 * 1024];
        for size in [64 * 1024, 4096, 1] {
            while file.write_all(&chunk[..size]).is_ok() {}
        }
        ballast
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the agent may still hold files there if a panic got here
        // first; the kernel finishes the unmount once they close.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
