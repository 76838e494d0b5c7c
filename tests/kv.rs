//! The kv examples (`examples/kv_server.rs`, `examples/kv_client.rs`), on the binary
//! length-prefixed protocol of `protocols/descriptions/kv.aproto`:
//!
//! * `kv-client` round trips (`put`, `get`, `del`, a missing key, many keys, a 512 KiB
//!   value through standard input and output) against `kv-server`;
//! * the client library pipelines thousands of requests and megabytes of values, on
//!   every backend; raw frames written all at once get their replies in order;
//! * a Python 3 client and a Python 3 server written from the description alone (with
//!   `struct`), against `kv-server` and against the client library;
//! * bad input (a frame over 1 MiB, a length of 4 GiB, an unknown opcode, an empty frame,
//!   a key length past its frame, garbage, a client leaving in the middle of a frame) gets
//!   a `Failed` reply or a close, never a panic, while other connections keep being
//!   served, on every backend.
//!
//! The Python tests print `skipping: ...` and pass when Python 3 is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use asyncore_examples::kv::{exchange, Reply, Request};
use asyncore_runtime::Backend;

use support::{pseudo_random, Finished, Proc, Witness, HANG_GUARD};

/// Starts kv-server on 127.0.0.1:0 with `backend`.
fn start_kv(backend: Backend) -> (Proc, SocketAddr) {
    support::start_server("kv-server", backend.name(), &[] as &[&str])
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// Runs `program args` with `input` on its standard input; see [`support::run_raw`].
fn run_raw(program: &PathBuf, args: &[String], input: &[u8]) -> (i32, Vec<u8>, String) {
    support::run_raw(program, args, input)
}

// ===== the command-line client =====

#[test]
fn kv_client_program_round_trips_against_kv_server() {
    let (server, addr) = start_kv(Backend::Epoll);
    let bin = support::example_binary("kv-client");
    let args = |a: &[&str]| {
        ["--connect".to_string(), addr.to_string()]
            .into_iter()
            .chain(a.iter().map(|x| x.to_string()))
            .collect::<Vec<_>>()
    };
    let (code, out, err) = run_raw(
        &bin,
        &args(&["put", "a", "one", "put", "b", "two", "get", "a", "get", "b"]),
        b"",
    );
    assert_eq!(code, 0, "kv-client failed: {err}");
    assert_eq!(String::from_utf8_lossy(&out), "OK\nOK\nonetwo");
    let (code, out, err) = run_raw(&bin, &args(&["del", "a", "get", "a", "get", "b"]), b"");
    assert_eq!(code, 1, "exit status 1 when a key is missing: {err}");
    assert_eq!(String::from_utf8_lossy(&out), "OK\ntwo");
    assert!(err.contains("a: not found"), "{err}");
    let (code, _, err) = run_raw(&bin, &args(&["del", "a"]), b"");
    assert_eq!(code, 1, "deleting a missing key: {err}");

    // Many keys in one run, pipelined.
    let mut words = Vec::new();
    for i in 0..300 {
        words.extend(["put".to_string(), format!("key{i}"), format!("value{i};")]);
    }
    for i in (0..300).rev() {
        words.extend(["get".to_string(), format!("key{i}")]);
    }
    let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let (code, out, err) = run_raw(&bin, &args(&word_refs), b"");
    assert_eq!(code, 0, "kv-client failed: {err}");
    let want: String = "OK\n".repeat(300)
        + &(0..300)
            .rev()
            .map(|i| format!("value{i};"))
            .collect::<String>();
    assert_eq!(String::from_utf8_lossy(&out), want);

    // A 512 KiB binary value through standard input, back through standard output.
    let value = pseudo_random(512 * 1024, 3);
    let (code, out, err) = run_raw(&bin, &args(&["put", "big", "-"]), &value);
    assert_eq!(code, 0, "kv-client put from stdin failed: {err}");
    assert_eq!(out, b"OK\n");
    let (code, out, err) = run_raw(&bin, &args(&["get", "big"]), b"");
    assert_eq!(code, 0, "kv-client get failed: {err}");
    assert!(
        out == value,
        "the 512 KiB value came back changed ({} bytes)",
        out.len()
    );

    // Usage errors.
    let (code, _, err) = run_raw(&bin, &args(&["put", "k"]), b"");
    assert_eq!(code, 2);
    assert!(err.contains("needs a VALUE"), "{err}");
    let (code, _, err) = run_raw(&bin, &args(&["fetch", "k"]), b"");
    assert_eq!(code, 2);
    assert!(err.contains("unknown request"), "{err}");
    // No server there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (code, out, err) = run_raw(
        &bin,
        &[
            "--connect".into(),
            free.to_string(),
            "get".into(),
            "k".into(),
        ],
        b"",
    );
    assert!(
        code == 2 && out.is_empty(),
        "exit 2 when the connection fails"
    );
    assert!(err.contains("refused"), "{err}");
    stop(server);
}

