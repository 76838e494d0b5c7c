//! The HTTP client example (`examples/http_client.rs`, `asyncore_examples::http_client`)
//! against real servers and against servers that misbehave:
//!
//! * a real nginx started here (its own configuration, logs and files in a temporary
//!   directory): a small and a 3 MiB binary file byte-exact, on every backend; several
//!   files over one keep-alive connection, pipelined and one at a time, which nginx's
//!   access log confirms (`$connection`, `$connection_requests`); `HEAD` (no body read,
//!   the connection goes on); a 404; an empty file; a body over the client's limit; a
//!   gzip'd text file, which nginx sends chunked, decoded and then gunzipped by Python;
//! * a small Python `http.server` script: chunked responses (with chunk extensions),
//!   bodies sent with `Content-Length` and chunked and echoed back, a body delimited by
//!   the close of the connection;
//! * the `http-client` program: a file to standard output byte-exact, several URLs,
//!   `-i`, `-I`, `--fail` on a 404, a refused connection, a reply that is not HTTP;
//! * fake servers (a raw `TcpListener` here) that send garbage, a truncated body, an
//!   over-long header line, too many header fields, invalid chunk sizes, a bad
//!   `Content-Length`, or nothing at all: the client returns an error, on every backend,
//!   without a panic and without hanging.
//!
//! The peer tests print `skipping: ...` and pass when nginx or Python is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use asyncore_examples::http_client::{HttpClient, HttpRequest, HttpResponse};
use asyncore_runtime::Backend;

use support::peers::free_port;
use support::{Proc, TempDir, HANG_GUARD};

/// What the client is given as its own timeout in the tests: long enough for a debug
/// build on a busy machine, shorter than the hang guard.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

const SMALL: &[u8] = b"hello, asyncore\n";

/// 3 MiB of pseudo-random bytes (every byte value, no text).
fn big_file() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(3 << 20);
    while out.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(3 << 20);
    out
}

/// About 400 KiB of text that gzip shrinks but not to nothing.
fn text_file() -> Vec<u8> {
    let words = [
        "asyncore",
        "channel",
        "dispatcher",
        "select",
        "poll",
        "epoll",
        "map",
    ];
    let mut out = Vec::new();
    let mut x: u32 = 12345;
    let mut line = 0;
    while out.len() < 400 * 1024 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
        out.extend_from_slice(format!(" {} ", x % 1000).as_bytes());
        line += 1;
        if line % 12 == 0 {
            out.push(b'\n');
        }
    }
    out
}

fn client(addr: SocketAddr, backend: Backend) -> HttpClient {
    HttpClient::new(addr)
        .backend(backend)
        .timeout(CLIENT_TIMEOUT)
}

// ===== nginx =====

/// A real nginx (see [`support::peers::Nginx`]) serving the test files: `small.txt`,
/// `big.bin`, `empty.txt`, `text.txt` (gzip'd, so sent chunked). `None` (the test
/// returns) when nginx is missing.
struct Nginx;

impl Nginx {
    fn start() -> Option<support::peers::Nginx> {
        let dir = TempDir::new("http-client-nginx");
        dir.file("root/small.txt", SMALL);
        dir.file("root/big.bin", &big_file());
        dir.file("root/empty.txt", b"");
        dir.file("root/text.txt", &text_file());
        let root = dir.path().join("root");
        let http = "types { text/plain txt; application/octet-stream bin; }\n\
                    default_type application/octet-stream;\n\
                    keepalive_requests 1000;";
        let server = format!(
            "root {};\ngzip on;\ngzip_types text/plain;\ngzip_min_length 1;",
            root.display()
        );
        support::peers::Nginx::start(dir, http, &server)
    }
}

#[track_caller]
fn assert_ok(r: &HttpResponse, body: &[u8]) {
    assert_eq!(r.status, 200, "{r}");
    assert!(
        r.body == body,
        "body of {} bytes differs from the {} bytes expected ({r})",
        r.body.len(),
        body.len()
    );
}

