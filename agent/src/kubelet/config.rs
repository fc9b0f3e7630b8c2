//! The top-level `kubelet:` block: how to reach this node's kubelet,
//! shared by `kubernetes_logs` and `pod_metrics`. A source may set any of
//! these fields itself; its value overrides the block's for that source
//! alone, field by field.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::KubeletSettings;
use crate::config::{ConfigError, FieldPath, Validate};

/// Where a pod's service-account credentials are mounted.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to reach this node's kubelet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeletConfig {
    /// The kubelet's base URL. Default: `https://${NODE_NAME}:10250`, with
    /// `NODE_NAME` from the downward API (`spec.nodeName`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Bearer token file, read again before every request (projected
    /// service-account tokens rotate). `null` sends no token.
    #[serde(default = "default_token_file")]
    pub token_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign the kubelet's serving certificate.
    /// When the file does not exist the system roots are used.
    #[serde(default = "default_ca_file")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the kubelet's certificate (self-signed kubelet serving
    /// certificates). Anyone on the path can then impersonate the kubelet;
    /// a warning is logged at start-up.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// How long one request may take, connecting included, in
    /// milliseconds. A slower kubelet counts as an error.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// The connection fields one source sets itself, each overriding the
/// top-level block's when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeletOverrides {
    /// `endpoint`.
    pub endpoint: Option<String>,
    /// `token_file`; `Some(None)` is an explicit `null`.
    pub token_file: Option<Option<PathBuf>>,
    /// `ca_file`; `Some(None)` is an explicit `null`.
    pub ca_file: Option<Option<PathBuf>>,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: Option<bool>,
    /// `timeout_ms`.
    pub timeout_ms: Option<u64>,
}

// === impl KubeletConfig ===

impl KubeletConfig {
    /// These settings with a source's own fields in place of these.
    pub fn overridden(&self, overrides: &KubeletOverrides) -> KubeletConfig {
        KubeletConfig {
            endpoint: overrides.endpoint.clone().or_else(|| self.endpoint.clone()),
            token_file: overrides
                .token_file
                .clone()
                .unwrap_or_else(|| self.token_file.clone()),
            ca_file: overrides
                .ca_file
                .clone()
                .unwrap_or_else(|| self.ca_file.clone()),
            insecure_skip_verify: overrides
                .insecure_skip_verify
                .unwrap_or(self.insecure_skip_verify),
            timeout_ms: overrides.timeout_ms.unwrap_or(self.timeout_ms),
        }
    }

    /// The base URL: `endpoint`, or the kubelet of `node_name` on its
    /// standard port; `None` when neither is known.
    pub fn endpoint_for(&self, node_name: Option<&str>) -> Option<String> {
        match (&self.endpoint, node_name) {
            (Some(endpoint), _) => Some(endpoint.clone()),
            (None, Some(node)) => Some(format!("https://{node}:10250")),
            (None, None) => None,
        }
    }

    /// The client settings for `endpoint`.
    pub fn settings(&self, endpoint: String) -> KubeletSettings {
        KubeletSettings {
            endpoint,
            token_file: self.token_file.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            timeout: Duration::from_millis(self.timeout_ms),
        }
    }
}

impl Validate for KubeletConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        validate_overrides(
            &KubeletOverrides {
                endpoint: self.endpoint.clone(),
                timeout_ms: Some(self.timeout_ms),
                ..KubeletOverrides::default()
            },
            path,
            errors,
        );
    }
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            endpoint: None,
            token_file: default_token_file(),
            ca_file: default_ca_file(),
            insecure_skip_verify: false,
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// Check the connection fields present in `overrides`, at their names
/// below `path`.
pub fn validate_overrides(
    overrides: &KubeletOverrides,
    path: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    if overrides.timeout_ms == Some(0) {
        errors.push(path.field("timeout_ms").error("must be at least 1"));
    }
    if let Some(endpoint) = &overrides.endpoint
        && !endpoint.parse::<http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("https" | "http")) && uri.host().is_some()
        })
    {
        errors.push(path.field("endpoint").error(format!(
            "{endpoint:?} is not a URL: expected for example `https://${{NODE_NAME}}:10250`"
        )));
    }
}

/// Deserialize a field that is present, `null` included, to `Some`: with
/// `#[serde(default)]`, an absent field stays `None`, so `token_file: null`
/// (no token) differs from not setting it (the top-level block's).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

// === defaults ===

fn default_token_file() -> Option<PathBuf> {
    Some(PathBuf::from(SERVICE_ACCOUNT).join("token"))
}

fn default_ca_file() -> Option<PathBuf> {
    Some(PathBuf::from(SERVICE_ACCOUNT).join("ca.crt"))
}

fn default_timeout_ms() -> u64 {
    5_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(config: &KubeletConfig) -> Vec<String> {
        let mut errors = Vec::new();
        config.validate(&FieldPath::root().field("kubelet"), &mut errors);
        errors
            .into_iter()
            .map(|e| e.in_file("agent.yaml").to_string())
            .collect()
    }

    #[test]
    fn an_absent_field_keeps_the_block_value_and_a_present_one_replaces_it() {
        let block = KubeletConfig {
            endpoint: Some("https://node-1:10250".to_owned()),
            token_file: Some(PathBuf::from("/run/token")),
            ca_file: Some(PathBuf::from("/run/ca.crt")),
            insecure_skip_verify: true,
            timeout_ms: 2_000,
        };
        assert_eq!(block.overridden(&KubeletOverrides::default()), block);
        let overridden = block.overridden(&KubeletOverrides {
            endpoint: Some("https://10.0.0.1:10250".to_owned()),
            token_file: Some(None),
            ca_file: None,
            insecure_skip_verify: Some(false),
            timeout_ms: Some(300),
        });
        assert_eq!(
            overridden,
            KubeletConfig {
                endpoint: Some("https://10.0.0.1:10250".to_owned()),
                token_file: None,
                ca_file: Some(PathBuf::from("/run/ca.crt")),
                insecure_skip_verify: false,
                timeout_ms: 300,
            }
        );
    }

    #[test]
    fn endpoint_defaults_to_the_node_kubelet() {
        let config = KubeletConfig::default();
        assert_eq!(
            config.endpoint_for(Some("node-1")).as_deref(),
            Some("https://node-1:10250")
        );
        assert_eq!(config.endpoint_for(None), None);
        let set = KubeletConfig {
            endpoint: Some("https://127.0.0.1:1".to_owned()),
            ..KubeletConfig::default()
        };
        assert_eq!(
            set.endpoint_for(Some("node-1")).as_deref(),
            Some("https://127.0.0.1:1")
        );
    }

    #[test]
    fn validation_names_the_block_fields() {
        assert!(errors(&KubeletConfig::default()).is_empty());
        let bad = KubeletConfig {
            endpoint: Some("node-1:10250".to_owned()),
            timeout_ms: 0,
            ..KubeletConfig::default()
        };
        assert_eq!(
            errors(&bad),
            [
                "agent.yaml: kubelet.timeout_ms: must be at least 1",
                "agent.yaml: kubelet.endpoint: \"node-1:10250\" is not a URL: expected for example `https://${NODE_NAME}:10250`",
            ]
        );
    }
}
