//! Interoperability with Python 3's own `asyncore` and `asynchat` (the peers we did not
//! write), on every backend:
//!
//! * our echo server (the real `echo` example binary) with Python `asyncore.dispatcher`
//!   clients, then SIGINT: the server exits 0;
//! * our client channel (`Map::connect`, `send_buffered`) with a Python
//!   `asyncore.dispatcher_with_send` echo server, 1 MB through it;
//! * a Python `asynchat.async_chat` client pushing `\r\n`-terminated lines through our
//!   echo server;
//! * SIGTERM while Python clients are connected: the server closes their connections
//!   and exits 0.
//!
//! If `python3` with `asyncore` is missing the tests print `skipping: ...` and pass,
//! unless `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::{Addr, Backend, Channel, Dispatcher, Error, Map, Result};
use rustix::process::Signal;

use support::{pseudo_random, Finished, Proc, HANG_GUARD};

/// `true` if Python 3 with `module` is there; otherwise skips (or fails, when peers are
/// required).
fn python_with(module: &str) -> bool {
    support::require_peer(
        &format!("python3 with {module}"),
        support::python_has_module(module),
    )
}

/// Start the echo example on 127.0.0.1:0 with `backend` (and `extra` flags); return it
/// and the address it printed.
fn start_echo(backend: Backend, extra: &[&str]) -> (Proc, SocketAddr) {
    let bin = support::example_binary("echo");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--backend", backend.name()])
        .args(extra);
    let mut server = Proc::spawn(&format!("echo server ({backend})"), cmd);
    let addr = server.listening_addr();
    assert!(
        addr.ip().is_loopback(),
        "echo listens on {addr}, not on 127.0.0.1"
    );
    assert_ne!(addr.port(), 0, "echo printed port 0");
    (server, addr)
}

/// Signal the server (`name` is the signal's name, for messages) and check it exits
/// with status 0.
fn stop_server(mut server: Proc, signal: Signal, name: &str) -> Finished {
    server.signal(signal);
    let out = server.finish(HANG_GUARD);
    assert!(
        out.success(),
        "the echo server did not exit with status 0 after {name}\n{}",
        out.transcript()
    );
    out
}

/// Run a Python script to completion (bounded) and require exit status 0.
fn run_python(name: &str, script: &str, args: &[String]) -> Finished {
    let mut py = Proc::spawn(name, support::python_script(script, args));
    let out = py.finish(HANG_GUARD + Duration::from_secs(10));
    assert!(out.success(), "{name} failed\n{}", out.transcript());
    out
}

/// Python's `use_poll` for a backend: `select.select` against our select loop,
/// `select.poll` otherwise, so both Python loops are exercised.
fn python_use_poll(backend: Backend) -> &'static str {
    match backend {
        Backend::Select => "select",
        _ => "poll",
    }
}

// ===== 1. our echo server, Python asyncore clients =====

/// Several concurrent `asyncore.dispatcher` clients in one Python loop; each sends a few
/// lines, a 200 KB random payload and a last line, reads until it has as many bytes as
/// it sent, and compares. Prints one `client I sent N received M` line per client and
/// exits 1 on any mismatch, 3 on its own timeout.
const ASYNCORE_ECHO_CLIENTS: &str = r#"
import asyncore, random, socket, sys, time, traceback

host, port = sys.argv[1], int(sys.argv[2])
use_poll = sys.argv[3] == "poll"
nclients = int(sys.argv[4])

def payload(i):
    rng = random.Random(7919 * (i + 1))
    return b"".join([
        b"hello from python client %d\r\n" % i,
        b"\r\n",
        bytes(range(256)) + b"\r\n",
        b"x" * 1000 + b"\n",
        rng.randbytes(200 * 1024),
        b"\r\nbye %d\r\n" % i,
    ])

