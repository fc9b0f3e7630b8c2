//! Writing the Prometheus text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>): one
//! writer for the agent's own registry and for the `prometheus` sink, so
//! escaping and float spelling cannot drift apart between them.

use std::fmt::Write as _;

/// `# HELP` and `# TYPE` of a family.
pub(crate) fn family_header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// One sample line: `name` + `suffix`, its labels, its value.
pub(crate) fn sample<'a>(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    value: f64,
) {
    line(out, name, suffix, labels, None, value);
}

/// A sample line with one more label after `labels` (a bucket's `le`).
fn line<'a>(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let mut first = true;
    let mut label = |out: &mut String, key: &str, value: &str| {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(key);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    };
    for (key, value) in labels {
        label(out, key, value);
    }
    if let Some((key, value)) = extra {
        label(out, key, value);
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

/// A histogram's samples: cumulative `_bucket{le}` for each of `bounds`
/// from the per-bucket `counts`, then `le="+Inf"` (`count`), `_sum` and
/// `_count`.
pub(crate) fn histogram<'a, L>(
    out: &mut String,
    name: &str,
    labels: L,
    bounds: &[f64],
    counts: impl IntoIterator<Item = u64>,
    sum: f64,
    count: u64,
) where
    L: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let mut cumulative = 0u64;
    let mut le = String::new();
    for (bound, n) in bounds.iter().zip(counts) {
        cumulative += n;
        le.clear();
        write_value(&mut le, *bound);
        line(
            out,
            name,
            "_bucket",
            labels.clone(),
            Some(("le", &le)),
            cumulative as f64,
        );
    }
    line(
        out,
        name,
        "_bucket",
        labels.clone(),
        Some(("le", "+Inf")),
        count as f64,
    );
    sample(out, name, "_sum", labels.clone(), sum);
    sample(out, name, "_count", labels, count as f64);
}

/// Append `value` escaped for a Prometheus label value.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Append `value` as Prometheus writes floats.
fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_labels_and_help_and_spells_floats_as_prometheus_does() {
        let mut out = String::new();
        family_header(&mut out, "x", "a\\b\nc", "gauge");
        sample(&mut out, "x", "", [("k", "q\"\\\n")], f64::INFINITY);
        sample(&mut out, "x", "", [], 1.5);
        assert_eq!(
            out,
            "# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{k=\"q\\\"\\\\\\n\"} +Inf\nx 1.5\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut out = String::new();
        histogram(&mut out, "h", [("a", "1")], &[0.5, 1.0], [2, 3], 4.0, 6);
        assert_eq!(
            out,
            "h_bucket{a=\"1\",le=\"0.5\"} 2\nh_bucket{a=\"1\",le=\"1\"} 5\nh_bucket{a=\"1\",le=\"+Inf\"} 6\nh_sum{a=\"1\"} 4\nh_count{a=\"1\"} 6\n"
        );
    }
}
