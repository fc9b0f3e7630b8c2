//! One value handed to many records by `Arc`, in generations.
//!
//! A source gives each record a reference to its file's attributes and
//! resource. Were it one `Arc` for good, the thread making records (the
//! file source's) and the thread dropping them once sent (a sink's) would
//! both update its reference count all the time, and each update would take
//! the count's cache line from the other core: in a profile of a drain,
//! those two increments and two decrements were most of the time of
//! building and of dropping a record. A new copy every [`Handout::RENEW`]
//! records keeps them apart: the records being made share the newest copy,
//! the ones being dropped an older one.

use std::sync::Arc;

/// A value handed out as `Arc`s, renewed (copied) every so many.
#[derive(Debug)]
pub struct Handout<T> {
    current: Arc<T>,
    left: u32,
}

impl<T: Clone> Handout<T> {
    /// Records that share one copy: about half a sink's request, so that
    /// the copies being dropped are not the one being handed out.
    pub const RENEW: u32 = 512;

    /// Hand out `value`.
    pub fn new(value: Arc<T>) -> Self {
        Handout {
            current: value,
            left: Self::RENEW,
        }
    }

    /// A reference for one more record.
    pub fn get(&mut self) -> Arc<T> {
        if self.left == 0 {
            self.current = Arc::new(T::clone(&self.current));
            self.left = Self::RENEW;
        }
        self.left -= 1;
        Arc::clone(&self.current)
    }

    /// The current copy, without counting a handout.
    pub fn peek(&self) -> &Arc<T> {
        &self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_equal_and_renewed_every_so_many() {
        let mut handout = Handout::new(Arc::new(String::from("/var/log/app.log")));
        let first = handout.get();
        let mut same = 1;
        let mut renewed = None;
        for _ in 0..Handout::<String>::RENEW {
            let next = handout.get();
            assert_eq!(next, first, "every copy holds the same value");
            if Arc::ptr_eq(&next, &first) {
                same += 1;
            } else if renewed.is_none() {
                renewed = Some(next);
            }
        }
        assert_eq!(same, Handout::<String>::RENEW);
        let renewed = renewed.expect("a new copy after RENEW handouts");
        assert!(Arc::ptr_eq(handout.peek(), &renewed));
    }
}
