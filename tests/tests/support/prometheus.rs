//! A real Prometheus server from Debian's `prometheus` package, started on
//! 127.0.0.1 for one test and stopped when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::net::{free_port, http_get};
use super::wait_for;

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Start Prometheus with the given `prometheus.yml` content. `rules`
    /// files are copied beside it and may be named in `rule_files`.
    /// `remote_write_receiver` enables `/api/v1/write`.
    pub fn start(config: &str, rules: &[&Path], remote_write_receiver: bool) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        for rule in rules {
            std::fs::copy(
                rule,
                dir.path().join(rule.file_name().expect("rule file name")),
            )
            .expect("copy rules");
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("write prometheus.yml");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).expect("log file"));
        if remote_write_receiver {
            cmd.arg("--web.enable-remote-write-receiver");
        }
        let child = cmd
            .spawn()
            .expect("start prometheus (Debian package `prometheus`; ./x setup installs it)");
        let prometheus = Prometheus { child, addr, dir };
        wait_for("prometheus to be ready", Duration::from_secs(30), || {
            http_get(addr, "/-/ready").filter(|(code, _)| *code == 200)
        });
        prometheus
    }

    /// Run an instant query; returns the JSON `data.result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let (code, body) = http_get(self.addr, &path).expect("prometheus answers");
        assert_eq!(code, 200, "query {promql} failed: {body}");
        let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON from prometheus");
        doc["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// GET an API path and parse the JSON.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let (code, body) = http_get(self.addr, path).expect("prometheus answers");
        assert_eq!(code, 200, "{path} failed: {body}");
        serde_json::from_str(&body).expect("JSON from prometheus")
    }

    /// Prometheus' own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encode a query parameter.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
