//! Disk-queue segments and cursor (`buffers::disk_queue`): records are
//! written, some read and committed, the files then damaged at the
//! fuzzer's choice (bytes overwritten, truncated, garbage appended, a
//! segment deleted, the cursor rewritten), and the queue reopened and read.
//!
//! Whatever the damage: no panic, no error, and the records read back are
//! records that were written, in the order they were written (a
//! subsequence of the written ones). Undamaged, they are exactly the
//! records after the committed one.

use std::path::{Path, PathBuf};

use super::Input;
use crate::buffers::disk_queue::{DiskQueue, FsyncPolicy, Position, QueueOptions};

/// Run one input: options, records, how far to commit, then damage.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let options = QueueOptions {
        // Small caps, so that segments rotate and the oldest are dropped.
        max_bytes: 64 + u64::from(input.u16()) * 4,
        segment_bytes: 16 + u64::from(input.u16() % 2048),
        fsync: FsyncPolicy::Never,
    };
    let count = usize::from(input.byte() % 48);
    let written: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let record = input.short_bytes(96);
            if record.is_empty() {
                b"-".to_vec()
            } else {
                record.to_vec()
            }
        })
        .collect();
    let commit_after = usize::from(input.byte());

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut queue = DiskQueue::open(dir.path(), options).expect("open a new queue");
    for record in &written {
        // Too large for the cap: refused, nothing written.
        let _ = queue.append(record);
    }
    let first = read_all(&mut queue);
    assert_in_order(&first, &written);
    // Commit some, as a sink would after delivering them.
    let committed = first.get(commit_after).map(|(_, position)| *position);
    if let Some(position) = committed {
        queue.commit(position).expect("commit");
    }
    drop(queue);

    let damaged = damage(dir.path(), &mut input);

    let mut queue =
        DiskQueue::open(dir.path(), options).expect("a queue opens whatever its files hold");
    let again = read_all(&mut queue);
    assert_in_order(&again, &written);
    if !damaged {
        // Exactly what was not committed, none lost.
        let expected: Vec<&[u8]> = first
            .iter()
            .skip(committed.map_or(0, |_| commit_after + 1))
            .map(|(data, _)| data.as_slice())
            .collect();
        let got: Vec<&[u8]> = again.iter().map(|(data, _)| data.as_slice()).collect();
        assert_eq!(
            got, expected,
            "undamaged, reopening returns what was not committed"
        );
    }
    // Read to the end, the queue says nothing is waiting (a sink that
    // trusted it otherwise would spin).
    assert!(
        !queue.has_unread(),
        "nothing unread after reading to the end"
    );
    // Records appended after the damage come back, all and only them.
    let fresh: Vec<Vec<u8>> = (0..3).map(|i| format!("fresh {i}").into_bytes()).collect();
    let mut dropped = 0;
    for record in &fresh {
        dropped += queue.append(record).expect("append after damage");
    }
    let after: Vec<Vec<u8>> = read_all(&mut queue).into_iter().map(|(d, _)| d).collect();
    if dropped == 0 {
        assert_eq!(after, fresh, "records appended after the damage");
    } else {
        // A tiny size cap made room by dropping the oldest, maybe fresh ones.
        assert!(fresh.ends_with(&after), "the newest records are kept");
    }
    // Commit half of what was read and reopen: still only written records.
    if let Some((_, position)) = again.get(again.len() / 2) {
        queue.commit(*position).expect("commit");
    }
    drop(queue);
    let mut queue = DiskQueue::open(dir.path(), options).expect("reopen");
    let written: Vec<Vec<u8>> = written.into_iter().chain(fresh).collect();
    let last = read_all(&mut queue);
    assert_in_order(&last, &written);
    // Everything read and committed: nothing left to count.
    if let Some((_, position)) = last.last() {
        queue.commit(*position).expect("commit");
        assert_eq!(queue.stats().records, 0, "all committed");
    }
}

fn read_all(queue: &mut DiskQueue) -> Vec<(Vec<u8>, Position)> {
    let mut out = Vec::new();
    while let Some(record) = queue.read().expect("reading a local queue") {
        out.push((record.data, record.position));
    }
    out
}

/// `read` is a subsequence of `written`: nothing invented, nothing out of
/// order, nothing twice in one pass.
fn assert_in_order(read: &[(Vec<u8>, Position)], written: &[Vec<u8>]) {
    let mut rest = written.iter();
    for (data, _) in read {
        assert!(
            rest.any(|w| w == data),
            "read a record that was not written (or out of order): {data:?}\nwritten: {written:?}"
        );
    }
}

/// Apply the input's damage to the queue's files; returns whether any.
fn damage(dir: &Path, input: &mut Input<'_>) -> bool {
    let mut damaged = false;
    for _ in 0..input.byte() % 4 {
        let mut files = segments(dir);
        files.push(dir.join("cursor"));
        let path = &files[input.below(files.len())];
        let Ok(mut bytes) = std::fs::read(path) else {
            continue;
        };
        match input.byte() % 6 {
            // Overwrite bytes at an offset.
            0 | 1 => {
                let at = input.below(bytes.len() + 1);
                for (i, b) in input.short_bytes(8).iter().enumerate() {
                    match bytes.get_mut(at + i) {
                        Some(slot) => *slot = *b,
                        None => bytes.push(*b),
                    }
                }
            }
            // Truncate.
            2 | 3 => bytes.truncate(input.below(bytes.len() + 1)),
            // Append garbage.
            4 => bytes.extend_from_slice(input.short_bytes(32)),
            // Delete the file.
            _ => {
                let _ = std::fs::remove_file(path);
                damaged = true;
                continue;
            }
        }
        std::fs::write(path, &bytes).expect("damage a file");
        damaged = true;
    }
    damaged
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list the queue")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}
