//! A place in the queue, and the committed read position, persisted in `<dir>/cursor` as
//! `segment offset index crc32` text, replaced atomically (write a
//! temporary file, rename over).

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

/// A place in the queue: just past record number `index` (counting good
/// records from 0) of `segment`, at byte `offset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The segment's id.
    pub segment: u64,
    /// The byte offset inside it.
    pub offset: u64,
    /// Good records before `offset` in the segment.
    pub index: u64,
}

const FILE: &str = "cursor";
const TMP: &str = "cursor.tmp";

/// Load the cursor; `Ok(None)` when there is none, `Err(())` when it is
/// unreadable or corrupt.
pub(super) fn load(dir: &Path) -> Result<Option<Position>, ()> {
    let text = match std::fs::read_to_string(dir.join(FILE)) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(()),
    };
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| ())?;
    let [segment, offset, index, crc] = fields[..] else {
        return Err(());
    };
    if u64::from(checksum(segment, offset, index)) != crc {
        return Err(());
    }
    Ok(Some(Position {
        segment,
        offset,
        index,
    }))
}

/// Persist `position`; with `sync`, fsync before the rename.
pub(super) fn store(dir: &Path, position: Position, sync: bool) -> std::io::Result<()> {
    let tmp = dir.join(TMP);
    let mut file = File::create(&tmp)?;
    writeln!(
        file,
        "{} {} {} {}",
        position.segment,
        position.offset,
        position.index,
        checksum(position.segment, position.offset, position.index)
    )?;
    if sync {
        file.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(FILE))?;
    if sync {
        // The rename is in the directory: durable once it is synced.
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn checksum(segment: u64, offset: u64, index: u64) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&segment.to_le_bytes());
    hasher.update(&offset.to_le_bytes());
    hasher.update(&index.to_le_bytes());
    hasher.finalize()
}
