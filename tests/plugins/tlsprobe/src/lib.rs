//! Probes the TLS target in its config (`host`, `port`, optional
//! `server_name`) through the host's `tls` import and reports what it got as
//! details: `verification`, `verification_detail`, `chain_len`,
//! `chain_der_lengths`, `protocol`, or `error`.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use neurallog::plugin::tls::{self, ProbeError, Verification};
use neurallog::plugin::types::{Detail, Status};

struct Tlsprobe;

fn detail(key: &str, value: impl Into<String>) -> Detail {
    Detail {
        key: key.into(),
        value: value.into(),
    }
}

impl Guest for Tlsprobe {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "tlsprobe".into(),
            version: "0.1.0".into(),
            description: "Reads one server's certificate chain.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let host = config["host"]
            .as_str()
            .ok_or_else(|| RunError::InvalidConfig("host: expected a string".into()))?;
        let port = config["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| RunError::InvalidConfig("port: expected a port number".into()))?;
        let server_name = config["server_name"].as_str();
        let (status, details) = match tls::peer_certificates(host, port, server_name) {
            Ok(chain) => {
                let (kind, text) = match chain.verification {
                    Verification::Valid => ("valid", String::new()),
                    Verification::NameMismatch(m) => ("name-mismatch", m),
                    Verification::Expired(m) => ("expired", m),
                    Verification::NotYetValid(m) => ("not-yet-valid", m),
                    Verification::UnknownIssuer(m) => ("unknown-issuer", m),
                    Verification::Invalid(m) => ("invalid", m),
                };
                let lengths: Vec<String> = chain
                    .certificates
                    .iter()
                    .map(|c| c.len().to_string())
                    .collect();
                let status = if kind == "valid" {
                    Status::Ok
                } else {
                    Status::Critical
                };
                (
                    status,
                    vec![
                        detail("verification", kind),
                        detail("verification_detail", text),
                        detail("chain_len", chain.certificates.len().to_string()),
                        detail("chain_der_lengths", lengths.join(",")),
                        detail("protocol", chain.protocol_version),
                    ],
                )
            }
            Err(e) => {
                let text = match e {
                    ProbeError::NotAllowed(m) => format!("not-allowed: {m}"),
                    ProbeError::ConnectFailed(m) => format!("connect-failed: {m}"),
                    ProbeError::HandshakeFailed(m) => format!("handshake-failed: {m}"),
                    ProbeError::TimedOut => "timed-out".to_string(),
                };
                (Status::Unknown, vec![detail("error", text)])
            }
        };
        Ok(CheckResult {
            status,
            summary: format!("{host}:{port}"),
            metrics: Vec::new(),
            details,
        })
    }
}

export!(Tlsprobe);
