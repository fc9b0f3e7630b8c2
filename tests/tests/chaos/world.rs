//! The files the agent tails and the applications writing them: plain log
//! files (`logs/`, and `extra/` which a reload adds to the source's
//! include) and kubelet's pod directories (`pods/<ns>_<pod>_<uid>/<container>/0.log`,
//! CRI lines). Every rotation the schedule asks for is done here, the way
//! logrotate and kubelet do it, and every file is recorded with the
//! sequence numbers it holds and whether the agent can still reach it by a
//! path: that is what lets the oracle tell lines destroyed by nature from
//! lines the agent lost.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::lines;

/// Which kind of application writes a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Plain lines in `logs/`.
    Plain,
    /// Plain lines in `extra/`, tailed once a reload adds it.
    Extra,
    /// CRI lines of a container in `pods/`.
    Pod,
}

/// One file a stream's lines went to: lines `first..end`.
#[derive(Debug, Clone)]
pub struct FileRec {
    /// Where it is now (rotations rename it, gzip renames it again).
    pub path: PathBuf,
    /// Its first sequence number.
    pub first: u64,
    /// One past its last.
    pub end: u64,
    /// Whether the agent can open it by a path its configuration matches
    /// (false once deleted, or renamed to a name the include does not
    /// match): only a descriptor the agent holds reaches it then.
    pub reachable: bool,
    /// Truncated in place: what was unread is destroyed, and the agent
    /// must count it.
    pub truncated: bool,
    /// When it stopped being the live file.
    pub rotated_at: Option<Instant>,
}

/// The lines of one application (one container for pods), in order.
#[derive(Debug)]
pub struct Stream {
    /// The name in its bodies.
    pub id: String,
    /// Who writes it.
    pub kind: StreamKind,
    /// The path it writes to.
    pub live: PathBuf,
    file: File,
    /// The next sequence number.
    pub next: u64,
    /// Every file its lines went to; the last one is the live file.
    pub files: Vec<FileRec>,
    /// Not written while set (a rotation by truncation is coming).
    pub paused: bool,
    /// Its pod is gone or going: never written again.
    pub retired: bool,
    /// The pod directory, for pods.
    pub pod_dir: Option<PathBuf>,
    /// The `F` piece of line `next`, whose `P` piece is written.
    pending_piece: Option<String>,
    rotations: u32,
    credit: f64,
}

/// Every stream, with what the writers and rotations need.
pub struct World {
    /// The scenario's directory.
    pub root: PathBuf,
    /// Every stream ever created.
    pub streams: Vec<Stream>,
    /// Whether the file source's include matches rotated names
    /// (`*.log*`) or only live ones (`*.log`).
    pub include_rotated: bool,
    pods: u32,
    kubelet_clock: u64,
    rng: fastrand::Rng,
}

// === impl World ===

impl World {
    /// Create `plain` files in `logs/`, `extra` in `extra/` and `pods`
    /// pods under `pods/`.
    pub fn new(
        root: &Path,
        seed: u64,
        plain: u32,
        extra: u32,
        pods: u32,
        include_rotated: bool,
    ) -> World {
        let mut world = World {
            root: root.to_owned(),
            streams: Vec::new(),
            include_rotated,
            pods: 0,
            kubelet_clock: 0,
            rng: fastrand::Rng::with_seed(seed ^ 0x5752_4954_4552),
        };
        for i in 0..plain {
            let live = root.join(format!("logs/s{i:02}.log"));
            world.add(format!("s{i:02}"), StreamKind::Plain, live, None);
        }
        for i in 0..extra {
            let live = root.join(format!("extra/e{i:02}.log"));
            world.add(format!("e{i:02}"), StreamKind::Extra, live, None);
        }
        for _ in 0..pods {
            world.add_pod();
        }
        world
    }

    /// A new pod with one container, `chaos_web-pNN_<uid>/app/0.log`.
    pub fn add_pod(&mut self) -> usize {
        let n = self.pods;
        self.pods += 1;
        let pod_dir = self.root.join(format!(
            "pods/chaos_web-p{n:02}_00000000-0000-4000-8000-{n:012}"
        ));
        let live = pod_dir.join("app/0.log");
        self.add(format!("p{n:02}"), StreamKind::Pod, live, Some(pod_dir))
    }

