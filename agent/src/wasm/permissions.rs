//! Capabilities granted to a plugin, deny-by-default: an empty [`Grants`]
//! gives a plugin no files, no network, no environment, no mounts.
//!
//! - Directories are preopened read-only through WASI at the same path the
//!   host sees, so a plugin reads `/etc/ssl/certs` as `/etc/ssl/certs`.
//!   Each is opened once, when the plugin is loaded, and every run is given
//!   that same directory by its descriptor (through `/proc/self/fd`), never
//!   by its path again: swapping a component of the path for a link later
//!   does not move the grant. Inside a granted directory, symbolic links
//!   cannot lead out of it (WASI resolves them within), but hard links are
//!   files like any other: whoever can make a hard link in a granted
//!   directory can show the plugin that file (Linux's
//!   `fs.protected_hardlinks`, on by default, limits that to files they can
//!   read and write themselves).
//! - TLS targets (`host:port`) are the only peers the `tls` import connects
//!   to; WASI sockets and name lookup are denied outright. The server name
//!   (SNI) a probe sends is the target's own host name, or one granted with
//!   it as `name@host:port`: a plugin cannot choose bytes to send.
//! - Mounts are the only mount points `fs-stats` answers for.
//! - Environment variables are passed by name, when the agent has them set.
//! - stdin is empty and stdout is discarded (plugins talk through `log`);
//!   stderr is captured, bounded, into the run's report.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use super::capture::Capture;

/// What a plugin may touch: the one definition shared by the
/// configuration (`checks.<name>.grants`), the host, and `plugin run` (its
/// `--grant-*` flags). [`Default`] grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Directories the plugin may read (recursively), by absolute path,
    /// preopened read-only at the same path inside the sandbox.
    #[serde(default)]
    #[arg(long = "grant-dir", value_name = "DIR")]
    pub directories: Vec<PathBuf>,
    /// `host:port` targets whose TLS certificate chain the plugin may fetch
    /// through the `tls` import (`[::1]:443` for IPv6). A probe sends the
    /// target's host name as its server name (SNI); to send another, grant
    /// `name@host:port` (for example `example.com@10.0.0.7:443`).
    #[serde(default)]
    #[arg(long = "grant-tls", value_name = "HOST:PORT")]
    pub tls_targets: Vec<String>,
    /// Extra CA certificate files (PEM) the `tls` import trusts beside the
    /// platform's roots when it verifies chains for this plugin.
    #[serde(default)]
    #[arg(long = "grant-tls-ca", value_name = "FILE")]
    pub tls_ca_files: Vec<PathBuf>,
    /// Mount points whose usage the plugin may read through `fs-stats`, by
    /// absolute path.
    #[serde(default)]
    #[arg(long = "grant-mount", value_name = "PATH")]
    pub mounts: Vec<PathBuf>,
    /// Environment variables the plugin may read, by name, when the agent
    /// has them set.
    #[serde(default)]
    #[arg(long = "grant-env", value_name = "NAME")]
    pub env: Vec<String>,
}

/// A grant that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A directory grant is not an absolute path to a readable directory.
    #[error("directories: {path}: {reason}")]
    Dir {
        /// The path as granted.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS target is not `host:port` or `name@host:port`.
    #[error("tls_targets: {target:?}: expected host:port or server-name@host:port")]
    TlsTarget {
        /// The target as granted.
        target: String,
    },
    /// A mount grant is not an absolute path.
    #[error("mounts: {path}: expected an absolute path")]
    Mount {
        /// The path as granted.
        path: PathBuf,
    },
    /// An environment variable name is empty or contains `=` or NUL.
    #[error("env: {name:?} is not a variable name")]
    Env {
        /// The name as granted.
        name: String,
    },
}

/// A grant that cannot work, found without touching the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantProblem {
    /// The field, as named in the configuration (`tls_targets`).
    pub field: &'static str,
    /// The entry's index in that list.
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