class Client(asyncore.dispatcher):
    def __init__(self, i, cmap):
        asyncore.dispatcher.__init__(self, map=cmap)
        self.i = i
        self.expected = payload(i)
        self.out = self.expected
        self.got = bytearray()
        self.done = False
        self.error = None
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))

    def handle_connect(self):
        pass

    def writable(self):
        return self.connecting or len(self.out) > 0

    def handle_write(self):
        n = self.send(self.out[:65536])
        self.out = self.out[n:]

    def handle_read(self):
        self.got += self.recv(65536)
        if len(self.got) >= len(self.expected):
            self.done = True
            self.close()

    def handle_close(self):
        if not self.done:
            self.error = "connection closed after %d of %d bytes" % (len(self.got), len(self.expected))
        self.close()

    def handle_error(self):
        self.error = traceback.format_exc()
        self.close()

cmap = {}
clients = [Client(i, cmap) for i in range(nclients)]
deadline = time.monotonic() + 20
while cmap and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, map=cmap, count=1)
if cmap:
    for c in clients:
        print("client %d: sent %d, received %d so far" % (c.i, len(c.expected) - len(c.out), len(c.got)))
    print("timed out", file=sys.stderr)
    sys.exit(3)
bad = False
for c in clients:
    print("client %d sent %d received %d" % (c.i, len(c.expected), len(c.got)))
    if c.error:
        print("client %d error: %s" % (c.i, c.error), file=sys.stderr)
        bad = True
    elif bytes(c.got) != c.expected:
        first = next((k for k in range(min(len(c.got), len(c.expected))) if c.got[k] != c.expected[k]), None)
        print("client %d: echo differs, first difference at byte %s" % (c.i, first), file=sys.stderr)
        bad = True
sys.exit(1 if bad else 0)
"#;

/// Check the `client I sent N received M` lines of [`ASYNCORE_ECHO_CLIENTS`].
fn check_client_report(out: &Finished, nclients: usize) {
    let reports: Vec<&String> = out
        .stdout
        .iter()
        .filter(|l| l.starts_with("client "))
        .collect();
    assert_eq!(
        reports.len(),
        nclients,
        "expected one report per client\n{}",
        out.transcript()
    );
    for (i, line) in reports.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (words.len(), words[1], words[2], words[4]),
            (6, i.to_string().as_str(), "sent", "received"),
            "unexpected report line `{line}`"
        );
        let sent: usize = words[3].parse().expect("sent count");
        let received: usize = words[5].parse().expect("received count");
        assert!(sent > 200 * 1024, "client {i} sent only {sent} bytes");
        assert_eq!(sent, received, "client {i}: `{line}`");
    }
}

fn echo_server_with_python_clients(backend: Backend) {
    if !python_with("asyncore") {
        return;
    }
    let (server, addr) = start_echo(backend, &[]);
    let nclients = 4;
    let out = run_python(
        "python asyncore echo clients",
        ASYNCORE_ECHO_CLIENTS,
        &[
            addr.ip().to_string(),
            addr.port().to_string(),
            python_use_poll(backend).to_string(),
            nclients.to_string(),
        ],
    );
    check_client_report(&out, nclients);
    stop_server(server, Signal::INT, "SIGINT");
}

on_every_backend!(echo_server_with_python_clients);

/// The same with `--threads 2` (two loops sharing the listening socket, its connections
/// dealt to them in turn) and more clients, so both loops serve some.
#[test]
fn echo_server_two_loops_with_python_asyncore_clients() {
    if !python_with("asyncore") {
        return;
    }
    for backend in Backend::ALL {
        let (server, addr) = start_echo(backend, &["--threads", "2"]);
        let nclients = 8;
        let out = run_python(
            "python asyncore echo clients",
            ASYNCORE_ECHO_CLIENTS,
            &[
                addr.ip().to_string(),
                addr.port().to_string(),
                python_use_poll(backend).to_string(),
                nclients.to_string(),
            ],
        );
        check_client_report(&out, nclients);
        stop_server(server, Signal::INT, "SIGINT");
    }
}

// ===== 2. our client channel, a Python asyncore echo server =====

/// An `asyncore.dispatcher_with_send` echo server on 127.0.0.1:0. It serves one
/// connection, and exits 0 once that connection is closed, after printing how many bytes
/// it echoed. Its listening socket gets a small `SO_RCVBUF` (inherited by the accepted
/// one) so that, with our client's small `SO_SNDBUF`, the kernel cannot take our whole
/// payload at once: loopback buffers otherwise swallow several megabytes.
const ASYNCORE_ECHO_SERVER: &str = r#"
import asyncore, socket, sys, time

