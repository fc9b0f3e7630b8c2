//! The second sink's oracle: a record goes to every sink that reads its
//! source, and is acknowledged only once all of them delivered it. The
//! second sink (`mirror`) reads the sources directly, from a receiver that
//! never fails, while the ingest flaps, the ingest's sink is renamed and
//! its transforms change, and the agent restarts. So a line written while
//! the mirror is in the configuration must reach it as it reaches the
//! ingest: one the ingest got and the mirror did not is *missed*.
//!
//! The check covers the mirror's last stretch in the configuration, if it
//! is still there at the end. Each time a reload adds it, it sends a
//! header of its own (`x-chaos-mirror: N`), and the lines written once a
//! request with that header has arrived are the ones it must have: they
//! were read after it was wired in. A stretch that a reload ends is not
//! checked (what the mirror held then is given up and read again for the
//! other sinks, by design). Lines no path reaches when the agent stops
//! (the descriptor to them died with it) or lines of a file truncated in
//! place may be gone for the mirror as for the ingest, and are excused.

use std::collections::{BTreeSet, HashMap};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

use super::lines;
use super::oracle::Oracle;
use super::world::World;
use crate::support::receiver::Captured;

/// The header naming the stretch a mirror request belongs to.
pub const HEADER: &str = "x-chaos-mirror";

/// What the mirror got in its current stretch in the configuration.
#[derive(Debug, Default)]
pub struct Mirror {
    /// The stretch the mirror is in the configuration for, if it is.
    stretch: Option<u32>,
    /// Per stream, the first line it must have: the lines written when
    /// its first request of this stretch arrived.
    from: Option<HashMap<String, u64>>,
    /// Per stream, which lines arrived in this stretch.
    received: HashMap<String, Vec<bool>>,
    /// Per stream, lines no path reached when the agent stopped.
    destroyed: HashMap<String, BTreeSet<u64>>,
    /// Bodies that named a line but did not match it.
    pub corrupt: u64,
}

/// The verdict on the mirror.
#[derive(Debug, Default, Clone)]
pub struct MirrorTally {
    /// Lines the mirror had to have (the ingest got them).
    pub checked: u64,
    /// Of them, the ones it did not get.
    pub missed: u64,
    /// A few of them: stream and line.
    pub examples: Vec<(String, u64)>,
}

// === impl Mirror ===

impl Mirror {
    /// A reload put the mirror in the configuration, sending `stretch`
    /// in its header.
    pub fn added(&mut self, stretch: u32) {
        *self = Mirror {
            stretch: Some(stretch),
            ..Mirror::default()
        };
    }

    /// A reload took the mirror out: nothing more is checked until it
    /// comes back.
    pub fn removed(&mut self) {
        *self = Mirror::default();
    }

    /// Whether the mirror is in the configuration.
    pub fn is_in(&self) -> bool {
        self.stretch.is_some()
    }

    /// Account for what the mirror's receiver accepted. `world` says how
    /// many lines each stream has written by now.
    pub fn ingest(&mut self, requests: Vec<Captured>, world: &World) {
        let Some(stretch) = self.stretch else {
            return;
        };
        let stretch = stretch.to_string();
        for request in requests {
            let ours = request
                .headers
                .iter()
                .any(|(name, value)| name == HEADER && *value == stretch);
            if !ours || request.path != "/v1/logs" || !(200..300).contains(&request.status) {
                continue;
            }
            if self.from.is_none() {
                self.from = Some(
                    world
                        .streams
                        .iter()
                        .map(|s| (s.id.clone(), s.next))
                        .collect(),
                );
            }
            let decoded = ExportLogsServiceRequest::decode(request.body.as_slice())
                .expect("the mirror accepted an undecodable OTLP logs request");
            let records = decoded
                .resource_logs
                .into_iter()
                .flat_map(|rl| rl.scope_logs)
                .flat_map(|sl| sl.log_records);
            for record in records {
                let Some(Value::StringValue(body)) = record.body.and_then(|b| b.value) else {
                    continue;
                };
                let Some((stream, seq)) = lines::parse(&body) else {
                    continue;
                };
                if body != lines::body(stream, seq) {
                    self.corrupt += 1;
                    continue;
                }
                let got = self.received.entry(stream.to_owned()).or_default();
                if got.len() <= seq as usize {
                    got.resize(seq as usize + 1, false);
                }
                got[seq as usize] = true;
            }
        }
    }

