//! [`Socket`]: the descriptor a channel owns (a socket, a pipe or a file), with asyncore's
//! socket operations.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::net::{
    self as rnet, AddressFamily, RecvFlags, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

use crate::addr::Addr;

/// The address family of a socket: asyncore's `family` argument to `create_socket`.
///
/// ```
/// use asyncore_runtime::{Domain, Socket, SockType};
/// let s = Socket::new(Domain::Ipv6, SockType::Stream)?;
/// assert_eq!(s.domain(), Some(Domain::Ipv6));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// `AF_INET`.
    Ipv4,
    /// `AF_INET6`.
    Ipv6,
    /// `AF_UNIX`.
    Unix,
}

impl Domain {
    /// The domain that can reach `addr`.
    ///
    /// ```
    /// use asyncore_runtime::{Addr, Domain};
    /// assert_eq!(Domain::for_addr(&Addr::unix("/tmp/s")), Domain::Unix);
    /// ```
    pub fn for_addr(addr: &Addr) -> Domain {
        match addr {
            Addr::Inet(SocketAddr::V4(_)) => Domain::Ipv4,
            Addr::Inet(SocketAddr::V6(_)) => Domain::Ipv6,
            Addr::Unix(_) | Addr::Unnamed => Domain::Unix,
        }
    }

    fn family(self) -> AddressFamily {
        match self {
            Domain::Ipv4 => AddressFamily::INET,
            Domain::Ipv6 => AddressFamily::INET6,
            Domain::Unix => AddressFamily::UNIX,
        }
    }
}

/// The socket type: asyncore's `type` argument to `create_socket`.
///
/// ```
/// use asyncore_runtime::{Domain, Socket, SockType};
/// let s = Socket::new(Domain::Ipv4, SockType::Datagram)?;
/// assert_eq!(s.sock_type(), SockType::Datagram);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `SOCK_STREAM`: TCP or a Unix stream socket.
    Stream,
    /// `SOCK_DGRAM`: UDP or a Unix datagram socket.
    Datagram,
    /// Not a socket: a pipe, a terminal or a regular file (asyncore's `file_dispatcher`).
    File,
}

/// What [`Socket::connect`] reports.
///
/// ```
/// use asyncore_runtime::{Addr, Connect, Domain, Socket, SockType};
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
/// let status = s.connect(&Addr::from(listener.local_addr()?))?;
/// assert!(matches!(status, Connect::InProgress | Connect::Done));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connect {
    /// The connection is established already (common for Unix sockets).
    Done,
    /// The connection is under way; a read or write event reports its outcome.
    InProgress,
}

/// A non-blocking, close-on-exec descriptor owned by a channel.
///
/// Every constructor leaves the descriptor non-blocking and close-on-exec, as asyncore's
/// `create_socket` does. Dropping the `Socket` closes it.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Addr, Domain, Socket, SockType};
/// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
/// s.set_reuse_addr()?;
/// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
/// s.listen(16)?;
/// assert_ne!(s.local_addr()?.as_inet().unwrap().port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    ty: SockType,
    domain: Option<Domain>,
    /// What this socket's own calls showed since the loop last looked ([`Seen`]): the
    /// epoll backend registers edge-triggered and keeps asyncore's level-triggered
    /// behaviour by dispatching again what was not seen drained.
    seen: AtomicU8,
}

/// What a socket's calls can show about its readiness, for [`Socket::take_seen`].
pub(crate) struct Seen;

impl Seen {
    /// A read found nothing more to read (`EAGAIN`, or a short read on a stream).
    pub(crate) const READ_EMPTY: u8 = 1;
    /// A write found the send buffer full (`EAGAIN`, or a partial write).
    pub(crate) const WRITE_FULL: u8 = 2;
    /// Urgent data was read (or there was none).
    pub(crate) const URGENT_READ: u8 = 4;
    /// A read found the end of the stream.
    pub(crate) const END: u8 = 8;
}

fn errno(e: Errno) -> io::Error {
    e.into()
}

