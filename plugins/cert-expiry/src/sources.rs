//! Reading certificates: endpoint chains through the host's `tls` import,
//! files through the WASI filesystem (granted directories are visible at
//! their real paths). Each source becomes a [`SourceAssessment`].

use std::io;
use std::path::Path;

use neurallog_plugin_sdk::fs::{self, GlobError};
use neurallog_plugin_sdk::tls;

use crate::assess::{SourceAssessment, SourceKind, Thresholds, assess_endpoint, assess_file};
use crate::certificate::{CertError, CertInfo, split_certificates};
use crate::config::Endpoint;

/// What the files of one `files` entry yielded.
#[derive(Debug, Default)]
pub struct FileScan {
    /// One assessment per file with certificates, or one failure for the
    /// entry.
    pub sources: Vec<SourceAssessment>,
    /// Files a pattern matched that hold no certificate (private keys).
    pub skipped: Vec<String>,
}

/// Probes `endpoint` and judges its chain at `now` (Unix seconds).
#[must_use]
pub fn check_endpoint(endpoint: &Endpoint, now: f64, thresholds: Thresholds) -> SourceAssessment {
    let source = endpoint.address();
    let unread = SourceKind::Endpoint {
        verification: None,
        protocol_version: None,
    };
    let chain = match tls::peer_certificates(
        &endpoint.host,
        endpoint.port,
        endpoint.server_name.as_deref(),
    ) {
        Ok(chain) => chain,
        Err(error) => return SourceAssessment::failed(source, unread, error.to_string()),
    };
    let infos = match parse_all(&chain.certificates) {
        Ok(infos) => infos,
        Err((index, error)) => {
            return SourceAssessment::failed(
                source,
                unread,
                format!("certificate {index}: {error}"),
            );
        }
    };
    assess_endpoint(
        source,
        infos,
        chain.verification,
        chain.protocol_version,
        endpoint.expected_name(),
        now,
        thresholds,
    )
}

/// Reads the files of one `files` entry (a path or a glob pattern) and
/// judges their certificates.
#[must_use]
pub fn check_files(entry: &str, now: f64, thresholds: Thresholds) -> FileScan {
    let is_pattern = entry.contains(['*', '?', '[']);
    if !is_pattern {
        return FileScan {
            sources: vec![check_file(Path::new(entry), now, thresholds)],
            skipped: Vec::new(),
        };
    }
    let paths = match fs::glob(entry) {
        Ok(paths) => paths,
        Err(error) => {
            let not_found = matches!(&error, GlobError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound);
            let mut message = error.to_string();
            if not_found {
                message.push_str(GRANT_HINT);
            }
            return FileScan {
                sources: vec![SourceAssessment::failed(entry, SourceKind::File, message)],
                skipped: Vec::new(),
            };
        }
    };
    let mut scan = FileScan::default();
    for path in paths.iter().filter(|path| !path.is_dir()) {
        let assessment = check_file(path, now, thresholds);
        if assessment.error.as_deref() == Some(NO_CERTIFICATE) {
            scan.skipped.push(assessment.source);
        } else {
            scan.sources.push(assessment);
        }
    }
    if scan.sources.is_empty() {
        let message = if scan.skipped.is_empty() {
            "no file matches".to_owned()
        } else {
            format!(
                "none of the {} matching files holds a certificate",
                scan.skipped.len()
            )
        };
        scan.sources
            .push(SourceAssessment::failed(entry, SourceKind::File, message));
    }
    scan
}

/// Appended to "not found" errors: the guest cannot tell a missing path
/// from one outside its granted directories.
const GRANT_HINT: &str = " (missing, or not in the check's grants.directories)";

/// The error of a file that holds no certificate.
const NO_CERTIFICATE: &str = "no certificate in file";

fn check_file(path: &Path, now: f64, thresholds: Thresholds) -> SourceAssessment {
    let source = path.display().to_string();
    let contents = match std::fs::read(path) {
        Ok(contents) => contents,
        Err(error) => {
            let hint = if error.kind() == io::ErrorKind::NotFound {
                GRANT_HINT
            } else {
                ""
            };
            return SourceAssessment::failed(
                source,
                SourceKind::File,
                format!("cannot read: {error}{hint}"),
            );
        }
    };
    let infos = split_certificates(&contents).and_then(|ders| {
        parse_all(&ders)
            .map_err(|(index, error)| CertError::Parse(format!("certificate {index}: {error}")))
    });
    match infos {
        Ok(infos) if infos.is_empty() => {
            SourceAssessment::failed(source, SourceKind::File, NO_CERTIFICATE)
        }
        Ok(infos) => assess_file(source, infos, now, thresholds),
        Err(error) => SourceAssessment::failed(source, SourceKind::File, error.to_string()),
    }
}

/// Parses every DER certificate, or says which one failed.
fn parse_all(ders: &[Vec<u8>]) -> Result<Vec<CertInfo>, (usize, CertError)> {
    ders.iter()
        .enumerate()
        .map(|(index, der)| CertInfo::from_der(der).map_err(|error| (index, error)))
        .collect()
}

#[cfg(test)]
mod tests {
    use neurallog_plugin_sdk::Status;
    use neurallog_plugin_sdk::testing;
    use neurallog_plugin_sdk::tls::{PeerChain, ProbeError, Verification};

    use super::*;
    use crate::test_certs::{Chain, NOW, fixture};

    const DEFAULTS: Thresholds = Thresholds {
        warning_days: 30.0,
        critical_days: 7.0,
    };

