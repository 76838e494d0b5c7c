//! A RESP2 and RESP3 client on the channel generated from
//! `protocols/descriptions/resp.aproto`: commands go out through the generated `Command`
//! encoder, replies come in as the generated messages (`Simple`, `Error`, `Integer`,
//! `Bulk`, `Nil`, `Array`, `NilArray`, and after `HELLO 3` RESP3's `Null`, `Map`, `Set`,
//! `Double`, `Verbatim`) and are put back together into [`Reply`] trees (an array arrives as its
//! header, then its elements, each of which may be an array) and printed as `redis-cli`
//! prints them.
//!
//! [`run_script`] runs a list of commands and returns the replies (what the tests use);
//! [`run`] is the `resp-client` program: one command from the command line, or one per
//! line of standard input.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::{dispatcher, Addr, Backend, Channel, Dispatcher, Map, Result, Token};

pub use crate::resp_server::resp;
use resp::ClientCx;

/// The deepest nesting of arrays the client accepts in a reply (hiredis accepts 7).
pub const MAX_DEPTH: usize = 512;

/// The longest line of standard input (a command), in bytes.
pub const MAX_INPUT_LINE: usize = 64 * 1024 * 1024;

/// A whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(Vec<u8>),
    /// `-ERR ...`
    Error(Vec<u8>),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello\r\n`
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// `*N` and its N elements.
    Array(Vec<Reply>),
    /// `*-1`
    NilArray,
    /// RESP3's null, `_`.
    Null,
    /// RESP3's `%N`: the keys and values in order (key, value, key, value, ...).
    Map(Vec<Reply>),
    /// RESP3's `~N` and its members.
    Set(Vec<Reply>),
    /// RESP3's `,1.5`: the number as the server wrote it.
    Double(Vec<u8>),
    /// RESP3's verbatim string `=N\r\ntxt:...`: its data, the format's four bytes
    /// first.
    Verbatim(Vec<u8>),
}

impl Reply {
    /// A bulk string reply.
    ///
    /// ```
    /// use asyncore_examples::resp_client::Reply;
    /// assert_eq!(Reply::bulk("v"), Reply::Bulk(b"v".to_vec()));
    /// ```
    pub fn bulk(data: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(data.as_ref().to_vec())
    }

    /// A simple string reply.
    pub fn simple(text: &str) -> Reply {
        Reply::Simple(text.as_bytes().to_vec())
    }

    /// An error reply.
    pub fn error(text: &str) -> Reply {
        Reply::Error(text.as_bytes().to_vec())
    }

    /// The reply as `redis-cli` prints it on a terminal (or with `--no-raw`), one
    /// `\n`-terminated line per scalar.
    ///
    /// ```
    /// use asyncore_examples::resp_client::Reply;
    /// let r = Reply::Array(vec![
    ///     Reply::bulk("a"),
    ///     Reply::Array(vec![Reply::Integer(1), Reply::Nil]),
    ///     Reply::Array(vec![]),
    /// ]);
    /// assert_eq!(r.to_cli(), "1) \"a\"\n2) 1) (integer) 1\n   2) (nil)\n3) (empty array)\n");
    /// assert_eq!(Reply::error("ERR x").to_cli(), "(error) ERR x\n");
    /// assert_eq!(Reply::bulk("a\"b\n\x01").to_cli(), "\"a\\\"b\\n\\x01\"\n");
    /// ```
    pub fn to_cli(&self) -> String {
        let mut out = String::new();
        self.format(&mut out, "");
        out
    }

    /// The reply as `redis-cli` prints it in raw mode (`cliFormatReplyRaw`): strings as
    /// they are, integers as digits, nothing for nil, array elements one per line.
    ///
    /// ```
    /// use asyncore_examples::resp_client::Reply;
    /// let r = Reply::Array(vec![Reply::bulk("a"), Reply::Integer(2), Reply::Nil]);
    /// assert_eq!(r.to_raw(), b"a\n2\n");
    /// assert_eq!(Reply::bulk("# Server\r\nx:1\r\n").to_raw(), b"# Server\r\nx:1\r\n");
    /// ```
    pub fn to_raw(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.raw(&mut out);
        out
    }

    fn raw(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Nil | Reply::NilArray | Reply::Null => {}
            Reply::Double(t) => out.extend_from_slice(t),
            Reply::Verbatim(t) => out.extend_from_slice(verbatim_text(t)),
            Reply::Map(items) => {
                for (i, pair) in items.chunks(2).enumerate() {
                    if i > 0 {
                        out.push(b'\n');
                    }
                    pair[0].raw(out);
                    out.push(b' ');
                    if let Some(v) = pair.get(1) {
                        v.raw(out);
                    }
                }
            }
            Reply::Error(t) => {
                out.extend_from_slice(t);
                out.push(b'\n');
            }
            Reply::Simple(t) | Reply::Bulk(t) => out.extend_from_slice(t),
            Reply::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Reply::Array(items) | Reply::Set(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b'\n');
                    }
                    item.raw(out);
                }
            }
        }
    }

    /// What `redis-cli` prints for this reply to `command` on a terminal: the raw form
    /// for the commands it shows raw (`INFO`, `CLIENT LIST`, `CLIENT INFO`, `CLUSTER
    /// NODES`, `CLUSTER INFO`, `MEMORY DOCTOR`, `LATENCY DOCTOR`, `LOLWUT`), otherwise
    /// [`to_cli`](Self::to_cli).
    ///
    /// ```
    /// use asyncore_examples::resp_client::Reply;
    /// let info = Reply::bulk("# Keyspace\r\n");
    /// assert_eq!(info.to_cli_for(&[b"info".to_vec()]), b"# Keyspace\r\n");
    /// assert_eq!(info.to_cli_for(&[b"get".to_vec(), b"k".to_vec()]), b"\"# Keyspace\\r\\n\"\n");
    /// ```
    pub fn to_cli_for(&self, command: &[Vec<u8>]) -> Vec<u8> {
        if shown_raw(command) {
            self.to_raw()
        } else {
            self.to_cli().into_bytes()
        }
    }

    /// `cliFormatReplyTTY`: `prefix` is what each element after the first of an array
    /// starts with (the first follows its parent's index).
    fn format(&self, out: &mut String, prefix: &str) {
        match self {
            Reply::Simple(t) => {
                out.push_str(&String::from_utf8_lossy(t));
                out.push('\n');
            }
            Reply::Error(t) => {
                out.push_str("(error) ");
                out.push_str(&String::from_utf8_lossy(t));
                out.push('\n');
            }
            Reply::Integer(i) => {
                out.push_str(&format!("(integer) {i}\n"));
            }
            Reply::Bulk(b) => {
                repr(out, b);
                out.push('\n');
            }
            Reply::Nil | Reply::NilArray | Reply::Null => out.push_str("(nil)\n"),
            Reply::Double(t) => {
                out.push_str("(double) ");
                out.push_str(&String::from_utf8_lossy(t));
                out.push('\n');
            }
            Reply::Verbatim(t) => out.push_str(&String::from_utf8_lossy(verbatim_text(t))),
            Reply::Array(items) if items.is_empty() => out.push_str("(empty array)\n"),
            Reply::Map(items) if items.is_empty() => out.push_str("(empty hash)\n"),
            Reply::Set(items) if items.is_empty() => out.push_str("(empty set)\n"),
            Reply::Array(items) => format_aggregate(out, prefix, items, ')', false),
            Reply::Set(items) => format_aggregate(out, prefix, items, '~', false),
            Reply::Map(items) => format_aggregate(out, prefix, items, '#', true),
        }
    }
}