/// A granted directory, opened once.
#[derive(Debug, Clone)]
struct GrantedDir {
    /// The directory as it was when the plugin was loaded.
    handle: Arc<File>,
    /// The path the guest sees it at (the granted path).
    guest: String,
}

/// A TLS endpoint a plugin may probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsTarget {
    /// Host name (lower case, without a trailing dot) or IP address.
    host: String,
    port: u16,
    /// The server name granted with it (`name@host:port`), canonical; when
    /// absent, only `host` itself.
    server_name: Option<String>,
}

/// A probe the grants allow: where to connect and what to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsProbe {
    /// The granted host, canonical: what is resolved and connected to,
    /// whatever spelling the plugin used.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The server name to send (an IP address sends none).
    pub(crate) server_name: String,
}

/// [`Grants`] after validation, ready for each run.
#[derive(Debug, Clone)]
pub(crate) struct CheckedGrants {
    directories: Vec<GrantedDir>,
    tls_targets: Vec<TlsTarget>,
    tls_ca_files: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
    env: Vec<String>,
}

// === impl Grants ===

impl Grants {
    /// Every entry that cannot work. Pure: the configuration's validation
    /// calls it; [`Grants::check`] does too, then opens what is granted.
    pub fn problems(&self) -> Vec<GrantProblem> {
        let mut problems = Vec::new();
        let mut problem = |field, index, message| {
            problems.push(GrantProblem {
                field,
                index,
                message,
            })
        };
        for (field, paths) in [("directories", &self.directories), ("mounts", &self.mounts)] {
            for (i, path) in paths.iter().enumerate().filter(|(_, p)| !p.is_absolute()) {
                problem(
                    field,
                    i,
                    format!("`{}` is not an absolute path", path.display()),
                );
            }
        }
        for (i, target) in self.tls_targets.iter().enumerate() {
            if TlsTarget::parse(target).is_none() {
                problem(
                    "tls_targets",
                    i,
                    format!(
                        "`{target}` is not a TLS target: expected `host:port` or `server-name@host:port`"
                    ),
                );
            }
        }
        for (i, name) in self.env.iter().enumerate() {
            if name.is_empty() || name.contains(['=', '\0']) {
                problem("env", i, format!("{name:?} is not a variable name"));
            }
        }
        problems
    }

    /// Validates the grants (directories must exist now).
    pub(crate) fn check(&self) -> Result<CheckedGrants, GrantError> {
        let directories = self
            .directories
            .iter()
            .map(|path| open_dir(path))
            .collect::<Result<_, _>>()?;
        let tls_targets = self
            .tls_targets
            .iter()
            .map(|t| TlsTarget::parse(t).ok_or_else(|| GrantError::TlsTarget { target: t.clone() }))
            .collect::<Result<_, _>>()?;
        let mounts = self
            .mounts
            .iter()
            .map(|path| match path.is_absolute() {
                true => Ok(normalize(path)),
                false => Err(GrantError::Mount { path: path.clone() }),
            })
            .collect::<Result<_, _>>()?;
        let env = self
            .env
            .iter()
            .map(|name| match name.is_empty() || name.contains(['=', '\0']) {
                true => Err(GrantError::Env { name: name.clone() }),
                false => Ok(name.clone()),
            })
            .collect::<Result<_, _>>()?;
        Ok(CheckedGrants {
            directories,
            tls_targets,
            tls_ca_files: self.tls_ca_files.clone(),
            mounts,
            env,
        })
    }
}

/// Opens a granted directory, once for the plugin's lifetime.
fn open_dir(path: &Path) -> Result<GrantedDir, GrantError> {
    let fail = |reason: String| GrantError::Dir {
        path: path.to_owned(),
        reason,
    };
    if !path.is_absolute() {
        return Err(fail("expected an absolute path".into()));
    }
    let guest = path
        .to_str()
        .ok_or_else(|| fail("path is not UTF-8".into()))?;
    let flags = rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        // The flags are a few bits: the cast cannot truncate.
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(code) if code == rustix::io::Errno::NOTDIR.raw_os_error() => {
                fail("not a directory".into())
            }
            _ => fail(error.to_string()),
        })?;
    Ok(GrantedDir {
        handle: Arc::new(handle),
        guest: guest.to_owned(),
    })
}

