//! The `http-server` example (`examples/http_server.rs`) against real clients:
//!
//! * `curl` gets files byte-exact with their content types (a 5 MiB file too, more than
//!   the channel's output limit, so it must be streamed), `HEAD` gives the headers and no
//!   body, `POST /echo` returns the body (with `Content-Length` and chunked), several
//!   URLs in one invocation share one connection, 404, 405 with its `Allow` header, path
//!   traversal attempts (`--path-as-is`, `%2e%2e`, a symbolic link out of the root) get
//!   403 and never the file, and `Connection: close` closes;
//! * `wrk -t1 -c10 -d3s` reports requests and neither socket errors nor non-2xx
//!   responses;
//! * requests pipelined in one write over a raw connection get complete responses, in
//!   order, on every backend;
//! * a client that asks for 200 MiB of files and reads nothing leaves the server's memory
//!   nearly where it was (files are streamed as the client reads);
//! * bad input (an over-long header line, too many headers, garbage, an oversize
//!   `Content-Length`, an oversize chunked body, a malformed chunk size, a client gone
//!   in the middle of a body) gets its status and a close, while a fresh connection is
//!   still served and the server exits cleanly, on every backend.
//!
//! The tests print `skipping: ...` and pass when curl or wrk is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asyncore_runtime::Backend;

use support::{noise, run_named, Finished, Proc, TempDir, HANG_GUARD};

// ===== peers, processes and files =====

/// Whether `program args` runs and prints something containing `marker`.
fn runs(program: &str, args: &[&str], marker: &str) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).contains(marker)
                || String::from_utf8_lossy(&o.stderr).contains(marker)
        })
        .unwrap_or(false)
}

fn have_curl() -> bool {
    support::require_peer("curl", runs("curl", &["--version"], "curl"))
}

fn have_wrk() -> bool {
    // `wrk --version` prints its banner and exits 1.
    support::require_peer("wrk", runs("wrk", &["--version"], "wrk "))
}

/// The files of the document root, with their content types.
const FILES: &[(&str, &str)] = &[
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("data.json", "application/json"),
    ("notes.txt", "text/plain; charset=utf-8"),
    ("logo.png", "image/png"),
    ("photo.JPG", "image/jpeg"),
    ("anim.gif", "image/gif"),
    ("icon.svg", "image/svg+xml"),
    ("favicon.ico", "image/x-icon"),
    ("module.wasm", "application/wasm"),
    ("paper.pdf", "application/pdf"),
    ("blob", "application/octet-stream"),
    ("sub/index.html", "text/html; charset=utf-8"),
    ("with space.txt", "text/plain; charset=utf-8"),
    ("big.bin", "application/octet-stream"),
];

/// The size of `big.bin`: more than the channel's output limit (4 MiB), so it can only
/// be sent if the server streams it.
const BIG: usize = 5 << 20;

/// A test tree: `secret.txt`, and `root/` with [`FILES`] (each different, `big.bin`
/// of [`BIG`] bytes), an empty directory, a symbolic link out of the root and a file
/// over the `--max-file` the tests give (6 MiB).
struct Site {
    dir: TempDir,
}

impl Site {
    fn new(what: &str) -> Site {
        let dir = TempDir::new(what);
        dir.file("secret.txt", b"the secret outside the root\n");
        for (i, (name, _)) in FILES.iter().enumerate() {
            dir.file(&format!("root/{name}"), &Site::content(name, i as u64));
        }
        dir.file("root/huge.bin", &vec![b'h'; 7 << 20]);
        std::fs::create_dir_all(dir.path().join("root/empty")).expect("an empty directory");
        std::os::unix::fs::symlink(
            dir.path().join("secret.txt"),
            dir.path().join("root/link.txt"),
        )
        .expect("a symbolic link");
        Site { dir }
    }

    fn content(name: &str, seed: u64) -> Vec<u8> {
        match name {
            "big.bin" => noise(BIG, 99),
            n if n.ends_with(".html") => format!("<!doctype html><p>{n}</p>\n").into_bytes(),
            n if n.ends_with(".txt") || n.ends_with(".css") || n.ends_with(".js") => {
                format!("text of {n}\n").into_bytes()
            }
            _ => noise(1000 + 997 * seed as usize, seed),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.root().join(name)).expect("read a test file")
    }
}

