//! Nothing is lost when a connection ends, on every server and backend:
//!
//! * a client that pipelines 20,000 requests (400,000 small ones to memcache, more than
//!   the read buffer holds) and then shuts down its sending side (as `nc -N` and batch
//!   clients do) gets every reply before the server's end of file;
//! * an error reply that ends the connection reaches a client that is still sending
//!   8 MB, 20 times out of 20: the server closes lingering (it shuts down writing, then
//!   reads and discards), so the kernel does not answer the unread input with a reset
//!   that destroys the reply.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/mod.rs"]
mod support;

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Instant;

use asyncore_runtime::Backend;
use support::{read_more, start_server, stop_server, HANG_GUARD};

/// Requests sent before the half-close.
const PIPELINED: usize = 20_000;

/// Sends `input` from a second thread, then shuts down writing; meanwhile reads until
/// the server's end of file (a reset or the hang guard end the test with a failure).
/// Returns what came.
fn send_then_half_close(addr: SocketAddr, input: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    let mut w = s.try_clone().expect("clone the socket");
    let writer = thread::spawn(move || {
        w.write_all(&input).expect("the server takes every request");
        w.shutdown(Shutdown::Write).expect("shut down writing");
    });
    let mut got = Vec::new();
    let deadline = Instant::now() + HANG_GUARD;
    while read_more(&mut s, &mut got, deadline, &addr.to_string()) {}
    writer.join().expect("the writer thread");
    got
}

/// One server's pipelined requests and how its replies are counted.
struct Pipeline {
    server: &'static str,
    flags: &'static [&'static str],
    /// Sent first (a value to get, a greeting to pass).
    setup: Vec<u8>,
    /// One request, repeated.
    request: Vec<u8>,
    /// Times `request` is sent.
    count: usize,
    /// How many replies to the requests `got` holds.
    replies: fn(&[u8]) -> usize,
}

/// How many times `needle` occurs in `hay`, without overlaps.
fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    let (mut n, mut at) = (0, 0);
    while let Some(i) = find(&hay[at..], needle) {
        n += 1;
        at += i + needle.len();
    }
    n
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn half_close(backend: Backend, p: Pipeline) {
    let (server, addr) = start_server(p.server, backend.name(), p.flags);
    let mut input = p.setup.clone();
    for _ in 0..p.count {
        input.extend_from_slice(&p.request);
    }
    let got = send_then_half_close(addr, input);
    let replies = (p.replies)(&got);
    assert_eq!(
        replies,
        p.count,
        "{} ({}) answered {replies} of {} pipelined requests before closing ({} bytes)",
        p.server,
        backend.name(),
        p.count,
        got.len()
    );
    stop_server(server);
}

fn memcache_gets(backend: Backend) {
    let value = vec![b'v'; 1024];
    let mut setup = b"set k 0 0 1024\r\n".to_vec();
    setup.extend_from_slice(&value);
    setup.extend_from_slice(b"\r\n");
    half_close(
        backend,
        Pipeline {
            server: "memcache-server",
            flags: &[],
            setup,
            request: b"get k\r\n".to_vec(),
            count: PIPELINED,
            replies: |got| {
                assert!(got.starts_with(b"STORED\r\n"), "the value is stored first");
                occurrences(got, b"VALUE k 0 1024\r\n")
            },
        },
    );
}

/// 50 gets of a 1 MB value: 50 MB of replies, paced by the high-water mark.
fn memcache_big_gets(backend: Backend) {
    let n = 1_000_000;
    let mut setup = format!("set big 0 0 {n}\r\n").into_bytes();
    setup.extend(std::iter::repeat_n(b'v', n));
    setup.extend_from_slice(b"\r\n");
    half_close(
        backend,
        Pipeline {
            server: "memcache-server",
            flags: &[],
            setup,
            request: b"get big\r\n".to_vec(),
            count: 50,
            replies: |got| occurrences(got, b"VALUE big 0 1000000\r\n"),
        },
    );
}

/// 400,000 gets of a one-byte value: 2.8 MB of requests, more than the read buffer holds,
/// with replies small enough never to fill the output: the server takes in only as much
/// as its buffer holds while the requests wait for their turn.
fn memcache_deep_pipeline(backend: Backend) {
    half_close(
        backend,
        Pipeline {
            server: "memcache-server",
            flags: &[],
            setup: b"set k 0 0 1\r\nx\r\n".to_vec(),
            request: b"get k\r\n".to_vec(),
            count: 400_000,
            replies: |got| occurrences(got, b"VALUE k 0 1\r\nx\r\nEND\r\n"),
        },
    );
}

