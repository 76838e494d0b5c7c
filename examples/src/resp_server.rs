//! An in-memory key-value server speaking RESP2, generated from
//! `protocols/descriptions/resp.aproto`: enough of Redis for `redis-cli` and
//! `redis-benchmark`.
//!
//! The description gives the framing (CRLF lines of at most 64 KiB, bulk strings of at
//! most 512 MiB, at most 1,048,576 arguments per command), the two request forms
//! (`Command`, an array of bulk strings, and `Inline`, words on one line) and the
//! protocol error replies; [`RespConnection`] is the handler `#[dispatcher]` makes of it,
//! and [`Store`] is the keyspace every connection of a loop shares.
//!
//! Commands: `PING`, `ECHO`, `SET` (with `EX`, `PX`, `EXAT`, `PXAT`, `NX`, `XX`,
//! `KEEPTTL`, `GET`), `SETNX`, `SETEX`, `PSETEX`, `GET`, `GETSET`, `DEL`, `EXISTS`,
//! `TYPE`, `INCR`, `DECR`, `INCRBY`, `DECRBY`, `APPEND`, `STRLEN`, `MGET`, `MSET`,
//! `EXPIRE`, `PEXPIRE` (with `NX`, `XX`, `GT`, `LT`), `TTL`, `PTTL`, `PERSIST`, `KEYS`,
//! `DBSIZE`, `FLUSHDB`, `FLUSHALL`, `SELECT 0`, `LPUSH`, `RPUSH`, `LPOP`, `RPOP`,
//! `LLEN`, `LRANGE`, `CLIENT ID|SETNAME|GETNAME`, `COMMAND` (`COUNT`, `DOCS`), `INFO`
//! (Redis 7.0's sections and fields, with per-command and per-error counters), `QUIT`.
//! Replies and error texts are Redis 7.0's, word for word.
//!
//! Server commands, for what this server is: `HELLO` (RESP2; `HELLO 3` is refused as
//! Redis refuses a protocol it does not speak), `CONFIG GET|SET|RESETSTAT|REWRITE`,
//! `FUNCTION` (as a server without a scripting engine), `DEBUG SLEEP|SET-ACTIVE-EXPIRE|LOG`
//! (other subcommands answered as Redis answers an unknown one); transactions: `MULTI`,
//! `EXEC`, `DISCARD`, `WATCH`, `UNWATCH` (see `store/server.rs` and
//! `store/transactions.rs`).
//!
//! And: `GETEX`, `GETDEL`, `INCRBYFLOAT` (in x87 `long double`, as Redis computes and
//! prints it), `GETRANGE`/`SUBSTR`, `SETRANGE`, `GETBIT`, `SETBIT`, `MSETNX`, `LCS`;
//! `EXPIREAT`, `PEXPIREAT`, `EXPIRETIME`, `PEXPIRETIME`, `RENAME`, `RENAMENX`, `COPY`,
//! `RANDOMKEY`, `OBJECT ENCODING|REFCOUNT|FREQ`, `TIME`; `LPUSHX`, `RPUSHX`, `LINDEX`,
//! `LSET`, `LINSERT`, `LREM`, `LTRIM`, `LPOS`, `LMOVE`, `RPOPLPUSH`, `LMPOP`, `SORT`
//! and `SORT_RO` (on lists); the blocking pops `BLPOP`, `BRPOP`, `BLMPOP`, `BLMOVE`,
//! `BRPOPLPUSH`, and `CLIENT UNBLOCK`.
//!
//! A client blocked in one of them waits on the loop: its connection answers nothing
//! and holds the requests it pipelined after it (`cx.wait()`), and the store keeps it
//! in the queues of its keys. A command that creates a list there (from any connection
//! of the loop) serves the waiters, first blocked, first served, and the connection that
//! ran it wakes theirs with a timer set on their channels; the blocked connection's own
//! timer ends the wait at its deadline.
//!
//! Keys expire on the loop's timers: the store keeps its deadlines in order and arms one
//! [`Map::call_at`] timer for the earliest; when it fires, the keys that are due are
//! removed (at most [`EXPIRE_BUDGET`] per pass) and the timer is armed again. A key
//! that is due but not yet removed is also treated as gone when it is accessed.
//!
//! Writes that may grow the store are refused with Redis's `-OOM` error once the
//! estimated memory in use is over [`Limits::max_memory`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::{IndexMap, IndexSet};