/// Whether `redis-cli` prints the reply to `command` raw even on a terminal (`INFO`,
/// `CLIENT LIST`, ...).
///
/// ```
/// use asyncore_examples::resp_client::shown_raw;
/// assert!(shown_raw(&[b"INFO".to_vec(), b"server".to_vec()]));
/// assert!(!shown_raw(&[b"GET".to_vec(), b"info".to_vec()]));
/// ```
pub fn shown_raw(command: &[Vec<u8>]) -> bool {
    let is = |i: usize, name: &str| {
        command
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
    };
    let n = command.len();
    is(0, "info")
        || is(0, "lolwut")
        || (n >= 2 && is(0, "client") && (is(1, "list") || is(1, "info")))
        || (n == 2 && is(0, "cluster") && (is(1, "nodes") || is(1, "info")))
        || (n >= 2 && is(0, "memory") && (is(1, "doctor") || is(1, "malloc-stats")))
        || (n == 2 && is(0, "latency") && is(1, "doctor"))
}

/// The text of a verbatim string, after its format's four bytes (`txt:`).
fn verbatim_text(data: &[u8]) -> &[u8] {
    data.get(4..).unwrap_or_default()
}

/// `cliFormatReplyTTY` for an array (`1)`), a set (`1~`) or a map (`1#`, each key
/// followed by ` => ` and its value): `prefix` is what each element after the first
/// starts with.
fn format_aggregate(out: &mut String, prefix: &str, items: &[Reply], sep: char, map: bool) {
    let count = if map { items.len() / 2 } else { items.len() };
    let width = count.to_string().len();
    let inner = format!("{prefix}{}", " ".repeat(width + 2));
    let step = if map { 2 } else { 1 };
    for (i, entry) in items.chunks(step).enumerate() {
        if i > 0 {
            out.push_str(prefix);
        }
        out.push_str(&format!("{:>width$}{sep} ", i + 1));
        entry[0].format(out, &inner);
        if let Some(value) = entry.get(1) {
            // The key's line ends where its value begins; a value of several lines
            // begins on the next line, indented.
            out.pop();
            out.push_str(" => ");
            let mut text = String::new();
            value.format(&mut text, &inner);
            if text.matches('\n').count() > 1 {
                out.push('\n');
                out.push_str(&inner);
            }
            out.push_str(&text);
        }
    }
}

