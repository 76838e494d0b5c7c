//! Input a channel holds above its socket: a TLS session's decrypted plaintext (or the
//! peer's `close_notify`) that the handler has not read. The socket will not be ready
//! for it again, on any backend, so the loop dispatches such a channel for reading by
//! itself, as long as the channel wants to read.

use super::{live_entry, Map};
use crate::ready::Ready;
use crate::token::Token;

impl Map {
    /// After a handler ran: remember a channel that left input in its session.
    pub(super) fn note_buffered_input(&mut self, token: Token, waiting: bool) {
        if waiting && !self.buffered_input.contains(&token) {
            self.buffered_input.push(token);
        }
    }

    /// Adds to `events` a read event for every channel with buffered input that is
    /// watched for reading (a channel that is not, over its high-water mark, stays
    /// listed for a later pass); one event per channel.
    pub(super) fn buffered_input_events(&mut self, events: &mut Vec<(Token, Ready)>) {
        if self.buffered_input.is_empty() {
            return;
        }
        let listed = std::mem::take(&mut self.buffered_input);
        for t in listed {
            let Some(e) = live_entry(&self.slots, t) else {
                continue;
            };
            if !e.core.tls_input_waiting() {
                continue;
            }
            if !e.core.registered.is_readable() {
                self.buffered_input.push(t);
                continue;
            }
            match events.iter_mut().find(|(et, _)| *et == t) {
                Some(ev) => ev.1 |= Ready::READ,
                None => events.push((t, Ready::READ)),
            }
        }
    }

    /// Whether a channel waits with buffered input it wants to read: the wait must not
    /// sleep.
    pub(super) fn buffered_input_ready(&self) -> bool {
        self.buffered_input.iter().any(|t| {
            live_entry(&self.slots, *t)
                .is_some_and(|e| e.core.tls_input_waiting() && e.core.registered.is_readable())
        })
    }
}
