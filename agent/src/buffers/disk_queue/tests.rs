use std::path::Path;

use super::*;

fn options(max_bytes: u64, segment_bytes: u64) -> QueueOptions {
    QueueOptions {
        max_bytes,
        segment_bytes,
        fsync: FsyncPolicy::Batch,
    }
}

fn payload(i: u32) -> Vec<u8> {
    format!("record number {i:05}").into_bytes()
}

fn read_all(queue: &mut DiskQueue) -> Vec<(String, Position)> {
    let mut out = Vec::new();
    while let Some(record) = queue.read().unwrap() {
        out.push((String::from_utf8(record.data).unwrap(), record.position));
    }
    out
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg2") || n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

#[test]
fn records_come_back_in_order_and_commit_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 256)).unwrap();
    for i in 0..40 {
        assert_eq!(queue.append(&payload(i)).unwrap(), 0);
    }
    assert_eq!(queue.stats().records, 40);
    let read = read_all(&mut queue);
    assert_eq!(read.len(), 40);
    assert_eq!(read[0].0, "record number 00000");
    assert_eq!(read[39].0, "record number 00039");
    assert!(segments(dir.path()).len() > 3, "small segments rotate");

    // Deliver the first 25; the rest are in flight when the agent dies.
    queue.commit(read[24].1).unwrap();
    assert_eq!(queue.stats().records, 15);
    drop(queue);

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 256)).unwrap();
    assert_eq!(queue.take_corrupt(), 0);
    assert_eq!(queue.stats().records, 15);
    let again = read_all(&mut queue);
    let bodies: Vec<&str> = again.iter().map(|(b, _)| b.as_str()).collect();
    let expected: Vec<String> = (25..40)
        .map(|i| String::from_utf8(payload(i)).unwrap())
        .collect();
    assert_eq!(bodies, expected);
    queue.commit(again.last().unwrap().1).unwrap();
    assert_eq!(queue.stats().records, 0);
    assert!(
        segments(dir.path()).len() <= 2,
        "delivered segments are deleted: {:?}",
        segments(dir.path())
    );
}

#[test]
fn rewind_reads_uncommitted_records_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    for i in 0..5 {
        queue.append(&payload(i)).unwrap();
    }
    let first = read_all(&mut queue);
    queue.commit(first[1].1).unwrap();
    assert!(!queue.has_unread());
    queue.rewind();
    assert!(queue.has_unread());
    let again = read_all(&mut queue);
    assert_eq!(again.len(), 3);
    assert_eq!(again[0].0, "record number 00002");
}

#[test]
fn size_cap_drops_oldest_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    // Frames are 12 + 19 bytes; segments hold 3 of them.
    let mut queue = DiskQueue::open(dir.path(), options(300, 110)).unwrap();
    let mut dropped = 0;
    for i in 0..30 {
        dropped += queue.append(&payload(i)).unwrap();
    }
    let stats = queue.stats();
    assert!(stats.bytes <= 300, "{stats:?}");
    assert_eq!(
        dropped + stats.records,
        30,
        "every record is either kept or counted"
    );
    assert!(dropped > 0);
    let kept = read_all(&mut queue);
    assert_eq!(kept.len() as u64, stats.records);
    assert_eq!(
        kept.last().unwrap().0,
        "record number 00029",
        "the newest records are kept"
    );
    let first_kept: u32 = kept[0].0[14..].parse().unwrap();
    assert_eq!(u64::from(first_kept), dropped, "the oldest ones went");
}

#[test]
fn corrupt_and_torn_records_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    for i in 0..6 {
        queue.append(&payload(i)).unwrap();
    }
    drop(queue);
    let segment = dir.path().join(&segments(dir.path())[0]);
    let mut bytes = std::fs::read(&segment).unwrap();
    // Flip a payload byte of record 2 (frames are 31 bytes).
    bytes[2 * 31 + 16] ^= 0xff;
    // Tear the last record in half.
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&segment, &bytes).unwrap();

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    assert_eq!(
        queue.take_corrupt(),
        0,
        "counted when read, not when scanned"
    );
    let read = read_all(&mut queue);
    let bodies: Vec<&str> = read.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "record number 00000",
            "record number 00001",
            "record number 00003",
            "record number 00004"
        ]
    );
    assert_eq!(queue.take_corrupt(), 2, "one bad CRC and one torn frame");
    // New records still go in and come out after the damaged ones.
    queue.append(&payload(99)).unwrap();
    assert_eq!(read_all(&mut queue)[0].0, "record number 00099");
}

#[test]
fn garbage_segment_and_corrupt_cursor_never_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    queue.append(&payload(1)).unwrap();
    let read = read_all(&mut queue);
    queue.commit(read[0].1).unwrap();
    queue.append(&payload(2)).unwrap();
    drop(queue);
    std::fs::write(dir.path().join("cursor"), "12 garbage").unwrap();
    std::fs::write(
        dir.path().join("00000000000000000000.seg"),
        [0xffu8; 100].as_slice(),
    )
    .unwrap();

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    assert_eq!(queue.take_corrupt(), 1, "the cursor");
    let bodies: Vec<String> = read_all(&mut queue).into_iter().map(|(b, _)| b).collect();
    assert_eq!(queue.take_corrupt(), 1, "the garbage frame");
    assert_eq!(
        bodies,
        ["record number 00001", "record number 00002"],
        "without a trustworthy cursor everything is read again"
    );
}

