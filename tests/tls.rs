//! TLS: the runtime's session layer and the servers and client that use it, against real
//! peers, on every backend.
//!
//! * `curl --cacert` against `http-server --tls-cert/--tls-key`: two files (one over
//!   16 KiB, sent with `send_file`'s fallback through the session) on one keep-alive
//!   connection, a chunked POST echoed, byte for byte;
//! * `redis-cli --tls --cacert` against `resp-server --tls-cert/--tls-key`: SET/GET and a
//!   pipeline;
//! * `openssl s_client`: a request, the reply, and the server's `close_notify`; a rustls
//!   client tells `close_notify` from a bare end of file;
//! * our `http-client` against nginx with `listen ... ssl`;
//! * bad handshakes (plaintext, a truncated ClientHello, random bytes) close only their
//!   connection, with one `info` line each, while a good connection goes on;
//! * the runtime alone: an 4 MiB echo with back-pressure both ways, `close_notify` and
//!   half-close both ways, STARTTLS discarding what the peer sent before the handshake.
//!
//! Certificates are made at test time (`support::tls::TestCerts`). Peer tests print
//! `skipping: ...` when the peer is missing, unless `ASYNCORE_REQUIRE_PEERS=1`.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use asyncore_runtime::tls::{self, rustls};
use asyncore_runtime::{Addr, Backend, Channel, Dispatcher, Map, Result, Socket};

use support::peers::Nginx;
use support::tls::{client_hello_prefix, Client, End, TestCerts};
use support::{
    example_binary, pseudo_random, require_peer, run_command_with_input, runs_ok, send_bad,
    start_server, stop_server, Proc, TempDir, HANG_GUARD,
};

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", addr.port())
}

// ===== http-server and curl =====

fn curl_https(backend: Backend) {
    if !require_peer("curl", runs_ok("curl", "--version")) {
        return;
    }
    let certs = TestCerts::new("curl");
    let root = TempDir::new("tls-curl-root");
    let small = b"hello over TLS\n".to_vec();
    let big = pseudo_random(3 << 20, 7);
    root.file("small.txt", &small);
    root.file("big.bin", &big);
    let body = pseudo_random(300_000, 11);
    let body_file = root.file("body.bin", &body);
    let mut flags = certs.server_flags();
    flags.extend(["--root".into(), root.path().display().to_string()]);
    let (server, addr) = start_server("http-server", backend.name(), &flags);

    let out = TempDir::new("tls-curl-out");
    let (f1, f2, f3) = (
        out.path().join("1"),
        out.path().join("2"),
        out.path().join("3"),
    );
    let mut get = Command::new("curl");
    get.args(["-sS", "--fail", "--cacert"])
        .arg(&certs.ca)
        .args(["-w", "%{num_connects} "])
        .arg(url(addr, "/small.txt"))
        .arg("-o")
        .arg(&f1)
        .arg(url(addr, "/big.bin"))
        .arg("-o")
        .arg(&f2);
    let got = support::run_named("curl GET", get);
    assert!(got.success(), "{}", got.transcript());
    // Two requests on one connection: the second made no connection of its own.
    assert_eq!(got.stdout.join(""), "1 0 ", "{}", got.transcript());
    assert_eq!(std::fs::read(&f1).unwrap(), small);
    assert!(std::fs::read(&f2).unwrap() == big, "the 3 MiB file differs");

    let mut post = Command::new("curl");
    post.args(["-sS", "--fail", "--cacert"])
        .arg(&certs.ca)
        .args(["-H", "Transfer-Encoding: chunked", "--data-binary"])
        .arg(format!("@{}", body_file.display()))
        .arg(url(addr, "/echo"))
        .arg("-o")
        .arg(&f3);
    let got = support::run_named("curl POST", post);
    assert!(got.success(), "{}", got.transcript());
    assert!(
        std::fs::read(&f3).unwrap() == body,
        "the echoed body differs"
    );
    stop_server(server);
}

// ===== resp-server and redis-cli =====

