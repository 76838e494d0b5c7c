//! An SMTP client on the channel generated from `protocols/descriptions/smtp.aproto`:
//! it sends one message to one server, following the server's replies.
//!
//! The conversation: the greeting (`220`), `EHLO` (or `HELO` when the server does not
//! know `EHLO`), `MAIL FROM:` with `SIZE=` when the server advertises `SIZE` and
//! `BODY=8BITMIME` for a message with 8-bit bytes when it advertises `8BITMIME`, one
//! `RCPT TO:` per recipient, `DATA`, the message text and `QUIT`. With a server that
//! advertises `PIPELINING`, `MAIL`, the `RCPT`s and `DATA` go out together (RFC 2920) and
//! their replies are taken in order. Replies of several lines (`250-...`) are put back
//! together into one [`Reply`].
//!
//! With [`Options::starttls`], `STARTTLS` (RFC 3207) follows the first `EHLO`: the
//! channel starts TLS when the server answers `220` (the description's `starttls`), and
//! `EHLO` is sent again, through TLS, before `MAIL`. A server that does not offer
//! `STARTTLS`, or refuses it, gets `QUIT` and no message.
//!
//! The generated `Body` encoder does the dot-stuffing and ends the text with the lone
//! `.` line; [`send_mail`] first turns every bare LF or CR of the message into CRLF, as
//! Python's `smtplib` does, and ends the last line with CRLF when it has no terminator.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::wire::{ClientTls, Lines};
use asyncore_runtime::{dispatcher, Addr, Backend, Map, Result};

pub use crate::smtp_server::smtp;
use smtp::ClientCx;

/// The most lines of one reply the client accepts.
pub const MAX_REPLY_LINES: usize = 1000;

/// A whole reply: its code and its lines of text (without the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line.
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// Whether the code is `2xx`.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The text of the lines, joined with spaces.
    ///
    /// ```
    /// use asyncore_examples::smtp_client::Reply;
    /// let r = Reply { code: 250, lines: vec![b"mx".to_vec(), b"SIZE 10".to_vec()] };
    /// assert_eq!(r.text(), "mx SIZE 10");
    /// ```
    pub fn text(&self) -> String {
        let parts: Vec<String> = self
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        parts.join(" ")
    }
}

impl fmt::Display for Reply {
    /// As it came: `250-first`, ..., `250 last`, lines separated by `\n`.
    ///
    /// ```
    /// use asyncore_examples::smtp_client::Reply;
    /// let r = Reply { code: 250, lines: vec![b"mx".to_vec(), b"PIPELINING".to_vec()] };
    /// assert_eq!(r.to_string(), "250-mx\n250 PIPELINING");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.is_empty() {
            return write!(f, "{}", self.code);
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let sep = if i + 1 < self.lines.len() { '-' } else { ' ' };
            write!(f, "{}{sep}{}", self.code, String::from_utf8_lossy(line))?;
        }
        Ok(())
    }
}

/// How [`send_mail`] talks to the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// The name given in `EHLO`/`HELO`.
    pub helo: String,
    /// The readiness backend of the loop.
    pub backend: Backend,
    /// How long the whole conversation may take.
    pub timeout: Duration,
    /// Send `MAIL`, `RCPT`s and `DATA` together when the server advertises `PIPELINING`.
    pub pipelining: bool,
    /// Start TLS (`STARTTLS`) with this configuration after `EHLO`, before `MAIL`; the
    /// message is not sent in plaintext when the server does not offer it or refuses.
    pub starttls: Option<ClientTls>,
}

impl Default for Options {
    /// `localhost`, the default backend, 60 seconds, pipelining on, no TLS.
    fn default() -> Self {
        Options {
            helo: "localhost".to_string(),
            backend: Backend::default(),
            timeout: Duration::from_secs(60),
            pipelining: true,
            starttls: None,
        }
    }
}

/// A message the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The reply after the final dot (`250 ... queued as ...`).
    pub reply: Reply,
    /// The recipients the server refused, with its reply to each.
    pub refused: Vec<(String, Reply)>,
    /// Whether `MAIL`, `RCPT` and `DATA` were pipelined.
    pub pipelined: bool,
}