use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket, TimerId,
};

protocol!(pub mod resp = "../protocols/descriptions/resp.aproto");

use crate::waiting::Waiting;
use resp::ServerCx;

/// The largest string value, as Redis's `proto-max-bulk-len` (and the description's
/// bulk limit).
pub const MAX_STRING: usize = 512 * 1024 * 1024;

/// Most keys removed by one firing of the expiry timer; the rest go on the next pass
/// of the loop, so that other connections are served in between.
pub const EXPIRE_BUDGET: usize = 10_000;

/// Estimated bytes of bookkeeping per key, counted in the memory in use.
pub const KEY_OVERHEAD: usize = 64;

/// Estimated bytes of bookkeeping per list element.
pub const ELEMENT_OVERHEAD: usize = 16;

/// The default output limit of a connection: one reply of the largest string fits.
pub const OUTPUT_LIMIT: usize = MAX_STRING + 1024 * 1024;

/// The most bytes a connection closed after a protocol error reads and discards (its
/// lingering close, [`Map::set_linger`]) before it closes with a reset: Redis closes at
/// once, and a client that goes on writing (Redis's desync tests) must see its writes
/// fail; the error reply still reaches a client that sends a few megabytes more.
pub const LINGER_BYTES: usize = 12 << 20;

/// How far a deadline beyond what [`Instant`] can represent is placed.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

/// Bounds of a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Writes that may grow the store are refused (`-OOM ...`) while the estimated memory
    /// in use is above this many bytes. `0` means no limit.
    pub max_memory: usize,
    /// The most bytes of replies a connection may have queued: its output buffer's
    /// limit, and the most its replies to one read may add up to. A connection that
    /// goes over it is closed.
    pub output_limit: usize,
}

impl Default for Limits {
    /// 1 GiB of memory; [`OUTPUT_LIMIT`] of output per connection.
    fn default() -> Self {
        Limits {
            max_memory: 1 << 30,
            output_limit: OUTPUT_LIMIT,
        }
    }
}

/// Where a command's replies go: the generated channel's context when serving, a byte
/// buffer (RESP encoding, for tests and examples) or anything else.
pub trait Replies {
    /// `+text`
    fn simple(&mut self, text: &str);
    /// `-text` (line breaks in `text` become spaces)
    fn error(&mut self, text: &str);
    /// `:value`
    fn integer(&mut self, value: i64);
    /// `$len` and the bytes
    fn bulk(&mut self, data: &[u8]);
    /// `$-1`
    fn nil(&mut self);
    /// `*len`; `len` replies follow
    fn array(&mut self, len: usize);
    /// `*-1`
    fn nil_array(&mut self);
    /// `$len` and the bytes of a stored value, which the sink may keep instead of
    /// copying (to send it later, when the client has read what came before).
    fn shared_bulk(&mut self, data: &Blob) {
        self.bulk(data);
    }
    /// A map of `pairs` entries; each key and its value follow. RESP3's `%N`; in RESP2
    /// an array of `2 * pairs`.
    fn map(&mut self, pairs: usize) {
        self.array(pairs * 2);
    }
    /// A set of `len` members, which follow. RESP3's `~N`; in RESP2 an array.
    fn set(&mut self, len: usize) {
        self.array(len);
    }
    /// A floating-point number, as C's `%.17g` writes it (`inf`, `-inf`). RESP3's
    /// `,1.5`; in RESP2 a bulk string.
    fn double(&mut self, value: f64) {
        self.bulk(store::format_double(value).as_bytes());
    }
    /// Text for people to read (`INFO`). RESP3's verbatim string `=N\r\ntxt:...`; in
    /// RESP2 a bulk string.
    fn verbatim(&mut self, text: &[u8]) {
        self.bulk(text);
    }
    /// The protocol of the replies: 2 or 3. The `nil` and `nil_array` of RESP3 are both
    /// `_`.
    fn protocol(&self) -> u8 {
        2
    }
    /// The replies after this call are in RESP `version` (2 or 3; `HELLO`). A sink that
    /// speaks only RESP2 ignores it.
    fn set_protocol(&mut self, _version: u8) {}
}

