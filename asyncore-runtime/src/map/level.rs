//! Level-triggered dispatch on an edge-triggered registration (the epoll backend).
//!
//! epoll reports a descriptor once per change; asyncore's loop reports it every pass
//! while it is ready, as select and poll do. After a handler ran, [`unused`] works out
//! what of the reported readiness it may have left (its socket's calls did not find the
//! socket empty, or full); that is kept in the channel's slot, asked of `poll(2)` before
//! the next wait ([`Map::check_pending`]) and, where it still holds, reported with the
//! wait's events ([`Map::merge_pending`]).

use std::io;
use std::os::fd::AsFd;

use super::{live_entry, Map, Slot};
use crate::ready::Ready;
use crate::sys::Reg;
use crate::token::Token;

/// The slot `token` names, if its generation still matches (without marking it reached).
fn live_slot(slots: &mut [Slot], token: Token) -> Option<&mut Slot> {
    slots
        .get_mut(token.index as usize)
        .filter(|s| s.generation == token.generation)
}

impl Map {
    /// Keeps `kept`, what a handler left of an event, for the next pass.
    pub(super) fn keep_unused(&mut self, token: Token, kept: Ready) {
        if let Some(s) = live_slot(&mut self.slots, token).filter(|s| s.entry.is_some()) {
            if s.pending.is_empty() {
                self.pending.push(token);
            }
            s.pending |= kept;
        }
    }

    /// The readiness kept from the last pass (edge-triggered backend) that still holds,
    /// asked of `poll(2)` without waiting, as much of it as each channel still watches:
    /// what a level-triggered wait would report. Asked before the wait, which then does
    /// not sleep if any holds.
    pub(super) fn check_pending(&mut self) -> io::Result<Vec<(Token, Ready)>> {
        let tokens = std::mem::take(&mut self.pending);
        let mut kept: Vec<(Token, Ready)> = Vec::with_capacity(tokens.len());
        for t in tokens {
            let Some(s) = live_slot(&mut self.slots, t) else {
                continue;
            };
            let k = std::mem::take(&mut s.pending);
            let watched = s.entry.as_ref().map_or(Ready::EMPTY, |e| e.core.registered);
            let k = k.and(watched | Ready::HUP | Ready::ERROR);
            if !k.is_empty() {
                kept.push((t, k));
            }
        }
        let mut now = Vec::with_capacity(kept.len());
        if kept.is_empty() {
            return Ok(now);
        }
        let list: Vec<Reg<'_>> = kept
            .iter()
            .filter_map(|&(token, want)| {
                let e = live_entry(&self.slots, token)?;
                Some(Reg {
                    fd: e.core.sock.as_fd(),
                    token,
                    want,
                })
            })
            .collect();
        crate::sys::level_now(&list, &mut now)?;
        Ok(now)
    }

    /// Adds `now` (from [`check_pending`](Self::check_pending)) to the wait's `events`:
    /// a channel the wait reported too gets one event with both.
    pub(super) fn merge_pending(
        &mut self,
        now: Vec<(Token, Ready)>,
        events: &mut Vec<(Token, Ready)>,
    ) {
        for &(t, r) in &now {
            if let Some(s) = self.slots.get_mut(t.index as usize) {
                s.pending = r;
            }
        }
        for ev in events.iter_mut() {
            if let Some(s) = live_slot(&mut self.slots, ev.0) {
                ev.1 |= std::mem::take(&mut s.pending);
            }
        }
        for (t, _) in now {
            if let Some(s) = self.slots.get_mut(t.index as usize) {
                let r = std::mem::take(&mut s.pending);
                if !r.is_empty() {
                    events.push((t, r));
                }
            }
        }
    }
}

/// The part of `ready`, reported edge-triggered, that a level-triggered wait might
/// report again after the handler ran (the next pass asks `poll(2)` whether it does):
/// reading until a read found the socket empty (or, once the peer has closed, found the
/// end: its close stays to be read, and no new edge will say so), writing until a write
/// found it full, urgent data until it was read; a hang-up or an error always.
pub(super) fn unused(ready: Ready, seen: u8, peer_closed: bool) -> Ready {
    use crate::socket::Seen;
    let mut kept = ready.and(Ready::HUP | Ready::ERROR);
    let emptied = if peer_closed {
        Seen::END
    } else {
        Seen::READ_EMPTY | Seen::END
    };
    if ready.is_readable() && seen & emptied == 0 {
        kept |= Ready::READ;
    }
    if ready.is_writable() && seen & Seen::WRITE_FULL == 0 {
        kept |= Ready::WRITE;
    }
    if ready.is_priority() && seen & Seen::URGENT_READ == 0 {
        kept |= Ready::PRIORITY;
    }
    kept
}
