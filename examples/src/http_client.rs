//! An HTTP/1.1 client on the channel generated from `protocols/descriptions/http.aproto`
//! ([`http::ClientChannel`]).
//!
//! Requests go out through the generated encoders: a `Request` (the request line and its
//! headers), then the body as one `Body` (with `Content-Length`) or as `Chunk`s
//! (`Transfer-Encoding: chunked`, ending with the chunk of size 0). Responses come in as
//! the generated messages: a `Response` (status line and headers), after which the
//! handler says how the body is read, as RFC 9112 section 6.3 orders it:
//!
//! * no body after a `HEAD` request, or for a `1xx`, `204` or `304` status (a `1xx`
//!   interim response is skipped and the final one awaited);
//! * `Transfer-Encoding` ending in `chunked`: `Chunk` messages up to the one of size 0
//!   (chunk extensions are ignored; trailer fields are not supported by the description,
//!   and a response that has them fails as bad input);
//! * `Content-Length: N`: the handler calls `expect_content(N)` and the next message is
//!   read as a `Content` of exactly N bytes (nothing is expected for `Content-Length: 0`);
//! * neither: the body runs to the close of the connection. The description has no
//!   message for "everything up to the close", so the client reads it as a sequence of
//!   `Content` messages of whatever has arrived (`expect_content(cx.buffered().max(1))`,
//!   again after each: about two messages per read); the connection is not reused.
//!
//! Every body is bounded: a `Content-Length` over the client's
//! [`max_body`](HttpClient::max_body) is refused before anything is expected (so before
//! anything of it is buffered), and chunks and close-delimited bytes are counted as they
//! come (a chunk is whole when it is counted: at most 16 MiB, the description's bound).
//! Status lines and header lines are bounded by the description too (8 KiB a line, 100
//! header fields).
//!
//! # Several requests on one connection
//!
//! [`HttpClient::batch`] sends its requests over one keep-alive connection, **pipelined**:
//! up to [`pipeline`](HttpClient::pipeline) requests are sent ahead of their responses
//! (default [`DEFAULT_PIPELINE`]; 1 makes it sequential). Only requests that are safe to
//! repeat are pipelined: a `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` or `DELETE` without
//! a body. Any other request (a `POST`, a request with a body) is sent alone, once every
//! earlier response is in, and nothing follows it until its own response is in. When the
//! server closes the connection (it said `Connection: close`, it answered in HTTP/1.0
//! without `keep-alive`, or it just closed an idle connection) before answering
//! everything, the requests still waiting are sent again on a new connection, provided
//! the old one answered at least one and those waiting are safe to repeat.
//!
//! ```no_run
//! use asyncore_examples::http_client::{HttpClient, HttpRequest};
//! # fn main() -> std::io::Result<()> {
//! let client = HttpClient::new("127.0.0.1:8080".parse().unwrap());
//! let page = client.get("/index.html")?;
//! assert_eq!(page.status, 200);
//! let both = client.batch(vec![HttpRequest::get("/a.txt"), HttpRequest::head("/b.bin")])?;
//! assert!(both[1].body.is_empty());
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::{Addr, Backend, Map};

mod connection;
mod program;
mod url;

pub use program::{parse_size, run, Failure, Options};
pub use url::Url;

use connection::{Connection, Shared};

/// The module generated from `protocols/descriptions/http.aproto`, shared with the server.
pub use crate::http_server::http;

/// The default bound on one response body: 64 MiB.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;

/// The largest `Content-Length` body the description reads (`Content ... max 1GiB`);
/// [`HttpClient::max_body`] is capped to it.
pub const MAX_CONTENT: u64 = 1024 * 1024 * 1024;

/// The largest request body the client sends (`Body ... max 16MiB` in the description;
/// a chunked body is bounded the same way, as it is held in memory to be sent).
pub const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

/// The size of the chunks of a body sent with `Transfer-Encoding: chunked`.
pub const SEND_CHUNK: usize = 64 * 1024;

/// How many requests a batch sends ahead of their responses by default.
pub const DEFAULT_PIPELINE: usize = 8;

/// The default bound on a whole batch (or a single request): 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `User-Agent` sent unless a request names its own.
pub const USER_AGENT: &str = "asyncore-http-client/0.1";

// ===== requests and responses =====

