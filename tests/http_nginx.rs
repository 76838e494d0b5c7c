//! The `http-server` example next to nginx, request by request.
//!
//! Both serve the same static directory (nginx also passes `/echo` to our server, after
//! it has read and checked the body itself, so that requests with bodies are judged by
//! its own parser). Each of the raw requests of [`cases`] (request lines, field syntax,
//! `Host`, `Content-Length` and `Transfer-Encoding`, chunks and trailers, pipelining,
//! keep-alive and `Connection`, `Expect`, versions, targets and paths) goes to each
//! server on a fresh connection, and the two answers are compared: the status codes in
//! order (interim ones included), hence the number of responses, and whether the
//! connection closes.
//!
//! Every difference must be a row of the table in `docs/http-conformance.md`, with
//! both answers as observed and the kind of difference: `stricter` (ours refuses or
//! closes where nginx goes on), `code` (both refuse, with different codes), or
//! `nginx wrong` (ours accepts or keeps open what nginx refuses: the row must show by
//! the RFC that nginx is wrong). The test fails on a difference not in the table, on a
//! row whose answers or kind are not what is observed, and on a row that no longer
//! differs.
//!
//! The test prints `skipping: ...` and passes when nginx is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use support::http::{exchange, show, Exchange};
use support::TempDir;

/// The table of expected differences.
const TABLE: &str = include_str!("../docs/http-conformance.md");

/// The body limit both servers are given.
const MAX_BODY: usize = 64 * 1024;

/// How many requests run at once (each on its own connection to each server).
const PARALLEL: usize = 16;

// ===== the requests =====

