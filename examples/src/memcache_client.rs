//! A memcached client on the channel generated from
//! `protocols/descriptions/memcache.aproto` ([`memcache::ClientChannel`]).
//!
//! Commands are written in memcached's own text syntax (`get a b`, `set k 0 0 5` followed
//! by the 5 bytes of data, `incr n 1 noreply`...). A [`CommandParser`] reads them with the
//! description's decoder, so only commands the protocol has are sent, each re-encoded by
//! the generated encoder. [`MemcacheClient`] sends them all at once (pipelined) and
//! matches the replies to them: a retrieval or `stats` reply runs to its `END`, a
//! `noreply` command or `quit` has none.
//!
//! ```no_run
//! use asyncore_examples::memcache_client::{exchange, Command};
//! use std::time::Duration;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let commands = Command::parse_all(b"set greeting 0 0 5\r\nhello\r\nget greeting\r\n")?;
//! let addr = "127.0.0.1:11211".parse()?;
//! let responses = exchange(addr, Default::default(), commands, Duration::from_secs(5))?;
//! assert_eq!(responses[0].reply, b"STORED\r\n");
//! assert_eq!(responses[1].reply, b"VALUE greeting 0 5\r\nhello\r\nEND\r\n");
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::wire::{Decoded, Decoder};
use asyncore_runtime::{
    dispatcher, Addr, Backend, Channel, Dispatcher, Map, Result, TimerId, Token,
};

pub use crate::memcache_server::memcache;

use memcache::{ClientCx, ClientMessage, ServerMessage};

/// How many bytes of commands a client queues ahead of the replies it waits for.
pub const SEND_WINDOW: usize = 256 * 1024;

/// How many retrievals (`get`, `stats`...) a client leaves unanswered: their replies may
/// be large, and a server bounds what it holds for a client that does not read.
pub const RETRIEVALS_IN_FLIGHT: usize = 8;

/// The reply a command waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// None: a `noreply` command, or `quit`.
    Nothing,
    /// One line (`STORED`, `DELETED`, a number...).
    One,
    /// Lines up to `END` (or an error): `get`, `gets`, `gat`, `gats`, `stats`.
    UntilEnd,
}

/// One command, as the generated encoder writes it, and the reply it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    bytes: Vec<u8>,
    expect: Expect,
    quit: bool,
}

impl Command {
    /// The command for a message of the protocol.
    ///
    /// ```
    /// use asyncore_examples::memcache_client::{memcache, Command, Expect};
    /// let c = Command::from_message(&memcache::Delete { key: b"k", hold: false, noreply: false }.into()).unwrap();
    /// assert_eq!(c.bytes(), b"delete k\r\n");
    /// assert_eq!(c.expect(), Expect::One);
    /// ```
    pub fn from_message(msg: &ClientMessage<'_>) -> std::result::Result<Command, String> {
        let mut bytes = Vec::new();
        msg.encode(&mut bytes).map_err(|e| e.to_string())?;
        let noreply = |n: bool| if n { Expect::Nothing } else { Expect::One };
        let expect = match msg {
            ClientMessage::Get(_)
            | ClientMessage::Gets(_)
            | ClientMessage::Gat(_)
            | ClientMessage::Gats(_) => Expect::UntilEnd,
            ClientMessage::Stats(m) => match m.args.iter().next() {
                // `stats reset` answers `RESET`, `stats detail on|off` answers `OK`.
                Some(b"reset") => Expect::One,
                Some(b"detail") if m.args.len() > 1 => Expect::One,
                _ => Expect::UntilEnd,
            },
            ClientMessage::Set(m) => noreply(m.noreply),
            ClientMessage::Add(m) => noreply(m.noreply),
            ClientMessage::Replace(m) => noreply(m.noreply),
            ClientMessage::Append(m) => noreply(m.noreply),
            ClientMessage::Prepend(m) => noreply(m.noreply),
            ClientMessage::Cas(m) => noreply(m.noreply),
            ClientMessage::Delete(m) => noreply(m.noreply),
            ClientMessage::Incr(m) => noreply(m.noreply),
            ClientMessage::Decr(m) => noreply(m.noreply),
            ClientMessage::Touch(m) => noreply(m.noreply),
            ClientMessage::FlushAll(m) => noreply(m.noreply),
            ClientMessage::Verbosity(m) => noreply(m.noreply),
            ClientMessage::Version(_) => Expect::One,
            ClientMessage::Quit(_) => Expect::Nothing,
            _ => Expect::One,
        };
        Ok(Command {
            bytes,
            expect,
            quit: matches!(msg, ClientMessage::Quit(_)),
        })
    }