/// Drops trailing slashes (but keeps `/`), so `/data/` grants `/data`.
fn normalize(path: &Path) -> PathBuf {
    path.components().collect()
}

// === impl TlsTarget ===

impl TlsTarget {
    fn parse(target: &str) -> Option<Self> {
        let (server_name, target) = match target.split_once('@') {
            Some((name, target)) => {
                let valid =
                    !name.is_empty() && rustls::pki_types::ServerName::try_from(name).is_ok();
                (Some(canonical_host(valid.then_some(name)?)), target)
            }
            None => (None, target),
        };
        let (host, port) = target.rsplit_once(':')?;
        let host = match host.strip_prefix('[') {
            // An IPv6 address must be bracketed, or the port is ambiguous.
            Some(bracketed) => {
                let ip = bracketed.strip_suffix(']')?;
                ip.parse::<std::net::Ipv6Addr>().ok()?;
                ip
            }
            None if host.contains(':') => return None,
            None => host,
        };
        if host.is_empty() || host.contains(['/', ' ', '[', ']']) {
            return None;
        }
        Some(Self {
            host: canonical_host(host),
            port: port.parse().ok().filter(|&p| p != 0)?,
            server_name,
        })
    }
}

fn canonical_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

// === impl CheckedGrants ===

impl CheckedGrants {
    /// Whether `host:port` is a granted TLS target.
    pub(crate) fn allows_tls(&self, host: &str, port: u16) -> bool {
        let host = canonical_host(host);
        self.tls_targets
            .iter()
            .any(|t| t.port == port && t.host == host)
    }

    /// The probe of `host:port` with `server_name` (none: the host's own
    /// name), if a grant allows exactly that.
    pub(crate) fn tls_probe(
        &self,
        host: &str,
        port: u16,
        server_name: Option<&str>,
    ) -> Option<TlsProbe> {
        let host = canonical_host(host);
        let server_name = server_name.map_or_else(|| host.clone(), canonical_host);
        self.tls_targets
            .iter()
            .find(|t| {
                t.port == port
                    && t.host == host
                    && t.server_name.as_ref().unwrap_or(&t.host) == &server_name
            })
            .map(|t| TlsProbe {
                host: t.host.clone(),
                port,
                server_name,
            })
    }

    /// Whether any TLS target is granted.
    pub(crate) fn has_tls_targets(&self) -> bool {
        !self.tls_targets.is_empty()
    }

    /// CA files trusted for this plugin's probes.
    pub(crate) fn tls_ca_files(&self) -> &[PathBuf] {
        &self.tls_ca_files
    }

    /// The granted mount `path` names, if it is one.
    pub(crate) fn mount(&self, path: &str) -> Option<&Path> {
        let path = normalize(Path::new(path));
        self.mounts
            .iter()
            .find(|m| **m == path)
            .map(PathBuf::as_path)
    }

    /// All granted mounts.
    pub(crate) fn mounts(&self) -> &[PathBuf] {
        &self.mounts
    }

