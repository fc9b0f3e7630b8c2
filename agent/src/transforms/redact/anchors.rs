//! Finding the detectors' anchors in a text, fast when there are none.
//!
//! Most lines hold no secret, so most of the redactor's time would go to
//! finding nothing. A search for the anchors themselves without regard to
//! case (`Bearer`, `bearer`, `BEARER`...) leaves a searcher no byte rare
//! enough to skip ahead by, and walks every byte. Instead, a SIMD
//! multi-literal searcher (Teddy) looks for the anchors' first three bytes,
//! and each place it stops at is checked against the whole anchors
//! starting with that byte.
//!
//! An anchor matched without regard to case is looked for as words are
//! written: its first three bytes in lower case, Capitalized or in UPPER
//! case (`bearer`, `Bearer`, `BEARER`, and after them any case:
//! `BeaRER`), not in mixed case (`bEarer`). In every case, each such
//! anchor would be eight prefixes for the searcher; past a few dozen it
//! stops at ever more places that hold none (the secret detectors with
//! every case were 66 prefixes, and JSON `parse+filter+redact` ran 18%
//! slower than with the 36 they are now).

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, Input, MatchKind};

use crate::topology::BuildError;

/// The anchors, and a searcher for the places where one may start.
#[derive(Debug)]
pub struct Anchors {
    anchors: Vec<Anchor>,
    /// The anchors whose first byte may be each byte value.
    by_first: Vec<Vec<usize>>,
    /// None when there is no anchor.
    finder: Option<Finder>,
}

#[derive(Debug)]
struct Anchor {
    text: Box<[u8]>,
    ignore_case: bool,
}

#[derive(Debug)]
enum Finder {
    /// Teddy, where the CPU has it (SSSE3 or AVX2 on x86-64, NEON).
    Packed(packed::Searcher),
    /// Elsewhere, an automaton over the same prefixes.
    Automaton(AhoCorasick),
}

/// The first bytes of an anchor a searcher looks for.
const PREFIX: usize = 3;

// === impl Anchors ===

impl Anchors {
    /// A searcher for `anchors`: each one's text (ASCII) and whether it
    /// is matched without regard to case.
    pub fn new<'a>(
        anchors: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Result<Anchors, BuildError> {
        let anchors: Vec<Anchor> = anchors
            .into_iter()
            .map(|(text, ignore_case)| Anchor {
                text: text.as_bytes().into(),
                ignore_case,
            })
            .collect();
        let mut by_first = vec![Vec::new(); 256];
        let mut prefixes = Vec::new();
        for (i, anchor) in anchors.iter().enumerate() {
            let Some(&first) = anchor.text.first() else {
                return Err(BuildError::new("a redact anchor is empty"));
            };
            for byte in [first.to_ascii_lowercase(), first.to_ascii_uppercase()] {
                if (anchor.ignore_case || byte == first)
                    && !by_first[usize::from(byte)].contains(&i)
                {
                    by_first[usize::from(byte)].push(i);
                }
            }
            prefixes.extend(anchor.prefixes());
        }
        prefixes.sort();
        prefixes.dedup();
        let finder = if prefixes.is_empty() {
            None
        } else {
            // Teddy takes up to 128 patterns; by default it declines more
            // than 64, and the automaton it would leave the search to walks
            // every byte (the secret detectors' prefixes, in every case,
            // are 66: `access/redact` ran at a third of its speed).
            let packed = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .heuristic_pattern_limits(false)
                .builder()
                .extend(&prefixes)
                .build();
            Some(match packed {
                Some(searcher) => Finder::Packed(searcher),
                None => Finder::Automaton(
                    AhoCorasick::builder()
                        .match_kind(MatchKind::LeftmostFirst)
                        .build(&prefixes)
                        .map_err(|e| BuildError::caused("the redact prefilter", e))?,
                ),
            })
        };
        Ok(Anchors {
            anchors,
            by_first,
            finder,
        })
    }

    /// Whether the search is the SIMD one (not the automaton it falls back
    /// to with too many prefixes).
    #[cfg(test)]
    pub fn is_packed(&self) -> bool {
        matches!(self.finder, Some(Finder::Packed(_)))
    }

    /// Call `found(start, anchor)` for every place in `text` where an
    /// anchor starts, in the order of `start` (anchors that start at the
    /// same place in the order given to [`Anchors::new`]).
    pub fn each(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        let Some(finder) = &self.finder else {
            return;
        };
        let text = text.as_bytes();
        let mut at = 0;
        while at < text.len() {
            let Some(start) = finder.next(text, at) else {
                return;
            };
            for &i in &self.by_first[usize::from(text[start])] {
                if self.anchors[i].is_at(text, start) {
                    found(start, i);
                }
            }
            at = start + 1;
        }
    }
}

// === impl Anchor ===