/// `sdscatrepr`: a quoted string with C escapes.
fn repr(out: &mut String, b: &[u8]) {
    out.push('"');
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
}

/// Puts replies back together from the generated messages: an `Array` header opens an
/// array, which is complete once its elements (themselves possibly arrays) have come.
///
/// ```
/// use asyncore_examples::resp_client::{Assembler, Reply};
/// let mut a = Assembler::default();
/// assert_eq!(a.open_array(2), Ok(None));
/// assert_eq!(a.push(Reply::Integer(1)), None);
/// assert_eq!(
///     a.open_array(0),
///     Ok(Some(Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![])])))
/// );
/// assert_eq!(a.push(Reply::Nil), Some(Reply::Nil));
/// ```
#[derive(Debug, Default)]
pub struct Assembler {
    /// The open arrays, maps and sets: how many elements each expects, those that
    /// came, and which it is.
    open: Vec<(usize, Vec<Reply>, Aggregate)>,
}

/// The kinds of reply that hold others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Array,
    Map,
    Set,
}

impl Aggregate {
    fn reply(self, items: Vec<Reply>) -> Reply {
        match self {
            Aggregate::Array => Reply::Array(items),
            Aggregate::Map => Reply::Map(items),
            Aggregate::Set => Reply::Set(items),
        }
    }
}

impl Assembler {
    /// Adds a scalar (or a finished array); the whole reply if this completes one.
    pub fn push(&mut self, reply: Reply) -> Option<Reply> {
        let mut reply = reply;
        loop {
            let Some((want, items, _)) = self.open.last_mut() else {
                return Some(reply);
            };
            items.push(reply);
            if items.len() < *want {
                return None;
            }
            let (_, items, kind) = self.open.pop()?;
            reply = kind.reply(items);
        }
    }

