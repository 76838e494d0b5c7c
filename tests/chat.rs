//! The chat example (`examples/chat.rs`, `examples/src/chat.rs`) and its client, end to
//! end:
//!
//! * 1000 of our `AsyncChat<ChatClient>` channels in one map against the real `chat`
//!   binary: every broadcast reaches every other member exactly once, in order, with
//!   the sender's new nickname, and never the sender;
//! * Python's own `asynchat.async_chat` clients talking through the chat server;
//! * our `AsyncChat` channel against a Python `asynchat` line-echo server, on every
//!   backend (empty and long lines, lines split into many pushes, a switch to counted
//!   mode);
//! * bad input from plain sockets: over-long lines, invalid nicknames, binary garbage, a
//!   member that leaves in the middle of a line;
//! * the `chat-client` binary, driven through its standard input.
//!
//! The Python tests print `skipping: ...` and pass when `python3` with `asynchat` is
//! missing, unless `ASYNCORE_REQUIRE_PEERS=1` is set.

mod support;

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use asyncore_examples::chat::MAX_LINE;
use asyncore_examples::chat_client::ChatClient;
use asyncore_runtime::{Addr, AsyncChat, Backend, Chat, ChatHandler, Map, Result, Token};
use rustix::process::Signal;

use support::{Finished, Proc, HANG_GUARD};

/// Start the chat example on 127.0.0.1:0 with `backend`; return it and its address.
fn start_chat(backend: Backend) -> (Proc, SocketAddr) {
    let bin = support::example_binary("chat");
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--backend", backend.name()]);
    let mut server = Proc::spawn(&format!("chat server ({backend})"), cmd);
    let addr = server.listening_addr();
    assert!(
        addr.ip().is_loopback() && addr.port() != 0,
        "the chat server printed `listening on {addr}`, not 127.0.0.1 with a real port"
    );
    (server, addr)
}

/// SIGINT the server and require exit status 0.
fn stop_chat(mut server: Proc) -> Finished {
    server.signal(Signal::INT);
    let out = server.finish(HANG_GUARD);
    assert!(
        out.success(),
        "the chat server did not exit with status 0 after SIGINT\n{}",
        out.transcript()
    );
    out
}

/// `true` if Python 3 with `asynchat` is there; otherwise skips (or fails, when peers
/// are required).
fn python_with_asynchat() -> bool {
    support::require_peer(
        "python3 with asynchat",
        support::python_has_module("asynchat"),
    )
}

/// Python's `use_poll` for a backend: `select.select` against our select loop,
/// `select.poll` otherwise.
fn python_use_poll(backend: Backend) -> &'static str {
    match backend {
        Backend::Select => "select",
        _ => "poll",
    }
}

/// [`support::pseudo_random`] bytes; `printable` keeps them in `!`..=`~`.
fn pseudo_random(len: usize, seed: u64, printable: bool) -> Vec<u8> {
    let mut bytes = support::pseudo_random(len, seed);
    if printable {
        for b in &mut bytes {
            *b = b'!' + *b % 94;
        }
    }
    bytes
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex `{s}`");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("hex `{s}`: {e}")))
        .collect()
}

/// A line for failure messages: its start, and its length when long.
fn show(line: &[u8]) -> String {
    if line.len() <= 120 {
        format!("{:?}", String::from_utf8_lossy(line))
    } else {
        format!(
            "{:?}... ({} bytes)",
            String::from_utf8_lossy(&line[..120]),
            line.len()
        )
    }
}

// ===== 1. a thousand of our chat channels in one map =====

const CLIENTS: usize = 1000;
/// Messages each client sends.
const K: usize = 3;
/// Only a guard against hanging, sized for a debug build on a busy 2-core machine.
const BIG_HANG_GUARD: Duration = Duration::from_secs(900);
/// Only a guard against a loop that spins without progress.
const MAX_PASSES: u64 = 5_000_000;
/// Only a guard against a lost line: how long the clients may receive nothing at all
/// while something is still missing.
const STALL_GUARD: Duration = Duration::from_secs(60);

/// What one of the clients has received so far, checked line by line as it arrives.
struct Received {
    lines: Rc<RefCell<Vec<String>>>,
    token: Token,
    count: usize,
    /// Its own guest number, from the welcome line.
    guest: Option<usize>,
    /// The last guest announced as joined after it.
    last_join: usize,
    joins: usize,
    /// `[j]`: client j's rename notice arrived.
    renamed: Vec<bool>,
    renames: usize,
    own_rename: bool,
    /// `[j]`: the sequence number expected next from client j.
    next_seq: Vec<u8>,
    messages: usize,
}

