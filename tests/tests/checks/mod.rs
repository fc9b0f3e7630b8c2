//! Checks in the real agent: hostile plugins fail alone, the first-party
//! checks against real TLS servers, gzip backups and a filled filesystem,
//! the platform's alerts in a real Prometheus, a plugin written by
//! following plugins/README.md, one made by `plugin new` outside the
//! repository, and one written in Python.

mod alerts;
mod backup_verify;
mod cert_expiry;
pub(crate) mod plugin_new;
mod python;
mod readme;
mod resources;
mod sandbox;
mod worker;

use crate::support::agent::Agent;

/// The last result a check reported in `/status`.
pub fn last_result(agent: &Agent, check: &str) -> serde_json::Value {
    // Before the admin server is up there is no result yet.
    let body = crate::support::net::http_get(agent.admin, "/status")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == check && c["kind"] == "check"))
        .map(|c| c["details"].clone())
        .unwrap_or_default()
}

/// Every sample of `/metrics` whose line starts with `prefix`, as
/// (line, value).
pub fn samples(agent: &Agent, prefix: &str) -> Vec<(String, f64)> {
    agent
        .get("/metrics")
        .1
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}