impl Anchor {
    /// The first bytes the searcher looks for: as written, or, without
    /// regard to case, in lower case, Capitalized and in UPPER case.
    fn prefixes(&self) -> Vec<Vec<u8>> {
        let prefix = &self.text[..self.text.len().min(PREFIX)];
        if !self.ignore_case {
            return vec![prefix.to_vec()];
        }
        let lower = prefix.to_ascii_lowercase();
        let mut capitalized = lower.clone();
        if let Some(first) = capitalized.first_mut() {
            first.make_ascii_uppercase();
        }
        let mut variants = vec![prefix.to_ascii_uppercase(), capitalized, lower];
        variants.dedup();
        variants
    }

    fn is_at(&self, text: &[u8], start: usize) -> bool {
        let Some(there) = text.get(start..start + self.text.len()) else {
            return false;
        };
        if self.ignore_case {
            there.eq_ignore_ascii_case(&self.text) && as_written(&there[..there.len().min(PREFIX)])
        } else {
            *there == *self.text
        }
    }
}

/// Whether `head` is in lower case or Capitalized (no capital after its
/// first byte), or in UPPER case (no small letter at all).
fn as_written(head: &[u8]) -> bool {
    let rest = head.get(1..).unwrap_or_default();
    !rest.iter().any(u8::is_ascii_uppercase) || !head.iter().any(u8::is_ascii_lowercase)
}

// === impl Finder ===

impl Finder {
    /// Where the first prefix at or after `at` starts.
    fn next(&self, text: &[u8], at: usize) -> Option<usize> {
        match self {
            Finder::Packed(searcher) => searcher
                .find_in(text, aho_corasick::Span::from(at..text.len()))
                .map(|m| m.start()),
            Finder::Automaton(automaton) => automaton
                .find(Input::new(text).span(at..text.len()))
                .map(|m| m.start()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every place an anchor starts, found the slow way.
    fn naive(anchors: &[(&str, bool)], text: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for start in 0..text.len() {
            for (i, (anchor, ignore_case)) in anchors.iter().enumerate() {
                let Some(there) = text.as_bytes().get(start..start + anchor.len()) else {
                    continue;
                };
                // Without regard to case: the first three bytes as words
                // are written (lower, Capitalized, UPPER), then any case.
                let head = &there[..there.len().min(3)];
                let written = head == head.to_ascii_lowercase().as_slice()
                    || head == head.to_ascii_uppercase().as_slice()
                    || (head[0].is_ascii_uppercase()
                        && head[1..] == *head[1..].to_ascii_lowercase().as_slice());
                if (*ignore_case && written && there.eq_ignore_ascii_case(anchor.as_bytes()))
                    || there == anchor.as_bytes()
                {
                    found.push((start, i));
                }
            }
        }
        found
    }

    const ANCHORS: &[(&str, bool)] = &[
        ("private_key", false),
        ("-----BEGIN", false),
        ("authorization", true),
        ("bearer", true),
        ("://", false),
        ("eyJ", false),
        ("AKIA", false),
        ("secret", true),
        ("@", false),
        (".", false),
        (":", false),
        ("se", true),
    ];

    fn text() -> impl Strategy<Value = String> {
        let pieces = proptest::sample::select(vec![
            "a",
            " ",
            "-",
            "--",
            ":",
            "/",
            ".",
            "@",
            "e",
            "y",
            "J",
            "j",
            "AKI",
            "akia",
            "A",
            "BeArEr",
            "bearer",
            "secre",
            "SECRET",
            "t",
            "private_",
            "key",
            "Private_Key",
            "-----",
            "BEGIN",
            "://",
            "eyJ",
            "Authorization",
            "authorizatio",
            "s",
            "E",
        ]);
        proptest::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn finds_every_anchor_where_a_naive_search_does(text in text(), cut in 0usize..12) {
            // Every subset of the anchors by length, down to none.
            let anchors = &ANCHORS[..ANCHORS.len() - cut.min(ANCHORS.len())];
            let searcher = Anchors::new(anchors.iter().copied()).unwrap();
            let mut found = Vec::new();
            searcher.each(&text, |start, i| found.push((start, i)));
            prop_assert_eq!(found, naive(anchors, &text));
        }
    }

    #[test]
    fn case_matters_only_where_it_is_told_to() {
        let searcher = Anchors::new([("AKIA", false), ("bearer", true)]).unwrap();
        let mut found = Vec::new();
        searcher.each("akia AKIA BEARER bEaReR BeaRER", |start, i| {
            found.push((start, i))
        });
        // `bEaReR` starts in mixed case: not as words are written.
        assert_eq!(found, [(5, 0), (10, 1), (24, 1)]);
        // Where the search stops for one anchor (`Se`), another starting
        // there in mixed case (`SeCret`) is not found either.
        let searcher = Anchors::new([("se", true), ("secret", true)]).unwrap();
        let mut found = Vec::new();
        searcher.each("SeCret Secret", |start, i| found.push((start, i)));
        assert_eq!(found, [(0, 0), (7, 0), (7, 1)]);
    }
}