fn req(line: &str, fields: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{line}\r\n").into_bytes();
    for f in fields {
        out.extend_from_slice(f.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn get(target: &str) -> Vec<u8> {
    req(&format!("GET {target} HTTP/1.1"), &["Host: t"], b"")
}

fn post_chunked(chunks: &[u8]) -> Vec<u8> {
    req(
        "POST /echo HTTP/1.1",
        &["Host: t", "Transfer-Encoding: chunked"],
        chunks,
    )
}

/// Every request of the comparison, each named; the names are the table's keys.
fn cases() -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| c.push((name.to_string(), bytes));

    // Request lines and methods.
    add("get-root", get("/"));
    add("get-file", get("/a.txt"));
    add("head-file", req("HEAD /a.txt HTTP/1.1", &["Host: t"], b""));
    add(
        "post-file",
        req(
            "POST /a.txt HTTP/1.1",
            &["Host: t", "Content-Length: 0"],
            b"",
        ),
    );
    for m in ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "FOO"] {
        add(
            &format!("method-{m}"),
            req(&format!("{m} /a.txt HTTP/1.1"), &["Host: t"], b""),
        );
    }
    add(
        "method-lowercase",
        req("get /a.txt HTTP/1.1", &["Host: t"], b""),
    );
    add(
        "method-bad-char",
        req("G@T /a.txt HTTP/1.1", &["Host: t"], b""),
    );
    add(
        "line-two-spaces",
        req("GET  /a.txt HTTP/1.1", &["Host: t"], b""),
    );
    add(
        "line-leading-space",
        req(" GET /a.txt HTTP/1.1", &["Host: t"], b""),
    );
    add(
        "line-trailing-space",
        req("GET /a.txt HTTP/1.1 ", &["Host: t"], b""),
    );
    add("line-tab", req("GET\t/a.txt\tHTTP/1.1", &["Host: t"], b""));
    add(
        "line-extra-word",
        req("GET /a.txt HTTP/1.1 x", &["Host: t"], b""),
    );
    add("line-no-target", req("GET HTTP/1.1", &["Host: t"], b""));
    add("line-only-method", req("GET", &["Host: t"], b""));
    add("line-empty-then-eof", b"\r\n".to_vec());
    add("line-bare-lf", b"GET /a.txt HTTP/1.1\nHost: t\n\n".to_vec());
    add(
        "line-binary",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
    );
    add("line-over-8k", get(&format!("/{}", "a".repeat(9000))));
    add("line-long-4k", get(&format!("/{}", "a".repeat(4000))));
    add("crlf-before", [&b"\r\n"[..], &get("/a.txt")].concat());
    add(
        "crlf-many-before",
        [&b"\r\n\r\n\r\n"[..], &get("/a.txt")].concat(),
    );

    // Versions.
    for v in ["1.0", "1.1", "1.2", "1.5", "1.9"] {
        add(
            &format!("version-{v}"),
            req(&format!("GET /a.txt HTTP/{v}"), &["Host: t"], b""),
        );
    }
    for v in ["2.0", "3.0", "0.9", "9.9"] {
        add(
            &format!("version-{v}"),
            req(&format!("GET /a.txt HTTP/{v}"), &["Host: t"], b""),
        );
    }
    for (name, v) in [
        ("version-1.10", "HTTP/1.10"),
        ("version-10.0", "HTTP/10.0"),
        ("version-lowercase", "http/1.1"),
        ("version-no-minor", "HTTP/1"),
        ("version-junk", "HTTP/1.1x"),
        ("version-https", "HTTPS/1.1"),
        ("version-missing", ""),
    ] {
        let line = format!("GET /a.txt {v}");
        add(name, req(line.trim_end(), &["Host: t"], b""));
    }

    // Host.
    add("host-missing-1.1", req("GET /a.txt HTTP/1.1", &[], b""));
    add("host-missing-1.0", req("GET /a.txt HTTP/1.0", &[], b""));
    add(
        "host-twice",
        req("GET /a.txt HTTP/1.1", &["Host: a", "Host: b"], b""),
    );
    add(
        "host-twice-same",
        req("GET /a.txt HTTP/1.1", &["Host: a", "Host: a"], b""),
    );
    for (name, host) in [
        ("host-port", "t:8080"),
        ("host-ipv4", "127.0.0.1"),
        ("host-ipv6", "[::1]:80"),
        ("host-comma-no-space", "x,y"),
        ("host-pct", "a%20b"),
        ("host-empty-port", "t:"),
        ("host-upper", "EXAMPLE.ORG"),
        ("host-trailing-dot", "example.org."),
        ("host-list", "x, y"),
        ("host-slash", "a/b"),
        ("host-space", "a b"),
        ("host-empty", ""),
        ("host-dots", "a..b"),
        ("host-userinfo", "u@h"),
        ("host-two-ports", "h:80:90"),
        ("host-port-alpha", "h:x"),
        ("host-backslash", "a\\b"),
        ("host-utf8", "\u{e9}t\u{e9}"),
        ("host-open-bracket", "[::1"),
    ] {
        add(
            name,
            req("GET /a.txt HTTP/1.1", &[&format!("Host: {host}")], b""),
        );
    }
    add(
        "host-ctl",
        b"GET /a.txt HTTP/1.1\r\nHost: a\x01b\r\n\r\n".to_vec(),
    );
    add(
        "host-del",
        b"GET /a.txt HTTP/1.1\r\nHost: a\x7fb\r\n\r\n".to_vec(),
    );
    add(
        "host-1.0-invalid",
        req("GET /a.txt HTTP/1.0", &["Host: a/b"], b""),
    );

    // Field syntax.
    let with = |field: &[u8]| {
        [
            &b"GET /a.txt HTTP/1.1\r\nHost: t\r\n"[..],
            field,
            b"\r\n\r\n",
        ]
        .concat()
    };
    for (name, field) in [
        ("field-no-colon", &b"NoColon"[..]),
        ("field-space-before-colon", b"X-A : 1"),
        ("field-empty-name", b": 1"),
        ("field-bad-name-char", b"X(A): 1"),
        ("field-empty-value", b"X-A:"),
        ("field-no-space", b"X-A:1"),
        ("field-tab-value", b"X-A:\t1\t2"),
        ("field-utf8-value", b"X-A: \xc3\xa9"),
        ("field-obs-text", b"X-A: \xff"),
        ("field-nul", b"X-A: a\x00b"),
        ("field-ctl", b"X-A: a\x01b"),
        ("field-esc", b"X-A: a\x1bb"),
        ("field-del", b"X-A: a\x7fb"),
        ("field-cr", b"X-A: a\rb"),
        ("field-obs-fold", b"X-A: a\r\n b"),
        (
            "field-long-4k",
            &[b"X-A: ".as_slice(), &[b'v'; 4000]].concat(),
        ),
        (
            "field-over-8k",
            &[b"X-A: ".as_slice(), &[b'v'; 9000]].concat(),
        ),
        ("field-name-utf8", b"X-\xc3\xa9: 1"),
    ] {
        add(name, with(field));
    }
    add(
        "fields-90",
        with(&b"X-Many: 1\r\n".repeat(89)[..b"X-Many: 1\r\n".len() * 89 - 2]),
    );
    add(
        "fields-150",
        with(&b"X-Many: 1\r\n".repeat(150)[..b"X-Many: 1\r\n".len() * 150 - 2]),
    );
    add(
        "field-target-nul",
        b"GET /a\x00.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
    );
    add(
        "field-target-ctl",
        b"GET /a\x01.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
    );
    add(
        "field-target-del",
        b"GET /a\x7f.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
    );
    add(
        "field-target-utf8",
        b"GET /\xc3\xa9.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
    );

    // Content-Length and Transfer-Encoding.
    let post = |fields: &[&str], body: &[u8]| {
        let mut all = vec!["Host: t"];
        all.extend_from_slice(fields);
        req("POST /echo HTTP/1.1", &all, body)
    };
    add("cl-0", post(&["Content-Length: 0"], b""));
    add("cl-3", post(&["Content-Length: 3"], b"abc"));
    add("cl-none", post(&[], b""));
    add("cl-short-body", post(&["Content-Length: 5"], b"abc"));
    add(
        "cl-long-body",
        post(
            &["Content-Length: 3"],
            b"abcGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        ),
    );
    add(
        "cl-twice-same",
        post(&["Content-Length: 3", "Content-Length: 3"], b"abc"),
    );
    add(
        "cl-twice-diff",
        post(&["Content-Length: 3", "Content-Length: 4"], b"abcd"),
    );
    add("cl-list-same", post(&["Content-Length: 3, 3"], b"abc"));
    add("cl-list-diff", post(&["Content-Length: 3, 4"], b"abcd"));
    add("cl-negative", post(&["Content-Length: -1"], b""));
    add("cl-plus", post(&["Content-Length: +3"], b"abc"));
    add("cl-hex", post(&["Content-Length: 0x3"], b"abc"));
    add("cl-space-inside", post(&["Content-Length: 1 2"], b"abc"));
    add("cl-spaces-around", post(&["Content-Length:  3  "], b"abc"));
    add("cl-empty", post(&["Content-Length:"], b""));
    add(
        "cl-huge",
        post(&["Content-Length: 99999999999999999999"], b""),
    );
    add(
        "cl-over-max",
        post(&[&format!("Content-Length: {}", MAX_BODY + 1)], b""),
    );
    add(
        "cl-at-max",
        post(
            &[&format!("Content-Length: {MAX_BODY}")],
            &vec![b'm'; MAX_BODY],
        ),
    );
    add("cl-leading-zeros", post(&["Content-Length: 003"], b"abc"));
    add(
        "cl-on-get",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Content-Length: 3"],
            b"abc",
        ),
    );
    add(
        "te-chunked",
        post(&["Transfer-Encoding: chunked"], b"3\r\nabc\r\n0\r\n\r\n"),
    );
    add(
        "te-chunked-caps",
        post(&["Transfer-Encoding: CHUNKED"], b"3\r\nabc\r\n0\r\n\r\n"),
    );
    add(
        "te-chunked-spaces",
        post(&["Transfer-Encoding:  chunked "], b"3\r\nabc\r\n0\r\n\r\n"),
    );
    for (name, te) in [
        ("te-gzip", "gzip"),
        ("te-identity", "identity"),
        ("te-gzip-chunked", "gzip, chunked"),
        ("te-chunked-gzip", "chunked, gzip"),
        ("te-chunked-twice", "chunked, chunked"),
        ("te-empty", ""),
        ("te-comma", ","),
        ("te-chunked-param", "chunked;q=1"),
        ("te-unknown", "foo"),
    ] {
        add(
            name,
            post(&[&format!("Transfer-Encoding: {te}")], b"0\r\n\r\n"),
        );
    }
    add(
        "te-two-fields",
        post(
            &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
            b"0\r\n\r\n",
        ),
    );
    add(
        "te-and-cl",
        post(
            &["Content-Length: 3", "Transfer-Encoding: chunked"],
            b"0\r\n\r\n",
        ),
    );
    add(
        "te-cl-after",
        post(
            &["Transfer-Encoding: chunked", "Content-Length: 3"],
            b"0\r\n\r\n",
        ),
    );
    add(
        "te-1.0",
        req(
            "POST /echo HTTP/1.0",
            &["Transfer-Encoding: chunked"],
            b"3\r\nabc\r\n0\r\n\r\n",
        ),
    );
    add(
        "te-1.0-keep-alive",
        [
            req(
                "POST /echo HTTP/1.0",
                &["Transfer-Encoding: chunked", "Connection: keep-alive"],
                b"3\r\nabc\r\n0\r\n\r\n",
            ),
            req("GET /a.txt HTTP/1.0", &["Connection: keep-alive"], b""),
        ]
        .concat(),
    );
    add(
        "te-on-get",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Transfer-Encoding: chunked"],
            b"0\r\n\r\n",
        ),
    );

    // Chunks and trailers.
    for (name, body) in [
        ("chunk-simple", &b"3\r\nabc\r\n0\r\n\r\n"[..]),
        ("chunk-two", b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        ("chunk-empty-body", b"0\r\n\r\n"),
        ("chunk-ext", b"3;name=value\r\nabc\r\n0\r\n\r\n"),
        ("chunk-ext-bare", b"3;name\r\nabc\r\n0\r\n\r\n"),
        ("chunk-ext-quoted", b"3;n=\"a b\"\r\nabc\r\n0\r\n\r\n"),
        ("chunk-ext-last", b"3\r\nabc\r\n0;end\r\n\r\n"),
        ("chunk-upper-hex", b"A\r\n0123456789\r\n0\r\n\r\n"),
        ("chunk-leading-zeros", b"0003\r\nabc\r\n0000\r\n\r\n"),
        ("chunk-size-junk", b"3x\r\nabc\r\n0\r\n\r\n"),
        ("chunk-size-negative", b"-3\r\nabc\r\n0\r\n\r\n"),
        ("chunk-size-0x", b"0x3\r\nabc\r\n0\r\n\r\n"),
        ("chunk-size-empty", b"\r\nabc\r\n0\r\n\r\n"),
        ("chunk-size-space", b"3 \r\nabc\r\n0\r\n\r\n"),
        (
            "chunk-size-overflow",
            b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        ),
        ("chunk-no-crlf-after-data", b"3\r\nabcX0\r\n\r\n"),
        ("chunk-data-longer", b"3\r\nabcd\r\n0\r\n\r\n"),
        ("chunk-bare-lf", b"3\nabc\n0\n\n"),
        ("chunk-no-last", b"3\r\nabc\r\n"),
        ("chunk-no-final-crlf", b"3\r\nabc\r\n0\r\n"),
        ("chunk-trailer", b"3\r\nabc\r\n0\r\nX-Sum: 3\r\n\r\n"),
        (
            "chunk-trailers-two",
            b"3\r\nabc\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
        ),
        (
            "chunk-trailer-no-colon",
            b"3\r\nabc\r\n0\r\nX-Sum 3\r\n\r\n",
        ),
        (
            "chunk-trailer-ctl",
            b"3\r\nabc\r\n0\r\nX-Sum: a\x01b\r\n\r\n",
        ),
        (
            "chunk-over-max",
            format!("{:x}\r\n", MAX_BODY + 1).as_bytes(),
        ),
        (
            "chunk-total-over-max",
            format!("8000\r\n{}\r\n8001\r\n", "c".repeat(0x8000)).as_bytes(),
        ),
    ] {
        add(name, post_chunked(body));
    }

    // Pipelining.
    add("pipe-two-gets", [get("/a.txt"), get("/b.txt")].concat());
    add(
        "pipe-three",
        [get("/a.txt"), get("/missing"), get("/")].concat(),
    );
    add(
        "pipe-head-get",
        [
            req("HEAD /a.txt HTTP/1.1", &["Host: t"], b""),
            get("/a.txt"),
        ]
        .concat(),
    );
    add(
        "pipe-post-get",
        [post(&["Content-Length: 3"], b"abc"), get("/a.txt")].concat(),
    );
    add(
        "pipe-post-crlf-get",
        [post(&["Content-Length: 3"], b"abc\r\n"), get("/a.txt")].concat(),
    );
    add(
        "pipe-chunked-get",
        [post_chunked(b"3\r\nabc\r\n0\r\n\r\n"), get("/a.txt")].concat(),
    );
    add(
        "pipe-trailer-get",
        [
            post_chunked(b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
            get("/a.txt"),
        ]
        .concat(),
    );
    add(
        "pipe-get-bad-get",
        [get("/a.txt"), b"NONSENSE\r\n\r\n".to_vec(), get("/a.txt")].concat(),
    );
    add(
        "pipe-get-close-get",
        [
            req(
                "GET /a.txt HTTP/1.1",
                &["Host: t", "Connection: close"],
                b"",
            ),
            get("/a.txt"),
        ]
        .concat(),
    );
    add("pipe-404-get", [get("/missing"), get("/a.txt")].concat());
    add(
        "pipe-405-get",
        [
            req("DELETE /a.txt HTTP/1.1", &["Host: t"], b""),
            get("/a.txt"),
        ]
        .concat(),
    );
    add(
        "pipe-413-get",
        [
            post(&[&format!("Content-Length: {}", MAX_BODY + 1)], b""),
            get("/a.txt"),
        ]
        .concat(),
    );
    add("pipe-ten", get("/a.txt").repeat(10));

    // Keep-alive and Connection.
    add(
        "conn-close",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Connection: close"],
            b"",
        ),
    );
    add(
        "conn-close-caps",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Connection: CLOSE"],
            b"",
        ),
    );
    add(
        "conn-keep-alive-close",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Connection: keep-alive, close"],
            b"",
        ),
    );
    add(
        "conn-other",
        req("GET /a.txt HTTP/1.1", &["Host: t", "Connection: foo"], b""),
    );
    add("conn-1.0", req("GET /a.txt HTTP/1.0", &[], b""));
    add(
        "conn-1.0-keep-alive",
        req("GET /a.txt HTTP/1.0", &["Connection: keep-alive"], b""),
    );
    add(
        "conn-1.0-keep-alive-two",
        [
            req("GET /a.txt HTTP/1.0", &["Connection: keep-alive"], b""),
            req("GET / HTTP/1.0", &[], b""),
        ]
        .concat(),
    );
    add(
        "conn-1.0-two",
        [
            req("GET /a.txt HTTP/1.0", &[], b""),
            req("GET / HTTP/1.0", &[], b""),
        ]
        .concat(),
    );
    add(
        "conn-1.0-post",
        req("POST /echo HTTP/1.0", &["Content-Length: 3"], b"abc"),
    );

    // Expect.
    add(
        "expect-body",
        post(&["Expect: 100-continue", "Content-Length: 3"], b"abc"),
    );
    add(
        "expect-no-body-yet",
        post(&["Expect: 100-continue", "Content-Length: 3"], b""),
    );
    add(
        "expect-chunked",
        post(
            &["Expect: 100-continue", "Transfer-Encoding: chunked"],
            b"3\r\nabc\r\n0\r\n\r\n",
        ),
    );
    add(
        "expect-get",
        req(
            "GET /a.txt HTTP/1.1",
            &["Host: t", "Expect: 100-continue"],
            b"",
        ),
    );
    add(
        "expect-caps",
        post(&["Expect: 100-CONTINUE", "Content-Length: 3"], b"abc"),
    );
    add(
        "expect-other",
        post(&["Expect: magic", "Content-Length: 3"], b"abc"),
    );
    add(
        "expect-1.0",
        req(
            "POST /echo HTTP/1.0",
            &["Expect: 100-continue", "Content-Length: 3"],
            b"abc",
        ),
    );
    add(
        "expect-over-max",
        post(
            &[
                "Expect: 100-continue",
                &format!("Content-Length: {}", MAX_BODY + 1),
            ],
            b"",
        ),
    );

    // Targets and paths.
    for (name, target) in [
        ("path-index", "/index.html"),
        ("path-missing", "/missing"),
        ("path-dir-slash", "/sub/"),
        ("path-dir-file", "/sub/index.html"),
        ("path-query", "/a.txt?x=1&y=2"),
        ("path-empty-query", "/a.txt?"),
        ("path-fragment", "/a.txt#frag"),
        ("path-pct", "/%61.txt"),
        ("path-pct-dot", "/a%2etxt"),
        ("path-pct-space", "/with%20space.txt"),
        ("path-pct-bad", "/a%zz"),
        ("path-pct-short", "/a%2"),
        ("path-pct-nul", "/a%00.txt"),
        ("path-pct-slash", "/sub%2findex.html"),
        ("path-dot", "/./a.txt"),
        ("path-double-slash", "//a.txt"),
        ("path-dotdot-inside", "/sub/../a.txt"),
        ("path-dotdot-root", "/../a.txt"),
        ("path-pct-dotdot", "/%2e%2e/a.txt"),
        ("path-backslash", "/sub\\index.html"),
        ("path-absolute", "http://t/a.txt"),
        ("path-absolute-https", "https://t/a.txt"),
        ("path-absolute-no-path", "http://t"),
        ("path-absolute-ftp", "ftp://t/a.txt"),
        ("path-relative", "a.txt"),
        ("path-star", "*"),
        ("path-semicolon", "/a.txt;x"),
        ("path-plus", "/a+b.txt"),
        ("path-hidden", "/.hidden"),
    ] {
        add(name, get(target));
    }
    add(
        "path-options-star",
        req("OPTIONS * HTTP/1.1", &["Host: t"], b""),
    );
    add(
        "path-head-missing",
        req("HEAD /missing HTTP/1.1", &["Host: t"], b""),
    );
    add("echo-get", get("/echo"));
    add("echo-head", req("HEAD /echo HTTP/1.1", &["Host: t"], b""));
    c
}

