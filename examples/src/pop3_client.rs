//! A POP3 client on the channel generated from `protocols/descriptions/pop3.aproto`: it
//! logs in with `USER` and `PASS`, runs one command (`LIST`, `RETR n` or `DELE n`) and
//! says `QUIT`.
//!
//! The generated client role reads each reply knowing the request it answers (a `+OK`
//! after `RETR` is followed by the message's lines, one after `DELE` is not), undoes the
//! dot-stuffing, and follows the server's state: `+OK` to `PASS` opens the transaction
//! state. A message is returned as it came, with CRLF line ends. A deletion is reported
//! only once the server has answered `QUIT` with `+OK`: POP3 removes messages then.
//!
//! ```no_run
//! use asyncore_examples::pop3_client::{run, Command, Options, Outcome};
//! let addr: std::net::SocketAddr = "127.0.0.1:1110".parse().unwrap();
//! match run(&addr.into(), "alice", "secret", Command::List, &Options::default())? {
//!     Outcome::List(list) => for (n, size) in list { println!("{n} {size}") },
//!     _ => unreachable!(),
//! }
//! # Ok::<(), asyncore_examples::pop3_client::Pop3Error>(())
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::wire::DecodeError;
use asyncore_runtime::{dispatcher, Addr, Backend, Map, Result};

pub use crate::pop3_server::pop3;
use pop3::ClientCx;

/// The most messages a scan listing may have.
pub const MAX_LISTING: usize = 1_000_000;

/// What to do once logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `LIST`: every message's number and size.
    List,
    /// `RETR n`: message `n`.
    Retr(u32),
    /// `DELE n`: remove message `n` (at `QUIT`).
    Dele(u32),
}

impl Command {
    /// Parses the command words `list`, `retr N` or `dele N` (any case).
    ///
    /// ```
    /// use asyncore_examples::pop3_client::Command;
    /// assert_eq!(Command::parse(&["list"]), Ok(Command::List));
    /// assert_eq!(Command::parse(&["RETR", "2"]), Ok(Command::Retr(2)));
    /// assert!(Command::parse(&["dele"]).is_err());
    /// assert!(Command::parse(&["retr", "0"]).is_err());
    /// ```
    pub fn parse<S: AsRef<str>>(words: &[S]) -> std::result::Result<Command, String> {
        let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
        let number = |w: &str| {
            w.parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("a message number is a number from 1, not `{w}`"))
        };
        match words.as_slice() {
            [c] if c.eq_ignore_ascii_case("list") => Ok(Command::List),
            [c, n] if c.eq_ignore_ascii_case("retr") => Ok(Command::Retr(number(n)?)),
            [c, n] if c.eq_ignore_ascii_case("dele") => Ok(Command::Dele(number(n)?)),
            _ => Err("the command is `list`, `retr N` or `dele N`".into()),
        }
    }

    fn name(self) -> String {
        match self {
            Command::List => "LIST".into(),
            Command::Retr(n) => format!("RETR {n}"),
            Command::Dele(n) => format!("DELE {n}"),
        }
    }
}

/// What a command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `LIST`: the number and size of each message.
    List(Vec<(u32, u64)>),
    /// `RETR`: the message, unstuffed, each line ended by CRLF.
    Message(Vec<u8>),
    /// `DELE`: the message was removed (the server answered `QUIT` with `+OK`).
    Deleted(u32),
}

/// Why a command failed.
#[derive(Debug)]
pub enum Pop3Error {
    /// The server answered `-ERR`: to what (`USER`, `PASS`, `RETR 2`, the greeting as
    /// `connect`...), and its text.
    Refused {
        /// The command refused.
        command: String,
        /// The text after `-ERR`.
        text: String,
    },
    /// A reply could not be understood (a malformed scan listing).
    Malformed(String),
    /// The connection failed or closed too early, or no answer came in time.
    Io(io::Error),
}

impl fmt::Display for Pop3Error {
    /// `COMMAND: -ERR text` for a refusal.
    ///
    /// ```
    /// use asyncore_examples::pop3_client::Pop3Error;
    /// let e = Pop3Error::Refused { command: "RETR 9".into(), text: "no such message".into() };
    /// assert_eq!(e.to_string(), "RETR 9: -ERR no such message");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pop3Error::Refused { command, text } => write!(f, "{command}: -ERR {text}"),
            Pop3Error::Malformed(m) => write!(f, "a malformed reply: {m}"),
            Pop3Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Pop3Error {}

impl From<io::Error> for Pop3Error {
    fn from(e: io::Error) -> Self {
        Pop3Error::Io(e)
    }
}

/// How [`run`] talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The readiness backend of the loop.
    pub backend: Backend,
    /// How long the whole session may take.
    pub timeout: Duration,
}