impl Received {
    fn new(lines: Rc<RefCell<Vec<String>>>, token: Token) -> Self {
        Received {
            lines,
            token,
            count: 0,
            guest: None,
            last_join: 0,
            joins: 0,
            renamed: vec![false; CLIENTS],
            renames: 0,
            own_rename: false,
            next_seq: vec![0; CLIENTS],
            messages: 0,
        }
    }

    /// Check and account every line that arrived since the last call.
    /// `client_of_guest[g]` is the client whose welcome named it `guest{g}` (known once
    /// every client is welcomed).
    fn drain(&mut self, me: usize, client_of_guest: &[usize]) -> std::result::Result<(), String> {
        let lines = std::mem::take(&mut *self.lines.borrow_mut());
        for line in lines {
            self.count += 1;
            self.feed(me, &line, client_of_guest)
                .map_err(|e| format!("client {me}, line {} `{line}`: {e}", self.count))?;
        }
        Ok(())
    }

    fn feed(
        &mut self,
        me: usize,
        line: &str,
        client_of_guest: &[usize],
    ) -> std::result::Result<(), String> {
        let num = |s: &str| -> std::result::Result<usize, String> {
            s.parse::<usize>()
                .map_err(|e| format!("bad number `{s}`: {e}"))
        };
        if self.count == 1 {
            // `* welcome guestN, M online`; nobody leaves, so guest N is the Nth member.
            let rest = line
                .strip_prefix("* welcome guest")
                .and_then(|r| r.strip_suffix(" online"))
                .ok_or("the first line is not the welcome line")?;
            let (n, online) = rest.split_once(", ").ok_or("malformed welcome")?;
            let (n, online) = (num(n)?, num(online)?);
            if n != online || n == 0 || n > CLIENTS {
                return Err(format!(
                    "guest{n} welcomed with {online} online (expected equal, 1..={CLIENTS})"
                ));
            }
            self.guest = Some(n);
            self.last_join = n;
            return Ok(());
        }
        if let Some(notice) = line.strip_prefix("* ") {
            if let Some(g) = notice
                .strip_prefix("guest")
                .and_then(|r| r.strip_suffix(" joined"))
            {
                // Joins are handled in order on one loop: guests N+1, N+2, ...
                let g = num(g)?;
                if g != self.last_join + 1 {
                    return Err(format!(
                        "join of guest{g} after that of guest{}",
                        self.last_join
                    ));
                }
                self.last_join = g;
                self.joins += 1;
            } else if let Some((old, new)) = notice.split_once(" is now ") {
                let g = num(old.strip_prefix("guest").ok_or("old name is not guestN")?)?;
                let j = num(new.strip_prefix('c').ok_or("new name is not cJ")?)?;
                if j >= CLIENTS || j == me {
                    return Err(format!("rename notice for client {j}"));
                }
                if client_of_guest.get(g) != Some(&j) {
                    return Err(format!("guest{g} is not client {j}"));
                }
                if g > self.last_join {
                    return Err(format!("guest{g} renamed before it joined"));
                }
                if std::mem::replace(&mut self.renamed[j], true) {
                    return Err(format!("second rename notice for c{j}"));
                }
                self.renames += 1;
            } else if notice == format!("you are now c{me}") {
                if std::mem::replace(&mut self.own_rename, true) {
                    return Err("second `you are now`".into());
                }
            } else {
                return Err("unexpected notice".into());
            }
            return Ok(());
        }
        let (nick, text) = line
            .split_once(": ")
            .ok_or("neither a notice nor a message")?;
        let j = num(nick
            .strip_prefix('c')
            .ok_or("the sender does not carry its new nickname cJ")?)?;
        if j >= CLIENTS {
            return Err(format!("message from unknown client {j}"));
        }
        if j == me {
            return Err("the server sent a client its own message".into());
        }
        // The rename and then the messages of j go out, in order, on this member's one
        // connection.
        if !self.renamed[j] {
            return Err(format!("message from c{j} before its rename notice"));
        }
        let seq = self.next_seq[j];
        let want = format!("m {j} {seq}");
        if text != want {
            return Err(format!(
                "expected `{want}` from c{j} (in order, exactly once)"
            ));
        }
        self.next_seq[j] += 1;
        self.messages += 1;
        Ok(())
    }
}

/// Guards of the waits of [`thousand_clients`].
struct Guard {
    deadline: Instant,
    last_progress: Instant,
}

