//! `cert-expiry`: how many days TLS certificates have left, for the
//! certificates servers present and those in files, with the problems that
//! make TLS clients reject them reported as such.
//!
//! For each configured endpoint the plugin asks the host (`tls` import) for
//! the chain the server presents and the host's verification of it; for each
//! configured file or glob it reads PEM or DER certificates from granted
//! directories. Every certificate gets a `cert_expiry_days` gauge (the
//! platform's `CertificateExpiry` alert is `cert_expiry_days < 30`).
//! `plugins/cert-expiry/README.md` documents the configuration, statuses and
//! metrics for operators.
//!
//! Modules: [`config`] (what to check), [`sources`] (reading chains and
//! files), [`certificate`] (X.509 facts), [`assess`] (the judgement) and
//! [`report`] (the result).

pub mod assess;
pub mod certificate;
pub mod config;
pub mod report;
pub mod sources;
#[cfg(test)]
mod test_certs;

use neurallog_plugin_sdk::{Check, CheckResult, PluginInfo, RunError, clock};

use crate::assess::Thresholds;
use crate::config::Config;

/// The certificate expiry check.
pub struct CertExpiry;

neurallog_plugin_sdk::export_check!(CertExpiry);

impl Check for CertExpiry {
    type Config = Config;

    fn info() -> PluginInfo {
        PluginInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            "Reports the days left before TLS certificates expire (metric cert_expiry_days, per \
             certificate of each chain), from TLS endpoints probed by the host and from PEM/DER \
             files in granted directories, and flags expired, not-yet-valid, self-signed, \
             wrong-host and incomplete chains.",
        )
        .config_schema_of::<Config>()
    }

    fn run(config: Config) -> Result<CheckResult, RunError> {
        config.validate()?;
        let now = clock::now().as_secs_f64();
        let thresholds = Thresholds {
            warning_days: config.warning_days,
            critical_days: config.critical_days,
        };
        let mut assessed: Vec<_> = config
            .endpoints
            .iter()
            .map(|endpoint| sources::check_endpoint(endpoint, now, thresholds))
            .collect();
        let mut skipped = Vec::new();
        for entry in &config.files {
            let scan = sources::check_files(entry, now, thresholds);
            assessed.extend(scan.sources);
            skipped.extend(scan.skipped);
        }
        Ok(report::build(&assessed, &skipped))
    }
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::clock::Timestamp;
    use neurallog_plugin_sdk::tls::{PeerChain, Verification};
    use neurallog_plugin_sdk::{Status, run_check, testing};

    use super::*;
    use crate::test_certs::{Chain, NOW, fixture};

    #[test]
    fn run_checks_endpoints_and_files_together() {
        testing::reset();
        testing::set_now(Timestamp::from_unix_seconds(NOW));
        let chain = Chain::new(&["shop.example"], -30, 10);
        testing::set_peer_chain(
            "shop.example",
            443,
            Ok(PeerChain {
                certificates: vec![chain.leaf_der.clone(), chain.intermediate_der.clone()],
                verification: Verification::Valid,
                protocol_version: "TLSv1.3".to_owned(),
            }),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("ca.pem"),
            fixture("nri-kubernetes_rootCA.pem"),
        )
        .expect("write");
        let config = format!(
            r#"{{"endpoints": ["shop.example:443"], "files": ["{}/*.pem"]}}"#,
            dir.path().display()
        );
        let result = run_check::<CertExpiry>(&config).expect("run succeeds");
        assert_eq!(result.status, Status::Warning);
        assert_eq!(
            result.summary,
            "shop.example:443 leaf shop.example: expires in 10.0 days"
        );
        let sources: Vec<&str> = result
            .metrics_named("cert_expiry_days")
            .filter_map(|metric| metric.label_value("source"))
            .collect();
        let ca_path = format!("{}/ca.pem", dir.path().display());
        assert_eq!(
            sources,
            vec!["shop.example:443", "shop.example:443", ca_path.as_str()]
        );
    }

    #[test]
    fn run_rejects_an_empty_config() {
        let error = run_check::<CertExpiry>("{}").expect_err("nothing to check");
        assert!(matches!(error, RunError::InvalidConfig(_)), "{error:?}");
    }

    #[test]
    fn schema_documents_the_fields_and_defaults() {
        let info = CertExpiry::info();
        assert_eq!(info.name, "cert-expiry");
        let schema: serde_json::Value =
            serde_json::from_str(&info.config_schema).expect("JSON schema");
        let properties = &schema["properties"];
        assert_eq!(properties["warning_days"]["default"], 30.0);
        assert_eq!(properties["critical_days"]["default"], 7.0);
        assert!(
            properties["files"]["description"]
                .as_str()
                .is_some_and(|text| text.contains("glob patterns"))
        );
        assert!(
            properties["endpoints"]["items"].is_object(),
            "{}",
            properties["endpoints"]
        );
    }
}
