//! [`Spread`]: one listening socket, watched by several loops, whose connections are
//! dealt out to the loops in turn.
//!
//! A server with one loop per core can let the kernel choose a loop for each
//! connection, with a listening socket per loop and `SO_REUSEPORT`. The kernel chooses
//! by a hash of the connection's addresses and ports, so the split is as uneven as a
//! toss of coins: 32 connections over two loops land 16/16 only one time in seven, and
//! 20/12 or worse one time in three. The busier loop then bounds the server. memcached
//! deals its connections out in turn from one listening thread; a [`SpreadGroup`] does
//! the same without the extra thread: whichever loop accepts a connection, the group's
//! counter names the loop that gets it, and a loop that is not the one accepting gets
//! it through its [`Waker`].

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::addr::Addr;
use crate::channel::Channel;
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::map::Map;
use crate::socket::Socket;
use crate::timer::TimerId;
use crate::token::Token;
use crate::waker::Waker;

/// A loop of the group: how to reach it, and its listening channel there.
#[derive(Clone)]
struct Member {
    waker: Waker,
    token: Token,
}

struct Shared {
    /// The number of connections dealt so far: the next goes to `next % members`.
    next: AtomicUsize,
    members: RwLock<Vec<Member>>,
}

/// The loops that share one listening socket, each connection it accepts going to the
/// next loop in turn: `k` loops get `n / k` connections each, give or take one,
/// whichever of them accepts.
///
/// Make one group, then [`join`](Self::join) each loop to it with its own descriptor of
/// the listening socket ([`Socket::try_clone`]) and its own listening dispatcher. Every
/// loop watches the socket; the one that accepts a connection keeps it, or hands it to
/// the loop whose turn it is. The dispatcher of that loop then sees it in
/// [`handle_accepted`](Dispatcher::handle_accepted), on its own thread, exactly as if it
/// had accepted the connection itself. A handed connection costs one wake-up of the
/// loop that gets it; connections already open cost nothing.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Addr, Backend, Channel, Dispatcher, Domain, Map, Result, Socket,
///                        SockType, SpreadGroup};
/// use std::sync::mpsc;
///
/// /// Sends the name of its loop to each connection, then closes it.
/// struct Hello(&'static str);
/// struct Greeting(&'static str);
/// impl Dispatcher for Greeting {
///     fn writable(&mut self, _ch: &Channel<'_>) -> bool { true }
///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
///         ch.send_buffered(self.0.as_bytes())?;
///         ch.close_when_done();
///         Ok(())
///     }
/// }
/// impl Dispatcher for Hello {
///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
///         ch.add_accepted(sock, addr, Greeting(self.0))?;
///         Ok(())
///     }
/// }
///
/// let listener = Socket::new(Domain::Ipv4, SockType::Stream)?;
/// listener.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
/// listener.listen(16)?;
/// let addr = listener.local_addr()?.as_inet().unwrap();
/// let group = SpreadGroup::new();
/// let (ready, started) = mpsc::channel();
/// for name in ["one", "two"] {
///     let (group, sock, ready) = (group.clone(), listener.try_clone()?, ready.clone());
///     std::thread::spawn(move || -> std::io::Result<()> {
///         let mut map = Map::new();
///         group.join(&mut map, sock, Hello(name))?;
///         ready.send(map.waker()?).unwrap();
///         map.run_with(None, Backend::Epoll, None).map_err(std::io::Error::other)
///     });
/// }
/// let wakers: Vec<_> = (0..2).map(|_| started.recv().unwrap()).collect();
/// let mut names = Vec::new();
/// for _ in 0..4 {
///     let mut reply = String::new();
///     std::io::Read::read_to_string(&mut std::net::TcpStream::connect(addr)?, &mut reply)?;
///     names.push(reply);
/// }
/// names.sort();
/// assert_eq!(names, ["one", "one", "two", "two"]);
/// for w in wakers { w.stop()?; }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SpreadGroup {
    shared: Arc<Shared>,
}

impl fmt::Debug for SpreadGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpreadGroup")
            .field("loops", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for SpreadGroup {
    fn default() -> Self {
        SpreadGroup::new()
    }
}

impl SpreadGroup {
    /// A group with no loops yet.
    ///
    /// ```
    /// assert!(asyncore_runtime::SpreadGroup::new().is_empty());
    /// ```
    pub fn new() -> SpreadGroup {
        SpreadGroup {
            shared: Arc::new(Shared {
                next: AtomicUsize::new(0),
                members: RwLock::new(Vec::new()),
            }),
        }
    }

    /// Adds the listening socket `sock` to `map`, with `listener` as its dispatcher
    /// (wrapped in a [`Spread`]), and makes `map`'s loop one of the group's. Returns the
    /// listening channel's token. `sock` is this loop's own descriptor of the socket the
    /// group shares: the first loop's, or a [`Socket::try_clone`] of it.
    ///
    /// A connection accepted before every loop has joined is dealt among the loops
    /// joined so far.
    ///
    /// ```
    /// use asyncore_runtime::{Addr, Dispatcher, Domain, Map, Socket, SockType, SpreadGroup};
    /// struct Server;
    /// impl Dispatcher for Server {}
    /// let sock = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// sock.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// sock.listen(16)?;
    /// let (group, mut map) = (SpreadGroup::new(), Map::new());
    /// let token = group.join(&mut map, sock, Server)?;
    /// assert_eq!(map.with_channel(token, |ch| ch.accepting()), Some(true));
    /// assert_eq!(group.len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join<D: Dispatcher>(
        &self,
        map: &mut Map,
        sock: Socket,
        listener: D,
    ) -> io::Result<Token> {
        let waker = map.waker()?;
        let mut members = write(&self.shared.members);
        let index = members.len();
        let token = map.add_listener(
            sock,
            Spread {
                inner: listener,
                group: self.shared.clone(),
                index,
            },
        )?;
        members.push(Member { waker, token });
        Ok(token)
    }

    /// The number of loops joined.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::SpreadGroup::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        read(&self.shared.members).len()
    }

    /// Whether no loop has joined.
    ///
    /// ```
    /// assert!(asyncore_runtime::SpreadGroup::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// The listening dispatcher of one loop of a [`SpreadGroup`]: `D`, with the connections