// ===== the client library =====

on_every_backend!(client_library_pipelines_many_requests);

fn client_library_pipelines_many_requests(backend: Backend) {
    let (server, addr) = start_kv(backend);
    let n = 2000;
    let key = |i: usize| format!("k{i:05}").into_bytes();
    let value = |i: usize| pseudo_random(i % 200, i as u64 + 1);
    let mut requests: Vec<Request> = (0..n).map(|i| Request::Put(key(i), value(i))).collect();
    requests.extend((0..n).map(|i| Request::Get(key(i))));
    requests.extend((0..n).step_by(2).map(|i| Request::Del(key(i))));
    requests.extend((0..n).map(|i| Request::Get(key(i))));
    let replies = exchange(addr, backend, requests, HANG_GUARD).expect("the exchange");
    let mut want = vec![Reply::Ok; n];
    want.extend((0..n).map(|i| Reply::Found(value(i))));
    want.extend(std::iter::repeat_n(Reply::Ok, n / 2));
    want.extend((0..n).map(|i| {
        if i % 2 == 0 {
            Reply::NotFound
        } else {
            Reply::Found(value(i))
        }
    }));
    assert_eq!(replies.len(), want.len());
    for (i, (got, want)) in replies.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "reply {i}");
    }

    // Megabytes pipelined: 24 values of 512 KiB, more than the client's send window and
    // the channels' output limits hold at once.
    let big = |i: usize| pseudo_random(512 * 1024, 100 + i as u64);
    let mut requests: Vec<Request> = (0..24)
        .map(|i| Request::Put(format!("big{i}").into_bytes(), big(i)))
        .collect();
    requests.extend((0..24).map(|i| Request::Get(format!("big{i}").into_bytes())));
    let replies = exchange(addr, backend, requests, HANG_GUARD).expect("the big exchange");
    assert_eq!(replies.len(), 48);
    assert!(replies[..24].iter().all(|r| *r == Reply::Ok));
    for (i, r) in replies[24..].iter().enumerate() {
        assert!(
            *r == Reply::Found(big(i)),
            "big value {i} came back changed"
        );
    }
    stop(server);
}

// ===== raw frames =====

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn put(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02];
    body.extend_from_slice(&(key.len() as u16).to_be_bytes());
    body.extend_from_slice(key);
    body.extend_from_slice(value);
    frame(&body)
}

fn get(key: &[u8]) -> Vec<u8> {
    frame(&[&[0x01], key].concat())
}

fn del(key: &[u8]) -> Vec<u8> {
    frame(&[&[0x03], key].concat())
}

/// Reads one frame body (at most the hang guard); `None` at the end of the stream.
fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