fn redis_cli_tls(backend: Backend) {
    if !require_peer("redis-cli", runs_ok("redis-cli", "--version")) {
        return;
    }
    let certs = TestCerts::new("redis");
    let (server, addr) = start_server("resp-server", backend.name(), &certs.server_flags());
    let cli = |args: &[&str], input: &[u8]| {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "--cacert"])
            .arg(&certs.ca)
            .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
            .args(args);
        let (status, out, err) = run_command_with_input(cmd, input, HANG_GUARD);
        let (out, err) = (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        );
        assert!(
            status.success(),
            "redis-cli {args:?}: {status}\n{out}\n{err}"
        );
        out
    };
    assert_eq!(cli(&["SET", "greeting", "hello"], b"").trim(), "OK");
    assert_eq!(cli(&["GET", "greeting"], b"").trim(), "hello");
    let piped = cli(
        &["--pipe"],
        b"SET n 1\r\nINCR n\r\nINCR n\r\nGET greeting\r\n",
    );
    assert!(piped.contains("errors: 0, replies: 4"), "{piped}");
    assert_eq!(cli(&["GET", "n"], b"").trim(), "3");
    stop_server(server);
}

// ===== openssl s_client, and close_notify =====

fn s_client_and_close_notify(backend: Backend) {
    if !require_peer("openssl", runs_ok("openssl", "version")) {
        return;
    }
    let certs = TestCerts::new("s_client");
    let root = TempDir::new("tls-s-client-root");
    root.file("small.txt", b"small file\n");
    let mut flags = certs.server_flags();
    flags.extend(["--root".into(), root.path().display().to_string()]);
    let (server, addr) = start_server("http-server", backend.name(), &flags);

    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{}", addr.port()),
    ])
    .args([
        "-servername",
        "localhost",
        "-verify_return_error",
        "-CAfile",
    ])
    .arg(&certs.ca)
    .args(["-quiet", "-msg"]);
    let request = b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (status, out, err) = run_command_with_input(cmd, request, HANG_GUARD);
    let text = String::from_utf8_lossy(&out);
    let err = String::from_utf8_lossy(&err);
    assert!(status.success(), "s_client: {status}\n{text}\n{err}");
    assert!(text.contains("HTTP/1.1 200 OK"), "{text}\n{err}");
    assert!(text.contains("small file"), "{text}");
    // `<<<` is what s_client received: the server's close_notify after the reply.
    assert!(
        text.lines()
            .any(|l| l.starts_with("<<<") && l.contains("Alert") && l.contains("close_notify")),
        "no close_notify from the server:\n{text}"
    );

    // A rustls client tells close_notify from a bare end of file.
    let mut c = Client::connect(addr, &certs);
    c.send(request);
    let (reply, end) = c.read_to_end();
    assert!(reply.ends_with(b"small file\n"), "{reply:?}");
    assert_eq!(end, End::CloseNotify);
    stop_server(server);
}

// ===== http-client against nginx =====

fn http_client_nginx(backend: Backend) {
    let certs = TestCerts::new("nginx");
    let dir = TempDir::new("tls-nginx");
    let small = b"from nginx over TLS\n".to_vec();
    let big = pseudo_random(1 << 20, 5);
    dir.file("small.txt", &small);
    dir.file("big.bin", &big);
    let server = format!(
        "root {root};\nssl_certificate {cert};\nssl_certificate_key {key};",
        root = dir.path().display(),
        cert = certs.cert.display(),
        key = certs.key.display()
    );
    let Some(nginx) = Nginx::start_listening(dir, "", &server, "ssl") else {
        return;
    };
    let addr = nginx.addr();
    let out = Command::new(example_binary("http-client"))
        .arg("--cacert")
        .arg(&certs.ca)
        .args(["--backend", backend.name()])
        .arg(url(addr, "/small.txt"))
        .arg(url(addr, "/big.bin"))
        .output()
        .expect("run http-client");
    assert!(
        out.status.success(),
        "http-client: {}\n{}\nnginx: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        nginx.error_log()
    );
    let mut want = small.clone();
    want.extend_from_slice(&big);
    assert!(
        out.stdout == want,
        "the bodies differ ({} bytes)",
        out.stdout.len()
    );
    let log = nginx.access_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0][0], log[1][0], "one connection for both: {log:?}");

    // A CA that did not sign nginx's certificate: refused, with rustls's reason.
    let other = TestCerts::new("nginx-other");
    let out = Command::new(example_binary("http-client"))
        .arg("--cacert")
        .arg(&other.ca)
        .args(["--backend", backend.name()])
        .arg(url(addr, "/small.txt"))
        .output()
        .expect("run http-client");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(
        err.contains("TLS handshake failed") && err.contains("certificate"),
        "{err}"
    );
}