#[test]
fn oversized_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(64, 64)).unwrap();
    assert!(matches!(
        queue.append(&[0u8; 100]),
        Err(QueueError::TooLarge { bytes: 100, .. })
    ));
    assert!(matches!(
        queue.append(&[]),
        Err(QueueError::TooLarge { .. })
    ));
}

#[test]
fn full_disk_refuses_records_whole_and_never_writes_a_torn_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    for i in 0..3 {
        queue.append(&payload(i)).unwrap();
    }
    // Room for one more frame and half of the next.
    let mut frame_bytes = Vec::new();
    frame::encode(&payload(3), &mut frame_bytes);
    let frame_len = frame_bytes.len() as u64;
    queue.space_left = Some(frame_len + frame_len / 2);
    queue.append(&payload(3)).unwrap();
    for i in 4..8 {
        let error = queue.append(&payload(i)).unwrap_err();
        assert!(error.is_no_space(), "{error}");
        assert!(matches!(error, QueueError::NoSpace { .. }), "{error}");
    }
    assert_eq!(queue.stats().records, 4, "refused records are not counted");
    // Space comes back (an outage ended, files were deleted).
    queue.space_left = None;
    for i in 8..10 {
        queue.append(&payload(i)).unwrap();
    }
    let expected = [0, 1, 2, 3, 8, 9].map(|i| String::from_utf8(payload(i)).unwrap());
    let bodies: Vec<String> = read_all(&mut queue).into_iter().map(|(b, _)| b).collect();
    assert_eq!(bodies, expected);
    assert_eq!(queue.take_corrupt(), 0, "no torn frame in the segment");

    // And after a restart: the segment holds whole frames only.
    drop(queue);
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    let bodies: Vec<String> = read_all(&mut queue).into_iter().map(|(b, _)| b).collect();
    assert_eq!(bodies, expected);
    assert_eq!(queue.take_corrupt(), 0);
}

/// Found by the `disk_queue` fuzz harness: with no check on a frame's
/// length, one damaged length byte made reading skip into the middle of a
/// payload, and a payload holding bytes that form a frame came back as a
/// record that was never written.
#[test]
fn a_damaged_length_never_returns_bytes_inside_a_payload_as_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    // A payload that holds a whole frame of its own after 4 bytes.
    let mut inner = Vec::new();
    frame::encode(b"never written", &mut inner);
    let mut outer = b"head".to_vec();
    outer.extend_from_slice(&inner);
    queue.append(&outer).unwrap();
    queue.append(&payload(1)).unwrap();
    drop(queue);
    let segment = dir.path().join(&segments(dir.path())[0]);
    let mut bytes = std::fs::read(&segment).unwrap();
    // The outer length now ends the frame where the inner one starts.
    bytes[0] = 4;
    std::fs::write(&segment, &bytes).unwrap();

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    let read = read_all(&mut queue);
    assert!(
        read.iter().all(|(body, _)| body != "never written"),
        "{read:?}"
    );
    assert!(read.is_empty(), "nothing after a damaged length is trusted");
    assert_eq!(queue.take_corrupt(), 1);
}

#[test]
fn segments_of_the_earlier_format_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    // `[len][crc32(payload)][payload]` frames in `<id>.seg`.
    let mut old = Vec::new();
    for i in 0..3 {
        let payload = payload(i);
        old.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        old.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        old.extend_from_slice(&payload);
    }
    std::fs::write(dir.path().join("00000000000000000004.seg"), &old).unwrap();

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 1 << 16)).unwrap();
    assert_eq!(queue.stats().records, 3);
    queue.append(&payload(3)).unwrap();
    let read = read_all(&mut queue);
    let bodies: Vec<&str> = read.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "record number 00000",
            "record number 00001",
            "record number 00002",
            "record number 00003"
        ]
    );
    assert_eq!(queue.take_corrupt(), 0);
    queue.commit(read[3].1).unwrap();
    assert_eq!(
        segments(dir.path()),
        ["00000000000000000005.seg2"],
        "the old segment is deleted once delivered"
    );
}

#[test]
fn what_a_queue_nobody_reads_holds_is_counted_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("never-a-queue");
    assert!(DiskQueue::undelivered(&missing).unwrap().is_none());
    assert!(!missing.exists(), "looking creates nothing");

    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 256)).unwrap();
    for i in 0..40 {
        queue.append(&payload(i)).unwrap();
    }
    let read = read_all(&mut queue);
    queue.commit(read[24].1).unwrap();
    queue.sync().unwrap();
    let expected = queue.stats();
    drop(queue);

    let before = segments(dir.path());
    let cursor = std::fs::read(dir.path().join("cursor")).ok();
    let stats = DiskQueue::undelivered(dir.path()).unwrap().unwrap();
    assert_eq!(stats.records, 15);
    assert_eq!(stats.records, expected.records);
    assert_eq!(stats.bytes, expected.bytes);
    assert_eq!(
        segments(dir.path()),
        before,
        "no segment created or removed"
    );
    assert_eq!(std::fs::read(dir.path().join("cursor")).ok(), cursor);

    // Everything delivered: nothing left, though the queue is there.
    let mut queue = DiskQueue::open(dir.path(), options(1 << 20, 256)).unwrap();
    let rest = read_all(&mut queue);
    queue.commit(rest.last().unwrap().1).unwrap();
    queue.sync().unwrap();
    drop(queue);
    let stats = DiskQueue::undelivered(dir.path()).unwrap().unwrap();
    assert_eq!((stats.records, stats.bytes), (0, 0));
}
