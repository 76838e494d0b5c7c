//! [`Map`]: asyncore's `socket_map` and `loop`, with timers, a waker and signals.

use std::any::Any;
use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::channel::{Channel, Core, Stamp};
use crate::dispatch::{call, deliver_close, guarded, interest, io_event, route};
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::ready::Ready;
use crate::socket::{Domain, SockType, Socket};
use crate::sys::{Backend, Reg, Selector};

mod add;
mod buffered;
mod level;
mod linger;
mod release;
mod run;
mod timers;

use crate::timer::{Check, TimerId, Timers};
use crate::token::Token;
use crate::waker::{Waker, WakerChannel};
use level::unused;
use linger::linger;
pub use linger::{DEFAULT_LINGER_BYTES, DEFAULT_LINGER_TIMEOUT};
pub use release::DEFAULT_RELEASE_INTERVAL;
pub use run::{close_all, run_loop};

/// asyncore's default `timeout` for `loop`: 30 seconds per pass.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Entry<D: ?Sized> {
    pub core: Core,
    pub handler: D,
}

type BoxEntry = Box<Entry<dyn Dispatcher>>;

#[derive(Default)]
struct Slot {
    generation: u32,
    entry: Option<BoxEntry>,
    /// The entry is out, running a handler.
    busy: bool,
    /// `Map::close` was called for the busy entry.
    close_requested: bool,
    /// The dispatcher's `readable`/`writable` depend only on its own state
    /// ([`Dispatcher::interest_from_own_state`]).
    own_interest: bool,
    /// The entry was reached mutably since its interest was last worked out.
    dirty: bool,
    /// Readiness the edge-triggered backend reported and the handler did not use up
    /// (see [`Map::pending`]): dispatched again in the next pass.
    pending: Ready,
    /// While the entry is out: the room left in its output buffer when it was taken,
    /// which bounds what [`Map::send_to`] queues for it meanwhile.
    room: u32,
}

/// What one dispatch of a channel is for.
enum Invoke {
    Io(Ready),
    Timer(TimerId),
    Idle,
    Error(io::Error),
}

