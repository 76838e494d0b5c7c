//! The handler of a connection: what each request is answered with, and when.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{dispatcher, Channel, Result};

use super::cache::{key_of, FileCache, CACHED_FILE_MAX};
use super::files::{self, content_type, open_under};
use super::http::{self, ServerCx};
use super::queue::{Queue, Queued};
use super::reply::{connection_header, with_head, Reply, ReplyBody};
use super::request::{
    analyze, parse_version, request_path, valid_chunk_ext, valid_field_value, valid_target,
};
use super::{
    BodyFraming, Config, Refusal, Stats, Version, DIRECT_BUDGET, DIRECT_FILE, HEAD_SIZE, HELLO,
    MAX_BODY_LIMIT, QUEUE_SLACK,
};

/// What a request is answered with, decided from its line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// `GET /` without a root.
    Hello,
    /// A file under the root (the decoded path segments).
    Static(Vec<Vec<u8>>),
    /// `POST /echo`: the body back.
    Echo,
    /// An error status, and the `Allow` header of a 405.
    Refuse(Refusal, Option<&'static str>),
    /// An error status, then the connection closes: a malformed target or one that
    /// tries to leave the root, or `TRACE` (as nginx does).
    RefuseAndClose(Refusal, Option<&'static str>),
    /// Nothing: a request after the one that closes the connection.
    Ignore,
}

/// The resource a request names: [`Action`] from its method and target.
fn route(method: &[u8], target: &[u8], has_root: bool) -> Action {
    const ALL: &str = "GET, HEAD, POST";
    let not_allowed = Refusal {
        status: 405,
        detail: "method not allowed",
    };
    if target == b"*" {
        return match method {
            b"OPTIONS" => Action::Refuse(not_allowed, Some(ALL)),
            _ => Action::RefuseAndClose(
                Refusal {
                    status: 400,
                    detail: "malformed request target",
                },
                None,
            ),
        };
    }
    let segments = match request_path(target) {
        Ok(s) => s,
        Err(refusal) => return Action::RefuseAndClose(refusal, None),
    };
    if method == b"TRACE" {
        return Action::RefuseAndClose(not_allowed, Some(ALL));
    }
    if !matches!(method, b"GET" | b"HEAD" | b"POST") {
        return Action::Refuse(not_allowed, Some(ALL));
    }
    if segments.len() == 1 && segments[0] == b"echo" {
        return match method {
            b"POST" => Action::Echo,
            _ => Action::Refuse(not_allowed, Some("POST")),
        };
    }
    if method == b"POST" {
        return Action::Refuse(not_allowed, Some("GET, HEAD"));
    }
    if !has_root {
        return match segments.is_empty() {
            true => Action::Hello,
            false => Action::Refuse(
                Refusal {
                    status: 404,
                    detail: "no such resource",
                },
                None,
            ),
        };
    }
    Action::Static(segments)
}

/// The request whose body is being read.
#[derive(Debug)]
struct Current {
    action: Action,
    head_only: bool,
    version: Version,
    keep_alive: bool,
    /// Bytes of a chunked body so far.
    received: u64,
    /// A chunked body to echo.
    body: Vec<u8>,
}

/// What follows a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// The connection goes on (or waits in its queue for a close).
    Open,
    /// The connection closes once the response is sent: the state machine's `Close`.
    Close,
}

/// What the connections of one loop share: the server's configuration and counters,
/// the cache of small files, the date of the `Date` header and the space a small file
/// is read into (held only while a response is made).
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: Arc<Config>,
    pub(super) stats: Arc<Stats>,
    pub(super) cache: RefCell<FileCache>,
    pub(super) date: RefCell<files::DateCache>,
    pub(super) scratch: RefCell<Vec<u8>>,
}

impl Shared {
    /// The state shared by the connections of a loop of a server configured by `config`.
    pub(super) fn new(config: Arc<Config>, stats: Arc<Stats>) -> Rc<Shared> {
        Rc::new(Shared {
            config,
            stats,
            cache: RefCell::default(),
            date: RefCell::default(),
            scratch: RefCell::default(),
        })
    }
}

