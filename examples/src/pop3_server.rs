//! A POP3 server (RFC 1939, with RFC 2449's `CAPA`), generated from
//! `protocols/descriptions/pop3.aproto`, serving the messages that
//! `smtp-server --maildir DIR` stores: the two make a small mail system.
//!
//! The description gives the framing (CRLF lines, commands of at most 512 bytes), the
//! commands and the reply each one allows (`+OK`, `-ERR`, or `+OK` followed by
//! dot-stuffed lines up to a lone `.`: the generated encoder does the stuffing), the
//! replies to bad input (`-ERR` for an over-long line, an unknown command, a command not
//! valid in the state, a malformed argument; the connection stays), and the states:
//! `Authorization`, then `Transaction` once `PASS` is answered `+OK`. [`Session`] is the
//! handler `#[dispatcher]` makes of it.
//!
//! What the handler adds:
//!
//! * the user and password (`USER`/`PASS`; `APOP` is answered `-ERR`), with at most
//!   [`MAX_AUTH_FAILURES`] failed attempts per connection;
//! * the maildrop ([`maildrop`]): a snapshot taken at `PASS`, so message numbers are
//!   stable for the session; its lock, so a second session of the user gets
//!   `-ERR [IN-USE]` (RFC 2449); sizes in octets as sent, with CRLF line ends; unique ids
//!   from the file names, the same in every session;
//! * `DELE` marks a message, `RSET` unmarks them all, and `QUIT` in the transaction state
//!   removes the marked files (and only then: a connection that ends otherwise removes
//!   nothing); `QUIT` before login just closes;
//! * `TOP n k` (the headers, the blank line and `k` lines of the body), `UIDL`, and
//!   `CAPA` listing `TOP`, `USER`, `UIDL`, `PIPELINING`, `RESP-CODES`, `AUTH-RESP-CODE`;
//! * limits: a maildrop of more than [`Config::max_messages`] messages is refused at
//!   login, a message over [`Config::max_size`] is listed but `RETR` and `TOP` refuse it,
//!   each with an `-ERR` that says so; a connection silent for
//!   [`Config::idle_timeout`] is closed (RFC 1939's autologout timer: nothing is
//!   removed).
//!
//! Message numbers that do not exist, and deleted messages, get `-ERR`.

pub mod maildrop;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asyncore_runtime::wire::Lines;
use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Result, Socket, DEFAULT_HIGH_WATER,
};

use maildrop::{Limits, Mailbox, OpenError, ReadError, SizeCache};

protocol!(pub mod pop3 = "../protocols/descriptions/pop3.aproto");

use pop3::{ServerCx, State};

/// How long a connection may stay silent by default: RFC 1939 section 3 asks for at
/// least 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The most messages a maildrop may hold by default ([`Config::max_messages`]).
pub const DEFAULT_MAX_MESSAGES: usize = 10_000;

/// The largest message served by default ([`Config::max_size`]): 24 MiB, the largest
/// message `smtp-server` takes.
pub const DEFAULT_MAX_SIZE: usize = 24 * 1024 * 1024;

/// The largest [`Config::max_size`]: the description bounds a listing at 64 MiB as sent,
/// and a message may grow by half when its lines are dot-stuffed and a file with bare LF
/// line ends grows further when they become CRLF.
pub const MAX_SIZE_LIMIT: usize = 32 * 1024 * 1024;

/// The most failed `PASS` (or `APOP`) attempts on one connection: the last one's `-ERR`
/// is followed by a close.
pub const MAX_AUTH_FAILURES: u32 = 3;

/// The hard limit of a connection's output buffer: a whole listing (the description's
/// 64 MiB) and some replies.
const OUTPUT_LIMIT: usize = 65 * 1024 * 1024;

/// The capabilities `CAPA` lists (RFC 2449).
const CAPABILITIES: &[u8] =
    b"TOP\r\nUSER\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
IMPLEMENTATION asyncore-pop3-server\r\n";

/// How a server behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The maildrop: the directory `smtp-server --maildir` writes.
    pub maildir: PathBuf,
    /// The user name that `USER` must give (compared exactly).
    pub user: String,
    /// The password that `PASS` must give.
    pub password: String,
    /// A connection silent for this long is closed; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// The most messages a maildrop may hold; a larger one is refused at login.
    pub max_messages: usize,
    /// The largest message served, in bytes as stored; at most [`MAX_SIZE_LIMIT`].
    pub max_size: usize,
}

