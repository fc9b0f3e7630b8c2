//! Block device I/O from `/proc/diskstats`
//! (<https://docs.kernel.org/admin-guide/iostats.html>).

use std::path::Path;

use crate::event::{AnyValue, Attributes};

use super::config::NameFilter;
use super::error::HostMetricsError;
use super::points::{Def, Points, attrs};
use super::procfs::{parse_error, read_into};

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
/// Discard and flush columns of newer kernels (Linux 4.18, 5.5), under
/// node_exporter's names (no OpenTelemetry convention covers them): column
/// index after the device name, name, help, and whether the value is in
/// milliseconds.
const EXTRA: [(usize, &str, &str, bool); 6] = [
    (
        11,
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        false,
    ),
    (
        12,
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        false,
    ),
    (
        13,
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        false,
    ),
    (
        14,
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        true,
    ),
    (
        15,
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        false,
    ),
    (
        16,
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        true,
    ),
];

/// The udev properties `node_disk_info` carries: label and key.
const UDEV_INFO: [(&str, &str); 5] = [
    ("model", "ID_MODEL"),
    ("path", "ID_PATH"),
    ("revision", "ID_REVISION"),
    ("serial", "ID_SERIAL_SHORT"),
    ("wwn", "ID_WWN"),
];

/// Add the points of every device of `/proc/diskstats` that `filter`
/// allows. `udev` is udev's database (`/run/udev/data`), where
/// `node_disk_info` finds model, serial and path; without it they are
/// empty, as in node_exporter.
pub fn collect(
    path: &Path,
    text: &str,
    filter: &NameFilter,
    udev: Option<&Path>,
    points: &mut Points,
) -> Result<(), HostMetricsError> {
    let mut udev_buf = String::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(major), Some(minor), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !filter.allows(name) {
            continue;
        }
        // reads, reads merged, sectors read, ms reading, writes, writes
        // merged, sectors written, ms writing, in flight, ms doing I/O,
        // weighted ms doing I/O; newer kernels append discard (4) and
        // flush (2) columns.
        let mut v = [0u64; 17];
        let mut columns = 0;
        for (i, slot) in v.iter_mut().enumerate() {
            let Some(field) = fields.next() else {
                if i < 11 {
                    return Err(parse_error(path, format!("{name}: too few columns")));
                }
                break;
            };
            *slot = field
                .parse()
                .map_err(|_| parse_error(path, format!("{name}: {field:?} is not a number")))?;
            columns = i + 1;
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
        for (column, metric, help, millis) in EXTRA {
            if column < columns {
                let value = v[column] as f64;
                let value = if millis { value / 1000.0 } else { value };
                points.node_counter(metric, help, value, only_device());
            }
        }
        let udev_file = udev.map(|dir| dir.join(format!("b{major}:{minor}")));
        let properties = match udev_file {
            Some(file) if read_into(&file, &mut udev_buf).is_ok() => udev_buf.as_str(),
            _ => "",
        };
        let mut info: Attributes = attrs([
            ("device", device.clone()),
            ("major", AnyValue::from(major.to_owned())),
            ("minor", AnyValue::from(minor.to_owned())),
        ]);
        for (label, key) in UDEV_INFO {
            info.insert(
                label,
                AnyValue::from(udev_property(properties, key).to_owned()),
            );
        }
        points.node_gauge(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            1.0,
            info,
        );
    }
    Ok(())
}

/// `E:KEY=value` of a udev database file, or `""`.
fn udev_property<'a>(properties: &'a str, key: &str) -> &'a str {
    properties
        .lines()
        .filter_map(|line| line.strip_prefix("E:")?.split_once('='))
        .find(|(k, _)| *k == key)
        .map_or("", |(_, v)| v)
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
        collect(Path::new("d"), DISKSTATS, &filter, None, &mut points).unwrap();
        assert_eq!(points.metrics.len(), 11 + 6 + 1, "only vda");
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
        assert_eq!(
            find("node_disk_discarded_sectors_total", None),
            Some(4795264.0)
        );
        assert_eq!(
            find("node_disk_flush_requests_time_seconds_total", None),
            Some(0.251)
        );
    }

    #[test]
    fn disk_info_reads_udev_and_old_kernels_have_no_discard_columns() {
        let filter = DiskConfig::default().devices.compile().unwrap();
        let udev = tempfile::tempdir().unwrap();
        std::fs::write(
            udev.path().join("b254:0"),
            "S:disk/by-path/virtio-pci-0000:00:04.0\nE:ID_PATH=virtio-pci-0000:00:04.0\nE:ID_SERIAL_SHORT=abc\n",
        )
        .unwrap();
        let old = "254 0 vda 1 2 3 4 5 6 7 8 9 10 11\n";
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 16);
        collect(Path::new("d"), old, &filter, Some(udev.path()), &mut points).unwrap();
        assert_eq!(points.metrics.len(), 12);
        let info = &points.metrics[11].attributes;
        let label = |k: &str| info.get(k).and_then(AnyValue::as_str);
        assert_eq!(label("path"), Some("virtio-pci-0000:00:04.0"));
        assert_eq!(label("serial"), Some("abc"));
        assert_eq!(label("model"), Some(""));
        assert_eq!(label("major"), Some("254"));
        assert!(
            collect(
                Path::new("d"),
                "254 0 vda 1 2\n",
                &filter,
                None,
                &mut points
            )
            .is_err()
        );
    }

    #[test]
    fn the_recorded_file_of_the_comparison_machine() {
        let filter = DiskConfig::default().devices.compile().unwrap();
        let mut points = Points::new(Arc::new(Resource::default()), 1, 0, 64);
        collect(
            Path::new("d"),
            include_str!("fixtures/diskstats"),
            &filter,
            None,
            &mut points,
        )
        .unwrap();
        let devices: std::collections::BTreeSet<&str> = points
            .metrics
            .iter()
            .filter_map(|m| m.attributes.get("device").and_then(AnyValue::as_str))
            .collect();
        assert_eq!(
            devices.into_iter().collect::<Vec<_>>(),
            ["vda"],
            "{points:?}"
        );
    }
}