/// A set of channels and the loop that serves them: asyncore's `socket_map` plus
/// `loop()`, `poll()`/`poll2()` and `close_all()`.
///
/// Several maps can exist (each with its own loop, for instance one per thread); there is
/// no process-wide default map.
///
/// # The Python names
///
/// | asyncore                                  | here                                        |
/// |-------------------------------------------|---------------------------------------------|
/// | `socket_map` / `map=` argument            | a `Map` value                                |
/// | `loop(timeout=30.0, use_poll, map, count)`| [`Map::run_with`]`(timeout, backend, count)`, [`run_loop`](crate::run_loop) |
/// | `loop()`                                  | [`Map::run`] (30 s, epoll, no count)         |
/// | `poll(timeout, map)`, `poll2(...)`        | [`Map::poll_once`]`(timeout, backend)`       |
/// | `use_poll=False` / `True`                 | [`Backend::Select`] / [`Backend::Poll`]; [`Backend::Epoll`] is the default |
/// | `close_all(map)`                          | [`Map::close_all`]                           |
/// | `dispatcher(sock, map)`                   | [`Map::add`]                                 |
/// | `create_socket(family, type)`             | [`Map::create_socket`]                       |
/// | `file_dispatcher(fd, map)`                | [`Map::add_file`]                            |
/// | `raise ExitNow`                           | a handler returns [`Error::Exit`]            |
///
/// # One pass
///
/// 1. If the map holds no channel, return at once (no system call, no sleep).
/// 2. For every channel, in the order it was added: call `readable()` then `writable()`,
///    once each. A channel is watched for reading if `readable()` (and its output is
///    not above the high-water mark), for urgent data likewise, and for writing if
///    `writable()` and it is not listening, or if it has buffered output. An idle
///    stream socket (neither connecting, connected nor listening) is not watched. A
///    channel whose dispatcher's interest comes from its own state
///    ([`Dispatcher::interest_from_own_state`]) is asked only if something happened to
///    it since the last pass (an event, a timer, a call through the map); otherwise it
///    keeps what it watched.
/// 3. Wait for readiness, at most `timeout` (`None`: no limit), and never past the next
///    timer. `EINTR` is retried with the time left. With epoll (registered
///    edge-triggered), readiness the last pass's handlers did not visibly use up is
///    first checked with `poll(2)`; what still holds is reported as a level-triggered
///    wait would report it, and the wait does not sleep.
/// 4. For each ready channel (select and poll: in map order; epoll: in the kernel's
///    order), in this order, stopping as soon as the channel is closing: read event
///    (`handle_accept` if listening; finish a connect; `handle_read`), write event
///    (finish a connect; write buffered output; `handle_write` if `writable()` said
///    so), urgent event (`handle_close` if the socket has an error, else
///    `handle_expt`), then hang-up or error (a close event). A close event calls
///    `handle_close` once, after which the channel is closed.
/// 5. Run the timers that are due.
///
/// A channel added during a pass is first watched in the next pass; a channel closed
/// during a pass gets no further event, and its token never names another channel.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Addr, Backend, Channel, Dispatcher, Map, Result, Socket};
/// use std::io::{Read, Write};
/// use std::time::Duration;
///
/// struct Echo;
/// impl Dispatcher for Echo {
///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
///         let mut buf = [0u8; 1024];
///         let n = ch.recv(&mut buf)?;
///         ch.send_buffered(&buf[..n])?;
///         Ok(())
///     }
/// }
/// struct Server;
/// impl Dispatcher for Server {
///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
///         ch.add_accepted(sock, addr, Echo)?;
///         Ok(())
///     }
/// }
///
/// let mut map = Map::new();
/// let listener = map.listen(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into(), Server)?;
/// let addr = map.local_addr(listener).unwrap().as_inet().unwrap();
/// let mut client = std::net::TcpStream::connect(addr)?;
/// client.write_all(b"hello")?;
/// map.run_with(Some(Duration::from_millis(50)), Backend::Epoll, Some(10))?;
/// let mut buf = [0u8; 5];
/// client.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Map {
    slots: Vec<Slot>,
    free: Vec<u32>,
    order: Vec<Token>,
    stale: usize,
    len: usize,
    selector: Option<Selector>,
    events: Vec<(Token, Ready)>,
    pub(crate) timers: Timers,
    pub(crate) now: Instant,
    /// `now` as the channels keep their times ([`Stamp`]), made once when `now` is set
    /// ([`Map::set_now`]) rather than for every read and send.
    pub(crate) now_stamp: Stamp,
    pub(crate) nodelay_default: bool,
    high_water: usize,
    out_limit: usize,
    stop: bool,
    running: bool,
    waker: Option<Waker>,
    signalled: Option<i32>,
    passes: u64,
    /// The backend registers edge-triggered (epoll): readiness a handler did not use up
    /// is kept in its slot and dispatched again, as a level-triggered wait would report
    /// it again. These are the tokens with something kept.
    pending: Vec<Token>,
    edge: bool,
    /// The channels asked what to watch every pass (their dispatcher's interest is not
    /// its own state alone), in the order they were added.
    ask_every_pass: Vec<Token>,
    /// The other channels reached since their interest was last worked out.
    dirty_list: Vec<Token>,
    /// The previous pass's `dirty_list`, emptied: swapped in each pass so that steady
    /// traffic allocates nothing.
    dirty_spare: Vec<Token>,
    /// The ids of the timers due, kept between passes (see `run_timers`).
    due_spare: Vec<u64>,
    /// The channels' idle checks due, kept between passes likewise.
    checks_spare: Vec<Check>,
    /// Output [`Map::send_to`] queued for the channel whose handler is running (its
    /// entry is out of its slot), handed to it when the handler returns.
    outbox: Vec<u8>,
    outbox_for: Option<Token>,
    /// Lingering close: how long to wait for more input, and how much to discard at most.
    linger_timeout: Duration,
    linger_bytes: usize,
    /// How often channels are asked to give back memory, and the timer of the next sweep.
    release_every: Option<Duration>,
    release_timer: Option<TimerId>,
    /// Channels removed since the last sweep: their memory is free, maybe not returned.
    removed_since_sweep: usize,
    /// Channels holding input above their socket (a TLS session's plaintext): dispatched
    /// for reading without the socket being ready.
    buffered_input: Vec<Token>,
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("len", &self.len)
            .field("backend", &self.selector.as_ref().map(|s| s.backend()))
            .field("passes", &self.passes)
            .finish_non_exhaustive()
    }
}

