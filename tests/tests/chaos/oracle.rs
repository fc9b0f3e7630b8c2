//! The oracle: what the receiver decoded (with `opentelemetry-proto`, not
//! the agent's encoder) against what the writers wrote.
//!
//! Every sequence number of every stream must arrive, with its body whole
//! (partial CRI lines joined exactly). A missing line is *lost* unless one
//! of these explains it:
//!
//! - it sat unread in a file no path reached any more (deleted, or renamed
//!   to a name the include does not match) when the agent stopped: the
//!   only descriptor to it died with the process. Recorded at each stop as
//!   *destroyed*, and so are the lines of a file truncated in place not
//!   arrived when the agent was killed with -9 (they were only in its
//!   memory);
//! - it was in a file truncated in place and the agent counted the bytes
//!   (`neurallog_agent_file_bytes_lost_total{reason="truncated"}`), or the
//!   agent gave it up for another reason it counted in the same metric.
//!   These are *given up*; the count of lines they may cover is derived
//!   from the bytes the agent reports, per stream.
//!
//! Duplicates are allowed where at-least-once delivery explains them: a
//! copy that arrived after the agent restarted (what was read since the
//! last checkpoint is read again), while the ingest was slow or going down
//! (a request delivered whose answer the agent never got), or shortly
//! before the agent counted a rewind (`neurallog_agent_file_rewinds_total`)
//! or a retry after a timeout or connection error
//! (`neurallog_agent_sink_retries_total{reason="timeout"|"io"}`), or a
//! copy of a line written before such a rewind or retry was counted and
//! first arrived after it: it was in the unacknowledged window then (read
//! again from where the undelivered batch began, while a later batch, or
//! the same batch's share at another sink, was still on its way).
//! Any other copy is an *unexplained duplicate*: something read twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

use super::lines;
use super::world::{FileRec, StreamKind, World};
use crate::support::receiver::Captured;

/// What arrived.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Per stream, how often each sequence number arrived, the epoch of
    /// its first arrival and when that was (ms since the oracle began).
    received: HashMap<String, Vec<(u32, u32, u32)>>,
    /// When the oracle began.
    began: Option<Instant>,
    /// Advanced by every event after which copies are expected (a
    /// restart): a copy of a line first arrived in an earlier epoch is
    /// explained.
    epoch: u32,
    /// Copies arriving before this are explained (the ingest is slow or
    /// going down).
    excused_until: Option<Instant>,
    /// Copies not explained yet: stream, sequence number, arrival.
    suspects: Vec<(String, u64, Instant)>,
    /// Per stream, the lines written when the agent last counted a rewind
    /// or a resend: copies of lines below are explained.
    written_at_rewind: HashMap<String, u64>,
    /// Copies nothing explained: stream, sequence number, when the first
    /// and this copy arrived (seconds since the oracle began).
    pub unexplained: Vec<(String, u64, f64, f64)>,
    /// Per stream, the highest sequence number arrived from the agent's
    /// current life (since the last [`Oracle::agent_stopped`]).
    life_max: HashMap<String, u64>,
    /// Per stream, lines destroyed by nature (see the module docs).
    destroyed: HashMap<String, BTreeSet<u64>>,
    /// Bodies that named a line but did not match it.
    pub corrupt: u64,
    /// A few of them, for the report.
    pub corrupt_examples: Vec<String>,
    /// Records that are not ours at all.
    pub foreign: u64,
}

/// The verdict of one scenario.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Lines written.
    pub lines: u64,
    /// Lines missing with no explanation.
    pub lost: u64,
    /// Extra copies received.
    pub duplicates: u64,
    /// Missing lines destroyed by nature.
    pub destroyed: u64,
    /// Missing lines covered by what the agent reported lost.
    pub given_up: u64,
    /// Bodies not matching their line.
    pub corrupt: u64,
    /// Copies nothing explains.
    pub unexplained_duplicates: u64,
    /// Per stream with lost lines: how they were missing.
    pub lost_examples: BTreeMap<String, String>,
}

// === impl Oracle ===

impl Oracle {
    /// An oracle whose clock (in the reports of unexplained copies)
    /// starts now, with the scenario's log.
    pub fn starting_now() -> Oracle {
        Oracle {
            began: Some(Instant::now()),
            ..Oracle::default()
        }
    }

