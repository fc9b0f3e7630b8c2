//! OpenTelemetry metric and attribute names to Prometheus names, after the
//! OpenTelemetry specification's "Prometheus and OpenMetrics Compatibility"
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/>):
//! invalid characters become `_`, the UCUM unit is appended as a word
//! (`s` → `_seconds`, `By` → `_bytes`, `{packet}` → nothing), gauges of
//! unit `1` get `_ratio` and monotonic sums `_total`.
//!
//! One deviation keeps the output lint-clean: the text format reserves the
//! suffixes `_count`, `_sum` and `_bucket` for the samples of histograms and
//! summaries (`promtool check metrics` rejects a gauge named `x_count`), so
//! a gauge whose name would end in one of them loses that last word:
//! `system.processes.count` is exposed as `system_processes`.
//!
//! Names without a dot are the platform's own Prometheus names
//! (`cpu_usage_percent`, `cert_expiry_days`) and are kept as they are.
//!
//! The shipping sinks will share this mapping from
//! `sinks/util/prometheus_names.rs`; until then it lives here.

/// How a metric is exposed, which decides its suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A monotonic sum: `_total`.
    Counter,
    /// A gauge or non-monotonic sum: `_ratio` for unit `1`.
    Gauge,
    /// A histogram: unit only (`_bucket`, `_sum`, `_count` follow).
    Histogram,
}

/// The Prometheus name of metric `name` with UCUM `unit`.
pub fn metric_name(name: &str, unit: &str, kind: NameKind) -> String {
    if !name.contains('.') {
        return sanitize_plain(name);
    }
    let mut words: Vec<String> = words(name).map(str::to_owned).collect();
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main, Some(per)),
        None => (unit, None),
    };
    if let Some(word) = unit_word(main)
        && !word.is_empty()
        && !words.iter().any(|w| w == word.as_str())
    {
        words.push(word);
    }
    if let Some(per) = per.and_then(per_word)
        && !words.iter().any(|w| w == per)
    {
        words.push("per".to_owned());
        words.push(per.to_owned());
    }
    match kind {
        NameKind::Counter => {
            words.retain(|w| w != "total");
            words.push("total".to_owned());
        }
        NameKind::Gauge => {
            if words.len() > 1
                && words
                    .last()
                    .is_some_and(|w| matches!(w.as_str(), "count" | "sum" | "bucket"))
            {
                words.pop();
            }
            if unit == "1" && !words.iter().any(|w| w == "ratio") {
                words.push("ratio".to_owned());
            }
        }
        NameKind::Histogram => {}
    }
    let mut out = words.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus label name of attribute `key`: invalid characters become
/// `_`; a leading digit gets `key_` in front, and the reserved `__` prefix
/// gets `key`.
pub fn label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with("__") {
        out.insert_str(0, "key");
    }
    out
}

/// Whether `name` is a valid Prometheus metric name.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A dotless name, kept unless it is not a valid metric name at all.
fn sanitize_plain(name: &str) -> String {
    if is_valid_metric_name(name) {
        return name.to_owned();
    }
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':') {
        out.insert(0, '_');
    }
    out
}

/// The words of a name: runs of ASCII letters and digits.
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The Prometheus word of a UCUM unit; `None` for annotations (`{packet}`)
/// and the dimensionless `1`.
fn unit_word(unit: &str) -> Option<String> {
    if unit.is_empty() || unit == "1" || (unit.starts_with('{') && unit.ends_with('}')) {
        return None;
    }
    let known = match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other => {
            // An unknown unit is kept, reduced to letters and digits.
            let word: String = other.chars().filter(char::is_ascii_alphanumeric).collect();
            return Some(word);
        }
    };
    Some(known.to_owned())
}

/// The word after `per_` for the denominator of a rate unit.
fn per_word(unit: &str) -> Option<&'static str> {
    match unit {
        "s" => Some("second"),
        "m" => Some("minute"),
        "h" => Some("hour"),
        "d" => Some("day"),
        "w" => Some("week"),
        "mo" => Some("month"),
        "y" => Some("year"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_convention_names_map_like_the_collector() {
        for (name, unit, kind, want) in [
            (
                "system.cpu.time",
                "s",
                NameKind::Counter,
                "system_cpu_time_seconds_total",
            ),
            (
                "system.memory.usage",
                "By",
                NameKind::Gauge,
                "system_memory_usage_bytes",
            ),
            (
                "system.cpu.utilization",
                "1",
                NameKind::Gauge,
                "system_cpu_utilization_ratio",
            ),
            (
                "system.network.dropped",
                "{packet}",
                NameKind::Counter,
                "system_network_dropped_total",
            ),
            (
                "system.cpu.load_average.1m",
                "{thread}",
                NameKind::Gauge,
                "system_cpu_load_average_1m",
            ),
            (
                "system.network.io",
                "By",
                NameKind::Counter,
                "system_network_io_bytes_total",
            ),
            (
                "k8s.pod.cpu.usage",
                "{cpu}",
                NameKind::Gauge,
                "k8s_pod_cpu_usage",
            ),
            (
                "http.server.request.duration",
                "s",
                NameKind::Histogram,
                "http_server_request_duration_seconds",
            ),
            (
                "disk.throughput",
                "By/s",
                NameKind::Gauge,
                "disk_throughput_bytes_per_second",
            ),
            (
                "requests.total.count",
                "1",
                NameKind::Counter,
                "requests_count_total",
            ),
            (
                "weird.name-with/chars",
                "packets",
                NameKind::Gauge,
                "weird_name_with_chars_packets",
            ),
            ("uptime.seconds", "s", NameKind::Gauge, "uptime_seconds"),
            ("3d.printer.jobs", "", NameKind::Gauge, "_3d_printer_jobs"),
            (
                "system.processes.count",
                "{process}",
                NameKind::Gauge,
                "system_processes",
            ),
            (
                "system.cpu.logical.count",
                "{cpu}",
                NameKind::Gauge,
                "system_cpu_logical",
            ),
            ("queue.bucket", "", NameKind::Gauge, "queue"),
            (
                "http.request.count",
                "{request}",
                NameKind::Counter,
                "http_request_count_total",
            ),
        ] {
            assert_eq!(metric_name(name, unit, kind), want, "{name} [{unit}]");
        }
    }

    #[test]
    fn dotless_names_are_kept_as_the_platform_wrote_them() {
        assert_eq!(
            metric_name("cpu_usage_percent", "%", NameKind::Gauge),
            "cpu_usage_percent"
        );
        assert_eq!(
            metric_name("cert_expiry_days", "d", NameKind::Gauge),
            "cert_expiry_days"
        );
        assert_eq!(
            metric_name("auth_failed_attempts", "1", NameKind::Counter),
            "auth_failed_attempts"
        );
        assert_eq!(metric_name("bad-name", "", NameKind::Gauge), "bad_name");
        assert_eq!(metric_name("9lives", "", NameKind::Gauge), "_9lives");
    }

    #[test]
    fn label_names_are_sanitized() {
        assert_eq!(label_name("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(label_name("state"), "state");
        assert_eq!(label_name("0day"), "key_0day");
        assert_eq!(label_name("__name__"), "key__name__");
        assert!(is_valid_metric_name("node_load1"));
        assert!(!is_valid_metric_name("system.cpu"));
    }
}
