//! A PostgreSQL client on the channel generated from `protocols/descriptions/pg.proto`:
//! the StartupMessage, the password (trust or cleartext authentication) and every query
//! go out through the generated encoders, and the server's messages come in as the
//! generated types. It prints what `psql -A -t` prints (with `ON_ERROR_STOP`):
//!
//! * rows with their values separated by `|`, without headers or footers, NULL as
//!   nothing;
//! * the command tag of a statement that returns no rows (`CREATE TABLE`, `INSERT 0 2`,
//!   `BEGIN`), and of an `INSERT`, `UPDATE` or `DELETE` that returns rows, as psql does
//!   unless it is quiet; nothing for an empty query;
//! * errors on standard error as libpq formats them (`ERROR:  message`, then `LINE n:`
//!   and a caret under the position, `DETAIL:` and `HINT:` lines), notices and warnings
//!   the same way.
//!
//! Each argument is one Query message, as each `psql -c` is; without arguments the
//! statements come from standard input, split as psql splits them (at semicolons outside
//! quotes, comments and parentheses; `\g` ends a statement, `\q` ends the input), each
//! its own Query, the next sent when the previous one is answered. The first error stops
//! everything. [`run`] returns the exit status psql gives: 0, 1 for an error in an
//! argument (as `psql -c`), 3 for an error in a script on standard input (as psql with
//! `ON_ERROR_STOP=1`), 2 when the connection fails or is lost.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{dispatcher, Addr, Backend, Channel, Dispatcher, Map, Result, Token};

pub use crate::pg_server::pg;
use pg::ClientCx;

/// The longest line of standard input, in bytes.
pub const MAX_INPUT_LINE: usize = 16 * 1024 * 1024;

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The server.
    pub addr: SocketAddr,
    /// The user name (`user`).
    pub user: String,
    /// The database (`database`).
    pub database: String,
    /// The password, sent if the server asks for one.
    pub password: Option<String>,
    /// The readiness backend of the loop.
    pub backend: Backend,
}

/// What comes out of the input: a statement to send, the end of the input, or a
/// backslash command the client does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A statement (or several), sent as one Query.
    Query(String),
    /// `\q`: stop reading.
    Quit,
    /// An unknown backslash command (`\d`): psql's "invalid command", which stops a
    /// script.
    Invalid(String),
}

/// Where the lexer is inside a statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Lex {
    #[default]
    Normal,
    /// In `'...'`; `true` for an `E'...'` string, where a backslash escapes.
    Quote(bool),
    /// In `"..."`.
    Ident,
    /// In `$tag$...$tag$` (the whole delimiter).
    Dollar(String),
    /// In `/* ... */`, nested this deep.
    Comment(usize),
}

/// Splits a script into statements as psql does: at a semicolon outside quotes,
/// comments and parentheses, the semicolon included; whitespace and `--` comments before
/// a statement are dropped; a backslash outside quotes starts a command (`\g` sends the
/// statement so far, `\q` quits, the rest of the line is its argument).
///
/// ```
/// use asyncore_examples::pg_client::{Item, Splitter};
/// let mut s = Splitter::default();
/// let mut items = s.line("select 1; select 'a;b'");
/// items.extend(s.line(", (2;3); -- c;"));
/// items.extend(s.line("select $$;$$ -- d;"));
/// items.extend(s.line("\\q"));
/// assert_eq!(
///     items,
///     [
///         Item::Query("select 1;".into()),
///         Item::Query("select 'a;b'\n, (2;3);".into()),
///         Item::Quit,
///     ]
/// );
/// // `\q` dropped the unfinished statement.
/// assert_eq!(s.finish(), None);
/// ```
#[derive(Debug, Default)]
pub struct Splitter {
    buf: String,
    lex: Lex,
    depth: usize,
}