impl Default for Options {
    /// The default backend, 60 seconds.
    fn default() -> Self {
        Options {
            backend: Backend::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Parses a scan listing (the lines of the reply to `LIST`): each line is a message
/// number and its size, possibly followed by more (RFC 1939 section 5).
///
/// ```
/// use asyncore_examples::pop3_client::parse_scan_listing;
/// let lines: [&[u8]; 2] = [b"1 120", b"3 4000 extra"];
/// assert_eq!(parse_scan_listing(lines).unwrap(), [(1, 120), (3, 4000)]);
/// assert!(parse_scan_listing([&b"1"[..]]).is_err());
/// ```
pub fn parse_scan_listing<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
) -> std::result::Result<Vec<(u32, u64)>, String> {
    let mut out = Vec::new();
    for line in lines {
        if out.len() >= MAX_LISTING {
            return Err(format!(
                "a scan listing of more than {MAX_LISTING} messages"
            ));
        }
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let number = |w: Option<&[u8]>| {
            w.and_then(|w| std::str::from_utf8(w).ok())
                .and_then(|w| w.parse::<u64>().ok())
        };
        match (number(words.next()), number(words.next())) {
            (Some(n), Some(size)) if n > 0 && n <= u64::from(u32::MAX) => {
                out.push((n as u32, size))
            }
            _ => {
                return Err(format!(
                    "`{}` is not a scan listing line",
                    line.escape_ascii()
                ))
            }
        }
    }
    Ok(out)
}

/// What the client waits a reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    User,
    Pass,
    Command,
    Quit,
}

/// The handler of the client side of one session.
#[derive(Debug)]
struct Session {
    user: String,
    password: String,
    command: Command,
    pending: VecDeque<Step>,
    /// What the command gave, until `QUIT` is answered.
    got: Option<Outcome>,
    failed: Option<Pop3Error>,
    result: Rc<RefCell<Option<std::result::Result<Outcome, Pop3Error>>>>,
}

impl Session {
    fn step_name(&self, step: Step) -> String {
        match step {
            Step::Greeting => "connect".into(),
            Step::User => "USER".into(),
            Step::Pass => "PASS".into(),
            Step::Command => self.command.name(),
            Step::Quit => "QUIT".into(),
        }
    }

    fn send_step(&mut self, cx: &mut ClientCx<'_, '_>, step: Step) -> Result {
        match step {
            Step::User => cx.send(pop3::User {
                name: self.user.as_bytes(),
            })?,
            Step::Pass => cx.send(pop3::Pass {
                password: self.password.as_bytes(),
            })?,
            Step::Command => match self.command {
                Command::List => cx.send(pop3::ListAll {})?,
                Command::Retr(n) => cx.send(pop3::Retr { msg: n })?,
                Command::Dele(n) => cx.send(pop3::Dele { msg: n })?,
            },
            Step::Quit => cx.send(pop3::Quit {})?,
            Step::Greeting => {}
        }
        self.pending.push_back(step);
        Ok(())
    }

    /// The step a reply answers; a reply to nothing ends the session.
    fn answered(&mut self, cx: &mut ClientCx<'_, '_>) -> Option<Step> {
        let step = self.pending.pop_front();
        if step.is_none() {
            self.failed
                .get_or_insert(Pop3Error::Malformed("a reply to no command".into()));
            self.finish();
            cx.close();
        }
        step
    }

    /// A `+OK` (with its listing, if any) to `step`.
    fn positive(&mut self, cx: &mut ClientCx<'_, '_>, step: Step, got: Option<Outcome>) -> Result {
        match step {
            Step::Greeting => self.send_step(cx, Step::User),
            Step::User => self.send_step(cx, Step::Pass),
            Step::Pass => self.send_step(cx, Step::Command),
            Step::Command => {
                self.got = got;
                self.send_step(cx, Step::Quit)
            }
            Step::Quit => {
                self.finish();
                cx.close();
                Ok(())
            }
        }
    }

    fn finish(&mut self) {
        let mut result = self.result.borrow_mut();
        if result.is_some() {
            return;
        }
        *result = Some(match (self.failed.take(), self.got.take()) {
            (Some(e), _) => Err(e),
            (None, Some(got)) => Ok(got),
            (None, None) => Err(Pop3Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before the command was done",
            ))),
        });
    }
}

impl Drop for Session {
    /// A channel closed without `on_close` (the loop's end) still leaves a result.
    fn drop(&mut self) {
        self.finish();
    }
}

