//! An SMTP server (RFC 5321), generated from `protocols/descriptions/smtp.aproto`: it
//! takes mail from any client and stores each message as one file of a directory, or
//! counts and drops it.
//!
//! The description gives the framing (CRLF lines of at most 1000 bytes, a bare LF
//! refused: the defence against SMTP smuggling), the commands, the message text after
//! `DATA` (lines up to a lone `.`, dot-unstuffed), the replies to bad input (`500` for
//! an unknown command or an over-long line, `503` for a command out of sequence, `501`
//! for a malformed one) and the states (`Fresh`, `Greeted`, `Sender`, `Recipients`,
//! `Body`); [`Session`] is the handler `#[dispatcher]` makes of it.
//!
//! What the handler adds: the greeting; `EHLO` with `PIPELINING`, `SIZE`, `8BITMIME`
//! and `ENHANCEDSTATUSCODES`, and `STARTTLS` when the server has a certificate
//! ([`SmtpServer::with_tls`]) and the session is not in TLS yet; `STARTTLS` itself
//! (`220` and TLS, or `454` without a certificate: the description starts TLS after the
//! `220`, drops what the client sent after its command, and goes back to `Fresh`); the
//! syntax of paths (`501` when the argument is not a
//! `<path>`, `553` when the mailbox in it is malformed); the `SIZE=` and `BODY=`
//! parameters (`552` above the limit); whether a recipient is taken (the `Sender` or
//! `Recipients` state); the queue id; and storing the message.
//!
//! The description fixes some transitions that a real server makes conditional (a
//! refused `MAIL` still leads to `Sender`), so the session keeps its own record of the
//! transaction, and the description's state is an upper bound on what is allowed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use asyncore_runtime::wire::{DecodeError, DecodeErrorKind, Limit, Lines, ServerTls};
use asyncore_runtime::{dispatcher, protocol, Addr, Channel, Dispatcher, Result, Socket};

protocol!(pub mod smtp = "../protocols/descriptions/smtp.aproto");

use smtp::{ServerCx, State};

/// The most bytes a message may have ([`Config::max_size`]) by default: 10 MiB.
pub const DEFAULT_MAX_SIZE: usize = 10 * 1024 * 1024;

/// The largest [`Config::max_size`]: the description bounds the message text as sent
/// (dot-stuffed) at 32 MiB, and stuffing can add a third to a message (a line `.`
/// becomes `..`).
pub const MAX_SIZE_LIMIT: usize = 24 * 1024 * 1024;

/// The most recipients of one message by default (RFC 5321 asks for at least 100).
pub const DEFAULT_MAX_RECIPIENTS: usize = 1000;

/// How long a connection may stay silent by default (RFC 5321 section 4.5.3.2 asks for
/// at least 5 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a command line may take to arrive by default, from its first byte: RFC 5321
/// section 4.5.3.2.7's five minutes; then `421` and a close.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest local part of a mailbox (RFC 5321 section 4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;

/// The longest domain (RFC 5321 section 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;

/// The longest path, angle brackets included (RFC 5321 section 4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// How a server behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The name in the greeting and the `EHLO` reply.
    pub hostname: String,
    /// The largest message accepted, in bytes after dot-unstuffing, advertised as `SIZE`;
    /// at most [`MAX_SIZE_LIMIT`].
    pub max_size: usize,
    /// Where accepted messages are stored, one file each; `None` counts and drops them.
    pub maildir: Option<PathBuf>,
    /// The most recipients of one message; more get `452`.
    pub max_recipients: usize,
    /// A connection silent for this long is closed; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// A command line not whole this long after its first byte gets `421` and a close
    /// (the message text has the idle timeout only); `None`: never.
    pub command_timeout: Option<Duration>,
}

impl Default for Config {
    /// `localhost`, [`DEFAULT_MAX_SIZE`], no maildir, [`DEFAULT_MAX_RECIPIENTS`],
    /// [`DEFAULT_IDLE_TIMEOUT`], [`DEFAULT_COMMAND_TIMEOUT`].
    fn default() -> Self {
        Config {
            hostname: "localhost".to_string(),
            max_size: DEFAULT_MAX_SIZE,
            maildir: None,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            command_timeout: Some(DEFAULT_COMMAND_TIMEOUT),
        }
    }
}