impl Splitter {
    /// Takes one line of input (without its line break): the items it completes.
    pub fn line(&mut self, line: &str) -> Vec<Item> {
        let mut out = Vec::new();
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match self.lex.clone() {
                Lex::Normal => {
                    if self.buf.trim_start().is_empty() {
                        // Nothing collected yet: spaces and `--` comments are dropped.
                        if c.is_ascii_whitespace() {
                            i += 1;
                            continue;
                        }
                        if line[i..].starts_with("--") {
                            return out;
                        }
                    }
                    match c {
                        b'\\' => {
                            let rest = &line[i + 1..];
                            let name: String = rest
                                .chars()
                                .take_while(|c| !c.is_whitespace() && *c != '\\')
                                .collect();
                            match name.as_str() {
                                "g" | "gx" | ";" => {
                                    if !self.buf.trim().is_empty() {
                                        out.push(Item::Query(std::mem::take(&mut self.buf)));
                                    }
                                    self.buf.clear();
                                    self.depth = 0;
                                }
                                "q" | "quit" => {
                                    self.buf.clear();
                                    out.push(Item::Quit);
                                }
                                _ => {
                                    // It stops the script: what was collected is not run.
                                    self.buf.clear();
                                    out.push(Item::Invalid(format!("\\{name}")));
                                }
                            }
                            return out;
                        }
                        b'\'' => {
                            let e = i > 0
                                && (b[i - 1] == b'e' || b[i - 1] == b'E')
                                && (i < 2 || !is_ident_char(b[i - 2]));
                            self.lex = Lex::Quote(e);
                        }
                        b'"' => self.lex = Lex::Ident,
                        b'-' if b.get(i + 1) == Some(&b'-') => {
                            self.buf.push_str(&line[i..]);
                            break;
                        }
                        b'/' if b.get(i + 1) == Some(&b'*') => {
                            self.lex = Lex::Comment(1);
                            self.buf.push_str("/*");
                            i += 2;
                            continue;
                        }
                        b'$' if i == 0 || !is_ident_char(b[i - 1]) => {
                            if let Some(tag) = dollar_tag(&line[i..]) {
                                self.buf.push_str(tag);
                                i += tag.len();
                                self.lex = Lex::Dollar(tag.to_string());
                                continue;
                            }
                        }
                        b'(' => self.depth += 1,
                        b')' => self.depth = self.depth.saturating_sub(1),
                        b';' if self.depth == 0 => {
                            self.buf.push(';');
                            out.push(Item::Query(std::mem::take(&mut self.buf)));
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                Lex::Quote(escapes) => {
                    if escapes && c == b'\\' && i + 1 < b.len() {
                        self.buf.push_str(&line[i..i + 2]);
                        i += 2;
                        continue;
                    }
                    if c == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            self.buf.push_str("''");
                            i += 2;
                            continue;
                        }
                        self.lex = Lex::Normal;
                    }
                }
                Lex::Ident => {
                    if c == b'"' {
                        self.lex = Lex::Normal;
                    }
                }
                Lex::Dollar(tag) => {
                    if line[i..].starts_with(&tag) {
                        self.buf.push_str(&tag);
                        i += tag.len();
                        self.lex = Lex::Normal;
                        continue;
                    }
                }
                Lex::Comment(depth) => {
                    if line[i..].starts_with("*/") {
                        self.buf.push_str("*/");
                        i += 2;
                        self.lex = if depth == 1 {
                            Lex::Normal
                        } else {
                            Lex::Comment(depth - 1)
                        };
                        continue;
                    }
                    if line[i..].starts_with("/*") {
                        self.buf.push_str("/*");
                        i += 2;
                        self.lex = Lex::Comment(depth + 1);
                        continue;
                    }
                }
            }
            // One character (whole, for UTF-8).
            let len = line[i..].chars().next().map_or(1, char::len_utf8);
            self.buf.push_str(&line[i..i + len]);
            i += len;
        }
        if !self.buf.is_empty() {
            self.buf.push('\n');
        }
        out
    }

