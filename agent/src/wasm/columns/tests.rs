use super::*;
use crate::wasm::Resource;

fn attribute(key: &str, value: Value) -> Attribute {
    Attribute {
        key: key.into(),
        value,
    }
}

/// Records with every kind of field: empty and multi-byte bodies,
/// severity texts, attributes of each kind, two resources.
fn rows(n: u32) -> Batch {
    Batch {
        resources: vec![
            Resource {
                attributes: vec![attribute("host.name", Value::String("n1".into()))],
            },
            Resource {
                attributes: Vec::new(),
            },
        ],
        shared_attributes: vec![vec![attribute("log.file.path", Value::String("/a".into()))]],
        records: (0..n)
            .map(|i| LogRecord {
                origin: i,
                timestamp: 1_700_000_000_000_000_000 + u64::from(i),
                severity_number: (i % 25) as u8,
                severity_text: if i % 2 == 0 {
                    "INFO".into()
                } else {
                    String::new()
                },
                body: match i % 3 {
                    0 => format!("line {i} ☃"),
                    1 => String::new(),
                    _ => "x".repeat(i as usize),
                },
                attributes: match i % 4 {
                    0 => Vec::new(),
                    1 => vec![attribute("status", Value::Int(-i64::from(i)))],
                    2 => vec![
                        attribute("path", Value::String(format!("/p/{i}"))),
                        attribute("ratio", Value::Float(f64::from(i) / 3.0)),
                    ],
                    _ => vec![
                        attribute("ok", Value::Boolean(true)),
                        attribute("empty", Value::String(String::new())),
                    ],
                },
                shared_attributes: 0,
                resource: i % 2,
            })
            .collect(),
    }
}

fn changed(origin: u32, body: &str) -> ProcessedRecord {
    ProcessedRecord {
        origin,
        timestamp: 7,
        severity_number: 13,
        severity_text: None,
        body: Some(body.to_owned()),
        attributes: None,
    }
}

const BOUND: OutputBound = OutputBound {
    max_records_per_input: 2,
    max_bytes_per_input: 4,
};

#[test]
fn records_read_back_from_their_columns_as_they_were() {
    let rows = rows(9);
    let batch = to_columns(&rows);
    assert_eq!(len(&batch), 9);
    // The generated types compare by their debug form only.
    assert_eq!(format!("{:?}", to_rows(&batch)), format!("{rows:?}"));
}

#[test]
fn a_slice_is_a_batch_of_its_own_records() {
    let rows = rows(9);
    let batch = to_columns(&rows);
    let part = to_rows(&slice(&batch, 3..7));
    let expected: Vec<LogRecord> = rows.records[3..7]
        .iter()
        .map(|r| LogRecord {
            origin: r.origin - 3,
            ..r.clone()
        })
        .collect();
    assert_eq!(format!("{:?}", part.records), format!("{expected:?}"));
    assert_eq!(len(&slice(&batch, 0..0)), 0);
}

#[test]
fn a_batch_is_as_many_bytes_as_its_records() {
    let batch = to_columns(&rows(200));
    let sum: u64 = (0..200).map(|i| record_bytes(&batch, i)).sum();
    assert!(sum > 4096, "{sum}");
    assert_eq!(batch_bytes(&batch), sum);
    assert_eq!(batch_bytes(&to_columns(&rows(1))), 4096, "at least a page");
}

#[test]
fn verdicts_expand_to_records_in_batch_order() {
    let batch = to_columns(&rows(4));
    // Out of order: the second of record 2's parts comes last.
    let outcome = Outcome::from_columns(ColumnOutcome {
        verdicts: vec![KEEP, DROP, REPLACE, REPLACE],
        changed: vec![changed(2, "c1"), changed(3, "d1"), changed(2, "c2")],
    });
    check_outcome(&outcome, &batch, BOUND, 1 << 20).unwrap();
    assert_eq!(outcome.len(), 4);
    let out = outcome.into_records(&batch);
    let summary: Vec<(u32, Option<&str>)> =
        out.iter().map(|r| (r.origin, r.body.as_deref())).collect();
    assert_eq!(
        summary,
        [(0, None), (2, Some("c1")), (2, Some("c2")), (3, Some("d1"))]
    );
    // A kept record keeps its own timestamp and severity.
    assert_eq!(
        (out[0].timestamp, out[0].severity_number),
        (1_700_000_000_000_000_000, 0)
    );
}

