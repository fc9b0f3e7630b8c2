//! Hostile: tries the network through WASI sockets (config `addr`, an
//! `ip:port`, and `host`, a name to resolve). The host denies WASI sockets
//! and name lookup, so both must fail; it reports the errors as details
//! `connect` and `resolve`.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

use std::net::{TcpStream, ToSocketAddrs};

use neurallog::plugin::types::{Detail, Status};

struct Netprobe;

fn detail(key: &str, value: String) -> Detail {
    Detail {
        key: key.into(),
        value,
    }
}

impl Guest for Netprobe {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "netprobe".into(),
            version: "0.1.0".into(),
            description: "Tries raw sockets.".into(),
            config_schema: String::new(),
        }
    }

    fn run(config: String) -> Result<CheckResult, RunError> {
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RunError::InvalidConfig(e.to_string()))?;
        let mut details = Vec::new();
        if let Some(addr) = config["addr"].as_str() {
            let answer = match TcpStream::connect(addr) {
                Ok(_) => "connected".to_string(),
                Err(e) => format!("error: {e}"),
            };
            details.push(detail("connect", answer));
        }
        if let Some(host) = config["host"].as_str() {
            let answer = match (host, 443).to_socket_addrs() {
                Ok(addrs) => format!("resolved: {}", addrs.count()),
                Err(e) => format!("error: {e}"),
            };
            details.push(detail("resolve", answer));
        }
        Ok(CheckResult {
            status: Status::Ok,
            summary: "tried".into(),
            metrics: Vec::new(),
            details,
        })
    }
}

export!(Netprobe);
