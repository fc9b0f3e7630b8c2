//! The faults and their schedule. Two lanes run side by side, so faults
//! overlap the way they do in production (a reload while the ingest
//! flaps): the *agent* lane (rotations, pods, restarts, reloads, a full
//! disk) and the *ingest* lane (the receiver down or answering badly, the
//! token rotated). Each lane draws its faults from its own generator
//! seeded from the scenario's seed: every kind once in a shuffled round,
//! then another round, with random gaps and durations. The same seed gives
//! the same sequence of faults (their timing against the writers varies).

use std::time::Duration;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// logrotate `create`: rename, late lines, new file.
    RotateRename,
    /// logrotate `copytruncate`.
    RotateCopytruncate,
    /// Truncation in place (`> app.log`): unread lines destroyed.
    TruncateInPlace,
    /// Delete the live file and create a new one.
    DeleteRecreate,
    /// kubelet: rename with a time stamp, gzip older rotations.
    KubeletRotate,
    /// A pod appears, or one stops and its directory is deleted.
    PodChurn,
    /// kill -9, then start again.
    Kill9Restart,
    /// SIGTERM (graceful drain), then start again.
    SigtermRestart,
    /// SIGHUP with the configuration unchanged.
    Sighup,
    /// SIGHUP after changing the sink's batch settings.
    ReloadBatch,
    /// SIGHUP after adding (or removing) a second sink.
    ReloadSink,
    /// SIGHUP after putting transforms in front of the ingest sink,
    /// changing them, or taking them out.
    ReloadTransforms,
    /// SIGHUP after changing the file source's include (and, half the
    /// time, the pods source's poll interval: both rebuilt).
    ReloadInclude,
    /// Three to six SIGHUPs a few tens of milliseconds apart, each after
    /// one more change (batch settings, transforms, the include, the
    /// second sink in or out).
    ReloadStorm,
    /// SIGHUP after breaking the configuration (YAML that does not parse,
    /// a sink reading an input that does not exist, or an ingest sink that
    /// does not build: its token file missing), then, a while later, after
    /// mending it: the agent goes on with the configuration it ran.
    ReloadBroken,
    /// The Wasm processor's plugin worker killed (-9) in the middle of its
    /// batches (the processor is put in front of the ingest sink first if
    /// it is not there).
    KillProcessorWorker,
    /// The data directory's filesystem full for a while.
    DiskFull,
    /// The ingest stops listening.
    IngestDown,
    /// 503 for a while.
    Status503,
    /// 429 with `Retry-After` for a while.
    Status429,
    /// 413 to large requests for a while.
    Status413,
    /// 401: the ingest wants a new token; the file is rotated later.
    Unauthorized401,
    /// The token file rotated; the ingest follows.
    TokenRotated,
    /// Slow answers, some past the sink's timeout.
    Slow,
    /// Connections reset in the middle of the request body.
    ResetMidBody,
    /// The second sink's receiver stops listening for a while (while
    /// the agent lane may take that sink out, or put it back).
    MirrorDown,
}

/// The faults of the agent lane.
pub const AGENT_LANE: &[FaultKind] = &[
    FaultKind::RotateRename,
    FaultKind::RotateCopytruncate,
    FaultKind::TruncateInPlace,
    FaultKind::DeleteRecreate,
    FaultKind::KubeletRotate,
    FaultKind::PodChurn,
    FaultKind::Kill9Restart,
    FaultKind::SigtermRestart,
    FaultKind::Sighup,
    FaultKind::ReloadBatch,
    FaultKind::ReloadSink,
    FaultKind::ReloadTransforms,
    FaultKind::ReloadInclude,
    FaultKind::ReloadStorm,
    FaultKind::ReloadBroken,
    FaultKind::KillProcessorWorker,
    FaultKind::DiskFull,
];

/// The faults of the ingest lane.
pub const INGEST_LANE: &[FaultKind] = &[
    FaultKind::IngestDown,
    FaultKind::Status503,
    FaultKind::Status429,
    FaultKind::Status413,
    FaultKind::Unauthorized401,
    FaultKind::TokenRotated,
    FaultKind::Slow,
    FaultKind::ResetMidBody,
    FaultKind::MirrorDown,
];

/// One fault to inject.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    /// What.
    pub kind: FaultKind,
    /// How long the system runs undisturbed before it.
    pub gap: Duration,
    /// How long it lasts (for faults that last).
    pub duration: Duration,
    /// A free draw for the fault's own choices (which file, how many).
    pub pick: u64,
}

/// The faults of one lane, in order.
pub struct Lane {
    rng: fastrand::Rng,
    kinds: &'static [FaultKind],
    round: Vec<FaultKind>,
}

// === impl FaultKind ===

impl FaultKind {
    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RotateRename => "rename",
            FaultKind::RotateCopytruncate => "copytruncate",
            FaultKind::TruncateInPlace => "truncate",
            FaultKind::DeleteRecreate => "delete_recreate",
            FaultKind::KubeletRotate => "kubelet_rotate",
            FaultKind::PodChurn => "pod_churn",
            FaultKind::Kill9Restart => "kill9",
            FaultKind::SigtermRestart => "sigterm",
            FaultKind::Sighup => "sighup",
            FaultKind::ReloadBatch => "reload_batch",
            FaultKind::ReloadSink => "reload_sink",
            FaultKind::ReloadTransforms => "reload_transforms",
            FaultKind::ReloadInclude => "reload_include",
            FaultKind::ReloadStorm => "reload_storm",
            FaultKind::ReloadBroken => "reload_broken",
            FaultKind::KillProcessorWorker => "kill_worker",
            FaultKind::DiskFull => "disk_full",
            FaultKind::IngestDown => "ingest_down",
            FaultKind::Status503 => "503",
            FaultKind::Status429 => "429",
            FaultKind::Status413 => "413",
            FaultKind::Unauthorized401 => "401",
            FaultKind::TokenRotated => "token_rotated",
            FaultKind::Slow => "slow",
            FaultKind::ResetMidBody => "reset",
            FaultKind::MirrorDown => "mirror_down",
        }
    }
}

// === impl Lane ===

impl Lane {
    /// The lane of `kinds` for scenario `seed`; `salt` tells lanes apart.
    pub fn new(seed: u64, salt: u64, kinds: &'static [FaultKind]) -> Lane {
        Lane {
            rng: fastrand::Rng::with_seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt),
            kinds,
            round: Vec::new(),
        }
    }

    /// The next fault.
    pub fn next_fault(&mut self) -> Planned {
        if self.round.is_empty() {
            self.round = self.kinds.to_vec();
            self.rng.shuffle(&mut self.round);
        }
        let kind = self.round.pop().unwrap_or(FaultKind::Sighup);
        Planned {
            kind,
            gap: Duration::from_millis(self.rng.u64(200..1500)),
            duration: Duration::from_millis(self.rng.u64(500..3000)),
            pick: self.rng.u64(..),
        }
    }
}