/// RESP2 encoding into a byte buffer.
///
/// ```
/// use asyncore_examples::resp_server::Replies;
/// let mut out = Vec::new();
/// out.array(2);
/// out.bulk(b"a");
/// out.nil();
/// assert_eq!(out, b"*2\r\n$1\r\na\r\n$-1\r\n");
/// ```
impl Replies for Vec<u8> {
    fn simple(&mut self, text: &str) {
        self.push(b'+');
        self.extend_from_slice(text.as_bytes());
        self.extend_from_slice(b"\r\n");
    }
    fn error(&mut self, text: &str) {
        self.push(b'-');
        self.extend(
            text.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.extend_from_slice(b"\r\n");
    }
    fn integer(&mut self, value: i64) {
        let _ = write!(Bytes(self), ":{value}\r\n");
    }
    fn bulk(&mut self, data: &[u8]) {
        let _ = write!(Bytes(self), "${}\r\n", data.len());
        self.extend_from_slice(data);
        self.extend_from_slice(b"\r\n");
    }
    fn nil(&mut self) {
        self.extend_from_slice(b"$-1\r\n");
    }
    fn array(&mut self, len: usize) {
        let _ = write!(Bytes(self), "*{len}\r\n");
    }
    fn nil_array(&mut self) {
        self.extend_from_slice(b"*-1\r\n");
    }
}

/// `fmt::Write` into a byte vector.
struct Bytes<'v>(&'v mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A reply waiting for room in the output: what a command answered after the output
/// reached its high-water mark, sent in order as the client reads (`on_produce`).
#[derive(Debug)]
enum Pending {
    Simple(String),
    Error(String),
    Integer(i64),
    /// A stored value, shared with the store: not copied.
    Shared(Blob),
    Bulk(Vec<u8>),
    Nil,
    Array(u32),
    NilArray,
    Map(u32),
    Set(u32),
    Double(f64),
    Verbatim(Vec<u8>),
}

impl Pending {
    /// Sends the reply in RESP3 (`resp3`) or RESP2.
    fn send(&self, cx: &mut ServerCx<'_, '_>, resp3: bool) -> Result {
        match self {
            Pending::Simple(t) => cx.send(resp::Simple { text: t.as_bytes() }),
            Pending::Error(t) => cx.send(resp::Error { text: t.as_bytes() }),
            Pending::Integer(value) => cx.send(resp::Integer { value: *value }),
            Pending::Shared(data) => cx.send(resp::Bulk { data }),
            Pending::Bulk(data) => cx.send(resp::Bulk { data }),
            Pending::Nil | Pending::NilArray if resp3 => cx.send(resp::Null {}),
            Pending::Nil => cx.send(resp::Nil {}),
            Pending::NilArray => cx.send(resp::NilArray {}),
            Pending::Array(count) => cx.send(resp::Array { count: *count }),
            Pending::Map(count) if resp3 => cx.send(resp::Map { count: *count }),
            Pending::Map(count) => cx.send(resp::Array {
                count: count.saturating_mul(2),
            }),
            Pending::Set(count) if resp3 => cx.send(resp::Set { count: *count }),
            Pending::Set(count) => cx.send(resp::Array { count: *count }),
            Pending::Double(value) => {
                let text = store::format_double(*value);
                if resp3 {
                    cx.send(resp::Double {
                        text: text.as_bytes(),
                    })
                } else {
                    cx.send(resp::Bulk {
                        data: text.as_bytes(),
                    })
                }
            }
            Pending::Verbatim(text) if resp3 => {
                let mut data = Vec::with_capacity(text.len() + 4);
                data.extend_from_slice(b"txt:");
                data.extend_from_slice(text);
                cx.send(resp::Verbatim { data: &data })
            }
            Pending::Verbatim(text) => cx.send(resp::Bulk { data: text }),
        }
    }
}

/// The replies of a command sent through the generated channel; the first send error
/// is kept and returned after the command. Replies go out at once while the output is
/// under its high-water mark; after that they wait in `pending` (stored values shared,
/// not copied) and are sent as the client reads. The bytes copied for the replies of one
/// read are counted: past `budget` nothing more is queued and the command ends in an
/// error (which closes the connection).
struct CxReplies<'x, 'c, 'a> {
    cx: &'x mut ServerCx<'c, 'a>,
    pending: &'x mut Waiting<Pending>,
    /// The replies are in RESP3 (after `HELLO 3`).
    resp3: bool,
    err: Option<asyncore_runtime::Error>,
    bytes: usize,
    budget: usize,
    limit: usize,
}

