//! An HTTP/1.1 server of static files, generated from `protocols/descriptions/http.aproto`.
//!
//! The description gives the framing (CRLF lines of at most 8 KiB, at most 100 header
//! fields), the messages (`Request`, empty lines before it, a `Body` of the length the
//! headers give, a chunked body as `ChunkSize` lines, `ChunkData` and a `Trailer`
//! section, and the server's `Response` and `Content`), the states (`Idle`, `Sized`,
//! `Chunked`, `InChunk`, `Trailers`) and the replies to bad input: 414 for an over-long
//! request line, 431 for an over-long header line, 413 for an over-long body, 400 for
//! anything that does not parse, each followed by a close. [`Session`] is the handler
//! `#[dispatcher]` makes of it.
//!
//! What the handler adds:
//!
//! * the rules of RFC 9112 and RFC 9110 about the request line and the headers
//!   ([`parse_version`], [`valid_target`], [`analyze`]): the version (`HTTP/1.0`;
//!   `HTTP/1.1` to `HTTP/1.9` as 1.1; another major version 505; else 400), no control
//!   characters in the target or a field value (400), `Host` (exactly one valid authority
//!   in HTTP/1.1, else 400), `Content-Length` (digits, once), `Transfer-Encoding`
//!   (`chunked` once; another coding 501; never with a `Content-Length`, never in
//!   HTTP/1.0), `Connection` (`close`, `keep-alive`), `Expect: 100-continue` (answered
//!   with `100 Continue` before the body is read, except to an HTTP/1.0 client);
//! * the body limit (`--max-body`, 413 and a close): checked against `Content-Length`
//!   before the body is read, and against the running total of a chunked body at each
//!   chunk's size line, before its data;
//! * the resources: `GET` and `HEAD` of the files under the root ([`resolve`]: never
//!   outside it), `POST /echo` answered with the request's body, and without a root a
//!   fixed greeting at `/` ([`HELLO`]); 404, 403, and 405 with an `Allow` header (a
//!   malformed target, one that would leave the root, and `TRACE` also close the
//!   connection);
//! * keep-alive and pipelining: responses leave in the order of the requests, and every
//!   response has a `Content-Length` (and `Server`, `Date`, `Content-Type`);
//! * a cache of small files per loop, as nginx's `open_file_cache` but checked on every
//!   request: a file of at most 16 KiB, once served, is kept with its identity (device,
//!   inode, size, modification and change times), and the next `GET` or `HEAD` of the
//!   same path is answered from it after one `statx` finds the same identity: no open,
//!   read or close, and no allocation. A file rewritten, replaced (by a link out of the
//!   root too) or removed misses and is looked up again under the root. At most 1,024
//!   files and 8 MiB per loop.
//!
//! # Bounded memory per connection
//!
//! The generated channel gathers the responses to one read and hands them to the
//! channel's output buffer, which refuses data past its limit (4 MiB). A response goes
//! that way only while the responses of the current read add up to less than
//! [`DIRECT_BUDGET`], and a file only if it is at most [`DIRECT_FILE`] bytes (it is
//! read whole). Anything else waits in the connection's own queue, in order, which
//! [`HttpConnection`] drains as the output buffer empties: bodies are copied
//! [`FILE_CHUNK`] bytes at a time while the output buffer is below
//! [`STREAM_HIGH_WATER`], files go from the file to the socket with `sendfile` (at most
//! [`SENDFILE_CHUNK`] bytes a call) once the buffer is empty, and a static file request that waits behind another is not
//! even looked up (nor its file opened) until its turn. While the queue is not empty the
//! connection reads no more requests. What the queue may hold is bounded too (the body
//! limit plus 4 MiB): a client that pipelines past that, without reading its responses,
//! is disconnected. So a connection holds at most its read buffer (the description's 16
//! MiB bound on a message), one body being read (`--max-body`), the queue and the
//! output buffer, whatever the size of the files it asks for; files larger than
//! `--max-file` are refused (403).
//!
//! A client that shuts down its sending side after its requests still gets every
//! response: its end of input is read only once the queue is empty, and what is then in
//! the output buffer is sent before the close. One consequence of the queue, an edge
//! case: bad input that arrives while responses are still queued drops the connection
//! (the description's error reply would otherwise go out ahead of them).

mod access;
mod cache;
mod files;
mod queue;
mod reply;
mod request;
mod session;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use asyncore_runtime::{protocol, Addr, Channel, Dispatcher, Result, Socket};

pub use access::{AccessLog, Entry as AccessEntry};
pub use files::{canonical_root, content_type, http_date, open_file, open_under, resolve, Root};
pub use queue::HttpConnection;
pub use reply::reason;
pub use request::{
    analyze, parse_version, percent_decode, request_path, valid_chunk_ext, valid_field_value,
    valid_host, valid_target, BodyFraming, Head, Refusal, Version,
};
pub use session::Session;

protocol!(pub mod http = "../protocols/descriptions/http.aproto");

/// The body of `GET /` when the server has no root.
pub const HELLO: &[u8] = b"hello from asyncore\n";

