//! The `http-server` example against the letter of RFC 9110 and RFC 9112: each request
//! goes on a fresh connection, and the statuses of the responses and whether the
//! connection closes are checked.
//!
//! * refused (and closed): an HTTP/1.0 request with `Transfer-Encoding` (whose next
//!   request must not be served), a `Host` that is not a valid authority, control
//!   characters in the request-target or a field value;
//! * accepted: a chunked body with trailer fields, empty lines before a request line
//!   (and a stray CRLF after a body), `HTTP/1.2` to `HTTP/1.9`;
//! * the right codes: 414 for an over-long request-target, 505 for another major
//!   version, 501 for an unknown transfer coding, no `100 Continue` to an HTTP/1.0
//!   client, 413 for a chunk over `--max-body` from its size line alone.
//!
//! The comparison with nginx is `tests/http_nginx.rs`.

mod support;

use std::net::SocketAddr;

use support::http::{exchange, show, statuses};

/// The server under test: no root (`/` answers a greeting), a 64 KiB body limit.
fn start() -> (support::Proc, SocketAddr) {
    support::start_server("http-server", "epoll", &["--max-body", "64KiB"])
}

/// Each case: what it is, the bytes, the statuses expected, and whether the server must
/// close.
type Case = (&'static str, Vec<u8>, &'static [u16], bool);