    fn add(
        &mut self,
        id: String,
        kind: StreamKind,
        live: PathBuf,
        pod_dir: Option<PathBuf>,
    ) -> usize {
        let file = open_append(&live);
        self.streams.push(Stream {
            id,
            kind,
            files: vec![FileRec::live(&live, 0)],
            live,
            file,
            next: 0,
            paused: false,
            retired: false,
            pod_dir,
            pending_piece: None,
            rotations: 0,
            credit: 0.0,
        });
        self.streams.len() - 1
    }

    /// Append what `seconds` at `rate` lines per second (over all the
    /// streams being written) are due.
    pub fn tick(&mut self, seconds: f64, rate: f64) {
        let active = self.streams.iter().filter(|s| s.writable()).count().max(1);
        let per_stream = rate / active as f64;
        for i in 0..self.streams.len() {
            if !self.streams[i].writable() {
                continue;
            }
            let stream = &mut self.streams[i];
            stream.credit += per_stream * seconds;
            let due = stream.credit.floor();
            stream.credit -= due;
            // Now and then a partial line's `F` piece waits for the next
            // tick, so a rotation can fall between the pieces.
            let split = self.rng.u8(..3) == 0;
            stream.write(due as u64, split);
        }
    }

    /// Write the `F` pieces still waiting (before the writers stop).
    pub fn flush(&mut self) {
        for stream in &mut self.streams {
            stream.complete_partial();
        }
    }

    /// The streams a rotation of `kind` may pick.
    pub fn candidates(&self, kind: StreamKind) -> Vec<usize> {
        (0..self.streams.len())
            .filter(|&i| self.streams[i].kind == kind && self.streams[i].writable())
            .collect()
    }

    /// logrotate's `create`: rename to `<live>.<n>`, a few late lines
    /// through the old descriptor, then a new file.
    pub fn rotate_rename(&mut self, i: usize) {
        let reachable = self.include_rotated;
        let stream = &mut self.streams[i];
        let rotated = stream.numbered();
        std::fs::rename(&stream.live, &rotated).expect("rename the live file");
        stream.write(3, false);
        stream.retire_live(rotated, reachable);
        stream.reopen();
    }

    /// logrotate's `copytruncate`, with the application paused (it is
    /// holding the world's lock) so no line falls between the copy and
    /// the truncation. `watched`: an agent is reading the file now.
    pub fn rotate_copytruncate(&mut self, i: usize, watched: bool) {
        let reachable = watched || self.include_rotated;
        let stream = &mut self.streams[i];
        let copy = stream.numbered();
        std::fs::copy(&stream.live, &copy).expect("copy the live file");
        stream.file.set_len(0).expect("truncate the live file");
        // An agent reading the original finds the copy by its content,
        // whatever its name; one that starts after finds it only by a
        // name its include matches.
        stream.retire_live(copy, reachable);
        stream.files.push(FileRec::live(&stream.live, stream.next));
    }

    /// Truncate the live file in place: what the agent had not read is
    /// destroyed (and must be counted as lost, reason `truncated`).
    pub fn truncate_in_place(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        stream.complete_partial();
        stream.file.set_len(0).expect("truncate the live file");
        let live = stream.live.clone();
        stream.retire_live(live, true);
        if let Some(rec) = stream.files.last_mut() {
            rec.truncated = true;
        }
        stream.files.push(FileRec::live(&stream.live, stream.next));
    }

    /// Delete the live file and create a new one: the agent keeps reading
    /// the deleted one through its descriptor.
    pub fn delete_recreate(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        std::fs::remove_file(&stream.live).expect("delete the live file");
        let live = stream.live.clone();
        stream.retire_live(live, false);
        stream.reopen();
    }

    /// kubelet's rotation: gzip the rotated files but the newest (a
    /// `.gz.tmp` renamed to `.gz`, the original deleted), rename the live
    /// file to `0.log.<YYYYMMDD-HHMMSS>`, then the runtime reopens it.
    pub fn kubelet_rotate(&mut self, i: usize) {
        self.kubelet_clock += 1;
        let stamp = format!(
            "20261205-{:02}{:02}{:02}",
            10 + self.kubelet_clock / 3600,
            (self.kubelet_clock / 60) % 60,
            self.kubelet_clock % 60
        );
        let stream = &mut self.streams[i];
        for rec in stream.files.iter_mut() {
            let name = rec.path.to_string_lossy().into_owned();
            if rec.path != stream.live && rec.reachable && !name.ends_with(".gz") {
                rec.path = gzip(&rec.path);
            }
        }
        let mut rotated = stream.live.clone().into_os_string();
        rotated.push(format!(".{stamp}"));
        let rotated = PathBuf::from(rotated);
        std::fs::rename(&stream.live, &rotated).expect("rename the live file");
        stream.retire_live(rotated, true);
        stream.reopen();
    }