/// Counters of a server, shared by its loops.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages accepted (answered `250` after the final dot).
    pub messages: AtomicU64,
    /// Their bytes, after dot-unstuffing.
    pub bytes: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

/// The reply to a refused command: code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The reply code, e.g. `553`.
    pub code: u16,
    /// The text after it, with the enhanced status code.
    pub text: &'static str,
}

const fn refuse(code: u16, text: &'static str) -> Refusal {
    Refusal { code, text }
}

/// A `MAIL FROM:` or `RCPT TO:` argument: the path and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg<'a> {
    /// The mailbox, without the angle brackets and any source route; empty for the
    /// null path `<>`.
    pub mailbox: &'a [u8],
    /// The `KEYWORD[=VALUE]` parameters after the path.
    pub params: Vec<(&'a [u8], Option<&'a [u8]>)>,
}

/// Parses the argument of `MAIL FROM:` or `RCPT TO:` (after the colon): `<path>`, then
/// parameters separated by spaces. A space before the `<` is tolerated.
///
/// `501` when the argument is not an angle-bracketed path followed by well-formed
/// parameters, `553` when the path is, but the mailbox in it is malformed (RFC 5321
/// section 4.1.2: a dot-string or quoted local part of at most 64 bytes, `@`, a domain
/// of letters, digits and hyphens or an address literal). A null path `<>` is returned
/// with an empty mailbox; `RCPT TO:<Postmaster>` (any case) is a mailbox without a
/// domain.
///
/// ```
/// use asyncore_examples::smtp_server::parse_path;
///
/// let arg = parse_path(b"<a.b@example.org> SIZE=100 BODY=8BITMIME").unwrap();
/// assert_eq!(arg.mailbox, b"a.b@example.org");
/// assert_eq!(arg.params, [(&b"SIZE"[..], Some(&b"100"[..])), (b"BODY", Some(b"8BITMIME"))]);
/// assert_eq!(parse_path(b"<>").unwrap().mailbox, b"");
/// assert_eq!(parse_path(b"a@example.org").unwrap_err().code, 501);
/// assert_eq!(parse_path(b"<a@@example.org>").unwrap_err().code, 553);
/// assert_eq!(parse_path(b"<@relay.example:x@example.org>").unwrap().mailbox, b"x@example.org");
/// ```
pub fn parse_path(arg: &[u8]) -> std::result::Result<PathArg<'_>, Refusal> {
    const SYNTAX: Refusal = refuse(501, "5.5.4 Syntax: expected <address> [parameters]");
    const MAILBOX: Refusal = refuse(553, "5.1.3 Bad address syntax");
    let arg = trim_start(arg);
    if arg.first() != Some(&b'<') {
        return Err(SYNTAX);
    }
    // The closing bracket: the first `>` outside a quoted string.
    let mut close = None;
    let mut quoted = false;
    let mut i = 1;
    while i < arg.len() {
        match arg[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => {
                close = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(close) = close else {
        return Err(SYNTAX);
    };
    let rest = &arg[close + 1..];
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(SYNTAX);
    }
    let mut params = Vec::new();
    for p in rest.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
        let (key, value) = match p.iter().position(|&b| b == b'=') {
            Some(eq) => (&p[..eq], Some(&p[eq + 1..])),
            None => (p, None),
        };
        let key_ok = key.first().is_some_and(u8::is_ascii_alphanumeric)
            && key.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| {
            !v.is_empty() && v.iter().all(|&b| (33..=126).contains(&b) && b != b'=')
        });
        if !key_ok || !value_ok {
            return Err(refuse(501, "5.5.4 Bad parameter syntax"));
        }
        params.push((key, value));
    }
    if close + 1 > MAX_PATH {
        return Err(refuse(501, "5.5.4 Path too long"));
    }
    let mut path = &arg[1..close];
    // A source route (`@a,@b:`) is accepted and ignored (RFC 5321 section 4.1.1.3).
    if path.first() == Some(&b'@') {
        let Some(colon) = path.iter().position(|&b| b == b':') else {
            return Err(MAILBOX);
        };
        for hop in path[..colon].split(|&b| b == b',') {
            match hop.strip_prefix(b"@") {
                Some(d) if valid_domain(d) => {}
                _ => return Err(MAILBOX),
            }
        }
        path = &path[colon + 1..];
    }
    if path.is_empty() {
        return Ok(PathArg {
            mailbox: path,
            params,
        });
    }
    if !valid_mailbox(path) {
        return Err(MAILBOX);
    }
    Ok(PathArg {
        mailbox: path,
        params,
    })
}

