//! A PostgreSQL server (protocol 3.0) on an in-memory database, generated from
//! `protocols/descriptions/pg.aproto`: `psql`, libpq and drivers such as psycopg talk to
//! it with the simple query protocol.
//!
//! The description cuts the byte stream (untyped startup packets, then typed messages),
//! decodes every message the client sends and encodes every message the server sends;
//! [`PgConnection`] is the handler `#[dispatcher]` makes of its server side, and
//! [`sql`] is the database (a lexer, a parser and in-memory tables) every connection of
//! the loop shares.
//!
//! A connection:
//!
//! * answers SSLRequest and GSSENCRequest with `N` (no encryption), as a server built
//!   without TLS does; a CancelRequest is closed without an answer (queries run to their
//!   end within one pass of the loop, so there is nothing to cancel);
//! * takes the StartupMessage (`user` is required; `database` may name any database: they
//!   are all the same one; `client_encoding` may be `UTF8` or `SQL_ASCII`; other
//!   parameters are ignored), then authenticates: trust, or with a password
//!   ([`Config::password`]) AuthenticationCleartextPassword, and a wrong password gets
//!   `FATAL 28P01` and a close;
//! * then sends what PostgreSQL 15 sends: AuthenticationOk, the ParameterStatus
//!   messages (`server_version` 15.0, UTF8 encodings, `DateStyle` ISO, MDY, `TimeZone`
//!   UTC...), BackendKeyData and ReadyForQuery;
//! * runs Query messages as [`session::Session`] describes (several statements, each
//!   answered in order, one ReadyForQuery at the end, the first error ending the rest;
//!   `BEGIN`/`COMMIT`/`ROLLBACK` with `I`, `T` and `E` in ReadyForQuery), with
//!   PostgreSQL's command tags, SQLSTATE codes and messages; an empty query gets
//!   EmptyQueryResponse;
//! * refuses the extended query protocol: the first Parse, Bind, Describe, Execute or
//!   Close of an exchange gets `ERROR 0A000 extended query protocol not supported`, the
//!   messages after it are ignored up to Sync, and Sync gets ReadyForQuery;
//! * ends on Terminate.
//!
//! Bad input gets what PostgreSQL 15 sends for it: an unknown message type
//! `FATAL 08P01 invalid frontend message type` and a close; a Query without its NUL, or
//! with bytes after it, `ERROR 08P01 invalid string in message` (or `invalid message
//! format`) and ReadyForQuery, and the connection goes on; a startup packet of another
//! protocol version `FATAL 0A000 unsupported frontend protocol` and a close. Where
//! PostgreSQL closes without a word (a length out of range), this server says
//! `FATAL 08P01` first. The differences that remain:
//!
//! * the description gives the handler no field for what matched no message, so the
//!   messages do not say which message type or protocol version came, a startup packet
//!   too short to hold a version is refused as an unsupported one (PostgreSQL closes),
//!   and a 2.0 startup packet is answered in the 3.0 format (PostgreSQL answers in
//!   2.0's); a protocol 3.x packet with x above 0 is refused rather than answered with
//!   NegotiateProtocolVersion, which the description does not have;
//! * a frame is read whole before its type byte is found to match no message, where
//!   PostgreSQL answers as soon as the type byte comes (a StartupMessage sent after the
//!   login reads as a frame of 10,496 bytes);
//! * messages sent right after SSLRequest, before its answer, are taken, where
//!   PostgreSQL refuses them (`received unencrypted data after SSL request`): with no
//!   TLS there is nothing to protect, and a server handler cannot see what is buffered.
//!
//! Everything is bounded: messages by the description (1 MiB; startup packets 10,000
//! bytes), the database by [`sql::Limits`] (`53400` over them), and the results of one
//! query by [`Config::max_output`] (`53200`).

use std::cell::RefCell;
use std::rc::Rc;

use asyncore_runtime::wire::{DecodeError, DecodeErrorKind, Seq};
use asyncore_runtime::{dispatcher, protocol, Addr, Channel, Dispatcher, Result, Socket};

protocol!(pub mod pg = "../protocols/descriptions/pg.aproto");

pub mod session;
pub mod sql;