    /// Stop writing a pod (it is deleted later, see [`World::delete_pod`]).
    pub fn retire(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        stream.complete_partial();
        stream.retired = true;
    }

    /// Delete a retired pod's directory, as kubelet does when the pod is
    /// removed.
    pub fn delete_pod(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        if let Some(dir) = stream.pod_dir.take() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        for rec in &mut stream.files {
            rec.reachable = false;
        }
    }

    /// Delete rotated file `rec` of stream `i` (every line of it arrived).
    pub fn delete_rotated(&mut self, i: usize, rec: usize) {
        let rec = &mut self.streams[i].files[rec];
        let _ = std::fs::remove_file(&rec.path);
        rec.reachable = false;
    }

    /// Lines written so far, over every stream.
    pub fn lines(&self) -> u64 {
        self.streams.iter().map(|s| s.next).sum()
    }
}

// === impl Stream ===

impl Stream {
    fn writable(&self) -> bool {
        !self.paused && !self.retired
    }

    /// The live file's record.
    pub fn live_rec(&self) -> &FileRec {
        // `add` pushes the first record and no rotation leaves none.
        self.files.last().expect("a stream always has a live file")
    }

    /// Append `count` lines; `split` lets the last one stop after its `P`
    /// piece.
    fn write(&mut self, count: u64, split: bool) {
        let mut buf = String::new();
        if let Some(piece) = self.pending_piece.take() {
            buf.push_str(&piece);
            self.next += 1;
        }
        for n in 0..count {
            match self.kind {
                StreamKind::Plain | StreamKind::Extra => {
                    buf.push_str(&lines::plain(&self.id, self.next));
                    self.next += 1;
                }
                StreamKind::Pod => {
                    let mut pieces = lines::cri(&self.id, self.next);
                    if split && n + 1 == count && pieces.len() == 2 {
                        self.pending_piece = pieces.pop();
                        buf.push_str(&pieces[0]);
                    } else {
                        pieces.iter().for_each(|p| buf.push_str(p));
                        self.next += 1;
                    }
                }
            }
        }
        self.file
            .write_all(buf.as_bytes())
            .expect("append log lines");
        let next = self.next;
        if let Some(rec) = self.files.last_mut() {
            rec.end = next;
        }
    }

    fn complete_partial(&mut self) {
        if self.pending_piece.is_some() {
            self.write(0, false);
        }
    }

    /// `<live>.<n>` for the next rotation.
    fn numbered(&mut self) -> PathBuf {
        self.rotations += 1;
        let mut name = self.live.clone().into_os_string();
        name.push(format!(".{}", self.rotations));
        PathBuf::from(name)
    }

    /// The live file's record now lives at `path`.
    fn retire_live(&mut self, path: PathBuf, reachable: bool) {
        if let Some(rec) = self.files.last_mut() {
            rec.path = path;
            rec.reachable = reachable;
            rec.rotated_at = Some(Instant::now());
        }
    }

    /// A new live file, as the application reopens its log.
    fn reopen(&mut self) {
        self.file = open_append(&self.live);
        self.files.push(FileRec::live(&self.live, self.next));
    }
}

// === impl FileRec ===

impl FileRec {
    fn live(path: &Path, first: u64) -> FileRec {
        FileRec {
            path: path.to_owned(),
            first,
            end: first,
            reachable: true,
            truncated: false,
            rotated_at: None,
        }
    }
}

fn open_append(path: &Path) -> File {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the log directory");
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open a log for appending")
}

/// Compress `path` the way kubelet does; returns the `.gz` path.
fn gzip(path: &Path) -> PathBuf {
    let data = std::fs::read(path).expect("read a rotated log");
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let tmp = PathBuf::from(format!("{}.gz.tmp", path.display()));
    let mut encoder = flate2::write::GzEncoder::new(
        File::create(&tmp).expect("create the .gz.tmp"),
        flate2::Compression::fast(),
    );
    encoder.write_all(&data).expect("compress a rotated log");
    encoder.finish().expect("finish the .gz");
    std::fs::rename(&tmp, &gz).expect("rename the .gz.tmp");
    std::fs::remove_file(path).expect("delete the compressed log");
    gz
}