    /// The end of the input: what is left, if it is more than spaces.
    pub fn finish(&mut self) -> Option<Item> {
        let rest = std::mem::take(&mut self.buf);
        self.lex = Lex::Normal;
        self.depth = 0;
        (!rest.trim().is_empty()).then_some(Item::Query(rest))
    }
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The `$tag$` that `s` starts with, if it starts a dollar-quoted string.
fn dollar_tag(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut j = 1;
    if b.get(1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while j < b.len()
        && b[j] != b'$'
        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
    {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then(|| &s[..=j])
}

/// An ErrorResponse or NoticeResponse, its fields by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `S`: `ERROR`, `FATAL`, `NOTICE`...
    pub severity: String,
    /// `C`: the SQLSTATE code.
    pub code: String,
    /// `M`: the message.
    pub message: String,
    /// `D`
    pub detail: Option<String>,
    /// `H`
    pub hint: Option<String>,
    /// `P`: the 1-based character position in the query.
    pub position: Option<usize>,
}

impl ServerError {
    /// The fields of an ErrorResponse or NoticeResponse (`code` byte, text).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (u8, &'a [u8])>) -> ServerError {
        let mut e = ServerError::default();
        for (code, value) in fields {
            let v = String::from_utf8_lossy(value).into_owned();
            match code {
                b'S' => e.severity = v,
                b'C' => e.code = v,
                b'M' => e.message = v,
                b'D' => e.detail = Some(v),
                b'H' => e.hint = Some(v),
                b'P' => e.position = v.parse().ok(),
                _ => {}
            }
        }
        e
    }

    /// The error as libpq formats it for psql (its default verbosity), after the query
    /// `query` it is about: `SEVERITY:  message`, the `LINE n:` of the position with a
    /// caret under it, then `DETAIL:` and `HINT:`.
    ///
    /// ```
    /// use asyncore_examples::pg_client::ServerError;
    /// let e = ServerError {
    ///     severity: "ERROR".into(),
    ///     code: "42P01".into(),
    ///     message: "relation \"nope\" does not exist".into(),
    ///     position: Some(15),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     e.format("select * from nope"),
    ///     "ERROR:  relation \"nope\" does not exist\n\
    ///      LINE 1: select * from nope\n                      ^\n"
    /// );
    /// ```
    pub fn format(&self, query: &str) -> String {
        let mut out = format!("{}:  {}\n", self.severity, self.message);
        if let Some(p) = self.position {
            error_position(&mut out, query, p);
        }
        if let Some(d) = &self.detail {
            let _ = writeln!(out, "DETAIL:  {d}");
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "HINT:  {h}");
        }
        out
    }
}

/// libpq's `reportErrorPosition`: the line of `query` holding the 1-based character
/// position `loc`, cut to about 60 columns around it, and a caret under it. Every
/// character counts as one column, and a tab as a space.
fn error_position(out: &mut String, query: &str, loc: usize) {
    const DISPLAY_SIZE: usize = 60;
    const MIN_RIGHT_CUT: usize = 10;
    let Some(loc) = loc.checked_sub(1) else {
        return;
    };
    let chars: Vec<char> = query
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let mut line = 1;
    let mut ibeg = 0;
    let mut iend = None;
    for (cno, &c) in chars.iter().enumerate() {
        if c == '\r' || c == '\n' {
            if cno < loc {
                if c == '\r' || cno == 0 || chars[cno - 1] != '\r' {
                    line += 1;
                }
                ibeg = cno + 1;
            } else {
                iend = Some(cno);
                break;
            }
        }
    }
    let scanned = iend.unwrap_or(chars.len());
    let mut iend = scanned;
    if loc > scanned {
        return;
    }
    let (mut beg_trunc, mut end_trunc) = (false, false);
    if iend - ibeg > DISPLAY_SIZE {
        if ibeg + DISPLAY_SIZE >= loc + MIN_RIGHT_CUT {
            while iend - ibeg > DISPLAY_SIZE {
                iend -= 1;
            }
            end_trunc = true;
        } else {
            while loc + MIN_RIGHT_CUT < iend {
                iend -= 1;
                end_trunc = true;
            }
            while iend - ibeg > DISPLAY_SIZE {
                ibeg += 1;
                beg_trunc = true;
            }
        }
    }
    let prefix = format!("LINE {line}: {}", if beg_trunc { "..." } else { "" });
    let text: String = chars[ibeg..iend].iter().collect();
    let _ = writeln!(out, "{prefix}{text}{}", if end_trunc { "..." } else { "" });
    let caret = prefix.chars().count() + loc - ibeg;
    let _ = writeln!(out, "{}^", " ".repeat(caret));
}