    /// Opens an array of `len` elements; the whole reply if this completes one (an
    /// empty array is complete at once). Nesting deeper than [`MAX_DEPTH`] is an error.
    pub fn open_array(&mut self, len: usize) -> std::result::Result<Option<Reply>, String> {
        self.open(Aggregate::Array, len)
    }

    /// Opens a RESP3 map of `pairs` keys and values, as [`open_array`](Self::open_array).
    pub fn open_map(&mut self, pairs: usize) -> std::result::Result<Option<Reply>, String> {
        self.open(Aggregate::Map, pairs.saturating_mul(2))
    }

    /// Opens a RESP3 set of `len` members, as [`open_array`](Self::open_array).
    pub fn open_set(&mut self, len: usize) -> std::result::Result<Option<Reply>, String> {
        self.open(Aggregate::Set, len)
    }

    fn open(&mut self, kind: Aggregate, len: usize) -> std::result::Result<Option<Reply>, String> {
        if len == 0 {
            return Ok(self.push(kind.reply(Vec::new())));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(format!("reply nested deeper than {MAX_DEPTH} arrays"));
        }
        self.open
            .push((len, Vec::with_capacity(len.min(1024)), kind));
        Ok(None)
    }

    /// Whether an array is open (a reply is under way).
    pub fn in_progress(&self) -> bool {
        !self.open.is_empty()
    }
}

/// What the client has sent and received, shared with the code that feeds it commands.
#[derive(Debug, Default)]
pub struct Progress {
    /// Commands sent.
    pub sent: usize,
    /// For each command awaiting its reply, oldest first: whether `redis-cli` prints
    /// its reply raw (see [`shown_raw`]).
    pub awaiting_raw: std::collections::VecDeque<bool>,
    /// Replies kept (when not printing).
    pub replies: Vec<Reply>,
    /// Replies received.
    pub received: usize,
    /// No more commands will come: close once every reply is in.
    pub input_done: bool,
    /// Why the connection failed or closed early, if it did.
    pub error: Option<String>,
    /// Whether the connection closed.
    pub closed: bool,
}

/// Shared [`Progress`].
pub type SharedProgress = Rc<RefCell<Progress>>;

/// The client side of the RESP description: counts and reassembles the replies, prints
/// them or keeps them in [`Progress::replies`], and closes once the input is done and
/// every command has its reply.
#[derive(Debug)]
pub struct RespClient {
    progress: SharedProgress,
    assembler: Assembler,
    /// Commands to send once connected.
    initial: Vec<Vec<Vec<u8>>>,
    print: bool,
}

impl RespClient {
    /// A client that sends `commands` once connected, then whatever [`send_command`]
    /// adds. With `print`, each reply is printed to standard output as `redis-cli`
    /// prints it; otherwise it is kept in `progress`.
    pub fn new(commands: Vec<Vec<Vec<u8>>>, print: bool, progress: SharedProgress) -> Self {
        RespClient {
            progress,
            assembler: Assembler::default(),
            initial: commands,
            print,
        }
    }

    /// After an array, map or set header: the reply if it was empty and ends one.
    fn opened(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        opened: std::result::Result<Option<Reply>, String>,
    ) -> Result {
        match opened {
            Ok(Some(done)) => self.deliver(cx, done),
            Ok(None) => Ok(()),
            Err(e) => {
                self.progress.borrow_mut().error = Some(e);
                cx.close();
                Ok(())
            }
        }
    }

    fn reply(&mut self, cx: &mut ClientCx<'_, '_>, reply: Reply) -> Result {
        match self.assembler.push(reply) {
            Some(done) => self.deliver(cx, done),
            None => Ok(()),
        }
    }