    /// The agent stopped: lines of files no path reaches that the mirror
    /// has not got are gone for it (and, after a kill -9, those of files
    /// truncated in place), as [`Oracle::agent_stopped`] has it for the
    /// ingest.
    pub fn agent_stopped(&mut self, world: &World, killed: bool) {
        for stream in &world.streams {
            for rec in &stream.files {
                if (rec.reachable || rec.truncated) && !(killed && rec.truncated) {
                    continue;
                }
                let gone: Vec<u64> = (rec.first..rec.end)
                    .filter(|&seq| !self.has(&stream.id, seq))
                    .collect();
                self.destroyed
                    .entry(stream.id.clone())
                    .or_default()
                    .extend(gone);
            }
        }
    }

    /// Whether line `seq` of `stream` arrived in this stretch.
    fn has(&self, stream: &str, seq: u64) -> bool {
        self.received
            .get(stream)
            .is_some_and(|got| got.get(seq as usize) == Some(&true))
    }

    /// The verdict: every line of the current stretch that the ingest got
    /// must be at the mirror. Nothing is checked if the mirror is out, or
    /// got nothing of this stretch.
    pub fn tally(&self, world: &World, ingest: &Oracle) -> MirrorTally {
        let mut tally = MirrorTally::default();
        let Some(from) = &self.from else {
            return tally;
        };
        for stream in &world.streams {
            let start = from.get(&stream.id).copied().unwrap_or(0);
            let destroyed = self.destroyed.get(&stream.id);
            for rec in stream.files.iter().filter(|r| !r.truncated) {
                for seq in rec.first.max(start)..rec.end {
                    if ingest.count(&stream.id, seq) == 0
                        || destroyed.is_some_and(|d| d.contains(&seq))
                    {
                        continue;
                    }
                    tally.checked += 1;
                    if !self.has(&stream.id, seq) {
                        tally.missed += 1;
                        if tally.examples.len() < 6 {
                            tally.examples.push((stream.id.clone(), seq));
                        }
                    }
                }
            }
        }
        tally
    }
}

#[test]
fn the_mirror_must_have_what_the_ingest_got_once_its_stretch_began() {
    use super::world::StreamKind;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut world = World::new(dir.path(), 1, 1, 0, 0, false);
    let stream = world.streams[0].id.clone();
    assert_eq!(world.streams[0].kind, StreamKind::Plain);
    let request = |seqs: std::ops::Range<u64>, stretch: &str| {
        use opentelemetry_proto::tonic::common::v1::AnyValue;
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let records = seqs
            .map(|seq| LogRecord {
                body: Some(AnyValue {
                    value: Some(Value::StringValue(lines::body(&stream, seq))),
                }),
                ..LogRecord::default()
            })
            .collect();
        let body = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec();
        Captured {
            path: "/v1/logs".to_owned(),
            status: 200,
            headers: vec![(HEADER.to_owned(), stretch.to_owned())],
            raw: body.clone().into(),
            body,
            at: std::time::Instant::now(),
        }
    };
    world.tick(1.0, 10.0);
    let mut ingest = Oracle::starting_now();
    let mut mirror = Mirror::default();
    mirror.added(2);
    // A late request of the stretch before counts for nothing, and does
    // not start this one.
    mirror.ingest(vec![request(0..3, "1")], &world);
    world.tick(1.0, 10.0);
    mirror.ingest(vec![request(3..5, "2")], &world);
    let from = world.streams[0].next;
    world.tick(1.0, 10.0);
    let written = world.streams[0].next;
    assert!(written > from + 2, "the writer wrote {from}..{written}");
    ingest.ingest(vec![request(0..written, "ingest")]);
    // Every line from the start of the stretch, but one.
    mirror.ingest(vec![request(from..written - 1, "2")], &world);
    let tally = mirror.tally(&world, &ingest);
    assert_eq!(tally.checked, written - from);
    assert_eq!(tally.missed, 1);
    assert_eq!(tally.examples, vec![(stream.clone(), written - 1)]);
    // Taken out: nothing is checked.
    mirror.removed();
    assert_eq!(mirror.tally(&world, &ingest).checked, 0);
}