/// Why a message was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The server refused a step: the command (`MAIL FROM`, `RCPT TO`, `DATA`, the
    /// message text as `.`, the greeting as `connect`...) and its reply. When every
    /// recipient was refused, the reply to the last one.
    Refused {
        /// What was refused.
        command: String,
        /// The server's reply.
        reply: Reply,
        /// The recipients refused, with the reply to each.
        recipients: Vec<(String, Reply)>,
    },
    /// The message or an address cannot be sent as SMTP requires (a line over 1000
    /// bytes, an address with a line break...).
    Message(String),
    /// The connection failed, closed too early, or the server's reply was malformed.
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Refused { command, reply, .. } => {
                write!(f, "{command}: {}", reply.to_string().replace('\n', " / "))
            }
            SendError::Message(m) => f.write_str(m),
            SendError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Io(e)
    }
}

/// Turns every bare LF and every bare CR of `message` into CRLF (as `smtplib` does), and
/// ends it with CRLF when its last line has no terminator.
///
/// ```
/// use asyncore_examples::smtp_client::normalize_line_ends;
/// assert_eq!(normalize_line_ends(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd\r\n");
/// assert_eq!(normalize_line_ends(b""), b"");
/// ```
pub fn normalize_line_ends(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What the client waits a reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Mail,
    Rcpt(usize),
    Data,
    Body,
    Quit,
}

impl Step {
    fn command(self, to: &[String]) -> String {
        match self {
            Step::Greeting => "connect".into(),
            Step::Ehlo => "EHLO".into(),
            Step::Helo => "HELO".into(),
            Step::StartTls => "STARTTLS".into(),
            Step::Mail => "MAIL FROM".into(),
            Step::Rcpt(i) => format!("RCPT TO:<{}>", to.get(i).map_or("", String::as_str)),
            Step::Data => "DATA".into(),
            Step::Body => "message text".into(),
            Step::Quit => "QUIT".into(),
        }
    }
}

/// What the server advertised in its `EHLO` reply.
#[derive(Debug, Clone, Copy, Default)]
struct Extensions {
    pipelining: bool,
    eightbit: bool,
    size: bool,
    starttls: bool,
}

impl Extensions {
    fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        // The first line is the server's name.
        for line in reply.lines.iter().skip(1) {
            let keyword = line.split(|&b| b == b' ').next().unwrap_or_default();
            if keyword.eq_ignore_ascii_case(b"PIPELINING") {
                ext.pipelining = true;
            } else if keyword.eq_ignore_ascii_case(b"8BITMIME") {
                ext.eightbit = true;
            } else if keyword.eq_ignore_ascii_case(b"SIZE") {
                ext.size = true;
            } else if keyword.eq_ignore_ascii_case(b"STARTTLS") {
                ext.starttls = true;
            }
        }
        ext
    }
}

/// The outcome, shared between the handler and [`send_mail`].
#[derive(Debug, Default)]
struct Outcome {
    result: Option<std::result::Result<Delivery, SendError>>,
}

/// The handler of the client side of one SMTP conversation.
#[derive(Debug)]
struct Sender {
    from: String,
    to: Vec<String>,
    /// The message, line ends already CRLF.
    message: Vec<u8>,
    helo: String,
    allow_pipelining: bool,
    /// What to start TLS with before `MAIL`; taken when `STARTTLS` is sent.
    starttls: Option<ClientTls>,
    ext: Extensions,
    /// Replies expected, in order.
    pending: VecDeque<Step>,
    /// Lines of a reply still coming (`250-...`).
    partial: Vec<Vec<u8>>,
    accepted: usize,
    refused: Vec<(String, Reply)>,
    pipelined: bool,
    /// The transaction failed; the replies still pending are read, then `QUIT`.
    failed: Option<SendError>,
    delivered: Option<Reply>,
    outcome: Rc<RefCell<Outcome>>,
}