    /// Prints or keeps a whole reply; closes once the input is done and every command
    /// has its reply.
    fn deliver(&mut self, cx: &mut ClientCx<'_, '_>, done: Reply) -> Result {
        let mut p = self.progress.borrow_mut();
        let raw = p.awaiting_raw.pop_front().unwrap_or(false);
        if self.print {
            let text = if raw {
                done.to_raw()
            } else {
                done.to_cli().into_bytes()
            };
            let mut out = io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
        p.received += 1;
        if !self.print {
            p.replies.push(done);
        }
        if p.input_done && p.received >= p.sent {
            cx.close();
        }
        Ok(())
    }
}

/// Encodes a command as the generated `Command` message (an array of bulk strings).
///
/// ```
/// let mut out = Vec::new();
/// asyncore_examples::resp_client::encode_command(&[b"GET".to_vec(), b"k".to_vec()], &mut out).unwrap();
/// assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// ```
pub fn encode_command(
    args: &[Vec<u8>],
    out: &mut Vec<u8>,
) -> std::result::Result<(), asyncore_runtime::wire::EncodeError> {
    let items: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    resp::Command {
        args: asyncore_runtime::wire::Seq::from(&items[..]),
    }
    .encode(out)
}

/// Sends one more command on the client channel `token` of `map` (from outside the
/// channel's handlers, e.g. from standard input).
pub fn send_command(
    map: &mut Map,
    token: Token,
    progress: &SharedProgress,
    args: &[Vec<u8>],
) -> Result {
    let mut out = Vec::new();
    encode_command(args, &mut out)?;
    map.send_to(token, &out)?;
    let mut p = progress.borrow_mut();
    p.sent += 1;
    p.awaiting_raw.push_back(shown_raw(args));
    Ok(())
}

#[dispatcher(protocol = resp, role = client)]
impl RespClient {
    fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let commands = std::mem::take(&mut self.initial);
        for args in &commands {
            let items: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            cx.send(resp::Command {
                args: asyncore_runtime::wire::Seq::from(&items[..]),
            })?;
        }
        let mut p = self.progress.borrow_mut();
        p.sent += commands.len();
        p.awaiting_raw.extend(commands.iter().map(|c| shown_raw(c)));
        if p.input_done && p.received >= p.sent {
            cx.close();
        }
        Ok(())
    }

    fn on_simple(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Simple<'_>) -> Result {
        self.reply(cx, Reply::Simple(msg.text.to_vec()))
    }

    fn on_error(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Error<'_>) -> Result {
        self.reply(cx, Reply::Error(msg.text.to_vec()))
    }

    fn on_integer(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Integer) -> Result {
        self.reply(cx, Reply::Integer(msg.value))
    }

    fn on_bulk(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Bulk<'_>) -> Result {
        self.reply(cx, Reply::Bulk(msg.data.to_vec()))
    }

    fn on_nil(&mut self, cx: &mut ClientCx<'_, '_>, _msg: resp::Nil) -> Result {
        self.reply(cx, Reply::Nil)
    }

    fn on_array(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Array) -> Result {
        let opened = self.assembler.open_array(msg.count as usize);
        self.opened(cx, opened)
    }

    fn on_map(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Map) -> Result {
        let opened = self.assembler.open_map(msg.count as usize);
        self.opened(cx, opened)
    }

    fn on_set(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Set) -> Result {
        let opened = self.assembler.open_set(msg.count as usize);
        self.opened(cx, opened)
    }

    fn on_null(&mut self, cx: &mut ClientCx<'_, '_>, _msg: resp::Null) -> Result {
        self.reply(cx, Reply::Null)
    }

    fn on_double(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Double<'_>) -> Result {
        self.reply(cx, Reply::Double(msg.text.to_vec()))
    }

    fn on_verbatim(&mut self, cx: &mut ClientCx<'_, '_>, msg: resp::Verbatim<'_>) -> Result {
        self.reply(cx, Reply::Verbatim(msg.data.to_vec()))
    }

    fn on_nil_array(&mut self, cx: &mut ClientCx<'_, '_>, _msg: resp::NilArray) -> Result {
        self.reply(cx, Reply::NilArray)
    }