// ===== the table =====

/// A row of the table: the answers and the kind it records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    nginx: String,
    ours: String,
    kind: String,
}

/// The rows of the table in `docs/http-conformance.md`: lines `| case | request | nginx
/// | ours | kind | why |` whose first cell is a case name in backquotes.
fn table() -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in TABLE.lines() {
        // `\|` is a bar inside a cell.
        let line = line.replace("\\|", "\u{1}");
        let cells: Vec<String> = line
            .split('|')
            .map(|c| c.trim().replace('\u{1}', "|"))
            .collect();
        // `| a | b | ... |` splits into an empty first and last cell.
        if cells.len() < 8 || !cells[1].starts_with('`') {
            continue;
        }
        let unquote = |s: &str| s.trim_matches('`').to_string();
        let name = unquote(&cells[1]);
        let row = Row {
            nginx: unquote(&cells[3]),
            ours: unquote(&cells[4]),
            kind: cells[5].clone(),
        };
        assert!(
            rows.insert(name.clone(), row).is_none(),
            "docs/http-conformance.md: `{name}` has two rows"
        );
    }
    rows
}

/// What kind of difference `ours` is from `nginx`: `nginx wrong` if ours serves more
/// requests or keeps open what nginx closes, `stricter` if ours serves fewer or closes
/// what nginx keeps open, `code` otherwise.
fn kind(nginx: &Exchange, ours: &Exchange) -> &'static str {
    let served = |e: &Exchange| {
        e.statuses
            .iter()
            .filter(|&&s| (200..400).contains(&s))
            .count()
    };
    if served(ours) > served(nginx) || (nginx.closed && !ours.closed) {
        "nginx wrong"
    } else if served(ours) < served(nginx) || (ours.closed && !nginx.closed) {
        "stricter"
    } else {
        "code"
    }
}

