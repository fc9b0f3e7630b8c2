//! The distribution from `os-release(5)` (`/etc/os-release`, else
//! `/usr/lib/os-release`, below `root_path`), as node_exporter's `os`
//! collector reports it: `node_os_info` and `node_os_version`. The file is
//! parsed again only when its modification time changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::event::{AnyValue, Attributes};

use super::error::HostMetricsError;
use super::points::{Points, attrs};
use super::procfs::read_into;

/// The labels of `node_os_info`, in its order, and the os-release keys.
const INFO: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

/// The parsed file, kept between cycles.
#[derive(Debug, Default)]
pub struct OsState {
    read: Option<(PathBuf, SystemTime)>,
    info: Attributes,
    version_labels: Attributes,
    version: f64,
}

impl OsState {
    /// Add `node_os_info` and `node_os_version`, reading the first
    /// os-release file below `root` that exists.
    pub fn collect(
        &mut self,
        root: &Path,
        buf: &mut String,
        points: &mut Points,
    ) -> Result<(), HostMetricsError> {
        let modified_at = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
        let [first, second] = ["etc/os-release", "usr/lib/os-release"].map(|r| root.join(r));
        let (path, modified) = match modified_at(&first) {
            Ok(modified) => (first, modified),
            Err(_) => match modified_at(&second) {
                Ok(modified) => (second, modified),
                Err(source) => {
                    return Err(HostMetricsError::Read {
                        path: second,
                        source,
                    });
                }
            },
        };
        let fresh = self
            .read
            .as_ref()
            .is_some_and(|(p, t)| *p == path && *t == modified);
        if !fresh {
            read_into(&path, buf)?;
            self.parse(buf);
            self.read = Some((path, modified));
        }
        points.node_gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            1.0,
            self.info.clone(),
        );
        if self.version > 0.0 {
            points.node_gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                self.version,
                self.version_labels.clone(),
            );
        }
        Ok(())
    }

    fn parse(&mut self, text: &str) {
        let value = |key: &str| -> String {
            text.lines()
                .rev()
                .filter_map(|line| line.trim().split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| unquote(v.trim()))
                .unwrap_or_default()
        };
        self.info = INFO
            .iter()
            .map(|(label, key)| (*label, AnyValue::from(value(key))))
            .collect();
        self.version_labels = attrs([
            ("id", AnyValue::from(value("ID"))),
            ("id_like", AnyValue::from(value("ID_LIKE"))),
            ("name", AnyValue::from(value("NAME"))),
        ]);
        self.version = major_minor(&value("VERSION_ID"));
    }
}

/// A shell-style value: `"…"` with `\"`, `\\`, `` \` `` and `\$` escapes,
/// `'…'` verbatim, or bare.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '`' | '$'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first `\d+\.?\d*` of `VERSION_ID` as a number (`22.04` → 22.04,
/// `12` → 12), 0 when there is none.
fn major_minor(version_id: &str) -> f64 {
    let Some(start) = version_id.find(|c: char| c.is_ascii_digit()) else {
        return 0.0;
    };
    let rest = &version_id[start..];
    let int_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let mut end = int_end;
    if rest[int_end..].starts_with('.') {
        end = int_end + 1;
        end += rest[end..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - end);
    }
    rest[..end].trim_end_matches('.').parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    #[test]
    fn labels_and_version_of_the_recorded_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        let file = dir.path().join("etc/os-release");
        std::fs::write(&file, include_str!("fixtures/os-release")).unwrap();
        let mut state = OsState::default();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 4);
        let mut buf = String::new();
        state.collect(dir.path(), &mut buf, &mut points).unwrap();
        let info = &points.metrics[0].attributes;
        let label = |k: &str| info.get(k).and_then(AnyValue::as_str).unwrap().to_owned();
        assert_eq!(label("pretty_name"), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(label("version_codename"), "bookworm");
        assert_eq!(label("image_id"), "");
        assert_eq!(info.len(), 12);
        assert_eq!(points.metrics[1].name, "node_os_version");
        assert_eq!(points.metrics[1].scalar(), Some(12.0));
        // Unchanged: not parsed again, same points.
        state.collect(dir.path(), &mut buf, &mut points).unwrap();
        assert_eq!(points.metrics.len(), 4);
        let empty = tempfile::tempdir().unwrap();
        assert!(state.collect(empty.path(), &mut buf, &mut points).is_err());
    }

    #[test]
    fn quoting_and_versions() {
        assert_eq!(unquote("\"a \\\"b\\\" \\$c\""), "a \"b\" $c");
        assert_eq!(unquote("'x y'"), "x y");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("3.18.4"), 3.18);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor("7."), 7.0);
    }
}
