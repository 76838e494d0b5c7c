//! Lingering close: a channel that ends the connection after its last reply shuts down
//! writing, then reads and discards what the peer still sends, within bounds, so that
//! the reply is not lost to a reset (nginx's `lingering_close`).

use std::io;
use std::time::{Duration, Instant};

use super::{Invoke, Map};
use crate::channel::{Core, Stamp};

/// How long a lingering channel waits for more input from the peer before it closes.
pub const DEFAULT_LINGER_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes a lingering channel reads and discards before it closes.
pub const DEFAULT_LINGER_BYTES: usize = 64 << 20;

impl Map {
    /// Sets how channels that close lingering
    /// ([`Channel::close_lingering`](crate::Channel::close_lingering)) end: they close once
    /// nothing has come from the peer for `timeout`, or once they read and discarded
    /// `max_bytes`, if the peer has not closed first. The defaults are
    /// [`DEFAULT_LINGER_TIMEOUT`] (5 s) and [`DEFAULT_LINGER_BYTES`] (64 MiB), as nginx's
    /// `lingering_timeout`; a `max_bytes` of 0 closes at once.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.set_linger(std::time::Duration::from_secs(2), 8 << 20);
    /// ```
    pub fn set_linger(&mut self, timeout: Duration, max_bytes: usize) {
        self.linger_timeout = timeout;
        self.linger_bytes = max_bytes;
    }

    /// A channel whose output is sent closes lingering: shut down writing (the peer sees
    /// the end of the reply), then read and discard until the peer closes, goes quiet for
    /// the linger timeout, or sends more than the linger limit.
    pub(super) fn start_lingering(&mut self, core: &mut Core) {
        if self.linger_bytes == 0 || core.sock.shutdown(std::net::Shutdown::Write).is_err() {
            core.closed = true;
            return;
        }
        core.lingering = Some(u32::try_from(self.linger_bytes).unwrap_or(u32::MAX));
        core.idle_timeout = Some(self.linger_timeout);
        core.deadline = None;
        core.last_activity = self.now_stamp;
        self.arm_idle(core, self.now + self.linger_timeout);
    }
}

/// One event of a lingering channel: read and discard (at most 256 KiB an event), and
/// close on the peer's end, an error, the idle timeout or the byte limit.
pub(super) fn linger(core: &mut Core, mut left: usize, what: &Invoke, now: Instant) {
    match what {
        Invoke::Io(_) => {
            let mut scratch = [0u8; 16 * 1024];
            for _ in 0..16 {
                match core.sock.recv(&mut scratch[..left.clamp(1, 16 * 1024)]) {
                    Ok(0) => {
                        core.closed = true;
                        return;
                    }
                    Ok(n) => {
                        core.last_activity = Stamp::new(now);
                        left = left.saturating_sub(n);
                        if left == 0 {
                            core.closed = true;
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        core.closed = true;
                        return;
                    }
                }
            }
            // At most what lingering began with, a u32.
            core.lingering = Some(u32::try_from(left).unwrap_or(u32::MAX));
        }
        Invoke::Idle | Invoke::Error(_) => core.closed = true,
        Invoke::Timer(_) => {}
    }
}