impl<'x, 'c, 'a> CxReplies<'x, 'c, 'a> {
    fn new(
        cx: &'x mut ServerCx<'c, 'a>,
        pending: &'x mut Waiting<Pending>,
        resp3: bool,
        budget: usize,
        limit: usize,
    ) -> Self {
        CxReplies {
            cx,
            pending,
            resp3,
            err: None,
            bytes: 0,
            budget,
            limit,
        }
    }

    /// Counts `size` bytes against the budget; false (and the error kept) past it.
    fn count(&mut self, size: usize) -> bool {
        if self.err.is_some() {
            return false;
        }
        self.bytes += size + 16;
        if self.bytes > self.budget {
            self.err = Some(
                format!(
                    "the replies to one read exceed the output limit of {} bytes; \
                     closing the connection",
                    self.limit
                )
                .into(),
            );
            return false;
        }
        true
    }

    /// Whether replies must wait: the output is full, or replies before wait already.
    fn later(&self) -> bool {
        !self.pending.is_empty() || self.cx.output_full()
    }

    /// Sends a reply of the kinds that differ between RESP2 and RESP3.
    fn send_pending(&mut self, size: usize, p: Pending) {
        if !self.count(size) {
            return;
        }
        if self.later() {
            self.pending.push_back(p);
        } else if let Err(e) = p.send(self.cx, self.resp3) {
            self.err = Some(e);
        }
    }

    fn send<'m>(
        &mut self,
        size: usize,
        msg: impl Into<resp::ServerMessage<'m>>,
        later: impl FnOnce() -> Pending,
    ) {
        if !self.count(size) {
            return;
        }
        if self.later() {
            self.pending.push_back(later());
        } else if let Err(e) = self.cx.send(msg) {
            self.err = Some(e);
        }
    }
}

impl Replies for CxReplies<'_, '_, '_> {
    fn simple(&mut self, text: &str) {
        self.send(
            text.len(),
            resp::Simple {
                text: text.as_bytes(),
            },
            || Pending::Simple(text.to_string()),
        );
    }
    fn error(&mut self, text: &str) {
        let clean = text.replace(['\r', '\n'], " ");
        self.send(
            clean.len(),
            resp::Error {
                text: clean.as_bytes(),
            },
            || Pending::Error(clean.clone()),
        );
    }
    fn integer(&mut self, value: i64) {
        self.send(0, resp::Integer { value }, || Pending::Integer(value));
    }
    fn bulk(&mut self, data: &[u8]) {
        self.send(data.len(), resp::Bulk { data }, || {
            Pending::Bulk(data.to_vec())
        });
    }
    fn shared_bulk(&mut self, data: &Blob) {
        if !self.later() {
            self.bulk(data);
        } else if self.count(0) {
            self.pending.push_back(Pending::Shared(data.clone()));
        }
    }
    fn nil(&mut self) {
        self.send_pending(0, Pending::Nil);
    }
    fn array(&mut self, len: usize) {
        match u32::try_from(len) {
            Ok(count) => self.send(0, resp::Array { count }, || Pending::Array(count)),
            Err(_) => {
                if self.err.is_none() {
                    self.err = Some("reply array longer than 2^32-1 elements".into());
                }
            }
        }
    }
    fn nil_array(&mut self) {
        self.send_pending(0, Pending::NilArray);
    }
    fn map(&mut self, pairs: usize) {
        self.send_pending(0, Pending::Map(u32::try_from(pairs).unwrap_or(u32::MAX)));
    }
    fn set(&mut self, len: usize) {
        self.send_pending(0, Pending::Set(u32::try_from(len).unwrap_or(u32::MAX)));
    }
    fn double(&mut self, value: f64) {
        self.send_pending(24, Pending::Double(value));
    }
    fn verbatim(&mut self, text: &[u8]) {
        self.send_pending(text.len(), Pending::Verbatim(text.to_vec()));
    }
    fn protocol(&self) -> u8 {
        if self.resp3 {
            3
        } else {
            2
        }
    }
    fn set_protocol(&mut self, version: u8) {
        self.resp3 = version == 3;
    }
}