/// Small, large and empty files, byte-exact, each on its own connection.
fn nginx_files(backend: Backend) {
    let Some(nginx) = Nginx::start() else { return };
    let c = client(nginx.addr(), backend);
    let r = c.get("/small.txt").expect("GET /small.txt");
    assert_ok(&r, SMALL);
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.reason, "OK");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("Content-Length"), Some("16"));
    let r = c.get("/big.bin").expect("GET /big.bin");
    assert_ok(&r, &big_file());
    let r = c.get("/empty.txt").expect("GET /empty.txt");
    assert_ok(&r, b"");
    assert_eq!(r.header("content-length"), Some("0"));
}

/// Several files over one connection: pipelined (the default) and one at a time.
fn nginx_keep_alive(backend: Backend) {
    let Some(nginx) = Nginx::start() else { return };
    let big = big_file();
    for depth in [8, 1] {
        let c = client(nginx.addr(), backend).pipeline(depth);
        let requests = vec![
            HttpRequest::get("/small.txt"),
            HttpRequest::get("/big.bin"),
            HttpRequest::head("/big.bin"),
            HttpRequest::get("/empty.txt"),
            HttpRequest::get("/missing"),
            HttpRequest::get("/small.txt?again=1"),
        ];
        let n = requests.len();
        let mut responses = Vec::new();
        let stats = c
            .batch_with(requests, |i, r| {
                responses.push((i, r));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("batch (pipeline {depth}): {e}"));
        assert_eq!(stats.connections, 1, "pipeline {depth}: {stats:?}");
        assert_eq!(stats.responses, n);
        let order: Vec<usize> = responses.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, (0..n).collect::<Vec<_>>());
        let r: Vec<HttpResponse> = responses.into_iter().map(|(_, r)| r).collect();
        assert_ok(&r[0], SMALL);
        assert_ok(&r[1], &big);
        // HEAD: the length of the file, no body, and the connection goes on.
        assert_eq!(r[2].status, 200);
        assert_eq!(r[2].header("content-length"), Some("3145728"));
        assert!(r[2].body.is_empty());
        assert_ok(&r[3], b"");
        assert_eq!(r[4].status, 404, "{}", r[4]);
        assert_eq!(r[4].reason, "Not Found");
        assert!(String::from_utf8_lossy(&r[4].body).contains("404 Not Found"));
        assert_ok(&r[5], SMALL);
    }
    // nginx saw two connections of six requests each, numbered 1 to 6.
    let log = nginx.access_log();
    assert_eq!(log.len(), 12, "access log: {log:?}");
    for batch in log.chunks(6) {
        let conn = &batch[0][0];
        for (k, line) in batch.iter().enumerate() {
            assert_eq!(&line[0], conn, "one connection per batch: {log:?}");
            assert_eq!(line[1], (k + 1).to_string(), "requests in order: {log:?}");
        }
        let methods: Vec<&str> = batch.iter().map(|l| l[2].as_str()).collect();
        assert_eq!(methods, ["GET", "GET", "HEAD", "GET", "GET", "GET"]);
    }
    assert_ne!(log[0][0], log[6][0]);
}

on_every_backend!(nginx_files, nginx_keep_alive);