/// Run one pass of `map` and check everything that arrived; panics on a bad line, a
/// closed client, or a hang.
fn pump(
    map: &mut Map,
    clients: &mut [Received],
    client_of_guest: &[usize],
    phase: &str,
    guard: &mut Guard,
) {
    if let Err(e) = map.poll_once(Some(Duration::from_secs(1)), Backend::Epoll) {
        panic!("{phase}: the loop failed: {e}");
    }
    let mut progress = false;
    for (i, c) in clients.iter_mut().enumerate() {
        let before = c.count;
        if let Err(e) = c.drain(i, client_of_guest) {
            panic!("{phase}: {e}");
        }
        progress |= c.count != before;
    }
    let now = Instant::now();
    if progress {
        guard.last_progress = now;
    } else if now.duration_since(guard.last_progress) > STALL_GUARD {
        let behind: Vec<String> = clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.guest.is_none() || c.messages < (CLIENTS - 1) * K)
            .take(10)
            .map(|(i, c)| format!("client {i}: {} lines, {} messages", c.count, c.messages))
            .collect();
        panic!(
            "{phase}: nothing arrived for {STALL_GUARD:?} while lines are missing \
             (hang guard), e.g. {behind:?}"
        );
    }
    if map.len() != CLIENTS {
        let closed: Vec<usize> = (0..CLIENTS)
            .filter(|&i| !map.contains(clients[i].token))
            .take(10)
            .collect();
        panic!(
            "{phase}: {} of {CLIENTS} client channels were closed (the server closed them?), \
             e.g. clients {closed:?}",
            CLIENTS - map.len()
        );
    }
    assert!(
        now < guard.deadline && map.passes() < MAX_PASSES,
        "{phase}: no completion after {} passes (hang guard {BIG_HANG_GUARD:?})",
        map.passes()
    );
}

#[test]
fn thousand_clients() {
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let lim = getrlimit(Resource::Nofile);
        if lim.current != lim.maximum {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: lim.maximum,
                    maximum: lim.maximum,
                },
            )
            .expect("raise RLIMIT_NOFILE to the hard limit");
        }
        let lim = getrlimit(Resource::Nofile);
        if let Some(n) = lim.current {
            assert!(
                n >= CLIENTS as u64 + 100,
                "RLIMIT_NOFILE hard limit {n} is too low for {CLIENTS} clients"
            );
        }
    }
    let started = Instant::now();
    let (server, addr) = start_chat(Backend::Epoll);
    let mut guard = Guard {
        deadline: Instant::now() + BIG_HANG_GUARD,
        last_progress: Instant::now(),
    };
    let mut map = Map::new();
    let mut clients: Vec<Received> = (0..CLIENTS)
        .map(|i| {
            let lines = Rc::new(RefCell::new(Vec::new()));
            let client = ChatClient {
                lines: lines.clone(),
                ..ChatClient::default()
            };
            let token = map
                .connect(&Addr::from(addr), AsyncChat::with_terminator(client, b"\n"))
                .unwrap_or_else(|e| panic!("connect client {i}: {e}"));
            Received::new(lines, token)
        })
        .collect();

    // Phase 1: every client is welcomed, so every one is a member.
    let no_guests = vec![usize::MAX; CLIENTS + 1];
    while clients.iter().any(|c| c.guest.is_none()) {
        pump(&mut map, &mut clients, &no_guests, "joining", &mut guard);
    }
    let mut client_of_guest = vec![usize::MAX; CLIENTS + 1];
    for (i, c) in clients.iter().enumerate() {
        let g = c.guest.expect("welcomed");
        assert_eq!(
            client_of_guest[g],
            usize::MAX,
            "guest{g} welcomed twice (clients {} and {i})",
            client_of_guest[g]
        );
        client_of_guest[g] = i;
    }
    let joined = started.elapsed();

    // Phase 2: each client renames itself, then sends K lines.
    let phase2 = Instant::now();
    guard.last_progress = phase2;
    for (i, c) in clients.iter().enumerate() {
        AsyncChat::<ChatClient>::with_chat(&mut map, c.token, |_, chat| -> io::Result<()> {
            chat.push(format!("/nick c{i}\n").as_bytes())?;
            for seq in 0..K {
                chat.push(format!("m {i} {seq}\n").as_bytes())?;
            }
            Ok(())
        })
        .unwrap_or_else(|| panic!("client {i} is gone"))
        .unwrap_or_else(|e| panic!("push to client {i}: {e}"));
    }
    let want = (CLIENTS - 1) * K;
    while clients.iter().any(|c| c.messages < want) {
        pump(
            &mut map,
            &mut clients,
            &client_of_guest,
            "messages",
            &mut guard,
        );
    }
    // A few more passes, so that a duplicate or stray line would show up too.
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        if let Err(e) = map.poll_once(Some(Duration::from_millis(50)), Backend::Epoll) {
            panic!("settling: the loop failed: {e}");
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        if let Err(e) = c.drain(i, &client_of_guest) {
            panic!("after every message arrived: {e}");
        }
    }
    let delivered = phase2.elapsed();
    for (i, c) in clients.iter().enumerate() {
        let g = c.guest.expect("welcomed");
        assert_eq!(
            c.joins,
            CLIENTS - g,
            "client {i} (guest{g}) saw {} joins",
            c.joins
        );
        assert_eq!(c.renames, CLIENTS - 1, "client {i}: rename notices");
        assert!(c.own_rename, "client {i} never got `* you are now c{i}`");
        assert_eq!(c.messages, want, "client {i}: messages");
        for (j, &n) in c.next_seq.iter().enumerate() {
            let expected = if j == i { 0 } else { K as u8 };
            assert_eq!(n, expected, "client {i} got {n} messages from c{j}");
        }
    }
    assert_eq!(map.len(), CLIENTS, "a client channel was closed");
    eprintln!(
        "thousand_clients: {CLIENTS} joined in {joined:?}, {} messages delivered in \
         {delivered:?}, {} passes",
        CLIENTS * want,
        map.passes()
    );
    map.close_all();
    stop_chat(server);
}