mod store;

pub use store::{glob_match, parse_i64, unknown_command, Blob, Flow, Session, SharedStore, Store};

/// One connection: the handler of the RESP description's server side.
#[derive(Debug)]
pub struct RespConnection {
    store: SharedStore,
    session: Session,
    open: bool,
    /// The loop pass of the current read, and the bytes of replies queued in it.
    pass: u64,
    queued: usize,
    /// Replies waiting for the client to read those before them.
    pending: Waiting<Pending>,
    /// The loop pass in which this connection last ran a command.
    clock_pass: u64,
    /// The timer of a blocking command's deadline, while it waits.
    block_timer: Option<TimerId>,
}

impl RespConnection {
    /// A connection to `store`.
    pub fn new(store: SharedStore) -> RespConnection {
        RespConnection {
            store,
            session: Session::default(),
            open: false,
            pass: u64::MAX,
            queued: 0,
            pending: Waiting::default(),
            clock_pass: u64::MAX,
            block_timer: None,
        }
    }

    /// Sends the replies waiting, as far as the output takes them; asks to go on later
    /// if it fills first.
    fn send_pending(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        while let Some(p) = self.pending.front() {
            if cx.output_full() {
                cx.produce_later();
                return Ok(());
            }
            p.send(cx, self.session.resp3)?;
            self.pending.pop_front();
        }
        // Memory back after a large reply.
        self.pending = Waiting::default();
        Ok(())
    }

    /// What the replies of a command may still add in this loop pass (the replies of one
    /// read are sent together, and counted together), and the output limit.
    fn budget(&mut self, cx: &mut ServerCx<'_, '_>) -> (usize, usize) {
        let pass = cx.channel().map().passes();
        if pass != self.pass {
            self.pass = pass;
            self.queued = 0;
        }
        let limit = self.store.borrow().limits.output_limit;
        (limit.saturating_sub(self.queued), limit)
    }

    fn run(&mut self, cx: &mut ServerCx<'_, '_>, args: &[&[u8]]) -> Result {
        if args.is_empty() {
            // `*0`, as Redis does: nothing to do, no reply.
            return Ok(());
        }
        let (budget, limit) = self.budget(cx);
        let resp3 = self.session.resp3;
        // A command after another of the same read starts when that one ended: one clock
        // read per command.
        let chained = self.clock_pass == self.pass;
        self.clock_pass = self.pass;
        let mut out = CxReplies::new(cx, &mut self.pending, resp3, budget, limit);
        let mut store = self.store.borrow_mut();
        let now = match store.last_ended() {
            Some(ended) if chained => ended,
            _ => Instant::now(),
        };
        let flow = store.execute(args, &mut self.session, now, &mut out);
        drop(store);
        self.queued += out.bytes;
        if let Some(e) = out.err {
            return Err(e);
        }
        if !self.pending.is_empty() {
            // The rest of the reply as the client reads (`on_produce`).
            cx.produce_later();
        }
        match flow {
            Flow::Continue => {}
            Flow::Close => cx.close(),
            Flow::Block { deadline } => {
                // No reply until another client's write serves it, the deadline or
                // `CLIENT UNBLOCK` (`on_timer`); the requests after it are held.
                let token = cx.channel().token();
                self.store
                    .borrow_mut()
                    .set_wake_token(self.session.id, token);
                if let Some(at) = deadline {
                    let delay = at.saturating_duration_since(now);
                    self.block_timer = Some(cx.channel().set_timer(delay));
                }
                cx.wait();
            }
        }
        // Clients this command served (a push, `CLIENT UNBLOCK`): a timer wakes each.
        let woken = self.store.borrow_mut().take_woken();
        for token in woken {
            cx.channel()
                .map()
                .with_channel(token, |ch| ch.set_timer(Duration::ZERO));
        }
        Store::arm(&self.store, cx.channel().map());
        Ok(())
    }