/// it accepts dealt out among the group's loops. Made by [`SpreadGroup::join`].
///
/// Every handler but the accepting ones is `D`'s own. Accepting is the default
/// [`handle_accept`](Dispatcher::handle_accept) (up to [`ACCEPT_BUDGET`](crate::ACCEPT_BUDGET)
/// connections per event), and each connection reaches `D::handle_accepted` in the loop
/// whose turn it is.
pub struct Spread<D> {
    inner: D,
    group: Arc<Shared>,
    index: usize,
}

impl<D> fmt::Debug for Spread<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spread")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<D> Spread<D> {
    /// The listening dispatcher of this loop.
    ///
    /// ```
    /// use asyncore_runtime::{Addr, Dispatcher, Domain, Map, Socket, SockType, Spread, SpreadGroup};
    /// struct Server(u32);
    /// impl Dispatcher for Server {}
    /// let sock = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// sock.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// sock.listen(16)?;
    /// let mut map = Map::new();
    /// let token = SpreadGroup::new().join(&mut map, sock, Server(7))?;
    /// assert_eq!(map.get::<Spread<Server>>(token).unwrap().inner().0, 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The listening dispatcher of this loop, to change.
    ///
    /// ```
    /// use asyncore_runtime::{Addr, Dispatcher, Domain, Map, Socket, SockType, Spread, SpreadGroup};
    /// struct Server(u32);
    /// impl Dispatcher for Server {}
    /// let sock = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// sock.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// sock.listen(16)?;
    /// let mut map = Map::new();
    /// let token = SpreadGroup::new().join(&mut map, sock, Server(7))?;
    /// map.get_mut::<Spread<Server>>(token).unwrap().inner_mut().0 += 1;
    /// assert_eq!(map.get::<Spread<Server>>(token).unwrap().inner().0, 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }
}

impl<D: Dispatcher> Spread<D> {
    /// The loop whose turn it is: `None` for this one.
    fn turn(&self) -> Option<Member> {
        let members = read(&self.group.members);
        if members.len() < 2 {
            return None;
        }
        let i = self.group.next.fetch_add(1, Ordering::Relaxed) % members.len();
        (i != self.index).then(|| members[i].clone())
    }
}

impl<D: Dispatcher> Dispatcher for Spread<D> {
    fn readable(&mut self, ch: &Channel<'_>) -> bool {
        self.inner.readable(ch)
    }

    fn writable(&mut self, ch: &Channel<'_>) -> bool {
        self.inner.writable(ch)
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_read(ch)
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_write(ch)
    }

    fn handle_expt(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_expt(ch)
    }

    fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_connect(ch)
    }

    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let Some(Member { waker, token }) = self.turn() else {
            return self.inner.handle_accepted(ch, sock, addr);
        };
        let handed = waker.call(move |map| {
            let peer = addr.to_string();
            let taken = map.with::<Spread<D>, _>(token, |spread, ch| {
                spread.inner.handle_accepted(ch, sock, addr)
            });
            match taken {
                Some(Ok(())) => {}
                Some(Err(e)) => log::warn!(
                    target: "asyncore_runtime::spread",
                    "connection from {peer} dropped: its loop could not take it: {e}"
                ),
                None => log::warn!(
                    target: "asyncore_runtime::spread",
                    "connection from {peer} dropped: its loop no longer listens"
                ),
            }
        });
        if let Err(e) = handed {
            log::warn!(
                target: "asyncore_runtime::spread",
                "{ch}: could not wake the loop whose turn it was ({e}): a connection waits \
                 for that loop's next pass"
            );
        }
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        self.inner.handle_close(ch, reason)
    }

    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        self.inner.handle_error(ch, err)
    }

    fn handle_timer(&mut self, ch: &mut Channel<'_>, id: TimerId) -> Result {
        self.inner.handle_timer(ch, id)
    }

    fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_idle(ch)
    }

    fn log(&self, message: &str) {
        self.inner.log(message)
    }

    fn log_info(&self, message: &str, kind: &str) {
        self.inner.log_info(message, kind)
    }

    fn interest_from_own_state(&self) -> bool {
        self.inner.interest_from_own_state()
    }

    fn release_memory(&mut self) -> usize {
        self.inner.release_memory()
    }
}
