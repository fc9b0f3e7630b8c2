use std::path::Path;

use super::*;
use crate::sources::file::MultilinePreset;

fn handler(max_merged: usize, multiline: Option<MultilineConfig>) -> ContainerHandler {
    let log = super::super::path::parse(Path::new("/var/log/pods/ns_pod_uid/app/0.log")).unwrap();
    let resource = Resource::new(resource_attributes(
        &log,
        Some("node-1"),
        &Resource::default(),
    ));
    ContainerHandler::new(
        &log,
        Arc::new(PodSlot::new(resource, false)),
        multiline.as_ref(),
        max_merged,
        Duration::from_secs(5),
        Arc::new(AtomicBool::new(false)),
    )
}

/// Java stack traces grouped, one second to wait for a group's end.
fn java() -> MultilineConfig {
    MultilineConfig {
        preset: Some(MultilinePreset::Java),
        start_pattern: None,
        continuation_pattern: None,
        timeout_ms: 1000,
        max_lines: 100,
        max_bytes: 1 << 20,
    }
}

struct Feed {
    offsets: std::collections::HashMap<FileKey, u64>,
}

impl Feed {
    fn new() -> Self {
        Feed {
            offsets: Default::default(),
        }
    }

    fn line(&mut self, h: &mut ContainerHandler, file: FileKey, text: &str, out: &mut Emitter) {
        let start = *self.offsets.get(&file).unwrap_or(&0);
        let end = start + text.len() as u64 + 1;
        self.offsets.insert(file, end);
        // As the reader hands lines out: inside the chunk they were read in.
        let chunk = bytes::Bytes::copy_from_slice(text.as_bytes());
        h.handle(
            RawLine {
                file,
                bytes: &chunk,
                chunk: Some(&chunk),
                start,
                end,
                truncated: false,
                unterminated: false,
                observed_unix_nano: 1,
            },
            out,
        );
    }
}

fn logs(out: &mut Emitter) -> Vec<LogRecord> {
    out.take(0)
        .0
        .into_iter()
        .map(|e| match e {
            Event::Log(l) => l,
            _ => unreachable!("only logs"),
        })
        .collect()
}