/// A request: its method, target (`/path?query`), extra headers and body.
///
/// The client adds `Host`, `User-Agent` and `Accept` unless the request has its own, and
/// `Content-Length` (or `Transfer-Encoding: chunked`) when it has a body.
///
/// ```
/// use asyncore_examples::http_client::HttpRequest;
/// let r = HttpRequest::post("/form", "a=1").header("Content-Type", "text/plain").chunked(true);
/// assert_eq!(r.method, "POST");
/// assert_eq!(r.body.as_deref(), Some(&b"a=1"[..]));
/// assert!(r.chunked);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method (`GET`, `HEAD`, `POST`...).
    pub method: String,
    /// The request target: an origin-form path and query, like `/a/b?c=d`.
    pub target: String,
    /// Extra header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any. `Some` of an empty body still sends `Content-Length: 0` (or an
    /// empty chunked body).
    pub body: Option<Vec<u8>>,
    /// Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`.
    pub chunked: bool,
}

impl HttpRequest {
    /// A request with `method`, `target` and nothing else.
    ///
    /// ```
    /// use asyncore_examples::http_client::HttpRequest;
    /// assert_eq!(HttpRequest::new("OPTIONS", "*").target, "*");
    /// ```
    pub fn new(method: &str, target: &str) -> HttpRequest {
        HttpRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: None,
            chunked: false,
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> HttpRequest {
        HttpRequest::new("GET", target)
    }

    /// `HEAD target`.
    pub fn head(target: &str) -> HttpRequest {
        HttpRequest::new("HEAD", target)
    }

    /// `POST target` with `body`.
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> HttpRequest {
        HttpRequest::new("POST", target).body(body)
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> HttpRequest {
        self.body = Some(body.into());
        self
    }

    /// Sends the body chunked (`true`) or with `Content-Length` (`false`, the default).
    pub fn chunked(mut self, chunked: bool) -> HttpRequest {
        self.chunked = chunked;
        self
    }

    /// Whether the method is `HEAD` (its response has no body).
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }

    /// Whether the request may be sent ahead of earlier responses and sent again on a
    /// new connection: an idempotent method (RFC 9110 section 9.2.2) and no body.
    ///
    /// ```
    /// use asyncore_examples::http_client::HttpRequest;
    /// assert!(HttpRequest::get("/").is_repeatable());
    /// assert!(!HttpRequest::post("/", "x").is_repeatable());
    /// assert!(!HttpRequest::new("PUT", "/").body("x").is_repeatable());
    /// ```
    pub fn is_repeatable(&self) -> bool {
        self.body.is_none()
            && ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
                .iter()
                .any(|m| self.method == *m)
    }

    /// Checks what the encoder would refuse or what the client sets itself, with a
    /// message that names the problem.
    ///
    /// ```
    /// use asyncore_examples::http_client::HttpRequest;
    /// assert!(HttpRequest::get("/a b").check().unwrap_err().contains("target"));
    /// assert!(HttpRequest::get("/").header("X", "a\r\nb").check().is_err());
    /// assert!(HttpRequest::get("/").header("Content-Length", "3").check().is_err());
    /// assert!(HttpRequest::get("/").header("X-Ok", "fine").check().is_ok());
    /// ```
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.method.is_empty() || !self.method.bytes().all(is_tchar) {
            return Err(format!("`{}` is not a method (a token)", self.method));
        }
        if self.target.is_empty()
            || self.target.bytes().any(|b| b <= b' ' || b == 0x7f)
            || self.target.len() > 8000
        {
            return Err(format!(
                "the request target `{}` must be non-empty, at most 8000 bytes, without \
                 spaces or control characters",
                self.target.escape_debug()
            ));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!("`{name}` is not a header name (a token)"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(format!(
                    "the value of header `{name}` has a line break or a NUL"
                ));
            }
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                return Err(format!(
                    "`{name}` is set by the client from the body; leave it out"
                ));
            }
        }
        if self.headers.len() > 90 {
            return Err("more than 90 header fields".into());
        }
        if let Some(body) = &self.body {
            if body.len() > MAX_REQUEST_BODY {
                return Err(format!(
                    "a request body of {} bytes is over the limit of {MAX_REQUEST_BODY} bytes",
                    body.len()
                ));
            }
        }
        Ok(())
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// A response: its status line, header fields and body.
///
/// ```
/// use asyncore_examples::http_client::HttpResponse;
/// let r = HttpResponse {
///     version: "HTTP/1.1".into(),
///     status: 200,
///     reason: "OK".into(),
///     headers: vec![("Content-Type".into(), b"text/plain".to_vec())],
///     body: b"hi".to_vec(),
/// };
/// assert_eq!(r.header("content-type"), Some("text/plain"));
/// assert_eq!(r.head_bytes(), b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The version of the status line, like `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (lossily decoded as UTF-8).
    pub reason: String,
    /// The header fields, in order, with the value's surrounding whitespace removed.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, decoded from its chunks when it was chunked; empty for a `HEAD` request.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of the header `name` (case-insensitive), as text; `None` when the
    /// header is absent or its value is not UTF-8 (see [`header_bytes`](Self::header_bytes)).
    pub fn header(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.header_bytes(name)?).ok()
    }

    /// The first value of the header `name` (case-insensitive), as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The status line and header fields as `curl -i` prints them: each line ending in
    /// CRLF, then an empty line.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.version, self.status, self.reason).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