impl Config {
    /// A server of the maildrop `maildir` for `user` with `password`, with the default
    /// limits and idle timeout.
    ///
    /// ```
    /// use asyncore_examples::pop3_server::{Config, DEFAULT_IDLE_TIMEOUT};
    /// let c = Config::new("/tmp/mail", "alice", "secret");
    /// assert_eq!(c.idle_timeout, Some(DEFAULT_IDLE_TIMEOUT));
    /// ```
    pub fn new(maildir: impl Into<PathBuf>, user: &str, password: &str) -> Config {
        Config {
            maildir: maildir.into(),
            user: user.to_string(),
            password: password.to_string(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_messages: DEFAULT_MAX_MESSAGES,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_messages: self.max_messages,
            max_size: self.max_size.min(MAX_SIZE_LIMIT),
        }
    }
}

/// Counters and caches of a server, shared by its loops.
#[derive(Debug, Default)]
pub struct Shared {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Successful logins.
    pub logins: AtomicU64,
    /// Messages sent whole (`RETR`).
    pub retrieved: AtomicU64,
    /// Messages removed at `QUIT`.
    pub removed: AtomicU64,
    /// The sizes of the messages measured so far.
    pub sizes: SizeCache,
}

/// One connection: the handler of the POP3 description's server side.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    shared: Arc<Shared>,
    /// The name given by `USER`, until `PASS`.
    user: Option<Vec<u8>>,
    failures: u32,
    /// The mailbox, from a successful `PASS` on.
    mailbox: Option<Mailbox>,
}

impl Session {
    /// A session of a server configured by `config`, counting in `shared`.
    pub fn new(config: Arc<Config>, shared: Arc<Shared>) -> Session {
        Session {
            config,
            shared,
            user: None,
            failures: 0,
            mailbox: None,
        }
    }

    /// A failed login: `-ERR [AUTH]`, and a close after the last attempt allowed.
    fn refuse_login(&mut self, cx: &mut ServerCx<'_, '_>, text: &str) -> Result {
        self.failures += 1;
        self.user = None;
        if self.failures >= MAX_AUTH_FAILURES {
            err(cx, &format!("{text}; too many failures, closing"))?;
            cx.close();
            return Ok(());
        }
        err(cx, text)
    }

    /// The message `n` for `RETR` and `TOP`, or the `-ERR` text that refuses it.
    fn message(&self, n: u32) -> std::result::Result<Vec<u8>, String> {
        let Some(mailbox) = &self.mailbox else {
            return Err("no mailbox open".into());
        };
        match mailbox.read(n) {
            Ok(m) => Ok(m),
            Err(ReadError::NoSuchMessage) => Err(no_such_message(mailbox, n)),
            Err(ReadError::TooLarge) => Err(format!(
                "[SYS/PERM] message {n} is larger than the {} octets this server sends",
                self.config.limits().max_size
            )),
            Err(ReadError::Io(e)) => {
                log::warn!("pop3-server: message {n}: {e}");
                Err(format!("[SYS/TEMP] message {n} cannot be read"))
            }
        }
    }
}

fn ok(cx: &mut ServerCx<'_, '_>, text: &str) -> Result {
    cx.send(pop3::Ok {
        text: text.as_bytes(),
    })
}

fn err(cx: &mut ServerCx<'_, '_>, text: &str) -> Result {
    cx.send(pop3::Err {
        text: text.as_bytes(),
    })
}

/// Sends `body` as a listing, or `-ERR` if the encoder refuses it (a line over the
/// description's limit).
fn listing(cx: &mut ServerCx<'_, '_>, text: &str, body: &[u8]) -> Result {
    let sent = cx.send(pop3::Listing {
        text: text.as_bytes(),
        body: Lines::Text(body),
    });
    match sent {
        Ok(()) => Ok(()),
        Err(e) => {
            log::warn!("pop3-server: a listing cannot be sent: {e}");
            err(cx, "[SYS/PERM] the message cannot be sent as POP3 requires")
        }
    }
}

/// The `-ERR` text for message `n` that [`Mailbox::get`] does not give.
fn no_such_message(mailbox: &Mailbox, n: u32) -> String {
    if mailbox.is_deleted(n) {
        format!("message {n} already deleted")
    } else {
        format!("no such message, only {} in maildrop", mailbox.len())
    }
}