#[test]
fn a_wrong_answer_is_refused_for_what_is_wrong_with_it() {
    let batch = to_columns(&rows(2));
    let refused = |outcome: Outcome| {
        let failure = check_outcome(&outcome, &batch, BOUND, 1 << 20).unwrap_err();
        failure.to_string()
    };
    let verdicts =
        |verdicts: Vec<u8>, changed: Vec<ProcessedRecord>| Outcome::Verdicts { verdicts, changed };
    assert!(refused(verdicts(vec![KEEP], vec![])).contains("1 verdicts returned for a batch of 2"));
    assert!(refused(verdicts(vec![KEEP, 3], vec![])).contains("verdict 3 for record 1"));
    assert!(
        refused(verdicts(vec![KEEP, KEEP], vec![changed(1, "x")]))
            .contains("names origin 1, whose verdict is 1")
    );
    assert!(
        refused(verdicts(vec![REPLACE, KEEP], vec![changed(9, "x")]))
            .contains("names origin 9 in a batch of 2")
    );
    assert!(
        refused(verdicts(
            vec![REPLACE, REPLACE],
            vec![changed(1, "x"), changed(0, "y")]
        ))
        .contains("out of batch order")
    );
    assert!(refused(Outcome::Records(vec![changed(2, "a")])).contains("origin 2"));
    let mut loud = changed(0, "a");
    loud.severity_number = 25;
    assert!(refused(Outcome::Records(vec![loud])).contains("severity number 25"));
    for outcome in [
        verdicts(vec![KEEP, DROP], vec![]),
        verdicts(
            vec![REPLACE, REPLACE],
            vec![changed(0, "a"), changed(0, "b")],
        ),
        Outcome::Records(vec![changed(1, "a"), changed(0, "b"), changed(0, "c")]),
    ] {
        check_outcome(&outcome, &batch, BOUND, 1 << 20).unwrap();
    }
}

#[test]
fn too_many_records_or_bytes_are_too_large() {
    let batch = to_columns(&rows(2));
    let too_large = |outcome: Outcome, max_bytes| {
        let failure = check_outcome(&outcome, &batch, BOUND, max_bytes).unwrap_err();
        assert_eq!(
            failure.reason,
            ProcessFailureReason::Sandbox(FailureReason::OutputTooLarge)
        );
        failure.message
    };
    let five: Vec<_> = (0..5).map(|_| changed(0, "a")).collect();
    assert!(
        too_large(Outcome::Records(five.clone()), 1 << 20).contains("5 records returned for 2")
    );
    let mut replacements = five;
    replacements.push(changed(1, "b"));
    assert!(
        too_large(
            Outcome::Verdicts {
                verdicts: vec![REPLACE, REPLACE],
                changed: replacements,
            },
            1 << 20
        )
        .contains("6 records returned for 2")
    );
    let big = vec![changed(0, &"x".repeat(20_000))];
    assert!(too_large(Outcome::Records(big), 16_384).contains("20000 bytes returned"));
}

#[test]
fn the_parts_of_a_batch_answer_as_the_whole() {
    let whole = Outcome::concat(vec![
        Outcome::Verdicts {
            verdicts: vec![KEEP, REPLACE],
            changed: vec![changed(1, "b")],
        }
        .shifted(0),
        Outcome::Verdicts {
            verdicts: vec![REPLACE],
            changed: vec![changed(0, "c")],
        }
        .shifted(2),
    ])
    .unwrap();
    let batch = to_columns(&rows(3));
    check_outcome(&whole, &batch, BOUND, 1 << 20).unwrap();
    let origins: Vec<u32> = whole
        .into_records(&batch)
        .iter()
        .map(|r| r.origin)
        .collect();
    assert_eq!(origins, [0, 1, 2]);
    let mixed = Outcome::concat(vec![
        Outcome::Records(vec![changed(0, "a")]),
        Outcome::Verdicts {
            verdicts: vec![KEEP],
            changed: vec![],
        }
        .shifted(1),
    ]);
    assert!(mixed.is_none(), "two worlds in one batch: {mixed:?}");
}