/// The `Server` header of every response.
pub const SERVER_NAME: &str = "asyncore-http";

/// The largest request body by default ([`Config::max_body`]): 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The largest [`Config::max_body`]: the description bounds a `Body` at 16 MiB.
pub const MAX_BODY_LIMIT: usize = 16 << 20;

/// The largest file served by default ([`Config::max_file`]): 64 MiB.
pub const DEFAULT_MAX_FILE: u64 = 64 << 20;

/// The largest [`Config::max_file`]: the description bounds a `Content` at 1 GiB.
pub const MAX_FILE_LIMIT: u64 = 1 << 30;

/// How long a connection may stay silent by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a request line and its header fields may take to arrive by default, from
/// their first byte (nginx's `client_header_timeout`); then `408` and a close.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes of responses to one read that go straight to the output buffer; the
/// rest wait in the connection's queue.
pub const DIRECT_BUDGET: usize = 1 << 20;

/// The largest file read whole and sent with the other responses of a read (its head
/// and body in one send); larger files are sent from the queue with `sendfile`, straight
/// from the file to the socket.
pub const DIRECT_FILE: u64 = 16 * 1024;

/// The most bytes of a file one `sendfile` call is asked to send.
pub const SENDFILE_CHUNK: u64 = 1 << 20;

/// The bytes read from a file, or taken from a queued body, at a time.
pub const FILE_CHUNK: usize = 64 * 1024;

/// The queue is drained into the output buffer while the buffer holds less than this.
pub const STREAM_HIGH_WATER: usize = 256 * 1024;

/// What the queue may hold beyond the body limit before the connection is dropped.
pub const QUEUE_SLACK: usize = 4 << 20;

/// An estimate of a response's status line and headers, for the budgets.
pub(crate) const HEAD_SIZE: usize = 256;

/// How a server behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The directory of the static files ([`canonical_root`]); `None`: only `/` (with
    /// [`HELLO`]) and `/echo` exist.
    pub root: Option<Root>,
    /// The largest request body, in bytes; at most [`MAX_BODY_LIMIT`].
    pub max_body: usize,
    /// The largest file served, in bytes; at most [`MAX_FILE_LIMIT`].
    pub max_file: u64,
    /// A connection silent for this long is closed; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// A request head not whole this long after its first byte gets `408` and a close
    /// (a body has the idle timeout only); `None`: never.
    pub header_timeout: Option<Duration>,
    /// Where a line per response goes, in the combined log format; `None`: nowhere.
    pub access_log: Option<Arc<AccessLog>>,
}

impl Default for Config {
    /// No root, [`DEFAULT_MAX_BODY`], [`DEFAULT_MAX_FILE`], [`DEFAULT_IDLE_TIMEOUT`],
    /// [`DEFAULT_HEADER_TIMEOUT`], no access log.
    fn default() -> Self {
        Config {
            root: None,
            max_body: DEFAULT_MAX_BODY,
            max_file: DEFAULT_MAX_FILE,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            header_timeout: Some(DEFAULT_HEADER_TIMEOUT),
            access_log: None,
        }
    }
}

/// Counters of a server, shared by its loops.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests answered (or refused).
    pub requests: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

/// The listening channel: each accepted connection becomes an [`HttpConnection`].
///
/// ```no_run
/// use std::sync::Arc;
/// use asyncore_examples::http_server::{canonical_root, Config, HttpServer, Stats};
/// use asyncore_examples::server::{serve, ServerConfig};
/// # fn main() -> std::io::Result<()> {
/// let root = canonical_root(std::path::Path::new("/var/www"))?;
/// let config = Arc::new(Config { root: Some(root), ..Config::default() });
/// let stats = Arc::new(Stats::default());
/// let listen = ServerConfig { listen: "127.0.0.1:8080".parse().unwrap(), backend: Default::default(), threads: 1 };
/// serve(&listen, move || HttpServer::new(config.clone(), stats.clone()))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct HttpServer {
    /// HTTPS: the TLS configuration every connection starts with.
    tls: Option<Arc<asyncore_runtime::tls::ServerConfig>>,
    /// What the loop's connections share: the configuration, the counters, the cache of
    /// small files (`cache.rs`)...
    shared: std::rc::Rc<session::Shared>,
}

impl HttpServer {
    /// A server configured by `config`, counting in `stats`.
    pub fn new(config: Arc<Config>, stats: Arc<Stats>) -> HttpServer {
        HttpServer {
            shared: session::Shared::new(config, stats),
            tls: None,
        }
    }
}

impl HttpServer {
    /// The same server speaking HTTPS (`Some`): every connection is TLS from its first
    /// byte.
    pub fn with_tls(mut self, tls: Option<Arc<asyncore_runtime::tls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }
}

impl Dispatcher for HttpServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let session = Session::in_loop(self.shared.clone());
        let conn = HttpConnection::new(session);
        match &self.tls {
            Some(tls) => ch.add_accepted_tls(sock, addr, tls.clone(), conn)?,
            None => ch.add_accepted(sock, addr, conn)?,
        };
        Ok(())
    }
}