/// Compares two secrets in a time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[dispatcher(protocol = pop3, role = server)]
impl Session {
    /// The greeting, the idle timeout, and room in the output buffer for a whole message.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.shared.connections.fetch_add(1, Ordering::Relaxed);
        let timeout = self.config.idle_timeout;
        cx.channel().set_idle_timeout(timeout);
        cx.channel()
            .set_output_limits(DEFAULT_HIGH_WATER, OUTPUT_LIMIT);
        ok(cx, "asyncore pop3-server ready")
    }

    fn on_capa(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Capa) -> Result {
        cx.send(pop3::Listing {
            text: b"Capability list follows",
            body: Lines::Text(CAPABILITIES),
        })
    }

    /// Any name is taken: whether it is right is told after `PASS` only, so that the
    /// server does not reveal which names exist.
    fn on_user(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::User<'_>) -> Result {
        if msg.name.is_empty() {
            return err(cx, "USER needs a name");
        }
        self.user = Some(msg.name.to_vec());
        ok(cx, "send PASS")
    }

    /// Checks the user and password, locks the maildrop and takes its snapshot: `+OK`
    /// moves to `Transaction`.
    fn on_pass(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::Pass<'_>) -> Result {
        let Some(user) = self.user.take() else {
            return err(cx, "USER first");
        };
        let right = same_secret(&user, self.config.user.as_bytes())
            & same_secret(msg.password, self.config.password.as_bytes());
        if !right {
            return self.refuse_login(cx, "[AUTH] invalid user name or password");
        }
        match Mailbox::open(
            &self.config.maildir,
            self.config.limits(),
            &self.shared.sizes,
        ) {
            Ok(mailbox) => {
                let (n, size) = mailbox.stat();
                self.mailbox = Some(mailbox);
                self.shared.logins.fetch_add(1, Ordering::Relaxed);
                ok(
                    cx,
                    &format!("maildrop locked and ready, {n} messages ({size} octets)"),
                )
            }
            Err(OpenError::InUse) => err(cx, "[IN-USE] maildrop already locked by another session"),
            Err(e @ OpenError::TooMany { .. }) => err(cx, &format!("[SYS/PERM] {e}")),
            Err(e) => {
                log::warn!("pop3-server: {}: {e}", self.config.maildir.display());
                err(cx, "[SYS/TEMP] the maildrop cannot be opened")
            }
        }
    }

    fn on_apop(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Apop<'_>) -> Result {
        err(cx, "APOP not supported; use USER and PASS")
    }

    fn on_stat(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Stat) -> Result {
        let (n, size) = self.mailbox.as_ref().map_or((0, 0), Mailbox::stat);
        ok(cx, &format!("{n} {size}"))
    }

    /// `n size` for every message not marked deleted.
    fn on_list_all(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::ListAll) -> Result {
        let mut body = String::new();
        let mut count = 0;
        if let Some(mailbox) = &self.mailbox {
            for (n, e) in mailbox.messages() {
                body.push_str(&format!("{n} {}\r\n", e.size));
                count += 1;
            }
        }
        listing(cx, &format!("{count} messages"), body.as_bytes())
    }

    fn on_list_one(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::ListOne) -> Result {
        let Some(mailbox) = &self.mailbox else {
            return err(cx, "no mailbox open");
        };
        match mailbox.get(msg.msg) {
            Some(e) => ok(cx, &format!("{} {}", msg.msg, e.size)),
            None => err(cx, &no_such_message(mailbox, msg.msg)),
        }
    }

    fn on_retr(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::Retr) -> Result {
        match self.message(msg.msg) {
            Ok(m) => {
                listing(cx, &format!("{} octets", m.len()), &m)?;
                self.shared.retrieved.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(text) => err(cx, &text),
        }
    }

    fn on_top(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::Top) -> Result {
        match self.message(msg.msg) {
            Ok(m) => listing(cx, "top of message follows", maildrop::top(&m, msg.lines)),
            Err(text) => err(cx, &text),
        }
    }

    /// `n uid` for every message not marked deleted.
    fn on_uidl_all(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::UidlAll) -> Result {
        let mut body = String::new();
        if let Some(mailbox) = &self.mailbox {
            for (n, e) in mailbox.messages() {
                body.push_str(&format!("{n} {}\r\n", e.uid));
            }
        }
        listing(cx, "unique-id listing follows", body.as_bytes())
    }

    fn on_uidl_one(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::UidlOne) -> Result {
        let Some(mailbox) = &self.mailbox else {
            return err(cx, "no mailbox open");
        };
        match mailbox.get(msg.msg) {
            Some(e) => ok(cx, &format!("{} {}", msg.msg, e.uid)),
            None => err(cx, &no_such_message(mailbox, msg.msg)),
        }
    }

    fn on_dele(&mut self, cx: &mut ServerCx<'_, '_>, msg: pop3::Dele) -> Result {
        let Some(mailbox) = &mut self.mailbox else {
            return err(cx, "no mailbox open");
        };
        if mailbox.delete(msg.msg) {
            ok(cx, &format!("message {} deleted", msg.msg))
        } else {
            let text = no_such_message(mailbox, msg.msg);
            err(cx, &text)
        }
    }

    fn on_noop(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Noop) -> Result {
        ok(cx, "")
    }

    fn on_rset(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Rset) -> Result {
        let Some(mailbox) = &mut self.mailbox else {
            return err(cx, "no mailbox open");
        };
        mailbox.reset();
        let (n, size) = mailbox.stat();
        ok(cx, &format!("maildrop has {n} messages ({size} octets)"))
    }

    /// In `Transaction`, removes the messages marked deleted (POP3's UPDATE state) and
    /// releases the maildrop; before login, just says goodbye. The description closes
    /// the connection once the reply is sent.
    fn on_quit(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pop3::Quit) -> Result {
        if cx.state() != State::Transaction {
            return ok(cx, "asyncore pop3-server signing off");
        }
        let Some(mailbox) = self.mailbox.take() else {
            return ok(cx, "asyncore pop3-server signing off");
        };
        let left = mailbox.stat().0;
        match mailbox.commit() {
            Ok(removed) => {
                self.shared
                    .removed
                    .fetch_add(removed as u64, Ordering::Relaxed);
                ok(
                    cx,
                    &format!("asyncore pop3-server signing off ({removed} deleted, {left} left)"),
                )
            }
            Err(e) => {
                log::warn!("pop3-server: {}: {e}", self.config.maildir.display());
                err(cx, "[SYS/TEMP] some deleted messages not removed")
            }
        }
    }

    /// However the connection ends, the maildrop's lock is released; without `QUIT`,
    /// nothing is removed.
    fn on_close(&mut self, _cx: &mut ServerCx<'_, '_>, _reason: Option<&std::io::Error>) {
        self.mailbox = None;
    }
}

