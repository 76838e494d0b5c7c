//! [`Channel`]: what a handler gets to act on its socket, its buffers and the loop.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::addr::Addr;
use crate::dispatcher::Dispatcher;
use crate::map::Map;
use crate::socket::{Connect, SockType, Socket};
use crate::timer::{Action, TimerId};
use crate::token::Token;

mod output;
mod state;
#[cfg(feature = "tls")]
pub(crate) mod tls;

pub(crate) use state::{Core, Stamp};

/// Default high-water mark of a channel's output buffer: above it the channel stops
/// reading until the buffer drains (back-pressure).
pub const DEFAULT_HIGH_WATER: usize = 256 * 1024;
/// Default hard limit of a channel's output buffer: [`Channel::send_buffered`] refuses
/// data that would take the buffer past it.
pub const DEFAULT_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;
/// How long a listener stops accepting after the process ran out of descriptors.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A channel as its handler sees it: the socket, the state flags, the output buffer, and
/// the [`Map`] it lives in.
///
/// Handlers receive `&mut Channel`; code outside the loop gets one from
/// [`Map::with_channel`].
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Channel, Dispatcher, Result};
///
/// struct Upper;
/// impl Dispatcher for Upper {
///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
///         let mut buf = [0u8; 1024];
///         let n = ch.recv(&mut buf)?;
///         buf[..n].make_ascii_uppercase();
///         ch.send_buffered(&buf[..n])?;
///         Ok(())
///     }
/// }
/// ```
pub struct Channel<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) map: &'a mut Map,
}

impl fmt::Debug for Channel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("token", &self.core.token)
            .field("type", &(self.core.type_name)())
            .field("accepting", &self.core.accepting)
            .field("connecting", &self.core.connecting)
            .field("connected", &self.core.connected)
            .field("addr", &self.core.addr)
            .field("pending_output", &self.core.pending_len())
            .field("tls", &self.core.is_tls())
            .finish()
    }
}

/// A type's name without its paths, generics kept: `ServerChannel<KvConnection>` for
/// `asyncore_examples::kv::kv::ServerChannel<asyncore_examples::kv::KvConnection>`.
fn write_short_type(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let mut rest = name;
    while !rest.is_empty() {
        let end = rest
            .find(['<', '>', ',', ' ', '(', ')', '[', ']', ';', '&'])
            .unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        f.write_str(word.rsplit("::").next().unwrap_or(word))?;
        let mut chars = tail.chars();
        if let Some(d) = chars.next() {
            write!(f, "{d}")?;
        }
        rest = chars.as_str();
    }
    Ok(())
}

/// asyncore's `repr`: `<Type[ listening| connected][ addr] at #index.generation>`, the
/// type without its paths (`<ServerChannel<KvConnection> connected 127.0.0.1:5000 at
/// #2.0>`).
impl fmt::Display for Channel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Shown(self.core).fmt(f)
    }
}

/// A channel's state shown as the channel is ([`Channel`]'s `Display`), for messages
/// written where only the state is at hand.
pub(crate) struct Shown<'a>(pub(crate) &'a Core);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        f.write_str("<")?;
        write_short_type(f, (c.type_name)())?;
        if c.accepting && c.addr.is_some() {
            f.write_str(" listening")?;
        } else if c.connected {
            f.write_str(" connected")?;
        }
        if let Some(a) = &c.addr {
            write!(f, " {a}")?;
        }
        write!(f, " at {}>", c.token)
    }
}

impl<'a> Channel<'a> {
    pub(crate) fn new(core: &'a mut Core, map: &'a mut Map) -> Self {
        Channel { core, map }
    }