use_poll = sys.argv[1] == "poll"
state = {"echoed": 0, "closed": False}

class Handler(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(65536)
        if data:
            state["echoed"] += len(data)
            self.send(data)

    def handle_close(self):
        state["closed"] = True
        self.close()
        server.close()

class Server(asyncore.dispatcher):
    def __init__(self):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        self.bind(("127.0.0.1", 0))
        self.listen(5)
        print("listening on %s:%d" % self.socket.getsockname())

    def handle_accepted(self, sock, addr):
        Handler(sock)

server = Server()
deadline = time.monotonic() + 20
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, count=1)
print("echoed %d" % state["echoed"])
if not state["closed"]:
    print("timed out before the client closed", file=sys.stderr)
    sys.exit(3)
"#;

#[derive(Debug, Default)]
struct ClientOutcome {
    connected: bool,
    /// Bytes still queued right after `handle_connect` queued everything.
    queued_at_connect: usize,
    /// Whether reading was paused (output above the high-water mark) at that point.
    paused_at_connect: bool,
    received: Vec<u8>,
    close_event: Option<String>,
    error: Option<String>,
    done: bool,
}

/// Our client: on connect it queues every part with `send_buffered`, reads the echo one
/// `recv` per read event, and closes once it has as many bytes as it sent.
struct EchoClient {
    parts: Vec<Vec<u8>>,
    expected: usize,
    outcome: Rc<RefCell<ClientOutcome>>,
}

impl Dispatcher for EchoClient {
    fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
        for part in &self.parts {
            ch.send_buffered(part)?;
        }
        let mut o = self.outcome.borrow_mut();
        o.connected = true;
        o.queued_at_connect = ch.pending_output();
        o.paused_at_connect = ch.is_paused();
        Ok(())
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 64 * 1024];
        let n = ch.recv(&mut buf)?;
        let mut o = self.outcome.borrow_mut();
        o.received.extend_from_slice(&buf[..n]);
        if o.received.len() >= self.expected {
            o.done = true;
            ch.close();
        }
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
        self.outcome.borrow_mut().close_event = Some(format!("{reason:?}"));
        ch.close();
        Ok(())
    }

    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        self.outcome.borrow_mut().error = Some(err.to_string());
        ch.close();
        Err(err)
    }
}