#[test]
fn nginx_head_and_404() {
    let Some(nginx) = Nginx::start() else { return };
    let c = client(nginx.addr(), Backend::default());
    let r = c.head("/big.bin").expect("HEAD /big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("3145728"));
    assert!(r.body.is_empty());
    let r = c.get("/no/such/file").expect("GET a missing file");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[test]
fn nginx_body_over_the_limit() {
    let Some(nginx) = Nginx::start() else { return };
    let c = client(nginx.addr(), Backend::default()).max_body(1 << 20);
    let e = c
        .get("/big.bin")
        .expect_err("a 3 MiB body over a 1 MiB limit");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("3145728 bytes"), "{e}");
    assert!(e.to_string().contains("limit of 1048576"), "{e}");
    // Within the limit, fine.
    let r = c.get("/small.txt").expect("a small file");
    assert_ok(&r, SMALL);
}

/// Gunzips `data` with Python's gzip module.
fn gunzip(data: &[u8]) -> Vec<u8> {
    let (code, out, err) = support::run_raw(
        &PathBuf::from(support::python()),
        &[
            "-c".into(),
            "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"
                .into(),
        ],
        data,
    );
    assert_eq!(code, 0, "python3 gzip.decompress failed: {err}");
    out
}

#[test]
fn nginx_gzip_chunked() {
    if !support::require_peer("python3", support::python_has_module("gzip")) {
        return;
    }
    let Some(nginx) = Nginx::start() else { return };
    let text = text_file();
    let c = client(nginx.addr(), Backend::default());
    let gz = HttpRequest::get("/text.txt").header("Accept-Encoding", "gzip");
    let r = c
        .batch(vec![gz.clone(), HttpRequest::get("/small.txt"), gz])
        .expect("gzip'd text, twice, around a small file");
    for g in [&r[0], &r[2]] {
        assert_eq!(g.status, 200);
        assert_eq!(g.header("transfer-encoding"), Some("chunked"), "{g:?}");
        assert_eq!(g.header("content-encoding"), Some("gzip"));
        assert!(g.header("content-length").is_none());
        assert!(g.body.len() < text.len() / 2, "{} bytes", g.body.len());
        assert!(gunzip(&g.body) == text, "the gunzipped body differs");
    }
    assert_ok(&r[1], SMALL);
}

// ===== a Python server =====

/// Chunked responses, echoed request bodies, and a body delimited by the close.
const PY_SERVER: &str = r#"
import http.server, sys

def pattern(i, n):
    return bytes((i * 7 + k) % 256 for k in range(n))

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path.startswith("/chunked"):
            sizes = [int(s) for s in self.path.split("=", 1)[1].split(",")]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, n in enumerate(sizes):
                ext = (";i=%d" % i) if i % 2 else ""
                self.wfile.write(b"%x%s\r\n" % (n, ext.encode()) + pattern(i, n) + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/close"):
            n = int(self.path.split("=", 1)[1])
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
            self.wfile.write(pattern(3, n))
            self.close_connection = True
        else:
            self.send_error(404)
    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            mode = "chunked"
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = "length"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Mode", mode)
        self.send_header("X-Type", self.headers.get("Content-Type", ""))
        self.end_headers()
        self.wfile.write(body)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The body the Python server sends for chunk `i` of `n` bytes.
fn pattern(i: usize, n: usize) -> Vec<u8> {
    (0..n).map(|k| ((i * 7 + k) % 256) as u8).collect()
}

fn start_python() -> Option<(Proc, SocketAddr)> {
    if !support::require_peer(
        "python3 with http.server",
        support::python_has_module("http.server"),
    ) {
        return None;
    }
    let mut p = Proc::spawn(
        "python3 http.server",
        support::python_script(PY_SERVER, [] as [&str; 0]),
    );
    let addr = p.listening_addr();
    Some((p, addr))
}

#[test]
fn python_chunked_responses() {
    let Some((_server, addr)) = start_python() else {
        return;
    };
    let sizes_a = [1usize, 10, 255, 4096, 65536, 100_000, 3];
    let sizes_b = [1usize];
    let list = |s: &[usize]| s.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let c = client(addr, Backend::default());
    let mut got = Vec::new();
    let batch = vec![
        HttpRequest::get(&format!("/chunked?sizes={}", list(&sizes_a))),
        HttpRequest::get(&format!("/chunked?sizes={}", list(&sizes_b))),
        HttpRequest::head(&format!("/chunked?sizes={}", list(&sizes_a))),
    ];
    // The handler has no do_HEAD: Python answers 501 with a Content-Length, no body,
    // and `Connection: close`.
    let stats = c
        .batch_with(batch, |_, r| {
            got.push(r);
            Ok(())
        })
        .expect("chunked responses");
    let expect = |sizes: &[usize]| -> Vec<u8> {
        sizes
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| pattern(i, n))
            .collect()
    };
    assert_eq!(got[0].header("transfer-encoding"), Some("chunked"));
    assert_ok(&got[0], &expect(&sizes_a));
    assert_ok(&got[1], &expect(&sizes_b));
    assert_eq!(got[2].status, 501);
    assert!(got[2].body.is_empty());
    assert_eq!(got[2].header("connection"), Some("close"));
    assert_eq!(stats.connections, 1);
}

#[test]
fn python_request_bodies() {
    let Some((_server, addr)) = start_python() else {
        return;
    };
    let c = client(addr, Backend::default());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let requests = vec![
        HttpRequest::post("/echo", "a=1&b=2").header("Content-Type", "text/plain"),
        HttpRequest::post("/echo", big.clone()).chunked(true),
        HttpRequest::post("/echo", big.clone()),
        HttpRequest::post("/echo", ""),
        HttpRequest::post("/echo", "").chunked(true),
        HttpRequest::get("/chunked?sizes=5"),
    ];
    let r = c.batch(requests).expect("POSTs echoed");
    assert_ok(&r[0], b"a=1&b=2");
    assert_eq!(r[0].header("x-mode"), Some("length"));
    assert_eq!(r[0].header("x-type"), Some("text/plain"));
    assert_ok(&r[1], &big);
    assert_eq!(r[1].header("x-mode"), Some("chunked"));
    assert_ok(&r[2], &big);
    assert_eq!(r[2].header("x-mode"), Some("length"));
    assert_ok(&r[3], b"");
    assert_ok(&r[4], b"");
    assert_eq!(r[4].header("x-mode"), Some("chunked"));
    assert_ok(&r[5], &pattern(0, 5));
}

#[test]
fn python_close_delimited_body() {
    let Some((_server, addr)) = start_python() else {
        return;
    };
    // One request at a time: the server closes the connection to end the body, and a
    // request it had not read yet would make its close a reset.
    let c = client(addr, Backend::default()).pipeline(1);
    // Two of them: the first closes its connection, the second gets a new one.
    let mut got = Vec::new();
    let stats = c
        .batch_with(
            vec![
                HttpRequest::get("/close?n=100000"),
                HttpRequest::get("/close?n=1"),
            ],
            |_, r| {
                got.push(r);
                Ok(())
            },
        )
        .expect("bodies up to the close");
    assert_eq!(got[0].version, "HTTP/1.0");
    assert_ok(&got[0], &pattern(3, 100_000));
    assert_ok(&got[1], &pattern(3, 1));
    assert_eq!(stats.connections, 2);
    // The limit holds for them too.
    let e = c
        .clone()
        .max_body(1000)
        .get("/close?n=5000")
        .expect_err("over the limit");
    assert!(e.to_string().contains("limit of 1000"), "{e}");
}

// ===== the program =====

fn run_cli(args: &[String]) -> (i32, Vec<u8>, String) {
    let bin = support::example_binary("http-client");
    let (code, out, err) = support::run_raw(&bin, args, b"");
    assert!(!err.contains("panicked"), "http-client panicked: {err}");
    (code, out, err)
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cli_against_nginx() {
    let Some(nginx) = Nginx::start() else { return };
    // A file to standard output, byte-exact.
    let (code, out, err) = run_cli(&args(&[&nginx.url("/big.bin")]));
    assert_eq!(code, 0, "{err}");
    assert!(out == big_file(), "stdout: {} bytes", out.len());
    // Several URLs, one connection, their bodies one after the other.
    let (code, out, err) = run_cli(&args(&[
        &nginx.url("/small.txt"),
        &nginx.url("/empty.txt"),
        &nginx.url("/small.txt"),
        "--backend",
        "poll",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, [SMALL, SMALL].concat());
    // -i: status line and headers first.
    let (code, out, err) = run_cli(&args(&["-i", &nginx.url("/small.txt")]));
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nContent-Length: 16\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello, asyncore\n"), "{text}");
    // -I: headers only.
    let (code, out, err) = run_cli(&args(&["-I", &nginx.url("/big.bin")]));
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("Content-Length: 3145728\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    // --connect with bare paths.
    let connect = nginx.addr().to_string();
    let (code, out, err) = run_cli(&args(&["--connect", &connect, "/small.txt"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, SMALL);
    // A 404: printed and exit 0 without --fail; exit 22 and nothing printed with it.
    let (code, out, err) = run_cli(&args(&[&nginx.url("/missing")]));
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("404 Not Found"));
    let (code, out, err) = run_cli(&args(&[
        "--fail",
        &nginx.url("/small.txt"),
        &nginx.url("/missing"),
    ]));
    assert_eq!(code, 22, "{err}");
    assert_eq!(out, SMALL, "the body before the failure only");
    assert!(err.contains("404 Not Found"), "{err}");
    // --max-body.
    let (code, _, err) = run_cli(&args(&["--max-body", "1MiB", &nginx.url("/big.bin")]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("limit of 1048576"), "{err}");
}

#[test]
fn cli_errors() {
    // A refused connection.
    let port = free_port();
    let (code, out, err) = run_cli(&args(&[&format!("http://127.0.0.1:{port}/")]));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("refused"), "{err}");
    // A reply that is not HTTP.
    let addr = fake_server(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(), After::Close);
    let (code, _, err) = run_cli(&args(&[&format!("http://{addr}/")]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a valid HTTP response"), "{err}");
    // Bad arguments.
    let (code, _, err) = run_cli(&args(&["ftp://example.org/"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only http:// and https://"), "{err}");
    let (code, _, err) = run_cli(&args(&["--bogus", "http://127.0.0.1/"]));
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = run_cli(&args(&["--help"]));
    assert_eq!(code, 0);
    assert!(String::from_utf8_lossy(&out).contains("--backend"));
}

// ===== servers that misbehave =====

/// What a fake server does after sending its reply.
#[derive(Clone, Copy)]
enum After {
    Close,
    /// Keeps the connection open (up to the hang guard).
    Hold,
}

/// A server of one connection: reads the request head, sends `reply`, then closes or
/// holds the connection.
fn fake_server(reply: Vec<u8>, after: After) -> SocketAddr {
    fake_servers(vec![(reply, after)]).0
}

/// A server of one connection per reply, one after the other: each reads a request
/// head, sends its reply, then closes (after the client, so that nothing it sent is
/// left unread) or holds the connection.
/// Also returns what each connection received, once it is over.
fn fake_servers(replies: Vec<(Vec<u8>, After)>) -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake server");
    let addr = listener.local_addr().expect("its address");
    let received = Received::default();
    let record = received.clone();
    std::thread::spawn(move || {
        for (reply, after) in replies {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&reply);
            match after {
                After::Hold => std::thread::sleep(HANG_GUARD),
                After::Close => {
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        head.extend_from_slice(&buf[..n]);
                    }
                }
            }
            record.lock().unwrap_or_else(|e| e.into_inner()).push(head);
        }
    });
    (addr, received)
}

/// What each connection of a fake server received.
type Received = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// The client's error for a server that answers `reply`; it must come within the hang
/// guard.
fn error_for(backend: Backend, reply: &[u8], after: After, limit: Option<u64>) -> String {
    let addr = fake_server(reply.to_vec(), after);
    let mut c = client(addr, backend).timeout(Duration::from_secs(3));
    if let Some(l) = limit {
        c = c.max_body(l);
    }
    let start = Instant::now();
    let r = c.get("/");
    assert!(start.elapsed() < HANG_GUARD);
    match r {
        Ok(r) => panic!(
            "{:?}: a response ({r}, {} bytes of body) instead of an error",
            String::from_utf8_lossy(&reply[..reply.len().min(80)]),
            r.body.len()
        ),
        Err(e) => e.to_string(),
    }
}

fn bad_replies(backend: Backend) {
    let ok = "HTTP/1.1 200 OK\r\n";
    let chunked = format!("{ok}Transfer-Encoding: chunked\r\n\r\n");
    let cases: Vec<(Vec<u8>, After, Option<u64>, &str)> = vec![
        // Not HTTP at all.
        (
            b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
            After::Close,
            None,
            "not a valid HTTP response",
        ),
        (
            b"HTTP/2.0 200 OK\r\n\r\n".to_vec(),
            After::Close,
            None,
            "not an HTTP/1.x response",
        ),
        (
            b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
            After::Close,
            None,
            "not an HTTP/1.x response",
        ),
        // A line that starts with hex digits could be a chunk's size line, but between
        // responses the client accepts only a status line.
        (
            b"FTP/1.1 200 OK\r\n\r\n".to_vec(),
            After::Close,
            None,
            "not an HTTP/1.x response",
        ),
        // ... and its header block is not over yet: the client waits for it.
        (
            b"FTP/1.1 200 OK\r\n0123456789abcdef".to_vec(),
            After::Hold,
            None,
            "after 3s",
        ),
        (
            b"HTTP/1.1 abc OK\r\n\r\n".to_vec(),
            After::Close,
            None,
            "not a valid HTTP response",
        ),
        (
            (0..20_000u32)
                .map(|i| (i % 200 + 1) as u8)
                .filter(|&b| b != b'\n')
                .collect(),
            After::Hold,
            None,
            "line",
        ),
        (
            b"\x00\x01\x02\x03\r\n".to_vec(),
            After::Close,
            None,
            "not a valid HTTP response",
        ),
        // A body cut short.
        (
            format!("{ok}Content-Length: 100\r\n\r\n0123456789").into_bytes(),
            After::Close,
            None,
            "in the middle of a response body of 100 bytes",
        ),
        (
            format!("{chunked}a\r\n01234").into_bytes(),
            After::Close,
            None,
            "in the middle of a chunked response body (0 bytes",
        ),
        (
            format!("{chunked}2\r\nab\r\na\r\n01234").into_bytes(),
            After::Close,
            None,
            "(2 bytes in whole chunks)",
        ),
        // Headers over the description's bounds.
        (
            format!("{ok}X-Big: {}\r\n\r\n", "a".repeat(9000)).into_bytes(),
            After::Hold,
            None,
            "line",
        ),
        (
            format!("{ok}{}\r\n", "X-Many: 1\r\n".repeat(150)).into_bytes(),
            After::Hold,
            None,
            "over the limit",
        ),
        // Invalid chunk sizes.
        (
            format!("{chunked}zz\r\nhello\r\n0\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "bad chunk",
        ),
        (
            format!("{chunked}5x\r\nhello\r\n0\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "invalid chunk size",
        ),
        (
            format!("{chunked}-5\r\nhello\r\n0\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "bad chunk",
        ),
        (
            format!("{chunked}fffffffffff\r\n").into_bytes(),
            After::Hold,
            None,
            "bad chunk",
        ),
        (
            format!("{chunked}5\r\nhelloXX0\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "bad chunk",
        ),
        // Chunks that add up to more than the limit.
        (
            format!("{chunked}400\r\n{}\r\n", "x".repeat(0x400)).into_bytes(),
            After::Hold,
            Some(1000),
            "limit of 1000",
        ),
        // Bad lengths.
        (
            format!("{ok}Content-Length: abc\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "not a length",
        ),
        (
            format!("{ok}Content-Length: -1\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "not a length",
        ),
        (
            format!("{ok}Content-Length: 1\r\nContent-Length: 2\r\n\r\nx").into_bytes(),
            After::Hold,
            None,
            "disagree",
        ),
        (
            format!("{ok}Content-Length: 99999999999999999999999\r\n\r\n").into_bytes(),
            After::Hold,
            None,
            "not a length",
        ),
        (
            format!("{ok}Content-Length: 5000\r\n\r\n").into_bytes(),
            After::Hold,
            Some(1000),
            "limit of 1000",
        ),
        // A chunk where a status line belongs.
        (
            b"5\r\nhello\r\n".to_vec(),
            After::Hold,
            None,
            "not a valid HTTP response",
        ),
        // Silence, then a close; silence that lasts.
        (Vec::new(), After::Close, None, "without answering"),
        (Vec::new(), After::Hold, None, "after 3s"),
        (ok.as_bytes().to_vec(), After::Hold, None, "after 3s"),
    ];
    for (reply, after, limit, expect) in cases {
        let e = error_for(backend, &reply, after, limit);
        assert!(
            e.contains(expect),
            "{:?}: the error `{e}` does not say `{expect}`",
            String::from_utf8_lossy(&reply[..reply.len().min(80)])
        );
    }
}

fn refused(backend: Backend) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let e = client(addr, backend)
        .get("/")
        .expect_err("nothing listens there");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
}

on_every_backend!(bad_replies, refused);

#[test]
fn bad_requests_are_refused_before_sending() {
    let c = HttpClient::new(([127, 0, 0, 1], 9).into());
    for r in [
        HttpRequest::get("/a b"),
        HttpRequest::get(""),
        HttpRequest::new("GE T", "/"),
        HttpRequest::get("/").header("X", "a\r\nInjected: 1"),
        HttpRequest::get("/").header("Bad Name", "v"),
        HttpRequest::get("/").header("Content-Length", "5"),
        HttpRequest::post("/", vec![0u8; 17 * 1024 * 1024]),
    ] {
        let e = c.request(r.clone()).expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{r:?}: {e}");
    }
}

/// Interim responses are skipped; `204`, `304` and `HEAD` responses have no body even
/// with a `Content-Length`; the connection goes on after each.
#[test]
fn responses_without_a_body() {
    let replies = [
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length:3   \r\nX-Empty:\r\n\r\nend",
    ]
    .concat();
    let addr = fake_server(replies.into_bytes(), After::Close);
    let r = client(addr, Backend::default())
        .batch(vec![
            HttpRequest::get("/1"),
            HttpRequest::get("/2"),
            HttpRequest::get("/3"),
            HttpRequest::head("/4"),
            HttpRequest::head("/5"),
            HttpRequest::get("/6"),
        ])
        .expect("six responses");
    let summary: Vec<(u16, &[u8])> = r.iter().map(|r| (r.status, &r.body[..])).collect();
    assert_eq!(
        summary,
        [
            (200, &b"ok"[..]),
            (204, b""),
            (304, b""),
            (200, b""),
            (200, b""),
            (200, b"end"),
        ]
    );
    assert_eq!(r[5].header("Content-Length"), Some("3"));
    assert_eq!(r[5].header("x-empty"), Some(""));
}

/// A server that closes the connection after the first response (`Connection: close`)
/// gets the requests it did not answer again on a new connection.
#[test]
fn requests_go_on_after_connection_close() {
    let first = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nA".to_vec();
    let second = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB".to_vec();
    let (addr, received) = fake_servers(vec![
        (first.clone(), After::Close),
        (second.clone(), After::Close),
    ]);
    let mut got = Vec::new();
    let stats = client(addr, Backend::default())
        .batch_with(
            vec![HttpRequest::get("/a"), HttpRequest::get("/b")],
            |i, r| {
                got.push((i, r.body));
                Ok(())
            },
        )
        .expect("two responses over two connections");
    assert_eq!(got, [(0, b"A".to_vec()), (1, b"B".to_vec())]);
    assert_eq!(stats.connections, 2);
    // One at a time: after `Connection: close`, nothing more goes on that connection.
    let (addr, received_one_by_one) =
        fake_servers(vec![(first, After::Close), (second, After::Close)]);
    let r = client(addr, Backend::default())
        .pipeline(1)
        .batch(vec![HttpRequest::get("/a"), HttpRequest::get("/b")])
        .expect("two responses, one at a time");
    assert_eq!(r[1].body, b"B");
    let requests = |conn: &[u8]| {
        String::from_utf8_lossy(conn)
            .lines()
            .filter(|l| l.starts_with("GET "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // Wait for the server's threads to record both connections.
    let deadline = Instant::now() + HANG_GUARD;
    while received_one_by_one.lock().map(|r| r.len()).unwrap_or(0) < 2 {
        assert!(
            Instant::now() < deadline,
            "the fake server saw fewer than 2 connections"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = received_one_by_one.lock().expect("the record").clone();
    assert_eq!(requests(&seen[0]), ["GET /a HTTP/1.1"]);
    assert_eq!(requests(&seen[1]), ["GET /b HTTP/1.1"]);
    // Pipelined, both went on the first connection, and the second again on the next.
    let seen = received.lock().expect("the record").clone();
    assert_eq!(requests(&seen[0]), ["GET /a HTTP/1.1", "GET /b HTTP/1.1"]);
    // A server that closes before answering anything is an error, not a loop.
    let (addr, _) = fake_servers(vec![(Vec::new(), After::Close), (Vec::new(), After::Close)]);
    let e = client(addr, Backend::default())
        .batch(vec![HttpRequest::get("/a"), HttpRequest::get("/b")])
        .expect_err("no answer");
    assert!(e.to_string().contains("without answering `GET /a`"), "{e}");
}