/// The state of a session, shared by the client channel and the reader of standard
/// input.
struct Shared {
    options: Options,
    /// Items waiting to be run.
    queue: VecDeque<Item>,
    /// No more items will come.
    input_done: bool,
    /// The first ReadyForQuery came.
    connected: bool,
    /// A query is out and its ReadyForQuery has not come.
    busy: bool,
    /// The query out, for the position of its errors.
    query: String,
    /// The current result has rows (a RowDescription came).
    rows: bool,
    /// The query out failed.
    failed: bool,
    /// The exit status for an error in a query: 1 (arguments) or 3 (a script).
    error_status: i32,
    /// The exit status, once known.
    status: Option<i32>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Shared {
    fn stderr(&mut self, text: &str) {
        let _ = self.out.flush();
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }

    /// The connection could not be made or was refused: psql's message.
    fn connection_failed(&mut self, why: &str) {
        let text = format!(
            "pg-client: error: connection to server at \"{}\", port {} failed: {why}",
            self.options.addr.ip(),
            self.options.addr.port()
        );
        let text = if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        };
        self.stderr(&text);
        self.status.get_or_insert(2);
    }

    /// What to send next, once the server is ready: the next query, the Terminate
    /// that ends the session, or nothing yet.
    fn next(&mut self) -> Next {
        if self.status.is_some() {
            return Next::Terminate;
        }
        match self.queue.pop_front() {
            Some(Item::Query(sql)) => {
                self.busy = true;
                self.rows = false;
                self.query = sql.clone();
                Next::Query(sql)
            }
            Some(Item::Quit) => {
                self.status = Some(0);
                Next::Terminate
            }
            Some(Item::Invalid(cmd)) => {
                self.stderr(&format!("invalid command {cmd}\n"));
                self.status = Some(3);
                Next::Terminate
            }
            None if self.input_done => {
                self.status = Some(0);
                Next::Terminate
            }
            None => {
                self.busy = false;
                Next::Wait
            }
        }
    }
}

enum Next {
    Query(String),
    Terminate,
    Wait,
}

/// The client side of the description: authenticates, runs the queries one at a time
/// and prints their results.
pub struct PgClient {
    shared: Rc<RefCell<Shared>>,
}

impl std::fmt::Debug for PgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgClient").finish_non_exhaustive()
    }
}

impl PgClient {
    /// Sends what comes next through the generated channel.
    fn pump(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let next = self.shared.borrow_mut().next();
        match next {
            Next::Query(sql) => cx.send(pg::Query {
                sql: sql.as_bytes(),
            }),
            Next::Terminate => {
                cx.send(pg::Terminate {})?;
                cx.close();
                Ok(())
            }
            Next::Wait => Ok(()),
        }
    }

    /// The same, from outside the channel's handlers (a statement read from standard
    /// input while the client waited): the generated encoder writes the message into
    /// the channel's output.
    fn pump_outside(&mut self, ch: &mut Channel<'_>) -> Result {
        let next = self.shared.borrow_mut().next();
        let mut out = Vec::new();
        match next {
            Next::Query(sql) => pg::Query {
                sql: sql.as_bytes(),
            }
            .encode(&mut out)?,
            Next::Terminate => {
                pg::Terminate {}.encode(&mut out)?;
                ch.send_buffered(&out)?;
                ch.close_when_done();
                return Ok(());
            }
            Next::Wait => return Ok(()),
        }
        ch.send_buffered(&out)?;
        Ok(())
    }

    fn print_notice(&mut self, e: &ServerError) {
        let mut s = self.shared.borrow_mut();
        let text = e.format(&s.query.clone());
        s.stderr(&text);
    }
}