/// Whether `b` is `Local-part "@" Domain`, or `Postmaster` alone (RFC 5321 section
/// 4.1.2).
///
/// ```
/// use asyncore_examples::smtp_server::valid_mailbox;
/// assert!(valid_mailbox(b"john.doe@example.org"));
/// assert!(valid_mailbox(b"\"john doe\"@[192.0.2.1]"));
/// assert!(valid_mailbox(b"POSTMASTER"));
/// assert!(!valid_mailbox(b"john..doe@example.org"));
/// assert!(!valid_mailbox(b"john@-example.org"));
/// assert!(!valid_mailbox(b"j\xc3\xb6rg@example.org"));
/// ```
pub fn valid_mailbox(b: &[u8]) -> bool {
    if b.eq_ignore_ascii_case(b"postmaster") {
        return true;
    }
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    valid_local_part(local) && (valid_domain(domain) || valid_address_literal(domain))
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn valid_local_part(local: &[u8]) -> bool {
    if local.is_empty() || local.len() > MAX_LOCAL_PART {
        return false;
    }
    if let Some(inner) = local
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
    {
        // Quoted-string: qtextSMTP or backslash pairs, printable ASCII only.
        let mut i = 0;
        while i < inner.len() {
            match inner[i] {
                b'\\' => {
                    if !inner.get(i + 1).is_some_and(|&c| (32..=126).contains(&c)) {
                        return false;
                    }
                    i += 2;
                }
                b'"' => return false,
                c if (32..=126).contains(&c) => i += 1,
                _ => return false,
            }
        }
        return true;
    }
    local
        .split(|&c| c == b'.')
        .all(|atom| !atom.is_empty() && atom.iter().all(|&c| is_atext(c)))
}

/// Whether `d` is a domain name: dot-separated labels of letters, digits and hyphens,
/// not starting or ending with a hyphen, of at most 63 bytes, at most 255 in all.
///
/// ```
/// use asyncore_examples::smtp_server::valid_domain;
/// assert!(valid_domain(b"mail.example.org"));
/// assert!(valid_domain(b"localhost"));
/// assert!(!valid_domain(b"example..org"));
/// assert!(!valid_domain(b"exa_mple.org"));
/// ```
pub fn valid_domain(d: &[u8]) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DOMAIN
        && d.split(|&c| c == b'.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with(b"-")
                && !label.ends_with(b"-")
        })
}

/// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, or a general literal `[tag:content]`.
fn valid_address_literal(d: &[u8]) -> bool {
    let Some(inner) = d.strip_prefix(b"[").and_then(|d| d.strip_suffix(b"]")) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(inner) else {
        return false;
    };
    if text.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    if let Some(v6) = text.strip_prefix("IPv6:") {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    match text.split_once(':') {
        Some((tag, content)) => {
            valid_domain(tag.as_bytes())
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|c| (33..=90).contains(&c) || (94..=126).contains(&c))
        }
        None => false,
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    &b[n..]
}

fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let n = b
        .iter()
        .rev()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    &b[..b.len() - n]
}

/// A new queue id: the time in seconds, the process id and a counter, in upper-case
/// hexadecimal (24 digits, so ids sort in the order they were given within a process).
///
/// ```
/// let a = asyncore_examples::smtp_server::queue_id();
/// let b = asyncore_examples::smtp_server::queue_id();
/// assert_eq!(a.len(), 24);
/// assert!(a < b);
/// ```
pub fn queue_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:010X}{:06X}{:08X}",
        secs & 0xFF_FFFF_FFFF,
        std::process::id() & 0xFF_FFFF,
        n & 0xFFFF_FFFF
    )
}