    /// A blocking command's wait ended (`id` is its deadline's timer, or the timer
    /// another connection set to wake it): its reply, and the requests held go on.
    fn end_wait(&mut self, cx: &mut ServerCx<'_, '_>, id: TimerId) -> Result {
        let timed_out = self.block_timer == Some(id);
        let client = self.session.id;
        if timed_out {
            self.block_timer = None;
            self.store.borrow_mut().time_out(client);
        }
        let (budget, limit) = self.budget(cx);
        let resp3 = self.session.resp3;
        let mut out = CxReplies::new(cx, &mut self.pending, resp3, budget, limit);
        if !self.store.borrow_mut().take_reply(client, &mut out) {
            // Still waiting: a timer of an earlier wait.
            return Ok(());
        }
        self.queued += out.bytes;
        if let Some(e) = out.err {
            return Err(e);
        }
        if let Some(t) = self.block_timer.take() {
            cx.channel().cancel_timer(t);
        }
        if !self.pending.is_empty() {
            cx.produce_later();
        }
        cx.end_wait();
        Ok(())
    }
}

#[dispatcher(protocol = resp, role = server)]
impl RespConnection {
    /// Registers the client and raises the output limit so that one reply of the
    /// largest string fits.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        let limit = self.store.borrow().limits.output_limit;
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER.min(limit), limit);
        self.session = self.store.borrow_mut().connect();
        self.open = true;
        Ok(())
    }

    fn on_command(&mut self, cx: &mut ServerCx<'_, '_>, msg: resp::Command<'_>) -> Result {
        // Most commands have a few arguments: those are gathered on the stack, so the
        // common command allocates nothing.
        const FEW: usize = 8;
        if msg.args.len() <= FEW {
            let mut few: [&[u8]; FEW] = [&[]; FEW];
            let mut n = 0;
            for (slot, arg) in few.iter_mut().zip(msg.args.iter()) {
                *slot = arg;
                n += 1;
            }
            return self.run(cx, &few[..n]);
        }
        let args: Vec<&[u8]> = msg.args.iter().collect();
        self.run(cx, &args)
    }

    /// An inline command: its words, unquoted (`SET "a b" c` sets the key `a b`). An
    /// empty line is no command, and gets no reply.
    fn on_inline(&mut self, cx: &mut ServerCx<'_, '_>, msg: resp::Inline<'_>) -> Result {
        let words: Vec<std::borrow::Cow<'_, [u8]>> = msg.args.iter().map(|w| w.value()).collect();
        let args: Vec<&[u8]> = words.iter().map(|w| &**w).collect();
        self.run(cx, &args)
    }

    /// The replies still waiting, as the output drains.
    fn on_produce(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.send_pending(cx)
    }

    /// The end of a blocking command's wait: served, timed out or unblocked.
    fn on_timer(&mut self, cx: &mut ServerCx<'_, '_>, id: TimerId) -> Result {
        if cx.is_waiting() {
            self.end_wait(cx, id)?;
        }
        Ok(())
    }

    fn on_close(&mut self, _cx: &mut ServerCx<'_, '_>, _reason: Option<&std::io::Error>) {
        if std::mem::take(&mut self.open) {
            let mut store = self.store.borrow_mut();
            store.forget_client(self.session.id);
            store.disconnect();
        }
    }
}