#[test]
fn raw_frames_written_at_once_are_answered_in_order() {
    let (server, addr) = start_kv(Backend::Poll);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    let mut out = Vec::new();
    for i in 0..1000u32 {
        out.extend(put(&i.to_be_bytes(), format!("v{i}").as_bytes()));
        out.extend(get(&i.to_be_bytes()));
    }
    out.extend(del(&7u32.to_be_bytes()));
    out.extend(get(&7u32.to_be_bytes()));
    out.extend(get(b""));
    // Every byte in one write, split by the kernel wherever it likes.
    let writer = {
        let mut s = s.try_clone().expect("clone the stream");
        std::thread::spawn(move || s.write_all(&out))
    };
    for i in 0..1000u32 {
        assert_eq!(read_frame(&mut s).as_deref(), Some(&[0x83][..]), "put {i}");
        let want = [&[0x81][..], format!("v{i}").as_bytes()].concat();
        assert_eq!(read_frame(&mut s), Some(want), "get {i}");
    }
    assert_eq!(read_frame(&mut s).as_deref(), Some(&[0x83][..]), "del");
    assert_eq!(
        read_frame(&mut s).as_deref(),
        Some(&[0x82][..]),
        "get deleted"
    );
    assert_eq!(
        read_frame(&mut s).as_deref(),
        Some(&[0x82][..]),
        "get empty key"
    );
    writer.join().expect("writer").expect("write the frames");
    stop(server);
}

// ===== Python peers =====

fn have_python() -> bool {
    support::require_peer(
        "python3 (with socket and struct)",
        support::python_has_module("struct"),
    )
}

/// A kv client in Python, from the description: puts, gets and deletes, pipelined,
/// then checks every reply; prints `ok N`.
const PY_CLIENT: &str = r#"
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port))
def frame(body): return struct.pack(">I", len(body)) + body
def put(k, v): return frame(b"\x02" + struct.pack(">H", len(k)) + k + v)
def get(k): return frame(b"\x01" + k)
def delete(k): return frame(b"\x03" + k)
n = 500
out = b"".join(put(b"py%d" % i, b"value-%d" % i * (i % 7)) for i in range(n))
out += b"".join(get(b"py%d" % i) for i in range(n))
out += delete(b"py0") + get(b"py0") + delete(b"py0")
out += put(b"big", bytes(range(256)) * 2048) + get(b"big")
s.sendall(out)
buf = b""
def read_frame():
    global buf
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        d = s.recv(65536)
        if not d: raise SystemExit("closed early")
        buf += d
    n = struct.unpack(">I", buf[:4])[0]
    body, buf = buf[4:4 + n], buf[4 + n:]
    return body
for i in range(n): assert read_frame() == b"\x83", i
for i in range(n): assert read_frame() == b"\x81" + b"value-%d" % i * (i % 7), i
assert read_frame() == b"\x83"
assert read_frame() == b"\x82"
assert read_frame() == b"\x82"
assert read_frame() == b"\x83"
assert read_frame() == b"\x81" + bytes(range(256)) * 2048
print("ok", 2 * n + 5, flush=True)
"#;

/// A kv server in Python, from the description, on one connection at a time; prints
/// `listening on HOST:PORT`.
const PY_SERVER: &str = r#"
import socket, struct, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
print("listening on %s:%d" % ls.getsockname(), flush=True)
store = {}
def frame(body): return struct.pack(">I", len(body)) + body
while True:
    c, _ = ls.accept()
    buf = b""
    while True:
        d = c.recv(65536)
        if not d: break
        buf += d
        out = b""
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            body, buf = buf[4:4 + n], buf[4 + n:]
            op = body[:1]
            if op == b"\x01":
                v = store.get(body[1:])
                out += frame(b"\x82") if v is None else frame(b"\x81" + v)
            elif op == b"\x02":
                (kl,) = struct.unpack(">H", body[1:3])
                store[body[3:3 + kl]] = body[3 + kl:]
                out += frame(b"\x83")
            elif op == b"\x03":
                out += frame(b"\x83") if store.pop(body[1:], None) is not None else frame(b"\x82")
            else:
                out += frame(b"\x84unknown opcode")
        c.sendall(out)
    c.close()