/// One connection: the handler of the HTTP description's server side, with the
/// responses waiting for their turn (see [the module docs](super)).
///
/// It holds only what is its own; the rest (the configuration, the counters, the file
/// cache and the date) is the loop's, so an idle connection costs little.
#[derive(Debug)]
pub struct Session {
    pub(super) shared: Rc<Shared>,
    /// The request whose body is being received (boxed: most connections have none).
    current: Option<Box<Current>>,
    pub(super) queue: Queue,
    /// The memory the queue holds ([`Queued::cost`]).
    pub(super) queued: usize,
    /// A close is queued: later requests are read and ignored.
    pub(super) closing: bool,
    /// Output pending when the current read began, and the bytes of responses sent
    /// straight since.
    pub(super) pass_base: usize,
    pub(super) pass_bytes: usize,
    /// The access log line of the request being answered, when there is a log.
    log_entry: Option<Box<super::AccessEntry>>,
}

impl Session {
    /// A session of a server configured by `config`, counting in `stats`.
    pub fn new(config: Arc<Config>, stats: Arc<Stats>) -> Session {
        Session::in_loop(Shared::new(config, stats))
    }

    /// A session of a connection of the loop whose shared state is `shared`.
    pub(super) fn in_loop(shared: Rc<Shared>) -> Session {
        Session {
            shared,
            current: None,
            queue: Queue::default(),
            queued: 0,
            closing: false,
            pass_base: 0,
            pass_bytes: 0,
            log_entry: None,
        }
    }

    /// Whether responses are waiting in the queue.
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    pub(super) fn queue_limit(&self) -> usize {
        self.shared.config.max_body.saturating_add(QUEUE_SLACK)
    }

    pub(super) fn push(&mut self, item: Queued) {
        self.queued += item.cost();
        self.queue.push_back(item);
    }

    pub(super) fn push_front(&mut self, item: Queued) {
        self.queued += item.cost();
        self.queue.push_front(item);
    }

    pub(super) fn pop(&mut self) {
        if let Some(item) = self.queue.pop_front() {
            self.queued = self.queued.saturating_sub(item.cost());
        }
    }

    /// Drops the connection at once: queued responses cannot be kept in order.
    pub(super) fn abort(&mut self, ch: &mut Channel<'_>, why: &str) {
        log::warn!("{ch}: {why}; dropping the connection");
        self.queue.clear();
        self.queued = 0;
        self.closing = true;
        ch.close();
    }

    /// The state after a request whose response closes the connection but waits in the
    /// queue: its body, if its length is known, is read and ignored.
    fn skip(&mut self, framing: Option<BodyFraming>) -> http::RequestNext {
        let ignore = |version| Current {
            action: Action::Ignore,
            head_only: false,
            version,
            keep_alive: false,
            received: 0,
            body: Vec::new(),
        };
        match framing {
            Some(BodyFraming::Length(n)) => {
                self.current = Some(Box::new(ignore(Version::Http11)));
                http::RequestNext::Sized {
                    length: n.min(MAX_BODY_LIMIT as u64),
                }
            }
            Some(BodyFraming::Chunked) => {
                self.current = Some(Box::new(ignore(Version::Http11)));
                http::RequestNext::Chunked
            }
            _ => http::RequestNext::Idle,
        }
    }

    /// Sends `reply`, straight or through the queue (see [the module docs](super)).
    fn respond(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        mut reply: Reply<'_>,
        version: Version,
        keep_alive: bool,
    ) -> Result<After> {
        let body_len = if reply.head_only { 0 } else { reply.len() };
        if let (Some(log), Some(entry)) = (&self.shared.config.access_log, self.log_entry.take()) {
            log.write(&entry, reply.status, body_len);
        }
        let size = HEAD_SIZE as u64 + body_len;
        let fits = (self.pass_base + self.pass_bytes) as u64 + size <= DIRECT_BUDGET as u64;
        let small_file = match reply.body {
            ReplyBody::File(_, len) => reply.head_only || len <= DIRECT_FILE,
            ReplyBody::Bytes(_) => true,
        };
        let connection = connection_header(version, keep_alive);
        if self.queue.is_empty() && fits && small_file {
            let shared = Rc::clone(&self.shared);
            let mut scratch = shared.scratch.borrow_mut();
            let mut unreadable = false;
            if let ReplyBody::File(file, len) = &mut reply.body {
                if !reply.head_only {
                    scratch.clear();
                    let read = file
                        .take(*len)
                        .read_to_end(&mut scratch)
                        .map(|n| n as u64 == *len);
                    unreadable = !matches!(read, Ok(true));
                }
            }
            if unreadable {
                log::warn!("a file changed or could not be read while being served");
                let failed = Refusal {
                    status: 500,
                    detail: "the file could not be read",
                };
                reply = Reply {
                    head_only: reply.head_only,
                    ..Reply::refusal(failed, None)
                };
            }
            with_head(shared.date.borrow_mut().now(), &reply, connection, |head| {
                cx.send(head)
            })?;
            if !reply.head_only {
                match &reply.body {
                    ReplyBody::Bytes(data) if !data.is_empty() => {
                        cx.send(http::Content { data })?;
                    }
                    ReplyBody::File(..) if !scratch.is_empty() => {
                        cx.send(http::Content { data: &scratch })?;
                    }
                    _ => {}
                }
            }
            self.pass_bytes += size as usize;
            return Ok(if keep_alive {
                After::Open
            } else {
                After::Close
            });
        }
        let mut head = Vec::with_capacity(HEAD_SIZE);
        with_head(
            self.shared.date.borrow_mut().now(),
            &reply,
            connection,
            |msg| msg.encode(&mut head),
        )?;
        self.push(Queued::Bytes { data: head, at: 0 });
        if !reply.head_only {
            match reply.body {
                ReplyBody::Bytes(data) if !data.is_empty() => self.push(Queued::Bytes {
                    data: data.into_owned(),
                    at: 0,
                }),
                ReplyBody::File(file, left) if left > 0 => self.push(Queued::File {
                    file,
                    sent: 0,
                    left,
                }),
                _ => {}
            }
        }
        self.close_after_queue(keep_alive);
        self.check_queue(cx);
        Ok(After::Open)
    }