impl Drop for RespConnection {
    fn drop(&mut self) {
        // A connection closed without `on_close` (a policy close, or the loop's end)
        // still leaves the client count.
        if std::mem::take(&mut self.open) {
            if let Ok(mut s) = self.store.try_borrow_mut() {
                s.forget_client(self.session.id);
                s.disconnect();
            }
        }
    }
}

/// The listening channel: each accepted connection becomes a [`RespConnection`] on the
/// shared [`Store`].
///
/// ```no_run
/// use asyncore_examples::resp_server::{Limits, RespServer};
/// use asyncore_examples::server::{serve, ServerConfig};
/// # fn main() -> std::io::Result<()> {
/// let config = ServerConfig {
///     listen: "127.0.0.1:6379".parse().unwrap(),
///     backend: Default::default(),
///     threads: 1,
/// };
/// serve(&config, || RespServer::new(Limits::default()))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RespServer {
    store: SharedStore,
    tls: Option<std::sync::Arc<asyncore_runtime::tls::ServerConfig>>,
}

impl RespServer {
    /// A server with an empty store bounded by `limits`.
    pub fn new(limits: Limits) -> RespServer {
        RespServer {
            store: Store::shared(limits),
            tls: None,
        }
    }

    /// The same server speaking RESP over TLS (`Some`), as `redis-server --tls-port`:
    /// every connection is TLS from its first byte.
    pub fn with_tls(
        mut self,
        tls: Option<std::sync::Arc<asyncore_runtime::tls::ServerConfig>>,
    ) -> RespServer {
        self.tls = tls;
        self
    }

    /// The store its connections share.
    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }
}

impl Dispatcher for RespServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        ch.map()
            .set_linger(asyncore_runtime::DEFAULT_LINGER_TIMEOUT, LINGER_BYTES);
        let conn = resp::ServerChannel::new(RespConnection::new(self.store.clone()));
        match &self.tls {
            Some(tls) => ch.add_accepted_tls(sock, addr, tls.clone(), conn)?,
            None => ch.add_accepted(sock, addr, conn)?,
        };
        Ok(())
    }
}

