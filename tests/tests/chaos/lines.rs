//! The lines the writers append: every body names its stream and sequence
//! number, and the rest of it is derived from both, so the oracle can tell
//! a line that arrived whole from one cut, merged wrongly or made up.

/// Bytes of every body (without the newline or the CRI prefix).
pub const BODY_BYTES: usize = 150;

/// The smallest physical line a writer appends: a CRI piece of a partial
/// line (prefix and at least [`MIN_PIECE`] bytes of body). Used to turn
/// bytes the agent reports lost into an upper bound of lines.
pub const MIN_PHYSICAL_LINE: u64 = (CRI_PREFIX_BYTES + MIN_PIECE + 1) as u64;

/// Bytes of `<time> stdout F ` in a CRI line.
const CRI_PREFIX_BYTES: usize = 30 + " stdout F ".len();

/// The shortest piece a partial line is cut into.
const MIN_PIECE: usize = 40;

/// The body of line `seq` of `stream`.
pub fn body(stream: &str, seq: u64) -> String {
    let mut body = format!("chaos {stream} {seq:010} ");
    let mut n = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hash(stream);
    while body.len() < BODY_BYTES {
        body.push(char::from(b'a' + (n % 26) as u8));
        n = n.rotate_left(5) ^ 0x2545_F491_4F6C_DD1D;
    }
    body
}

/// The stream and sequence number a body claims, if it is one of ours.
pub fn parse(body: &str) -> Option<(&str, u64)> {
    let mut parts = body.strip_prefix("chaos ")?.splitn(3, ' ');
    let stream = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    Some((stream, seq))
}

/// A plain log line, newline included.
pub fn plain(stream: &str, seq: u64) -> String {
    let mut line = body(stream, seq);
    line.push('\n');
    line
}

/// The CRI lines (`<time> <stream> <P|F> <text>`) of line `seq`: one `F`
/// line, or for one line in five a `P` piece and an `F` piece that the
/// agent must join.
pub fn cri(stream: &str, seq: u64) -> Vec<String> {
    let body = body(stream, seq);
    // A fixed-width RFC 3339 time with nanoseconds, as containerd writes.
    // It goes back an hour every 3,600 lines, as a runtime's clock set
    // back by NTP does (seed 6000 found the agent not joining partials
    // after such a step).
    let time = format!(
        "2026-12-05T10:{:02}:{:02}.{:09}Z",
        (seq / 60) % 60,
        seq % 60,
        seq % 1_000_000_000
    );
    if seq % 5 == 2 {
        let cut = MIN_PIECE + (seq as usize * 7) % (BODY_BYTES - 2 * MIN_PIECE);
        vec![
            format!("{time} stdout P {}\n", &body[..cut]),
            format!("{time} stdout F {}\n", &body[cut..]),
        ]
    } else {
        vec![format!("{time} stdout F {body}\n")]
    }
}

/// FNV-1a, to vary bodies between streams.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn bodies_name_their_line_and_partials_join_whole() {
    let body = body("p01x2", 42);
    assert_eq!(body.len(), BODY_BYTES);
    assert_eq!(parse(&body), Some(("p01x2", 42)));
    let pieces = cri("p01x2", 42);
    assert_eq!(pieces.len(), 2);
    let joined: String = pieces
        .iter()
        .map(|l| l.trim_end_matches('\n').splitn(4, ' ').nth(3).unwrap())
        .collect();
    assert_eq!(joined, body);
    assert!(pieces.iter().all(|p| p.len() as u64 >= MIN_PHYSICAL_LINE));
}
