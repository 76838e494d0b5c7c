//! The open connections, for `stats conns`: one slot per descriptor, as memcached keeps
//! its `conns` array, so an idle connection costs the table one small slot and nothing
//! else (no allocation of its own, no tree node).

use std::time::Instant;

use asyncore_runtime::Addr;

/// How far behind its last command a connection's recorded time may be, in nanoseconds
/// (`stats conns` gives whole seconds).
const SEEN_RESOLUTION: u64 = 100_000_000;

/// One open connection.
#[derive(Debug, Clone)]
pub(super) struct ConnInfo {
    /// The peer's address (no allocation for an IP address).
    pub(super) addr: Option<Addr>,
    /// When it last sent a command, in nanoseconds from the table's start.
    last: u64,
    /// Which connection holds the slot: a descriptor closed before its connection is
    /// dropped may already be another connection's.
    id: u32,
    /// The descriptor of the listening socket it came in on (its address is in the
    /// store's `listeners`).
    pub(super) listen_fd: i32,
}

/// The table of open connections, indexed by descriptor.
#[derive(Debug)]
pub(super) struct Conns {
    slots: Vec<Option<ConnInfo>>,
    next_id: u32,
    started: Instant,
}

impl Default for Conns {
    fn default() -> Self {
        Conns {
            slots: Vec::new(),
            next_id: 0,
            started: Instant::now(),
        }
    }
}

impl Conns {
    /// Records connection `fd`, opened at `now`; returns the id that
    /// [`close`](Conns::close) takes. A negative descriptor is not recorded.
    pub(super) fn open(
        &mut self,
        fd: i32,
        listen_fd: i32,
        addr: Option<Addr>,
        now: Instant,
    ) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let Ok(i) = usize::try_from(fd) else {
            return id;
        };
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        self.slots[i] = Some(ConnInfo {
            addr,
            last: self.nanos(now),
            id,
            listen_fd,
        });
        id
    }

    /// Connection `fd` sent a command at `now`. The time is written only when it moved
    /// by [`SEEN_RESOLUTION`] or more: the slots of connections on other loops share
    /// cache lines with this one, which a write on every command would move between
    /// the cores.
    #[inline]
    pub(super) fn seen(&mut self, fd: i32, now: Instant) {
        let nanos = self.nanos(now);
        if let Some(Some(c)) = usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)) {
            if nanos.saturating_sub(c.last) >= SEEN_RESOLUTION {
                c.last = nanos;
            }
        }
    }

    /// Connection `fd`, recorded as `id`, is gone. The table shrinks when its end empties.
    pub(super) fn close(&mut self, fd: i32, id: u32) {
        let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)) else {
            return;
        };
        if slot.as_ref().is_some_and(|c| c.id == id) {
            *slot = None;
        }
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        if self.slots.len() < self.slots.capacity() / 4 {
            self.slots.shrink_to(self.slots.len() * 2);
        }
    }

    /// The open connections by descriptor, each with the time of its last command.
    pub(super) fn iter(&self) -> impl Iterator<Item = (i32, &ConnInfo, Instant)> + '_ {
        self.slots.iter().enumerate().filter_map(|(fd, c)| {
            let c = c.as_ref()?;
            let last = self.started + std::time::Duration::from_nanos(c.last);
            Some((i32::try_from(fd).ok()?, c, last))
        })
    }

    fn nanos(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.started).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_descriptor_keeps_the_new_connection() {
        let now = Instant::now();
        let mut conns = Conns::default();
        let old = conns.open(7, 3, None, now);
        // The descriptor was closed and given to a new connection before the old one
        // was dropped.
        let new = conns.open(7, 3, None, now);
        conns.close(7, old);
        assert_eq!(conns.iter().map(|(fd, _, _)| fd).collect::<Vec<_>>(), [7]);
        conns.close(7, new);
        assert_eq!(conns.iter().count(), 0);
        assert!(conns.slots.is_empty());
    }

    #[test]
    fn listed_by_descriptor_with_their_last_command() {
        let t0 = Instant::now();
        let mut conns = Conns::default();
        conns.open(9, 3, None, t0);
        conns.open(5, 4, None, t0);
        let later = t0 + std::time::Duration::from_secs(5);
        conns.seen(9, later);
        conns.seen(100, later); // not open: nothing happens
        let listed: Vec<_> = conns
            .iter()
            .map(|(fd, c, last)| (fd, c.listen_fd, last))
            .collect();
        assert_eq!(listed.len(), 2);
        assert_eq!((listed[0].0, listed[0].1), (5, 4));
        assert_eq!((listed[1].0, listed[1].1), (9, 3));
        assert!(listed[1].2 >= later && listed[0].2 < later);
    }
}
