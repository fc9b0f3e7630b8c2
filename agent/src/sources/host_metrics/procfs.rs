//! Where the collectors read from, and small helpers for the line-oriented
//! files of procfs (<https://docs.kernel.org/filesystems/proc.html>).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::error::HostMetricsError;

/// The host's `/proc`, `/sys` and `/`, as seen by the agent. In a container
/// with the host mounted at `/host` they are `/host/proc`, `/host/sys` and
/// `/host`.
#[derive(Debug, Clone)]
pub struct Paths {
    /// procfs.
    pub proc: PathBuf,
    /// sysfs.
    pub sys: PathBuf,
    /// The host's root filesystem.
    pub root: PathBuf,
}

// === impl Paths ===

impl Paths {
    /// `relative` below procfs.
    pub fn proc(&self, relative: &str) -> PathBuf {
        self.proc.join(relative)
    }

    /// `relative` below sysfs.
    pub fn sys(&self, relative: &str) -> PathBuf {
        self.sys.join(relative)
    }

    /// Where a mount point of the host is reachable from here: below
    /// `root` unless that is `/`.
    pub fn rooted(&self, mountpoint: &str) -> PathBuf {
        if self.root == Path::new("/") {
            PathBuf::from(mountpoint)
        } else {
            self.root.join(mountpoint.trim_start_matches('/'))
        }
    }

    /// A mount point as the host sees it: the mount table of a process in
    /// a container lists the host's filesystems below `root`, and they are
    /// reported without that prefix (as node_exporter's `--path.rootfs`).
    pub fn strip_root<'a>(&self, mountpoint: &'a str) -> &'a str {
        let Some(root) = self.root.to_str() else {
            return mountpoint;
        };
        let root = root.trim_end_matches('/');
        if root.is_empty() {
            return mountpoint;
        }
        match mountpoint.strip_prefix(root) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => mountpoint,
        }
    }
}

/// Read `path` into `buf` (cleared first), reusing its allocation.
pub fn read_into(path: &Path, buf: &mut String) -> Result<(), HostMetricsError> {
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut file| file.read_to_string(buf))
        .map(|_| ())
        .map_err(|source| HostMetricsError::Read {
            path: path.to_owned(),
            source,
        })
}

/// A parse error about `path`.
pub fn parse_error(path: &Path, message: impl Into<String>) -> HostMetricsError {
    HostMetricsError::Parse {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Parse a decimal field, naming the file and field on failure.
pub fn number(path: &Path, field: &str, text: Option<&str>) -> Result<u64, HostMetricsError> {
    let text = text.ok_or_else(|| parse_error(path, format!("missing field {field}")))?;
    text.parse()
        .map_err(|_| parse_error(path, format!("field {field}: {text:?} is not a number")))
}

/// Undo the octal escapes the kernel writes in mount tables (`\040` for a
/// space, `\011` tab, `\012` newline, `\134` backslash).
pub fn unescape_octal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match escaped {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &str) -> Paths {
        Paths {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            root: PathBuf::from(root),
        }
    }

    #[test]
    fn mountpoints_below_the_root_path_lose_the_prefix() {
        let p = paths("/host");
        assert_eq!(p.strip_root("/host"), "/");
        assert_eq!(p.strip_root("/host/var/lib"), "/var/lib");
        assert_eq!(p.strip_root("/hostname"), "/hostname");
        assert_eq!(p.strip_root("/etc/hosts"), "/etc/hosts");
        assert_eq!(p.rooted("/var/lib"), PathBuf::from("/host/var/lib"));
        assert_eq!(p.rooted("/"), PathBuf::from("/host/"));
        let host = paths("/");
        assert_eq!(host.strip_root("/var"), "/var");
        assert_eq!(host.rooted("/var"), PathBuf::from("/var"));
    }

    #[test]
    fn octal_escapes_in_mount_tables_are_decoded() {
        assert_eq!(unescape_octal("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_octal("/a\\011b\\134c"), "/a\tb\\c");
        assert_eq!(unescape_octal("/plain"), "/plain");
        assert_eq!(unescape_octal("/odd\\9"), "/odd\\9");
    }
}