// ===== the client =====

/// An HTTP/1.1 client of one server: each call runs its own asyncore [`Map`] loop until
/// every response is in, the connection fails, or the [`timeout`](Self::timeout) passes.
///
/// ```no_run
/// use asyncore_examples::http_client::{HttpClient, HttpRequest};
/// use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let client = HttpClient::new("127.0.0.1:8080".parse().unwrap())
///     .host("example.org")
///     .timeout(Duration::from_secs(5))
///     .max_body(1 << 20);
/// let r = client.request(HttpRequest::post("/submit", "a=1"))?;
/// println!("{} {}", r.status, r.reason);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    addr: SocketAddr,
    host: String,
    backend: Backend,
    timeout: Duration,
    max_body: u64,
    pipeline: usize,
    tls: Option<TlsTarget>,
}

/// What an `https://` client needs: the configuration (its trusted roots) and the name
/// the server's certificate must be for.
pub type TlsTarget = (
    std::sync::Arc<asyncore_runtime::tls::ClientConfig>,
    asyncore_runtime::tls::ServerName<'static>,
);

/// What a batch did, besides its responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// The responses delivered.
    pub responses: usize,
    /// The connections opened (more than 1 when the server closed one before answering
    /// everything).
    pub connections: usize,
}

impl HttpClient {
    /// A client of the server at `addr`, whose `Host` header is `addr` (see
    /// [`host`](Self::host)).
    pub fn new(addr: SocketAddr) -> HttpClient {
        let host = match addr {
            SocketAddr::V4(a) if a.port() == 80 => a.ip().to_string(),
            SocketAddr::V6(a) if a.port() == 80 => format!("[{}]", a.ip()),
            a => a.to_string(),
        };
        HttpClient {
            addr,
            host,
            backend: Backend::default(),
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            pipeline: DEFAULT_PIPELINE,
            tls: None,
        }
    }