// ===== 2. Python asynchat clients and our chat server =====

/// Two `asynchat.async_chat` clients, A and B, in one Python loop. Both join; A becomes
/// alice and B bob; A sends the lines given (hex) as arguments; once B has as many
/// messages, B says `thanks alice` and `/quit`; A waits for `* bob left`. Prints every
/// line each received as `A <hex>` / `B <hex>`, then `B closed`; exits 1 on an error,
/// 3 on its own timeout.
const ASYNCHAT_CHAT_CLIENTS: &str = r#"
import asynchat, asyncore, socket, sys, time, traceback

host, port = sys.argv[1], int(sys.argv[2])
use_poll = sys.argv[3] == "poll"
to_send = [bytes.fromhex(h) for h in sys.argv[4:]]
errors = []

class Client(asynchat.async_chat):
    def __init__(self, name):
        asynchat.async_chat.__init__(self)
        self.name = name
        self.set_terminator(b"\n")
        self.ibuffer = []
        self.lines = []
        self.closed = False
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))

    def collect_incoming_data(self, data):
        self.ibuffer.append(data)

    def found_terminator(self):
        self.lines.append(b"".join(self.ibuffer))
        self.ibuffer = []
        step()

    def handle_close(self):
        self.closed = True
        self.close()
        step()

    def handle_error(self):
        errors.append("%s: %s" % (self.name, traceback.format_exc()))
        self.close()

    def messages(self):
        return [l for l in self.lines if not l.startswith(b"* ")]

a = Client("A")
b = Client("B")
stage = 0

def step():
    global stage
    if stage == 0 and a.lines and b.lines:
        a.push(b"/nick alice\n")
        b.push(b"/nick bob\n")
        stage = 1
    if stage == 1 and b"* you are now alice" in a.lines and b"* you are now bob" in b.lines:
        for line in to_send:
            a.push(line + b"\n")
        stage = 2
    if stage == 2 and len(b.messages()) >= len(to_send):
        b.push(b"thanks alice\n/quit\n")
        stage = 3
    if stage == 3 and b.closed and b"* bob left" in a.lines:
        a.close()
        stage = 4

deadline = time.monotonic() + 20
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, count=1)
for name, c in (("A", a), ("B", b)):
    for line in c.lines:
        print("%s %s" % (name, line.hex()))
if b.closed:
    print("B closed")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
if asyncore.socket_map or stage != 4:
    print("timed out at stage %d" % stage, file=sys.stderr)
    sys.exit(3)
"#;

