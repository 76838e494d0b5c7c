//! The handler of one connection of a batch: sends the requests as the pipelining rules
//! allow, reads each response as its headers say, and hands the complete ones to the
//! batch.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{dispatcher, Result};

use super::http::{self, ClientCx};
use super::{HttpRequest, HttpResponse, MAX_REQUEST_BODY, SEND_CHUNK, USER_AGENT};

/// What a batch shares with its connections.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) requests: Vec<HttpRequest>,
    /// The first request not sent on the current connection.
    pub(super) next_to_send: usize,
    /// The first request without its response.
    pub(super) next_answer: usize,
    /// Complete responses, not yet handed out.
    pub(super) done: VecDeque<(usize, HttpResponse)>,
    /// What ended the batch.
    pub(super) error: Option<io::Error>,
    pub(super) host: String,
    pub(super) max_body: u64,
    pub(super) pipeline: usize,
}

/// What one connection left, for the decision to open another.
#[derive(Debug, Default)]
pub(super) struct Link {
    pub(super) opened: bool,
    pub(super) answered: usize,
    pub(super) close_reason: Option<io::Error>,
}

/// How the body of the response being read arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    /// One `Content` of this many bytes.
    Length(u64),
    /// `Chunk`s up to the one of size 0.
    Chunked,
    /// One-byte `Content`s up to the close of the connection.
    UntilClose,
}

/// A response whose body is being read.
#[derive(Debug)]
pub(super) struct Reading {
    response: HttpResponse,
    framing: BodyFraming,
}

/// The handler of one connection.
#[derive(Debug)]
pub(super) struct Connection {
    shared: Rc<RefCell<Shared>>,
    pub(super) link: Rc<RefCell<Link>>,
    reading: Option<Reading>,
    /// The server said it closes the connection after the response being read.
    server_closes: bool,
}

impl Connection {
    pub(super) fn new(shared: Rc<RefCell<Shared>>) -> Connection {
        Connection {
            shared,
            link: Rc::default(),
            reading: None,
            server_closes: false,
        }
    }

    /// Records what ends the batch and closes the connection.
    fn fail(&mut self, cx: &mut ClientCx<'_, '_>, kind: io::ErrorKind, what: String) -> Result {
        self.reading = None;
        let mut s = self.shared.borrow_mut();
        if s.error.is_none() {
            s.error = Some(io::Error::new(kind, what));
        }
        cx.close();
        Ok(())
    }

    /// Sends what may be sent now (see the module documentation); closes the
    /// connection once every response is in.
    fn pump(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        loop {
            if self.server_closes {
                return Ok(());
            }
            let mut s = self.shared.borrow_mut();
            let (next, answer) = (s.next_to_send, s.next_answer);
            if answer >= s.requests.len() {
                drop(s);
                cx.close();
                return Ok(());
            }
            let Some(req) = s.requests.get(next) else {
                return Ok(());
            };
            let in_flight = next - answer;
            if in_flight > 0
                && (in_flight >= s.pipeline
                    || !req.is_repeatable()
                    || !s.requests[answer..next]
                        .iter()
                        .all(HttpRequest::is_repeatable))
            {
                return Ok(());
            }
            let host = s.host.clone();
            send_request(cx, req, &host)?;
            s.next_to_send += 1;
        }
    }

    /// The response being read is complete: hands it out, then sends more (or closes).
    fn finish(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let Some(reading) = self.reading.take() else {
            return Ok(());
        };
        {
            let mut s = self.shared.borrow_mut();
            let i = s.next_answer;
            s.next_answer += 1;
            s.done.push_back((i, reading.response));
        }
        self.link.borrow_mut().answered += 1;
        if self.server_closes {
            cx.close();
            return Ok(());
        }
        // Between responses only a status line may come (a line of hex digits is not
        // a chunk here, but bad input).
        cx.expect_response();
        self.pump(cx)
    }

    /// Appends body bytes, within the bound.
    fn append(&mut self, cx: &mut ClientCx<'_, '_>, data: &[u8]) -> Result {
        let max = self.shared.borrow().max_body;
        let Some(reading) = self.reading.as_mut() else {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                "body bytes outside any response".into(),
            );
        };
        let len = reading.response.body.len() as u64 + data.len() as u64;
        if len > max {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                format!("the response body is over the limit of {max} bytes (max body)"),
            );
        }
        reading.response.body.extend_from_slice(data);
        Ok(())
    }
}