    /// Every command of `script` (command lines ending in `\r\n` or `\n`, each storage
    /// command followed by its data block and `\r\n`).
    ///
    /// ```
    /// use asyncore_examples::memcache_client::Command;
    /// let cmds = Command::parse_all(b"set a 0 0 1\n1\r\nget a\n").unwrap();
    /// assert_eq!(cmds[0].bytes(), b"set a 0 0 1\r\n1\r\n");
    /// assert_eq!(cmds[1].bytes(), b"get a\r\n");
    /// assert!(Command::parse_all(b"bogus\r\n").is_err());
    /// assert!(Command::parse_all(b"get a").is_err()); // unfinished
    /// ```
    pub fn parse_all(script: &[u8]) -> std::result::Result<Vec<Command>, String> {
        let mut parser = CommandParser::new();
        parser.push(script);
        let mut out = Vec::new();
        while let Some(c) = parser.next_command() {
            out.push(c?);
        }
        parser.finish()?;
        Ok(out)
    }

    /// The bytes sent.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The reply it waits for.
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// Whether it is `quit`.
    pub fn is_quit(&self) -> bool {
        self.quit
    }

    /// Decodes the command's bytes back into the protocol's message and gives it to `f`.
    fn with_message<R>(&self, f: impl FnOnce(ClientMessage<'_>) -> R) -> Option<R> {
        let mut decoder = ClientMessage::decoder();
        match decoder.decode(&self.bytes, memcache::CLIENT_MESSAGES_ALL) {
            Ok(Decoded::Message { index, .. }) => {
                ClientMessage::from_decoder(&decoder, &self.bytes, index).map(f)
            }
            _ => None,
        }
    }
}

/// Reads commands from a stream of bytes (standard input, a script) with the
/// description's decoder, as they become whole.
///
/// ```
/// use asyncore_examples::memcache_client::CommandParser;
/// let mut p = CommandParser::new();
/// p.push(b"get a\r\nset b 0 0 3\r\nab");
/// assert_eq!(p.next_command().unwrap().unwrap().bytes(), b"get a\r\n");
/// assert!(p.next_command().is_none()); // the data block is not whole yet
/// p.push(b"c\r\n");
/// assert_eq!(p.next_command().unwrap().unwrap().bytes(), b"set b 0 0 3\r\nabc\r\n");
/// assert!(p.finish().is_ok());
/// ```
#[derive(Debug)]
pub struct CommandParser {
    decoder: Decoder,
    buf: Vec<u8>,
    start: usize,
}

impl Default for CommandParser {
    fn default() -> Self {
        CommandParser::new()
    }
}

impl CommandParser {
    /// A parser with nothing buffered.
    pub fn new() -> CommandParser {
        CommandParser {
            decoder: ClientMessage::decoder(),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Appends input.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 && self.start > self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole command; `None` when more input is needed. An error names input
    /// that is not a command of the protocol; it is skipped (or, when the rest of the
    /// input cannot be read as commands any more, everything buffered is dropped).
    pub fn next_command(&mut self) -> Option<std::result::Result<Command, String>> {
        loop {
            let data = &self.buf[self.start..];
            if data.is_empty() {
                return None;
            }
            match self.decoder.decode(data, memcache::CLIENT_MESSAGES_ALL) {
                Ok(Decoded::NeedMore) => return None,
                Ok(Decoded::Skip { len }) => self.start += len,
                Ok(Decoded::Message { index, len }) => {
                    let cmd = ClientMessage::from_decoder(&self.decoder, &data[..len], index)
                        .ok_or_else(|| "a message the protocol does not have".to_string())
                        .and_then(|m| Command::from_message(&m));
                    self.start += len;
                    return Some(cmd);
                }
                Err(e) => {
                    if !e.can_continue() {
                        self.decoder.reset();
                        self.start = self.buf.len();
                    }
                    return Some(Err(format!("not a memcached command: {e}")));
                }
            }
        }
    }

    /// At the end of the input: an error if a command is unfinished.
    pub fn finish(&self) -> std::result::Result<(), String> {
        let rest = &self.buf[self.start..];
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unfinished command at the end of the input: {:?}",
                String::from_utf8_lossy(&rest[..rest.len().min(60)])
            ))
        }
    }
}

/// A command and the server's reply to it (every line, as the server sent it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The command's bytes; empty for a reply no command was waiting for.
    pub command: Vec<u8>,
    /// The reply's bytes.
    pub reply: Vec<u8>,
}