    /// Speaks HTTPS (`Some`): TLS with this configuration, checking the server's
    /// certificate for this name.
    ///
    /// ```no_run
    /// use asyncore_examples::http_client::HttpClient;
    /// use asyncore_runtime::tls;
    /// # fn main() -> std::io::Result<()> {
    /// let config = tls::client_config(None)?;
    /// let client = HttpClient::new("127.0.0.1:8443".parse().unwrap())
    ///     .host("localhost:8443")
    ///     .tls(Some((config, tls::server_name("localhost")?)));
    /// let r = client.get("/")?;
    /// # let _ = r;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, tls: Option<TlsTarget>) -> HttpClient {
        self.tls = tls;
        self
    }

    /// Sets the value of the `Host` header.
    pub fn host(mut self, host: &str) -> HttpClient {
        self.host = host.to_string();
        self
    }

    /// Sets the readiness backend of the loop (default: epoll on Linux).
    pub fn backend(mut self, backend: Backend) -> HttpClient {
        self.backend = backend;
        self
    }

    /// Sets the bound on a whole call (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> HttpClient {
        // Bounded so that the deadline can always be computed.
        self.timeout = timeout.min(Duration::from_secs(365 * 24 * 3600));
        self
    }

    /// Sets the largest response body accepted (default [`DEFAULT_MAX_BODY`], at most
    /// [`MAX_CONTENT`]); a larger one is an error before it is buffered.
    pub fn max_body(mut self, bytes: u64) -> HttpClient {
        self.max_body = bytes.min(MAX_CONTENT);
        self
    }

    /// Sets how many requests are sent ahead of their responses (default
    /// [`DEFAULT_PIPELINE`]; 1 sends each once the previous response is in).
    pub fn pipeline(mut self, depth: usize) -> HttpClient {
        self.pipeline = depth.max(1);
        self
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> io::Result<HttpResponse> {
        self.request(HttpRequest::get(path))
    }

    /// `HEAD path`.
    pub fn head(&self, path: &str) -> io::Result<HttpResponse> {
        self.request(HttpRequest::head(path))
    }

    /// Sends one request and returns its response.
    pub fn request(&self, request: HttpRequest) -> io::Result<HttpResponse> {
        let mut out = self.batch(vec![request])?;
        out.pop()
            .ok_or_else(|| io::Error::other("no response (an internal error)"))
    }

    /// Sends `requests` over one keep-alive connection (pipelined, see the
    /// [module documentation](self)) and returns their responses in order.
    pub fn batch(&self, requests: Vec<HttpRequest>) -> io::Result<Vec<HttpResponse>> {
        let mut out = Vec::with_capacity(requests.len());
        self.batch_with(requests, |_, r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// Like [`batch`](Self::batch), handing each response to `each` (with the index of
    /// its request) as soon as it is complete, so that only one body is held at a time.
    /// An error from `each` ends the batch with that error.
    ///
    /// ```no_run
    /// use asyncore_examples::http_client::{HttpClient, HttpRequest};
    /// use std::io::Write;
    /// # fn main() -> std::io::Result<()> {
    /// let client = HttpClient::new("127.0.0.1:8080".parse().unwrap());
    /// let reqs = vec![HttpRequest::get("/a"), HttpRequest::get("/b")];
    /// let stats = client.batch_with(reqs, |_, r| std::io::stdout().write_all(&r.body))?;
    /// assert_eq!(stats.responses, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn batch_with(
        &self,
        requests: Vec<HttpRequest>,
        mut each: impl FnMut(usize, HttpResponse) -> io::Result<()>,
    ) -> io::Result<BatchStats> {
        for (i, r) in requests.iter().enumerate() {
            r.check().map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("request {i}: {e}"))
            })?;
        }
        let total = requests.len();
        let shared = Rc::new(RefCell::new(Shared {
            requests,
            next_to_send: 0,
            next_answer: 0,
            done: VecDeque::new(),
            error: None,
            host: self.host.clone(),
            max_body: self.max_body,
            pipeline: self.pipeline,
        }));
        let deadline = Instant::now() + self.timeout;
        let mut stats = BatchStats::default();
        let deliver = |stats: &mut BatchStats,
                       each: &mut dyn FnMut(usize, HttpResponse) -> io::Result<()>|
         -> io::Result<()> {
            loop {
                let next = shared.borrow_mut().done.pop_front();
                let Some((i, r)) = next else {
                    return Ok(());
                };
                stats.responses += 1;
                each(i, r)?;
            }
        };
        while shared.borrow().next_answer < total {
            {
                let mut s = shared.borrow_mut();
                s.next_to_send = s.next_answer;
            }
            stats.connections += 1;
            let conn = Connection::new(shared.clone());
            let link = conn.link.clone();
            let mut map = Map::new();
            let token = map.connect(&Addr::from(self.addr), http::ClientChannel::new(conn))?;
            if let Some((config, name)) = &self.tls {
                map.with_channel(token, |ch| {
                    ch.start_tls_client(config.clone(), name.clone())
                })
                .unwrap_or(Ok(()))?;
            }
            while !map.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    map.close_all();
                    let s = shared.borrow();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "{} of {total} responses from {} after {:?}",
                            s.next_answer, self.addr, self.timeout
                        ),
                    ));
                }
                let pass = map.run_with(
                    Some(left.min(Duration::from_millis(100))),
                    self.backend,
                    Some(1),
                );
                if let Err(e) = pass.map_err(|e| io::Error::other(e.to_string())) {
                    map.close_all();
                    return Err(e);
                }
                if let Err(e) = deliver(&mut stats, &mut each) {
                    map.close_all();
                    return Err(e);
                }
            }
            deliver(&mut stats, &mut each)?;
            let mut s = shared.borrow_mut();
            if let Some(e) = s.error.take() {
                return Err(e);
            }
            if s.next_answer >= total {
                break;
            }
            // The connection ended with requests unanswered: go on with a new one when
            // this one made progress and those sent again are safe to repeat.
            let link = link.borrow();
            let waiting = &s.requests[s.next_answer..s.next_to_send];
            let why = match &link.close_reason {
                Some(e) => format!(": {e}"),
                None => String::new(),
            };
            if link.answered == 0 {
                let kind = link
                    .close_reason
                    .as_ref()
                    .map(io::Error::kind)
                    .unwrap_or(io::ErrorKind::UnexpectedEof);
                let what = if link.opened {
                    format!(
                        "{} closed the connection without answering `{} {}`{why}",
                        self.addr,
                        s.requests[s.next_answer].method,
                        s.requests[s.next_answer].target
                    )
                } else {
                    format!("cannot connect to {}{why}", self.addr)
                };
                return Err(io::Error::new(kind, what));
            }
            if let Some(r) = waiting.iter().find(|r| !r.is_repeatable()) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} closed the connection before answering `{} {}`, which is not \
                         safe to send again{why}",
                        self.addr, r.method, r.target
                    ),
                ));
            }
        }
        Ok(stats)
    }
}

/// RFC 9110 `tchar`: the bytes of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl fmt::Display for HttpResponse {
    /// The status line, like `HTTP/1.1 404 Not Found`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.version, self.status, self.reason)
    }
}