    /// Decode and account for `requests` (the logs ones answered 2xx).
    pub fn ingest(&mut self, requests: Vec<Captured>) {
        for request in requests {
            if request.path != "/v1/logs" || !(200..300).contains(&request.status) {
                continue;
            }
            let decoded = ExportLogsServiceRequest::decode(request.body.as_slice())
                .expect("the receiver accepted an undecodable OTLP logs request");
            for rl in decoded.resource_logs {
                for sl in rl.scope_logs {
                    for record in sl.log_records {
                        match record.body.and_then(|b| b.value) {
                            Some(Value::StringValue(body)) => self.record(&body, request.at),
                            _ => self.foreign += 1,
                        }
                    }
                }
            }
        }
    }

    /// Account for one record body, arrived at `at`.
    fn record(&mut self, body: &str, at: Instant) {
        let Some((stream, seq)) = lines::parse(body) else {
            self.foreign += 1;
            return;
        };
        if body != lines::body(stream, seq) {
            self.corrupt += 1;
            if self.corrupt_examples.len() < 5 {
                self.corrupt_examples.push(body.to_owned());
            }
            return;
        }
        let began = *self.began.get_or_insert(at);
        let at_ms = at.saturating_duration_since(began).as_millis() as u32;
        let counts = self.received.entry(stream.to_owned()).or_default();
        if counts.len() <= seq as usize {
            counts.resize(seq as usize + 1, (0, 0, 0));
        }
        let (count, first_epoch, first_at) = &mut counts[seq as usize];
        if *count == 0 {
            *first_epoch = self.epoch;
            *first_at = at_ms;
        } else if *first_epoch == self.epoch && self.excused_until.is_none_or(|until| at > until) {
            self.suspects.push((stream.to_owned(), seq, at));
        }
        *count += 1;
        let max = self.life_max.entry(stream.to_owned()).or_insert(seq);
        *max = (*max).max(seq);
    }

    /// Whether the agent's current life has read from the file holding
    /// lines `first..end` of `stream` (the last file of a stream): a line
    /// of it, or a later one, arrived. An empty file holds nothing to
    /// lose.
    pub fn opened_in_this_life(&self, stream: &str, first: u64, end: u64) -> bool {
        first == end || self.life_max.get(stream).is_some_and(|&max| max >= first)
    }

    /// How often line `seq` of `stream` arrived.
    pub fn count(&self, stream: &str, seq: u64) -> u32 {
        self.received
            .get(stream)
            .and_then(|c| c.get(seq as usize))
            .map_or(0, |(count, _, _)| *count)
    }

    fn elapsed(&mut self) -> Duration {
        self.began.get_or_insert_with(Instant::now).elapsed()
    }

    /// The agent restarted: copies of lines arrived before are expected.
    pub fn new_epoch(&mut self) {
        self.epoch += 1;
    }

    /// Copies arriving until `until` are expected (the ingest is slow or
    /// going down: a request may be delivered and its answer lost).
    pub fn excuse_until(&mut self, until: Instant) {
        self.excused_until = Some(self.excused_until.map_or(until, |u| u.max(until)));
    }

    /// The agent counted a rewind since the last look: copies that arrived
    /// shortly before are its doing. Copies older than `horizon` that
    /// nothing explained are unexplained for good.
    /// `written` is, per stream, how many lines were written by now.
    pub fn settle_suspects(
        &mut self,
        rewound: bool,
        written: impl IntoIterator<Item = (String, u64)>,
        horizon: Duration,
    ) {
        if rewound {
            self.written_at_rewind.extend(written);
        }
        let now = Instant::now();
        let began = now - self.elapsed();
        let suspects = std::mem::take(&mut self.suspects);
        for (stream, seq, at) in suspects {
            if rewound
                || self
                    .written_at_rewind
                    .get(&stream)
                    .is_some_and(|&n| seq < n)
            {
                continue;
            }
            if now.duration_since(at) > horizon {
                let first = self
                    .received
                    .get(&stream)
                    .and_then(|c| c.get(seq as usize))
                    .map_or(0, |(_, _, first)| *first);
                let again = at.duration_since(began).as_secs_f64();
                self.unexplained
                    .push((stream, seq, f64::from(first) / 1000.0, again));
            } else {
                self.suspects.push((stream, seq, at));
            }
        }
        if rewound {
            self.epoch += 1;
        }
    }