#[test]
fn python_asynchat_client_talks_to_chat_server() {
    if !python_with_asynchat() {
        return;
    }
    let sent: Vec<Vec<u8>> = vec![
        b"hello bob".to_vec(),
        pseudo_random(3000, 77, true),
        "h\u{e9}llo w\u{f6}rld \u{2713} \u{65e5}\u{672c}\u{8a9e} \u{1f389}"
            .as_bytes()
            .to_vec(),
        b"/nickname is a message, not a command".to_vec(),
        b"tab\tand spaces   ".to_vec(),
        b"last line".to_vec(),
    ];
    for backend in Backend::ALL {
        let (server, addr) = start_chat(backend);
        let mut args = vec![
            addr.ip().to_string(),
            addr.port().to_string(),
            python_use_poll(backend).to_string(),
        ];
        args.extend(sent.iter().map(|l| hex(l)));
        let mut py = Proc::spawn(
            "python asynchat chat clients",
            support::python_script(ASYNCHAT_CHAT_CLIENTS, &args),
        );
        let out = py.finish(HANG_GUARD + Duration::from_secs(10));
        assert!(
            out.success(),
            "on {backend}: the Python clients failed\n{}",
            out.transcript()
        );
        let mut a = Vec::new();
        let mut b = Vec::new();
        for line in &out.stdout {
            match line.split_once(' ') {
                Some(("A", h)) => a.push(unhex(h)),
                Some(("B", h)) if h != "closed" => b.push(unhex(h)),
                _ => {}
            }
        }
        let ctx = || {
            format!(
                "on {backend}\nA got: {}\nB got: {}",
                a.iter().map(|l| show(l)).collect::<Vec<_>>().join("\n  "),
                b.iter().map(|l| show(l)).collect::<Vec<_>>().join("\n  ")
            )
        };
        assert!(
            out.stdout.iter().any(|l| l == "B closed"),
            "B was not closed after /quit: {}",
            ctx()
        );
        // B: exactly alice's lines, as `alice: ...`, in order; `* bye` last.
        let b_messages: Vec<&Vec<u8>> = b.iter().filter(|l| !l.starts_with(b"* ")).collect();
        let expected: Vec<Vec<u8>> = sent.iter().map(|l| [b"alice: ", &l[..]].concat()).collect();
        assert_eq!(
            b_messages,
            expected.iter().collect::<Vec<_>>(),
            "B's messages: {}",
            ctx()
        );
        assert!(
            b.first().is_some_and(|l| l.starts_with(b"* welcome guest")),
            "B's first line is not a welcome: {}",
            ctx()
        );
        assert!(
            b.contains(&b"* you are now bob".to_vec()),
            "B was not renamed: {}",
            ctx()
        );
        assert_eq!(b.last().map(|l| &l[..]), Some(&b"* bye"[..]), "{}", ctx());
        // A: bob's one message, then `* bob left` last.
        let a_messages: Vec<&Vec<u8>> = a.iter().filter(|l| !l.starts_with(b"* ")).collect();
        assert_eq!(
            a_messages,
            vec![&b"bob: thanks alice".to_vec()],
            "A's messages: {}",
            ctx()
        );
        assert!(
            a.iter()
                .any(|l| l.starts_with(b"* guest") && l.ends_with(b" is now bob")),
            "A did not see B's rename: {}",
            ctx()
        );
        assert_eq!(
            a.last().map(|l| &l[..]),
            Some(&b"* bob left"[..]),
            "{}",
            ctx()
        );
        stop_chat(server);
    }
}

// ===== 3. our chat channel, a Python asynchat line-echo server =====

/// An `asynchat.async_chat` line-echo server (`\r\n`): serves one connection, echoes
/// each line back with `\r\n`, and exits 0 once that connection closes, after printing
/// `lines N`. Exits 3 on its own timeout.
const ASYNCHAT_ECHO_SERVER: &str = r#"
import asynchat, asyncore, socket, sys, time

use_poll = sys.argv[1] == "poll"
state = {"lines": 0, "closed": False}

class Echo(asynchat.async_chat):
    def __init__(self, sock):
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\r\n")

    def collect_incoming_data(self, data):
        self._collect_incoming_data(data)

    def found_terminator(self):
        state["lines"] += 1
        self.push(self._get_data() + b"\r\n")

    def handle_close(self):
        state["closed"] = True
        self.close()
        server.close()

class Server(asyncore.dispatcher):
    def __init__(self):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", 0))
        self.listen(5)
        print("listening on %s:%d" % self.socket.getsockname())

    def handle_accepted(self, sock, addr):
        Echo(sock)

server = Server()
deadline = time.monotonic() + 20
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.5, use_poll=use_poll, count=1)
print("lines %d" % state["lines"])
if not state["closed"]:
    print("timed out before the client closed", file=sys.stderr)
    sys.exit(3)
"#;

/// How one line goes out.
enum Send {
    /// `line` and `\r\n` in one push.
    Whole(Vec<u8>),
    /// `line` and `\r\n`, one push per byte.
    Bytewise(Vec<u8>),
    /// `COUNT n`: the echo of the next line (n bytes) is read in counted mode, `\r\n`
    /// included, then the terminator goes back to `\r\n`.
    Count(usize),
}

#[derive(Debug, Default)]
struct EchoOutcome {
    records: Vec<Vec<u8>>,
    connected: bool,
    close_event: Option<String>,
    error: Option<String>,
}

/// Sends the plan at connect; records every echoed record; closes once it has them all.
struct LineEchoClient {
    plan: Vec<Send>,
    expected: usize,
    counted: bool,
    outcome: Rc<RefCell<EchoOutcome>>,
}