    #[test]
    fn endpoint_chain_is_probed_with_the_server_name() {
        testing::reset();
        let chain = Chain::new(&["www.example"], -10, 20);
        testing::set_peer_chain(
            "10.0.0.5",
            8443,
            Ok(PeerChain {
                certificates: vec![chain.leaf_der.clone(), chain.intermediate_der.clone()],
                verification: Verification::Valid,
                protocol_version: "TLSv1.3".to_owned(),
            }),
        );
        let endpoint =
            Endpoint::parse("10.0.0.5:8443", Some("www.example".to_owned())).expect("valid");
        let source = check_endpoint(&endpoint, NOW as f64, DEFAULTS);
        assert_eq!(source.source, "10.0.0.5:8443");
        assert_eq!(source.status, Status::Warning);
        assert_eq!(source.certificates.len(), 2);
        assert_eq!(
            testing::probes(),
            vec![("10.0.0.5".to_owned(), 8443, Some("www.example".to_owned()))]
        );
    }

    #[test]
    fn unreachable_or_ungranted_endpoints_are_unknown_with_the_reason() {
        testing::reset();
        testing::set_peer_chain(
            "down.example",
            443,
            Err(ProbeError::ConnectFailed("refused".to_owned())),
        );
        let down = Endpoint::parse("down.example:443", None).expect("valid");
        let source = check_endpoint(&down, NOW as f64, DEFAULTS);
        assert_eq!(source.status, Status::Unknown);
        assert_eq!(source.error.as_deref(), Some("connection failed: refused"));
        let ungranted = Endpoint::parse("secret.example:443", None).expect("valid");
        let source = check_endpoint(&ungranted, NOW as f64, DEFAULTS);
        assert!(
            source
                .error
                .as_deref()
                .is_some_and(|error| error.contains("grants.tls_targets"))
        );
    }

    #[test]
    fn garbage_from_the_server_is_unknown() {
        testing::reset();
        testing::set_peer_chain(
            "odd.example",
            443,
            Ok(PeerChain {
                certificates: vec![vec![0x30, 0x01, 0x00]],
                verification: Verification::Invalid("BadEncoding".to_owned()),
                protocol_version: "TLSv1.2".to_owned(),
            }),
        );
        let endpoint = Endpoint::parse("odd.example:443", None).expect("valid");
        let source = check_endpoint(&endpoint, NOW as f64, DEFAULTS);
        assert_eq!(source.status, Status::Unknown);
        assert!(
            source
                .error
                .as_deref()
                .is_some_and(|error| error.starts_with("certificate 0: "))
        );
    }

    #[test]
    fn patterns_skip_key_files_and_report_each_certificate_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = dir.path().join("live/site");
        std::fs::create_dir_all(&site).expect("mkdir");
        let chain = Chain::new(&["site.example"], -10, 100);
        std::fs::write(
            site.join("fullchain.pem"),
            format!("{}{}", chain.leaf_pem(), chain.intermediate_pem()),
        )
        .expect("write chain");
        std::fs::write(
            site.join("privkey.pem"),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write key");
        std::fs::write(
            dir.path().join("old.pem"),
            fixture("fluent-bit_certificate_expired-2023-08-17.pem"),
        )
        .expect("write old");

        let scan = check_files(
            &format!("{}/**/*.pem", dir.path().display()),
            NOW as f64,
            DEFAULTS,
        );
        let sources: Vec<(&str, Status, usize)> = scan
            .sources
            .iter()
            .map(|source| {
                let name = source.source.rsplit('/').next().unwrap_or_default();
                (name, source.status, source.certificates.len())
            })
            .collect();
        assert_eq!(
            sources,
            vec![
                ("fullchain.pem", Status::Ok, 2),
                ("old.pem", Status::Critical, 1)
            ]
        );
        assert_eq!(scan.skipped.len(), 1);
        assert!(scan.skipped[0].ends_with("privkey.pem"));
    }

    #[test]
    fn missing_files_and_empty_patterns_are_unknown() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = format!("{}/none.pem", dir.path().display());
        let scan = check_files(&missing, NOW as f64, DEFAULTS);
        assert_eq!(scan.sources[0].status, Status::Unknown);
        assert!(
            scan.sources[0]
                .error
                .as_deref()
                .is_some_and(|error| error.starts_with("cannot read: "))
        );

        let pattern = format!("{}/*.crt", dir.path().display());
        let scan = check_files(&pattern, NOW as f64, DEFAULTS);
        assert_eq!(scan.sources[0].source, pattern);
        assert_eq!(scan.sources[0].error.as_deref(), Some("no file matches"));

        let ungranted = check_files("/nonexistent-cert-dir/*.pem", NOW as f64, DEFAULTS);
        assert_eq!(
            ungranted.sources[0].error.as_deref(),
            Some(
                "cannot read directory /nonexistent-cert-dir: No such file or directory (os error 2) \
                 (missing, or not in the check's grants.directories)"
            )
        );
    }

    #[test]
    fn a_der_file_is_read_like_a_pem_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let chain = Chain::new(&["der.example"], -10, 5);
        let path = dir.path().join("leaf.der");
        std::fs::write(&path, &chain.leaf_der).expect("write");
        let scan = check_files(&path.display().to_string(), NOW as f64, DEFAULTS);
        assert_eq!(scan.sources[0].status, Status::Critical);
        assert_eq!(scan.sources[0].certificates[0].info.subject, "der.example");
    }
}