#[dispatcher(protocol = pg, role = client)]
impl PgClient {
    fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let s = self.shared.borrow();
        let params = [
            pg::StartupParams {
                name: b"user",
                value: s.options.user.as_bytes(),
            },
            pg::StartupParams {
                name: b"database",
                value: s.options.database.as_bytes(),
            },
            pg::StartupParams {
                name: b"application_name",
                value: b"pg-client",
            },
            pg::StartupParams {
                name: b"client_encoding",
                value: b"UTF8",
            },
        ];
        cx.send(pg::Startup {
            params: Seq::from(&params[..]),
        })
    }

    fn on_encryption_answer(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        _msg: pg::EncryptionAnswer<'_>,
    ) -> Result {
        // Never asked for.
        self.shared
            .borrow_mut()
            .connection_failed("unexpected answer to an encryption request");
        cx.close();
        Ok(())
    }

    fn on_auth_ok(&mut self, _cx: &mut ClientCx<'_, '_>, _msg: pg::AuthOk) -> Result {
        Ok(())
    }

    fn on_auth_cleartext(&mut self, cx: &mut ClientCx<'_, '_>, _msg: pg::AuthCleartext) -> Result {
        let password = self.shared.borrow().options.password.clone();
        match password {
            Some(p) => cx.send(pg::Password {
                password: p.as_bytes(),
            }),
            None => {
                self.shared
                    .borrow_mut()
                    .connection_failed("fe_sendauth: no password supplied");
                cx.close();
                Ok(())
            }
        }
    }

    fn on_parameter_status(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::ParameterStatus<'_>,
    ) -> Result {
        Ok(())
    }

    fn on_backend_key_data(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::BackendKeyData,
    ) -> Result {
        Ok(())
    }

    fn on_ready_for_query(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        _msg: pg::ReadyForQuery<'_>,
    ) -> Result {
        {
            let mut s = self.shared.borrow_mut();
            s.connected = true;
            let _ = s.out.flush();
            if s.busy && s.failed {
                s.status = Some(s.error_status);
            }
            s.busy = false;
            s.failed = false;
        }
        self.pump(cx)
    }

    fn on_row_description(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::RowDescription<'_>,
    ) -> Result {
        self.shared.borrow_mut().rows = true;
        Ok(())
    }

    fn on_data_row(&mut self, _cx: &mut ClientCx<'_, '_>, msg: pg::DataRow<'_>) -> Result {
        if msg.values.is_empty() {
            return Ok(());
        }
        let mut line = Vec::new();
        for (i, v) in msg.values.iter().enumerate() {
            if i > 0 {
                line.push(b'|');
            }
            line.extend_from_slice(v.value.unwrap_or_default());
        }
        line.push(b'\n');
        self.shared.borrow_mut().out.write_all(&line)?;
        Ok(())
    }

    fn on_command_complete(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        msg: pg::CommandComplete<'_>,
    ) -> Result {
        let mut s = self.shared.borrow_mut();
        let returning = [&b"INSERT"[..], b"UPDATE", b"DELETE"]
            .iter()
            .any(|p| msg.tag.starts_with(p));
        if !s.rows || returning {
            s.out.write_all(msg.tag)?;
            s.out.write_all(b"\n")?;
        }
        s.rows = false;
        Ok(())
    }

    fn on_empty_query_response(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::EmptyQueryResponse,
    ) -> Result {
        Ok(())
    }

    fn on_error_response(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: pg::ErrorResponse<'_>,
    ) -> Result {
        let e = ServerError::from_fields(msg.fields.iter().map(|f| (f.code, f.value)));
        let mut s = self.shared.borrow_mut();
        if !s.connected {
            let text = e.format("");
            s.connection_failed(&text);
            cx.close();
            return Ok(());
        }
        let text = e.format(&s.query.clone());
        s.stderr(&text);
        s.failed = true;
        Ok(())
    }

    fn on_notice_response(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        msg: pg::NoticeResponse<'_>,
    ) -> Result {
        let e = ServerError::from_fields(msg.fields.iter().map(|f| (f.code, f.value)));
        self.print_notice(&e);
        Ok(())
    }

    fn on_bad_input(&mut self, _cx: &mut ClientCx<'_, '_>, err: &DecodeError) {
        let mut s = self.shared.borrow_mut();
        s.stderr(&format!(
            "pg-client: error: bad message from the server: {err}\n"
        ));
        s.status.get_or_insert(2);
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        {
            let mut s = self.shared.borrow_mut();
            let _ = s.out.flush();
            if s.status.is_none() {
                match (reason, s.connected) {
                    (Some(e), false) => {
                        let why = e.to_string();
                        s.connection_failed(&why);
                    }
                    (reason, _) => {
                        let why = reason.map_or(String::new(), |e| format!(": {e}"));
                        s.stderr(&format!(
                            "pg-client: error: the server closed the connection unexpectedly{why}\n"
                        ));
                        s.status = Some(2);
                    }
                }
            }
        }
        cx.channel().map().stop();
    }
}