// ===== the comparison =====

/// The static directory both serve.
fn site(dir: &TempDir) {
    dir.file("root/index.html", b"<!doctype html><p>index</p>\n");
    dir.file("root/a.txt", b"a\n");
    dir.file("root/b.txt", b"b\n");
    dir.file("root/with space.txt", b"space\n");
    dir.file("root/a+b.txt", b"plus\n");
    dir.file("root/.hidden", b"hidden\n");
    dir.file("root/sub/index.html", b"<p>sub</p>\n");
}

#[test]
fn http_server_answers_as_nginx_does_or_as_the_table_says() {
    if !support::peers::have_nginx() {
        return;
    }
    let ours_dir = TempDir::new("http-nginx-ours");
    site(&ours_dir);
    let root = ours_dir.path().join("root");
    let max_body = MAX_BODY.to_string();
    let flags = [
        "--root".as_ref(),
        root.as_os_str(),
        "--max-body".as_ref(),
        max_body.as_ref(),
    ];
    let (server, ours_addr) = support::start_server("http-server", "epoll", &flags);
    let nginx_dir = TempDir::new("http-nginx");
    let http = format!(
        "client_max_body_size {MAX_BODY};\n\
         lingering_timeout 100ms;\n\
         keepalive_requests 1000;\n\
         types {{ text/html html; text/plain txt; }}\n\
         default_type application/octet-stream;"
    );
    let server_conf = format!(
        "root {};\n\
         location = /echo {{ proxy_pass http://{ours_addr}; proxy_http_version 1.1; }}",
        root.display()
    );
    let Some(nginx) = support::peers::Nginx::start(nginx_dir, &http, &server_conf) else {
        return;
    };
    let cases = cases();
    let results = run_all(&cases, ours_addr, nginx.addr());
    let rows = table();
    let mut problems = Vec::new();
    let mut differ = 0;
    for ((name, input), (ours, theirs)) in cases.iter().zip(&results) {
        let same = ours.statuses == theirs.statuses && ours.closed == theirs.closed;
        let observed = Row {
            nginx: theirs.summary(),
            ours: ours.summary(),
            kind: kind(theirs, ours).to_string(),
        };
        match (same, rows.get(name)) {
            (true, None) => {}
            (true, Some(_)) => problems.push(format!(
                "`{name}` no longer differs ({}): remove its row",
                ours.summary()
            )),
            (false, row) => {
                differ += 1;
                if row != Some(&observed) {
                    problems.push(format!(
                        "`{name}` differs and is not in the table as observed; the row would be:\n\
                         | `{name}` | `{}` | `{}` | `{}` | {} | ... |\n  table: {row:?}\n  ours: {}\n  nginx: {}",
                        show(input, 120).replace('|', "\\|"),
                        observed.nginx,
                        observed.ours,
                        observed.kind,
                        show(&ours.raw, 200),
                        show(&theirs.raw, 200),
                    ));
                }
            }
        }
    }
    let names: Vec<&String> = cases.iter().map(|(n, _)| n).collect();
    for name in rows.keys() {
        if !names.contains(&name) {
            problems.push(format!(
                "`{name}` is in the table but is no request of the test"
            ));
        }
    }
    println!(
        "http_nginx: {} requests to each server, {differ} answered differently, {} table rows",
        cases.len(),
        rows.len()
    );
    assert!(cases.len() >= 200, "only {} requests", cases.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    drop(nginx);
    support::stop_server(server);
}

/// Each case to both servers, [`PARALLEL`] cases at a time: `(ours, nginx)` in order.
fn run_all(
    cases: &[(String, Vec<u8>)],
    ours: SocketAddr,
    nginx: SocketAddr,
) -> Vec<(Exchange, Exchange)> {
    let mut out = Vec::with_capacity(cases.len());
    for batch in cases.chunks(PARALLEL) {
        std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(_, input)| {
                    s.spawn(move || {
                        let a = s.spawn(move || exchange(ours, input));
                        let b = exchange(nginx, input);
                        (a.join().expect("an exchange with our server"), b)
                    })
                })
                .collect();
            for h in handles {
                out.push(h.join().expect("an exchange"));
            }
        });
    }
    out
}