/// Writes `body` (dot-unstuffed, each line followed by CRLF) to `DIR/ID.eml`: first to a
/// hidden temporary file `DIR/.ID.tmp`, synced, then renamed, so that a reader of the
/// directory never sees a partial message. Returns the final path.
///
/// ```
/// use asyncore_runtime::wire::Lines;
/// use asyncore_examples::smtp_server::store_message;
///
/// let dir = std::env::temp_dir().join(format!("smtp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let body = Lines::Decoded { raw: b"Subject: hi\r\n\r\n..dot\r\n", term: b"\r\n", unstuff: Some(b".") };
/// let path = store_message(&dir, "ID1", &body)?;
/// assert_eq!(std::fs::read(&path)?, b"Subject: hi\r\n\r\n.dot\r\n");
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn store_message(dir: &Path, id: &str, body: &Lines<'_>) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{id}.tmp"));
    let path = dir.join(format!("{id}.eml"));
    let written = (|| -> io::Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        match body {
            Lines::Decoded { term, .. } => {
                for line in body.iter() {
                    out.write_all(line)?;
                    out.write_all(term)?;
                }
            }
            Lines::Text(text) => out.write_all(text)?,
        }
        let file: File = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// The size of a decoded body after dot-unstuffing: what [`Lines::write_to`] writes.
fn unstuffed_len(body: &Lines<'_>) -> usize {
    match body {
        Lines::Decoded { term, .. } => body.iter().map(|l| l.len() + term.len()).sum(),
        Lines::Text(text) => text.len(),
    }
}

/// The open mail transaction of a session.
#[derive(Debug, Default)]
struct Transaction {
    /// The reverse-path (`MAIL FROM:`), `None` when no transaction is open.
    from: Option<Vec<u8>>,
    /// The forward-paths accepted so far.
    to: Vec<Vec<u8>>,
}

/// One connection: the handler of the SMTP description's server side.
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    stats: Arc<Stats>,
    /// What `STARTTLS` starts TLS with; `None`: it is not offered, and refused.
    tls: Option<ServerTls>,
    /// The client said `EHLO` (service extensions may be used).
    extended: bool,
    tx: Transaction,
}

impl Session {
    /// A session of a server configured by `config`, counting in `stats`.
    pub fn new(config: Arc<Config>, stats: Arc<Stats>) -> Session {
        Session {
            config,
            stats,
            tls: None,
            extended: false,
            tx: Transaction::default(),
        }
    }

    /// The session offers `STARTTLS` and starts TLS with `tls` (none: it does not).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncore_examples::smtp_server::{Config, Session};
    /// let session = Session::new(Arc::new(Config::default()), Arc::default()).with_tls(None);
    /// # let _ = session;
    /// ```
    pub fn with_tls(mut self, tls: Option<ServerTls>) -> Session {
        self.tls = tls;
        self
    }

    fn reset(&mut self) {
        self.tx = Transaction::default();
    }

    /// Checks the parameters of `MAIL FROM:`: `SIZE=n` (`552` above the limit) and
    /// `BODY=7BIT|8BITMIME`, only after `EHLO`.
    fn mail_params(&self, params: &[(&[u8], Option<&[u8]>)]) -> std::result::Result<(), Refusal> {
        for &(key, value) in params {
            if !self.extended {
                return Err(refuse(555, "5.5.4 Parameters need EHLO"));
            }
            if key.eq_ignore_ascii_case(b"SIZE") {
                let size = value
                    .filter(|v| v.len() <= 20 && v.iter().all(u8::is_ascii_digit))
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
                match size {
                    None => return Err(refuse(501, "5.5.4 Bad SIZE parameter")),
                    Some(n) if n > self.config.max_size as u64 => {
                        return Err(refuse(
                            552,
                            "5.3.4 Message size exceeds fixed maximum message size",
                        ))
                    }
                    Some(_) => {}
                }
            } else if key.eq_ignore_ascii_case(b"BODY") {
                match value {
                    Some(v) if v.eq_ignore_ascii_case(b"7BIT") => {}
                    Some(v) if v.eq_ignore_ascii_case(b"8BITMIME") => {}
                    _ => return Err(refuse(501, "5.5.4 Bad BODY parameter")),
                }
            } else {
                return Err(refuse(555, "5.5.4 Unsupported MAIL FROM parameter"));
            }
        }
        Ok(())
    }
}

fn reply(cx: &mut ServerCx<'_, '_>, code: u16, text: &str) -> Result {
    cx.send(smtp::Reply {
        code,
        more: b" ",
        text: text.as_bytes(),
    })
}

fn reply_with(cx: &mut ServerCx<'_, '_>, r: Refusal) -> Result {
    reply(cx, r.code, r.text)
}

#[dispatcher(protocol = smtp, role = server)]
impl Session {
    /// The greeting, and the idle timeout.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        let timeout = self.config.idle_timeout;
        cx.channel().set_idle_timeout(timeout);
        cx.channel()
            .set_request_timeout(self.config.command_timeout);
        let text = format!("{} ESMTP asyncore smtp-server", self.config.hostname);
        reply(cx, 220, &text)
    }

    fn on_helo(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Helo<'_>) -> Result {
        self.reset();
        if trim(msg.domain).is_empty() {
            return reply(cx, 501, "5.5.4 Syntax: HELO hostname");
        }
        self.extended = false;
        let text = self.config.hostname.clone();
        reply(cx, 250, &text)
    }

    /// The extensions, one per line: `PIPELINING`, `SIZE`, `8BITMIME`,
    /// `ENHANCEDSTATUSCODES`, and `STARTTLS` with a certificate, before TLS is on.
    fn on_ehlo(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Ehlo<'_>) -> Result {
        self.reset();
        if trim(msg.domain).is_empty() {
            return reply(cx, 501, "5.5.4 Syntax: EHLO hostname");
        }
        self.extended = true;
        let size = format!("SIZE {}", self.config.max_size);
        let mut lines = vec![
            self.config.hostname.as_str(),
            "PIPELINING",
            size.as_str(),
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
        ];
        if self.tls.is_some() && !cx.is_tls() {
            lines.push("STARTTLS");
        }
        for (i, line) in lines.iter().enumerate() {
            let more: &[u8] = if i + 1 < lines.len() { b"-" } else { b" " };
            cx.send(smtp::Reply {
                code: 250,
                more,
                text: line.as_bytes(),
            })?;
        }
        Ok(())
    }

    fn on_mail(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Mail<'_>) -> Result {
        if self.tx.from.is_some() {
            return reply(cx, 503, "5.5.1 Error: nested MAIL command");
        }
        let arg = match parse_path(msg.path) {
            Ok(a) => a,
            Err(r) if r.code == 553 => {
                return reply(cx, 553, "5.1.7 Bad sender address syntax");
            }
            Err(r) => return reply_with(cx, r),
        };
        if let Err(r) = self.mail_params(&arg.params) {
            return reply_with(cx, r);
        }
        self.tx.from = Some(arg.mailbox.to_vec());
        self.tx.to.clear();
        reply(cx, 250, "2.1.0 Ok")
    }

    /// Takes the recipient (`250`: the description moves to `Recipients`) or refuses it
    /// (a `4xx` or `5xx` reply: the session stays where it was).
    fn on_rcpt(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Rcpt<'_>) -> Result {
        if self.tx.from.is_none() {
            return reply(cx, 503, "5.5.1 Error: need MAIL command");
        }
        let arg = match parse_path(msg.path) {
            Ok(a) if a.mailbox.is_empty() => {
                return reply(cx, 553, "5.1.3 Bad recipient address syntax");
            }
            Ok(a) => a,
            Err(r) if r.code == 553 => {
                return reply(cx, 553, "5.1.3 Bad recipient address syntax");
            }
            Err(r) => {
                return reply_with(cx, r);
            }
        };
        if !arg.params.is_empty() {
            return reply(cx, 555, "5.5.4 Unsupported RCPT TO parameter");
        }
        if self.tx.to.len() >= self.config.max_recipients {
            return reply(cx, 452, "4.5.3 Error: too many recipients");
        }
        self.tx.to.push(arg.mailbox.to_vec());
        reply(cx, 250, "2.1.5 Ok")
    }

    /// `354` in `Recipients` (the reply takes the description to the message text);
    /// `503` without a recipient (the description stays in `Sender`).
    fn on_data(&mut self, cx: &mut ServerCx<'_, '_>, _msg: smtp::Data) -> Result {
        if cx.state() != State::Recipients {
            let text = if self.tx.from.is_none() {
                "5.5.1 Error: need MAIL command"
            } else {
                "5.5.1 Error: need RCPT command"
            };
            return reply(cx, 503, text);
        }
        // The message text has the idle timeout only (RFC 5321 section 4.5.3.2.6
        // times each block, not the whole text).
        cx.channel().set_request_timeout(None);
        reply(cx, 354, "End data with <CR><LF>.<CR><LF>")
    }

    /// The message text: stored (or counted) and answered with its queue id.
    fn on_body(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Body<'_>) -> Result {
        cx.channel()
            .set_request_timeout(self.config.command_timeout);
        let tx = std::mem::take(&mut self.tx);
        if tx.from.is_none() || tx.to.is_empty() {
            return reply(cx, 554, "5.5.1 Error: no valid recipients");
        }
        let size = unstuffed_len(&msg.text);
        if size > self.config.max_size {
            return reply(
                cx,
                552,
                "5.3.4 Message size exceeds fixed maximum message size",
            );
        }
        let id = queue_id();
        if let Some(dir) = &self.config.maildir {
            if let Err(e) = store_message(dir, &id, &msg.text) {
                // Always shown: the operator must know that mail is being refused.
                eprintln!(
                    "smtp-server: cannot store message {id} in {}: {e}",
                    dir.display()
                );
                return reply(cx, 451, "4.3.0 Error: queue file write error");
            }
        }
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(size as u64, Ordering::Relaxed);
        reply(cx, 250, &format!("2.0.0 Ok: queued as {id}"))
    }

    fn on_rset(&mut self, cx: &mut ServerCx<'_, '_>, _msg: smtp::Rset) -> Result {
        self.reset();
        reply(cx, 250, "2.0.0 Ok")
    }

    fn on_noop(&mut self, cx: &mut ServerCx<'_, '_>, _msg: smtp::Noop<'_>) -> Result {
        reply(cx, 250, "2.0.0 Ok")
    }

    fn on_vrfy(&mut self, cx: &mut ServerCx<'_, '_>, msg: smtp::Vrfy<'_>) -> Result {
        if trim(msg.who).is_empty() {
            return reply(cx, 501, "5.5.4 Syntax: VRFY address");
        }
        reply(
            cx,
            252,
            "2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
        )
    }

    /// `220` and TLS with a certificate: the description starts TLS once the reply is
    /// queued and goes back to `Fresh`, and the session forgets what the client said
    /// (RFC 3207: the client says `EHLO` again). `454` without one. After TLS is on the
    /// description does not allow `STARTTLS` (`503`).
    fn on_start_tls(&mut self, cx: &mut ServerCx<'_, '_>, _msg: smtp::StartTls) -> Result {
        let Some(config) = self.tls.clone() else {
            return reply(cx, 454, "4.7.0 TLS not available due to local problem");
        };
        self.reset();
        self.extended = false;
        let ready = smtp::Reply {
            code: 220,
            more: b" ",
            text: b"2.0.0 Ready to start TLS",
        };
        cx.start_tls(ready, config)
    }

    /// `221`; the description closes the connection once it is sent.
    fn on_quit(&mut self, cx: &mut ServerCx<'_, '_>, _msg: smtp::Quit) -> Result {
        reply(cx, 221, "2.0.0 Bye")
    }

    /// Bad input inside the message text ends the session: the decoder drops the text
    /// through its final dot, but the description's state would stay `Body`, so that
    /// the next commands would be read as another message. The description's reply is
    /// sent, then the connection closes; nothing is stored. A text over the size the
    /// description allows gets `552` first.
    fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) {
        log::debug!("smtp-server: {err}");
        if cx.state() == State::Body {
            self.reset();
            if let DecodeErrorKind::Oversize {
                what: Limit::Lines | Limit::Message,
                ..
            } = err.kind()
            {
                let _ = reply(
                    cx,
                    552,
                    "5.3.4 Message size exceeds fixed maximum message size",
                );
            }
            cx.close();
        }
    }
}

