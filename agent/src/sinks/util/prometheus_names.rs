//! Metric and label names for Prometheus, after the OpenTelemetry
//! "Prometheus and OpenMetrics compatibility" specification
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#otlp-metric-points-to-prometheus>).
//!
//! Two kinds of name reach a Prometheus-facing sink:
//!
//! - Names without a dot are already Prometheus names, chosen to match the
//!   platform's alert rules (`cpu_usage_percent`, `cert_expiry_days`) or the
//!   agent's own `neurallog_agent_*_total`. They are kept exactly (only
//!   characters Prometheus forbids are replaced).
//! - Dotted OpenTelemetry names (`system.cpu.time`) are mapped: characters
//!   outside `[a-zA-Z0-9_:]` become `_`, runs of `_` collapse, the UCUM unit
//!   becomes a suffix (`_seconds`, `_bytes`, `_ratio` for a gauge in `1`),
//!   and monotonic sums end in `_total`.
//!
//! Used by `prometheus_remote_write` and the Prometheus exporter, so both
//! expose the same names.

/// What kind of Prometheus metric a name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A gauge (or a non-monotonic sum).
    Gauge,
    /// A monotonic cumulative sum.
    Counter,
    /// An explicit-bucket histogram.
    Histogram,
}

/// The Prometheus metric name of an OpenTelemetry metric.
pub fn metric_name(name: &str, unit: &str, kind: MetricKind) -> String {
    if !name.contains('.') {
        return sanitize(name, false);
    }
    let mut out = sanitize(name, true);
    if let Some(suffix) = unit_suffix(unit, kind) {
        let tail = format!("_{suffix}");
        if !out.ends_with(&tail) && !out.contains(&format!("{tail}_")) {
            out.push_str(&tail);
        }
    }
    if kind == MetricKind::Counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

/// The Prometheus label name of an attribute key: characters outside
/// `[a-zA-Z0-9_]` become `_`; a leading digit gets a `key_` prefix.
pub fn label_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push_str("key_");
    }
    for c in key.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The suffix a UCUM unit adds to a metric name, if any.
pub fn unit_suffix(unit: &str, kind: MetricKind) -> Option<String> {
    // Annotations in braces (`{packet}`) carry no unit.
    let unit = strip_annotations(unit);
    if unit.is_empty() {
        return None;
    }
    if unit == "1" {
        return (kind == MetricKind::Gauge).then(|| "ratio".to_owned());
    }
    if let Some((num, per)) = unit.split_once('/') {
        let num = unit_word(num)?;
        let per = per_word(per)?;
        return Some(format!("{num}_per_{per}"));
    }
    unit_word(&unit).map(str::to_owned)
}

fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

fn unit_word(unit: &str) -> Option<&str> {
    let word = match unit {
        "" => return None,
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
        "TiBy" => "tibibytes",
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
        other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => other,
        _ => return None,
    };
    Some(word)
}

fn per_word(unit: &str) -> Option<&str> {
    let word = match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => unit_word(other)?,
    };
    Some(word)
}

/// Replace characters Prometheus forbids in metric names; with `collapse`,
/// runs of `_` become one.
fn sanitize(name: &str, collapse: bool) -> String {
    let mut out = String::with_capacity(name.len() + 16);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if collapse && c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_without_dots_are_kept_exactly() {
        for name in [
            "cpu_usage_percent",
            "disk_usage_percent",
            "cert_expiry_days",
            "neurallog_agent_component_sent_events_total",
        ] {
            assert_eq!(metric_name(name, "%", MetricKind::Gauge), name);
            assert_eq!(metric_name(name, "s", MetricKind::Counter), name);
        }
        assert_eq!(
            metric_name("http_requests_total", "1", MetricKind::Counter),
            "http_requests_total"
        );
        assert_eq!(
            metric_name("bad-name", "", MetricKind::Gauge),
            "bad_name",
            "forbidden characters are still replaced"
        );
    }

    #[test]
    fn dotted_names_get_unit_and_total_suffixes() {
        assert_eq!(
            metric_name("system.cpu.time", "s", MetricKind::Counter),
            "system_cpu_time_seconds_total"
        );
        assert_eq!(
            metric_name("system.memory.usage", "By", MetricKind::Gauge),
            "system_memory_usage_bytes"
        );
        assert_eq!(
            metric_name("system.cpu.utilization", "1", MetricKind::Gauge),
            "system_cpu_utilization_ratio"
        );
        assert_eq!(
            metric_name("system.network.packets", "{packet}", MetricKind::Counter),
            "system_network_packets_total"
        );
        assert_eq!(
            metric_name("http.server.request.duration", "s", MetricKind::Histogram),
            "http_server_request_duration_seconds"
        );
        assert_eq!(
            metric_name("system.network.io.rate", "By/s", MetricKind::Gauge),
            "system_network_io_rate_bytes_per_second"
        );
        assert_eq!(
            metric_name("k8s.pod.memory..usage", "By", MetricKind::Gauge),
            "k8s_pod_memory_usage_bytes",
            "runs of underscores collapse"
        );
    }

    #[test]
    fn unit_suffix_is_not_repeated() {
        assert_eq!(
            metric_name("process.cpu.time_seconds", "s", MetricKind::Counter),
            "process_cpu_time_seconds_total"
        );
        assert_eq!(
            metric_name("queue.events_total", "1", MetricKind::Counter),
            "queue_events_total"
        );
        assert_eq!(
            metric_name("one.ratio", "1", MetricKind::Counter),
            "one_ratio_total",
            "a counter in `1` gets no `_ratio`"
        );
    }

    #[test]
    fn label_names_are_sanitized() {
        assert_eq!(label_name("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(label_name("host.name"), "host_name");
        assert_eq!(label_name("2xx"), "key_2xx");
        assert_eq!(label_name("état"), "_tat");
        assert_eq!(label_name(""), "_");
    }
}