impl ChatHandler for LineEchoClient {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        self.outcome.borrow_mut().connected = true;
        chat.set_max_collect(1 << 20);
        for s in std::mem::take(&mut self.plan) {
            match s {
                Send::Whole(l) => chat.push(&[&l[..], b"\r\n"].concat())?,
                Send::Bytewise(l) => {
                    for b in l.iter().chain(b"\r\n") {
                        chat.push(&[*b])?;
                    }
                }
                Send::Count(n) => chat.push(format!("COUNT {n}\r\n").as_bytes())?,
            }
        }
        Ok(())
    }

    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        chat.collect(data)?;
        Ok(())
    }

    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        let record = chat.take_collected();
        if std::mem::take(&mut self.counted) {
            chat.set_terminator(b"\r\n");
        } else if let Some(n) = record.strip_prefix(b"COUNT ") {
            let n: usize = String::from_utf8_lossy(n)
                .parse()
                .map_err(asyncore_runtime::Error::other)?;
            chat.set_terminator(n + 2);
            self.counted = true;
        }
        let mut o = self.outcome.borrow_mut();
        o.records.push(record);
        if o.records.len() == self.expected {
            chat.close();
        }
        Ok(())
    }

    fn handle_close(&mut self, chat: &mut Chat<'_, '_>, reason: Option<io::Error>) -> Result {
        self.outcome.borrow_mut().close_event = Some(format!("{reason:?}"));
        chat.close();
        Ok(())
    }

    fn handle_error(&mut self, chat: &mut Chat<'_, '_>, err: asyncore_runtime::Error) -> Result {
        self.outcome.borrow_mut().error = Some(err.to_string());
        chat.close();
        Ok(())
    }
}

fn chat_channel_with_python_echo(backend: Backend) {
    let mut server = Proc::spawn(
        "python asynchat line-echo server",
        support::python_script(ASYNCHAT_ECHO_SERVER, [python_use_poll(backend)]),
    );
    let addr = server.listening_addr();

    let counted_line = b"read in counted mode: \r and \n stay data".to_vec();
    let mut plan = vec![
        Send::Whole(b"hello from asyncore-runtime".to_vec()),
        Send::Whole(Vec::new()),
        Send::Whole(pseudo_random(10 * 1024, 10 + backend as u64, true)),
        Send::Bytewise(b"split into one push per byte".to_vec()),
        Send::Bytewise(Vec::new()),
        Send::Whole((0..=255u8).collect()), // no \r\n in it: 10 comes before 13
        Send::Count(counted_line.len()),
        Send::Whole(counted_line.clone()),
        Send::Whole(b"back to lines".to_vec()),
        Send::Whole(pseudo_random(200 * 1024, 20 + backend as u64, true)),
    ];
    plan.extend((0..300).map(|i| Send::Whole(format!("line {i} {}", ".".repeat(i)).into_bytes())));
    plan.push(Send::Bytewise(b"bye".to_vec()));
    let mut expected: Vec<Vec<u8>> = Vec::new();
    let mut counted = false;
    for s in &plan {
        let line = match s {
            Send::Whole(l) | Send::Bytewise(l) => l.clone(),
            Send::Count(n) => format!("COUNT {n}").into_bytes(),
        };
        if std::mem::take(&mut counted) {
            expected.push([&line[..], b"\r\n"].concat());
        } else {
            expected.push(line);
        }
        counted = matches!(s, Send::Count(_));
    }

    let outcome = Rc::new(RefCell::new(EchoOutcome::default()));
    let mut map = Map::new();
    let token = map
        .connect(
            &Addr::from(addr),
            AsyncChat::with_terminator(
                LineEchoClient {
                    plan,
                    expected: expected.len(),
                    counted: false,
                    outcome: outcome.clone(),
                },
                b"\r\n",
            ),
        )
        .expect("connect to the Python server");
    let hung = Rc::new(RefCell::new(false));
    let flag = hung.clone();
    map.call_later(HANG_GUARD, move |m| {
        *flag.borrow_mut() = true;
        m.stop();
    });
    let result = map.run_with(Some(Duration::from_secs(1)), backend, Some(1_000_000));
    let o = outcome.borrow();
    let progress = format!(
        "connected: {}, {} of {} records, close event: {:?}, error: {:?}, passes: {}",
        o.connected,
        o.records.len(),
        expected.len(),
        o.close_event,
        o.error,
        map.passes()
    );
    if let Err(e) = &result {
        panic!("on {backend}: the loop failed: {e} ({progress})");
    }
    assert!(
        !*hung.borrow(),
        "on {backend}: hang guard fired ({progress})"
    );
    assert!(
        !map.contains(token),
        "on {backend}: the channel is still open ({progress})"
    );
    assert_eq!(o.error, None, "on {backend}: {progress}");
    assert_eq!(o.close_event, None, "on {backend}: {progress}");
    for (k, (got, want)) in o.records.iter().zip(&expected).enumerate() {
        assert!(
            got == want,
            "on {backend}: record {k} is {}, sent {}",
            show(got),
            show(want)
        );
    }
    assert_eq!(o.records.len(), expected.len(), "on {backend}: {progress}");

    let out = server.finish(HANG_GUARD);
    assert!(
        out.success(),
        "on {backend}: the Python server failed\n{}",
        out.transcript()
    );
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some(format!("lines {}", expected.len()).as_str()),
        "on {backend}: the Python server saw a different number of lines\n{}",
        out.transcript()
    );
}