impl Socket {
    /// A new non-blocking, close-on-exec socket (asyncore's `create_socket`).
    ///
    /// ```
    /// use asyncore_runtime::{Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Unix, SockType::Stream)?;
    /// assert_eq!(s.sock_type(), SockType::Stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(domain: Domain, ty: SockType) -> io::Result<Socket> {
        let st = match ty {
            SockType::Stream => SocketType::STREAM,
            SockType::Datagram => SocketType::DGRAM,
            SockType::File => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "SockType::File is not a socket type; use Socket::from_file",
                ))
            }
        };
        let fd = rnet::socket_with(
            domain.family(),
            st,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(errno)?;
        Ok(Socket {
            fd,
            ty,
            domain: Some(domain),
            seen: AtomicU8::new(0),
        })
    }

    /// Take ownership of a socket descriptor, making it non-blocking. Its type and domain
    /// are read from the kernel.
    ///
    /// ```
    /// use asyncore_runtime::{Socket, SockType};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let s = Socket::from_socket_fd(a.into())?;
    /// assert_eq!(s.sock_type(), SockType::Stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_socket_fd(fd: OwnedFd) -> io::Result<Socket> {
        set_nonblocking(fd.as_fd())?;
        let st = rnet::sockopt::socket_type(&fd).map_err(errno)?;
        let ty = if st == SocketType::DGRAM {
            SockType::Datagram
        } else {
            SockType::Stream
        };
        let domain = rnet::getsockname(&fd)
            .ok()
            .and_then(|a| match a.address_family() {
                AddressFamily::INET => Some(Domain::Ipv4),
                AddressFamily::INET6 => Some(Domain::Ipv6),
                AddressFamily::UNIX => Some(Domain::Unix),
                _ => None,
            });
        Ok(Socket {
            fd,
            ty,
            domain,
            seen: AtomicU8::new(0),
        })
    }

    /// Wrap a pipe, terminal or file (asyncore's `file_dispatcher`): the descriptor is
    /// **duplicated**, so the caller keeps its own, and the duplicate is made non-blocking.
    ///
    /// As in asyncore, `O_NONBLOCK` lives on the open file description, which the duplicate
    /// shares with the original: the caller's descriptor becomes non-blocking too.
    ///
    /// ```
    /// use asyncore_runtime::{Socket, SockType};
    /// use std::os::fd::AsRawFd;
    /// let (r, _w) = std::io::pipe()?;
    /// let s = Socket::from_file(&r)?;
    /// assert_eq!(s.sock_type(), SockType::File);
    /// assert_ne!(s.as_raw_fd(), r.as_raw_fd());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_file(fd: impl AsFd) -> io::Result<Socket> {
        let dup = rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 0).map_err(errno)?;
        set_nonblocking(dup.as_fd())?;
        Ok(Socket {
            fd: dup,
            ty: SockType::File,
            domain: None,
            seen: AtomicU8::new(0),
        })
    }

    pub(crate) fn from_owned_file(fd: OwnedFd) -> Socket {
        Socket {
            fd,
            ty: SockType::File,
            domain: None,
            seen: AtomicU8::new(0),
        }
    }

    /// A second descriptor for the same socket (`dup`, close-on-exec): both name one
    /// open socket, which closes when the last of them is closed. Several loops can watch
    /// one listening socket this way (see [`Spread`](crate::Spread)).
    ///
    /// ```
    /// use asyncore_runtime::{Domain, Socket, SockType};
    /// use std::os::fd::AsRawFd;
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// let t = s.try_clone()?;
    /// assert_ne!(s.as_raw_fd(), t.as_raw_fd());
    /// assert_eq!((t.sock_type(), t.domain()), (SockType::Stream, Some(Domain::Ipv4)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<Socket> {
        let fd = rustix::io::fcntl_dupfd_cloexec(self.fd.as_fd(), 0).map_err(errno)?;
        Ok(Socket {
            fd,
            ty: self.ty,
            domain: self.domain,
            seen: AtomicU8::new(0),
        })
    }

    /// The socket type.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert_eq!(Socket::new(Domain::Ipv4, SockType::Stream)?.sock_type(), SockType::Stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sock_type(&self) -> SockType {
        self.ty
    }

    /// The address family, `None` for files.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert_eq!(Socket::new(Domain::Unix, SockType::Stream)?.domain(), Some(Domain::Unix));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn domain(&self) -> Option<Domain> {
        self.domain
    }

    /// Set `SO_REUSEADDR` (asyncore's `set_reuse_addr`). Unlike asyncore, a failure is
    /// reported.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.set_reuse_addr()?;
    /// assert!(s.reuse_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuse_addr(&self) -> io::Result<()> {
        rnet::sockopt::set_socket_reuseaddr(&self.fd, true).map_err(errno)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert!(!Socket::new(Domain::Ipv4, SockType::Stream)?.reuse_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuse_addr(&self) -> io::Result<bool> {
        rnet::sockopt::socket_reuseaddr(&self.fd).map_err(errno)
    }

    /// Set `SO_REUSEPORT`, so several loops (threads) can each listen on the same port,
    /// the kernel choosing a listener for each connection by a hash of its addresses
    /// ([`SpreadGroup`](crate::SpreadGroup) deals them out evenly instead).
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// Socket::new(Domain::Ipv4, SockType::Stream)?.set_reuse_port()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuse_port(&self) -> io::Result<()> {
        rnet::sockopt::set_socket_reuseport(&self.fd, true).map_err(errno)
    }

    /// Turn `TCP_NODELAY` on or off. Stream sockets the runtime creates or accepts have it
    /// on, so a pipelining peer never waits for Nagle's algorithm and delayed ACKs.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        rnet::sockopt::set_tcp_nodelay(&self.fd, on).map_err(errno)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert!(!Socket::new(Domain::Ipv4, SockType::Stream)?.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        rnet::sockopt::tcp_nodelay(&self.fd).map_err(errno)
    }

    pub(crate) fn is_tcp(&self) -> bool {
        self.ty == SockType::Stream && matches!(self.domain, Some(Domain::Ipv4 | Domain::Ipv6))
    }

    /// Set `SO_LINGER`: `Some(Duration::ZERO)` makes a close send a reset.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.set_linger(Some(std::time::Duration::ZERO))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        rnet::sockopt::set_socket_linger(&self.fd, linger).map_err(errno)
    }

    /// Bind to `addr` (asyncore's `bind`). For a Unix path, an existing file is an error:
    /// remove a stale socket file first.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Datagram)?;
    /// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: &Addr) -> io::Result<()> {
        match addr {
            Addr::Inet(sa) => rnet::bind(&self.fd, sa).map_err(errno),
            Addr::Unix(p) => {
                let un = SocketAddrUnix::new(p.as_path()).map_err(errno)?;
                rnet::bind(&self.fd, &un).map_err(errno)
            }
            Addr::Unnamed => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot bind to an unnamed address",
            )),
        }
    }

    /// Start listening (asyncore's `listen`).
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// s.listen(5)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen(&self, backlog: i32) -> io::Result<()> {
        rnet::listen(&self.fd, backlog).map_err(errno)
    }

    /// Start a non-blocking connect. `EINPROGRESS`, `EALREADY` and `EAGAIN` give
    /// [`Connect::InProgress`]; success or `EISCONN` give [`Connect::Done`]; anything else
    /// is an error. `EINTR` means the connect goes on in the background, so it is
    /// reported as in progress.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Connect, Domain, Socket, SockType};
    /// let dir = std::env::temp_dir().join(format!("asyncore-doc-{}", std::process::id()));
    /// let l = std::os::unix::net::UnixListener::bind(&dir)?;
    /// let s = Socket::new(Domain::Unix, SockType::Stream)?;
    /// assert_eq!(s.connect(&Addr::unix(&dir))?, Connect::Done);
    /// # drop(l); std::fs::remove_file(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, addr: &Addr) -> io::Result<Connect> {
        let r = match addr {
            Addr::Inet(sa) => rnet::connect(&self.fd, sa),
            Addr::Unix(p) => {
                let un = SocketAddrUnix::new(p.as_path()).map_err(errno)?;
                rnet::connect(&self.fd, &un)
            }
            Addr::Unnamed => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot connect to an unnamed address",
                ))
            }
        };
        match r {
            Ok(()) => Ok(Connect::Done),
            Err(Errno::ISCONN) => Ok(Connect::Done),
            Err(Errno::INPROGRESS | Errno::ALREADY | Errno::AGAIN | Errno::INTR) => {
                Ok(Connect::InProgress)
            }
            Err(e) => Err(errno(e)),
        }
    }

    /// Accept one connection: `Ok(None)` when none is waiting (`EAGAIN`) or it was
    /// aborted before it could be accepted (`ECONNABORTED`), as asyncore's `accept`
    /// returns `None`. `EINTR` is retried. The new socket is non-blocking and
    /// close-on-exec.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// s.listen(5)?;
    /// assert!(s.accept()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<Option<(Socket, Addr)>> {
        loop {
            match rnet::acceptfrom_with(&self.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok((fd, addr)) => {
                    let addr = addr.map(|a| Addr::from_any(&a)).unwrap_or(Addr::Unnamed);
                    let sock = Socket {
                        fd,
                        ty: SockType::Stream,
                        domain: self.domain,
                        seen: AtomicU8::new(0),
                    };
                    return Ok(Some((sock, addr)));
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    self.see(Seen::READ_EMPTY);
                    return Ok(None);
                }
                Err(Errno::CONNABORTED) => return Ok(None),
                Err(e) => return Err(errno(e)),
            }
        }
    }

    /// Send bytes. Returns the count sent; `WouldBlock` is an error of that kind (the
    /// channel-level [`Channel::send`](crate::Channel::send) turns it into 0). Sends never
    /// raise `SIGPIPE` (`MSG_NOSIGNAL`); `EINTR` is retried.
    ///
    /// ```
    /// # use asyncore_runtime::Socket;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let (a, b) = (Socket::from_socket_fd(a.into())?, Socket::from_socket_fd(b.into())?);
    /// assert_eq!(a.send(b"hi")?, 2);
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_flags(buf, SendFlags::empty())
    }

    /// Send urgent (out-of-band) data (`MSG_OOB`).
    ///
    /// ```
    /// # use asyncore_runtime::Socket;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let c = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let s = Socket::from_socket_fd(c.into())?;
    /// assert_eq!(s.send_oob(b"!")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_oob(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_flags(buf, SendFlags::OOB)
    }

    /// Sends with `MSG_MORE`: more data follows at once (a file after its header), so
    /// the kernel may hold a short segment back to send it with what comes next.
    pub(crate) fn send_more(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_flags(buf, SendFlags::MORE)
    }

    fn send_flags(&self, buf: &[u8], flags: SendFlags) -> io::Result<usize> {
        loop {
            let r = if self.ty == SockType::File {
                rustix::io::write(&self.fd, buf)
            } else {
                rnet::send(&self.fd, buf, flags | SendFlags::NOSIGNAL)
            };
            match r {
                Ok(n) => {
                    if n < buf.len() {
                        self.see(Seen::WRITE_FULL);
                    }
                    return Ok(n);
                }
                Err(Errno::INTR) => continue,
                Err(e) => {
                    if e == Errno::AGAIN {
                        self.see(Seen::WRITE_FULL);
                    }
                    return Err(errno(e));
                }
            }
        }
    }

    /// Receive bytes. `Ok(0)` is end of file (or an empty datagram on a datagram socket);
    /// `WouldBlock` is an error of that kind. `EINTR` is retried.
    ///
    /// ```
    /// # use asyncore_runtime::Socket;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let b = Socket::from_socket_fd(b.into())?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// drop(a);
    /// assert_eq!(b.recv(&mut buf)?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_flags(buf, RecvFlags::empty())
    }

    /// Receive urgent (out-of-band) data (`MSG_OOB`).
    ///
    /// ```
    /// # use asyncore_runtime::Socket;
    /// let (_a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let b = Socket::from_socket_fd(b.into())?;
    /// assert!(b.recv_oob(&mut [0u8; 1]).is_err()); // Unix sockets have no urgent data
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_oob(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_flags(buf, RecvFlags::OOB)
    }

    fn recv_flags(&self, buf: &mut [u8], flags: RecvFlags) -> io::Result<usize> {
        loop {
            let r = if self.ty == SockType::File {
                rustix::io::read(&self.fd, &mut *buf)
            } else {
                rnet::recv(&self.fd, &mut *buf, flags).map(|(n, _)| n)
            };
            let urgent = flags.contains(RecvFlags::OOB);
            match r {
                Ok(n) => {
                    if urgent {
                        self.see(Seen::URGENT_READ);
                    } else if self.ty != SockType::Datagram && n < buf.len() {
                        // A stream gives what it has: a short read emptied it (of data:
                        // the peer's close may still be there to read).
                        self.see(if n == 0 { Seen::END } else { Seen::READ_EMPTY });
                    }
                    return Ok(n);
                }
                Err(Errno::INTR) => continue,
                Err(e) => {
                    if urgent {
                        self.see(Seen::URGENT_READ);
                    } else if e == Errno::AGAIN {
                        self.see(Seen::READ_EMPTY);
                    }
                    return Err(errno(e));
                }
            }
        }
    }

    /// Receive one datagram and its sender. `EINTR` is retried.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    /// let a = Socket::new(Domain::Ipv4, SockType::Datagram)?;
    /// a.bind(&Addr::from(any))?;
    /// let b = Socket::new(Domain::Ipv4, SockType::Datagram)?;
    /// b.bind(&Addr::from(any))?;
    /// b.send_to(b"ping", &a.local_addr()?)?;
    /// # std::thread::sleep(std::time::Duration::from_millis(10));
    /// let mut buf = [0u8; 16];
    /// let (n, from) = a.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from), (&b"ping"[..], b.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        loop {
            match rnet::recvfrom(&self.fd, &mut *buf, RecvFlags::empty()) {
                Ok((n, _, addr)) => {
                    let addr = addr.map(|a| Addr::from_any(&a)).unwrap_or(Addr::Unnamed);
                    return Ok((n, addr));
                }
                Err(Errno::INTR) => continue,
                Err(e) => {
                    if e == Errno::AGAIN {
                        self.see(Seen::READ_EMPTY);
                    }
                    return Err(errno(e));
                }
            }
        }
    }

    /// Send one datagram to `addr`. `EINTR` is retried.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Datagram)?;
    /// let to: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// assert_eq!(s.send_to(b"x", &Addr::from(to))?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: &Addr) -> io::Result<usize> {
        loop {
            let r = match addr {
                Addr::Inet(sa) => rnet::sendto(&self.fd, buf, SendFlags::NOSIGNAL, sa),
                Addr::Unix(p) => {
                    let un = SocketAddrUnix::new(p.as_path()).map_err(errno)?;
                    rnet::sendto(&self.fd, buf, SendFlags::NOSIGNAL, &un)
                }
                Addr::Unnamed => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "cannot send to an unnamed address",
                    ))
                }
            };
            match r {
                Ok(n) => return Ok(n),
                Err(Errno::INTR) => continue,
                Err(e) => {
                    if e == Errno::AGAIN {
                        self.see(Seen::WRITE_FULL);
                    }
                    return Err(errno(e));
                }
            }
        }
    }

    /// Notes what a call showed (see [`Seen`]). A plain load and store: a socket is
    /// used by one loop, and a lost note only costs one more dispatch.
    fn see(&self, what: u8) {
        let now = self.seen.load(Ordering::Relaxed);
        if now & what != what {
            self.seen.store(now | what, Ordering::Relaxed);
        }
    }

    /// What the socket's calls showed since the last call of this (see [`Seen`]).
    pub(crate) fn take_seen(&self) -> u8 {
        let now = self.seen.load(Ordering::Relaxed);
        if now != 0 {
            self.seen.store(0, Ordering::Relaxed);
        }
        now
    }

    /// The address this socket is bound to (the real one: after binding port 0 it shows
    /// the port the kernel chose, unlike asyncore's `addr`).
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// assert_ne!(s.local_addr()?.as_inet().unwrap().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<Addr> {
        if self.ty == SockType::File {
            return Ok(Addr::Unnamed);
        }
        rnet::getsockname(&self.fd)
            .map(|a| Addr::from_any(&a))
            .map_err(errno)
    }

    /// The peer's address; `ENOTCONN` when not connected.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// assert!(s.peer_addr().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<Addr> {
        match rnet::getpeername(&self.fd) {
            Ok(Some(a)) => Ok(Addr::from_any(&a)),
            Ok(None) => Ok(Addr::Unnamed),
            Err(e) => Err(errno(e)),
        }
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it. Files report none,
    /// as asyncore's `file_wrapper.getsockopt` does.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert!(Socket::new(Domain::Ipv4, SockType::Stream)?.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        if self.ty == SockType::File {
            return Ok(None);
        }
        match rnet::sockopt::socket_error(&self.fd).map_err(errno)? {
            Ok(()) => Ok(None),
            Err(e) => Ok(Some(errno(e))),
        }
    }

    /// Shut down one or both directions of a stream socket (the half-close asyncore
    /// lacked).
    ///
    /// ```
    /// # use asyncore_runtime::Socket;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = Socket::from_socket_fd(a.into())?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// let b = Socket::from_socket_fd(b.into())?;
    /// assert_eq!(b.recv(&mut [0u8; 4])?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => rnet::Shutdown::Read,
            std::net::Shutdown::Write => rnet::Shutdown::Write,
            std::net::Shutdown::Both => rnet::Shutdown::Both,
        };
        rnet::shutdown(&self.fd, how).map_err(errno)
    }

    /// Whether the descriptor is close-on-exec (always true for the runtime's sockets).
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert!(Socket::new(Domain::Ipv4, SockType::Stream)?.is_cloexec()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cloexec(&self) -> io::Result<bool> {
        let f = rustix::io::fcntl_getfd(&self.fd).map_err(errno)?;
        Ok(f.contains(rustix::io::FdFlags::CLOEXEC))
    }

    /// Whether the descriptor is non-blocking (always true for the runtime's sockets).
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// assert!(Socket::new(Domain::Ipv4, SockType::Stream)?.is_nonblocking()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_nonblocking(&self) -> io::Result<bool> {
        let f = rustix::fs::fcntl_getfl(&self.fd).map_err(errno)?;
        Ok(f.contains(OFlags::NONBLOCK))
    }

    /// Give up ownership of the descriptor.
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Socket, SockType};
    /// let fd: std::os::fd::OwnedFd = Socket::new(Domain::Ipv4, SockType::Stream)?.into_fd();
    /// drop(fd);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd).map_err(errno)?;
    if !flags.contains(OFlags::NONBLOCK) {
        rustix::fs::fcntl_setfl(fd, flags | OFlags::NONBLOCK).map_err(errno)?;
    }
    Ok(())
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

macro_rules! from_std {
    ($($t:ty),*) => {$(
        impl From<$t> for Socket {
            /// Take ownership of a standard-library socket, making it non-blocking.
            ///
            /// # Panics
            ///
            /// Never: a socket that cannot be switched to non-blocking mode (which Linux
            /// does not do for a valid socket) is kept as it is.
            fn from(s: $t) -> Socket {
                let fd: OwnedFd = s.into();
                let _ = set_nonblocking(fd.as_fd());
                let ty = match rnet::sockopt::socket_type(&fd) {
                    Ok(t) if t == SocketType::DGRAM => SockType::Datagram,
                    _ => SockType::Stream,
                };
                let domain = rnet::getsockname(&fd).ok().and_then(|a| match a.address_family() {
                    AddressFamily::INET => Some(Domain::Ipv4),
                    AddressFamily::INET6 => Some(Domain::Ipv6),
                    AddressFamily::UNIX => Some(Domain::Unix),
                    _ => None,
                });
                Socket { fd, ty, domain, seen: AtomicU8::new(0) }
            }
        }
    )*};
}

from_std!(
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram
);