/// The listening channel: each accepted connection becomes a [`Session`].
///
/// ```no_run
/// use std::sync::Arc;
/// use asyncore_examples::server::{serve, ServerConfig};
/// use asyncore_examples::pop3_server::{Config, Pop3Server, Shared};
/// # fn main() -> std::io::Result<()> {
/// let config = Arc::new(Config::new("/tmp/mail", "alice", "secret"));
/// let shared = Arc::new(Shared::default());
/// let listen = ServerConfig { listen: "127.0.0.1:1110".parse().unwrap(), backend: Default::default(), threads: 1 };
/// serve(&listen, move || Pop3Server::new(config.clone(), shared.clone()))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Pop3Server {
    config: Arc<Config>,
    shared: Arc<Shared>,
}

impl Pop3Server {
    /// A server configured by `config`, counting in `shared`.
    pub fn new(config: Arc<Config>, shared: Arc<Shared>) -> Pop3Server {
        Pop3Server { config, shared }
    }
}

impl Dispatcher for Pop3Server {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let session = Session::new(self.config.clone(), self.shared.clone());
        ch.add_accepted(sock, addr, pop3::ServerChannel::new(session))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"secret", b"secret"));
        assert!(!same_secret(b"secret", b"secreT"));
        assert!(!same_secret(b"secret", b"secret!"));
        assert!(same_secret(b"", b""));
    }

    #[test]
    fn capabilities_are_a_listing() {
        let mut out = Vec::new();
        pop3::Listing {
            text: b"",
            body: Lines::Text(CAPABILITIES),
        }
        .encode(&mut out)
        .unwrap();
        assert!(out.ends_with(b"IMPLEMENTATION asyncore-pop3-server\r\n.\r\n"));
    }
}