    /// Whether every line `first..end` of `stream` arrived.
    pub fn has_all(&self, stream: &str, first: u64, end: u64) -> bool {
        (first..end).all(|seq| self.count(stream, seq) > 0)
    }

    /// The agent stopped: lines not arrived from files no path reaches are
    /// destroyed. After a kill -9, so are those of files truncated in
    /// place: read but not delivered, they were only in the memory of the
    /// process (after a graceful stop the agent must count them).
    pub fn agent_stopped(&mut self, world: &World, killed: bool) {
        self.life_max.clear();
        for stream in &world.streams {
            let gone = |r: &&FileRec| (!r.reachable && !r.truncated) || (killed && r.truncated);
            for rec in stream.files.iter().filter(gone) {
                let missing: Vec<u64> = (rec.first..rec.end)
                    .filter(|&seq| self.count(&stream.id, seq) == 0)
                    .collect();
                self.destroyed
                    .entry(stream.id.clone())
                    .or_default()
                    .extend(missing);
            }
        }
    }

    /// Lines that must still arrive: neither arrived, nor destroyed, nor
    /// in a file truncated in place. `given_up` says what the agent
    /// reported lost, per stream and reason, in bytes.
    pub fn outstanding(&self, world: &World, extra_included: bool) -> u64 {
        world
            .streams
            .iter()
            .filter(|s| extra_included || s.kind != StreamKind::Extra)
            .map(|stream| {
                let destroyed = self.destroyed.get(&stream.id);
                stream
                    .files
                    .iter()
                    .filter(|r| !r.truncated)
                    .flat_map(|r| r.first..r.end)
                    .filter(|&seq| {
                        self.count(&stream.id, seq) == 0
                            && !destroyed.is_some_and(|d| d.contains(&seq))
                    })
                    .count() as u64
            })
            .sum()
    }

    /// The verdict, given what the agent reported lost, per stream and
    /// reason, in bytes.
    pub fn tally(
        &self,
        world: &World,
        extra_included: bool,
        reported_lost: &BTreeMap<(String, String), f64>,
    ) -> Tally {
        let mut tally = Tally {
            corrupt: self.corrupt,
            unexplained_duplicates: (self.unexplained.len() + self.suspects.len()) as u64,
            ..Tally::default()
        };
        for stream in &world.streams {
            if stream.kind == StreamKind::Extra && !extra_included {
                continue;
            }
            tally.lines += stream.next;
            let line_bytes = match stream.kind {
                StreamKind::Pod => lines::MIN_PHYSICAL_LINE,
                StreamKind::Plain | StreamKind::Extra => lines::BODY_BYTES as u64 + 1,
            };
            let reported = |want_truncated: bool| -> u64 {
                let bytes: f64 = reported_lost
                    .iter()
                    .filter(|((s, reason), _)| {
                        *s == stream.id && (reason == "truncated") == want_truncated
                    })
                    .map(|(_, bytes)| *bytes)
                    .sum();
                (bytes as u64).div_ceil(line_bytes)
            };
            let destroyed = self.destroyed.get(&stream.id);
            let (mut truncated_missing, mut other_missing) = (0u64, Vec::new());
            for rec in &stream.files {
                for seq in rec.first..rec.end {
                    let count = u64::from(self.count(&stream.id, seq));
                    tally.duplicates += count.saturating_sub(1);
                    if count > 0 {
                        continue;
                    }
                    if destroyed.is_some_and(|d| d.contains(&seq)) {
                        tally.destroyed += 1;
                    } else if rec.truncated {
                        truncated_missing += 1;
                    } else {
                        other_missing.push(seq);
                    }
                }
            }
            let truncated_allowed = reported(true);
            let unexplained_truncated = truncated_missing.saturating_sub(truncated_allowed);
            let missing = other_missing.len() as u64 + unexplained_truncated;
            let lost = missing.saturating_sub(reported(false));
            tally.given_up += truncated_missing - unexplained_truncated + (missing - lost);
            tally.lost += lost;
            if lost > 0 {
                let truncated: Vec<String> = stream
                    .files
                    .iter()
                    .filter(|r| r.truncated)
                    .map(|r| format!("{}..{}", r.first, r.end))
                    .collect();
                tally.lost_examples.insert(
                    stream.id.clone(),
                    format!(
                        "{lost} lost: {truncated_missing} missing from files truncated in place \
                         (lines {}) of which the agent counted up to {truncated_allowed}; \
                         {} missing elsewhere (first ones {:?}), {} counted given up otherwise",
                        truncated.join(" "),
                        other_missing.len(),
                        &other_missing[..other_missing.len().min(10)],
                        reported(false),
                    ),
                );
            }
        }
        tally
    }
}

