//! A channel's TLS session (feature `tls`): the rustls connection kept next to the socket
//! in [`Core`], and the socket I/O that goes through it when it is there. Handlers see
//! plaintext: [`Channel::recv`], [`Channel::send_buffered`] and the rest decrypt and
//! encrypt here, and the output buffer, its high-water mark and its limit work on the
//! plaintext as they do without TLS.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::{Channel, Core, Shown, Stamp};
use crate::addr::Addr;
use crate::dispatcher::Dispatcher;
use crate::socket::Socket;
use crate::token::Token;

/// The most ciphertext rustls keeps waiting for the socket, and the most plaintext it
/// keeps before the handshake ends: what the channel's output buffer holds past it
/// waits there, under its high-water mark and limit.
pub(crate) const TLS_BUFFER_LIMIT: usize = 64 * 1024;

/// How long a TLS handshake may take before the connection is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many reads of ciphertext one [`Channel::recv`] makes at most while they give no
/// plaintext (handshake messages, tickets, empty records): the rest is read in the
/// next pass, so a peer cannot hold the loop.
const READS_PER_RECV: usize = 16;

/// The TLS session of one channel.
#[derive(Debug)]
pub(crate) struct Tls {
    conn: Connection,
    /// Plaintext decrypted and not yet read by the handler.
    plain: usize,
    /// The peer sent `close_notify`.
    peer_closed: bool,
    /// Plaintext handed to rustls since its ciphertext buffer was last empty: the part of
    /// the pending output that is no longer in the channel's output buffer.
    backlog: usize,
    /// Bytes at the front of the output buffer queued before the session started
    /// (STARTTLS's reply): sent in plain before anything of the session.
    plain_prefix: usize,
    /// `close_notify` was queued.
    goodbye: bool,
    /// rustls reported an error: nothing more is read or encrypted.
    failed: bool,
    /// The handshake deadline set in `Core::deadline` (cleared when the handshake ends).
    deadline: Option<Instant>,
}

impl Tls {
    fn new(mut conn: Connection) -> Box<Tls> {
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Box::new(Tls {
            conn,
            plain: 0,
            peer_closed: false,
            backlog: 0,
            plain_prefix: 0,
            goodbye: false,
            failed: false,
            deadline: None,
        })
    }

    fn is_server(&self) -> bool {
        matches!(self.conn, Connection::Server(_))
    }
}