/// What a session left: the responses so far, and whether it is over.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The responses, in the order of the commands.
    pub responses: Vec<Response>,
    /// Every command sent has its reply, and the input is over.
    pub complete: bool,
    /// The server closed the connection.
    pub closed: bool,
    /// Why the connection closed, when it was an error (a refused connection...).
    pub error: Option<String>,
}

/// The client side of one connection: sends the queued commands once connected, matches
/// each reply to its command, and stops the loop when every reply is in (or the server
/// closes).
#[derive(Debug)]
pub struct MemcacheClient {
    to_send: VecDeque<Command>,
    waiting: VecDeque<Command>,
    current: Vec<u8>,
    outcome: Rc<RefCell<Outcome>>,
    print: bool,
    input_done: bool,
    opened: bool,
    quit_sent: bool,
}

impl MemcacheClient {
    /// A client that sends `commands`, then stops once their replies are in. With
    /// `print`, replies go to standard output as they arrive.
    pub fn new(commands: Vec<Command>, print: bool) -> MemcacheClient {
        MemcacheClient {
            to_send: commands.into(),
            waiting: VecDeque::new(),
            current: Vec::new(),
            outcome: Rc::default(),
            print,
            input_done: true,
            opened: false,
            quit_sent: false,
        }
    }

    /// A client whose commands arrive later through [`submit`](Self::submit), until
    /// [`end_input`](Self::end_input).
    pub fn streaming(print: bool) -> MemcacheClient {
        MemcacheClient {
            input_done: false,
            ..MemcacheClient::new(Vec::new(), print)
        }
    }

    /// The responses and state, shared: readable after the loop ends.
    pub fn outcome(&self) -> Rc<RefCell<Outcome>> {
        self.outcome.clone()
    }

    /// Sends `cmd` now if connected (it goes after everything sent before), or once
    /// connected. Commands after `quit` are dropped.
    pub fn submit(&mut self, ch: &mut Channel<'_>, cmd: Command) -> Result {
        if self.quit_sent {
            return Ok(());
        }
        if !self.opened || !self.to_send.is_empty() {
            // Before the connection is open, or behind commands waiting for the window.
            self.to_send.push_back(cmd);
            return Ok(());
        }
        // Outside a handler call there is no `ClientCx`: the bytes are the generated
        // encoder's, written to the channel directly.
        ch.send_buffered(&cmd.bytes)?;
        self.sent(cmd);
        Ok(())
    }

    /// No more commands: the loop stops once the last reply is in.
    pub fn end_input(&mut self, ch: &mut Channel<'_>) {
        self.input_done = true;
        self.maybe_finish(ch);
    }

    fn sent(&mut self, cmd: Command) {
        self.quit_sent |= cmd.quit;
        if cmd.expect != Expect::Nothing {
            self.waiting.push_back(cmd);
        }
    }

    /// Closes the connection (once what is queued is sent) when the input is over and
    /// every reply is in; the loop then ends with its last channel.
    fn maybe_finish(&mut self, ch: &mut Channel<'_>) {
        if self.input_done && self.to_send.is_empty() && self.waiting.is_empty() {
            self.outcome.borrow_mut().complete = true;
            ch.close_when_done();
        }
    }

    /// Sends queued commands while less than [`SEND_WINDOW`] bytes wait to be sent and
    /// fewer than [`RETRIEVALS_IN_FLIGHT`] retrievals are unanswered (all of them when no
    /// reply is awaited, as no reply would come to send the rest).
    fn pump(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        while !self.to_send.is_empty() {
            if self.quit_sent {
                self.to_send.clear();
                break;
            }
            if !self.waiting.is_empty() {
                let retrievals = self
                    .waiting
                    .iter()
                    .filter(|c| c.expect == Expect::UntilEnd)
                    .count();
                let next_retrieves = self
                    .to_send
                    .front()
                    .is_some_and(|c| c.expect == Expect::UntilEnd);
                if cx.waiting_output() >= SEND_WINDOW
                    || (next_retrieves && retrievals >= RETRIEVALS_IN_FLIGHT)
                {
                    break;
                }
            }
            let Some(cmd) = self.to_send.pop_front() else {
                break;
            };
            if let Some(r) = cmd.with_message(|msg| cx.send(msg)) {
                r?;
                self.sent(cmd);
            }
        }
        self.maybe_finish(cx.channel());
        Ok(())
    }