use pg::ServerCx;
use session::{Replies, Session};
use sql::{Database, Limits, Notice, ResultColumn, SqlError};

/// The version the server reports in `server_version`.
pub const SERVER_VERSION: &str = "15.0";

/// The longest message text sent in an ErrorResponse or NoticeResponse field; longer
/// texts (a message quoting a huge value) are cut, so that the message fits in a frame.
pub const MAX_FIELD: usize = 64 * 1024;

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// With a password, clients authenticate with it in cleartext (any user name);
    /// without, every client is trusted.
    pub password: Option<String>,
    /// The database's bounds.
    pub limits: Limits,
    /// The most bytes of results one query may leave waiting to be sent; beyond, the
    /// query fails with `53200` (out of memory).
    pub max_output: usize,
}

impl Default for Config {
    /// Trust, [`Limits::default`], 96 MiB of results per query (more than the largest
    /// table takes).
    fn default() -> Self {
        Config {
            password: None,
            limits: Limits::default(),
            max_output: 96 * 1024 * 1024,
        }
    }
}

/// The database shared by the connections of a loop.
pub type SharedDatabase = Rc<RefCell<Database>>;

/// A field of an ErrorResponse or NoticeResponse: its code byte and text, cut to
/// [`MAX_FIELD`] bytes.
fn field(code: u8, text: &str) -> pg::ErrorResponseFields<'_> {
    let mut end = text.len().min(MAX_FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    pg::ErrorResponseFields {
        code,
        value: &text.as_bytes()[..end],
    }
}

/// Sends an ErrorResponse of `severity` (`ERROR`, `FATAL`).
fn send_error(
    cx: &mut ServerCx<'_, '_>,
    severity: &str,
    err: &SqlError,
    position: Option<usize>,
) -> Result {
    let position = position.map(|p| p.to_string());
    let mut fields = vec![
        field(b'S', severity),
        field(b'V', severity),
        field(b'C', err.code),
        field(b'M', &err.message),
    ];
    if let Some(d) = &err.detail {
        fields.push(field(b'D', d));
    }
    if let Some(h) = &err.hint {
        fields.push(field(b'H', h));
    }
    if let Some(p) = &position {
        fields.push(field(b'P', p));
    }
    cx.send(pg::ErrorResponse {
        fields: Seq::from(&fields[..]),
    })
}

/// Sends `FATAL` with `code` and `message` and closes the connection once it is sent.
fn fatal(cx: &mut ServerCx<'_, '_>, code: &'static str, message: &str) -> Result {
    cx.close();
    send_error(cx, "FATAL", &SqlError::new(code, message), None)
}

/// The answers of a query, sent through the generated channel. The first send error is
/// kept (and the statement stopped): the handler returns it, which closes the
/// connection.
struct CxReplies<'x, 'c, 'a> {
    cx: &'x mut ServerCx<'c, 'a>,
    failed: Option<asyncore_runtime::Error>,
    max_output: usize,
}

impl CxReplies<'_, '_, '_> {
    fn send<'m>(
        &mut self,
        msg: impl Into<pg::ServerMessage<'m>>,
    ) -> std::result::Result<(), SqlError> {
        if self.failed.is_some() {
            return Err(SqlError::new("08006", "connection failure"));
        }
        match self.cx.send(msg) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = Some(e);
                Err(SqlError::new("08006", "connection failure"))
            }
        }
    }
}