#[dispatcher(protocol = pop3, role = client)]
impl Session {
    /// The server speaks first: wait for its greeting.
    fn on_open(&mut self, _cx: &mut ClientCx<'_, '_>) -> Result {
        self.pending.push_back(Step::Greeting);
        Ok(())
    }

    fn on_ok(&mut self, cx: &mut ClientCx<'_, '_>, _msg: pop3::Ok<'_>) -> Result {
        let Some(step) = self.answered(cx) else {
            return Ok(());
        };
        let got = match self.command {
            Command::Dele(n) => Some(Outcome::Deleted(n)),
            _ => None,
        };
        self.positive(cx, step, got)
    }

    /// The reply to `LIST` or `RETR`.
    fn on_listing(&mut self, cx: &mut ClientCx<'_, '_>, msg: pop3::Listing<'_>) -> Result {
        let Some(step) = self.answered(cx) else {
            return Ok(());
        };
        let got = match self.command {
            Command::List => match parse_scan_listing(msg.body.iter()) {
                Ok(list) => Outcome::List(list),
                Err(e) => {
                    self.failed = Some(Pop3Error::Malformed(e));
                    return self.send_step(cx, Step::Quit);
                }
            },
            Command::Retr(_) => Outcome::Message(msg.body.to_vec()),
            Command::Dele(n) => Outcome::Deleted(n),
        };
        self.positive(cx, step, Some(got))
    }

    /// A refusal: the session ends (with `QUIT`, after the greeting).
    fn on_err(&mut self, cx: &mut ClientCx<'_, '_>, msg: pop3::Err<'_>) -> Result {
        let Some(step) = self.answered(cx) else {
            return Ok(());
        };
        let refusal = Pop3Error::Refused {
            command: self.step_name(step),
            text: String::from_utf8_lossy(msg.text).into_owned(),
        };
        match step {
            // Messages are removed when QUIT succeeds: a refused QUIT removed nothing.
            Step::Quit => {
                if matches!(self.command, Command::Dele(_)) {
                    self.failed.get_or_insert(refusal);
                }
                self.finish();
                cx.close();
                Ok(())
            }
            Step::Greeting => {
                self.failed = Some(refusal);
                self.finish();
                cx.close();
                Ok(())
            }
            _ => {
                self.failed = Some(refusal);
                self.send_step(cx, Step::Quit)
            }
        }
    }

    /// A malformed reply: the channel closes the connection.
    fn on_bad_input(&mut self, _cx: &mut ClientCx<'_, '_>, err: &DecodeError) {
        self.failed.get_or_insert(Pop3Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad reply from the server: {err}"),
        )));
        self.finish();
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        if self.result.borrow().is_none() && self.failed.is_none() {
            let e = match reason {
                Some(e) => io::Error::new(e.kind(), e.to_string()),
                None => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before the session ended",
                ),
            };
            self.failed = Some(Pop3Error::Io(e));
        }
        self.finish();
        cx.channel().map().stop();
    }
}

/// Logs in to the POP3 server at `addr` as `user` with `password`, runs `command`, and
/// says `QUIT`. A deletion is reported once `QUIT` is answered `+OK`; any `-ERR` is
/// [`Pop3Error::Refused`] with the server's text.
pub fn run(
    addr: &Addr,
    user: &str,
    password: &str,
    command: Command,
    options: &Options,
) -> std::result::Result<Outcome, Pop3Error> {
    // The encoders would refuse these; say why before connecting.
    for (what, value) in [("user name", user), ("password", password)] {
        if value.is_empty() || value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(Pop3Error::Malformed(format!(
                "the {what} must be one line, not empty"
            )));
        }
    }
    let result = Rc::new(RefCell::new(None));
    let session = Session {
        user: user.to_string(),
        password: password.to_string(),
        command,
        pending: VecDeque::new(),
        got: None,
        failed: None,
        result: result.clone(),
    };
    let mut map = Map::new();
    map.connect(addr, pop3::ClientChannel::new(session))?;
    let deadline = Instant::now() + options.timeout;
    while !map.is_empty() && result.borrow().is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            map.close_all();
            return Err(Pop3Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {:?}", options.timeout),
            )));
        }
        map.run_with(
            Some(left.min(Duration::from_millis(200))),
            options.backend,
            Some(1),
        )
        .map_err(|e| io::Error::other(e.to_string()))?;
    }
    map.close_all();
    let outcome = result.borrow_mut().take();
    outcome.unwrap_or_else(|| {
        Err(Pop3Error::Io(io::Error::other(
            "the connection ended without an outcome",
        )))
    })
}