/// The listening channel: each accepted connection becomes a [`Session`].
///
/// ```no_run
/// use std::sync::Arc;
/// use asyncore_examples::server::{serve, ServerConfig};
/// use asyncore_examples::smtp_server::{Config, SmtpServer, Stats};
/// # fn main() -> std::io::Result<()> {
/// let config = Arc::new(Config { maildir: Some("/tmp/mail".into()), ..Config::default() });
/// let stats = Arc::new(Stats::default());
/// let listen = ServerConfig { listen: "127.0.0.1:2525".parse().unwrap(), backend: Default::default(), threads: 1 };
/// serve(&listen, move || SmtpServer::new(config.clone(), stats.clone()))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SmtpServer {
    config: Arc<Config>,
    stats: Arc<Stats>,
    tls: Option<ServerTls>,
}

impl SmtpServer {
    /// A server configured by `config`, counting in `stats`.
    pub fn new(config: Arc<Config>, stats: Arc<Stats>) -> SmtpServer {
        SmtpServer {
            config,
            stats,
            tls: None,
        }
    }

    /// Offers `STARTTLS` (RFC 3207) and starts TLS with `tls`; `None`: `STARTTLS` is
    /// neither offered nor accepted (`454`).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use asyncore_examples::smtp_server::{Config, SmtpServer};
    /// let tls = asyncore_runtime::tls::server_config("cert.pem", "key.pem")?;
    /// let server = SmtpServer::new(Arc::new(Config::default()), Arc::default()).with_tls(Some(tls));
    /// # let _ = server;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_tls(mut self, tls: Option<ServerTls>) -> SmtpServer {
        self.tls = tls;
        self
    }
}

