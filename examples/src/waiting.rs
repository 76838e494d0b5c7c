//! [`Waiting`]: replies that wait for room in a connection's output, kept only while some
//! wait.

use std::collections::VecDeque;

/// A queue of replies waiting for room in the output, in order, allocated at the first
/// one: an idle connection keeps one word for it instead of a `VecDeque`'s four. Room
/// for `keep` entries stays between commands ([`Waiting::drained`]), so that a steady
/// load of small retrievals allocates nothing.
#[derive(Debug)]
// Boxed: one word in the connection instead of four.
#[allow(clippy::box_collection)]
pub(crate) struct Waiting<T>(Option<Box<VecDeque<T>>>);

impl<T> Default for Waiting<T> {
    fn default() -> Self {
        Waiting(None)
    }
}

impl<T> Waiting<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|q| q.is_empty())
    }

    pub(crate) fn push_back(&mut self, item: T) {
        self.0.get_or_insert_with(Box::default).push_back(item);
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.0.as_ref()?.front()
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut()?.pop_front()
    }

    /// Everything was sent: the memory goes back if it holds room for more than `keep`.
    pub(crate) fn drained(&mut self, keep: usize) {
        if self.0.as_ref().is_some_and(|q| q.capacity() > keep) {
            self.0 = None;
        }
    }
}
