//! One run of each first-party check with a typical configuration, under
//! the real plugin host (fresh store and instance per run, as the agent
//! runs them): cert_expiry against one local TLS endpoint, disk_usage on
//! one mount, backup_verify on one set with a 3 MB gzip backup. Prints the
//! median and p99 of the run time; the floor is 50 ms each.
//!
//! ```sh
//! cargo bench -p neurallog-agent --bench checks
//! ```
//!
//! With `NEURALLOG_BENCH_SMOKE=1` (CI) it runs 5 times per check against
//! ten times the floor: it catches a crash or a check off by an order of
//! magnitude, not noise.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neurallog_agent::embedded;
use neurallog_agent::wasm::{Grants, HostSettings, Limits, PluginHost, PluginSource, RunOutcome};

const RUNS: usize = 50;
const FLOOR: Duration = Duration::from_millis(50);

fn main() {
    let smoke = std::env::var_os("NEURALLOG_BENCH_SMOKE").is_some();
    let (runs, floor) = if smoke {
        (5, FLOOR * 10)
    } else {
        (RUNS, FLOOR)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let work = tempfile::tempdir().expect("temp dir");
    let tls = runtime.block_on(tls_server());
    let backups = work.path().join("backups");
    write_backup(&backups);
    let mut settings = HostSettings::new(work.path().join("state"));
    settings.cache_dir = Some(work.path().join("cache"));
    let host = Arc::new(PluginHost::new(settings).expect("plugin host"));

    let cases = [
        (
            "cert_expiry",
            format!(r#"{{"endpoints": [{{"address": "{tls}", "server_name": "localhost"}}]}}"#),
            Grants {
                tls_targets: vec![format!("localhost@{tls}")],
                ..Grants::default()
            },
        ),
        (
            "disk_usage",
            r#"{"mounts": ["/"]}"#.to_owned(),
            Grants {
                mounts: vec!["/".into()],
                ..Grants::default()
            },
        ),
        (
            "backup_verify",
            format!(
                r#"{{"sets": [{{"name": "db", "directory": "{}", "glob": "*.gz"}}]}}"#,
                backups.display()
            ),
            Grants {
                directories: vec![backups.clone()],
                ..Grants::default()
            },
        ),
    ];
    let mut failed = false;
    for (check_type, config, grants) in cases {
        let plugin = embedded::find(check_type).expect("first-party plugin is embedded");
        let source = PluginSource::Embedded {
            name: plugin.name,
            bytes: plugin.bytes,
        };
        let loaded = runtime
            .block_on(host.load(check_type, source, Limits::default(), grants))
            .expect("plugin loads");
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let report = runtime.block_on(loaded.run(&config));
            times.push(start.elapsed());
            if !matches!(report.outcome, RunOutcome::Ok(_)) {
                eprintln!("{check_type}: run did not succeed: {:?}", report.outcome);
                std::process::exit(1);
            }
        }
        times.sort();
        let median = times[runs / 2];
        let p99 = times[runs * 99 / 100];
        println!(
            "checks/{check_type}: {runs} runs, median {:.2} ms, p99 {:.2} ms (floor {} ms)",
            median.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            floor.as_millis()
        );
        failed |= median > floor;
    }
    if failed {
        eprintln!("a check's median run is over the floor");
        std::process::exit(1);
    }
}

/// A 3 MB gzip backup and its sha256 sidecar.
fn write_backup(dir: &std::path::Path) {
    use sha2::Digest as _;
    std::fs::create_dir_all(dir).expect("backup dir");
    let mut data = Vec::new();
    for i in 0..200_000u64 {
        writeln!(
            data,
            "INSERT INTO t VALUES ({i}, 'row {}', {});",
            i.wrapping_mul(2_654_435_761) % 100_003,
            i % 977
        )
        .expect("write");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let name = "db-2026-11-27.sql.gz";
    std::fs::write(dir.join(name), &bytes).expect("write backup");
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{digest}  {name}\n"),
    )
    .expect("write sidecar");
    eprintln!(
        "backup: {} bytes compressed, {} bytes of SQL",
        bytes.len(),
        data.len()
    );
}

/// A TLS server on 127.0.0.1 with a self-signed certificate for localhost.
async fn tls_server() -> std::net::SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    addr
}
