//! The state behind a [`Channel`](super::Channel): its socket, flags and output buffer,
//! and the socket I/O that works on them (sending the buffered output, closing).

use std::io;
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::ready::Ready;
use crate::socket::Socket;
use crate::token::Token;

use super::{DEFAULT_HIGH_WATER, DEFAULT_OUTPUT_LIMIT};

/// The output buffer: a byte vector with a read cursor, so partial sends never shift the
/// remaining bytes (asyncore re-sliced its buffer after every send).
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    buf: Vec<u8>,
    head: usize,
}

impl OutBuf {
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.head == self.buf.len()
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    pub fn extend(&mut self, data: &[u8]) {
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
    }

    pub fn consume(&mut self, n: usize) {
        self.head += n;
        if self.head >= self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Gives the storage back to the allocator when nothing is waiting; how many bytes.
    pub fn release(&mut self) -> usize {
        if !self.is_empty() {
            return 0;
        }
        self.head = 0;
        std::mem::take(&mut self.buf).capacity()
    }
}

/// An instant in one word: nanoseconds since a process-wide epoch, for the times every
/// channel keeps (an [`Instant`] takes two words). Instants before the epoch, which is
/// an hour before the first stamp, count as the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(std::num::NonZeroU64);

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

impl Stamp {
    pub fn new(at: Instant) -> Stamp {
        let epoch = *EPOCH.get_or_init(|| at.checked_sub(Duration::from_secs(3600)).unwrap_or(at));
        let nanos = at.saturating_duration_since(epoch).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1);
        Stamp(std::num::NonZeroU64::MIN.saturating_add(nanos))
    }

    pub fn instant(self) -> Instant {
        let epoch = *EPOCH.get().expect("a stamp was made, so the epoch is set");
        epoch + Duration::from_nanos(self.0.get() - 1)
    }
}

/// The loop's record of one channel, apart from its dispatcher.
#[derive(Debug)]
pub(crate) struct Core {
    pub token: Token,
    /// The dispatcher's type name (`std::any::type_name`), for messages: a function, one
    /// word instead of a string's two.
    pub type_name: fn() -> &'static str,
    pub sock: Socket,
    pub accepting: bool,
    pub connecting: bool,
    pub connected: bool,
    pub addr: Option<Addr>,
    pub out: OutBuf,
    /// The output limits ([`Channel::set_output_limits`](crate::Channel::set_output_limits)),
    /// in bytes, at most 4 GiB each ([`Core::set_output_limits`]).
    high_water: u32,
    out_limit: u32,
    /// `close()` was called: remove the channel after the running handler.
    pub closed: bool,
    /// A close *event* must be delivered (`handle_close(reason)`).
    pub close_event: Option<Option<io::Error>>,
    /// Close once the output buffer is empty.
    pub close_when_done: bool,
    /// End of file seen or the close event delivered: never read again.
    pub eof: bool,
    /// The edge-triggered backend reported the peer's close (`EPOLLRDHUP`): from then on
    /// only a read that finds the end shows the socket used up.
    pub peer_closed: bool,
    /// `handle_close` has run; a later breakage closes without a second call.
    pub close_delivered: bool,
    /// `handle_close` asked to keep the channel after the peer stopped sending
    /// ([`Channel::hold_after_close`]): it closes when its handler says so.
    pub held: bool,
    /// Close lingering ([`Channel::close_lingering`]): once the output is sent, shut down
    /// writing and discard what the peer still sends, then close.
    pub linger: bool,
    /// The output was sent: `linger` asks the map to start lingering.
    pub linger_ready: bool,
    /// Lingering: reading and discarding, this many bytes at most; no handler runs.
    pub lingering: Option<u32>,
    /// A handler panicked: drop the dispatcher without calling it again.
    pub poisoned: bool,
    /// Interest registered with the backend.
    pub registered: Ready,
    /// What `writable()` said at the start of this pass.
    pub user_writable: bool,
    /// What `readable()` said at the start of this pass.
    pub user_readable: bool,
    /// epoll refused the descriptor (a regular file): it is always ready.
    pub always_ready: bool,
    pub accept_paused: bool,
    pub idle_timeout: Option<Duration>,
    pub idle_timer: bool,
    /// When the live idle check is due, and its number (see `Map::arm_idle`).
    pub timer_at: Stamp,
    pub timer_gen: u32,
    /// How long a request may take to arrive whole ([`Channel::set_request_timeout`]).
    pub request_timeout: Option<Duration>,
    /// When the request being received must be whole.
    pub deadline: Option<Stamp>,
    pub last_activity: Stamp,
    /// Internal channels (the waker, the signal pipe) do not count in `len()`.
    pub internal: bool,
    /// The TLS session, when the channel has one (see the `tls` module).
    #[cfg(feature = "tls")]
    pub tls: Option<Box<super::tls::Tls>>,
}