    pub(super) fn close_after_queue(&mut self, keep_alive: bool) {
        if !keep_alive {
            self.push(Queued::Close);
            self.closing = true;
        }
    }

    /// Drops the connection if the queue holds more than its bound.
    pub(super) fn check_queue(&mut self, cx: &mut ServerCx<'_, '_>) {
        if self.queued > self.queue_limit() {
            self.abort(
                cx.channel(),
                "the responses waiting for the client to read exceed the queue's bound",
            );
            cx.close();
        }
    }

    /// The response to a static file request: the file, or the refusal.
    pub(super) fn static_reply(&self, segments: &[Vec<u8>], head_only: bool) -> Reply<'static> {
        let found = match &self.shared.config.root {
            Some(root) => open_under(root, segments, self.shared.config.max_file),
            None => Err(Refusal {
                status: 404,
                detail: "no such resource",
            }),
        };
        let reply = match found {
            Ok((path, file, len)) => Reply {
                status: 200,
                content_type: content_type(&path),
                allow: None,
                body: ReplyBody::File(file, len),
                head_only,
            },
            Err(refusal) => Reply::refusal(refusal, None),
        };
        Reply { head_only, ..reply }
    }

    /// The response to a static file request answered now, whose target's path is
    /// `key`: a small file is read whole and kept in the loop's cache for the next
    /// request of the same path.
    fn static_reply_caching(
        &mut self,
        segments: &[Vec<u8>],
        head_only: bool,
        key: &[u8],
    ) -> Reply<'static> {
        let Some(root) = &self.shared.config.root else {
            return self.static_reply(segments, head_only);
        };
        match open_under(root, segments, self.shared.config.max_file) {
            Ok((path, mut file, len)) if len <= CACHED_FILE_MAX as u64 => {
                let mut body = Vec::with_capacity(len as usize);
                let read = (&mut file).take(len).read_to_end(&mut body);
                let meta = file.metadata();
                match (read, meta) {
                    (Ok(n), Ok(meta)) if n as u64 == len => {
                        let content_type = content_type(&path);
                        self.shared.cache.borrow_mut().insert(
                            key,
                            &path,
                            &meta,
                            content_type,
                            &body,
                        );
                        Reply {
                            status: 200,
                            content_type,
                            allow: None,
                            body: ReplyBody::Bytes(Cow::Owned(body)),
                            head_only,
                        }
                    }
                    _ => {
                        log::warn!("a file changed or could not be read while being served");
                        let failed = Refusal {
                            status: 500,
                            detail: "the file could not be read",
                        };
                        Reply {
                            head_only,
                            ..Reply::refusal(failed, None)
                        }
                    }
                }
            }
            Ok((path, file, len)) => Reply {
                status: 200,
                content_type: content_type(&path),
                allow: None,
                body: ReplyBody::File(file, len),
                head_only,
            },
            Err(refusal) => Reply {
                head_only,
                ..Reply::refusal(refusal, None)
            },
        }
    }

    /// Answers a `GET` or `HEAD` of a file in the loop's cache, still as it was when
    /// cached, with no body and nothing waiting before it: `None` when it is not.
    fn cached_reply(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: &http::Request<'_>,
        version: Version,
        keep_alive: bool,
    ) -> Option<Result<After>> {
        if !self.queue.is_empty() || !matches!(msg.method, b"GET" | b"HEAD") {
            return None;
        }
        let root = self.shared.config.root.as_ref()?;
        let hit = self
            .shared
            .cache
            .borrow_mut()
            .get(root, key_of(msg.target))?;
        let reply = Reply {
            status: 200,
            content_type: hit.content_type,
            allow: None,
            body: ReplyBody::Bytes(Cow::Borrowed(&hit.body)),
            head_only: msg.method == b"HEAD",
        };
        Some(self.respond(cx, reply, version, keep_alive))
    }

    /// Answers the request `current` once its body (possibly empty) is in; `key` is the
    /// path of its target when the request is answered as it arrives (it may then be
    /// cached).
    fn finish(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        current: Current,
        body: Cow<'_, [u8]>,
        key: Option<&[u8]>,
    ) -> Result<After> {
        let Current {
            action,
            head_only,
            version,
            mut keep_alive,
            ..
        } = current;
        let reply = match action {
            Action::Ignore => return Ok(After::Open),
            Action::Echo => Reply::bytes(200, "application/octet-stream", body),
            Action::Hello => Reply::bytes(200, "text/plain; charset=utf-8", Cow::Borrowed(HELLO)),
            Action::Refuse(refusal, allow) => Reply::refusal(refusal, allow),
            Action::RefuseAndClose(refusal, allow) => {
                keep_alive = false;
                Reply::refusal(refusal, allow)
            }
            Action::Static(segments) => {
                if !self.queue.is_empty() {
                    // Looked up when its turn comes: nothing held open meanwhile.
                    self.push(Queued::Static {
                        segments,
                        head_only,
                        version,
                        keep_alive,
                    });
                    self.close_after_queue(keep_alive);
                    self.check_queue(cx);
                    return Ok(After::Open);
                }
                match key {
                    Some(key) => self.static_reply_caching(&segments, head_only, key),
                    None => self.static_reply(&segments, head_only),
                }
            }
        };
        self.respond(cx, Reply { head_only, ..reply }, version, keep_alive)
    }

    /// Refuses a request before its body, and closes the connection.
    fn refuse_request(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        refusal: Refusal,
        version: Version,
        framing: Option<BodyFraming>,
    ) -> Result<http::RequestNext> {
        match self.respond(cx, Reply::refusal(refusal, None), version, false)? {
            After::Close => Ok(http::RequestNext::Close),
            After::Open => Ok(self.skip(framing)),
        }
    }

    /// `100 Continue`, before reading a body the client holds back until it comes.
    fn send_continue(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        let msg = http::Response {
            version: b"HTTP/1.1",
            status: 100,
            reason: b"Continue",
            headers: Seq::default(),
        };
        if self.queue.is_empty() {
            cx.send(msg)?;
            self.pass_bytes += HEAD_SIZE;
        } else {
            let mut data = Vec::new();
            msg.encode(&mut data)?;
            self.push(Queued::Bytes { data, at: 0 });
        }
        Ok(())
    }
}