    /// One server message: part of the reply of the oldest command waiting.
    fn reply(&mut self, cx: &mut ClientCx<'_, '_>, msg: ServerMessage<'_>) -> Result {
        let start = self.current.len();
        msg.encode(&mut self.current)?;
        if self.print {
            let mut out = io::stdout().lock();
            out.write_all(&self.current[start..])?;
            out.flush()?;
        }
        let ends = match self.waiting.front().map(|c| c.expect) {
            Some(Expect::UntilEnd) => matches!(
                msg,
                ServerMessage::End(_)
                    | ServerMessage::Error(_)
                    | ServerMessage::ErrorReason(_)
                    | ServerMessage::ClientError(_)
                    | ServerMessage::ServerError(_)
            ),
            _ => true,
        };
        if ends {
            let command = self
                .waiting
                .pop_front()
                .map(|c| c.bytes)
                .unwrap_or_default();
            let reply = std::mem::take(&mut self.current);
            self.outcome
                .borrow_mut()
                .responses
                .push(Response { command, reply });
            self.pump(cx)?;
        }
        Ok(())
    }
}

#[dispatcher(protocol = memcache, role = client)]
impl MemcacheClient {
    fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        self.opened = true;
        self.pump(cx)
    }

    fn on_value(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Value<'_>) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_end(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::End) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_stored(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Stored) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_not_stored(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::NotStored) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_exists(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Exists) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_not_found(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::NotFound) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_deleted(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Deleted) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_touched(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Touched) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_ok(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Ok) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_reset(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Reset) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_number(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Number) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_stat(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Stat<'_>) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_error_reason(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: memcache::ErrorReason<'_>,
    ) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_prefix(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Prefix<'_>) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_cache_item(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::CacheItem<'_>) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_version_reply(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: memcache::VersionReply<'_>,
    ) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_error(&mut self, cx: &mut ClientCx<'_, '_>, msg: memcache::Error) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_client_error(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: memcache::ClientError<'_>,
    ) -> Result {
        self.reply(cx, msg.into())
    }
    fn on_server_error(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: memcache::ServerError<'_>,
    ) -> Result {
        self.reply(cx, msg.into())
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        let mut outcome = self.outcome.borrow_mut();
        outcome.closed = true;
        outcome.error = reason.map(|e| e.to_string());
        // After `quit` the server closes: that is the end, once the replies before it
        // are in.
        if self.quit_sent && self.waiting.is_empty() {
            outcome.complete = true;
        }
        cx.channel().map().stop();
    }
}

/// Sends `commands` to the server at `addr` (all at once), waits for every reply (at most
/// `timeout`), and returns the responses in order. An error if the connection fails, the
/// server closes before answering everything (except after `quit`), or time runs out.
pub fn exchange(
    addr: SocketAddr,
    backend: Backend,
    commands: Vec<Command>,
    timeout: Duration,
) -> io::Result<Vec<Response>> {
    let client = MemcacheClient::new(commands, false);
    let outcome = client.outcome();
    let mut map = Map::new();
    map.connect(&Addr::from(addr), memcache::ClientChannel::new(client))?;
    map.call_later(timeout, |map| map.stop());
    let r = map.run_with(Some(Duration::from_millis(100)), backend, None);
    map.close_all();
    r.map_err(|e| io::Error::other(e.to_string()))?;
    let outcome = std::mem::take(&mut *outcome.borrow_mut());
    if outcome.complete {
        Ok(outcome.responses)
    } else if outcome.closed {
        Err(closed_early(&outcome))
    } else {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no complete reply within {timeout:?}"),
        ))
    }
}

/// The error for a connection that closed before every reply came.
fn closed_early(outcome: &Outcome) -> io::Error {
    match &outcome.error {
        Some(e) => io::Error::new(io::ErrorKind::ConnectionAborted, e.clone()),
        None => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the server closed the connection after {} replies",
                outcome.responses.len()
            ),
        ),
    }
}

/// Standard input: commands are parsed as they arrive and sent to the client channel; at
/// the end of input the client stops once the last reply is in.
///
/// Reading pauses while more than [`SEND_WINDOW`] bytes wait to be sent to the server.
#[derive(Debug)]
pub struct StdinCommands {
    /// The client channel.
    pub to: Token,
    parser: CommandParser,
    /// Input that was not a command.
    pub errors: Rc<RefCell<Vec<String>>>,
    paused: bool,
}

impl StdinCommands {
    /// Forwards to the client channel `to`.
    pub fn new(to: Token) -> StdinCommands {
        StdinCommands {
            to,
            parser: CommandParser::new(),
            errors: Rc::default(),
            paused: false,
        }
    }