/// Starts http-server on 127.0.0.1:0 with `backend`, serving `root` if given.
fn start_server(backend: Backend, root: Option<&Path>, extra: &[&str]) -> (Proc, SocketAddr) {
    let mut flags: Vec<std::ffi::OsString> = Vec::new();
    if let Some(root) = root {
        flags.push("--root".into());
        flags.push(root.into());
    }
    flags.extend(extra.iter().map(Into::into));
    support::start_server("http-server", backend.name(), &flags)
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// Runs curl with `args` (plus `--silent --show-error`) and returns what it left.
fn curl(args: &[&str]) -> Finished {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "20"])
        .args(args);
    run_named("curl", cmd)
}

/// `curl -w '%{http_code} %{content_type}' -o FILE URL`: status, content type and the
/// body as written to a file.
fn curl_get(url: &str, extra: &[&str], out: &Path) -> (u16, String, Vec<u8>) {
    let _ = std::fs::remove_file(out);
    let out_str = out.to_string_lossy().into_owned();
    let mut args = vec!["-o", &out_str, "-w", "%{http_code} %{content_type}"];
    args.extend_from_slice(extra);
    args.push(url);
    let done = curl(&args);
    assert!(done.success(), "curl {url} failed\n{}", done.transcript());
    let line = done.stdout.join("\n");
    let (code, ctype) = line.split_once(' ').unwrap_or((&line, ""));
    let code = code
        .parse()
        .unwrap_or_else(|_| panic!("curl printed no status: {line:?}"));
    let body = std::fs::read(out).unwrap_or_default();
    (code, ctype.to_string(), body)
}

/// Shows bytes for a failure message: text, with escapes for anything else.
fn show(b: &[u8]) -> String {
    let b = if b.len() > 600 { &b[..600] } else { b };
    b.escape_ascii().to_string()
}

// ===== a raw HTTP connection =====

/// A response as read off the wire.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP connection driven byte by byte.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to http-server");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to http-server");
    }

    /// Reads more; false at the end of input (or a reset: the server closed).
    fn fill(&mut self, deadline: Instant) -> bool {
        support::read_more(&mut self.stream, &mut self.buf, deadline, "http-server")
    }

    /// The next whole final response (interim `1xx` ones are skipped), or `None` if the
    /// server closed before its first byte. `head_only`: the response to a `HEAD`, whose
    /// `Content-Length` announces a body that is not sent.
    fn response(&mut self, head_only: bool) -> Option<Response> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                if !self.fill(deadline) {
                    assert!(
                        self.buf.is_empty(),
                        "http-server closed in the middle of a response head: {}",
                        show(&self.buf)
                    );
                    return None;
                }
                continue;
            };
            let head = String::from_utf8(self.buf[..end].to_vec()).unwrap_or_else(|_| {
                panic!("a response head that is not text: {}", show(&self.buf))
            });
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or_default();
            let mut parts = status_line.splitn(3, ' ');
            assert_eq!(
                parts.next(),
                Some("HTTP/1.1"),
                "status line {status_line:?}"
            );
            let status: u16 = parts
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no status in {status_line:?}"));
            let headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l
                        .split_once(':')
                        .unwrap_or_else(|| panic!("a malformed header line {l:?}"));
                    (n.to_string(), v.trim().to_string())
                })
                .collect();
            self.buf.drain(..end + 4);
            if (100..200).contains(&status) {
                continue;
            }
            let mut response = Response {
                status,
                headers,
                body: Vec::new(),
            };
            let length: usize = response
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a response without Content-Length: {response:?}"));
            if head_only {
                return Some(response);
            }
            while self.buf.len() < length {
                assert!(
                    self.fill(deadline),
                    "http-server closed after {} of {length} body bytes",
                    self.buf.len()
                );
            }
            response.body = self.buf.drain(..length).collect();
            return Some(response);
        }
    }

    /// The next response must have `status`.
    fn expect(&mut self, status: u16, after: &str) -> Response {
        match self.response(false) {
            Some(r) if r.status == status => r,
            Some(r) => panic!(
                "after {after}: expected {status}, got {} {:?} {}",
                r.status,
                r.headers,
                show(&r.body)
            ),
            None => panic!("after {after}: expected {status}, but http-server closed"),
        }
    }

    /// The server closes the connection with nothing more sent.
    fn expect_close(&mut self, after: &str) {
        let deadline = Instant::now() + HANG_GUARD;
        while self.fill(deadline) {}
        assert!(
            self.buf.is_empty(),
            "after {after}: more bytes before the close: {}",
            show(&self.buf)
        );
    }

    /// The connection stays open: nothing arrives for a while, and no close.
    fn expect_open(&mut self, after: &str) {
        std::thread::sleep(Duration::from_millis(100));
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) => panic!("after {after}: http-server closed the connection"),
            Ok(n) => panic!("after {after}: unexpected bytes {}", show(&chunk[..n])),
            Err(e) => panic!("after {after}: {e}"),
        }
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