fn client_channel_with_python_server(backend: Backend) {
    if !python_with("asyncore") {
        return;
    }
    let mut server = Proc::spawn(
        "python asyncore echo server",
        support::python_script(ASYNCORE_ECHO_SERVER, [python_use_poll(backend)]),
    );
    let addr = server.listening_addr();

    // Small parts, 1 MB, then more small parts: those are appended to a non-empty
    // output buffer.
    let mut parts = vec![
        b"hello from asyncore-runtime\r\n".to_vec(),
        Vec::new(),
        (0..=255u8).collect(),
        pseudo_random(1024 * 1024, 0x5eed_0000 + backend as u64),
    ];
    parts.extend((0..100).map(|i| format!("\r\nline {i} after the big part").into_bytes()));
    parts.push(b"\r\nbye\r\n".to_vec());
    let expected: Vec<u8> = parts.concat();
    let outcome = Rc::new(RefCell::new(ClientOutcome::default()));
    let mut map = Map::new();
    let token = map
        .connect(
            &Addr::from(addr),
            EchoClient {
                parts,
                expected: expected.len(),
                outcome: outcome.clone(),
            },
        )
        .expect("connect to the Python server");
    // A small send buffer (with the server's small receive buffer) makes sure the 1 MB
    // goes out in many partial writes from the output buffer.
    map.with_channel(token, |ch| {
        rustix::net::sockopt::set_socket_send_buffer_size(ch.socket(), 32 * 1024)
    })
    .expect("the client channel exists")
    .expect("set SO_SNDBUF");
    // A guard against hanging only: stop the loop if the exchange never finishes.
    let hung = Rc::new(RefCell::new(false));
    let flag = hung.clone();
    map.call_later(HANG_GUARD, move |m| {
        *flag.borrow_mut() = true;
        m.stop();
    });
    let result = map.run_with(Some(Duration::from_secs(5)), backend, Some(200_000));
    let o = outcome.borrow();
    let progress = format!(
        "connected: {}, queued at connect: {}, received {} of {} bytes, close event: {:?}, \
         error: {:?}, passes: {}",
        o.connected,
        o.queued_at_connect,
        o.received.len(),
        expected.len(),
        o.close_event,
        o.error,
        map.passes()
    );
    if let Err(e) = &result {
        panic!("the loop failed on {backend}: {e} ({progress})");
    }
    assert!(
        !*hung.borrow(),
        "on {backend}: the exchange did not finish within {HANG_GUARD:?} ({progress})"
    );
    assert!(
        map.is_empty() && !map.contains(token),
        "on {backend}: the loop used up its pass count with the client still open ({progress})"
    );
    assert!(
        o.connected,
        "on {backend}: handle_connect never ran ({progress})"
    );
    assert!(
        o.queued_at_connect > 0 && o.paused_at_connect,
        "on {backend}: the socket took most of the payload at once, so buffered output and \
         back-pressure were not exercised ({progress})"
    );
    assert!(
        o.done,
        "on {backend}: the client closed before the whole echo came back ({progress})"
    );
    assert_eq!(
        o.close_event, None,
        "on {backend}: unexpected close event ({progress})"
    );
    assert_eq!(o.received.len(), expected.len(), "on {backend}: {progress}");
    if let Some(i) = o.received.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "on {backend}: the echo differs from what was sent at byte {i} of {}",
            expected.len()
        );
    }

    let out = server.finish(HANG_GUARD);
    assert!(
        out.success(),
        "the Python server failed\n{}",
        out.transcript()
    );
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some(format!("echoed {}", expected.len()).as_str()),
        "the Python server echoed a different amount\n{}",
        out.transcript()
    );
}

on_every_backend!(client_channel_with_python_server);

// ===== 3. a Python asynchat client, line terminators =====

/// An `asynchat.async_chat` client: `set_terminator(b"\r\n")`, pushes every line at
/// connect, collects lines in `found_terminator`, compares them in order. Prints
/// `lines N` and exits 1 on a mismatch, 3 on its own timeout.
const ASYNCHAT_LINE_CLIENT: &str = r#"
import asynchat, asyncore, random, socket, sys, time, traceback

host, port = sys.argv[1], int(sys.argv[2])
use_poll = sys.argv[3] == "poll"

rng = random.Random(12345)
lines = [b"HELO python", b"", b"second line", b"tab\there", bytes(range(1, 13)) + bytes(range(14, 256)), b"L" * 100000]
lines += [b"line %d %s" % (i, b"." * rng.randrange(0, 300)) for i in range(2000)]
lines.append(b"QUIT")

class Chat(asynchat.async_chat):
    def __init__(self):
        asynchat.async_chat.__init__(self)
        self.set_terminator(b"\r\n")
        self.ibuffer = []
        self.received = []
        self.error = None
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))

    def handle_connect(self):
        for line in lines:
            self.push(line + b"\r\n")

    def collect_incoming_data(self, data):
        self.ibuffer.append(data)

    def found_terminator(self):
        self.received.append(b"".join(self.ibuffer))
        self.ibuffer = []
        if len(self.received) == len(lines):
            self.close()

    def handle_close(self):
        if len(self.received) != len(lines):
            self.error = "closed after %d of %d lines" % (len(self.received), len(lines))
        self.close()

    def handle_error(self):
        self.error = traceback.format_exc()
        self.close()

chat = Chat()
deadline = time.monotonic() + 20
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, count=1)
print("lines %d" % len(chat.received))
if asyncore.socket_map:
    print("timed out", file=sys.stderr)
    sys.exit(3)
if chat.error:
    print(chat.error, file=sys.stderr)
    sys.exit(1)
for k, (a, b) in enumerate(zip(chat.received, lines)):
    if a != b:
        print("line %d differs: got %r, sent %r" % (k, a[:80], b[:80]), file=sys.stderr)
        sys.exit(1)