    /// A WASI context with exactly these grants, writing stderr to
    /// `stderr`. Reopens each granted directory from its handle, so it works
    /// as long as the directory exists, wherever it was moved.
    pub(crate) fn wasi_ctx(&self, stderr: Capture) -> wasmtime::Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        for dir in &self.directories {
            // The directory opened at load, reopened through its descriptor:
            // what the path names now does not matter.
            let by_handle = format!("/proc/self/fd/{}", dir.handle.as_raw_fd());
            builder.preopened_dir(by_handle, &dir.guest, FsPerms::ReadOnly)?;
        }
        for name in &self.env {
            if let Ok(value) = std::env::var(name) {
                builder.env(name, value);
            }
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grants_nothing() {
        let grants = Grants::default().check().unwrap();
        assert!(!grants.allows_tls("localhost", 443));
        assert_eq!(grants.mount("/"), None);
        assert!(grants.mounts().is_empty());
    }

    #[test]
    fn tls_targets_match_host_and_port_exactly() {
        let grants = Grants {
            tls_targets: vec![
                "Example.COM:443".into(),
                "[::1]:8443".into(),
                "10.0.0.1:636".into(),
            ],
            ..Grants::default()
        }
        .check()
        .unwrap();
        assert!(grants.allows_tls("example.com", 443));
        assert!(grants.allows_tls("example.com.", 443));
        assert!(!grants.allows_tls("example.com", 444));
        assert!(!grants.allows_tls("www.example.com", 443));
        assert!(grants.allows_tls("::1", 8443));
        assert!(grants.allows_tls("10.0.0.1", 636));
        assert!(!grants.allows_tls("10.0.0.2", 636));
    }

    #[test]
    fn the_server_name_is_the_granted_one() {
        let grants = Grants {
            tls_targets: vec!["Example.COM:443".into(), "localhost@127.0.0.1:8443".into()],
            ..Grants::default()
        }
        .check()
        .unwrap();
        // The host's own name, in the grant's spelling, whatever the
        // plugin's.
        let probe = grants.tls_probe("EXAMPLE.com.", 443, None).unwrap();
        assert_eq!(
            (probe.host.as_str(), probe.server_name.as_str()),
            ("example.com", "example.com")
        );
        assert!(
            grants
                .tls_probe("example.com", 443, Some("Example.com"))
                .is_some()
        );
        // Any other name is refused: it would carry the plugin's bytes.
        assert_eq!(
            grants.tls_probe("example.com", 443, Some("secret.data")),
            None
        );
        // A name granted with the target.
        let probe = grants
            .tls_probe("127.0.0.1", 8443, Some("localhost"))
            .unwrap();
        assert_eq!(probe.server_name, "localhost");
        assert_eq!(grants.tls_probe("127.0.0.1", 8443, None), None);
        assert_eq!(grants.tls_probe("127.0.0.1", 8443, Some("other")), None);
        for bad in ["@127.0.0.1:443", "bad name@127.0.0.1:443"] {
            let grants = Grants {
                tls_targets: vec![bad.into()],
                ..Grants::default()
            };
            assert!(grants.check().is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_grants_are_refused() {
        for target in [
            "example.com",
            "example.com:0",
            "example.com:http",
            ":443",
            "::1:443",
        ] {
            let grants = Grants {
                tls_targets: vec![target.into()],
                ..Grants::default()
            };
            assert!(
                matches!(grants.check(), Err(GrantError::TlsTarget { .. })),
                "{target} accepted"
            );
        }
        let relative = Grants {
            directories: vec!["etc".into()],
            ..Grants::default()
        };
        assert!(
            relative
                .check()
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
        let missing = Grants {
            directories: vec!["/nonexistent/neurallog".into()],
            ..Grants::default()
        };
        assert!(matches!(missing.check(), Err(GrantError::Dir { .. })));
        let env = Grants {
            env: vec!["A=B".into()],
            ..Grants::default()
        };
        assert!(matches!(env.check(), Err(GrantError::Env { .. })));
    }

    #[test]
    fn mounts_match_after_normalizing_trailing_slashes() {
        let grants = Grants {
            mounts: vec!["/".into(), "/data/".into()],
            ..Grants::default()
        }
        .check()
        .unwrap();
        assert_eq!(grants.mount("/data"), Some(Path::new("/data")));
        assert_eq!(grants.mount("/data/"), Some(Path::new("/data")));
        assert_eq!(grants.mount("/"), Some(Path::new("/")));
        assert_eq!(grants.mount("/data/sub"), None);
        assert_eq!(grants.mount("/dat"), None);
    }
}