impl sql::Output for CxReplies<'_, '_, '_> {
    fn notice(&mut self, n: &Notice) {
        let fields = [
            field(b'S', n.severity),
            field(b'V', n.severity),
            field(b'C', n.code),
            field(b'M', &n.message),
        ];
        let fields: Vec<pg::NoticeResponseFields<'_>> = fields
            .iter()
            .map(|f| pg::NoticeResponseFields {
                code: f.code,
                value: f.value,
            })
            .collect();
        let _ = self.send(pg::NoticeResponse {
            fields: Seq::from(&fields[..]),
        });
    }

    fn columns(&mut self, columns: &[ResultColumn]) -> std::result::Result<(), SqlError> {
        let described: Vec<pg::RowDescriptionColumns<'_>> = columns
            .iter()
            .map(|c| pg::RowDescriptionColumns {
                name: c.name.as_bytes(),
                table: c.table as i32,
                column: c.column,
                type_oid: c.ty.oid(),
                type_size: c.ty.size(),
                type_modifier: c.ty.modifier(),
                format: 0,
            })
            .collect();
        self.send(pg::RowDescription {
            columns: Seq::from(&described[..]),
        })
    }

    fn row(&mut self, values: &[Option<&str>]) -> std::result::Result<(), SqlError> {
        if self.cx.waiting_output() > self.max_output {
            return Err(SqlError::new("53200", "out of memory").detail(format!(
                "The results of one query are limited to {} bytes on this server.",
                self.max_output
            )));
        }
        let values: Vec<pg::DataRowValues<'_>> = values
            .iter()
            .map(|v| pg::DataRowValues {
                value: v.map(str::as_bytes),
            })
            .collect();
        self.send(pg::DataRow {
            values: Seq::from(&values[..]),
        })
    }
}

impl Replies for CxReplies<'_, '_, '_> {
    fn complete(&mut self, tag: &str) {
        let _ = self.send(pg::CommandComplete {
            tag: tag.as_bytes(),
        });
    }

    fn empty(&mut self) {
        let _ = self.send(pg::EmptyQueryResponse {});
    }

    fn error(&mut self, err: &SqlError, position: Option<usize>) {
        if self.failed.is_none() {
            if let Err(e) = send_error(self.cx, "ERROR", err, position) {
                self.failed = Some(e);
            }
        }
    }
}

/// One client connection: the handler of the description's server side.
#[derive(Debug)]
pub struct PgConnection {
    db: SharedDatabase,
    config: Rc<Config>,
    session: Session,
    user: String,
    application_name: String,
    client_encoding: &'static str,
    pid: i32,
    key: i32,
}

impl PgConnection {
    /// A connection to `db`, known to clients as backend `pid` with cancel key `key`.
    pub fn new(db: SharedDatabase, config: Rc<Config>, pid: i32, key: i32) -> PgConnection {
        PgConnection {
            db,
            config,
            session: Session::default(),
            user: String::new(),
            application_name: String::new(),
            client_encoding: "UTF8",
            pid,
            key,
        }
    }

    /// AuthenticationOk, the ParameterStatus messages, BackendKeyData and
    /// ReadyForQuery, in PostgreSQL 15's order.
    fn welcome(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        cx.send(pg::AuthOk {})?;
        let params: [(&str, &str); 13] = [
            ("application_name", &self.application_name),
            ("client_encoding", self.client_encoding),
            ("DateStyle", "ISO, MDY"),
            ("default_transaction_read_only", "off"),
            ("in_hot_standby", "off"),
            ("integer_datetimes", "on"),
            ("IntervalStyle", "postgres"),
            ("is_superuser", "on"),
            ("server_encoding", "UTF8"),
            ("server_version", SERVER_VERSION),
            ("session_authorization", &self.user),
            ("standard_conforming_strings", "on"),
            ("TimeZone", "UTC"),
        ];
        for (name, value) in params {
            cx.send(pg::ParameterStatus {
                name: name.as_bytes(),
                value: value.as_bytes(),
            })?;
        }
        cx.send(pg::BackendKeyData {
            pid: self.pid,
            key: self.key,
        })?;
        self.ready(cx)
    }

    fn ready(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        cx.send(pg::ReadyForQuery {
            status: self.session.status().byte(),
        })
    }

    /// An extended-protocol message: refused, or ignored up to Sync.
    fn extended(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        match self.session.extended() {
            Some(e) => send_error(cx, "ERROR", &e, None),
            None => Ok(()),
        }
    }

    /// `ERROR 08P01` for a malformed message, and what PostgreSQL does next.
    fn malformed(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) -> Result {
        let message = match err.kind() {
            DecodeErrorKind::Invalid { what } if what.contains("NUL") => {
                "invalid string in message"
            }
            _ => "invalid message format",
        };
        let error = SqlError::new("08P01", message);
        match err.message() {
            Some("Sync") => {
                self.session.sync();
                send_error(cx, "ERROR", &error, None)?;
                self.ready(cx)
            }
            Some("Flush") => {
                if !self.session.skipping() {
                    send_error(cx, "ERROR", &error, None)?;
                    self.session.skip_to_sync();
                }
                Ok(())
            }
            _ if self.session.skipping() => Ok(()),
            _ => {
                send_error(cx, "ERROR", &error, None)?;
                self.session.fail_block();
                self.ready(cx)
            }
        }
    }
}

