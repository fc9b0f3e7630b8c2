//! Load averages from `/proc/loadavg`
//! (<https://docs.kernel.org/filesystems/proc.html#kernel-data>).

use std::path::Path;

use crate::event::Attributes;

use super::error::HostMetricsError;
use super::points::{Def, Points};
use super::procfs::parse_error;

const LOAD: [Def; 3] = [
    Def {
        name: "system.cpu.load_average.1m",
        unit: "{thread}",
        description: "Average number of runnable or uninterruptible threads over 1 minute.",
    },
    Def {
        name: "system.cpu.load_average.5m",
        unit: "{thread}",
        description: "Average number of runnable or uninterruptible threads over 5 minutes.",
    },
    Def {
        name: "system.cpu.load_average.15m",
        unit: "{thread}",
        description: "Average number of runnable or uninterruptible threads over 15 minutes.",
    },
];

/// Parse `/proc/loadavg` (`"3.49 3.34 3.54 7/121 22616"`) and add the three
/// load averages to `points`.
pub fn collect(path: &Path, text: &str, points: &mut Points) -> Result<(), HostMetricsError> {
    let mut fields = text.split_ascii_whitespace();
    let mut values = [0.0f64; 3];
    for (slot, window) in values.iter_mut().zip(["1m", "5m", "15m"]) {
        let field = fields
            .next()
            .ok_or_else(|| parse_error(path, format!("missing the {window} average")))?;
        *slot = field
            .parse()
            .map_err(|_| parse_error(path, format!("{field:?} is not a load average")))?;
    }
    for (def, value) in LOAD.iter().zip(values) {
        points.gauge(def, value, Attributes::new());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;

    #[test]
    fn three_averages_in_order() {
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 3);
        collect(Path::new("l"), "3.49 3.34 3.54 7/121 22616\n", &mut points).unwrap();
        let got: Vec<(&str, f64)> = points
            .metrics
            .iter()
            .map(|m| (m.name.as_ref(), m.scalar().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("system.cpu.load_average.1m", 3.49),
                ("system.cpu.load_average.5m", 3.34),
                ("system.cpu.load_average.15m", 3.54)
            ]
        );
        assert!(collect(Path::new("l"), "1.0 x", &mut points).is_err());
    }
}