    /// This channel's token.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.token()), Some(t));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn token(&self) -> Token {
        self.core.token
    }

    /// The socket (or file) this channel owns, for operations the channel does not wrap
    /// (socket options, `recv_oob`, `shutdown`...).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert!(map.with_channel(t, |ch| ch.socket().is_nonblocking().unwrap()).unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn socket(&self) -> &Socket {
        &self.core.sock
    }

    /// The [`Map`] this channel lives in: add channels, set timers, reach other
    /// channels, stop the loop. The running channel itself is not reachable through it
    /// while its handler runs.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Quitter;
    /// impl Dispatcher for Quitter {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.map().stop();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn map(&mut self) -> &mut Map {
        self.map
    }

    /// Whether the channel is connected (asyncore's `connected`).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.connected()), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connected(&self) -> bool {
        self.core.connected
    }

    /// Whether the channel is listening (asyncore's `accepting`).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.listen(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.accepting()), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accepting(&self) -> bool {
        self.core.accepting
    }

    /// Whether a connect is under way (asyncore's `connecting`).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut map = Map::new();
    /// let t = map.connect(&l.local_addr()?.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.connecting()), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connecting(&self) -> bool {
        self.core.connecting
    }

    /// The address asyncore keeps in `addr`: the peer for a connected channel, the bound
    /// address (as the kernel reports it) for a listening one.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.listen(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into(), D)?;
    /// let port = map.with_channel(t, |ch| ch.addr().unwrap().as_inet().unwrap().port()).unwrap();
    /// assert_ne!(port, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn addr(&self) -> Option<&Addr> {
        self.core.addr.as_ref()
    }

    /// Read up to `buf.len()` bytes. Returns the count read, **0** when nothing was read:
    /// no data yet (`EAGAIN`, a spurious wake-up), end of file, or a broken connection.
    ///
    /// On end of file or a disconnect error (asyncore's `_DISCONNECTED` set) the channel
    /// is marked closing and [`Dispatcher::handle_close`] runs after the current handler
    /// returns ([`is_closing`](Self::is_closing) tells). Other errors are returned. On a
    /// datagram socket, use [`recv_from`](Self::recv_from).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Reader(Vec<u8>);
    /// impl Dispatcher for Reader {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 4096];
    ///         let n = ch.recv(&mut buf)?;
    ///         self.0.extend_from_slice(&buf[..n]);
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.core.done() || self.core.eof || buf.is_empty() {
            return Ok(0);
        }
        #[cfg(feature = "tls")]
        if self.core.is_tls() {
            let now = self.map.now;
            return self.core.tls_recv(buf, now);
        }
        match self.core.sock.recv(buf) {
            Ok(0) => {
                if self.core.sock.sock_type() != SockType::Datagram {
                    self.core.eof = true;
                    self.core.schedule_close(None);
                }
                Ok(0)
            }
            r => self.settle(r),
        }
    }

    /// What a read or write of the socket gave, as the channel's calls return it: the
    /// count (bytes moved restart the idle clock), 0 when the socket would block or the
    /// peer is gone (the channel is then marked closing), or the error.
    fn settle(&mut self, r: io::Result<usize>) -> io::Result<usize> {
        match r {
            Ok(n) => {
                if n > 0 {
                    self.core.last_activity = self.map.now_stamp;
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if crate::error::is_disconnect(&e) => {
                self.core.schedule_close(Some(e));
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Close the channel (asyncore's `close`): it leaves the map and its socket is closed
    /// once the running handler returns. [`Dispatcher::handle_close`] is *not* called.
    /// Calling it again does nothing. Queued output is dropped; see
    /// [`close_when_done`](Self::close_when_done).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct OneShot;
    /// impl Dispatcher for OneShot {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.close();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn close(&mut self) {
        self.core.closed = true;
        self.core.accepting = false;
        self.core.connecting = false;
        self.core.connected = false;
    }

    /// Close the channel through its close event: [`Dispatcher::handle_close`] runs with
    /// `reason` after the running handler returns, then the channel is closed.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Strict;
    /// impl Dispatcher for Strict {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.close_with_reason(std::io::Error::other("protocol violation"));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn close_with_reason(&mut self, reason: io::Error) {
        self.core.schedule_close(Some(reason));
    }

    /// From [`Dispatcher::handle_close`] when the peer only stopped sending (no reason):
    /// keep the channel open for writing instead of closing it after the handler. The
    /// handler goes on answering what the peer sent before its end of input (from
    /// `handle_write`, as its output drains) and closes the channel itself, usually with
    /// [`close_when_done`](Self::close_when_done). The channel is never read again; an
    /// error, a timeout or [`close`](Self::close) still end it.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Batch { unanswered: usize }
    /// impl Dispatcher for Batch {
    ///     fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
    ///         if reason.is_none() && self.unanswered > 0 {
    ///             ch.hold_after_close(); // answered from handle_write, then closed
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn hold_after_close(&mut self) {
        self.core.held = true;
    }

    /// Close once everything queued has been sent (asynchat's `close_when_done`). Data
    /// offered after this is refused with an error rather than silently dropped.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Bye;
    /// impl Dispatcher for Bye {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.send_buffered(b"221 bye\r\n")?;
    ///         ch.close_when_done();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn close_when_done(&mut self) {
        let now = self.map.now;
        self.core.close_when_done(now);
    }

    /// Close after an error reply without losing it: like
    /// [`close_when_done`](Self::close_when_done), but once the output is sent the channel
    /// shuts down its writing side and reads and discards what the peer still sends, until
    /// the peer closes, nothing comes for the map's linger timeout, or the map's linger
    /// limit of bytes is read ([`Map::set_linger`](crate::Map::set_linger)); then it
    /// closes. Closing with unread input makes the kernel send a reset, and a client still
    /// sending (a large body after a `413`) would often lose the reply; nginx's
    /// `lingering_close` exists for this. No handler runs while lingering.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Strict;
    /// impl Dispatcher for Strict {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.send_buffered(b"-ERR bad request\r\n")?;
    ///         ch.close_lingering();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn close_lingering(&mut self) {
        self.core.linger = true;
        self.close_when_done();
    }

    /// Whether the channel will be closed after the running handler (by
    /// [`close`](Self::close), end of file, a broken connection or a panic).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Drain;
    /// impl Dispatcher for Drain {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 512];
    ///         while ch.recv(&mut buf)? > 0 {}
    ///         if ch.is_closing() { /* end of file */ }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn is_closing(&self) -> bool {
        self.core.done()
    }

    /// Whether the channel is closing only because the peer stopped sending (an end of
    /// file, no error): its `handle_close` is still to come and may keep the channel to
    /// answer what the peer sent before ([`hold_after_close`](Self::hold_after_close)).
    /// Nothing can be sent until then.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Replies { waiting: Vec<Vec<u8>> }
    /// impl Dispatcher for Replies {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 512];
    ///         ch.recv(&mut buf)?;
    ///         if ch.is_closing() && !ch.is_ending_input() {
    ///             self.waiting.clear(); // an error: no one will read them
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn is_ending_input(&self) -> bool {
        matches!(self.core.close_event, Some(None)) && !self.core.closed && !self.core.poisoned
    }

    /// Accept one connection on a listening channel (asyncore's `accept`): `Ok(None)` if
    /// none is waiting. If the process is out of descriptors (`EMFILE`, `ENFILE`) or
    /// kernel memory (`ENOBUFS`, `ENOMEM`), the listener stops accepting for
    /// [`ACCEPT_BACKOFF`] and this returns `Ok(None)`, instead of the listener spinning or
    /// being closed. Accepted TCP sockets get `TCP_NODELAY` unless the map's default says
    /// otherwise ([`Map::set_nodelay_default`]).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct CountingServer { accepted: usize }
    /// impl Dispatcher for CountingServer {
    ///     fn handle_accept(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         while let Some((_sock, _addr)) = ch.accept()? {
    ///             self.accepted += 1;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn accept(&mut self) -> io::Result<Option<(Socket, Addr)>> {
        if !self.core.accepting || self.core.accept_paused {
            return Ok(None);
        }
        match self.core.sock.accept() {
            Ok(Some((sock, addr))) => {
                if self.map.nodelay_default && sock.is_tcp() {
                    let _ = sock.set_nodelay(true);
                }
                Ok(Some((sock, addr)))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                let errno = e.raw_os_error().map(Errno::from_raw_os_error);
                if matches!(
                    errno,
                    Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
                ) {
                    log::warn!(
                        target: "asyncore_runtime::channel",
                        "{self}: cannot accept ({e}); pausing accepts for {ACCEPT_BACKOFF:?}"
                    );
                    self.core.accept_paused = true;
                    let at = self.map.now + ACCEPT_BACKOFF;
                    self.map
                        .timers
                        .add(at, Action::ResumeAccept(self.core.token));
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Start listening (asyncore's `listen`): the channel becomes `accepting` only if the
    /// system call succeeds, and its `addr` becomes the bound address.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Dispatcher, Map, SockType};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.create_socket(Domain::Ipv4, SockType::Stream, D)?;
    /// map.with_channel(t, |ch| -> std::io::Result<()> {
    ///     ch.socket().set_reuse_addr()?;
    ///     ch.socket().bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    ///     ch.listen(5)
    /// }).unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen(&mut self, backlog: i32) -> io::Result<()> {
        self.core.sock.listen(backlog)?;
        self.core.accepting = true;
        self.core.addr = self.core.sock.local_addr().ok();
        Ok(())
    }

    /// Start a non-blocking connect (asyncore's `connect`). Its outcome arrives as an
    /// event: [`Dispatcher::handle_connect`] on success (even when the connect finished at
    /// once, as it does for Unix sockets, so the handler never runs inside this call),
    /// [`Dispatcher::handle_error`] with the error on failure. An immediate failure is
    /// returned here and leaves the channel's state unchanged.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Dispatcher, Map, SockType};
    /// # struct D; impl Dispatcher for D {}
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut map = Map::new();
    /// let t = map.create_socket(Domain::Ipv4, SockType::Stream, D)?;
    /// map.with_channel(t, |ch| ch.connect(&l.local_addr().unwrap().into())).unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&mut self, addr: &Addr) -> io::Result<()> {
        match self.core.sock.connect(addr)? {
            Connect::Done | Connect::InProgress => {
                self.core.connected = false;
                self.core.connecting = true;
                self.core.addr = Some(addr.clone());
                if self.map.nodelay_default && self.core.sock.is_tcp() {
                    let _ = self.core.sock.set_nodelay(true);
                }
                Ok(())
            }
        }
    }

    /// Receive one datagram and its sender. `Ok(None)` when none is waiting.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct UdpEcho;
    /// impl Dispatcher for UdpEcho {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 1500];
    ///         if let Some((n, from)) = ch.recv_from(&mut buf)? {
    ///             ch.send_to(&buf[..n], &from)?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, Addr)>> {
        match self.core.sock.recv_from(buf) {
            Ok((n, addr)) => {
                self.core.last_activity = self.map.now_stamp;
                Ok(Some((n, addr)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Send one datagram to `addr`. Returns 0 if the socket buffer is full.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Channel, Dispatcher, Result};
    /// struct Beacon(Addr);
    /// impl Dispatcher for Beacon {
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let to = self.0.clone();
    ///         ch.send_to(b"here", &to)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn send_to(&mut self, data: &[u8], addr: &Addr) -> io::Result<usize> {
        match self.core.sock.send_to(data, addr) {
            Ok(n) => {
                self.core.last_activity = self.map.now_stamp;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Call [`Dispatcher::handle_timer`] on this channel after `delay`. The timer dies
    /// with the channel.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// # use std::time::Duration;
    /// struct Heartbeat;
    /// impl Dispatcher for Heartbeat {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.set_timer(Duration::from_secs(10));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_timer(&mut self, delay: Duration) -> TimerId {
        let at = Instant::now() + delay;
        self.map.timers.add(at, Action::Channel(self.core.token))
    }

    /// Cancel a timer; `false` if it already fired or was cancelled.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// # use std::time::Duration;
    /// struct Undecided;
    /// impl Dispatcher for Undecided {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let t = ch.set_timer(Duration::from_secs(10));
    ///         assert!(ch.cancel_timer(t));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.map.timers.cancel(id)
    }

    /// Close the channel (through [`Dispatcher::handle_idle`], whose default closes it)
    /// when nothing has been received or sent on it for `timeout`; `None` turns the
    /// check off.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// # use std::time::Duration;
    /// struct Session;
    /// impl Dispatcher for Session {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.set_idle_timeout(Some(Duration::from_secs(300)));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        let now = Instant::now();
        self.map.set_now(now);
        self.core.idle_timeout = timeout;
        self.core.last_activity = self.map.now_stamp;
        if let Some(d) = timeout {
            self.map.arm_idle(self.core, now + d);
        }
    }

    /// How long a request may take to arrive whole, from its first byte (HTTP's header
    /// timeout, SMTP's command timeout; `None`, the default: no limit). Unlike the idle
    /// timeout, a byte now and then does not push it back, so a client trickling a
    /// request (a slowloris) is stopped. Generated channels start the clock when the
    /// first byte of a message arrives and stop it when the message is whole; a
    /// hand-written channel calls [`start_request_clock`](Self::start_request_clock) and
    /// [`stop_request_clock`](Self::stop_request_clock). When the time is up,
    /// [`Dispatcher::handle_idle`] runs, as for the idle timeout; generated server
    /// channels then send the description's `on timeout` reply and close.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// # use std::time::Duration;
    /// struct Strict;
    /// impl Dispatcher for Strict {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.set_request_timeout(Some(Duration::from_secs(10)));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_request_timeout(&mut self, timeout: Option<Duration>) {
        self.core.request_timeout = timeout;
        if timeout.is_none() {
            self.core.deadline = None;
        }
    }

    /// Starts the request clock (see [`set_request_timeout`](Self::set_request_timeout)),
    /// unless it runs already or the channel has no request timeout.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Lines { partial: Vec<u8> }
    /// impl Dispatcher for Lines {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 512];
    ///         let n = ch.recv(&mut buf)?;
    ///         self.partial.extend_from_slice(&buf[..n]);
    ///         if self.partial.contains(&b'\n') {
    ///             self.partial.clear();
    ///             ch.stop_request_clock();
    ///         } else if !self.partial.is_empty() {
    ///             ch.start_request_clock();
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn start_request_clock(&mut self) {
        if let (Some(t), None) = (self.core.request_timeout, self.core.deadline) {
            let at = self.map.now + t;
            self.core.deadline = Some(Stamp::new(at));
            self.map.arm_idle(self.core, at);
        }
    }

    /// Stops the request clock: the request is whole.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Done;
    /// impl Dispatcher for Done {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.stop_request_clock();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn stop_request_clock(&mut self) {
        self.core.deadline = None;
    }

    /// Whether the request clock runs.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Check;
    /// impl Dispatcher for Check {
    ///     fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mid_request = ch.request_clock_running();
    ///         ch.close();
    ///         let _ = mid_request;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn request_clock_running(&self) -> bool {
        self.core.deadline.is_some()
    }

    /// Add a channel for an accepted connection: it starts connected, with `addr` as its
    /// peer. This is what most [`Dispatcher::handle_accepted`] implementations do.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Channel, Dispatcher, Result, Socket};
    /// struct Session;
    /// impl Dispatcher for Session {}
    /// struct Server;
    /// impl Dispatcher for Server {
    ///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
    ///         ch.add_accepted(sock, addr, Session)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn add_accepted<D: Dispatcher>(
        &mut self,
        sock: Socket,
        addr: Addr,
        dispatcher: D,
    ) -> io::Result<Token> {
        self.map.add_accepted(sock, addr, dispatcher)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    struct Short(&'static str);

    impl fmt::Display for Short {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            super::write_short_type(f, self.0)
        }
    }

    #[test]
    fn type_names_lose_their_paths_and_keep_their_generics() {
        let cases = [
            ("Idle", "Idle"),
            ("conformance::Idle", "Idle"),
            (
                "asyncore_examples::kv::kv::ServerChannel<asyncore_examples::kv::KvConnection>",
                "ServerChannel<KvConnection>",
            ),
            ("a::Pair<b::X, (c::Y, &d::Z)>", "Pair<X, (Y, &Z)>"),
            ("a::Arr<[u8; 4]>", "Arr<[u8; 4]>"),
        ];
        for (name, short) in cases {
            assert_eq!(Short(name).to_string(), short);
        }
    }
}