"#;

#[test]
fn a_python_client_talks_to_kv_server() {
    if !have_python() {
        return;
    }
    let (server, addr) = start_kv(Backend::Epoll);
    let mut cmd =
        support::python_script(PY_CLIENT, [addr.ip().to_string(), addr.port().to_string()]);
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("run the Python client");
    assert!(
        out.status.success(),
        "the Python client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok 1005");
    stop(server);
}

#[test]
fn the_client_library_talks_to_a_python_kv_server() {
    if !have_python() {
        return;
    }
    let mut child = support::python_script(PY_SERVER, Vec::<String>::new())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the Python server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the Python server's first line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("the Python server printed {line:?}"));
    let value = pseudo_random(512 * 1024, 9);
    let requests = vec![
        Request::Put(b"a".to_vec(), b"1".to_vec()),
        Request::Put(b"big".to_vec(), value.clone()),
        Request::Get(b"a".to_vec()),
        Request::Get(b"big".to_vec()),
        Request::Del(b"a".to_vec()),
        Request::Get(b"a".to_vec()),
        Request::Del(b"a".to_vec()),
    ];
    let replies = exchange(addr, Backend::Epoll, requests, HANG_GUARD);
    let _ = child.kill();
    let _ = child.wait();
    let replies = replies.expect("the exchange with the Python server");
    assert_eq!(
        replies,
        [
            Reply::Ok,
            Reply::Ok,
            Reply::Found(b"1".to_vec()),
            Reply::Found(value),
            Reply::Ok,
            Reply::NotFound,
            Reply::NotFound,
        ]
    );
}

// ===== bad input =====

/// Sends `bytes` on a new connection (then shuts down writing if `hang_up`); the frames
/// that came back, and whether the server closed.
fn send_bad(addr: SocketAddr, bytes: &[u8], hang_up: bool) -> (Vec<Vec<u8>>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect to kv-server");
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    // The server may close before taking everything: a reset here is fine.
    let _ = s.write_all(bytes);
    if hang_up {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break false;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("reading from kv-server: {e}"),
        }
    };
    let mut frames = Vec::new();
    let mut rest = &got[..];
    while rest.len() >= 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        assert!(
            rest.len() >= 4 + n,
            "a partial frame from kv-server: {got:?}"
        );
        frames.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    assert!(
        rest.is_empty(),
        "bytes that are no frame from kv-server: {got:?}"
    );
    (frames, closed)
}

fn is_failed(f: &[u8]) -> bool {
    f.first() == Some(&0x84)
}

/// A connection that must keep being served: puts a new value and reads it back.
fn witness(addr: SocketAddr) -> Witness {
    Witness::new(addr, |w, after| {
        let value = format!("witness {}", w.n);
        let mut out = put(b"witness", value.as_bytes());
        out.extend(get(b"witness"));
        w.stream
            .write_all(&out)
            .unwrap_or_else(|e| panic!("witness write after {after}: {e}"));
        assert_eq!(
            read_frame(&mut w.stream).as_deref(),
            Some(&[0x83][..]),
            "the witness's put after {after}"
        );
        assert_eq!(
            read_frame(&mut w.stream),
            Some([&[0x81][..], value.as_bytes()].concat()),
            "the witness's get after {after}"
        );
    })
}

on_every_backend!(bad_input_gets_failed_or_a_close_and_others_are_served);