    fn on_bad_input(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        err: &asyncore_runtime::wire::DecodeError,
    ) {
        self.progress.borrow_mut().error = Some(format!("bad reply from the server: {err}"));
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        let mut p = self.progress.borrow_mut();
        p.closed = true;
        if let Some(e) = reason {
            p.error.get_or_insert_with(|| e.to_string());
        }
        drop(p);
        cx.channel().map().stop();
    }
}

/// The generated client channel, with the error that ends a connection (a refused
/// connect, a failed send) kept in [`Progress::error`]: the generated channel reports such
/// a close to `on_close` without its reason.
struct Connection {
    inner: resp::ClientChannel<RespClient>,
    progress: SharedProgress,
}

impl Connection {
    fn new(client: RespClient) -> Connection {
        Connection {
            progress: client.progress.clone(),
            inner: resp::ClientChannel::new(client),
        }
    }
}

impl Dispatcher for Connection {
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
    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        self.inner.handle_close(ch, reason)
    }
    fn handle_error(&mut self, ch: &mut Channel<'_>, err: asyncore_runtime::Error) -> Result {
        let connected = ch.connected();
        self.progress.borrow_mut().error.get_or_insert_with(|| {
            if connected {
                err.to_string()
            } else {
                format!("could not connect: {err}")
            }
        });
        self.inner.handle_error(ch, err)
    }
    fn handle_timer(&mut self, ch: &mut Channel<'_>, id: asyncore_runtime::TimerId) -> Result {
        self.inner.handle_timer(ch, id)
    }
    fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_idle(ch)
    }
}

/// Connects to `addr`, sends `commands` (pipelined) and returns the replies, in order.
/// Fewer replies than commands means the server closed the connection first (after
/// `QUIT`, for example); an error means the connection failed, a reply could not be
/// decoded, or `timeout` passed.
///
/// ```no_run
/// use std::time::Duration;
/// use asyncore_examples::resp_client::{run_script, Reply};
/// use asyncore_runtime::Backend;
/// let addr = "127.0.0.1:6379".parse::<std::net::SocketAddr>().unwrap().into();
/// let replies = run_script(&addr, &[vec![b"PING".to_vec()]], Backend::default(), Duration::from_secs(5))?;
/// assert_eq!(replies, [Reply::simple("PONG")]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn run_script(
    addr: &Addr,
    commands: &[Vec<Vec<u8>>],
    backend: Backend,
    timeout: Duration,
) -> io::Result<Vec<Reply>> {
    let progress = SharedProgress::default();
    progress.borrow_mut().input_done = true;
    let client = RespClient::new(commands.to_vec(), false, progress.clone());
    let mut map = Map::new();
    map.connect(addr, Connection::new(client))?;
    let deadline = Instant::now() + timeout;
    while !map.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            map.close_all();
            let p = progress.borrow();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} of {} replies after {timeout:?}",
                    p.received,
                    commands.len()
                ),
            ));
        }
        map.run_with(Some(left.min(Duration::from_millis(100))), backend, Some(1))
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    let mut p = progress.borrow_mut();
    if let Some(e) = p.error.take() {
        if p.received == 0 || e.starts_with("bad reply") {
            return Err(io::Error::other(e));
        }
    }
    Ok(std::mem::take(&mut p.replies))
}