/// Standard input: its lines are split into statements for the client channel.
struct StdinStatements {
    to: Token,
    shared: Rc<RefCell<Shared>>,
    splitter: Splitter,
    line: Vec<u8>,
}

impl StdinStatements {
    fn take(&mut self, map: &mut Map, items: Vec<Item>) -> Result {
        if items.is_empty() {
            return Ok(());
        }
        let idle = {
            let mut s = self.shared.borrow_mut();
            s.queue.extend(items);
            s.connected && !s.busy && s.status.is_none()
        };
        if idle {
            map.with::<pg::ClientChannel<PgClient>, _>(self.to, |c, ch| c.handler.pump_outside(ch))
                .unwrap_or(Ok(()))?;
        }
        Ok(())
    }

    fn line(&mut self, map: &mut Map, line: &[u8]) -> Result {
        let text = String::from_utf8_lossy(line);
        let items = self.splitter.line(text.trim_end_matches('\r'));
        let quit = items.iter().any(|i| !matches!(i, Item::Query(_)));
        self.take(map, items)?;
        if quit {
            self.finish(map, false)?;
        }
        Ok(())
    }

    fn finish(&mut self, map: &mut Map, rest: bool) -> Result {
        let last = if rest { self.splitter.finish() } else { None };
        let idle = {
            let mut s = self.shared.borrow_mut();
            s.queue.extend(last);
            s.input_done = true;
            s.connected && !s.busy && s.status.is_none()
        };
        if idle {
            map.with::<pg::ClientChannel<PgClient>, _>(self.to, |c, ch| c.handler.pump_outside(ch))
                .unwrap_or(Ok(()))?;
        }
        Ok(())
    }
}

impl Dispatcher for StdinStatements {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        !self.shared.borrow().input_done
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
            if self.shared.borrow().input_done {
                ch.close();
                return Ok(());
            }
        }
        if self.line.len() + rest.len() > MAX_INPUT_LINE {
            return Err(format!("an input line is longer than {MAX_INPUT_LINE} bytes").into());
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<io::Error>) -> Result {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() && !self.shared.borrow().input_done {
            self.line(ch.map(), &line)?;
        }
        if !self.shared.borrow().input_done {
            self.finish(ch.map(), true)?;
        }
        ch.close();
        Ok(())
    }
}

/// Where the statements come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Each string is one Query (`psql -c`); an error gives status 1.
    Queries(Vec<String>),
    /// Standard input, split into statements; an error gives status 3.
    Stdin,
}