impl Sender {
    fn start_transaction(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let mut params = String::new();
        if self.ext.size {
            params.push_str(&format!(" SIZE={}", self.message.len()));
        }
        if self.ext.eightbit && self.message.iter().any(|&b| b >= 0x80) {
            params.push_str(" BODY=8BITMIME");
        }
        let path = format!("<{}>{params}", self.from);
        cx.send(smtp::Mail {
            path: path.as_bytes(),
        })?;
        self.pending.push_back(Step::Mail);
        if self.allow_pipelining && self.ext.pipelining {
            self.pipelined = true;
            for i in 0..self.to.len() {
                self.send_rcpt(cx, i)?;
            }
            cx.send(smtp::Data {})?;
            self.pending.push_back(Step::Data);
        }
        Ok(())
    }

    fn send_rcpt(&mut self, cx: &mut ClientCx<'_, '_>, i: usize) -> Result {
        let path = format!("<{}>", self.to[i]);
        cx.send(smtp::Rcpt {
            path: path.as_bytes(),
        })?;
        self.pending.push_back(Step::Rcpt(i));
        Ok(())
    }

    fn fail(&mut self, step: Step, reply: Reply) {
        if self.failed.is_none() {
            self.failed = Some(SendError::Refused {
                command: step.command(&self.to),
                reply,
                recipients: self.refused.clone(),
            });
        }
    }

    fn quit(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        if !self.pending.contains(&Step::Quit) {
            cx.send(smtp::Quit {})?;
            self.pending.push_back(Step::Quit);
        }
        Ok(())
    }

    /// A whole reply to `step`.
    fn reply(&mut self, cx: &mut ClientCx<'_, '_>, step: Step, reply: Reply) -> Result {
        match step {
            Step::Greeting if reply.code == 220 => {
                cx.send(smtp::Ehlo {
                    domain: self.helo.as_bytes(),
                })?;
                self.pending.push_back(Step::Ehlo);
            }
            Step::Ehlo if reply.is_positive() => {
                self.ext = Extensions::parse(&reply);
                match self.starttls.take() {
                    Some(tls) if self.ext.starttls => {
                        cx.start_tls(smtp::StartTls {}, tls)?;
                        self.pending.push_back(Step::StartTls);
                    }
                    Some(_) => {
                        self.failed = Some(SendError::Io(io::Error::new(
                            io::ErrorKind::Unsupported,
                            "the server does not offer STARTTLS",
                        )));
                    }
                    None => self.start_transaction(cx)?,
                }
            }
            // TLS is on (the channel started it on the `220`): `EHLO` again (RFC 3207).
            Step::StartTls if reply.code == 220 => {
                self.ext = Extensions::default();
                cx.send(smtp::Ehlo {
                    domain: self.helo.as_bytes(),
                })?;
                self.pending.push_back(Step::Ehlo);
            }
            // A server that does not know EHLO.
            Step::Ehlo if matches!(reply.code, 500 | 502) && self.starttls.is_none() => {
                cx.send(smtp::Helo {
                    domain: self.helo.as_bytes(),
                })?;
                self.pending.push_back(Step::Helo);
            }
            Step::Helo if reply.is_positive() => self.start_transaction(cx)?,
            Step::Mail if reply.is_positive() => {
                if !self.pipelined {
                    self.send_rcpt(cx, 0)?;
                }
            }
            Step::Rcpt(i) => {
                if reply.is_positive() {
                    self.accepted += 1;
                } else {
                    self.refused.push((self.to[i].clone(), reply.clone()));
                }
                let last = i + 1 == self.to.len();
                if last && self.accepted == 0 {
                    self.fail(step, reply);
                } else if !self.pipelined && self.failed.is_none() {
                    if last {
                        cx.send(smtp::Data {})?;
                        self.pending.push_back(Step::Data);
                    } else {
                        self.send_rcpt(cx, i + 1)?;
                    }
                }
            }
            Step::Data if reply.code == 354 => {
                if self.failed.is_some() {
                    // RFC 2920: DATA accepted although the transaction failed; end
                    // the (empty) text at once.
                    cx.send(smtp::Body {
                        text: Lines::Text(b""),
                    })?;
                } else {
                    cx.send(smtp::Body {
                        text: Lines::Text(&self.message),
                    })?;
                }
                self.pending.push_back(Step::Body);
            }
            Step::Body if reply.is_positive() && self.failed.is_none() => {
                self.delivered = Some(reply);
            }
            Step::Quit => {
                self.finish();
                cx.close();
                return Ok(());
            }
            _ => self.fail(step, reply),
        }
        if self.pending.is_empty() {
            // Done (delivered, or failed with nothing more in flight).
            if self.delivered.is_none() && self.failed.is_none() {
                self.failed = Some(SendError::Io(io::Error::other(
                    "the conversation ended without a reply to the message text",
                )));
            }
            self.quit(cx)?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        let mut outcome = self.outcome.borrow_mut();
        if outcome.result.is_some() {
            return;
        }
        outcome.result = Some(match (self.failed.take(), self.delivered.take()) {
            (Some(e), _) => Err(e),
            (None, Some(reply)) => Ok(Delivery {
                reply,
                refused: std::mem::take(&mut self.refused),
                pipelined: self.pipelined,
            }),
            (None, None) => Err(SendError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before the message was taken",
            ))),
        });
    }
}