#[test]
fn our_chat_channel_talks_to_python_asynchat_server() {
    if !python_with_asynchat() {
        return;
    }
    for backend in Backend::ALL {
        chat_channel_with_python_echo(backend);
    }
}

// ===== 4. bad input =====

/// A chat member on a plain blocking socket.
struct Member {
    name: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Member {
    /// Connect and read the welcome line; `guest` and `online` are what it must say.
    fn join(addr: SocketAddr, guest: usize, online: usize) -> Member {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        s.set_read_timeout(Some(HANG_GUARD)).unwrap();
        let writer = s.try_clone().unwrap();
        let mut m = Member {
            name: format!("guest{guest}"),
            reader: BufReader::new(s),
            writer,
        };
        m.expect(format!("* welcome guest{guest}, {online} online").as_bytes());
        m
    }

    fn send(&mut self, data: &[u8]) {
        self.writer
            .write_all(data)
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.name));
    }

    /// The next line, without its `\n`; `what` describes it for failure messages.
    fn line(&mut self, what: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(_) if buf.last() == Some(&b'\n') => {
                buf.pop();
                buf
            }
            Ok(_) => panic!(
                "{}: the connection ended (after {}) while {what} was expected",
                self.name,
                show(&buf)
            ),
            Err(e) => panic!(
                "{}: no line within {HANG_GUARD:?} ({e}); expected {what}",
                self.name
            ),
        }
    }

    /// The next line must be `want`.
    fn expect(&mut self, want: &[u8]) {
        let got = self.line(&show(want));
        assert!(
            got == want,
            "{}: got {}, expected {}",
            self.name,
            show(&got),
            show(want)
        );
    }

    /// The next line must start with `prefix`.
    fn expect_prefix(&mut self, prefix: &[u8]) {
        let got = self.line(&format!("a line starting with {}", show(prefix)));
        assert!(
            got.starts_with(prefix),
            "{}: got {}, expected a line starting with {}",
            self.name,
            show(&got),
            show(prefix)
        );
    }

    /// The server must close the connection now.
    fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "{}: more data before the close: {}",
                self.name,
                show(&rest)
            ),
            Err(e) => panic!("{}: not closed within {HANG_GUARD:?}: {e}", self.name),
        }
    }
}