#[dispatcher(protocol = http, role = server)]
impl Session {
    /// Counts the connection and arms its idle timeout.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.shared
            .stats
            .connections
            .fetch_add(1, Ordering::Relaxed);
        cx.channel()
            .set_idle_timeout(self.shared.config.idle_timeout);
        cx.channel()
            .set_request_timeout(self.shared.config.header_timeout);
        Ok(())
    }

    /// A request line and its headers: answered now if it has no body, else the state
    /// that reads its body.
    fn on_request(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: http::Request<'_>,
    ) -> Result<http::RequestNext> {
        let version = parse_version(msg.version);
        let head = version.and_then(|v| {
            if !valid_target(msg.target) {
                return Err(Refusal {
                    status: 400,
                    detail: "a control character in the request target",
                });
            }
            analyze(v, msg.headers.iter().map(|h| (h.name, h.value)))
        });
        if self.closing {
            return Ok(self.skip(head.ok().map(|h| h.framing)));
        }
        if let Some(log) = &self.shared.config.access_log {
            let peer = cx.channel().addr().map(|a| a.to_string());
            let mut line = Vec::with_capacity(msg.method.len() + msg.target.len() + 10);
            for (i, part) in [msg.method, msg.target, msg.version]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    line.push(b' ');
                }
                line.extend_from_slice(part);
            }
            let field = |name: &[u8]| {
                msg.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| h.value)
            };
            let entry = log.entry(
                peer.as_deref(),
                &line,
                field(b"referer"),
                field(b"user-agent"),
            );
            self.log_entry = Some(Box::new(entry));
        }
        self.shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let version = version.unwrap_or(Version::Http11);
        let head = match head {
            Ok(h) => h,
            Err(refusal) => return self.refuse_request(cx, refusal, version, None),
        };
        if let BodyFraming::Length(n) = head.framing {
            if n > self.shared.config.max_body as u64 {
                let too_large = Refusal {
                    status: 413,
                    detail: "request body larger than the server accepts",
                };
                return self.refuse_request(cx, too_large, version, Some(head.framing));
            }
        }
        if matches!(head.framing, BodyFraming::None) {
            if let Some(after) = self.cached_reply(cx, &msg, version, head.keep_alive) {
                return Ok(match after? {
                    After::Open => http::RequestNext::Idle,
                    After::Close => http::RequestNext::Close,
                });
            }
        }
        let current = Current {
            action: route(msg.method, msg.target, self.shared.config.root.is_some()),
            head_only: msg.method == b"HEAD",
            version,
            keep_alive: head.keep_alive,
            received: 0,
            body: Vec::new(),
        };
        match head.framing {
            BodyFraming::None => {
                match self.finish(cx, current, Cow::Borrowed(&[]), Some(key_of(msg.target)))? {
                    After::Open => Ok(http::RequestNext::Idle),
                    After::Close => Ok(http::RequestNext::Close),
                }
            }
            BodyFraming::Length(length) => {
                if head.expect_continue {
                    self.send_continue(cx)?;
                }
                self.current = Some(Box::new(current));
                // A body has the idle timeout only, as nginx's `client_body_timeout`.
                cx.channel().set_request_timeout(None);
                Ok(http::RequestNext::Sized { length })
            }
            BodyFraming::Chunked => {
                if head.expect_continue {
                    self.send_continue(cx)?;
                }
                self.current = Some(Box::new(current));
                cx.channel().set_request_timeout(None);
                Ok(http::RequestNext::Chunked)
            }
        }
    }

    /// The whole body of a request with a `Content-Length`.
    fn on_body(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: http::Body<'_>,
    ) -> Result<http::BodyNext> {
        cx.channel()
            .set_request_timeout(self.shared.config.header_timeout);
        let Some(current) = self.current.take().map(|c| *c) else {
            return Ok(http::BodyNext::Close);
        };
        match self.finish(cx, current, Cow::Borrowed(msg.data), None)? {
            After::Open => Ok(http::BodyNext::Idle),
            After::Close => Ok(http::BodyNext::Close),
        }
    }

    /// An empty line where a request line is expected: ignored (RFC 9112 section 2.2).
    fn on_blank(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: http::Blank) -> Result {
        Ok(())
    }

    /// The size line of a chunk: its data is read next, or the trailer section after
    /// the last chunk (size 0). A chunk that would take the body over the limit is
    /// refused from its size, before any of its data is read.
    fn on_chunk_size(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: http::ChunkSize<'_>,
    ) -> Result<http::ChunkSizeNext> {
        let Some(mut current) = self.current.take().map(|c| *c) else {
            return Ok(http::ChunkSizeNext::Close);
        };
        let next = |size: u64| match size {
            0 => http::ChunkSizeNext::Trailers,
            size => http::ChunkSizeNext::InChunk {
                size: size.min(MAX_BODY_LIMIT as u64),
            },
        };
        if current.action == Action::Ignore {
            self.current = Some(Box::new(current));
            return Ok(next(msg.size));
        }
        let refusal = if !valid_chunk_ext(msg.ext) {
            Some(Refusal {
                status: 400,
                detail: "malformed chunk size",
            })
        } else {
            let total = current.received.saturating_add(msg.size);
            (total > self.shared.config.max_body as u64).then_some(Refusal {
                status: 413,
                detail: "request body larger than the server accepts",
            })
        };
        let Some(refusal) = refusal else {
            self.current = Some(Box::new(current));
            return Ok(next(msg.size));
        };
        let reply = Reply::refusal(refusal, None);
        match self.respond(cx, reply, current.version, false)? {
            After::Close => Ok(http::ChunkSizeNext::Close),
            After::Open => {
                // Closing after the queue: the rest of the body is read and ignored.
                current.action = Action::Ignore;
                current.body = Vec::new();
                self.current = Some(Box::new(current));
                Ok(next(msg.size))
            }
        }
    }

    /// The data of a chunk, within the body limit (checked on its size line).
    fn on_chunk_data(
        &mut self,
        _cx: &mut ServerCx<'_, '_>,
        msg: http::ChunkData<'_>,
    ) -> Result<http::ChunkDataNext> {
        let Some(mut current) = self.current.take().map(|c| *c) else {
            return Ok(http::ChunkDataNext::Close);
        };
        current.received = current.received.saturating_add(msg.data.len() as u64);
        if current.action == Action::Echo {
            current.body.extend_from_slice(msg.data);
        }
        self.current = Some(Box::new(current));
        Ok(http::ChunkDataNext::Chunked)
    }

    /// The trailer section, which completes a chunked request. Its fields are checked
    /// like header fields and then discarded (RFC 9112 section 7.1.2).
    fn on_trailer(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: http::Trailer<'_>,
    ) -> Result<http::TrailerNext> {
        cx.channel()
            .set_request_timeout(self.shared.config.header_timeout);
        let Some(mut current) = self.current.take().map(|c| *c) else {
            return Ok(http::TrailerNext::Close);
        };
        let malformed = msg.fields.iter().any(|f| !valid_field_value(f.value));
        if malformed && current.action != Action::Ignore {
            let refusal = Refusal {
                status: 400,
                detail: "a control character in a trailer field value",
            };
            return match self.respond(cx, Reply::refusal(refusal, None), current.version, false)? {
                After::Close => Ok(http::TrailerNext::Close),
                After::Open => Ok(http::TrailerNext::Idle),
            };
        }
        let body = std::mem::take(&mut current.body);
        match self.finish(cx, current, Cow::Owned(body), None)? {
            After::Open => Ok(http::TrailerNext::Idle),
            After::Close => Ok(http::TrailerNext::Close),
        }
    }

    /// Logs bad input; if responses are still queued, drops the connection, since the
    /// description's error reply would go out ahead of them.
    fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) {
        asyncore_runtime::wire::log_bad_input(err);
        if !self.queue.is_empty() {
            self.abort(cx.channel(), "bad input while responses are queued");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let refused = |a: Action| match a {
            Action::Refuse(r, allow) | Action::RefuseAndClose(r, allow) => (r.status, allow),
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(route(b"GET", b"/", false), Action::Hello);
        assert_eq!(route(b"HEAD", b"/", false), Action::Hello);
        assert_eq!(refused(route(b"GET", b"/x", false)), (404, None));
        assert_eq!(route(b"POST", b"/echo", false), Action::Echo);
        assert_eq!(route(b"POST", b"/echo?x", true), Action::Echo);
        assert_eq!(refused(route(b"GET", b"/echo", true)), (405, Some("POST")));
        assert_eq!(
            refused(route(b"POST", b"/a.txt", true)),
            (405, Some("GET, HEAD"))
        );
        assert_eq!(
            refused(route(b"DELETE", b"/a.txt", true)),
            (405, Some("GET, HEAD, POST"))
        );
        assert_eq!(
            refused(route(b"get", b"/", true)),
            (405, Some("GET, HEAD, POST"))
        );
        assert_eq!(
            refused(route(b"OPTIONS", b"*", true)),
            (405, Some("GET, HEAD, POST"))
        );
        assert_eq!(refused(route(b"GET", b"*", true)), (400, None));
        assert_eq!(refused(route(b"GET", b"/../x", true)), (403, None));
        // Refusals that close the connection.
        assert!(matches!(
            route(b"GET", b"/../x", true),
            Action::RefuseAndClose(..)
        ));
        assert!(matches!(
            route(b"GET", b"/%zz", true),
            Action::RefuseAndClose(..)
        ));
        assert!(matches!(
            route(b"TRACE", b"/", true),
            Action::RefuseAndClose(..)
        ));
        assert!(matches!(route(b"DELETE", b"/", true), Action::Refuse(..)));
        assert_eq!(
            route(b"GET", b"/a/b.txt", true),
            Action::Static(vec![b"a".to_vec(), b"b.txt".to_vec()])
        );
    }
}