/// kv frames: a 4-byte big-endian length, then the opcode and the body.
fn kv_frame(op: u8, body: &[u8]) -> Vec<u8> {
    let mut f = u32::try_from(body.len() + 1)
        .expect("a small frame")
        .to_be_bytes()
        .to_vec();
    f.push(op);
    f.extend_from_slice(body);
    f
}

/// The opcodes of the kv frames in `got`, in order.
fn kv_opcodes(mut got: &[u8]) -> Vec<u8> {
    let mut ops = Vec::new();
    while got.len() >= 5 {
        let len = u32::from_be_bytes([got[0], got[1], got[2], got[3]]) as usize;
        let Some(frame) = got.get(4..4 + len) else {
            break;
        };
        ops.extend(frame.first().copied());
        got = &got[4 + len..];
    }
    assert!(
        got.is_empty(),
        "{} bytes of a cut frame at the end",
        got.len()
    );
    ops
}

fn kv_gets(backend: Backend) {
    let mut put = vec![0, 1, b'k'];
    put.extend_from_slice(&[b'v'; 1024]);
    let setup = kv_frame(0x02, &put);
    half_close(
        backend,
        Pipeline {
            server: "kv-server",
            flags: &[],
            setup,
            request: kv_frame(0x01, b"k"),
            count: PIPELINED,
            replies: |got| {
                let ops = kv_opcodes(got);
                assert_eq!(ops.first(), Some(&0x83), "Ok to the Put first");
                ops.iter().filter(|&&op| op == 0x81).count()
            },
        },
    );
}

fn resp_pings(backend: Backend) {
    half_close(
        backend,
        Pipeline {
            server: "resp-server",
            flags: &[],
            setup: Vec::new(),
            request: b"*1\r\n$4\r\nPING\r\n".to_vec(),
            count: PIPELINED,
            replies: |got| occurrences(got, b"+PONG\r\n"),
        },
    );
}

fn smtp_noops(backend: Backend) {
    half_close(
        backend,
        Pipeline {
            server: "smtp-server",
            flags: &[],
            setup: b"EHLO client.example\r\n".to_vec(),
            request: b"NOOP\r\n".to_vec(),
            count: PIPELINED,
            replies: |got| {
                assert!(got.starts_with(b"220 "), "the greeting first");
                occurrences(got, b"\r\n250 2.0.0")
            },
        },
    );
}

fn http_gets(backend: Backend) {
    half_close(
        backend,
        Pipeline {
            server: "http-server",
            flags: &[],
            setup: Vec::new(),
            request: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            count: PIPELINED,
            replies: |got| occurrences(got, b"HTTP/1.1 200 OK\r\n"),
        },
    );
}

fn echo_lines(backend: Backend, flags: &'static [&'static str]) {
    half_close(
        backend,
        Pipeline {
            server: "echo",
            flags,
            setup: Vec::new(),
            request: b"a line to come back\n".to_vec(),
            count: PIPELINED,
            replies: |got| {
                assert!(
                    got.iter().all(|&b| b"a line to come back\n".contains(&b)),
                    "only the lines sent come back"
                );
                occurrences(got, b"a line to come back\n")
            },
        },
    );
}

fn echo_generated(backend: Backend) {
    echo_lines(backend, &[]);
}

fn echo_raw(backend: Backend) {
    echo_lines(backend, &["--raw"]);
}

fn echo_async_chat(backend: Backend) {
    echo_lines(backend, &["--chat"]);
}

fn chat_nicks(backend: Backend) {
    let (server, addr) = start_server("chat", backend.name(), &[] as &[&str]);
    let mut input = Vec::new();
    for i in 0..PIPELINED {
        input.extend_from_slice(format!("/nick n{i}\n").as_bytes());
    }
    let got = send_then_half_close(addr, input);
    let text = String::from_utf8_lossy(&got);
    let renames: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("* you are now "))
        .collect();
    assert_eq!(
        renames.len(),
        PIPELINED,
        "chat ({}) answered {} of {PIPELINED} pipelined /nick before closing",
        backend.name(),
        renames.len()
    );
    assert_eq!(
        renames.last(),
        Some(&format!("n{}", PIPELINED - 1).as_str())
    );
    stop_server(server);
}

