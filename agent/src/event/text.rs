//! [`Text`]: the string of an attribute value.
//!
//! A field a parser reads out of a log body is kept one of two ways. A
//! long one is a view into the body's buffer, which every record of a read
//! chunk shares; making a view and dropping it are two atomic operations
//! on that one reference count (a sixth of the CPU of a parse +
//! `log_to_metric` pipeline over access logs when every field was a
//! view). A short one is copied next to the value, with where it was found
//! in the body, so that redaction still knows which of the body's matches
//! fall inside it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytestring::ByteString;
use serde::{Serialize, Serializer};

use super::value::offset_in;

/// The longest string kept inline: a value of `Text` is no larger than a
/// `ByteString` and its tag.
const INLINE_MAX: usize = 24;

/// A UTF-8 string: short ones inline, others shared (static, owned, or a
/// view into the text they were found in).
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Shared(ByteString),
    Inline(Inline),
}

/// Up to [`INLINE_MAX`] bytes copied from a body, as the window of the
/// body around them and where it was. The copy is always of the window's
/// size: two moves, where a copy of the field's own length was a call
/// whose pieces the value's move then read back (`docs/PERFORMANCE.md`,
/// "Fixed-size windows": the access-log parse 8% faster).
#[derive(Clone, Copy)]
struct Inline {
    /// The body's bytes from `from` (fewer when the body is shorter,
    /// padded with zeros).
    window: [u8; INLINE_MAX],
    /// Where `window` starts in the body.
    from: u32,
    /// Where the string starts in `window`, and its length.
    skip: u8,
    len: u8,
}

// === impl Text ===

impl Text {
    /// The empty string.
    pub const fn new() -> Text {
        Text(Repr::Shared(ByteString::from_static("")))
    }

    /// A static string, not copied.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Shared(ByteString::from_static(s)))
    }

    /// `part` of `body`: a copy when it is short, else a view sharing the
    /// body's buffer; a copy of its own when `part` is not in `body`'s
    /// memory.
    #[inline]
    pub fn part_of(body: &ByteString, part: &str) -> Text {
        let Some(at) = offset_in(part, body) else {
            return Text::from(part.to_owned());
        };
        if part.len() <= INLINE_MAX
            && let Some(text) = Text::inline(body, at, part.len())
        {
            return text;
        }
        Text(Repr::Shared(body.slice_ref(part)))
    }

    /// Where this string starts in `body`, if it is `body`'s own bytes: a
    /// view into `body`'s memory, or a copy made from `body` at that
    /// offset whose bytes are still those of `body` there. Both mean that
    /// what is found in `body` within that range is found in this string.
    pub fn offset_in(&self, body: &str) -> Option<usize> {
        match &self.0 {
            Repr::Shared(shared) => offset_in(shared, body),
            Repr::Inline(inline) if inline.len > 0 => {
                let at = inline.from as usize + usize::from(inline.skip);
                (body.as_bytes().get(at..at + usize::from(inline.len)) == Some(inline.as_bytes()))
                    .then_some(at)
            }
            Repr::Inline(_) => None,
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared(shared) => shared,
            // Made from a `&str` cut on character boundaries: always UTF-8.
            Repr::Inline(inline) => std::str::from_utf8(inline.as_bytes()).unwrap_or_default(),
        }
    }

    /// The `len` bytes of `body` at `at` (`len` at most [`INLINE_MAX`],
    /// on character boundaries), inline; `None` for an offset past 4 GiB.
    #[inline]
    fn inline(body: &str, at: usize, len: usize) -> Option<Text> {
        let bytes = body.as_bytes();
        let from = at.min(bytes.len().saturating_sub(INLINE_MAX));
        let window = match bytes
            .get(from..)
            .and_then(<[u8]>::first_chunk::<INLINE_MAX>)
        {
            Some(window) => *window,
            None => {
                // A body shorter than a window: all of it.
                let mut window = [0; INLINE_MAX];
                window[..bytes.len()].copy_from_slice(bytes);
                window
            }
        };
        Some(Text(Repr::Inline(Inline {
            window,
            from: u32::try_from(from).ok()?,
            // Both at most `INLINE_MAX`: `from` is within a window of `at`
            // and the caller checked `len`.
            skip: (at - from) as u8,
            len: len as u8,
        })))
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Repr::Shared(s.into()))
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text::from_static(s)
    }
}

impl From<ByteString> for Text {
    fn from(s: ByteString) -> Self {
        Text(Repr::Shared(s))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

// === impl Inline ===

impl Inline {
    fn as_bytes(&self) -> &[u8] {
        let skip = usize::from(self.skip);
        &self.window[skip..skip + usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::AnyValue;

    #[test]
    fn is_no_larger_than_a_byte_string_and_a_tag() {
        assert!(size_of::<Text>() <= size_of::<ByteString>() + 8);
        assert!(size_of::<AnyValue>() <= size_of::<ByteString>() + 8);
    }

    proptest! {
        /// Whatever part of a body a field is, it reads as that part, and
        /// it knows where it came from as long as the body there is the
        /// same; a copy with other bytes at its offset does not claim it.
        #[test]
        fn a_part_reads_as_itself_and_knows_its_place(
            body in "[a-zé✓ =\"]{0,80}",
            cut in any::<(prop::sample::Index, prop::sample::Index)>(),
        ) {
            let body = ByteString::from(body);
            let bounds: Vec<usize> = (0..=body.len()).filter(|&i| body.is_char_boundary(i)).collect();
            let (a, b) = (cut.0.get(&bounds), cut.1.get(&bounds));
            let (start, end) = (*a.min(b), *a.max(b));
            let text = Text::part_of(&body, &body[start..end]);
            prop_assert_eq!(text.as_str(), &body[start..end]);
            let expected = (start < end).then_some(start);
            prop_assert_eq!(text.offset_in(&body), expected);
            // Another body, changed inside the part: no longer its place.
            if start < end {
                let mut other = body.to_string();
                other.replace_range(start..end, &"#".repeat(end - start));
                prop_assert_eq!(text.offset_in(&other), None);
            }
            // A copy made from elsewhere has no place in any body.
            let copy = Text::from(body[start..end].to_owned());
            prop_assert_eq!(copy.offset_in(&body), None);
            prop_assert_eq!(&copy, &text);
        }
    }

    #[test]
    fn short_parts_are_copied_long_ones_shared() {
        let body = ByteString::from("x".repeat(100));
        let short = Text::part_of(&body, &body[10..10 + INLINE_MAX]);
        let long = Text::part_of(&body, &body[10..11 + INLINE_MAX]);
        assert!(matches!(short.0, Repr::Inline(_)));
        assert!(matches!(long.0, Repr::Shared(_)));
        assert_eq!(long.as_ptr(), body[10..].as_ptr(), "a view, not a copy");
    }
}