/// Parses a size: bytes, or with a `k`/`kb`/`KiB`, `m`/`mb`/`MiB` or `g`/`gb`/`GiB`
/// suffix (powers of 1024, any case).
///
/// ```
/// use asyncore_examples::resp_server::parse_size;
/// assert_eq!(parse_size("100"), Some(100));
/// assert_eq!(parse_size("64mb"), Some(64 << 20));
/// assert_eq!(parse_size("1GiB"), Some(1 << 30));
/// assert_eq!(parse_size("lots"), None);
/// ```
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = s.split_at(digits);
    let n: usize = n.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1usize << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &mut Store, now: Instant, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        store.execute(&args, &mut Session::default(), now, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_counters_and_errors() {
        let mut s = Store::new(Limits::default());
        let t = Instant::now();
        assert_eq!(run(&mut s, t, &["SET", "a", "1"]), "+OK\r\n");
        assert_eq!(run(&mut s, t, &["incrby", "a", "41"]), ":42\r\n");
        assert_eq!(run(&mut s, t, &["APPEND", "a", "x"]), ":3\r\n");
        assert_eq!(
            run(&mut s, t, &["INCR", "a"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(run(&mut s, t, &["LPUSH", "l", "x", "y"]), ":2\r\n");
        assert_eq!(run(&mut s, t, &["GET", "l"]), format!("-{WRONGTYPE}\r\n"));
        assert_eq!(
            run(&mut s, t, &["LRANGE", "l", "0", "-1"]),
            "*2\r\n$1\r\ny\r\n$1\r\nx\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["SET", "n", "9223372036854775807"]),
            "+OK\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["INCR", "n"]),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["SET", "k", "v", "NX", "XX"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["SET", "k", "v", "EX", "0"]),
            "-ERR invalid expire time in 'set' command\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["client", "nope"]),
            "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["client", "setname"]),
            "-ERR wrong number of arguments for 'client|setname' command\r\n"
        );
        assert_eq!(
            run(&mut s, t, &["MSET", "a"]),
            "-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert_eq!(run(&mut s, t, &["DEL", "a", "l", "zz"]), ":2\r\n");
    }

    #[test]
    fn expiry_is_driven_by_deadlines_and_access() {
        let mut s = Store::new(Limits::default());
        let t = Instant::now();
        assert_eq!(run(&mut s, t, &["SET", "k", "v", "PX", "1000"]), "+OK\r\n");
        let pttl = run(&mut s, t, &["PTTL", "k"]);
        let left: i64 = pttl[1..pttl.len() - 2].parse().unwrap();
        assert!((900..=1000).contains(&left), "{pttl}");
        assert_eq!(s.volatile(), 1);
        // Access after the deadline: gone even before the timer removes it.
        let later = t + Duration::from_millis(1500);
        assert_eq!(run(&mut s, later, &["GET", "k"]), "$-1\r\n");
        assert_eq!(s.volatile(), 0);
        assert_eq!(run(&mut s, t, &["SET", "k", "v", "EX", "10"]), "+OK\r\n");
        assert_eq!(run(&mut s, t, &["PERSIST", "k"]), ":1\r\n");
        assert_eq!(run(&mut s, t, &["TTL", "k"]), ":-1\r\n");
        assert_eq!(run(&mut s, t, &["EXPIRE", "k", "-1"]), ":1\r\n");
        assert_eq!(run(&mut s, t, &["EXISTS", "k"]), ":0\r\n");
        assert!(s.is_empty());
        assert_eq!(s.used_memory(), 0);
    }

    /// The store's keys go when the loop's timer fires, earliest deadline first, and
    /// a deadline earlier than the armed one re-arms the timer.
    #[test]
    fn the_loop_timer_removes_due_keys() {
        struct Idle;
        impl Dispatcher for Idle {}
        let mut map = Map::new();
        // Timers run while the map has a channel.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        map.add(a.into(), Idle).unwrap();
        let shared = Store::shared(Limits::default());
        let set = |key: &str, px: &str| {
            let mut out = Vec::new();
            shared.borrow_mut().execute(
                &[b"SET", key.as_bytes(), b"v", b"PX", px.as_bytes()],
                &mut Session::default(),
                Instant::now(),
                &mut out,
            );
            assert_eq!(out, b"+OK\r\n");
        };
        set("late", "60000");
        Store::arm(&shared, &mut map);
        set("a", "30");
        set("b", "40");
        Store::arm(&shared, &mut map);
        assert_eq!(shared.borrow().len(), 3);
        let start = Instant::now();
        while shared.borrow().len() > 1 && start.elapsed() < Duration::from_secs(5) {
            map.poll_once(Some(Duration::from_millis(10)), Default::default())
                .unwrap();
        }
        let store = shared.borrow();
        assert_eq!(store.len(), 1, "the two short-lived keys are gone");
        assert_eq!(store.volatile(), 1);
        assert_eq!(store.stats.expired, 2);
        assert!(store.armed.is_some(), "armed again for the last key");
    }

    #[test]
    fn memory_limit_refuses_growth() {
        let mut s = Store::new(Limits {
            max_memory: 200,
            ..Limits::default()
        });
        let t = Instant::now();
        let big = "x".repeat(300);
        assert_eq!(run(&mut s, t, &["SET", "a", &big]), "+OK\r\n");
        assert_eq!(run(&mut s, t, &["SET", "b", "1"]), format!("-{OOM}\r\n"));
        assert_eq!(run(&mut s, t, &["GET", "b"]), "$-1\r\n");
        assert_eq!(run(&mut s, t, &["DEL", "a"]), ":1\r\n");
        assert_eq!(run(&mut s, t, &["SET", "b", "1"]), "+OK\r\n");
    }

    #[test]
    fn glob_edges() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXbYc"));
        assert!(!glob_match(b"a*b*c", b"aXbY"));
        assert!(glob_match(b"[a", b"a"));
        assert!(glob_match(b"[z-a]", b"m"));
        assert!(!glob_match(b"[]", b"a"));
        assert!(glob_match(b"[\\]]", b"]"));
        assert!(glob_match(b"?", b"x"));
        assert!(!glob_match(b"?", b""));
    }
}