fn check(addr: SocketAddr, cases: &[Case]) {
    let mut failures = Vec::new();
    for (what, input, want, close) in cases {
        let got = exchange(addr, input);
        if got.statuses != *want || got.closed != *close {
            let end = if *close { "closed" } else { "open" };
            failures.push(format!(
                "{what}: expected {want:?} {end}, got {}: {}",
                got.summary(),
                show(&got.raw, 300)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn get_with(header: &[u8]) -> Vec<u8> {
    [b"GET / HTTP/1.1\r\nHost: t\r\n", header, b"\r\n\r\n"].concat()
}

#[test]
fn what_must_be_refused_is_refused_and_closed() {
    let (server, addr) = start();
    let mut cases: Vec<Case> = vec![
        (
            // RFC 9112 section 6.1: the framing of an HTTP/1.0 message with
            // Transfer-Encoding is faulty; the connection must close, so the next
            // request is never served.
            "HTTP/1.0, chunked, keep-alive, then a second request",
            [
                &b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"[..],
                b"3\r\nabc\r\n0\r\n\r\n",
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            ]
            .concat(),
            &[400],
            true,
        ),
        (
            "a target with NUL",
            b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            &[400],
            true,
        ),
        (
            "a target with a control character",
            b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            &[400],
            true,
        ),
        (
            "a target with DEL",
            b"GET /a\x7f HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            &[400],
            true,
        ),
    ];
    // RFC 9112 section 3.2: a Host that is not a valid authority gets 400.
    for host in [
        &b"x, y"[..],
        b"a/b",
        b"a b",
        b"a\x01b",
        b"",
        b"h:80:90",
        b"u@h",
    ] {
        let input = [b"GET / HTTP/1.1\r\nHost: ", host, b"\r\n\r\n"].concat();
        cases.push(("an invalid Host", input, &[400], true));
    }
    // RFC 9110 section 5.5: control characters in a field value.
    for value in [&b"a\x00b"[..], b"a\x01b", b"a\x7fb", b"a\x1bb"] {
        let input = get_with(&[b"X-Any: ", value].concat());
        cases.push(("a control character in a field value", input, &[400], true));
    }
    check(addr, &cases);
    support::stop_server(server);
}

#[test]
fn what_must_be_accepted_is_accepted() {
    let (server, addr) = start();
    let chunked =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    let cases: Vec<Case> = vec![
        (
            // RFC 9112 section 7.1.2: the trailer section is parsed, then discarded.
            "a chunked body with trailer fields, then a request",
            [&chunked[..], b"0\r\nX-Sum: 3\r\nX-Other: a b\r\n\r\n", GET].concat(),
            &[200, 200],
            false,
        ),
        (
            "a chunked body with an empty trailer section, then a request",
            [&chunked[..], b"0\r\n\r\n", GET].concat(),
            &[200, 200],
            false,
        ),
        (
            // RFC 9112 section 2.2: empty lines before a request line are ignored.
            "empty lines before a request",
            [&b"\r\n\r\n\r\n"[..], GET].concat(),
            &[200],
            false,
        ),
        (
            "a stray CRLF after a body, then a request",
            [
                &b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\r\n"[..],
                GET,
            ]
            .concat(),
            &[200, 200],
            false,
        ),
        (
            // RFC 9110 section 2.5: a higher minor version is processed as 1.1.
            "HTTP/1.2",
            b"GET / HTTP/1.2\r\nHost: t\r\n\r\n".to_vec(),
            &[200],
            false,
        ),
        (
            "HTTP/1.9",
            b"GET / HTTP/1.9\r\nHost: t\r\n\r\n".to_vec(),
            &[200],
            false,
        ),
        (
            "valid authorities",
            [
                &b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"[..],
                b"GET / HTTP/1.1\r\nHost: x,y\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: a%20b:\r\n\r\n",
            ]
            .concat(),
            &[200, 200, 200],
            false,
        ),
    ];
    check(addr, &cases);
    // The echo of a chunked body with trailers is the body alone.
    let got = exchange(addr, &[&chunked[..], b"0\r\nX-Sum: 3\r\n\r\n"].concat());
    assert!(got.raw.ends_with(b"\r\n\r\nabc"), "{}", show(&got.raw, 400));
    support::stop_server(server);
}

#[test]
fn refusals_have_the_codes_the_rfcs_give() {
    let (server, addr) = start();
    let long_target = [
        &b"GET /"[..],
        &[b'a'; 9000],
        b" HTTP/1.1\r\nHost: t\r\n\r\n",
    ]
    .concat();
    let long_field = get_with(&[&b"X-Long: "[..], &[b'a'; 9000]].concat());
    let cases: Vec<Case> = vec![
        // RFC 9112 section 3: a request-target longer than the server parses: 414.
        ("an over-long request-target", long_target, &[414], true),
        // A header line over the limit stays 431 (RFC 6585 section 5).
        ("an over-long header line", long_field, &[431], true),
        // RFC 9110 section 15.6.6: another major version.
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), &[505], true),
        ("HTTP/0.9", b"GET / HTTP/0.9\r\nHost: t\r\n\r\n".to_vec(), &[505], true),
        ("HTTP/1.10", b"GET / HTTP/1.10\r\nHost: t\r\n\r\n".to_vec(), &[400], true),
        // RFC 9112 section 6.1: a transfer coding the server does not understand.
        (
            "Transfer-Encoding: gzip, chunked",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            &[501],
            true,
        ),
        (
            "Transfer-Encoding: chunked, chunked",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            &[400],
            true,
        ),
        // RFC 9110 section 10.1.1: no 100 Continue to an HTTP/1.0 client.
        (
            "HTTP/1.0 with Expect: 100-continue",
            b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            &[200],
            true,
        ),
        (
            "HTTP/1.1 with Expect: 100-continue",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
                .to_vec(),
            &[100, 200],
            false,
        ),
        // A chunk over --max-body is refused from its size line: none of its data is
        // sent here.
        (
            "a chunk size over --max-body",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n"
                .to_vec(),
            &[413],
            true,
        ),
        (
            "chunks adding up to more than --max-body",
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n10000\r\n"
                .to_vec(),
            &[413],
            true,
        ),
    ];
    check(addr, &cases);
    support::stop_server(server);
}

/// The reader of the raw exchanges counts responses as a client would.
#[test]
fn the_response_reader_counts_responses() {
    let two = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(statuses(two), [100, 200]);
    let head_then_get = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
        HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n";
    assert_eq!(statuses(head_then_get), [200, 404]);
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nHTT\r\n0\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(statuses(chunked), [200, 400]);
    assert_eq!(statuses(b"hello\n"), [0]);
    assert_eq!(statuses(b"HTTP/1.1 200 OK\r\nContent-Le"), [200]);
    assert!(statuses(b"").is_empty());
}