#[dispatcher(protocol = http, role = client)]
impl Connection {
    fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        self.link.borrow_mut().opened = true;
        // Room for a request body and the pipelined requests around it, without pausing
        // reading while it goes out (the server may answer before it has read it all).
        cx.channel()
            .set_output_limits(2 * MAX_REQUEST_BODY, 2 * MAX_REQUEST_BODY);
        cx.expect_response();
        self.pump(cx)
    }

    fn on_response(&mut self, cx: &mut ClientCx<'_, '_>, msg: http::Response<'_>) -> Result {
        if self.reading.is_some() {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                "a status line in the middle of a chunked body".into(),
            );
        }
        if !msg.version.starts_with(b"HTTP/1.") || msg.version.len() != 8 {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                format!(
                    "not an HTTP/1.x response: the status line starts with `{}`",
                    String::from_utf8_lossy(msg.version).escape_debug()
                ),
            );
        }
        if msg.status == 101 {
            return self.fail(
                cx,
                io::ErrorKind::Unsupported,
                "the server switched protocols (101), which this client does not follow".into(),
            );
        }
        if !(100..=999).contains(&msg.status) {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                format!("`{}` is not a status code", msg.status),
            );
        }
        if msg.status < 200 {
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            cx.expect_response();
            return Ok(());
        }
        let (is_head, max) = {
            let s = self.shared.borrow();
            if s.next_answer >= s.next_to_send {
                drop(s);
                return self.fail(
                    cx,
                    io::ErrorKind::InvalidData,
                    format!("a response ({} ...) to no request", msg.status),
                );
            }
            (s.requests[s.next_answer].is_head(), s.max_body)
        };
        let mut response = HttpResponse {
            version: String::from_utf8_lossy(msg.version).into_owned(),
            status: msg.status,
            reason: String::from_utf8_lossy(trim(msg.reason)).into_owned(),
            headers: Vec::with_capacity(msg.headers.len()),
            body: Vec::new(),
        };
        let (mut length, mut transfer, mut connection) = (None::<Vec<u8>>, None, Vec::new());
        for h in msg.headers.iter() {
            let value = trim(h.value);
            if h.name.eq_ignore_ascii_case(b"content-length") {
                // Several fields (or a list) are fine only when they all agree.
                for v in value.split(|&b| b == b',') {
                    let v = trim(v).to_vec();
                    match &length {
                        Some(seen) if *seen != v => {
                            return self.fail(
                                cx,
                                io::ErrorKind::InvalidData,
                                "the response has Content-Length fields that disagree".into(),
                            )
                        }
                        _ => length = Some(v),
                    }
                }
            } else if h.name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer = Some(value.to_vec());
            } else if h.name.eq_ignore_ascii_case(b"connection") {
                connection.extend(
                    value
                        .split(|&b| b == b',')
                        .map(|t| trim(t).to_ascii_lowercase()),
                );
            }
            response
                .headers
                .push((String::from_utf8_lossy(h.name).into_owned(), value.to_vec()));
        }
        let keep_alive = if msg.version == b"HTTP/1.0" {
            connection.iter().any(|t| t == b"keep-alive")
        } else {
            !connection.iter().any(|t| t == b"close")
        };
        self.server_closes = !keep_alive;
        let framing = if is_head || msg.status == 204 || msg.status == 304 {
            None
        } else if let Some(te) = transfer {
            // RFC 9112 6.3: chunked must come last; any other coding runs to the close.
            let last = te
                .split(|&b| b == b',')
                .next_back()
                .map(trim)
                .unwrap_or(b"");
            if last.eq_ignore_ascii_case(b"chunked") {
                Some(BodyFraming::Chunked)
            } else {
                Some(BodyFraming::UntilClose)
            }
        } else if let Some(v) = length {
            let n = std::str::from_utf8(&v)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok());
            match n {
                None => {
                    return self.fail(
                        cx,
                        io::ErrorKind::InvalidData,
                        format!(
                            "`Content-Length: {}` is not a length",
                            String::from_utf8_lossy(&v).escape_debug()
                        ),
                    )
                }
                Some(n) if n > max => {
                    return self.fail(
                        cx,
                        io::ErrorKind::InvalidData,
                        format!(
                            "a response body of {n} bytes is over the limit of {max} bytes \
                             (max body)"
                        ),
                    )
                }
                Some(0) => None,
                Some(n) => Some(BodyFraming::Length(n)),
            }
        } else {
            Some(BodyFraming::UntilClose)
        };
        self.reading = Some(Reading {
            response,
            framing: framing.unwrap_or(BodyFraming::Length(0)),
        });
        match framing {
            None => self.finish(cx),
            Some(BodyFraming::Length(n)) => {
                cx.expect_content(n);
                Ok(())
            }
            Some(BodyFraming::Chunked) => Ok(()),
            Some(BodyFraming::UntilClose) => {
                self.server_closes = true;
                // Whatever has arrived, as one message (at least a byte, so that the
                // decoder waits for more).
                cx.expect_content(cx.buffered().max(1) as u64);
                Ok(())
            }
        }
    }

    fn on_content(&mut self, cx: &mut ClientCx<'_, '_>, msg: http::Content<'_>) -> Result {
        let framing = self.reading.as_ref().map(|r| r.framing);
        self.append(cx, msg.data)?;
        match framing {
            Some(BodyFraming::Length(_)) => self.finish(cx),
            Some(BodyFraming::UntilClose) if self.reading.is_some() => {
                cx.expect_content(cx.buffered().max(1) as u64);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_chunk(&mut self, cx: &mut ClientCx<'_, '_>, msg: http::Chunk<'_>) -> Result {
        if self.reading.as_ref().map(|r| r.framing) != Some(BodyFraming::Chunked) {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                "not an HTTP response: a chunk where a status line belongs".into(),
            );
        }
        // After the size, only chunk extensions (`;name=value`) may follow.
        let ext = msg.ext.trim_ascii_start();
        if !ext.is_empty() && ext[0] != b';' {
            return self.fail(
                cx,
                io::ErrorKind::InvalidData,
                format!(
                    "invalid chunk size line: `{}` after the size",
                    String::from_utf8_lossy(msg.ext).escape_debug()
                ),
            );
        }
        if msg.data.is_empty() {
            return self.finish(cx);
        }
        self.append(cx, msg.data)
    }

    fn on_bad_input(&mut self, cx: &mut ClientCx<'_, '_>, err: &DecodeError) {
        let what = if self.reading.is_some() {
            format!("bad chunk in the response body: {err}")
        } else {
            format!("not a valid HTTP response: {err}")
        };
        let _ = self.fail(cx, io::ErrorKind::InvalidData, what);
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        if let Some(e) = reason {
            self.link.borrow_mut().close_reason = Some(io::Error::new(e.kind(), e.to_string()));
        }
        let Some(reading) = self.reading.as_ref() else {
            return;
        };
        match (reading.framing, reason) {
            (BodyFraming::UntilClose, None) => {
                let _ = self.finish(cx);
            }
            (framing, _) => {
                // A `Content` is handed over whole: the bytes of a cut one are not
                // counted.
                let what = match framing {
                    BodyFraming::Length(n) => format!("a response body of {n} bytes"),
                    _ => format!(
                        "a chunked response body ({} bytes in whole chunks)",
                        reading.response.body.len()
                    ),
                };
                let why = reason.map(|e| format!(": {e}")).unwrap_or_default();
                let _ = self.fail(
                    cx,
                    io::ErrorKind::UnexpectedEof,
                    format!("the connection closed in the middle of {what}{why}"),
                );
            }
        }
    }
}

/// Sends `req`: its request line and headers, then its body.
fn send_request(cx: &mut ClientCx<'_, '_>, req: &HttpRequest, host: &str) -> Result {
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(req.headers.len() + 4);
    if !req.has_header("host") {
        fields.push(("Host", host.to_string()));
    }
    if !req.has_header("user-agent") {
        fields.push(("User-Agent", USER_AGENT.to_string()));
    }
    if !req.has_header("accept") {
        fields.push(("Accept", "*/*".to_string()));
    }
    for (n, v) in &req.headers {
        fields.push((n.as_str(), v.clone()));
    }
    match (&req.body, req.chunked) {
        (Some(_), true) => fields.push(("Transfer-Encoding", "chunked".into())),
        (Some(b), false) => fields.push(("Content-Length", b.len().to_string())),
        (None, _) => {}
    }
    let items: Vec<http::RequestHeaders<'_>> = fields
        .iter()
        .map(|(n, v)| http::RequestHeaders {
            name: n.as_bytes(),
            value: v.as_bytes(),
        })
        .collect();
    cx.send(http::Request {
        method: req.method.as_bytes(),
        target: req.target.as_bytes(),
        version: b"HTTP/1.1",
        headers: Seq::from(&items[..]),
    })?;
    match (&req.body, req.chunked) {
        (Some(b), true) => {
            for piece in b.chunks(SEND_CHUNK) {
                cx.send(http::ChunkSize {
                    size: piece.len() as u64,
                    ext: b"",
                })?;
                cx.send(http::ChunkData { data: piece })?;
            }
            cx.send(http::ChunkSize { size: 0, ext: b"" })?;
            cx.send(http::Trailer {
                fields: Seq::default(),
            })?;
        }
        (Some(b), false) if !b.is_empty() => cx.send(http::Body { data: b })?,
        _ => {}
    }
    Ok(())
}

/// `value` without the spaces and tabs around it.
fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &value[s..=e],
        _ => &[],
    }
}