impl Drop for Sender {
    /// A channel closed without `on_close` (by the client itself, or the loop's end)
    /// still leaves an outcome.
    fn drop(&mut self) {
        self.finish();
    }
}

#[dispatcher(protocol = smtp, role = client)]
impl Sender {
    /// The server speaks first: wait for its greeting.
    fn on_open(&mut self, _cx: &mut ClientCx<'_, '_>) -> Result {
        self.pending.push_back(Step::Greeting);
        Ok(())
    }

    /// One line of a reply; the last one (`250 ...`) completes it.
    fn on_reply(&mut self, cx: &mut ClientCx<'_, '_>, msg: smtp::Reply<'_>) -> Result {
        if self.partial.len() >= MAX_REPLY_LINES {
            self.failed
                .get_or_insert(SendError::Io(io::Error::other(format!(
                    "a reply of more than {MAX_REPLY_LINES} lines"
                ))));
            self.finish();
            cx.close();
            return Ok(());
        }
        self.partial.push(msg.text.to_vec());
        if msg.more == b"-" {
            return Ok(());
        }
        let reply = Reply {
            code: msg.code,
            lines: std::mem::take(&mut self.partial),
        };
        let Some(step) = self.pending.pop_front() else {
            // A reply to nothing: a server closing (`421`), or one out of step.
            if self.failed.is_none() && self.delivered.is_none() {
                self.fail(Step::Greeting, reply);
            }
            self.finish();
            cx.close();
            return Ok(());
        };
        self.reply(cx, step, reply)
    }

    /// A malformed reply: the channel closes the connection.
    fn on_bad_input(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        err: &asyncore_runtime::wire::DecodeError,
    ) {
        self.failed.get_or_insert(SendError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad reply from the server: {err}"),
        )));
        self.finish();
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        if self.failed.is_none() && self.delivered.is_none() {
            let e = match reason {
                Some(e) => io::Error::new(e.kind(), e.to_string()),
                None => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before the message was taken",
                ),
            };
            self.failed = Some(SendError::Io(e));
        }
        self.finish();
        cx.channel().map().stop();
    }
}

/// Checks that the envelope and the message can be sent as SMTP requires, before
/// connecting: the encoders refuse an address with a line break and a line over the
/// protocol's 1000 bytes.
fn check(from: &str, to: &[String], message: &[u8]) -> std::result::Result<(), SendError> {
    if to.is_empty() {
        return Err(SendError::Message("no recipient".into()));
    }
    let mut out = Vec::new();
    let bad = |what: &str, e: asyncore_runtime::wire::EncodeError| {
        SendError::Message(format!("{what} cannot be sent: {e}"))
    };
    for addr in std::iter::once(from).chain(to.iter().map(String::as_str)) {
        if addr
            .bytes()
            .any(|b| b == b'<' || b == b'>' || b.is_ascii_control())
        {
            return Err(SendError::Message(format!(
                "the address `{}` has a byte an SMTP path cannot carry",
                addr.escape_debug()
            )));
        }
        let path = format!("<{addr}> SIZE=99999999999 BODY=8BITMIME");
        smtp::Mail {
            path: path.as_bytes(),
        }
        .encode(&mut out)
        .map_err(|e| bad("the address", e))?;
    }
    out.clear();
    smtp::Body {
        text: Lines::Text(message),
    }
    .encode(&mut out)
    .map_err(|e| bad("the message", e))?;
    Ok(())
}