#[dispatcher(protocol = pg, role = server)]
impl PgConnection {
    /// Raises the output limit so that the results of one query fit.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        let limit = self.config.max_output + 4 * 1024 * 1024;
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER, limit);
        Ok(())
    }

    fn on_ssl_request(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::SslRequest) -> Result {
        cx.send(pg::EncryptionAnswer { answer: b"N" })
    }

    fn on_gss_enc_request(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::GssEncRequest) -> Result {
        cx.send(pg::EncryptionAnswer { answer: b"N" })
    }

    fn on_cancel_request(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: pg::CancelRequest) -> Result {
        Ok(())
    }

    fn on_startup(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: pg::Startup<'_>,
    ) -> Result<pg::StartupNext> {
        for p in msg.params.iter() {
            let value = String::from_utf8_lossy(p.value);
            match p.name {
                b"user" => self.user = value.into_owned(),
                b"application_name" => self.application_name = value.into_owned(),
                b"client_encoding" => {
                    let v = value.to_ascii_uppercase().replace(['-', '_'], "");
                    self.client_encoding = match v.as_str() {
                        "UTF8" | "UNICODE" => "UTF8",
                        "SQLASCII" => "SQL_ASCII",
                        _ => {
                            fatal(
                                cx,
                                "0A000",
                                &format!("conversion between {value} and UTF8 is not supported"),
                            )?;
                            return Ok(pg::StartupNext::Close);
                        }
                    };
                }
                _ => {}
            }
        }
        if self.user.is_empty() {
            fatal(
                cx,
                "28000",
                "no PostgreSQL user name specified in startup packet",
            )?;
            return Ok(pg::StartupNext::Close);
        }
        if self.config.password.is_some() {
            cx.send(pg::AuthCleartext {})?;
            return Ok(pg::StartupNext::Authenticating);
        }
        self.welcome(cx)?;
        Ok(pg::StartupNext::Ready)
    }

    fn on_password(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: pg::Password<'_>,
    ) -> Result<pg::PasswordNext> {
        let right = self
            .config
            .password
            .as_deref()
            .is_some_and(|p| p.as_bytes() == msg.password);
        if !right {
            let user = self.user.clone();
            fatal(
                cx,
                "28P01",
                &format!("password authentication failed for user \"{user}\""),
            )?;
            return Ok(pg::PasswordNext::Close);
        }
        self.welcome(cx)?;
        Ok(pg::PasswordNext::Ready)
    }

    fn on_query(&mut self, cx: &mut ServerCx<'_, '_>, msg: pg::Query<'_>) -> Result {
        if self.session.skipping() {
            // PostgreSQL ignores everything up to Sync after an extended-protocol error.
            return Ok(());
        }
        let mut out = CxReplies {
            cx,
            failed: None,
            max_output: self.config.max_output,
        };
        match std::str::from_utf8(msg.sql) {
            Ok(sql) => {
                let db = self.db.clone();
                let mut db = db.borrow_mut();
                self.session.query(&mut db, sql, &mut out);
            }
            Err(e) => {
                let bad = msg.sql[e.valid_up_to()];
                let err = SqlError::new(
                    "22021",
                    format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
                );
                Replies::error(&mut out, &err, None);
            }
        }
        if let Some(e) = out.failed {
            return Err(e);
        }
        self.ready(cx)
    }

    fn on_terminate(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: pg::Terminate) -> Result {
        Ok(())
    }

    fn on_parse(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::Parse<'_>) -> Result {
        self.extended(cx)
    }

    fn on_bind(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::Bind<'_>) -> Result {
        self.extended(cx)
    }

    fn on_describe(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::Describe<'_>) -> Result {
        self.extended(cx)
    }

    fn on_execute(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::Execute<'_>) -> Result {
        self.extended(cx)
    }

    fn on_close_statement(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        _msg: pg::CloseStatement<'_>,
    ) -> Result {
        self.extended(cx)
    }

    fn on_sync(&mut self, cx: &mut ServerCx<'_, '_>, _msg: pg::Sync) -> Result {
        self.session.sync();
        self.ready(cx)
    }

    /// Replies are sent at the end of every read anyway.
    fn on_flush(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: pg::Flush) -> Result {
        Ok(())
    }

    /// Answers bad input as PostgreSQL does, before the description's policy closes the
    /// connection (or, for a malformed Query, Sync or Flush, skips the message).
    fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) {
        log::debug!("{err}");
        let state = cx.state();
        let r = match (state, err.kind()) {
            (pg::State::Connecting, DecodeErrorKind::Unknown) => fatal(
                cx,
                "0A000",
                "unsupported frontend protocol: server supports 3.0 to 3.0",
            ),
            (pg::State::Connecting, DecodeErrorKind::Oversize { .. }) => {
                fatal(cx, "08P01", "invalid length of startup packet")
            }
            (pg::State::Connecting, _) if err.message() == Some("Startup") => fatal(
                cx,
                "08P01",
                "invalid startup packet layout: expected terminator as last byte",
            ),
            (pg::State::Connecting, _) => fatal(cx, "08P01", "invalid length of startup packet"),
            (pg::State::Authenticating, DecodeErrorKind::Oversize { .. }) => {
                fatal(cx, "08P01", "invalid message length")
            }
            (
                pg::State::Authenticating,
                DecodeErrorKind::Unknown | DecodeErrorKind::NotAllowed { .. },
            ) => fatal(cx, "08P01", "expected password response"),
            (pg::State::Authenticating, _) => fatal(cx, "08P01", "invalid password packet size"),
            (pg::State::Ready, DecodeErrorKind::Oversize { .. }) => {
                fatal(cx, "08P01", "invalid message length")
            }
            (pg::State::Ready, DecodeErrorKind::Unknown | DecodeErrorKind::NotAllowed { .. }) => {
                fatal(cx, "08P01", "invalid frontend message type")
            }
            // A length that cannot be (below 4): the stream is lost.
            (pg::State::Ready, _) if !err.can_continue() => {
                fatal(cx, "08P01", "invalid message length")
            }
            (pg::State::Ready, _) if err.message() == Some("Terminate") => {
                fatal(cx, "08P01", "invalid message format")
            }
            (pg::State::Ready, _) => self.malformed(cx, err),
        };
        if let Err(e) = r {
            log::debug!("cannot answer bad input: {e}");
            cx.close();
        }
    }

    fn on_close(&mut self, _cx: &mut ServerCx<'_, '_>, _reason: Option<&std::io::Error>) {
        if let Ok(mut db) = self.db.try_borrow_mut() {
            self.session.end(&mut db);
        }
    }
}

