//! Block device I/O from `/proc/diskstats`
//! (<https://docs.kernel.org/admin-guide/iostats.html>).

use std::path::Path;

use crate::event::AnyValue;

use super::config::NameFilter;
use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::procfs::parse_error;

/// `/proc/diskstats` counts sectors of 512 bytes whatever the device's
/// own sector size.
const SECTOR_BYTES: f64 = 512.0;

const IO: Def = Def {
    name: "system.disk.io",
    unit: "By",
    description: "Bytes read from and written to each device.",
};
const OPERATIONS: Def = Def {
    name: "system.disk.operations",
    unit: "{operation}",
    description: "Reads and writes completed by each device.",
};
const MERGED: Def = Def {
    name: "system.disk.merged",
    unit: "{operation}",
    description: "Adjacent reads and writes merged into one by each device's queue.",
};
const OPERATION_TIME: Def = Def {
    name: "system.disk.operation_time",
    unit: "s",
    description: "Seconds spent on reads and on writes by each device.",
};
const IO_TIME: Def = Def {
    name: "system.disk.io_time",
    unit: "s",
    description: "Seconds each device was busy with I/O.",
};
const WEIGHTED_IO_TIME: Def = Def {
    name: "system.disk.weighted_io_time",
    unit: "s",
    description: "Seconds each device was busy, weighted by the number of I/Os in flight.",
};
const PENDING: Def = Def {
    name: "system.disk.pending_operations",
    unit: "{operation}",
    description: "I/Os currently in flight on each device.",
};

/// Parse `/proc/diskstats` and add the counters of every device `filter`
/// allows to `points`.
pub fn collect(
    path: &Path,
    text: &str,
    filter: &NameFilter,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(_major), Some(_minor), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !filter.allows(name) {
            continue;
        }
        // reads, reads merged, sectors read, ms reading, writes, writes
        // merged, sectors written, ms writing, in flight, ms doing I/O,
        // weighted ms doing I/O; newer kernels append discard and flush
        // columns, which are not used.
        let mut v = [0u64; 11];
        for slot in &mut v {
            let field = fields
                .next()
                .ok_or_else(|| parse_error(path, format!("{name}: too few columns")))?;
            *slot = field
                .parse()
                .map_err(|_| parse_error(path, format!("{name}: {field:?} is not a number")))?;
        }
        let device = AnyValue::from(name.to_owned());
        let dir = |direction: &'static str| {
            attrs([
                ("device", device.clone()),
                ("direction", AnyValue::from(direction)),
            ])
        };
        points.counter(&IO, v[2] as f64 * SECTOR_BYTES, dir("read"));
        points.counter(&IO, v[6] as f64 * SECTOR_BYTES, dir("write"));
        points.counter(&OPERATIONS, v[0] as f64, dir("read"));
        points.counter(&OPERATIONS, v[4] as f64, dir("write"));
        points.counter(&MERGED, v[1] as f64, dir("read"));
        points.counter(&MERGED, v[5] as f64, dir("write"));
        points.counter(&OPERATION_TIME, v[3] as f64 / 1000.0, dir("read"));
        points.counter(&OPERATION_TIME, v[7] as f64 / 1000.0, dir("write"));
        let only_device = || attrs([("device", device.clone())]);
        points.up_down(&PENDING, v[8] as f64, only_device());
        points.counter(&IO_TIME, v[9] as f64 / 1000.0, only_device());
        points.counter(&WEIGHTED_IO_TIME, v[10] as f64 / 1000.0, only_device());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Resource;
    use crate::sources::host_metrics::config::DiskConfig;

    const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 289926 10674 12649578 4965602 51919 110459 28148728 167736 2 89212 5147111 25243 33 4795264 13520 4006 251
 254       1 vda1 10 0 80 5 0 0 0 0 0 5 5
";

    #[test]
    fn sectors_become_bytes_and_partitions_are_skipped() {
        let filter = DiskConfig::default().devices.compile().unwrap();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 16);
        collect(Path::new("d"), DISKSTATS, &filter, &mut points).unwrap();
        assert_eq!(points.metrics.len(), 11, "only vda");
        let find = |name: &str, direction: Option<&str>| {
            points
                .metrics
                .iter()
                .find(|m| {
                    m.name == name
                        && m.attributes.get("direction").and_then(AnyValue::as_str) == direction
                })
                .and_then(|m| m.scalar())
        };
        assert_eq!(
            find("system.disk.io", Some("read")),
            Some(12649578.0 * 512.0)
        );
        assert_eq!(
            find("system.disk.io", Some("write")),
            Some(28148728.0 * 512.0)
        );
        assert_eq!(find("system.disk.operations", Some("write")), Some(51919.0));
        assert_eq!(
            find("system.disk.operation_time", Some("read")),
            Some(4965.602)
        );
        assert_eq!(find("system.disk.io_time", None), Some(89.212));
        assert_eq!(find("system.disk.pending_operations", None), Some(2.0));
    }
}