impl Default for Map {
    fn default() -> Self {
        Map::new()
    }
}

/// The entry `token` names in `slots`, if it is current and not running a handler.
fn live_entry(slots: &[Slot], token: Token) -> Option<&BoxEntry> {
    slots
        .get(token.index as usize)
        .filter(|s| s.generation == token.generation)?
        .entry
        .as_ref()
}

impl Map {
    /// An empty map.
    ///
    /// ```
    /// let map = asyncore_runtime::Map::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Map {
        let start = Instant::now();
        Map {
            slots: Vec::new(),
            free: Vec::new(),
            order: Vec::new(),
            stale: 0,
            len: 0,
            selector: None,
            events: Vec::with_capacity(256),
            timers: Timers::default(),
            now: start,
            now_stamp: Stamp::new(start),
            nodelay_default: true,
            high_water: crate::channel::DEFAULT_HIGH_WATER,
            out_limit: crate::channel::DEFAULT_OUTPUT_LIMIT,
            stop: false,
            running: false,
            waker: None,
            signalled: None,
            passes: 0,
            pending: Vec::new(),
            edge: false,
            ask_every_pass: Vec::new(),
            dirty_list: Vec::new(),
            dirty_spare: Vec::new(),
            // Room for the timers of a pass from the start, so that the first timer to
            // fire in steady traffic allocates nothing either.
            due_spare: Vec::with_capacity(16),
            checks_spare: Vec::with_capacity(16),
            outbox: Vec::new(),
            outbox_for: None,
            linger_timeout: DEFAULT_LINGER_TIMEOUT,
            linger_bytes: DEFAULT_LINGER_BYTES,
            release_every: Some(DEFAULT_RELEASE_INTERVAL),
            release_timer: None,
            removed_since_sweep: 0,
            buffered_input: Vec::new(),
        }
    }

    /// The number of channels (asyncore's `len(map)`).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// map.add(a.into(), D)?;
    /// map.add(b.into(), D)?;
    /// assert_eq!(map.len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map holds no channel; [`run`](Self::run) returns at once then.
    ///
    /// ```
    /// assert!(asyncore_runtime::Map::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many passes the loop has made over this map's lifetime.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.run()?; // empty: returns at once, no pass
    /// assert_eq!(map.passes(), 0);
    /// # Ok::<(), asyncore_runtime::Error>(())
    /// ```
    #[inline]
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// The time the loop read when the current pass began (and again before it ran the
    /// timers due): a handler that needs the time of a request can take it instead of
    /// reading the clock for each one, as memcached's `current_time` does. Before the
    /// first pass, the time the map was made.
    ///
    /// ```
    /// let map = asyncore_runtime::Map::new();
    /// assert!(map.now() <= std::time::Instant::now());
    /// ```
    #[inline]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sets the time of the pass, and its stamp.
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.now_stamp = Stamp::new(now);
    }

    /// Whether `token` names a channel of this map (open, or running a handler).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert!(map.contains(t));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn contains(&self, token: Token) -> bool {
        self.slot(token)
            .is_some_and(|s| s.entry.is_some() || s.busy)
    }

    /// The tokens of the channels, in the order they were added.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let t1 = map.add(a.into(), D)?;
    /// let t2 = map.add(b.into(), D)?;
    /// assert_eq!(map.tokens(), vec![t1, t2]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tokens(&self) -> Vec<Token> {
        self.order
            .iter()
            .copied()
            .filter(|t| self.contains(*t) && !self.is_internal(*t))
            .collect()
    }

    fn is_internal(&self, t: Token) -> bool {
        self.entry(t).is_some_and(|e| e.core.internal)
    }

    /// Whether new TCP connections (accepted or connected) get `TCP_NODELAY`. On by
    /// default, so request/response and pipelined traffic never waits for Nagle's
    /// algorithm to meet the peer's delayed ACK.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.set_nodelay_default(false);
    /// ```
    pub fn set_nodelay_default(&mut self, on: bool) {
        self.nodelay_default = on;
    }

    /// The output-buffer high-water mark and hard limit given to channels added from now
    /// on (see [`Channel::set_output_limits`]).
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.set_default_output_limits(64 * 1024, 1024 * 1024);
    /// ```
    pub fn set_default_output_limits(&mut self, high_water: usize, limit: usize) {
        self.high_water = high_water;
        self.out_limit = limit.max(high_water);
    }

    /// The slot `token` names, if its generation still matches.
    fn slot(&self, token: Token) -> Option<&Slot> {
        self.slots
            .get(token.index as usize)
            .filter(|s| s.generation == token.generation)
    }

    /// The slot `token` names, to change: its channel's interest is worked out again in
    /// the next pass.
    fn slot_mut(&mut self, token: Token) -> Option<&mut Slot> {
        let s = self
            .slots
            .get_mut(token.index as usize)
            .filter(|s| s.generation == token.generation)?;
        if !s.dirty {
            s.dirty = true;
            if s.own_interest {
                self.dirty_list.push(token);
            }
        }
        Some(s)
    }

    /// The entry of a channel that is in the map and not running a handler.
    fn entry(&self, token: Token) -> Option<&BoxEntry> {
        live_entry(&self.slots, token)
    }

    fn entry_mut(&mut self, token: Token) -> Option<&mut BoxEntry> {
        self.slot_mut(token)?.entry.as_mut()
    }

    // ===== reaching channels from outside =====

    /// Run `f` on a channel, as a handler would: socket operations, buffered output,
    /// `close`. `None` if the token names no channel (or the channel is the one whose
    /// handler is running). A close requested in `f` takes effect when it returns.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// map.with_channel(t, |ch| ch.send_buffered(b"hi")).unwrap()?;
    /// map.with_channel(t, |ch| ch.close());
    /// assert!(!map.contains(t));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_channel<R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut Channel<'_>) -> R,
    ) -> Option<R> {
        self.with_entry(token, |_, ch| f(ch))
    }

    /// Run `f` on a channel's dispatcher, downcast to `D`, and its channel. `None` if the
    /// token names no channel or its dispatcher is not a `D`.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// struct Counter(u32);
    /// impl Dispatcher for Counter {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), Counter(0))?;
    /// map.with::<Counter, _>(t, |c, _ch| c.0 += 1);
    /// assert_eq!(map.get::<Counter>(t).unwrap().0, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with<D: Dispatcher, R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut D, &mut Channel<'_>) -> R,
    ) -> Option<R> {
        let is_d = {
            let e = self.entry(token)?;
            let any: &dyn Any = &e.handler;
            any.is::<D>()
        };
        if !is_d {
            return None;
        }
        self.with_entry(token, |h, ch| {
            let any: &mut dyn Any = h;
            let d = any.downcast_mut::<D>().expect("type checked above");
            f(d, ch)
        })
    }

    fn with_entry<R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut dyn Dispatcher, &mut Channel<'_>) -> R,
    ) -> Option<R> {
        let mut entry = self.take(token)?;
        let r = {
            let Entry { core, handler } = &mut *entry;
            let mut ch = Channel::new(core, self);
            f(handler, &mut ch)
        };
        self.put_back(token, entry);
        Some(r)
    }

    /// A channel's dispatcher, downcast to `D`.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// struct Named(&'static str);
    /// impl Dispatcher for Named {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), Named("x"))?;
    /// assert_eq!(map.get::<Named>(t).unwrap().0, "x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get<D: Dispatcher>(&self, token: Token) -> Option<&D> {
        let e = self.entry(token)?;
        let any: &dyn Any = &e.handler;
        any.downcast_ref::<D>()
    }

    /// A channel's dispatcher, downcast to `D`, mutably.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// struct Named(&'static str);
    /// impl Dispatcher for Named {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), Named("x"))?;
    /// map.get_mut::<Named>(t).unwrap().0 = "y";
    /// assert_eq!(map.get::<Named>(t).unwrap().0, "y");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut<D: Dispatcher>(&mut self, token: Token) -> Option<&mut D> {
        let e = self.entry_mut(token)?;
        let any: &mut dyn Any = &mut e.handler;
        any.downcast_mut::<D>()
    }

    /// Queue `data` on another channel's output (its [`Channel::queue`]): it leaves with
    /// that channel's next write event, in the same pass or the next. A fan-out to N
    /// channels then costs a copy per channel per message and one `send` per channel per
    /// pass, however many messages a pass fans out: never one system call per member per
    /// message, which lets a busy room hold the loop.
    ///
    /// ```
    /// # use asyncore_runtime::{Backend, Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// # use std::io::Read;
    /// let mut map = Map::new();
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// map.send_to(t, b"news\n")?;
    /// map.poll_once(Some(std::time::Duration::ZERO), Backend::Poll)?;
    /// let mut buf = [0u8; 5];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"news\n");
    /// # Ok::<(), asyncore_runtime::Error>(())
    /// ```
    ///
    /// The channel whose handler is running may be named too (a broker publishing to its
    /// own subscription): the data joins that channel's output when its handler returns,
    /// after what the handler itself sent, within the room its output buffer had when the
    /// handler started.
    pub fn send_to(&mut self, token: Token, data: &[u8]) -> io::Result<()> {
        let now = self.now;
        if let Some(s) = self.slot_mut(token).filter(|s| s.busy) {
            let room = s.room as usize;
            if self.outbox_for.is_some_and(|t| t != token) {
                self.outbox.clear();
            }
            if self.outbox.len().saturating_add(data.len()) > room {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "channel {token}: {} more bytes would go over its output limit",
                        data.len()
                    ),
                ));
            }
            self.outbox_for = Some(token);
            self.outbox.extend_from_slice(data);
            return Ok(());
        }
        match self.entry_mut(token) {
            Some(e) => e.core.enqueue(data, now, false),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no channel {token} in this map"),
            )),
        }
    }

    /// Close a channel from outside its handlers (its [`Channel::close`]);
    /// `handle_close` is not called. If that channel's handler is running, the close
    /// happens when it returns. Returns whether the token named a channel.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert!(map.close(t));
    /// assert!(map.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&mut self, token: Token) -> bool {
        let Some(s) = self.slot_mut(token) else {
            return false;
        };
        if s.busy {
            s.close_requested = true;
            return true;
        }
        match s.entry.take() {
            Some(e) => {
                self.remove(token, e);
                true
            }
            None => false,
        }
    }

    /// Close every channel and empty the map (asyncore's `close_all`). Sockets are closed
    /// and dispatchers dropped; `handle_close` is not called, as in asyncore.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// for _ in 0..3 {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     map.add(a.into(), D)?;
    /// }
    /// map.close_all();
    /// assert!(map.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close_all(&mut self) {
        for token in self.order.clone() {
            if !self.is_internal(token) {
                self.close(token);
            }
        }
        self.compact();
    }

    fn take(&mut self, token: Token) -> Option<BoxEntry> {
        let s = self.slot_mut(token)?;
        if s.busy {
            return None;
        }
        let e = s.entry.take()?;
        s.busy = true;
        // The limit is a u32, so the room is too.
        s.room = e.core.out_limit().saturating_sub(e.core.out.len()) as u32;
        Some(e)
    }

    /// Put an entry back after a handler ran, or remove it if it closed.
    fn put_back(&mut self, token: Token, mut entry: BoxEntry) {
        if std::mem::take(&mut entry.core.linger_ready) && entry.core.lingering.is_none() {
            self.start_lingering(&mut entry.core);
        }
        if self.outbox_for == Some(token) {
            self.outbox_for = None;
            let data = std::mem::take(&mut self.outbox);
            if let Err(e) = entry.core.enqueue(&data, self.now, true) {
                log::warn!(target: "asyncore_runtime::map", "channel {token}: output sent to it with Map::send_to while its handler ran was dropped: {e}");
            }
            self.outbox = data;
            self.outbox.clear();
        }
        let s = &mut self.slots[token.index as usize];
        s.busy = false;
        if std::mem::take(&mut s.close_requested) {
            entry.core.closed = true;
        }
        if entry.core.closed || entry.core.poisoned {
            self.remove(token, entry);
        } else {
            let waiting = entry.core.tls_input_waiting();
            s.entry = Some(entry);
            self.note_buffered_input(token, waiting);
        }
    }

    fn remove(&mut self, token: Token, entry: BoxEntry) {
        let s = &mut self.slots[token.index as usize];
        s.entry = None;
        s.busy = false;
        s.pending = Ready::EMPTY;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(token.index);
        if !entry.core.internal {
            self.len -= 1;
            self.removed_since_sweep += 1;
        }
        self.stale += 1;
        if let Some(sel) = self.selector.as_mut() {
            sel.forget(entry.core.sock.as_fd(), entry.core.registered);
        }
        // Dropping the entry closes the socket and drops the dispatcher. A panicking
        // Drop must not take the loop down either.
        if let Err(msg) = guarded(move || drop(entry)) {
            log::error!(target: "asyncore_runtime::map", "a dispatcher panicked while being dropped: {msg}");
        }
    }

    fn compact(&mut self) {
        if self.stale > 0 && self.stale * 2 >= self.order.len() {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|t| self.contains(*t));
            self.order = order;
            let mut ask = std::mem::take(&mut self.ask_every_pass);
            ask.retain(|t| self.contains(*t));
            self.ask_every_pass = ask;
            self.stale = 0;
        }
    }

    // ===== timers, waker, stop =====

    /// Make the running loop return `Ok(())` after the current pass (asyncore had no way
    /// to do this but raising `ExitNow`).
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.stop();
    /// ```
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// A handle other threads use to wake this loop, hand it work, or stop it; see
    /// [`Waker`]. The waker's descriptor is watched by the loop but is not a channel: it
    /// does not count in [`len`](Self::len) and does not keep the loop running.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// let waker = map.waker()?;
    /// std::thread::spawn(move || waker.call(|map| map.stop())).join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn waker(&mut self) -> io::Result<Waker> {
        if let Some(w) = &self.waker {
            return Ok(w.clone());
        }
        let (waker, channel, sock) = WakerChannel::new()?;
        let mut core = self.new_core::<WakerChannel>(sock);
        core.connected = true;
        core.internal = true;
        self.insert(core, channel);
        self.waker = Some(waker.clone());
        Ok(waker)
    }

    /// Stop the loop when one of `signals` arrives (for instance `SIGINT` and `SIGTERM`):
    /// [`run`](Self::run) then returns `Ok(())` and [`signalled`](Self::signalled) tells
    /// which signal it was. The program can then [`close_all`](Self::close_all) and
    /// exit cleanly.
    ///
    /// ```no_run
    /// let mut map = asyncore_runtime::Map::new();
    /// map.stop_on_signals(&[asyncore_runtime::SIGINT, asyncore_runtime::SIGTERM])?;
    /// map.run()?;
    /// if map.signalled().is_some() {
    ///     map.close_all();
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_on_signals(&mut self, signals: &[i32]) -> io::Result<()> {
        let (channel, sock) = crate::signal::SignalChannel::new(signals)?;
        let mut core = self.new_core::<crate::signal::SignalChannel>(sock);
        core.connected = true;
        core.internal = true;
        self.insert(core, channel);
        Ok(())
    }

    /// The signal that stopped the loop, if one did (see
    /// [`stop_on_signals`](Self::stop_on_signals)).
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::Map::new().signalled(), None);
    /// ```
    pub fn signalled(&self) -> Option<i32> {
        self.signalled
    }

    pub(crate) fn set_signalled(&mut self, sig: i32) {
        self.signalled = Some(sig);
        self.stop = true;
    }
}
