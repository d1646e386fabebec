//! A bounded count of places (waiting-room seats, held refusals): taken
//! with [`Place::take`], given back when the [`Place`] is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};

/// One of at most `max` places counted by an `AtomicUsize`; dropping it
/// gives the place back, however the holder's wait ends (done, timed out,
/// or the future dropped).
pub(crate) struct Place<'a>(&'a AtomicUsize);

impl<'a> Place<'a> {
    /// A place if fewer than `max` are taken.
    pub(crate) fn take(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Self(count))
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_and_given_back_on_drop() {
        let count = AtomicUsize::new(0);
        let a = Place::take(&count, 2);
        let b = Place::take(&count, 2);
        assert!(a.is_some() && b.is_some());
        assert!(Place::take(&count, 2).is_none());
        drop(a);
        assert_eq!(count.load(Ordering::Relaxed), 1);
        assert!(Place::take(&count, 2).is_some());
        assert!(Place::take(&count, 0).is_none());
    }
}