fn head(path: &str) -> Vec<u8> {
    format!("HEAD {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A chunked POST of `chunks`, with an extension on the first chunk line.
fn post_chunked(path: &str, chunks: &[&[u8]]) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .into_bytes();
    for (i, c) in chunks.iter().enumerate() {
        let ext = if i == 0 { ";name=value" } else { "" };
        r.extend_from_slice(format!("{:x}{ext}\r\n", c.len()).as_bytes());
        r.extend_from_slice(c);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// A whole request on a new connection: the server must still serve.
fn witness(addr: SocketAddr) {
    let mut c = Conn::connect(addr);
    c.send(&get("/"));
    let r = c.expect(200, "a witness request");
    assert_eq!(r.body, b"hello from asyncore\n");
}

// ===== curl =====

#[test]
fn curl_gets_files_byte_exact_with_their_content_types_and_heads() {
    if !have_curl() {
        return;
    }
    let site = Site::new("get");
    let out = TempDir::new("http-get-out");
    let (server, addr) = start_server(
        Backend::default(),
        Some(&site.root()),
        &["--max-file", "6MiB"],
    );
    let base = format!("http://{addr}");
    let saved = out.path().join("body");
    for (name, ctype) in FILES {
        let url = format!("{base}/{}", name.replace(' ', "%20"));
        let (code, got_type, body) = curl_get(&url, &[], &saved);
        assert_eq!((code, got_type.as_str()), (200, *ctype), "GET {url}");
        assert!(body == site.read(name), "GET {url}: not byte-exact");
    }
    // A directory answers with its index.html, with or without the slash.
    for path in ["/", "/sub/", "/sub", "/sub/./"] {
        let (code, _, body) = curl_get(&format!("{base}{path}"), &[], &saved);
        let index = if path == "/" {
            "index.html"
        } else {
            "sub/index.html"
        };
        assert_eq!(code, 200, "GET {path}");
        assert_eq!(body, site.read(index), "GET {path}");
    }
    // A directory without index.html, a missing file, a file over --max-file.
    for (path, code) in [("/empty/", 404), ("/nothing.html", 404), ("/huge.bin", 403)] {
        let (got, ctype, body) = curl_get(&format!("{base}{path}"), &[], &saved);
        assert_eq!(
            (got, ctype.as_str()),
            (code, "text/plain; charset=utf-8"),
            "GET {path}"
        );
        assert!(
            String::from_utf8_lossy(&body).starts_with(&code.to_string()),
            "GET {path}: {}",
            show(&body)
        );
    }
    // HEAD: the headers of the file, no body.
    for name in ["notes.txt", "big.bin", "logo.png"] {
        let done = curl(&["--head", "--include", &format!("{base}/{name}")]);
        assert!(done.success(), "{}", done.transcript());
        let lines = &done.stdout;
        assert_eq!(lines[0], "HTTP/1.1 200 OK", "{}", done.transcript());
        let want_len = format!("Content-Length: {}", site.read(name).len());
        for want in [want_len.as_str(), "Server: asyncore-http"] {
            assert!(
                lines.iter().any(|l| l == want),
                "HEAD {name}: no `{want}`\n{}",
                done.transcript()
            );
        }
        assert!(lines
            .iter()
            .any(|l| l.starts_with("Date: ") && l.ends_with(" GMT")));
        assert!(lines.iter().any(|l| l.starts_with("Content-Type: ")));
    }
    // HEAD sends no body: a request after it on the same connection parses.
    let mut c = Conn::connect(addr);
    c.send(&head("/big.bin"));
    c.send(&get("/notes.txt"));
    let r = c.response(true).expect("the HEAD response");
    assert_eq!(r.header("Content-Length"), Some(BIG.to_string().as_str()));
    let r = c.expect(200, "GET after HEAD");
    assert_eq!(r.body, site.read("notes.txt"));
    stop(server);
}

#[test]
fn curl_posts_to_echo_with_a_length_and_chunked() {
    if !have_curl() {
        return;
    }
    let files = TempDir::new("http-post");
    let small = files.file("small.bin", &noise(3000, 5));
    let large = files.file("large.bin", &noise(700_000, 6));
    let over = files.file("over.bin", &noise(1_100_000, 7));
    let saved = files.path().join("out");
    let (server, addr) = start_server(Backend::default(), None, &[]);
    let url = format!("http://{addr}/echo");
    for path in [&small, &large] {
        let data = format!("@{}", path.display());
        let want = std::fs::read(path).expect("read");
        let (code, ctype, body) = curl_get(&url, &["--data-binary", &data], &saved);
        assert_eq!((code, ctype.as_str()), (200, "application/octet-stream"));
        assert!(
            body == want,
            "POST {}: not echoed byte-exact",
            path.display()
        );
        let (code, _, body) = curl_get(
            &url,
            &["--data-binary", &data, "-H", "Transfer-Encoding: chunked"],
            &saved,
        );
        assert_eq!(code, 200);
        assert!(body == want, "chunked POST {}: not echoed", path.display());
    }
    // `Expect: 100-continue`: the interim response comes before the body is sent.
    let data = format!("@{}", large.display());
    for chunked in [false, true] {
        let mut args = vec!["--verbose", "-o", "/dev/null", "--data-binary", &data];
        args.extend_from_slice(&["-H", "Expect: 100-continue"]);
        if chunked {
            args.extend_from_slice(&["-H", "Transfer-Encoding: chunked"]);
        }
        args.push(&url);
        let done = curl(&args);
        assert!(done.success(), "{}", done.transcript());
        let interim = done.stderr.find("< HTTP/1.1 100 Continue");
        let last = done.stderr.find("< HTTP/1.1 200 OK");
        assert!(
            interim.is_some() && interim < last,
            "no 100 Continue before the response\n{}",
            done.transcript()
        );
    }
    // An empty body, and bodies over --max-body (1 MiB): 413, with a length or chunked.
    let (code, _, body) = curl_get(&url, &["--data-binary", ""], &saved);
    assert_eq!((code, body.len()), (200, 0));
    let data = format!("@{}", over.display());
    let (code, _, _) = curl_get(&url, &["--data-binary", &data], &saved);
    assert_eq!(code, 413);
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--max-time", "20", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "--data-binary", &data])
        .args(["-H", "Transfer-Encoding: chunked", &url]);
    // curl may see the close before it has sent the whole body: only the status counts.
    let done = run_named("curl", cmd);
    assert_eq!(done.stdout.join(""), "413", "{}", done.transcript());
    witness(addr);
    stop(server);
}

#[test]
fn curl_reuses_one_connection_for_several_urls() {
    if !have_curl() {
        return;
    }
    let site = Site::new("reuse");
    let out = TempDir::new("http-reuse-out");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    let names = ["index.html", "big.bin", "notes.txt", "missing", "logo.png"];
    let mut args: Vec<String> = vec!["--verbose".into()];
    for (i, name) in names.iter().enumerate() {
        args.push("-o".into());
        args.push(out.path().join(format!("{i}")).display().to_string());
        args.push(format!("http://{addr}/{name}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = curl(&args);
    assert!(done.success(), "{}", done.transcript());
    let reused = done.stderr.matches("Re-using existing connection").count();
    let connected = done.stderr.matches("Connected to").count();
    assert_eq!(
        (connected, reused),
        (1, names.len() - 1),
        "one connection for every URL\n{}",
        done.transcript()
    );
    for (i, name) in names.iter().enumerate() {
        let got = std::fs::read(out.path().join(format!("{i}"))).expect("curl's output");
        if *name == "missing" {
            assert!(got.starts_with(b"404 Not Found"), "{}", show(&got));
        } else {
            assert!(got == site.read(name), "{name}: not byte-exact");
        }
    }
    let out = stop(server);
    assert!(
        out.stderr.contains("on 1 connections"),
        "{}",
        out.transcript()
    );
}

#[test]
fn curl_gets_404_and_405_with_allow() {
    if !have_curl() {
        return;
    }
    let site = Site::new("status");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    let base = format!("http://{addr}");
    let cases: &[(&[&str], &str, &str, Option<&str>)] = &[
        (&[], "/missing.html", "404 Not Found", None),
        (
            &["-X", "DELETE"],
            "/index.html",
            "405 Method Not Allowed",
            Some("GET, HEAD, POST"),
        ),
        (
            &["-X", "PUT", "--data", "x"],
            "/index.html",
            "405 Method Not Allowed",
            Some("GET, HEAD, POST"),
        ),
        (
            &["--data", "x"],
            "/index.html",
            "405 Method Not Allowed",
            Some("GET, HEAD"),
        ),
        (&[], "/echo", "405 Method Not Allowed", Some("POST")),
    ];
    for (extra, path, status, allow) in cases {
        let mut args = vec!["--include"];
        args.extend_from_slice(extra);
        let url = format!("{base}{path}");
        args.push(&url);
        let done = curl(&args);
        assert!(done.success(), "{}", done.transcript());
        assert_eq!(
            done.stdout[0],
            format!("HTTP/1.1 {status}"),
            "{}",
            done.transcript()
        );
        let allow_line = done.stdout.iter().find(|l| l.starts_with("Allow: "));
        assert_eq!(
            allow_line.map(|l| &l["Allow: ".len()..]),
            *allow,
            "{}",
            done.transcript()
        );
    }
    stop(server);
}

#[test]
fn path_traversal_never_leaves_the_root() {
    if !have_curl() {
        return;
    }
    let site = Site::new("traversal");
    let out = TempDir::new("http-traversal-out");
    let saved = out.path().join("body");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    let base = format!("http://{addr}");
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/link.txt",
        "/secret.txt%00.html",
        "/%2e%2e/root/index.html",
    ] {
        let (code, _, body) = curl_get(&format!("{base}{path}"), &["--path-as-is"], &saved);
        assert_eq!(code, 403, "GET {path}: {}", show(&body));
        assert!(
            !String::from_utf8_lossy(&body).contains("secret outside"),
            "GET {path} gave the file outside the root"
        );
    }
    // `..` inside the root is refused too, as is a malformed escape (400).
    let (code, _, _) = curl_get(
        &format!("{base}/sub/../index.html"),
        &["--path-as-is"],
        &saved,
    );
    assert_eq!(code, 403);
    let (code, _, _) = curl_get(&format!("{base}/%zz"), &["--path-as-is"], &saved);
    assert_eq!(code, 400);
    witness_root(addr, &site);
    stop(server);
}

/// The server keeps small files it has served (checking each time that the file is
/// still the one it read): a file rewritten, replaced by a link out of the root, or
/// removed between two requests is never served from what was kept.
#[test]
fn a_kept_small_file_is_never_served_stale() {
    let site = Site::new("cache");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    let path = site.root().join("changing.txt");
    let mut c = Conn::connect(addr);
    for round in 0..3 {
        let text = format!("version {round} of the file\n");
        std::fs::write(&path, &text).expect("write the file");
        for _ in 0..2 {
            c.send(&get("/changing.txt"));
            assert_eq!(
                c.expect(200, "the file").body,
                text.as_bytes(),
                "round {round}"
            );
        }
        // Same length, new contents, within the same second.
        let same_length = text.replace("version", "VERSION");
        std::fs::write(&path, &same_length).expect("rewrite the file");
        c.send(&get("/changing.txt"));
        assert_eq!(
            c.expect(200, "the rewritten file").body,
            same_length.as_bytes()
        );
    }
    // Replaced by a symbolic link to a file outside the root: refused, as a link always is.
    std::fs::remove_file(&path).expect("remove the file");
    std::os::unix::fs::symlink(site.dir.path().join("secret.txt"), &path).expect("a link");
    c.send(&get("/changing.txt"));
    let refused = c.expect(403, "the file turned into a link out of the root");
    assert!(!String::from_utf8_lossy(&refused.body).contains("secret outside"));
    // Removed: not found.
    std::fs::remove_file(&path).expect("remove the link");
    c.send(&get("/changing.txt"));
    c.expect(404, "the removed file");
    witness_root(addr, &site);
    stop(server);
}

/// A request for `/index.html` on a new connection: the server must still serve.
fn witness_root(addr: SocketAddr, site: &Site) {
    let mut c = Conn::connect(addr);
    c.send(&get("/index.html"));
    assert_eq!(
        c.expect(200, "a witness request").body,
        site.read("index.html")
    );
}

#[test]
fn connection_close_is_honoured() {
    if !have_curl() {
        return;
    }
    let site = Site::new("close");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    // curl: the server says close, and curl opens a second connection.
    let url = format!("http://{addr}/notes.txt");
    let done = curl(&[
        "--verbose",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-H",
        "Connection: close",
        &url,
        &url,
    ]);
    assert!(done.success(), "{}", done.transcript());
    assert_eq!(
        done.stderr.matches("< Connection: close").count(),
        2,
        "{}",
        done.transcript()
    );
    assert_eq!(
        done.stderr.matches("Connected to").count(),
        2,
        "{}",
        done.transcript()
    );
    assert!(!done.stderr.contains("Re-using"), "{}", done.transcript());
    // Raw: the response, then the close; a request after it is not answered (big.bin
    // is streamed: the close waits for its end).
    for path in ["/notes.txt", "/big.bin"] {
        let mut c = Conn::connect(addr);
        let mut two =
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").into_bytes();
        two.extend_from_slice(&get("/index.html"));
        c.send(&two);
        let r = c.expect(200, "a request with Connection: close");
        assert_eq!(r.header("Connection"), Some("close"));
        assert_eq!(r.body, site.read(&path[1..]));
        c.expect_close("the response to Connection: close");
    }
    // HTTP/1.0 closes unless it asks for keep-alive.
    let mut c = Conn::connect(addr);
    c.send(b"GET /notes.txt HTTP/1.0\r\n\r\n");
    let r = c.expect(200, "an HTTP/1.0 request");
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_close("an HTTP/1.0 response");
    let mut c = Conn::connect(addr);
    c.send(b"GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.expect(200, "an HTTP/1.0 keep-alive request");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    c.expect_open("an HTTP/1.0 keep-alive response");
    c.send(b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    c.expect(200, "a second HTTP/1.0 keep-alive request");
    // A client that shuts down its side after a request still gets the whole response.
    let mut c = Conn::connect(addr);
    c.send(&get("/big.bin"));
    c.stream
        .shutdown(Shutdown::Write)
        .expect("shut down writing");
    let r = c.expect(200, "a request, then a half-close");
    assert!(r.body == site.read("big.bin"), "big.bin after a half-close");
    c.expect_close("a half-closed connection");
    stop(server);
}

// ===== wrk =====

/// The first number in `text` after `label`.
fn number_after(text: &str, label: &str) -> Option<f64> {
    let rest = &text[text.find(label)? + label.len()..];
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn wrk_gets_only_2xx_without_socket_errors() {
    if !have_wrk() {
        return;
    }
    let (server, addr) = start_server(Backend::default(), None, &[]);
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c10", "-d3s", "--timeout", "5s"])
        .arg(format!("http://{addr}/"));
    let done = run_named("wrk", cmd);
    assert!(done.success(), "{}", done.transcript());
    let text = done.stdout.join("\n");
    // "N requests in 3.00s, M read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output\n{}", done.transcript()));
    assert!(requests > 0, "{}", done.transcript());
    assert!(
        !text.contains("Socket errors"),
        "wrk saw socket errors\n{}",
        done.transcript()
    );
    assert!(
        !text.contains("Non-2xx or 3xx responses"),
        "wrk saw non-2xx responses\n{}",
        done.transcript()
    );
    let rate = number_after(&text, "Requests/sec:").unwrap_or(0.0);
    eprintln!("wrk -t1 -c10 -d3s: {requests} requests, {rate} requests/s");
    let out = stop(server);
    // wrk counts only the responses it got in its time; the server may have answered a
    // few more.
    let served = number_after(&out.stderr, "http-server:").unwrap_or(0.0) as u64;
    assert!(served >= requests, "{}", out.transcript());
}

// ===== pipelining =====

/// One request of a pipelining script: the request, whether it is a `HEAD`, the status
/// and (if given) the body expected.
type Step = (Vec<u8>, bool, u16, Option<Vec<u8>>);

fn pipelined_requests_get_complete_responses_in_order(backend: Backend) {
    let site = Site::new(&format!("pipeline-{}", backend.name()));
    let (server, addr) = start_server(backend, Some(&site.root()), &[]);
    let echo_body = noise(200_000, 11);
    let chunks: [&[u8]; 3] = [b"first ", &noise(70_000, 12), b" last"];
    let chunked: Vec<u8> = chunks.concat();
    let script: Vec<Step> = vec![
        (get("/notes.txt"), false, 200, Some(site.read("notes.txt"))),
        (head("/logo.png"), true, 200, None),
        (get("/big.bin"), false, 200, Some(site.read("big.bin"))),
        (get("/missing"), false, 404, None),
        (
            post("/echo", &echo_body),
            false,
            200,
            Some(echo_body.clone()),
        ),
        (
            get("/index.html"),
            false,
            200,
            Some(site.read("index.html")),
        ),
        (post_chunked("/echo", &chunks), false, 200, Some(chunked)),
        (get("/big.bin"), false, 200, Some(site.read("big.bin"))),
        (head("/big.bin"), true, 200, None),
        (
            b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            false,
            405,
            None,
        ),
        (get("/sub/"), false, 200, Some(site.read("sub/index.html"))),
    ];
    let mut c = Conn::connect(addr);
    let all: Vec<u8> = script.iter().flat_map(|(r, ..)| r.clone()).collect();
    // One write, from another thread: the responses come back while it is sent.
    let mut writer = c.stream.try_clone().expect("clone the stream");
    let sender = std::thread::spawn(move || writer.write_all(&all));
    for (i, (_, head_only, status, body)) in script.iter().enumerate() {
        let r = c
            .response(*head_only)
            .unwrap_or_else(|| panic!("response {i}: http-server closed"));
        assert_eq!(r.status, *status, "response {i}: {:?}", r.headers);
        if let Some(body) = body {
            assert!(
                &r.body == body,
                "response {i}: wrong body ({} bytes)",
                r.body.len()
            );
        }
    }
    sender
        .join()
        .expect("the sending thread")
        .expect("send the pipelined requests");
    c.expect_open("the pipelined responses");
    // Many small requests in one write, then the connection is still usable.
    let many: Vec<u8> = (0..200).flat_map(|_| get("/notes.txt")).collect();
    c.send(&many);
    for i in 0..200 {
        assert_eq!(
            c.expect(200, &format!("small request {i}")).body,
            site.read("notes.txt")
        );
    }
    c.send(&get("/index.html"));
    c.expect(200, "a request after the pipelined ones");
    stop(server);
}

on_every_backend!(pipelined_requests_get_complete_responses_in_order);

/// The resident memory of process `pid`, in bytes (Linux's `/proc/PID/status`).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn a_client_that_does_not_read_costs_bounded_memory() {
    let site = Site::new("slow-reader");
    let (server, addr) = start_server(Backend::default(), Some(&site.root()), &[]);
    let Some(before) = resident_bytes(server.pid()) else {
        eprintln!("skipping: no /proc/PID/status to measure memory");
        stop(server);
        return;
    };
    // 40 requests for 5 MiB each, and nothing read: 200 MiB if the server buffered.
    let count = 40;
    let mut c = Conn::connect(addr);
    c.send(
        &(0..count)
            .flat_map(|_| get("/big.bin"))
            .collect::<Vec<u8>>(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let during = resident_bytes(server.pid()).expect("the server's memory");
    assert!(
        during < before + (32 << 20),
        "the server grew from {before} to {during} bytes for a client that does not read"
    );
    // Then the client reads: every response is whole.
    let big = site.read("big.bin");
    for i in 0..count {
        assert!(
            c.expect(200, &format!("big.bin {i}")).body == big,
            "big.bin {i}"
        );
    }
    stop(server);
}

// ===== bad input =====

/// The status of the response at the start of `got`, and whether a second one follows.
fn status_of(got: &[u8]) -> Option<u16> {
    let line = got.split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn bad_input_gets_its_status_and_a_close(backend: Backend) {
    let (server, addr) = start_server(backend, None, &["--max-body", "64KiB"]);
    // A connection that stays open through all of it, and is still served at the end.
    let mut keep = Conn::connect(addr);
    keep.send(&get("/"));
    keep.expect(200, "a first request");
    let host = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("an over-long header line", [&host[..], b"X-Long: ", &[b'a'; 9000], b"\r\n\r\n"].concat(), &[431]),
        ("an over-long request line", [&b"GET /"[..], &[b'a'; 9000], b" HTTP/1.1\r\n\r\n"].concat(), &[414]),
        ("too many headers", [host.clone(), b"X-Many: 1\r\n".repeat(150), b"\r\n".to_vec()].concat(), &[431]),
        ("garbage", [noise(5000, 3), b"\r\n\r\n".to_vec()].concat(), &[400]),
        ("a binary request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), &[400]),
        ("a header line without a colon", [&host[..], b"NoColon\r\n\r\n"].concat(), &[400]),
        ("a space before the colon", [&host[..], b"X-Bad : 1\r\n\r\n"].concat(), &[400]),
        ("an unknown version", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n".to_vec(), &[505]),
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n".to_vec(), &[400]),
        ("a malformed Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n".to_vec(), &[400]),
        ("two Content-Lengths", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(), &[400]),
        ("Content-Length with Transfer-Encoding", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("a Transfer-Encoding other than chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), &[501]),
        ("an oversize Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n".to_vec(), &[413]),
        ("a huge Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(), &[400]),
        ("an oversize chunked body", [
            &b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"8000\r\n", &[b'c'; 0x8000], b"\r\n",
            b"8000\r\n", &[b'c'; 0x8000], b"\r\n",
            b"1\r\nc\r\n0\r\n\r\n",
        ].concat(), &[413]),
        ("one chunk over --max-body", [
            &b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n"[..],
            &[b'c'; 0x20000], b"\r\n0\r\n\r\n",
        ].concat(), &[413]),
        ("an oversize Content-Length with Expect", b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 65537\r\n\r\n".to_vec(), &[413]),
        ("an unknown expectation", b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx".to_vec(), &[417]),
        // A chunk size over the description's bound (16 MiB) is refused before any of its
        // data is buffered, with the chunk's own oversize policy (413).
        ("an oversize chunk", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2000000\r\n".to_vec(), &[413]),
        ("a chunk size over 64 bits", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000000\r\n".to_vec(), &[400, 413]),
        ("a malformed chunk size", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(), &[400]),
        ("a chunk size with junk", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n".to_vec(), &[400]),
        ("a chunk without its CRLF", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n".to_vec(), &[400]),
        ("a bare LF", b"GET / HTTP/1.1\nHost: t\n\n".to_vec(), &[400]),
    ];
    for (what, bytes, statuses) in &cases {
        let (got, closed) = support::send_bad(addr, bytes, false);
        assert!(
            status_of(&got).is_some_and(|s| statuses.contains(&s)),
            "{what}: expected {statuses:?}, got {}",
            show(&got)
        );
        assert!(
            closed,
            "{what}: http-server did not close; got {}",
            show(&got)
        );
        assert_eq!(
            got.windows(9).filter(|w| w == b"HTTP/1.1 ").count(),
            1,
            "{what}: one response only: {}",
            show(&got)
        );
        witness(addr);
    }
    // A good request, then bad input on the same connection: the response, then the
    // refusal and the close.
    let mut c = Conn::connect(addr);
    c.send(&[get("/"), b"\x00\x01\x02 nonsense\r\n\r\n".to_vec()].concat());
    c.expect(200, "the good request");
    c.expect(400, "the bad one");
    c.expect_close("bad input");
    // Clients that leave: in the middle of a body, of a chunk, of the headers, at once.
    for bytes in [
        &b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly part of it"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: ",
        b"",
    ] {
        let mut c = Conn::connect(addr);
        c.send(bytes);
        c.stream.shutdown(Shutdown::Both).expect("hang up");
        drop(c);
        witness(addr);
    }
    // A client that half-closes in the middle of a body gets no response and a close.
    let (got, closed) = support::send_bad(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
        true,
    );
    assert!(got.is_empty() && closed, "{}", show(&got));
    // The connection opened before all this is still served.
    keep.send(&get("/"));
    keep.expect(200, "a connection that stayed open");
    witness(addr);
    let out = stop(server);
    assert!(!out.stderr.contains("panicked"), "{}", out.transcript());
}

on_every_backend!(bad_input_gets_its_status_and_a_close);