    /// Pauses reading while the client channel has more than [`SEND_WINDOW`] bytes to
    /// send, looking again every 10 ms.
    fn check_window(&mut self, ch: &mut Channel<'_>) {
        let to = self.to;
        let pending = ch
            .map()
            .with_channel(to, |c| c.pending_output())
            .unwrap_or(0);
        self.paused = pending > SEND_WINDOW;
        if self.paused {
            ch.set_timer(Duration::from_millis(10));
        }
    }

    fn with_client(
        ch: &mut Channel<'_>,
        to: Token,
        f: impl FnOnce(&mut MemcacheClient, &mut Channel<'_>) -> Result,
    ) -> Result {
        ch.map()
            .with::<memcache::ClientChannel<MemcacheClient>, _>(to, |c, ch| f(&mut c.handler, ch))
            .unwrap_or(Ok(()))
    }
}

impl Dispatcher for StdinCommands {
    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        !self.paused
    }

    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn handle_timer(&mut self, ch: &mut Channel<'_>, _id: TimerId) -> Result {
        self.check_window(ch);
        Ok(())
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        let n = ch.recv(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        self.parser.push(&buf[..n]);
        while let Some(cmd) = self.parser.next_command() {
            match cmd {
                Ok(cmd) => {
                    let to = self.to;
                    Self::with_client(ch, to, |c, ch| c.submit(ch, cmd))?;
                }
                Err(e) => {
                    eprintln!("memcache-client: {e}");
                    self.errors.borrow_mut().push(e);
                }
            }
        }
        self.check_window(ch);
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<io::Error>) -> Result {
        if let Err(e) = self.parser.finish() {
            eprintln!("memcache-client: {e}");
            self.errors.borrow_mut().push(e);
        }
        let to = self.to;
        Self::with_client(ch, to, |c, ch| {
            c.end_input(ch);
            Ok(())
        })?;
        ch.close();
        Ok(())
    }
}

/// The commands given as arguments: each word is a command line; a storage command
/// (`set`, `add`, `replace`, `append`, `prepend`, `cas`) takes the next word as its data
/// block.
///
/// ```
/// use asyncore_examples::memcache_client::commands_from_args;
/// let words = ["set k 0 0 2", "hi", "get k"].map(String::from);
/// let cmds = commands_from_args(&words).unwrap();
/// assert_eq!(cmds[0].bytes(), b"set k 0 0 2\r\nhi\r\n");
/// assert_eq!(cmds[1].bytes(), b"get k\r\n");
/// ```
pub fn commands_from_args(words: &[String]) -> std::result::Result<Vec<Command>, String> {
    let mut script = Vec::new();
    let mut it = words.iter();
    while let Some(line) = it.next() {
        script.extend_from_slice(line.as_bytes());
        script.extend_from_slice(b"\r\n");
        let verb = line.split(' ').next().unwrap_or("");
        if matches!(
            verb,
            "set" | "add" | "replace" | "append" | "prepend" | "cas"
        ) {
            let data = it
                .next()
                .ok_or_else(|| format!("`{line}` needs its data as the next argument"))?;
            script.extend_from_slice(data.as_bytes());
            script.extend_from_slice(b"\r\n");
        }
    }
    Command::parse_all(&script)
}

/// Runs the command-line client: connects to `addr`, sends `commands` (or, when there
/// are none, what standard input holds), prints the replies; returns once every reply is
/// in, or the server closes. `Ok(false)` when some input was not a command; an error when
/// the connection fails or closes before every reply came.
pub fn run(addr: SocketAddr, backend: Backend, commands: Vec<Command>) -> io::Result<bool> {
    let mut map = Map::new();
    let from_stdin = commands.is_empty();
    let client = if from_stdin {
        MemcacheClient::streaming(true)
    } else {
        MemcacheClient::new(commands, true)
    };
    let outcome = client.outcome();
    let token = map.connect(&Addr::from(addr), memcache::ClientChannel::new(client))?;
    let errors = if from_stdin {
        let stdin = StdinCommands::new(token);
        let errors = stdin.errors.clone();
        map.add_file(io::stdin(), stdin)?;
        errors
    } else {
        Rc::default()
    };
    let r = map.run_with(Some(asyncore_runtime::DEFAULT_TIMEOUT), backend, None);
    map.close_all();
    r.map_err(|e| io::Error::other(e.to_string()))?;
    let outcome = outcome.borrow();
    if !outcome.complete {
        return Err(closed_early(&outcome));
    }
    let ok = errors.borrow().is_empty();
    Ok(ok)
}