/// Sends `message` from `from` to the recipients `to` through the SMTP server at
/// `addr`, and returns the server's reply to the message text. Line ends of `message`
/// are made CRLF first ([`normalize_line_ends`]).
///
/// The message is taken when at least one recipient is; the others are in
/// [`Delivery::refused`]. Any other refusal ends the transaction with
/// [`SendError::Refused`], after `QUIT`.
///
/// ```no_run
/// use asyncore_examples::smtp_client::{send_mail, Options};
/// let addr: std::net::SocketAddr = "127.0.0.1:2525".parse().unwrap();
/// let done = send_mail(
///     &addr.into(),
///     "me@example.org",
///     &["you@example.org".to_string()],
///     b"Subject: hello\r\n\r\nHi!\r\n",
///     &Options::default(),
/// )?;
/// assert_eq!(done.reply.code, 250);
/// # Ok::<(), asyncore_examples::smtp_client::SendError>(())
/// ```
pub fn send_mail(
    addr: &Addr,
    from: &str,
    to: &[String],
    message: &[u8],
    options: &Options,
) -> std::result::Result<Delivery, SendError> {
    let message = normalize_line_ends(message);
    check(from, to, &message)?;
    let outcome = Rc::new(RefCell::new(Outcome::default()));
    let sender = Sender {
        from: from.to_string(),
        to: to.to_vec(),
        message,
        helo: options.helo.clone(),
        allow_pipelining: options.pipelining,
        starttls: options.starttls.clone(),
        ext: Extensions::default(),
        pending: VecDeque::new(),
        partial: Vec::new(),
        accepted: 0,
        refused: Vec::new(),
        pipelined: false,
        failed: None,
        delivered: None,
        outcome: outcome.clone(),
    };
    let mut map = Map::new();
    map.connect(addr, smtp::ClientChannel::new(sender))?;
    let deadline = Instant::now() + options.timeout;
    while !map.is_empty() && outcome.borrow().result.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            map.close_all();
            return Err(SendError::Io(io::Error::new(
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
    let result = outcome.borrow_mut().result.take();
    result.unwrap_or_else(|| {
        Err(SendError::Io(io::Error::other(
            "the connection ended without an outcome",
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_print_as_they_came() {
        let r = Reply {
            code: 554,
            lines: vec![b"no".to_vec()],
        };
        assert!(!r.is_positive());
        assert_eq!(r.to_string(), "554 no");
        let e = SendError::Refused {
            command: "DATA".into(),
            reply: Reply {
                code: 503,
                lines: vec![b"a".to_vec(), b"b".to_vec()],
            },
            recipients: Vec::new(),
        };
        assert_eq!(e.to_string(), "DATA: 503-a / 503 b");
    }

    #[test]
    fn bad_envelopes_and_messages_are_refused_before_connecting() {
        let to = vec!["b@example.org".to_string()];
        assert!(check("a@example.org", &to, b"ok\r\n").is_ok());
        assert!(check("a@example.org", &[], b"ok\r\n").is_err());
        assert!(check("a\r\n@example.org", &to, b"ok\r\n").is_err());
        assert!(check("a@example.org", &["<x>".to_string()], b"ok\r\n").is_err());
        let long = format!("{}\r\n", "x".repeat(1001));
        assert!(matches!(
            check("a@example.org", &to, long.as_bytes()),
            Err(SendError::Message(_))
        ));
    }

    #[test]
    fn extensions_come_from_the_ehlo_reply() {
        let r = Reply {
            code: 250,
            lines: vec![
                b"PIPELINING".to_vec(),
                b"8bitmime".to_vec(),
                b"SIZE 100".to_vec(),
            ],
        };
        let e = Extensions::parse(&r);
        // The first line names the server, even when it looks like a keyword.
        assert!(!e.pipelining && e.eightbit && e.size && !e.starttls);
        let r = Reply {
            code: 250,
            lines: vec![b"mx".to_vec(), b"starttls".to_vec()],
        };
        assert!(Extensions::parse(&r).starttls);
    }
}