#[test]
fn partials_join_per_stream_even_interleaved() {
    let mut h = handler(1 << 20, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stdout P out-a ", &mut out);
    feed.line(&mut h, 1, "2024-05-01T00:00:01Z stderr P err-a ", &mut out);
    feed.line(&mut h, 1, "2024-05-01T00:00:02Z stdout F out-b", &mut out);
    assert_eq!(h.held_from(1), Some(37), "the stderr piece is still held");
    feed.line(&mut h, 1, "2024-05-01T00:00:03Z stderr F err-b", &mut out);
    assert_eq!(h.held_from(1), None);
    let records = logs(&mut out);
    let bodies: Vec<&str> = records.iter().map(|r| &*r.body).collect();
    assert_eq!(bodies, ["out-a out-b", "err-a err-b"]);
    assert_eq!(
        records[0]
            .shared_attributes
            .get("log.iostream")
            .and_then(|v| v.as_str()),
        Some("stdout")
    );
    assert_eq!(
        records[1]
            .shared_attributes
            .get("log.iostream")
            .and_then(|v| v.as_str()),
        Some("stderr")
    );
    assert_eq!(
        records[0].time_unix_nano, 1_714_521_600_000_000_000,
        "the first piece's time"
    );
    assert_eq!(
        records[0]
            .resource
            .attributes
            .get("k8s.pod.uid")
            .and_then(|v| v.as_str()),
        Some("uid")
    );
}

#[test]
fn a_partial_split_across_a_rotation_is_joined() {
    let mut h = handler(1 << 20, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(
        &mut h,
        1,
        "2024-05-01T00:00:00Z stdout P first half, ",
        &mut out,
    );
    // The rotated file ends; its successor carries the rest.
    h.file_closed(1, &mut out);
    assert_eq!(out.len(), 0, "the piece waits for its end in the next file");
    assert_eq!(h.held_from(1), Some(0));
    feed.line(
        &mut h,
        2,
        "2024-05-01T00:00:01Z stdout F second half",
        &mut out,
    );
    let (events, ends) = out.take(0);
    assert_eq!(events.len(), 1);
    let Event::Log(record) = &events[0] else {
        unreachable!("a log")
    };
    assert_eq!(record.body, "first half, second half");
    assert_eq!(
        ends.get(&1),
        Some(&43),
        "the rotated file is consumed to its end"
    );
    assert_eq!(ends.get(&2), Some(&42));
}

#[test]
fn merged_size_is_capped_and_flagged() {
    let mut h = handler(1024, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    let piece = "x".repeat(700);
    feed.line(
        &mut h,
        1,
        &format!("2024-05-01T00:00:00Z stdout P {piece}"),
        &mut out,
    );
    feed.line(
        &mut h,
        1,
        &format!("2024-05-01T00:00:00Z stdout P {piece}"),
        &mut out,
    );
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stdout F end", &mut out);
    let records = logs(&mut out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body.len(), 1024);
    assert!(records[0].flags.contains(LogFlags::TRUNCATED));
}

/// Found by the `container_line` fuzz harness: a piece cut on a character
/// boundary left room for a later, shorter piece, which was appended after
/// the cut ("abc" + "dé" + "x" capped at 5 bytes gave "abcdx").
#[test]
fn capped_partial_drops_later_pieces_instead_of_splicing_them() {
    let mut h = handler(5, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stdout P abc", &mut out);
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stdout P dé", &mut out);
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stdout F x", &mut out);
    let records = logs(&mut out);
    assert_eq!(records.len(), 1);
    assert_eq!(&*records[0].body, "abcd", "a prefix of the whole line");
    assert!(records[0].flags.contains(LogFlags::TRUNCATED));
}

#[test]
fn unparseable_lines_are_kept_and_marked() {
    let mut h = handler(1 << 20, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(
        &mut h,
        1,
        r#""log":"broken json","stream":"stdout"}"#,
        &mut out,
    );
    let records = logs(&mut out);
    assert_eq!(records[0].body, r#""log":"broken json","stream":"stdout"}"#);
    assert_eq!(
        records[0].attributes.get("log.record.parse_error"),
        Some(&AnyValue::Bool(true))
    );
}

#[test]
fn multiline_groups_after_partials_are_joined() {
    let mut h = handler(1 << 20, Some(java()));
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(&mut h, 1, "2024-05-01T00:00:00Z stderr F Exception in thread \"main\" java.lang.IllegalStateException: x", &mut out);
    feed.line(
        &mut h,
        1,
        "2024-05-01T00:00:00Z stderr P \tat com.example.",
        &mut out,
    );
    feed.line(
        &mut h,
        1,
        "2024-05-01T00:00:00Z stderr F App.main(App.java:3)",
        &mut out,
    );
    feed.line(
        &mut h,
        1,
        "2024-05-01T00:00:01Z stderr F next record",
        &mut out,
    );
    let records = logs(&mut out);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].body,
        "Exception in thread \"main\" java.lang.IllegalStateException: x\n\tat com.example.App.main(App.java:3)"
    );
    assert!(
        h.held_from(1).is_some(),
        "`next record` waits for its group to end"
    );
}

#[test]
fn a_partial_across_a_rotation_held_by_multiline_keeps_the_rotated_file_unconsumed() {
    let mut h = handler(1 << 20, Some(java()));
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(
        &mut h,
        1,
        "2024-05-01T00:00:00Z stderr P Exception in thread \"main\" ",
        &mut out,
    );
    h.file_closed(1, &mut out);
    feed.line(
        &mut h,
        2,
        "2024-05-01T00:00:00Z stderr F java.lang.IllegalStateException: x",
        &mut out,
    );
    // The merged line now waits in its multiline group: the rotated file
    // holds its first piece and must not be consumed (nor closed) yet.
    let (events, ends) = out.take(0);
    assert!(events.is_empty());
    assert_eq!(ends.get(&1), None, "the rotated file is still held");
    assert_eq!(h.held_from(1), Some(0));
    // Closing the rotated file sends the group (it would not be completed
    // by that file), and only then is the file consumed.
    h.file_closed(1, &mut out);
    let (events, ends) = out.take(0);
    assert_eq!(events.len(), 1);
    let Event::Log(record) = &events[0] else {
        unreachable!("a log")
    };
    assert_eq!(
        record.body,
        "Exception in thread \"main\" java.lang.IllegalStateException: x"
    );
    assert_eq!(ends.get(&1), Some(&58), "consumed once the record is sent");
    assert_eq!(ends.get(&2), Some(&65));
    assert_eq!(h.held_from(1), None);
}

/// A CRI line stamped `nanos` past a fixed second.
fn cri(nanos: u64, tag: char, text: &str) -> String {
    format!("2024-05-01T00:00:00.{nanos:09}Z stdout {tag} {text}")
}

#[test]
fn an_older_rotation_read_again_is_not_spliced_onto_a_newer_partial() {
    // The live file ends in the first piece of a line; a rotation of the
    // same container, older, is read again from its start (after a
    // restart, a `.gz` not recognised). Its first line is whole and older.
    let mut h = handler(1 << 20, None);
    let mut out = Emitter::default();
    let mut feed = Feed::new();
    feed.line(&mut h, 5, &cri(500, 'P', "line 1162, "), &mut out);
    feed.line(&mut h, 1, &cri(1, 'F', "line 0"), &mut out);
    feed.line(&mut h, 5, &cri(501, 'F', "rest of 1162"), &mut out);
    let bodies: Vec<String> = logs(&mut out).iter().map(|r| r.body.to_string()).collect();
    assert_eq!(bodies, ["line 0", "line 1162, rest of 1162"]);
}

mod rotations_read_side_by_side {
    use proptest::prelude::*;

    use super::*;

    /// A container's lines, each cut by the runtime into `pieces` pieces
    /// (`P`... `F`), written in order into files rotated after the pieces
    /// listed in `cuts`. The agent reads the files in order, each to its
    /// end before the next (a rotated file is drained), while one of them,
    /// once read, is read again from its start (tracked anew), its lines
    /// slipped in among the later reads at `slips` (as after a restart that
    /// did not recognise a `.gz`). Pieces are stamped one by one, or, with
    /// `alike`, each line's pieces alike.
    #[derive(Debug, Clone)]
    struct Case {
        pieces: Vec<usize>,
        cuts: Vec<usize>,
        again: prop::sample::Index,
        slips: Vec<prop::sample::Index>,
        alike: bool,
    }

    fn cases() -> impl Strategy<Value = Case> {
        (
            proptest::collection::vec(1usize..4, 1..12),
            proptest::collection::vec(0usize..40, 0..4),
            any::<prop::sample::Index>(),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            any::<bool>(),
        )
            .prop_map(|(pieces, cuts, again, slips, alike)| Case {
                pieces,
                cuts,
                again,
                slips,
                alike,
            })
    }

    /// The text of piece `j` of line `i`: each names its line and place.
    fn piece(i: usize, j: usize) -> String {
        format!("<{i}.{j}>")
    }

    /// Whether `body` is pieces `0..n` of one line, in order, for some `n`
    /// (a whole line, or one cut short by the timeout), or later pieces of
    /// one line read again without their start.
    fn one_line(body: &str, pieces: &[usize]) -> bool {
        let parts: Vec<(usize, usize)> = body
            .split_inclusive('>')
            .map(|p| {
                let p = p.trim_start_matches('<').trim_end_matches('>');
                let (i, j) = p.split_once('.').expect("a piece");
                (i.parse().expect("line"), j.parse().expect("piece"))
            })
            .collect();
        let Some(&(line, first)) = parts.first() else {
            return false;
        };
        line < pieces.len()
            && parts
                .iter()
                .enumerate()
                .all(|(k, &(i, j))| i == line && j == first + k && j < pieces[line])
    }

    proptest! {
        #[test]
        fn each_line_comes_out_whole_and_no_body_splices_two_lines(case in cases()) {
            // Every piece, in order, with its line, place and time.
            // Pieces stamped one by one (containerd), or each line's alike
            // (CRI-O).
            let mut all = Vec::new();
            for (i, &n) in case.pieces.iter().enumerate() {
                for j in 0..n {
                    let tag = if j + 1 == n { 'F' } else { 'P' };
                    let stamp = if case.alike { i as u64 + 1 } else { all.len() as u64 + 1 };
                    all.push(cri(stamp, tag, &piece(i, j)));
                }
            }
            let mut files: Vec<Vec<String>> = vec![Vec::new()];
            for (k, line) in all.iter().enumerate() {
                if case.cuts.contains(&k) && !files.last().is_some_and(Vec::is_empty) {
                    files.push(Vec::new());
                }
                files.last_mut().expect("a file").push(line.clone());
            }
            // The reads: every file in order, then the older file read
            // again, its lines slipped in among them.
            let mut reads: Vec<(FileKey, String)> = files
                .iter()
                .enumerate()
                .flat_map(|(f, lines)| lines.iter().map(move |l| (f as FileKey + 1, l.clone())))
                .collect();
            let again = case.again.index(files.len());
            let read_once: usize = files[..=again].iter().map(Vec::len).sum();
            let mut at: Vec<usize> = case
                .slips
                .iter()
                .take(files[again].len())
                .map(|s| read_once + s.index(reads.len() - read_once + 1))
                .collect();
            at.sort_unstable();
            for (line, position) in files[again].iter().zip(at).rev() {
                reads.insert(position, (100, line.clone()));
            }
            let mut h = handler(1 << 20, None);
            let mut out = Emitter::default();
            let mut feed = Feed::new();
            for (file, line) in &reads {
                feed.line(&mut h, *file, line, &mut out);
            }
            h.tick(Instant::now() + Duration::from_secs(60), &mut out);
            let bodies: Vec<String> = logs(&mut out).iter().map(|r| r.body.to_string()).collect();
            for body in &bodies {
                prop_assert!(one_line(body, &case.pieces), "{:?} splices lines: {:?}", body, bodies);
            }
            for (i, &n) in case.pieces.iter().enumerate() {
                let whole: String = (0..n).map(|j| piece(i, j)).collect();
                prop_assert!(bodies.contains(&whole), "line {} ({}) never whole: {:?}", i, whole, bodies);
            }
        }
    }
}
