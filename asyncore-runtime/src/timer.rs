//! Timers on the loop: call later, call at, cancel.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::time::Instant;

use crate::channel::Stamp;
use crate::map::Map;
use crate::token::Token;

/// The identity of a timer, for [`Map::cancel_timer`].
///
/// ```
/// use asyncore_runtime::Map;
/// use std::time::Duration;
/// let mut map = Map::new();
/// let id = map.call_later(Duration::from_secs(5), |_map| {});
/// assert!(map.cancel_timer(id));
/// assert!(!map.cancel_timer(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub(crate) u64);

impl fmt::Debug for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimerId({})", self.0)
    }
}

pub(crate) enum Action {
    /// A closure on the map.
    Call(Box<dyn FnOnce(&mut Map)>),
    /// `handle_timer` on a channel.
    Channel(Token),
    /// Resume accepting after descriptor exhaustion.
    ResumeAccept(Token),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Call(_) => f.write_str("Call(..)"),
            Action::Channel(t) => write!(f, "Channel({t:?})"),
            Action::ResumeAccept(t) => write!(f, "ResumeAccept({t:?})"),
        }
    }
}

/// The idle-timeout and request-deadline check of a channel: when, which channel, and
/// its number, which tells the live check from superseded ones when it comes up. It
/// has no entry in the table of actions (every idle channel has one: this keeps it at
/// 24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Check {
    pub at: Stamp,
    pub token: Token,
    pub gen: u32,
}

/// A heap of deadlines with lazy cancellation: a cancelled timer's heap entry is skipped
/// when it comes up; and a heap of channels' idle checks.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    actions: HashMap<u64, Action>,
    next: u64,
    checks: BinaryHeap<Reverse<Check>>,
}

impl Timers {
    pub fn add(&mut self, at: Instant, action: Action) -> TimerId {
        let id = self.next;
        self.next += 1;
        self.heap.push(Reverse((at, id)));
        self.actions.insert(id, action);
        TimerId(id)
    }

    pub fn cancel(&mut self, id: TimerId) -> bool {
        let found = self.actions.remove(&id.0).is_some();
        if self.actions.is_empty() {
            self.heap.clear();
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.checks.is_empty()
    }

    /// Adds channel `token`'s idle check number `gen`, due at `at`.
    pub fn add_check(&mut self, at: Instant, token: Token, gen: u32) {
        self.checks.push(Reverse(Check {
            at: Stamp::new(at),
            token,
            gen,
        }));
    }

    /// Removes every idle check due at `now` and appends them to `out`, in deadline order.
    pub fn due_checks(&mut self, now: Instant, out: &mut Vec<Check>) {
        let now = Stamp::new(now);
        while let Some(Reverse(check)) = self.checks.peek().copied() {
            if check.at > now {
                break;
            }
            self.checks.pop();
            out.push(check);
        }
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let check = self.checks.peek().map(|Reverse(c)| c.at.instant());
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if self.actions.contains_key(id) {
                return Some(check.map_or(*at, |c| c.min(*at)));
            }
            self.heap.pop();
        }
        check
    }

    /// Remove from the heap every timer due at `now` and return their ids in deadline
    /// order. Their actions stay until [`take`](Self::take), so a timer cancelled by an
    /// earlier callback of the same batch does not run.
    pub fn due(&mut self, now: Instant, out: &mut Vec<u64>) {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            if self.actions.contains_key(&id) {
                out.push(id);
            }
        }
    }

    pub fn take(&mut self, id: u64) -> Option<Action> {
        self.actions.remove(&id)
    }
}