if len(chat.received) != len(lines):
    print("got %d lines, sent %d" % (len(chat.received), len(lines)), file=sys.stderr)
    sys.exit(1)
"#;

fn asynchat_lines_through_echo(backend: Backend) {
    if !python_with("asynchat") {
        return;
    }
    let (server, addr) = start_echo(backend, &[]);
    let out = run_python(
        "python asynchat line client",
        ASYNCHAT_LINE_CLIENT,
        &[
            addr.ip().to_string(),
            addr.port().to_string(),
            python_use_poll(backend).to_string(),
        ],
    );
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("lines 2007"),
        "the asynchat client did not get every line back\n{}",
        out.transcript()
    );
    stop_server(server, Signal::INT, "SIGINT");
}

on_every_backend!(asynchat_lines_through_echo);

// ===== 4. SIGTERM with clients connected =====

/// `asyncore.dispatcher` clients that each send one line, print `echoed I` when it comes
/// back, then wait for the server to close the connection: `closed I` (end of file or a
/// reset both count). Exits 0 when every client was closed by the server, 1 if one saw
/// anything else, 3 on its own timeout.
const ASYNCORE_WAITING_CLIENTS: &str = r#"
import asyncore, socket, sys, time, traceback

host, port = sys.argv[1], int(sys.argv[2])
use_poll = sys.argv[3] == "poll"
nclients = int(sys.argv[4])

class Waiter(asyncore.dispatcher):
    def __init__(self, i):
        asyncore.dispatcher.__init__(self)
        self.i = i
        self.line = b"ping %d\r\n" % i
        self.out = self.line
        self.got = b""
        self.echoed = False
        self.closed = False
        self.error = None
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))

    def handle_connect(self):
        pass

    def writable(self):
        return self.connecting or len(self.out) > 0

    def handle_write(self):
        n = self.send(self.out)
        self.out = self.out[n:]

    def handle_read(self):
        self.got += self.recv(4096)
        if not self.echoed and self.got == self.line:
            self.echoed = True
            print("echoed %d" % self.i)
        elif len(self.got) > len(self.line) or not self.line.startswith(self.got):
            self.error = "unexpected data %r" % self.got

    def handle_close(self):
        self.closed = True
        print("closed %d" % self.i)
        self.close()

    def handle_error(self):
        self.error = traceback.format_exc()
        self.close()

clients = [Waiter(i) for i in range(nclients)]
deadline = time.monotonic() + 20
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, count=1)
bad = False
for c in clients:
    if c.error or not c.echoed or not c.closed:
        print("client %d: echoed %s, closed by server %s, error %s" % (c.i, c.echoed, c.closed, c.error), file=sys.stderr)
        bad = True
sys.exit(3 if asyncore.socket_map else 1 if bad else 0)
"#;

fn sigterm_with_clients_connected(backend: Backend) {
    if !python_with("asyncore") {
        return;
    }
    let (server, addr) = start_echo(backend, &[]);
    let nclients = 3;
    let mut py = Proc::spawn(
        "python asyncore waiting clients",
        support::python_script(
            ASYNCORE_WAITING_CLIENTS,
            [
                addr.ip().to_string(),
                addr.port().to_string(),
                python_use_poll(backend).to_string(),
                nclients.to_string(),
            ],
        ),
    );
    // Every client is connected and has been served once before the signal.
    for _ in 0..nclients {
        py.expect_line("`echoed I` line", HANG_GUARD, |l| l.starts_with("echoed "));
    }
    let server_out = stop_server(server, Signal::TERM, "SIGTERM");
    let out = py.finish(HANG_GUARD);
    assert!(
        out.success(),
        "the Python clients were not all closed by the server after SIGTERM\n{}\n--- server ---\n{}",
        out.transcript(),
        server_out.transcript()
    );
    let mut closed: Vec<&String> = out
        .stdout
        .iter()
        .filter(|l| l.starts_with("closed "))
        .collect();
    closed.sort();
    assert_eq!(
        closed,
        ["closed 0", "closed 1", "closed 2"],
        "{}",
        out.transcript()
    );
}

on_every_backend!(sigterm_with_clients_connected);