fn bad_input_gets_failed_or_a_close_and_others_are_served(backend: Backend) {
    let (server, addr) = start_kv(backend);
    let mut witness = witness(addr);
    witness.check("the start");

    // A frame over the 1 MiB limit, and a length of 4 GiB: `Failed`, then a close.
    for (case, header) in [
        ("a 2 MiB frame", 2u32 * 1024 * 1024),
        ("a 4 GiB length", u32::MAX),
    ] {
        let mut bytes = header.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0x01; 1000]);
        let (frames, closed) = send_bad(addr, &bytes, false);
        assert!(
            frames.len() == 1 && is_failed(&frames[0]),
            "{case}: one Failed reply, got {frames:?}"
        );
        assert!(closed, "{case}: closed");
        witness.check(case);
    }

    // An unknown opcode and an empty frame: `Failed`, and the connection goes on.
    let mut bytes = frame(&[0x09, 1, 2, 3]);
    bytes.extend(frame(&[]));
    bytes.extend(put(b"k", b"v"));
    bytes.extend(get(b"k"));
    let (frames, closed) = send_bad(addr, &bytes, false);
    assert!(!closed, "the connection goes on after an unknown opcode");
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert!(is_failed(&frames[0]) && is_failed(&frames[1]), "{frames:?}");
    assert_eq!(frames[2], [0x83]);
    assert_eq!(frames[3], [0x81, b'v']);
    witness.check("an unknown opcode");

    // A key length past the end of its frame: `Failed`, then a close.
    let (frames, closed) = send_bad(addr, &frame(&[0x02, 0x03, 0xe8, b'k', b'v']), false);
    assert!(
        frames.len() == 1 && is_failed(&frames[0]),
        "a key length past its frame: {frames:?}"
    );
    assert!(closed, "closed after a key length past its frame");
    witness.check("a key length past its frame");

    // A client leaving in the middle of a header or of a frame: no reply, nothing stored.
    let (frames, _) = send_bad(addr, &[0, 0], true);
    assert!(frames.is_empty(), "{frames:?}");
    let cut = put(b"cut", &[7u8; 100]);
    let (frames, _) = send_bad(addr, &cut[..50], true);
    assert!(frames.is_empty(), "{frames:?}");
    witness.check("clients leaving in the middle of a frame");
    let (frames, _) = send_bad(addr, &get(b"cut"), true);
    assert_eq!(frames, [vec![0x82]], "the cut put stored nothing");

    // Garbage, then the client hangs up: only `Failed` replies, and the server goes on.
    for seed in 1..=10u64 {
        let mut g = pseudo_random(4096, seed);
        if seed % 2 == 0 {
            // Small lengths, so that some of it is frames.
            for chunk in g.chunks_mut(16) {
                chunk[..3].copy_from_slice(&[0, 0, 0]);
                chunk[3] %= 12;
            }
        }
        let (frames, closed) = send_bad(addr, &g, true);
        assert!(
            closed,
            "garbage case {seed}: closed once the client is done"
        );
        assert!(
            frames
                .iter()
                .all(|f| is_failed(f) || matches!(f.first(), Some(0x81..=0x83))),
            "garbage case {seed}: only replies of the protocol, got {frames:?}"
        );
        witness.check(&format!("garbage case {seed}"));
    }

    // A client that pipelines far more replies (32 MiB) than the server's output limit
    // (16 MiB) before it reads any: the server stops taking requests while their replies
    // are over its high-water mark and goes on as the client reads, so every reply
    // arrives and the connection stays open.
    let value = vec![b'v'; 512 * 1024];
    let mut out = put(b"bulky", &value);
    for _ in 0..64 {
        out.extend(get(b"bulky"));
    }
    let (frames, closed) = send_bad(addr, &out, false);
    assert!(!closed, "the connection stays open");
    assert_eq!(frames.len(), 65, "Ok, then 64 Found replies");
    assert!(frames[1..]
        .iter()
        .all(|f| f.len() == value.len() + 1 && f[0] == 0x81));
    witness.check("too many unread replies");

    // A connection made after all that works too.
    let (frames, _) = send_bad(addr, &get(b"witness"), true);
    assert_eq!(
        frames,
        [[&[0x81][..], format!("witness {}", witness.n).as_bytes()].concat()]
    );
    stop(server);
}
