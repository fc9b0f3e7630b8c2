//! The platform's `CertificateExpiry` and `LowDiskSpace` alerts
//! (tests/fixtures/seed-alerts.yaml, unchanged) go pending in a real
//! Prometheus scraping the agent, for a certificate and a disk set up here.

use std::process::Command;
use std::time::Duration;

use crate::metrics::seed_alerts;
use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::tls::{issue, root_ca, serve};
use crate::support::wait_for;

/// A 1 MiB tmpfs filled to 90%, unmounted when dropped.
struct FullDisk {
    dir: tempfile::TempDir,
}

impl FullDisk {
    fn mount() -> FullDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        std::fs::write(dir.path().join("fill"), vec![0u8; 920 * 1024]).unwrap();
        FullDisk { dir }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn certificate_expiry_and_low_disk_space_alerts_go_pending() {
    let ca = root_ca("Alert Test CA");
    let leaf = issue(
        &["localhost"],
        "soon.test",
        -300,
        12,
        Some(ca.issuer()),
        false,
    );
    let tls = serve(vec![leaf.der.clone()], leaf.key);
    let disk = FullDisk::mount();
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();

    let yaml = format!(
        "
data_dir: {{data_dir}}
checks:
  certs:
    type: cert_expiry
    interval_secs: 5
    config:
      endpoints: [{{address: \"{tls}\", server_name: localhost}}]
    grants:
      tls_targets: [\"localhost@{tls}\"]
      tls_ca_files: [\"{ca}\"]
  disks:
    type: disk_usage
    interval_secs: 5
    config:
      mounts: [\"{disk}\"]
    grants:
      mounts: [\"{disk}\"]
sinks:
  prom:
    type: prometheus
    inputs: [certs, disks]
",
        ca = ca_file.display(),
        disk = disk.dir.path().display(),
    );
    let mut agent = Agent::start(&yaml);
    agent.wait_ready();
    let prometheus = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [seed-alerts.yaml]\nscrape_configs:\n  - job_name: neurallog-agent\n    static_configs:\n      - targets: [\"{}\"]\n",
            agent.admin
        ),
        &[&seed_alerts()],
        false,
    );
    let pending = |alert: &str| -> Option<serde_json::Value> {
        let alerts = prometheus.api("/api/v1/alerts");
        alerts["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == alert && a["state"] == "pending")
            .cloned()
    };
    let cert = wait_for(
        "CertificateExpiry to go pending",
        Duration::from_secs(90),
        || pending("CertificateExpiry"),
    );
    let value: f64 = cert["value"].as_str().unwrap().parse().unwrap();
    assert!((value - 12.0).abs() < 0.1, "{cert}");
    assert_eq!(cert["labels"]["check"], "certs");
    assert_eq!(cert["labels"]["position"], "leaf");

    let low = wait_for(
        "LowDiskSpace to go pending",
        Duration::from_secs(90),
        || pending("LowDiskSpace"),
    );
    let used: f64 = low["value"].as_str().unwrap().parse().unwrap();
    assert!(used > 85.0 && used <= 100.0, "{low}");
    assert_eq!(
        low["labels"]["mountpoint"],
        disk.dir.path().display().to_string()
    );
    // Nothing else fires: the host is not at 80% CPU and nothing is down.
    let firing = prometheus.api("/api/v1/alerts");
    assert!(
        !firing.to_string().contains("ServiceDown"),
        "the agent's scrape target is up: {firing}"
    );
}