// ===== bad handshakes =====

fn bad_handshakes(backend: Backend) {
    let certs = TestCerts::new("bad");
    let root = TempDir::new("tls-bad-root");
    root.file("a.txt", b"a\n");
    let mut cmd = Command::new(example_binary("http-server"));
    cmd.env("RUST_LOG", "info")
        .args(["--listen", "127.0.0.1:0", "--backend", backend.name()])
        .args(certs.server_flags())
        .arg("--root")
        .arg(root.path());
    let mut server = Proc::spawn("http-server (TLS, RUST_LOG=info)", cmd);
    let addr = server.listening_addr();
    let request = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";

    let mut good = Client::connect(addr, &certs);
    good.send(request);
    assert!(good.read_until(b"a\n").starts_with(b"HTTP/1.1 200"));

    let mut random = pseudo_random(600, 3);
    random[0] = 0x99; // not a TLS record type: refused at once, not waited on
    let bad: [(&str, Vec<u8>, bool); 3] = [
        ("plaintext", request.to_vec(), false),
        (
            "a truncated ClientHello",
            client_hello_prefix(&certs, 60),
            true,
        ),
        ("random bytes", random, false),
    ];
    for (what, bytes, hang_up) in bad {
        let (reply, closed) = send_bad(addr, &bytes, hang_up);
        assert!(closed, "{what}: the server kept the connection open");
        assert!(
            !reply.windows(4).any(|w| w == b"HTTP"),
            "{what}: answered in plaintext: {reply:?}"
        );
        // The good connection is unharmed.
        good.send(request);
        assert!(
            good.read_until(b"a\n").starts_with(b"HTTP/1.1 200"),
            "after {what}"
        );
    }
    drop(good);
    let out = stop_server(server);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("TLS handshake failed"))
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per bad handshake:\n{}",
        out.stderr
    );
    for l in &lines {
        assert!(l.contains("INFO") && l.contains("127.0.0.1:"), "{l}");
    }
}

on_every_backend!(
    curl_https,
    redis_cli_tls,
    s_client_and_close_notify,
    http_client_nginx,
    bad_handshakes,
    echo_with_back_pressure,
    close_notify_and_half_close,
    starttls_discards_early_input
);

#[test]
fn bad_certificate_files_are_named() {
    let dir = TempDir::new("tls-bad-files");
    let junk = dir.file("junk.pem", b"not a certificate\n");
    let err = tls::server_config(&junk, &junk).unwrap_err().to_string();
    assert!(
        err.contains("junk.pem") && err.contains("no certificate"),
        "{err}"
    );
    let missing = dir.path().join("missing.pem");
    let err = tls::server_config(&missing, &junk).unwrap_err().to_string();
    assert!(err.contains("missing.pem"), "{err}");
    let certs = TestCerts::new("files");
    let err = tls::server_config(&certs.cert, &junk)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("junk.pem") && err.contains("private key"),
        "{err}"
    );
    let other = TestCerts::new("files-other");
    let err = tls::server_config(&certs.cert, &other.key)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the key"), "{err}");
    // The server refuses to start, naming the file.
    let out = Command::new(example_binary("http-server"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&junk)
        .arg("--tls-key")
        .arg(&junk)
        .output()
        .expect("run http-server");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.pem"));
}

// ===== the runtime alone =====