/// The listening channel: each accepted connection becomes a [`PgConnection`] to the
/// shared database.
///
/// ```no_run
/// use asyncore_examples::pg_server::{Config, PgServer};
/// use asyncore_examples::server::{serve, ServerConfig};
/// # fn main() -> std::io::Result<()> {
/// let config = ServerConfig {
///     listen: "127.0.0.1:5432".parse().unwrap(),
///     backend: Default::default(),
///     threads: 1,
/// };
/// serve(&config, || PgServer::new(Config::default()))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PgServer {
    db: SharedDatabase,
    config: Rc<Config>,
    next_pid: i32,
    seed: u64,
}

impl PgServer {
    /// A server with an empty database.
    pub fn new(config: Config) -> PgServer {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
            | 1;
        PgServer {
            db: Rc::new(RefCell::new(Database::new(config.limits))),
            config: Rc::new(config),
            next_pid: std::process::id() as i32,
            seed,
        }
    }

    /// The database its connections share.
    pub fn database(&self) -> SharedDatabase {
        self.db.clone()
    }
}

impl Dispatcher for PgServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        // A cancel key that looks like nothing in particular (xorshift).
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let conn = PgConnection::new(
            self.db.clone(),
            self.config.clone(),
            self.next_pid,
            (self.seed >> 32) as i32,
        );
        ch.add_accepted(sock, addr, pg::ServerChannel::new(conn))?;
        Ok(())
    }
}