fn bad_input(backend: Backend) {
    let (server, addr) = start_chat(backend);
    let too_long = format!("* line too long (the limit is {MAX_LINE} bytes)");
    let too_long = too_long.as_bytes();
    let invalid = b"* invalid nickname: ";

    let mut w = Member::join(addr, 1, 1);
    let mut x = Member::join(addr, 2, 2);
    w.expect(b"* guest2 joined");

    // An over-long line is refused with a notice; nothing of it is broadcast, and the
    // member stays usable.
    let mut long = vec![b'a'; 5000];
    long.push(b'\n');
    x.send(&long);
    x.expect(too_long);
    x.send(b"still here\n");
    w.expect(b"guest2: still here");

    // The limit itself is accepted, with `\n` or `\r\n`.
    let max = pseudo_random(MAX_LINE, 4, true);
    x.send(&[&max[..], b"\n"].concat());
    w.expect(&[&b"guest2: "[..], &max].concat());
    x.send(&[&max[..], b"\r\n"].concat());
    w.expect(&[&b"guest2: "[..], &max].concat());

    // 100 KB without a newline, in pieces, then the newline; then an over-long line
    // followed by a good one in the same write.
    let blob = pseudo_random(100 * 1024, 5, true);
    for piece in blob.chunks(7000) {
        x.send(piece);
    }
    x.send(b"\n");
    x.expect(too_long);
    x.send(&[&vec![b'b'; 6000][..], b"\nafter the long one\n"].concat());
    x.expect(too_long);
    w.expect(b"guest2: after the long one");

    // Invalid nicknames get an error line; a taken one another; nothing is broadcast.
    let bad_nicks: Vec<Vec<u8>> = vec![
        b"/nick".to_vec(),
        b"/nick ".to_vec(),
        b"/nick *star".to_vec(),
        format!("/nick {}", "n".repeat(33)).into_bytes(),
        "/nick h\u{e9}llo".as_bytes().to_vec(),
        b"/nick two words".to_vec(),
        b"/nick a\0b".to_vec(),
        b"/nick \xff\xfe".to_vec(),
    ];
    for nick in &bad_nicks {
        x.send(&[&nick[..], b"\n"].concat());
        x.expect_prefix(invalid);
    }
    x.send(b"/nick guest1\n");
    x.expect(b"* nickname guest1 is taken");
    x.send(format!("/nick {}\n", "x".repeat(32)).as_bytes());
    x.expect(format!("* you are now {}", "x".repeat(32)).as_bytes());
    w.expect(format!("* guest2 is now {}", "x".repeat(32)).as_bytes());
    x.send(b"/nick xavier\n");
    x.expect(b"* you are now xavier");
    w.expect(format!("* {} is now xavier", "x".repeat(32)).as_bytes());
    x.send(b"/nickname\n");
    w.expect(b"xavier: /nickname");

    // Binary garbage, NULs and invalid UTF-8: relayed as bytes, the server survives.
    let garbage = b"\x00\xff\xfe\x80garbage\x00\xc3\x28\x01\x7f\r\x00".to_vec();
    x.send(&[&garbage[..], b"\n"].concat());
    w.expect(&[&b"xavier: "[..], &garbage].concat());
    x.send(b"\n");
    w.expect(b"xavier: ");
    let mut binary = pseudo_random(64 * 1024, 6, false);
    binary.retain(|&b| b != b'\n');
    x.send(&binary);
    x.send(b"\n");
    x.expect(too_long);
    w.send(b"ping\n");
    x.expect(b"guest1: ping");

    // A member that leaves in the middle of a line is announced as left; the partial
    // line goes nowhere.
    let mut y = Member::join(addr, 3, 3);
    w.expect(b"* guest3 joined");
    x.expect(b"* guest3 joined");
    y.send(b"half a line and then");
    drop(y);
    w.expect(b"* guest3 left");
    x.expect(b"* guest3 left");
    // The same in the middle of an over-long line.
    let mut z = Member::join(addr, 4, 3);
    w.expect(b"* guest4 joined");
    x.expect(b"* guest4 joined");
    z.send(&pseudo_random(10 * 1024, 7, true));
    drop(z);
    w.expect(b"* guest4 left");
    x.expect(b"* guest4 left");

    // Everyone left is unaffected.
    w.send(b"still talking\n");
    x.expect(b"guest1: still talking");
    x.send(b"bye all\n");
    w.expect(b"xavier: bye all");
    x.send(b"/quit\n");
    x.expect(b"* bye");
    x.expect_eof();
    w.expect(b"* xavier left");
    stop_chat(server);
}

#[test]
fn chat_bad_input() {
    for backend in Backend::ALL {
        bad_input(backend);
    }
}

// ===== 5. the chat-client binary =====

/// A child whose standard input the test writes; stdout arrives line by line.
struct Interactive {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    done: bool,
}

impl Interactive {
    fn spawn(name: &str, mut cmd: Command) -> Interactive {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Interactive {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
            done: false,
        }
    }

    fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(data)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: write to stdin: {e}", self.name));
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{stderr}",
            self.seen.join("\n")
        )
    }

    /// Wait for the stdout line `want` (other lines are kept).
    fn expect_line(&mut self, want: &str) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line == want {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let t = self.kill();
                    panic!("{}: no `{want}` on stdout; killed it\n{t}", self.name);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let t = self.kill();
                    panic!("{}: stdout closed before `{want}`\n{t}", self.name);
                }
            }
        }
    }

    /// Wait (bounded) for the exit; require status 0.
    fn expect_exit_0(&mut self) {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let t = self.kill();
                    panic!("{}: still running; killed it\n{t}", self.name);
                }
                Err(e) => panic!("{}: wait: {e}", self.name),
            }
        };
        self.done = true;
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        assert!(
            status.code() == Some(0),
            "{}: {}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
            self.name,
            support::describe(status),
            self.seen.join("\n")
        );
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn chat_client_binary() {
    let (server, addr) = start_chat(Backend::Epoll);
    let mut m = Member::join(addr, 1, 1);
    let mut cmd = Command::new(support::example_binary("chat-client"));
    cmd.args(["--connect", &addr.to_string()]);
    let mut client = Interactive::spawn("chat-client", cmd);
    client.expect_line("* welcome guest2, 2 online");
    m.expect(b"* guest2 joined");

    client.write(b"hello from stdin\nsecond line\n");
    m.expect(b"guest2: hello from stdin");
    m.expect(b"guest2: second line");
    m.send(b"hi chat-client\n");
    client.expect_line("guest1: hi chat-client");

    // A last line without waiting, then end of input: it is sent before the client
    // closes and exits 0.
    client.write(b"last words\n");
    client.close_stdin();
    client.expect_exit_0();
    m.expect(b"guest2: last words");
    m.expect(b"* guest2 left");
    stop_chat(server);
}