/// Runs `map` until `done` or `HANG_GUARD` (a failure).
fn run_until(map: &mut Map, backend: Backend, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < HANG_GUARD, "the exchange did not finish");
        map.poll_once(Some(Duration::from_millis(50)), backend)
            .expect("a pass");
    }
}

struct Echo {
    paused: Rc<Cell<bool>>,
}

impl Dispatcher for Echo {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        let n = ch.recv(&mut buf)?;
        ch.send_buffered(&buf[..n])?;
        if ch.is_paused() {
            self.paused.set(true);
        }
        Ok(())
    }
}

struct TlsListener<F: FnMut() -> D, D: Dispatcher> {
    config: Arc<rustls::ServerConfig>,
    make: F,
}

/// Small kernel buffers, so that a channel's own output backs up soon.
fn small_buffers(sock: &Socket) {
    use rustix::net::sockopt;
    sockopt::set_socket_send_buffer_size(sock, 256 * 1024).expect("SO_SNDBUF");
    sockopt::set_socket_recv_buffer_size(sock, 256 * 1024).expect("SO_RCVBUF");
}

impl<F: FnMut() -> D + 'static, D: Dispatcher> Dispatcher for TlsListener<F, D> {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        small_buffers(&sock);
        ch.add_accepted_tls(sock, addr, self.config.clone(), (self.make)())?;
        Ok(())
    }
}

/// Sends `data` as fast as its output allows and checks what comes back. It does not
/// read until the echo has stopped reading once (the echo's output over its high-water
/// mark, because we did not read it), unless its own output is over its mark.
struct Pusher {
    data: Rc<Vec<u8>>,
    sent: usize,
    got: Rc<Cell<usize>>,
    echo_paused: Rc<Cell<bool>>,
}

impl Dispatcher for Pusher {
    fn readable(&mut self, ch: &Channel<'_>) -> bool {
        self.echo_paused.get() || self.sent == self.data.len() || ch.is_paused()
    }

    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        self.sent < self.data.len()
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        while self.sent < self.data.len() && ch.pending_output() < ch.high_water() {
            let end = (self.sent + 16 * 1024).min(self.data.len());
            ch.send_buffered(&self.data[self.sent..end])?;
            self.sent = end;
        }
        Ok(())
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        let n = ch.recv(&mut buf)?;
        let at = self.got.get();
        assert!(
            buf[..n] == self.data[at..at + n],
            "echoed bytes differ at offset {at}"
        );
        self.got.set(at + n);
        if at + n == self.data.len() {
            ch.close();
        }
        Ok(())
    }
}

fn echo_with_back_pressure(backend: Backend) {
    let certs = TestCerts::new("echo");
    let mut map = Map::new();
    // Small marks: the echo stops reading while its output waits.
    map.set_default_output_limits(64 * 1024, 512 * 1024);
    let echo_paused = Rc::new(Cell::new(false));
    let flag = echo_paused.clone();
    let listener = map
        .listen(
            &"127.0.0.1:0".parse::<SocketAddr>().unwrap().into(),
            TlsListener {
                config: certs.server_config(),
                make: move || Echo {
                    paused: flag.clone(),
                },
            },
        )
        .expect("listen");
    let addr = map.local_addr(listener).unwrap();
    let data = Rc::new(pseudo_random(4 << 20, 21));
    let got = Rc::new(Cell::new(0));
    let client = map
        .connect(
            &addr,
            Pusher {
                data: data.clone(),
                sent: 0,
                got: got.clone(),
                echo_paused: echo_paused.clone(),
            },
        )
        .expect("connect");
    let name = tls::server_name("localhost").unwrap();
    map.with_channel(client, |ch| small_buffers(ch.socket()));
    map.with_channel(client, |ch| {
        ch.start_tls_client(certs.client_config(), name)
    })
    .unwrap()
    .expect("start TLS");
    assert_eq!(map.with_channel(client, |ch| ch.is_tls()), Some(true));
    run_until(&mut map, backend, || got.get() == data.len());
    assert!(
        echo_paused.get(),
        "the echo never went over its high-water mark"
    );
}

