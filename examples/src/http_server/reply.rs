//! Responses: the status line and headers every response carries, and its body.

use std::borrow::Cow;
use std::fs::File;

use asyncore_runtime::wire::Seq;

use super::{http, Refusal, Version, SERVER_NAME};

/// The reason phrase of a status code.
///
/// ```
/// assert_eq!(asyncore_examples::http_server::reason(413), "Content Too Large");
/// ```
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The body of a response.
#[derive(Debug)]
pub(super) enum ReplyBody<'b> {
    Bytes(Cow<'b, [u8]>),
    File(File, u64),
}

/// A response, before it is encoded.
#[derive(Debug)]
pub(super) struct Reply<'b> {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) allow: Option<&'static str>,
    pub(super) body: ReplyBody<'b>,
    /// A `HEAD` request: the headers of the body, without it.
    pub(super) head_only: bool,
}

impl<'b> Reply<'b> {
    pub(super) fn bytes(status: u16, content_type: &'static str, body: Cow<'b, [u8]>) -> Self {
        Reply {
            status,
            content_type,
            allow: None,
            body: ReplyBody::Bytes(body),
            head_only: false,
        }
    }

    pub(super) fn refusal(refusal: Refusal, allow: Option<&'static str>) -> Reply<'static> {
        let text = format!(
            "{} {}: {}\n",
            refusal.status,
            reason(refusal.status),
            refusal.detail
        );
        Reply {
            allow,
            ..Reply::bytes(
                refusal.status,
                "text/plain; charset=utf-8",
                Cow::Owned(text.into_bytes()),
            )
        }
    }

    pub(super) fn len(&self) -> u64 {
        match &self.body {
            ReplyBody::Bytes(b) => b.len() as u64,
            ReplyBody::File(_, len) => *len,
        }
    }
}

/// The `Connection` header a response carries, if any.
pub(super) fn connection_header(version: Version, keep_alive: bool) -> Option<&'static [u8]> {
    match (keep_alive, version) {
        (false, _) => Some(b"close"),
        (true, Version::Http10) => Some(b"keep-alive"),
        (true, Version::Http11) => None,
    }
}

/// A number in decimal, into `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Calls `f` with the `Response` message (status line and headers) of `reply`.
pub(super) fn with_head<R>(
    date: &str,
    reply: &Reply<'_>,
    connection: Option<&'static [u8]>,
    f: impl FnOnce(http::Response<'_>) -> R,
) -> R {
    let mut number = [0u8; 20];
    let length = decimal(reply.len(), &mut number);
    let mut headers = [http::ResponseHeaders {
        name: b"",
        value: b"",
    }; 6];
    headers[0] = http::ResponseHeaders {
        name: b"Server",
        value: SERVER_NAME.as_bytes(),
    };
    headers[1] = http::ResponseHeaders {
        name: b"Date",
        value: date.as_bytes(),
    };
    headers[2] = http::ResponseHeaders {
        name: b"Content-Type",
        value: reply.content_type.as_bytes(),
    };
    headers[3] = http::ResponseHeaders {
        name: b"Content-Length",
        value: length,
    };
    let mut n = 4;
    if let Some(allow) = reply.allow {
        headers[n] = http::ResponseHeaders {
            name: b"Allow",
            value: allow.as_bytes(),
        };
        n += 1;
    }
    if let Some(value) = connection {
        headers[n] = http::ResponseHeaders {
            name: b"Connection",
            value,
        };
        n += 1;
    }
    f(http::Response {
        version: b"HTTP/1.1",
        status: reply.status,
        reason: reason(reply.status).as_bytes(),
        headers: Seq::from(&headers[..n]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let reply = Reply {
            allow: Some("GET, HEAD"),
            ..Reply::bytes(405, "text/plain", Cow::Borrowed(b"no\n"))
        };
        let mut out = Vec::new();
        with_head(
            "Thu, 01 Jan 1970 00:00:00 GMT",
            &reply,
            Some(b"close"),
            |m| m.encode(&mut out),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nServer: asyncore-http\r\n\
             Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Type: text/plain\r\n\
             Content-Length: 3\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"
        );
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }
}