on_every_backend!(
    memcache_gets,
    memcache_big_gets,
    memcache_deep_pipeline,
    kv_gets,
    resp_pings,
    smtp_noops,
    http_gets,
    echo_generated,
    echo_raw,
    echo_async_chat,
    chat_nicks,
);

// ===== Error replies that end the connection =====

/// What a client still sending after the request the server refuses sends: 8 MB.
const STILL_SENDING: usize = 8 << 20;

/// Tries a connection this many times.
const TRIES: usize = 20;

/// Sends `head` and then `STILL_SENDING` bytes of `filler`, as `http.client` and
/// `smtplib` do: everything first, and only then reads, until the end of file, a reset
/// or the hang guard. Returns what came; like those clients, nothing if a write failed
/// (the server reset the connection: it closed with input unread).
fn refused_while_sending(addr: SocketAddr, head: &[u8], filler: u8) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    s.set_write_timeout(Some(HANG_GUARD))
        .expect("write timeout");
    let mut input = head.to_vec();
    input.extend(std::iter::repeat_n(filler, STILL_SENDING));
    for chunk in input.chunks(64 * 1024) {
        match s.write_all(chunk) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                panic!("{addr} stopped reading without closing: {e}")
            }
            Err(e) => return format!("(writing failed: {e})").into_bytes(),
        }
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + HANG_GUARD;
    // Up to the end of file or a reset: what came before a reset is all the client sees.
    while read_more(&mut s, &mut got, deadline, &addr.to_string()) {}
    got
}

/// `TRIES` connections each send `head` and 8 MB more; each must get `expect`.
fn error_reply_arrives(
    backend: Backend,
    server: &str,
    flags: &[&str],
    head: &[u8],
    filler: u8,
    expect: &[u8],
) {
    let (proc, addr) = start_server(server, backend.name(), flags);
    let mut seen = 0;
    let mut last = Vec::new();
    for _ in 0..TRIES {
        let got = refused_while_sending(addr, head, filler);
        if find(&got, expect).is_some() {
            seen += 1;
        } else {
            last = got;
        }
    }
    assert_eq!(
        seen,
        TRIES,
        "{server} ({}): the reply {:?} arrived {seen} times of {TRIES}; once instead: {:?}",
        backend.name(),
        String::from_utf8_lossy(expect),
        String::from_utf8_lossy(&last[..last.len().min(200)])
    );
    stop_server(proc);
}

/// A body over `--max-body` (1 MiB by default): 413.
fn http_413(backend: Backend) {
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {STILL_SENDING}\r\n\r\n"
    );
    error_reply_arrives(
        backend,
        "http-server",
        &[],
        head.as_bytes(),
        b'b',
        b"HTTP/1.1 413 ",
    );
}

/// A header field line over the 8 KiB limit: 431.
fn http_431(backend: Backend) {
    error_reply_arrives(
        backend,
        "http-server",
        &[],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: ",
        b'h',
        b"HTTP/1.1 431 ",
    );
}

/// A bare LF in the message text: 554, and the connection ends.
fn smtp_554(backend: Backend) {
    error_reply_arrives(
        backend,
        "smtp-server",
        &[],
        b"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbare\nLF\r\n",
        b'm',
        b"554 5.5.2",
    );
}

/// An inline request over 64 KiB: RESP's protocol error, and the connection ends.
fn resp_protocol_error(backend: Backend) {
    error_reply_arrives(
        backend,
        "resp-server",
        &[],
        b"SET k ",
        b'r',
        b"-ERR Protocol error",
    );
}

/// A command line over 2 KiB: `CLIENT_ERROR line too long`, and the connection ends.
fn memcache_line_too_long(backend: Backend) {
    error_reply_arrives(
        backend,
        "memcache-server",
        &[],
        b"get ",
        b'k',
        b"CLIENT_ERROR line too long\r\n",
    );
}

/// A frame over the 1 MiB limit: `Failed`, and the connection ends.
fn kv_oversize_frame(backend: Backend) {
    let mut head = u32::try_from(STILL_SENDING + 1)
        .expect("a length")
        .to_be_bytes()
        .to_vec();
    head.push(0x02);
    error_reply_arrives(backend, "kv-server", &[], &head, 0, b"\x84");
}

on_every_backend!(
    http_413,
    http_431,
    smtp_554,
    resp_protocol_error,
    memcache_line_too_long,
    kv_oversize_frame,
);