/// Reads everything; at the end of input answers how much came, then closes when done.
struct Counter {
    n: usize,
}

impl Dispatcher for Counter {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        self.n += ch.recv(&mut buf)?;
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
        if reason.is_none() {
            // The peer's close_notify ended input, not output.
            ch.send_buffered(format!("got {} bytes\n", self.n).as_bytes())?;
            ch.close_when_done();
        }
        Ok(())
    }
}

/// Runs a TLS server of `make()` channels on a thread for `backend` until `stop`.
fn server_thread<D: Dispatcher>(
    backend: Backend,
    certs: &TestCerts,
    plain: bool,
    make: impl FnMut() -> D + Send + 'static,
) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let config = certs.server_config();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut map = Map::new();
        let any: Addr = "127.0.0.1:0".parse::<SocketAddr>().unwrap().into();
        let l = if plain {
            map.listen(&any, PlainListener(make)).expect("listen")
        } else {
            map.listen(&any, TlsListener { config, make })
                .expect("listen")
        };
        tx.send(map.local_addr(l).unwrap().as_inet().unwrap())
            .unwrap();
        run_until(&mut map, backend, || stopped.load(Ordering::Relaxed));
    });
    (rx.recv().expect("server address"), stop, handle)
}

struct PlainListener<F>(F);

impl<F: FnMut() -> D + 'static, D: Dispatcher> Dispatcher for PlainListener<F> {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        ch.add_accepted(sock, addr, (self.0)())?;
        Ok(())
    }
}

fn close_notify_and_half_close(backend: Backend) {
    let certs = TestCerts::new("half-close");
    let (addr, stop, server) = server_thread(backend, &certs, false, || Counter { n: 0 });
    let mut c = Client::connect(addr, &certs);
    let data = pseudo_random(300_000, 4);
    c.send(&data);
    c.half_close();
    let (reply, end) = c.read_to_end();
    assert_eq!(String::from_utf8_lossy(&reply), "got 300000 bytes\n");
    assert_eq!(
        end,
        End::CloseNotify,
        "the server closed without close_notify"
    );
    stop.store(true, Ordering::Relaxed);
    server.join().expect("server thread");
}

/// A plaintext line service that turns to TLS on `STARTTLS\r\n`, then echoes what it
/// reads, prefixed with `echo:`.
struct StartTls {
    config: Arc<rustls::ServerConfig>,
    started: bool,
}

impl Dispatcher for StartTls {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        if !self.started {
            // Read the command alone; what follows it stays in the socket.
            let mut buf = [0u8; 10];
            let n = ch.recv(&mut buf)?;
            if &buf[..n] == b"STARTTLS\r\n" {
                ch.queue(b"220 go ahead\r\n")?;
                ch.start_tls_server(self.config.clone())?;
                assert!(ch.is_tls() && ch.is_tls_handshaking());
                self.started = true;
            }
            return Ok(());
        }
        let mut buf = [0u8; 1024];
        let n = ch.recv(&mut buf)?;
        if n > 0 {
            ch.send_buffered(&[b"echo:", &buf[..n]].concat())?;
        }
        Ok(())
    }
}

fn starttls_discards_early_input(backend: Backend) {
    let certs = TestCerts::new("starttls");
    let config = certs.server_config();
    let (addr, stop, server) = server_thread(backend, &certs, true, move || StartTls {
        config: config.clone(),
        started: false,
    });
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(HANG_GUARD)).unwrap();
    // A command injected after STARTTLS, in plaintext, before the handshake.
    sock.write_all(b"STARTTLS\r\nINJECTED\r\n").unwrap();
    let mut reply = [0u8; 14];
    sock.read_exact(&mut reply).expect("the 220 reply in plain");
    assert_eq!(&reply, b"220 go ahead\r\n");
    let mut c = Client::over(sock, &certs);
    c.send(b"hello");
    let got = c.read_until(b"hello");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "echo:hello",
        "input from before the handshake reached the session"
    );
    stop.store(true, Ordering::Relaxed);
    server.join().expect("server thread");
}