/// The stream a path the agent reports belongs to: `…/s03.log.2` is
/// `s03`, `…/pods/chaos_web-p01_<uid>/app/0.log…` is `p01`.
pub fn stream_of_path(path: &str) -> Option<String> {
    if let Some(rest) = path.split("/pods/").nth(1) {
        let pod_dir = rest.split('/').next()?;
        let pod = pod_dir.split('_').nth(1)?;
        return pod.strip_prefix("web-").map(str::to_owned);
    }
    let name = path.rsplit('/').next()?;
    name.split_once(".log").map(|(stem, _)| stem.to_owned())
}

/// The oracle itself must be able to fail: a missing line is lost unless
/// it was destroyed by nature or counted by the agent; a copy is
/// unexplained unless something explains it.
#[test]
fn oracle_tells_lost_from_destroyed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::new(dir.path(), 7, 1, 0, 0, false);
    let mut oracle = Oracle::default();
    world.tick(1.0, 10.0);
    assert_eq!(world.streams[0].next, 10);
    for seq in 0..10 {
        oracle.record(&lines::body("s00", seq), Instant::now());
    }
    oracle.record(&lines::body("s00", 3), Instant::now());
    oracle.settle_suspects(false, [], Duration::ZERO);
    // Lines 10..20 go to a file that is then deleted; 20..30 to a new one.
    world.tick(1.0, 10.0);
    world.delete_recreate(0);
    world.tick(1.0, 10.0);
    oracle.record(&lines::body("s00", 25), Instant::now());
    let none = BTreeMap::new();
    let tally = oracle.tally(&world, false, &none);
    assert_eq!((tally.lines, tally.lost, tally.duplicates), (30, 19, 1));
    assert_eq!(tally.unexplained_duplicates, 1);
    // The agent stops: what the deleted file held is destroyed.
    oracle.agent_stopped(&world, true);
    let tally = oracle.tally(&world, false, &none);
    assert_eq!((tally.lost, tally.destroyed), (9, 10));
    // The agent reports 9 lines' worth of bytes given up.
    let lost = BTreeMap::from([(("s00".to_owned(), "max_hold_secs".to_owned()), 9.0 * 151.0)]);
    let tally = oracle.tally(&world, false, &lost);
    assert_eq!((tally.lost, tally.given_up), (0, 9));
    // A body cut short is corrupt, whatever it claims.
    oracle.record(&lines::body("s00", 26)[..100], Instant::now());
    assert_eq!(oracle.corrupt, 1);
}

/// A rewind counted while lines were on their way explains their later
/// copies, and only theirs: a line written after it arriving twice is
/// still unexplained.
#[test]
fn a_rewind_explains_copies_of_the_lines_written_before_it() {
    let mut oracle = Oracle::default();
    // Lines 0..10 written; the agent counts a rewind before any arrived.
    oracle.settle_suspects(true, [("s00".to_owned(), 10)], Duration::ZERO);
    // Then the batch still on its way and the lines read again arrive,
    // and a line written later arrives twice.
    for seq in (0..10).chain(0..10).chain([12, 12]) {
        oracle.record(&lines::body("s00", seq), Instant::now());
    }
    oracle.settle_suspects(false, [("s00".to_owned(), 13)], Duration::ZERO);
    let unexplained: Vec<u64> = oracle
        .unexplained
        .iter()
        .map(|(_, seq, _, _)| *seq)
        .collect();
    assert_eq!(unexplained, [12]);
}