/// The socket as rustls's reader and writer.
struct SockIo<'a>(&'a Socket);

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Core {
    /// Whether the channel has a TLS session.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Plaintext the session holds for the handler, or an end of input it has not
    /// reported yet: the channel must be dispatched for reading without the socket
    /// being ready.
    pub fn tls_input_waiting(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| {
            !t.failed && (t.plain > 0 || (t.peer_closed && !self.eof)) && !self.done()
        })
    }

    /// The handshake is under way: the channel is watched for reading whatever its
    /// handler says, and its handler is not called to read.
    pub fn tls_handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| !t.failed && t.conn.is_handshaking())
    }

    /// Plaintext given to rustls and not yet on the wire (counts as pending output).
    pub fn tls_backlog(&self) -> usize {
        self.tls.as_ref().map_or(0, |t| t.backlog)
    }

    /// Whether a flush now could put something on the wire (watch for writing).
    pub fn tls_can_send(&self) -> bool {
        let Some(t) = self.tls.as_ref() else {
            return false;
        };
        t.plain_prefix > 0
            || t.conn.wants_write()
            || (!t.failed && !t.goodbye && !t.conn.is_handshaking() && !self.out.is_empty())
    }

    /// Whether anything waits in the session to be sent.
    pub fn tls_has_output(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.plain_prefix > 0 || t.conn.wants_write())
    }

    fn start_tls(&mut self, conn: Connection, now: Instant) {
        let mut tls = Tls::new(conn);
        tls.plain_prefix = self.out.len();
        let at = now + HANDSHAKE_TIMEOUT;
        if self.deadline.is_none_or(|d| d.instant() > at) {
            self.deadline = Some(Stamp::new(at));
            tls.deadline = Some(at);
        }
        self.tls = Some(tls);
    }

    /// Writes what rustls has for the wire, until it has none or the socket is full.
    /// A disconnect schedules the close event.
    fn tls_push(&mut self, now: Instant) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while tls.conn.wants_write() {
            match tls.conn.write_tls(&mut SockIo(&self.sock)) {
                Ok(0) => break,
                Ok(_) => self.last_activity = Stamp::new(now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if crate::error::is_disconnect(&e) => {
                    self.schedule_close(Some(e));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if !tls.conn.wants_write() {
            tls.backlog = 0;
        }
        Ok(())
    }

    /// Whether application data can be handed to rustls now.
    fn tls_open_for_data(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| {
            !t.failed && !t.goodbye && t.plain_prefix == 0 && !t.conn.is_handshaking()
        })
    }

    /// Encrypts as much of `data` as rustls takes (within its buffer limit); how much.
    fn tls_write_plain(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(0);
        };
        let n = tls.conn.writer().write(data)?;
        tls.backlog += n;
        Ok(n)
    }

    /// [`Core::flush`] for a channel with a session: the plain prefix, then rustls's
    /// ciphertext and the output buffer through it, then `close_notify` once the output
    /// is sent and the channel closes when done.
    pub(super) fn tls_flush(&mut self, now: Instant) -> io::Result<()> {
        if !self.connected || self.done() {
            return Ok(());
        }
        let prefix = self.tls.as_ref().map_or(0, |t| t.plain_prefix);
        if prefix > 0 {
            match self.sock.send(&self.out.pending()[..prefix]) {
                Ok(n) => {
                    if n > 0 {
                        self.last_activity = Stamp::new(now);
                    }
                    self.out.consume(n);
                    if let Some(t) = self.tls.as_mut() {
                        t.plain_prefix -= n;
                    }
                    if n < prefix {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if crate::error::is_disconnect(&e) => {
                    self.schedule_close(Some(e));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            self.tls_push(now)?;
            if self.done() || self.tls.as_ref().is_some_and(|t| t.conn.wants_write()) {
                return Ok(());
            }
            if !self.tls_open_for_data() || self.out.is_empty() {
                break;
            }
            let Some(tls) = self.tls.as_mut() else {
                break;
            };
            let n = tls.conn.writer().write(self.out.pending())?;
            tls.backlog += n;
            self.out.consume(n);
            if n == 0 {
                break;
            }
        }
        if self.out.is_empty() && self.close_when_done {
            let Some(tls) = self.tls.as_mut() else {
                return Ok(());
            };
            if !tls.goodbye && !tls.failed && !tls.conn.is_handshaking() {
                tls.goodbye = true;
                tls.conn.send_close_notify();
                self.tls_push(now)?;
            }
            if !self.done() && !self.tls_has_output() {
                self.finish();
            }
        }
        Ok(())
    }

    /// [`Core::enqueue`]'s first try for a channel with a session: encrypts what rustls
    /// takes and sends it; returns how much of `data` it took.
    pub(super) fn tls_send_now(&mut self, data: &[u8], now: Instant) -> io::Result<usize> {
        if !self.tls_open_for_data() || !self.out.is_empty() || !self.connected {
            return Ok(0);
        }
        self.tls_push(now)?;
        if self.done() || self.tls.as_ref().is_some_and(|t| t.conn.wants_write()) {
            return Ok(0);
        }
        let n = self.tls_write_plain(data)?;
        self.tls_push(now)?;
        Ok(n)
    }

    /// Reads and processes ciphertext until rustls has plaintext for the handler (or, with
    /// `handshake_only`, until the handshake is over), the socket is empty, or the input
    /// ended. Returns whether the channel can go on (false: closed or failed).
    fn tls_read_in(&mut self, now: Instant, handshake_only: bool) -> io::Result<bool> {
        for _ in 0..READS_PER_RECV {
            let Some(tls) = self.tls.as_mut() else {
                return Ok(false);
            };
            if tls.failed {
                return Ok(false);
            }
            if tls.plain_prefix > 0 {
                // The peer has not seen our last plain reply yet: what it sends now was
                // sent before the handshake, and is not protected. Discard it.
                let mut scratch = [0u8; 4096];
                match self.sock.recv(&mut scratch) {
                    Ok(0) => {
                        self.eof = true;
                        self.schedule_close(None);
                        return Ok(false);
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                    Err(e) if crate::error::is_disconnect(&e) => {
                        self.schedule_close(Some(e));
                        return Ok(false);
                    }
                    Err(e) => return Err(e),
                }
            }
            if tls.plain > 0 || tls.peer_closed || (handshake_only && !tls.conn.is_handshaking()) {
                return Ok(true);
            }
            let was_handshaking = tls.conn.is_handshaking();
            match tls.conn.read_tls(&mut SockIo(&self.sock)) {
                Ok(0) => {
                    // The end of the stream, maybe without close_notify.
                    if was_handshaking {
                        self.tls_fail("the peer closed the connection during the handshake");
                        return Ok(false);
                    }
                    self.eof = true;
                    self.schedule_close(None);
                    return Ok(false);
                }
                Ok(_) => self.last_activity = Stamp::new(now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if crate::error::is_disconnect(&e) => {
                    if was_handshaking {
                        self.tls_fail(&format!("during the handshake: {e}"));
                        return Ok(false);
                    }
                    self.schedule_close(Some(e));
                    return Ok(false);
                }
                Err(e) => {
                    self.tls_fail(&e.to_string());
                    return Ok(false);
                }
            }
            let tls = self.tls.as_mut().expect("session checked above");
            match tls.conn.process_new_packets() {
                Ok(state) => {
                    tls.plain = state.plaintext_bytes_to_read();
                    tls.peer_closed = state.peer_has_closed();
                }
                Err(e) => {
                    // rustls queued the alert it sends for this, if any.
                    let _ = self.tls_push(now);
                    self.tls_fail(&e.to_string());
                    return Ok(false);
                }
            }
            if was_handshaking && !tls.conn.is_handshaking() {
                if tls
                    .deadline
                    .take()
                    .is_some_and(|d| self.deadline == Some(Stamp::new(d)))
                {
                    self.deadline = None;
                }
                // Output queued during the handshake goes out now.
                self.tls_flush(now)?;
            } else {
                self.tls_push(now)?;
            }
            if self.done() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A session that failed: on a server, log one line and close (its handler is not
    /// called); on a client, the handler's `handle_close` gets the error.
    fn tls_fail(&mut self, what: &str) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        tls.failed = true;
        let stage = if tls.conn.is_handshaking() {
            "TLS handshake failed"
        } else {
            "TLS error"
        };
        if tls.is_server() {
            log::info!(target: "asyncore_runtime::tls", "closing {}: {stage}: {what}", Shown(self));
            self.closed = true;
        } else {
            let peer = self
                .addr
                .as_ref()
                .map_or_else(|| "the peer".to_string(), |a| a.to_string());
            self.schedule_close(Some(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{stage} with {peer}: {what}"),
            )));
        }
    }

    /// [`Channel::recv`] for a channel with a session.
    pub(super) fn tls_recv(&mut self, buf: &mut [u8], now: Instant) -> io::Result<usize> {
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return Ok(0);
            };
            if tls.failed {
                return Ok(0);
            }
            if tls.plain > 0 || tls.peer_closed {
                match tls.conn.reader().read(buf) {
                    Ok(0) => {
                        // close_notify: the end of input, not of output.
                        tls.plain = 0;
                        self.eof = true;
                        self.schedule_close(None);
                        return Ok(0);
                    }
                    Ok(n) => {
                        tls.plain = tls.plain.saturating_sub(n);
                        self.last_activity = Stamp::new(now);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => tls.plain = 0,
                    Err(_) => {
                        tls.plain = 0;
                        self.eof = true;
                        self.schedule_close(None);
                        return Ok(0);
                    }
                }
            }
            if !self.tls_read_in(now, false)? {
                return Ok(0);
            }
            let tls = self.tls.as_ref().expect("session checked above");
            if tls.plain == 0 && !tls.peer_closed {
                return Ok(0);
            }
        }
    }

    /// Drives the handshake from a read event; whether it is over (the handler may read).
    pub(crate) fn tls_handshake_step(&mut self, now: Instant) -> io::Result<bool> {
        if !self.tls_handshaking() {
            return Ok(true);
        }
        if !self.tls_read_in(now, true)? {
            return Ok(false);
        }
        Ok(!self.tls_handshaking())
    }

    /// The handshake deadline passed: close (one line at `info` on a server). Returns
    /// whether the idle event was the handshake's.
    pub(crate) fn tls_handshake_timeout(&mut self) -> bool {
        if !self.tls_handshaking() {
            return false;
        }
        self.tls_fail(&format!("not finished within {HANDSHAKE_TIMEOUT:?}"));
        true
    }

    /// [`Channel::send`] for a channel with a session: encrypts what rustls takes.
    pub(super) fn tls_send(&mut self, data: &[u8], now: Instant) -> io::Result<usize> {
        if !self.out.is_empty() {
            self.tls_flush(now)?;
            if !self.out.is_empty() {
                return Ok(0);
            }
        }
        self.tls_send_now(data, now)
    }

    /// [`Channel::send_file`] through the session: reads the file (`pread`, the file's
    /// position does not move) and encrypts it, as much as rustls takes.
    pub(super) fn tls_send_file(
        &mut self,
        file: std::os::fd::BorrowedFd<'_>,
        offset: u64,
        count: usize,
        now: Instant,
    ) -> io::Result<usize> {
        if !self.out.is_empty() || self.tls_has_output() {
            self.tls_flush(now)?;
            if !self.out.is_empty() || self.tls_has_output() || self.done() {
                return Ok(0);
            }
        }
        if !self.tls_open_for_data() || !self.connected {
            return Ok(0);
        }
        let mut chunk = vec![0u8; count.min(16 * 1024)];
        let mut sent = 0;
        while sent < count {
            let want = (count - sent).min(chunk.len());
            let n = match rustix::io::pread(file, &mut chunk[..want], offset + sent as u64) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                break;
            }
            let took = self.tls_write_plain(&chunk[..n])?;
            sent += took;
            self.tls_push(now)?;
            if took < n || self.done() || self.tls_has_output() {
                break;
            }
        }
        Ok(sent)
    }

    /// On the way out (closed, dropped): `close_notify` if it was not sent, and whatever
    /// rustls still has for the wire, once, without waiting.
    fn tls_goodbye(&mut self) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        if !tls.goodbye && !tls.failed && !tls.conn.is_handshaking() && self.connected {
            tls.goodbye = true;
            tls.conn.send_close_notify();
        }
        let mut n = 0;
        while tls.conn.wants_write() && n < 4 {
            n += 1;
            if tls.conn.write_tls(&mut SockIo(&self.sock)).is_err() {
                break;
            }
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.tls_goodbye();
    }
}

impl<'a> Channel<'a> {
    /// Whether this channel's traffic goes through a TLS session
    /// ([`add_accepted_tls`](Self::add_accepted_tls), [`start_tls_server`](Self::start_tls_server),
    /// [`start_tls_client`](Self::start_tls_client)). Requires the `tls` feature.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.is_tls()), Some(false));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_tls(&self) -> bool {
        self.core.is_tls()
    }

    /// Whether the TLS handshake is under way (always false without a session).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.is_tls_handshaking()), Some(false));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_tls_handshaking(&self) -> bool {
        self.core.tls_handshaking()
    }

    /// Starts TLS as the server on this connection (STARTTLS): from now on the channel
    /// reads and writes plaintext through a session made from `config`.
    ///
    /// What is queued already (the reply that says "go ahead") is sent in plain first,
    /// before anything of the session. Queue that reply on the channel
    /// ([`send_buffered`](Self::send_buffered) or [`queue`](Self::queue)) *before*
    /// calling this. Until it is sent, whatever the peer sends is discarded: it was sent
    /// before the peer saw the reply, so before the handshake, and is not protected (the
    /// command injection of CVE-2011-0411). Input the handler read before this call is
    /// its own to discard: drop it, never treat it as received over TLS. If the reply had
    /// already left when this is called, plaintext the peer sent before its handshake
    /// reaches rustls and fails the handshake, which closes the connection.
    ///
    /// The handshake must end within [`HANDSHAKE_TIMEOUT`](crate::tls::HANDSHAKE_TIMEOUT);
    /// a failed one closes only this connection and logs one line at `info`. An error is
    /// returned if the channel has a session already or rustls refuses the config.
    ///
    /// ```no_run
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// # use std::sync::Arc;
    /// struct Smtp { tls: Arc<rustls::ServerConfig> }
    /// impl Dispatcher for Smtp {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 512];
    ///         let n = ch.recv(&mut buf)?;
    ///         if buf[..n].eq_ignore_ascii_case(b"STARTTLS\r\n") {
    ///             ch.send_buffered(b"220 Ready to start TLS\r\n")?;
    ///             ch.start_tls_server(self.tls.clone())?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn start_tls_server(&mut self, config: Arc<ServerConfig>) -> io::Result<()> {
        self.refuse_second_session()?;
        let conn = ServerConnection::new(config).map_err(tls_config_error)?;
        let now = self.map.now;
        self.core.start_tls(Connection::Server(conn), now);
        self.discard_early_input();
        self.arm_handshake_deadline();
        Ok(())
    }

    /// Starts TLS as the client on this connection, checking the server's certificate
    /// for `name`: right after [`Map::connect`](crate::Map::connect) (or in
    /// `handle_connect`) for implicit TLS, or in the middle of a connection after the
    /// server agreed to STARTTLS.
    ///
    /// What is queued already is sent in plain first. Bytes the server sent that the
    /// socket still holds are discarded: the server sends nothing of the session before
    /// our ClientHello, so they came before the handshake and are not protected.
    /// Plaintext queued after this call waits for the handshake and is then encrypted.
    /// A failed handshake (a certificate the config does not trust, a name that does not
    /// match) closes the channel with the error as `handle_close`'s reason.
    ///
    /// ```no_run
    /// use asyncore_runtime::{tls, Dispatcher, Map};
    /// struct Client;
    /// impl Dispatcher for Client {}
    /// let config = tls::client_config(None)?;
    /// let mut map = Map::new();
    /// let addr = "127.0.0.1:8443".parse::<std::net::SocketAddr>()?.into();
    /// let t = map.connect(&addr, Client)?;
    /// let name = tls::server_name("localhost")?;
    /// map.with_channel(t, |ch| ch.start_tls_client(config, name)).unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_tls_client(
        &mut self,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<()> {
        self.refuse_second_session()?;
        let conn = ClientConnection::new(config, name).map_err(tls_config_error)?;
        let now = self.map.now;
        self.core.start_tls(Connection::Client(conn), now);
        if self.core.connected {
            self.drain_socket();
        }
        self.arm_handshake_deadline();
        Ok(())
    }

    /// Adds a channel for an accepted connection that speaks TLS from its first byte
    /// (HTTPS, `rediss://`, SMTPS): [`add_accepted`](Self::add_accepted) plus
    /// [`start_tls_server`](Self::start_tls_server). The dispatcher sees only plaintext;
    /// it is not called to read until the handshake is over.
    ///
    /// ```no_run
    /// use asyncore_runtime::{tls, Addr, Channel, Dispatcher, Result, Socket};
    /// use std::sync::Arc;
    /// struct Session;
    /// impl Dispatcher for Session {}
    /// struct Server { tls: Arc<rustls::ServerConfig> }
    /// impl Dispatcher for Server {
    ///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
    ///         ch.add_accepted_tls(sock, addr, self.tls.clone(), Session)?;
    ///         Ok(())
    ///     }
    /// }
    /// let tls = tls::server_config("cert.pem", "key.pem")?;
    /// # let _ = Server { tls };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_accepted_tls<D: Dispatcher>(
        &mut self,
        sock: Socket,
        addr: Addr,
        config: Arc<ServerConfig>,
        dispatcher: D,
    ) -> io::Result<Token> {
        self.map.add_accepted_tls(sock, addr, config, dispatcher)
    }

    fn refuse_second_session(&self) -> io::Result<()> {
        if self.core.is_tls() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{self} has a TLS session already; TLS cannot be started twice"),
            ));
        }
        Ok(())
    }

    fn discard_early_input(&mut self) {
        if self.core.tls.as_ref().is_some_and(|t| t.plain_prefix > 0) {
            self.drain_socket();
        }
    }

    /// Reads and drops what the socket holds now (bounded: 1 MiB, then the connection
    /// closes; the peer is flooding).
    fn drain_socket(&mut self) {
        let mut scratch = [0u8; 4096];
        let mut total = 0usize;
        loop {
            match self.core.sock.recv(&mut scratch) {
                Ok(0) => {
                    self.core.eof = true;
                    self.core.schedule_close(None);
                    return;
                }
                Ok(n) => {
                    total += n;
                    if total > 1 << 20 {
                        self.core.tls_fail("over 1 MiB sent before the handshake");
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn arm_handshake_deadline(&mut self) {
        if let Some(at) = self.core.tls.as_ref().and_then(|t| t.deadline) {
            self.map.arm_idle(self.core, at);
        }
    }
}

fn tls_config_error(e: rustls::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("cannot start TLS with this configuration: {e}"),
    )
}

impl crate::map::Map {
    /// Adds a channel for an accepted connection that speaks TLS from its first byte;
    /// see [`Channel::add_accepted_tls`].
    ///
    /// ```no_run
    /// # use asyncore_runtime::{tls, Addr, Dispatcher, Map, Socket};
    /// # struct D; impl Dispatcher for D {}
    /// let config = tls::server_config("cert.pem", "key.pem")?;
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// map.add_accepted_tls(Socket::from(a), Addr::Unnamed, config, D)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_accepted_tls<D: Dispatcher>(
        &mut self,
        sock: Socket,
        addr: Addr,
        config: Arc<ServerConfig>,
        dispatcher: D,
    ) -> io::Result<Token> {
        let conn = ServerConnection::new(config).map_err(tls_config_error)?;
        let token = self.add_accepted(sock, addr, dispatcher)?;
        self.with_channel(token, |ch| {
            let now = ch.map.now;
            ch.core.start_tls(Connection::Server(conn), now);
            ch.arm_handshake_deadline();
        });
        Ok(token)
    }
}