/// Runs a session: connects, authenticates, runs the statements of `source` one at a
/// time and writes what psql writes to `out` and `err`. Returns psql's exit status.
///
/// ```no_run
/// use asyncore_examples::pg_client::{run, Options, Source};
/// let options = Options {
///     addr: "127.0.0.1:5432".parse().unwrap(),
///     user: "postgres".into(),
///     database: "postgres".into(),
///     password: None,
///     backend: Default::default(),
/// };
/// let status = run(&options, Source::Queries(vec!["select 1".into()]), Box::new(std::io::stdout()), Box::new(std::io::stderr()));
/// assert_eq!(status, 0);
/// ```
pub fn run(options: &Options, source: Source, out: Box<dyn Write>, err: Box<dyn Write>) -> i32 {
    let (queue, input_done, error_status) = match &source {
        Source::Queries(q) => (q.iter().cloned().map(Item::Query).collect(), true, 1),
        Source::Stdin => (VecDeque::new(), false, 3),
    };
    let shared = Rc::new(RefCell::new(Shared {
        options: options.clone(),
        queue,
        input_done,
        connected: false,
        busy: true,
        query: String::new(),
        rows: false,
        failed: false,
        error_status,
        status: None,
        out,
        err,
    }));
    let mut map = Map::new();
    let client = PgClient {
        shared: shared.clone(),
    };
    let token = match map.connect(&Addr::from(options.addr), pg::ClientChannel::new(client)) {
        Ok(t) => t,
        Err(e) => {
            shared.borrow_mut().connection_failed(&e.to_string());
            return 2;
        }
    };
    if source == Source::Stdin {
        let reader = StdinStatements {
            to: token,
            shared: shared.clone(),
            splitter: Splitter::default(),
            line: Vec::new(),
        };
        if let Err(e) = map.add_file(io::stdin(), reader) {
            shared.borrow_mut().stderr(&format!(
                "pg-client: error: cannot read standard input: {e}\n"
            ));
            return 2;
        }
    }
    let r = map.run_with(
        Some(asyncore_runtime::DEFAULT_TIMEOUT),
        options.backend,
        None,
    );
    map.close_all();
    let mut s = shared.borrow_mut();
    let _ = s.out.flush();
    if let Err(e) = r {
        s.stderr(&format!("pg-client: error: {e}\n"));
        return 2;
    }
    s.status.unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(script: &str) -> Vec<Item> {
        let mut s = Splitter::default();
        let mut items = Vec::new();
        for line in script.lines() {
            items.extend(s.line(line));
        }
        items.extend(s.finish());
        items
    }

    fn q(s: &str) -> Item {
        Item::Query(s.into())
    }

    #[test]
    fn statements_split_as_psql_splits_them() {
        assert_eq!(
            split("select E'it\\'s;', \"a;b\" from t; select 2"),
            [q("select E'it\\'s;', \"a;b\" from t;"), q("select 2\n")]
        );
        // A backslash is no escape in a standard string.
        assert_eq!(
            split("select '\\'; select 1;"),
            [q("select '\\';"), q("select 1;")]
        );
        assert_eq!(
            split("select /* a /* b; */ c; */ 1; select a$b$c;"),
            [q("select /* a /* b; */ c; */ 1;"), q("select a$b$c;")]
        );
        assert_eq!(
            split("select $f$ a;\n$$; $f$;"),
            [q("select $f$ a;\n$$; $f$;")]
        );
        assert_eq!(split("\n  -- only a comment\n;\n"), [q(";")]);
        assert_eq!(
            split("select 1 \\g\nselect 2 \\x"),
            [q("select 1 "), Item::Invalid("\\x".into())]
        );
        assert_eq!(
            split("select 1\n-- trailing"),
            [q("select 1\n-- trailing\n")]
        );
    }

    #[test]
    fn error_positions_as_libpq_prints_them() {
        let mut out = String::new();
        error_position(&mut out, "select 1;\nselect nope\tfrom t", 18);
        assert_eq!(out, "LINE 2: select nope from t\n               ^\n");
        let long = format!("select {} from nope", "x, ".repeat(40));
        let mut out = String::new();
        error_position(&mut out, &long, long.len() - 3);
        assert_eq!(
            out,
            format!(
                "LINE 1: ...{}\n{}^\n",
                &long[long.len() - 60..],
                " ".repeat(8 + 3 + 56)
            )
        );
        let mut out = String::new();
        error_position(&mut out, "select 1", 40);
        assert_eq!(out, "");
    }
}
