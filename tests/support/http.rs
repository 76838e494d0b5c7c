//! Raw HTTP/1.x exchanges for the HTTP server tests: bytes sent on a fresh connection,
//! and what came back: the status codes of the responses, in order, and whether the
//! server closed the connection.
//!
//! Whether a server keeps a connection open can only be seen by waiting: an exchange
//! ends when the server closes, or when nothing has come for [`QUIET`]. That wait is a
//! guard, not a measurement: a server that answers later than that is seen as having
//! left the connection open without answering, and the test shows what came.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::HANG_GUARD;

/// How long an exchange waits for more bytes before it takes the connection to be left
/// open.
pub const QUIET: Duration = Duration::from_millis(800);

/// What a server answered to one piece of input on a fresh connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The status codes of the responses, interim (`1xx`) ones included, in order; `0`
    /// for bytes that are not an HTTP/1.x response (nothing after them is read).
    pub statuses: Vec<u16>,
    /// Whether the server closed the connection (or reset it).
    pub closed: bool,
    /// Everything that came.
    pub raw: Vec<u8>,
}

impl Exchange {
    /// `[200, 404] open`, `[400] closed`: the statuses and the end, for a table.
    pub fn summary(&self) -> String {
        let end = if self.closed { "closed" } else { "open" };
        format!("{:?} {end}", self.statuses)
    }
}

/// Connects to `addr`, sends `input` in one write, and reads until the server closes or
/// is quiet for [`QUIET`].
pub fn exchange(addr: SocketAddr, input: &[u8]) -> Exchange {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(QUIET)).expect("a read timeout");
    // A server may close before it has read everything: a failed write is not an error.
    let _ = s.write_all(input);
    let deadline = Instant::now() + HANG_GUARD;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                assert!(
                    Instant::now() < deadline,
                    "{addr} still sends after {HANG_GUARD:?}"
                );
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    Exchange {
        statuses: statuses(&raw),
        closed,
        raw,
    }
}

/// The status codes of the responses in `raw`, in order. A body is skipped by its
/// `Content-Length` or its chunks, except where the next response starts at once (the
/// response to a `HEAD`, a `1xx`, `204`, `304`). Bytes that are not a response add a `0`
/// and end the list; a response cut short counts if its status line is whole.
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let rest = &raw[at..];
        let status = rest
            .strip_prefix(b"HTTP/1.")
            .and_then(|r| r.get(2..5))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u16>().ok());
        let Some(status) = status else {
            out.push(0);
            break;
        };
        out.push(status);
        let Some(end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let body = &rest[end + 4..];
        at += end + 4;
        if body.is_empty()
            || body.starts_with(b"HTTP/1.")
            || (100..200).contains(&status)
            || status == 204
            || status == 304
        {
            continue;
        }
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if header("transfer-encoding:").is_some_and(|v| v.ends_with("chunked")) {
            at += chunked_len(body);
        } else {
            let n: usize = header("content-length:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(body.len());
            at += n.min(body.len());
        }
    }
    out
}

/// The bytes a chunked body takes at the start of `body` (all of them if it is cut).
fn chunked_len(body: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let Some(eol) = find(&body[at..], b"\r\n") else {
            return body.len();
        };
        let line = String::from_utf8_lossy(&body[at..at + eol]).into_owned();
        let hex = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(hex, 16) else {
            return body.len();
        };
        at += eol + 2;
        if size == 0 {
            // The trailer section, up to the empty line.
            return match find(&body[at..], b"\r\n\r\n") {
                _ if body[at..].starts_with(b"\r\n") => at + 2,
                Some(end) => at + end + 4,
                None => body.len(),
            };
        }
        at = at.saturating_add(size).saturating_add(2);
        if at >= body.len() {
            return body.len();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Shows bytes for a failure message: text, with escapes for anything else, at most
/// `max` bytes.
pub fn show(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let more = if bytes.len() > max { "..." } else { "" };
    format!("{}{more}", cut.escape_ascii())
}