/// Splits a line into arguments as `redis-cli` does (`sdssplitargs`): words separated
/// by spaces, `"..."` with `\n`, `\r`, `\t`, `\b`, `\a`, `\xHH` and `\"` escapes, and
/// `'...'` with `\'`. `None` for unbalanced quotes.
///
/// ```
/// use asyncore_examples::resp_client::split_args;
/// assert_eq!(
///     split_args(r#"set "a b" 'c d' "\x41\n""#),
///     Some(vec![b"set".to_vec(), b"a b".to_vec(), b"c d".to_vec(), b"A\n".to_vec()])
/// );
/// assert_eq!(split_args(r#"get "open"#), None);
/// assert_eq!(split_args("   "), Some(vec![]));
/// ```
pub fn split_args(line: &str) -> Option<Vec<Vec<u8>>> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut args = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            if in_dq {
                match b.get(i) {
                    None => return None,
                    Some(b'\\')
                        if i + 3 < b.len()
                            && b[i + 1] == b'x'
                            && b[i + 2].is_ascii_hexdigit()
                            && b[i + 3].is_ascii_hexdigit() =>
                    {
                        cur.push(hex(b[i + 2]) * 16 + hex(b[i + 3]));
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        i += 1;
                        cur.push(match b[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            c => c,
                        });
                    }
                    Some(b'"') => {
                        // The closing quote must be followed by a space or the end.
                        if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(&c) => cur.push(c),
                }
            } else if in_sq {
                match b.get(i) {
                    None => return None,
                    Some(b'\\') if b.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(&c) => cur.push(c),
                }
            } else {
                match b.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(&c) => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// Standard input: each line is a command, sent on the client channel; at the end of
/// input, the client closes once every reply has come.
#[derive(Debug)]
struct StdinCommands {
    to: Token,
    progress: SharedProgress,
    line: Vec<u8>,
}

impl StdinCommands {
    fn line(&mut self, map: &mut Map, line: &[u8]) -> Result {
        let text = String::from_utf8_lossy(line);
        match split_args(text.trim_end_matches('\r')) {
            Some(args) if args.is_empty() => Ok(()),
            Some(args) => send_command(map, self.to, &self.progress, &args),
            None => {
                eprintln!("Invalid argument(s)");
                Ok(())
            }
        }
    }

    fn finish(&mut self, map: &mut Map) {
        let mut p = self.progress.borrow_mut();
        p.input_done = true;
        if p.received >= p.sent {
            drop(p);
            map.close(self.to);
        }
    }
}

impl Dispatcher for StdinCommands {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        let n = ch.recv(&mut buf)?;
        let mut rest = &buf[..n];
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&rest[..pos]);
            self.line(ch.map(), &line)?;
            rest = &rest[pos + 1..];
        }
        if self.line.len() + rest.len() > MAX_INPUT_LINE {
            return Err(format!("an input line is longer than {MAX_INPUT_LINE} bytes").into());
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<io::Error>) -> Result {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.line(ch.map(), &line)?;
        }
        self.finish(ch.map());
        ch.close();
        Ok(())
    }
}

/// The `resp-client` program: connects to `addr`; sends `command` if it is not empty,
/// otherwise one command per line of standard input; prints every reply as `redis-cli`
/// does. Returns an error when the connection fails or breaks before every reply came.
pub fn run(addr: &Addr, backend: Backend, command: Vec<Vec<u8>>) -> io::Result<()> {
    let progress = SharedProgress::default();
    let mut map = Map::new();
    let from_stdin = command.is_empty();
    let initial = if from_stdin {
        Vec::new()
    } else {
        vec![command]
    };
    progress.borrow_mut().input_done = !from_stdin;
    let client = RespClient::new(initial, true, progress.clone());
    let token = map.connect(addr, Connection::new(client))?;
    let stdin = if from_stdin {
        Some(map.add_file(
            io::stdin(),
            StdinCommands {
                to: token,
                progress: progress.clone(),
                line: Vec::new(),
            },
        )?)
    } else {
        None
    };
    map.run_with(Some(asyncore_runtime::DEFAULT_TIMEOUT), backend, None)
        .map_err(|e| io::Error::other(e.to_string()))?;
    if let Some(t) = stdin {
        map.close(t);
    }
    map.close_all();
    let p = progress.borrow();
    if let (Some(e), 0) = (&p.error, p.sent) {
        return Err(io::Error::other(e.clone()));
    }
    if p.received < p.sent {
        let why = match &p.error {
            Some(e) => format!(": {e}"),
            None => String::new(),
        };
        return Err(io::Error::other(format!(
            "the connection closed with {} of {} replies received{why}",
            p.received, p.sent
        )));
    }
    Ok(())
}
