//! Adding channels to a [`Map`]: sockets made elsewhere, accepted connections, files,
//! listeners and outgoing connections.

use super::*;

impl Map {
    pub(super) fn insert(&mut self, mut core: Core, handler: impl Dispatcher) -> Token {
        let (index, generation) = match self.free.pop() {
            Some(i) => (i, self.slots[i as usize].generation),
            None => {
                self.slots.push(Slot::default());
                ((self.slots.len() - 1) as u32, 0)
            }
        };
        let token = Token::new(index, generation);
        core.token = token;
        core.set_output_limits(self.high_water, self.out_limit);
        if !core.internal {
            self.len += 1;
        }
        let own_interest = handler.interest_from_own_state();
        let entry: BoxEntry = Box::new(Entry { core, handler });
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        slot.own_interest = own_interest;
        slot.dirty = true;
        slot.pending = Ready::EMPTY;
        self.order.push(token);
        self.arm_release();
        if own_interest {
            self.dirty_list.push(token);
        } else {
            self.ask_every_pass.push(token);
        }
        token
    }

    pub(super) fn new_core<D: Dispatcher>(&self, sock: Socket) -> Core {
        Core::new(
            Token::new(0, 0),
            std::any::type_name::<D>,
            sock,
            Instant::now(),
        )
    }

    /// Add a channel around an existing socket (asyncore's `dispatcher(sock, map)`). The
    /// channel is connected if the socket has a peer, idle otherwise (a socket whose
    /// connection was already reset is kept, idle, as asyncore keeps it). Datagram
    /// sockets count as connected: they need no handshake.
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
    pub fn add<D: Dispatcher>(&mut self, sock: Socket, dispatcher: D) -> io::Result<Token> {
        let mut core = self.new_core::<D>(sock);
        if core.sock.sock_type() == SockType::Datagram {
            core.connected = true;
            core.addr = core.sock.local_addr().ok();
        } else {
            match core.sock.peer_addr() {
                Ok(a) => {
                    core.connected = true;
                    core.addr = Some(a);
                }
                Err(e)
                    if matches!(
                        e.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
                        Some(rustix::io::Errno::NOTCONN | rustix::io::Errno::INVAL)
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.insert(core, dispatcher))
    }

    /// Add a channel for an accepted connection, connected, with `addr` as its peer
    /// (no system call). See [`Channel::add_accepted`].
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Dispatcher, Map, Socket};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add_accepted(Socket::from(a), Addr::Unnamed, D)?;
    /// assert!(map.contains(t));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_accepted<D: Dispatcher>(
        &mut self,
        sock: Socket,
        addr: Addr,
        dispatcher: D,
    ) -> io::Result<Token> {
        let mut core = self.new_core::<D>(sock);
        core.connected = true;
        core.addr = Some(addr);
        Ok(self.insert(core, dispatcher))
    }

    /// Add a channel on a duplicate of a pipe, terminal or file descriptor (asyncore's
    /// `file_dispatcher`); see [`Socket::from_file`]. It starts connected.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let (r, _w) = std::io::pipe()?;
    /// let mut map = Map::new();
    /// let t = map.add_file(&r, D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.connected()), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_file<D: Dispatcher>(&mut self, fd: impl AsFd, dispatcher: D) -> io::Result<Token> {
        let sock = Socket::from_file(fd)?;
        let mut core = self.new_core::<D>(sock);
        core.connected = true;
        Ok(self.insert(core, dispatcher))
    }

    /// Create a socket and add its channel, idle (asyncore's `create_socket`); then bind,
    /// listen or connect it through [`with_channel`](Self::with_channel).
    ///
    /// ```
    /// # use asyncore_runtime::{Domain, Dispatcher, Map, SockType};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.create_socket(Domain::Ipv6, SockType::Stream, D)?;
    /// assert_eq!(map.with_channel(t, |ch| (ch.connected(), ch.accepting())), Some((false, false)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_socket<D: Dispatcher>(
        &mut self,
        domain: Domain,
        ty: SockType,
        dispatcher: D,
    ) -> io::Result<Token> {
        let sock = Socket::new(domain, ty)?;
        let mut core = self.new_core::<D>(sock);
        if ty == SockType::Datagram {
            core.connected = true;
        }
        Ok(self.insert(core, dispatcher))
    }

    /// Create a listening channel on `addr`: a stream socket with `SO_REUSEADDR` (a stale
    /// Unix socket file is not removed: remove it first), bound, listening with a backlog
    /// of 1024.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.listen(&"[::1]:0".parse::<std::net::SocketAddr>().unwrap().into(), D)?;
    /// assert!(map.local_addr(t).unwrap().as_inet().unwrap().is_ipv6());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen<D: Dispatcher>(&mut self, addr: &Addr, dispatcher: D) -> io::Result<Token> {
        let sock = Socket::new(Domain::for_addr(addr), SockType::Stream)?;
        if !matches!(addr, Addr::Unix(_)) {
            sock.set_reuse_addr()?;
        }
        sock.bind(addr)?;
        sock.listen(1024)?;
        let mut core = self.new_core::<D>(sock);
        core.accepting = true;
        core.addr = core.sock.local_addr().ok();
        Ok(self.insert(core, dispatcher))
    }

    /// Add a channel around a socket that is already listening (for instance one bound
    /// with [`Socket::set_reuse_port`] so that several loops share a port). The channel
    /// is `accepting`.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Dispatcher, Domain, Map, Socket, SockType};
    /// # struct D; impl Dispatcher for D {}
    /// let s = Socket::new(Domain::Ipv4, SockType::Stream)?;
    /// s.set_reuse_port()?;
    /// s.bind(&Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()))?;
    /// s.listen(128)?;
    /// let mut map = Map::new();
    /// let t = map.add_listener(s, D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.accepting()), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_listener<D: Dispatcher>(
        &mut self,
        sock: Socket,
        dispatcher: D,
    ) -> io::Result<Token> {
        let mut core = self.new_core::<D>(sock);
        core.accepting = true;
        core.addr = Some(core.sock.local_addr()?);
        Ok(self.insert(core, dispatcher))
    }

    /// Create a stream channel and start connecting it to `addr`; see
    /// [`Channel::connect`].
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut map = Map::new();
    /// let t = map.connect(&l.local_addr()?.into(), D)?;
    /// assert!(map.contains(t));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<D: Dispatcher>(&mut self, addr: &Addr, dispatcher: D) -> io::Result<Token> {
        let sock = Socket::new(Domain::for_addr(addr), SockType::Stream)?;
        sock.connect(addr)?;
        if self.nodelay_default && sock.is_tcp() {
            let _ = sock.set_nodelay(true);
        }
        let mut core = self.new_core::<D>(sock);
        core.connecting = true;
        core.addr = Some(addr.clone());
        Ok(self.insert(core, dispatcher))
    }

    /// The address a channel's socket is bound to.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let t = map.listen(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into(), D)?;
    /// println!("listening on {}", map.local_addr(t).unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self, token: Token) -> Option<Addr> {
        let e = self.entry(token)?;
        e.core.sock.local_addr().ok()
    }
}