impl Dispatcher for SmtpServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let session =
            Session::new(self.config.clone(), self.stats.clone()).with_tls(self.tls.clone());
        ch.add_accepted(sock, addr, smtp::ServerChannel::new(session))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_parameters() {
        let ok = |s: &[u8]| parse_path(s).map(|a| a.mailbox.to_vec());
        assert_eq!(ok(b" <a@b.example>").unwrap(), b"a@b.example");
        assert_eq!(
            ok(b"<\"a>b\"@example.org>").unwrap(),
            b"\"a>b\"@example.org"
        );
        assert_eq!(ok(b"<postmaster>").unwrap(), b"postmaster");
        assert_eq!(
            ok(b"<a@[IPv6:2001:db8::1]>").unwrap(),
            b"a@[IPv6:2001:db8::1]"
        );
        for bad in [
            &b"<a@b"[..],
            b"",
            b"a@b",
            b"<a@b>x",
            b"<a@b> =x",
            b"<a@b> SIZE=",
        ] {
            assert_eq!(parse_path(bad).unwrap_err().code, 501, "{bad:?}");
        }
        for bad in [
            &b"<a>"[..],
            b"<a@>",
            b"<@a@b>",
            b"<.a@b>",
            b"<a@b..c>",
            b"<a b@c>",
            b"<a@[300.1.1.1]>",
            b"<\xff@b>",
        ] {
            assert_eq!(parse_path(bad).unwrap_err().code, 553, "{bad:?}");
        }
        let long = format!("<{}@example.org>", "x".repeat(65));
        assert_eq!(parse_path(long.as_bytes()).unwrap_err().code, 553);
        let long = format!("<a@{}.org>", "x.".repeat(130));
        assert!(parse_path(long.as_bytes()).is_err());
    }

    #[test]
    fn mail_parameters_need_ehlo_and_respect_the_size() {
        let mut s = Session::new(
            Arc::new(Config {
                max_size: 1000,
                ..Config::default()
            }),
            Arc::default(),
        );
        let size = |n: &'static [u8]| [(&b"SIZE"[..], Some(n))];
        assert_eq!(s.mail_params(&size(b"10")).unwrap_err().code, 555);
        s.extended = true;
        assert!(s.mail_params(&size(b"1000")).is_ok());
        assert_eq!(s.mail_params(&size(b"1001")).unwrap_err().code, 552);
        assert_eq!(
            s.mail_params(&size(b"99999999999999999999999"))
                .unwrap_err()
                .code,
            501
        );
        assert!(s.mail_params(&[(b"body", Some(b"8bitmime"))]).is_ok());
        assert_eq!(
            s.mail_params(&[(b"BODY", Some(b"BINARYMIME"))])
                .unwrap_err()
                .code,
            501
        );
        assert_eq!(s.mail_params(&[(b"SMTPUTF8", None)]).unwrap_err().code, 555);
    }

    #[test]
    fn stored_messages_are_unstuffed_and_whole() {
        let dir = std::env::temp_dir().join(format!("smtp-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let body = Lines::Decoded {
            raw: b"a\r\n..\r\n...b\r\n\xff\r\n",
            term: b"\r\n",
            unstuff: Some(b"."),
        };
        assert_eq!(unstuffed_len(&body), body.to_vec().len());
        let path = store_message(&dir, "X", &body).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a\r\n.\r\n..b\r\n\xff\r\n");
        // The same id again: the temporary file is created anew, never clobbered.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["X.eml"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