impl Core {
    pub fn new(token: Token, type_name: fn() -> &'static str, sock: Socket, now: Instant) -> Core {
        Core {
            token,
            type_name,
            sock,
            accepting: false,
            connecting: false,
            connected: false,
            addr: None,
            out: OutBuf::default(),
            high_water: DEFAULT_HIGH_WATER as u32,
            out_limit: DEFAULT_OUTPUT_LIMIT as u32,
            closed: false,
            close_event: None,
            close_when_done: false,
            eof: false,
            peer_closed: false,
            close_delivered: false,
            held: false,
            linger: false,
            linger_ready: false,
            lingering: None,
            poisoned: false,
            registered: Ready::EMPTY,
            user_writable: false,
            user_readable: false,
            always_ready: false,
            accept_paused: false,
            idle_timeout: None,
            idle_timer: false,
            timer_at: Stamp::new(now),
            timer_gen: 0,
            request_timeout: None,
            deadline: None,
            last_activity: Stamp::new(now),
            internal: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Whether the channel will be gone after the running handler.
    pub fn done(&self) -> bool {
        self.closed || self.poisoned || self.close_event.is_some()
    }

    pub fn schedule_close(&mut self, reason: Option<io::Error>) {
        if self.close_delivered {
            // handle_close ran already (the channel was finishing its output).
            self.closed = true;
        } else if !self.closed && self.close_event.is_none() {
            self.close_event = Some(reason);
        }
    }

    /// Sets the output limits, each at most 4 GiB (a larger value counts as 4 GiB); the
    /// hard limit is at least the high-water mark.
    pub fn set_output_limits(&mut self, high_water: usize, limit: usize) {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.high_water = clamp(high_water);
        self.out_limit = clamp(limit.max(high_water));
    }

    pub fn high_water(&self) -> usize {
        self.high_water as usize
    }

    pub fn out_limit(&self) -> usize {
        self.out_limit as usize
    }

    pub fn paused(&self) -> bool {
        self.pending_len() > self.high_water()
    }

    /// The output waiting to be sent: the buffer, and what a TLS session took of it and
    /// has not sent yet.
    pub fn pending_len(&self) -> usize {
        self.out.len() + self.tls_backlog()
    }

    /// Whether anything waits to be sent (the buffer, or a TLS session's output).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.tls_has_output()
    }

    /// Whether a flush could send something now: watch the socket for writing.
    pub fn can_send(&self) -> bool {
        if self.is_tls() {
            self.tls_can_send()
        } else {
            !self.out.is_empty()
        }
    }

    /// asynchat's `close_when_done`: close once everything queued is sent (with TLS,
    /// after `close_notify`).
    pub fn close_when_done(&mut self, now: Instant) {
        self.close_when_done = true;
        #[cfg(feature = "tls")]
        if self.is_tls() && self.connected && !self.done() {
            if let Err(e) = self.tls_flush(now) {
                self.schedule_close(Some(e));
            }
            return;
        }
        let _ = now;
        if self.out.is_empty() {
            self.finish();
        }
    }

    /// One send of the buffered output (asyncore's `initiate_send`). A disconnect
    /// schedules the close event.
    pub fn flush(&mut self, now: Instant) -> io::Result<()> {
        self.flush_then(now, false)
    }

    /// [`flush`](Self::flush); with `more`, the kernel is told that more data follows
    /// at once (`MSG_MORE`), so a short header goes out in one segment with it.
    pub fn flush_then(&mut self, now: Instant, more: bool) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if self.is_tls() {
            return self.tls_flush(now);
        }
        if self.out.is_empty() || !self.connected || self.done() {
            return Ok(());
        }
        let sent = if more {
            self.sock.send_more(self.out.pending())
        } else {
            self.sock.send(self.out.pending())
        };
        match sent {
            Ok(n) => {
                if n > 0 {
                    self.last_activity = Stamp::new(now);
                }
                self.out.consume(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if crate::error::is_disconnect(&e) => self.schedule_close(Some(e)),
            Err(e) => return Err(e),
        }
        if self.out.is_empty() && self.close_when_done {
            self.finish();
        }
        Ok(())
    }

    /// The output is sent and the channel closes: at once, or lingering (the map takes it
    /// from there).
    pub fn finish(&mut self) {
        if self.linger && !self.eof {
            self.linger_ready = true;
        } else {
            self.closed = true;
        }
    }

    pub fn send_buffered(&mut self, data: &[u8], now: Instant) -> io::Result<()> {
        self.enqueue(data, now, true)
    }

    pub fn enqueue(&mut self, data: &[u8], now: Instant, try_now: bool) -> io::Result<()> {
        if self.closed || self.close_event.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("channel {} is closing; data not sent", self.token),
            ));
        }
        if self.close_when_done {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!(
                    "channel {} is closing once its output is sent (close_when_done); \
                     data queued after that would never be sent",
                    self.token
                ),
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        let mut rest = data;
        // Fast path: nothing queued, so try the socket first and copy only what it
        // did not take.
        if self.is_tls() {
            #[cfg(feature = "tls")]
            if try_now {
                let n = self.tls_send_now(data, now)?;
                rest = &data[n..];
            }
        } else if try_now && self.out.is_empty() && self.connected {
            match self.sock.send(data) {
                Ok(n) => {
                    if n > 0 {
                        self.last_activity = Stamp::new(now);
                    }
                    rest = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if crate::error::is_disconnect(&e) => {
                    self.schedule_close(Some(e));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        if self.out.len() + rest.len() > self.out_limit() {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "output buffer limit of {} bytes exceeded on channel {} ({} bytes queued, \
                     {} more offered); the peer is not reading: close the channel or raise \
                     the limit with set_output_limits",
                    self.out_limit(),
                    self.token,
                    self.out.len(),
                    rest.len()
                ),
            ));
        }
        self.out.extend(rest);
        Ok(())
    }
}

/// Without the `tls` feature a channel never has a session.
#[cfg(not(feature = "tls"))]
impl Core {
    pub fn is_tls(&self) -> bool {
        false
    }

    pub fn tls_input_waiting(&self) -> bool {
        false
    }

    pub fn tls_handshaking(&self) -> bool {
        false
    }

    pub fn tls_backlog(&self) -> usize {
        0
    }

    pub fn tls_can_send(&self) -> bool {
        false
    }

    pub fn tls_has_output(&self) -> bool {
        false
    }

    pub fn tls_handshake_step(&mut self, _now: Instant) -> io::Result<bool> {
        Ok(true)
    }

    pub fn tls_handshake_timeout(&mut self) -> bool {
        false
    }
}
