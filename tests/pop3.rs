//! The POP3 examples (`examples/pop3_server.rs`, `examples/pop3_client.rs`) against real
//! peers:
//!
//! * Python's `poplib` runs a whole session against `pop3-server`: `CAPA`, `STAT` before
//!   login, a wrong password and a wrong user, a second session refused with
//!   `[IN-USE]`, `LIST`, `UIDL`, `TOP`, `RETR` of messages with lines starting with dots
//!   and of one stored with bare LF (byte-exact), `DELE`, `RSET`, `DELE` again, and a
//!   `QUIT` that removes the files; a new session sees the rest, with the same ids;
//! * `mpop` downloads every message that `swaks` delivered through
//!   `smtp-server --maildir` (one with lines starting with dots, one of 300 KB) from
//!   `pop3-server` on the same directory, byte for byte, pipelining its commands, and
//!   deletes them;
//! * `pop3-client` against Dovecot's POP3 server (`dovecot-pop3d`, with a configuration
//!   of its own in a temporary directory; when we are not root it cannot switch users,
//!   and the test says so and uses `pop3-server` instead) and against `pop3-server`:
//!   `list`, `retr` byte-exact, `dele`, and the server's `-ERR` text on failures;
//! * bad input to `pop3-server` (over-long lines, unknown commands, commands out of
//!   state, malformed arguments, missing messages, too many failed logins, a client that
//!   says nothing until the idle timeout closes it) gets `-ERR` or a close, removes
//!   nothing without `QUIT`, and another connection keeps being served, on every
//!   backend.
//!
//! The tests print `skipping: ...` and pass when a peer is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use asyncore_examples::pop3_server::maildrop::{normalize, top};
use asyncore_runtime::Backend;

use support::peers::{find_program, free_port};
use support::{run_named, Finished, Proc, TempDir, HANG_GUARD};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret pass";

// ===== helpers =====

/// Starts pop3-server on 127.0.0.1:0 with `backend` on `maildir` for USER/PASSWORD.
fn start_server(backend: Backend, maildir: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    let mut flags: Vec<std::ffi::OsString> = vec![
        "--maildir".into(),
        maildir.into(),
        "--user".into(),
        USER.into(),
        "--password".into(),
        PASSWORD.into(),
    ];
    flags.extend(extra.iter().map(Into::into));
    support::start_server("pop3-server", backend.name(), &flags)
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

fn show(b: &[u8]) -> String {
    let s = b.escape_ascii().to_string();
    if s.len() > 600 {
        format!("{}... ({} bytes)", &s[..600], b.len())
    } else {
        s
    }
}

fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: not byte-exact\n got: {}\nwant: {}",
        show(got),
        show(want)
    );
}

/// The `.eml` files of `dir`, sorted.
fn messages(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list the maildir")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".eml") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// `text` with every CRLF made LF: how mpop hands a message to its delivery program.
fn crlf_to_lf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

// ===== a raw POP3 connection =====

/// A POP3 connection driven line by line, for bad input.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects and reads the greeting, which must be `+OK`.
    fn connect(addr: SocketAddr) -> Raw {
        let mut raw = Raw::connect_quiet(addr);
        let greeting = raw.line().expect("a greeting");
        assert!(greeting.starts_with("+OK"), "greeting: {greeting}");
        raw
    }

    fn connect_quiet(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect to pop3-server");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to pop3-server");
    }

    /// The next line without its CRLF, or `None` if the server closed first.
    fn line(&mut self) -> Option<String> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            if !support::read_more(&mut self.stream, &mut self.buf, deadline, "pop3-server") {
                assert!(
                    self.buf.is_empty(),
                    "pop3-server closed in the middle of a line: {}",
                    show(&self.buf)
                );
                return None;
            }
        }
    }

    /// Sends `command` with CRLF; returns the reply line.
    fn command(&mut self, command: &str) -> String {
        self.send(format!("{command}\r\n").as_bytes());
        self.line()
            .unwrap_or_else(|| panic!("pop3-server closed instead of answering {command}"))
    }

    /// Sends `command`; the reply must start with `want`.
    fn expect(&mut self, command: &str, want: &str) -> String {
        let reply = self.command(command);
        assert!(
            reply.starts_with(want),
            "{}: expected `{want}...`, got `{reply}`",
            show(command.as_bytes())
        );
        reply
    }

    /// Sends `command`; the reply must be `+OK` and a listing: its lines, unstuffed.
    fn listing(&mut self, command: &str) -> Vec<String> {
        self.expect(command, "+OK");
        let mut lines = Vec::new();
        loop {
            let line = self.line().expect("the rest of the listing");
            if line == "." {
                return lines;
            }
            lines.push(line.strip_prefix('.').unwrap_or(&line).to_string());
        }
    }

    fn login(&mut self) {
        self.expect(&format!("USER {USER}"), "+OK");
        self.expect(&format!("PASS {PASSWORD}"), "+OK");
    }

    /// The server closes the connection; what it sent before, line by line.
    fn expect_close(&mut self, after: &str) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(l) = self.line() {
            lines.push(l);
            assert!(
                lines.len() < 10_000,
                "after {after}: pop3-server keeps sending instead of closing"
            );
        }
        lines
    }
}

// ===== Python's poplib =====

const POPLIB_SCRIPT: &str = r#"
import poplib, sys
host, port, user, password, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def attempt(f, *args):
    try:
        r = f(*args)
        return "ok " + (r.decode() if isinstance(r, bytes) else r[0].decode())
    except poplib.error_proto as e:
        return "err " + e.args[0].decode()

def save(name, lines):
    with open(out + "/" + name, "wb") as f:
        f.write(b"".join(l + b"\r\n" for l in lines))

p = poplib.POP3(host, port, timeout=20)
print("welcome", p.getwelcome().decode())
print("capa", " ".join(sorted(p.capa())))
print("stat-before-login", attempt(p.stat))
p.user(user)
print("bad-password", attempt(p.pass_, "wrong"))
p.user("mallory")
print("bad-user", attempt(p.pass_, password))
print("user", p.user(user).decode())
print("pass", p.pass_(password).decode())
q = poplib.POP3(host, port, timeout=20)
q.user(user)
print("second-session", attempt(q.pass_, password))
q.quit()
print("stat", *p.stat())
print("list", *[l.decode() for l in p.list()[1]])
print("uidl", *[l.decode() for l in p.uidl()[1]])
print("list-one", p.list(2).decode())
print("uidl-one", p.uidl(2).decode())
save("top-4-2", p.top(4, 2)[1])
save("top-2-0", p.top(2, 0)[1])
count = p.stat()[0]
for n in range(1, count + 1):
    save("retr-%d" % n, p.retr(n)[1])
print("retr-missing", attempt(p.retr, 99))
print("dele", p.dele(1).decode())
print("retr-deleted", attempt(p.retr, 1))
print("dele-again", attempt(p.dele, 1))
print("stat-after-dele", *p.stat())
print("rset", p.rset().decode())
print("stat-after-rset", *p.stat())
print("dele-two", p.dele(1).decode(), "/", p.dele(2).decode())
print("noop", p.noop().decode())
print("quit", p.quit().decode())
p = poplib.POP3(host, port, timeout=20)
p.user(user)
p.pass_(password)
print("new-stat", *p.stat())
print("new-uidl", *[l.decode() for l in p.uidl()[1]])
save("new-retr-1", p.retr(1)[1])
print("new-quit", p.quit().decode())
"#;

/// The messages of the poplib session, as stored: plain, dot lines, bare LF without a
/// last line end, and a longer one for `TOP`.
fn poplib_messages() -> Vec<(&'static str, Vec<u8>)> {
    let long: Vec<u8> = b"From: a@example.org\r\nSubject: long\r\n\r\n"
        .iter()
        .copied()
        .chain((0..50).flat_map(|i| format!("body line {i}\r\n").into_bytes()))
        .collect();
    vec![
        (
            "0000000001AAAAAA00000001",
            b"From: a@example.org\r\nSubject: plain\r\n\r\nHello.\r\n".to_vec(),
        ),
        (
            "0000000001AAAAAA00000002",
            b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\n. \r\nend\r\n".to_vec(),
        ),
        (
            "0000000001AAAAAA00000003",
            b"Subject: bare LF\n\nline one\n.dot\n\nno final newline".to_vec(),
        ),
        ("0000000001AAAAAA00000004", long),
    ]
}

#[test]
fn poplib_runs_a_whole_session() {
    if !support::require_peer("python3 with poplib", support::python_has_module("poplib")) {
        return;
    }
    let maildir = TempDir::new("pop3-poplib-maildir");
    let out = TempDir::new("pop3-poplib-out");
    let stored = poplib_messages();
    for (id, data) in &stored {
        maildir.file(&format!("{id}.eml"), data);
    }
    // Not messages: a temporary file of smtp-server's and another file.
    maildir.file(".0000000001AAAAAA00000005.tmp", b"Subject: partial\r\n");
    maildir.file("notes.txt", b"not a message\r\n");
    let served: Vec<Vec<u8>> = stored
        .iter()
        .map(|(_, d)| normalize(d).into_owned())
        .collect();
    let (server, addr) = start_server(Backend::default(), maildir.path(), &[]);
    let finished = support::peers::run_python(
        "python3 poplib",
        POPLIB_SCRIPT,
        &[
            addr.ip().to_string(),
            addr.port().to_string(),
            USER.to_string(),
            PASSWORD.to_string(),
            out.path().display().to_string(),
        ],
        HANG_GUARD,
    );
    let log = stop(server);
    assert!(
        finished.success(),
        "the poplib script failed\n{}\n--- pop3-server ---\n{}",
        finished.transcript(),
        log.stderr
    );
    let said = |key: &str| -> String {
        let prefix = format!("{key} ");
        finished
            .stdout
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{key}` line\n{}", finished.transcript()))
            .to_string()
    };
    assert!(said("welcome").starts_with("+OK"));
    assert_eq!(
        said("capa"),
        "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES TOP UIDL USER"
    );
    assert_eq!(
        said("stat-before-login"),
        "err -ERR command not valid in this state"
    );
    assert!(said("bad-password").starts_with("err -ERR [AUTH]"));
    assert!(said("bad-user").starts_with("err -ERR [AUTH]"));
    assert!(said("pass").starts_with("+OK"));
    assert!(
        said("second-session").starts_with("err -ERR [IN-USE]"),
        "{}",
        said("second-session")
    );
    let sizes: Vec<usize> = served.iter().map(Vec::len).collect();
    assert_eq!(
        said("stat"),
        format!("4 {}", sizes.iter().sum::<usize>()),
        "sizes count CRLF line ends"
    );
    let list: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} {s}", i + 1))
        .collect();
    assert_eq!(said("list"), list.join(" "));
    let uidl: Vec<String> = stored
        .iter()
        .enumerate()
        .map(|(i, (id, _))| format!("{} {id}", i + 1))
        .collect();
    assert_eq!(said("uidl"), uidl.join(" "));
    assert_eq!(said("list-one"), format!("+OK 2 {}", sizes[1]));
    assert_eq!(said("uidl-one"), format!("+OK {}", uidl[1]));
    let file = |name: &str| std::fs::read(out.path().join(name)).expect("a file poplib wrote");
    for (n, want) in served.iter().enumerate() {
        assert_bytes_eq(
            &file(&format!("retr-{}", n + 1)),
            want,
            &format!("RETR {}", n + 1),
        );
    }
    assert_bytes_eq(&file("top-4-2"), top(&served[3], 2), "TOP 4 2");
    assert_bytes_eq(&file("top-2-0"), b"Subject: dots\r\n\r\n", "TOP 2 0");
    assert!(said("retr-missing").starts_with("err -ERR no such message"));
    assert!(said("dele").starts_with("+OK"));
    assert_eq!(said("retr-deleted"), "err -ERR message 1 already deleted");
    assert_eq!(said("dele-again"), "err -ERR message 1 already deleted");
    assert_eq!(
        said("stat-after-dele"),
        format!("3 {}", sizes[1..].iter().sum::<usize>())
    );
    assert_eq!(
        said("stat-after-rset"),
        format!("4 {}", sizes.iter().sum::<usize>())
    );
    assert!(said("quit").starts_with("+OK"));
    // QUIT removed the two messages marked deleted, and only those.
    let left: Vec<String> = stored[2..]
        .iter()
        .map(|(id, _)| format!("{id}.eml"))
        .collect();
    assert_eq!(messages(maildir.path()), left);
    assert_eq!(
        said("new-stat"),
        format!("2 {}", sizes[2..].iter().sum::<usize>())
    );
    assert_eq!(
        said("new-uidl"),
        format!("1 {} 2 {}", stored[2].0, stored[3].0),
        "the same unique ids in a new session"
    );
    assert_bytes_eq(&file("new-retr-1"), &served[2], "RETR 1 in the new session");
    assert!(said("new-quit").starts_with("+OK"));
    assert!(maildir
        .path()
        .join(".0000000001AAAAAA00000005.tmp")
        .exists());
    assert!(maildir.path().join("notes.txt").exists());
}

// ===== swaks, smtp-server, pop3-server and mpop =====

fn have_swaks() -> bool {
    support::require_peer("swaks", support::runs_ok("swaks", "--version"))
}

fn have_mpop() -> bool {
    support::require_peer("mpop", support::runs_ok("mpop", "--version"))
}

/// The DATA template given to swaks: headers, then its `%BODY%` token.
fn swaks_data(subject: &str) -> Vec<u8> {
    format!("From: <sender@example.org>\nTo: <{USER}@example.org>\nSubject: {subject}\n\n%BODY%")
        .into_bytes()
}

/// What swaks sends for `swaks_data(subject)` with `body`, dot-unstuffed: the headers,
/// the blank line and the body with CRLF line ends, and a CRLF after the last line.
fn swaks_expected(subject: &str, body: &[u8]) -> Vec<u8> {
    let mut want = format!(
        "From: <sender@example.org>\r\nTo: <{USER}@example.org>\r\nSubject: {subject}\r\n\r\n"
    )
    .into_bytes();
    for &b in body {
        if b == b'\n' {
            want.extend_from_slice(b"\r\n");
        } else {
            want.push(b);
        }
    }
    want.extend_from_slice(b"\r\n");
    want
}

/// The three bodies: plain, lines starting with dots (and 8-bit bytes), and 300 KB.
fn swaks_bodies() -> Vec<(String, Vec<u8>)> {
    let large: Vec<u8> = (0..4200)
        .flat_map(|i| {
            let dot = if i % 10 == 0 { "." } else { "" };
            format!("{dot}line {i:05} {}\n", "z".repeat(62)).into_bytes()
        })
        .collect();
    assert!(large.len() > 300_000);
    vec![
        ("plain".to_string(), b"Hello over POP3.".to_vec()),
        (
            "dots".to_string(),
            b"Lines that start with dots:\n.one dot\n..two dots\n.\n...\n\
Eight-bit: caf\xc3\xa9\nlast line"
                .to_vec(),
        ),
        (
            "large".to_string(),
            large[..large.len() - 1].to_vec(), // without the last newline
        ),
    ]
}

#[test]
fn mpop_downloads_what_swaks_delivered_through_smtp_server() {
    if !have_swaks() || !have_mpop() {
        return;
    }
    let maildir = TempDir::new("pop3-mpop-maildir");
    let files = TempDir::new("pop3-mpop-files");
    let delivered = TempDir::new("pop3-mpop-delivered");
    let (smtp, smtp_addr) = support::start_server(
        "smtp-server",
        Backend::default().name(),
        &["--maildir".as_ref(), maildir.path().as_os_str()],
    );
    let bodies = swaks_bodies();
    for (subject, body) in &bodies {
        let data = files.file(&format!("{subject}.data"), &swaks_data(subject));
        let body_file = files.file(&format!("{subject}.body"), body);
        let mut cmd = Command::new("swaks");
        cmd.args(["--server", &smtp_addr.ip().to_string()])
            .args(["--port", &smtp_addr.port().to_string()])
            .args(["--from", "sender@example.org"])
            .args(["--to", &format!("{USER}@example.org")])
            .arg("--data")
            .arg(format!("@{}", data.display()))
            .arg("--body")
            .arg(format!("@{}", body_file.display()))
            .arg("--suppress-data");
        let out = run_named("swaks", cmd);
        assert!(out.success(), "swaks failed\n{}", out.transcript());
    }
    stop(smtp);
    let stored = messages(maildir.path());
    assert_eq!(stored.len(), 3, "three messages stored: {stored:?}");
    for ((subject, body), name) in bodies.iter().zip(&stored) {
        let data = std::fs::read(maildir.path().join(name)).expect("read a stored message");
        assert_bytes_eq(
            &data,
            &swaks_expected(subject, body),
            &format!("{subject} as smtp-server stored it"),
        );
    }

    let (server, addr) = start_server(Backend::default(), maildir.path(), &[]);
    let script = files.file(
        "deliver.sh",
        format!(
            "#!/bin/sh\nexec cat > \"$(mktemp {}/msg.XXXXXXXX)\"\n",
            delivered.path().display()
        )
        .as_bytes(),
    );
    let mut cmd = Command::new("mpop");
    cmd.arg(format!("--host={}", addr.ip()))
        .arg(format!("--port={}", addr.port()))
        .args(["--auth=user", &format!("--user={USER}")])
        .arg(format!("--passwordeval=echo '{PASSWORD}'"))
        .args([
            "--tls=off",
            "--pipelining=auto",
            "--only-new=off",
            "--keep=off",
        ])
        .args(["--received-header=off", "--timeout=20"])
        .arg(format!(
            "--uidls-file={}",
            files.path().join("uidls").display()
        ))
        .arg(format!("--delivery=mda,/bin/sh {}", script.display()))
        .env("HOME", files.path());
    let out = run_named("mpop", cmd);
    let log = stop(server);
    assert!(
        out.success(),
        "mpop failed\n{}\n--- pop3-server ---\n{}",
        out.transcript(),
        log.stderr
    );
    // mpop hands each message to the delivery program unstuffed, with LF line ends.
    let mut got: Vec<Vec<u8>> = delivered
        .names()
        .iter()
        .map(|n| std::fs::read(delivered.path().join(n)).expect("read a delivered message"))
        .collect();
    let mut want: Vec<Vec<u8>> = bodies
        .iter()
        .map(|(subject, body)| crlf_to_lf(&swaks_expected(subject, body)))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got.len(),
        3,
        "three messages delivered\n{}",
        out.transcript()
    );
    for (g, w) in got.iter().zip(&want) {
        assert_bytes_eq(g, w, "a message mpop downloaded");
    }
    assert!(
        messages(maildir.path()).is_empty(),
        "mpop deleted every message it downloaded: {:?}",
        messages(maildir.path())
    );
}

// ===== pop3-client =====

/// Runs pop3-client against `addr` with `password` and `command`: exit code, standard
/// output (bytes) and standard error.
fn client(
    addr: SocketAddr,
    user: &str,
    password: &str,
    command: &[&str],
) -> (i32, Vec<u8>, String) {
    let mut args: Vec<String> = vec![
        "--connect".into(),
        addr.to_string(),
        "--user".into(),
        user.into(),
        "--password".into(),
        password.into(),
    ];
    args.extend(command.iter().map(|s| s.to_string()));
    support::run_raw(&support::example_binary("pop3-client"), &args, b"")
}

/// `list`, `retr 1` (byte-exact with `message`), a missing message, `dele 1` and `list`
/// again, against a server at `addr` whose maildrop holds `message` alone; `gone` tells
/// whether the message's file was removed.
fn client_session(
    addr: SocketAddr,
    user: &str,
    password: &str,
    message: &[u8],
    gone: impl Fn() -> bool,
) {
    let (code, out, err) = client(addr, user, password, &["list"]);
    assert_eq!(code, 0, "pop3-client list failed: {err}");
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("1 {}\n", message.len())
    );
    let (code, out, err) = client(addr, user, password, &["retr", "1"]);
    assert_eq!(code, 0, "pop3-client retr 1 failed: {err}");
    assert_bytes_eq(&out, message, "pop3-client retr 1");
    let (code, out, err) = client(addr, user, password, &["retr", "2"]);
    assert_ne!(code, 0, "retr of a missing message must fail");
    assert!(out.is_empty());
    assert!(
        err.contains("RETR 2: -ERR "),
        "the server's -ERR text on standard error: {err}"
    );
    let (code, _, err) = client(addr, user, "not the password", &["list"]);
    assert_ne!(code, 0, "a wrong password must fail");
    assert!(err.contains("PASS: -ERR "), "{err}");
    assert!(!gone(), "nothing removed yet");
    let (code, out, err) = client(addr, user, password, &["dele", "1"]);
    assert_eq!(code, 0, "pop3-client dele 1 failed: {err}");
    assert!(out.is_empty());
    assert!(gone(), "dele 1 removed the message");
    let (code, out, err) = client(addr, user, password, &["list"]);
    assert_eq!(code, 0, "pop3-client list failed: {err}");
    assert!(out.is_empty(), "{}", show(&out));
}

/// A message for the client tests: dot lines, an empty line, 8-bit bytes, a long line.
fn client_message() -> Vec<u8> {
    let mut m =
        b"From: b@example.org\r\nSubject: for pop3-client\r\n\r\n.dot\r\n..two\r\n.\r\n\r\n\
caf\xc3\xa9\r\n"
            .to_vec();
    m.extend_from_slice(&[b'w'; 990]);
    m.extend_from_slice(b"\r\nend\r\n");
    m
}

#[test]
fn pop3_client_against_pop3_server() {
    let maildir = TempDir::new("pop3-client-maildir");
    let message = client_message();
    let path = maildir.file("0000000002BBBBBB00000001.eml", &message);
    let (server, addr) = start_server(Backend::default(), maildir.path(), &[]);
    client_session(addr, USER, PASSWORD, &message, || !path.exists());
    stop(server);
}

// ===== Dovecot =====

fn dovecot_binary() -> Option<PathBuf> {
    find_program("dovecot", &["/usr/sbin/dovecot"])
}

/// Whether Dovecot's POP3 server is installed (`dovecot-pop3d`, with `dovecot-core`).
fn have_dovecot() -> bool {
    support::require_peer(
        "dovecot-pop3d (/usr/sbin/dovecot and its pop3 service)",
        dovecot_binary().is_some()
            && ["/usr/lib/dovecot/pop3", "/usr/lib/dovecot/pop3-login"]
                .iter()
                .all(|p| Path::new(p).is_file()),
    )
}

/// Whether a user exists (in `/etc/passwd`).
fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// Why Dovecot cannot run here, if it cannot: its master switches to the users of its
/// login and mail processes, which takes root, and those users must exist.
fn dovecot_cannot_run() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some(
            "Dovecot runs its login and mail processes as other users, which needs root".into(),
        );
    }
    for user in ["dovecot", "dovenull", "nobody"] {
        if !user_exists(user) {
            return Some(format!("the user `{user}` Dovecot runs as does not exist"));
        }
    }
    None
}

/// A Dovecot POP3 server on 127.0.0.1 and a free port, with a configuration of its own
/// in a temporary directory: one user (USER, PASSWORD in a passwd-file), mail as
/// `nobody` in a maildir, no TLS. Stopped with SIGTERM on drop.
struct Dovecot {
    process: Option<Proc>,
    addr: SocketAddr,
    dir: TempDir,
}

impl Dovecot {
    fn start() -> Dovecot {
        let dir = TempDir::new("pop3-dovecot");
        // The mail processes run as `nobody`: the maildir and home must be theirs to write.
        for sub in ["Maildir/new", "Maildir/cur", "Maildir/tmp", "home", "state"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create a directory");
        }
        chmod_all(dir.path());
        std::fs::write(
            dir.path().join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("write the passwd-file");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.file("dovecot.conf", dovecot_config(dir.path(), port).as_bytes());
            let log = dir.path().join("dovecot.log");
            let _ = std::fs::remove_file(&log);
            let mut cmd = Command::new(dovecot_binary().expect("dovecot is installed"));
            cmd.arg("-F").arg("-c").arg(&config);
            let process = Proc::spawn("dovecot", cmd);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline && !support::peers::pid_exited(process.pid()) {
                if greets(addr) {
                    return Dovecot {
                        process: Some(process),
                        addr,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut process = process;
            if !support::peers::pid_exited(process.pid()) {
                process.signal(rustix::process::Signal::TERM);
            }
            let out = process.finish(HANG_GUARD);
            last = format!(
                "{}\n--- dovecot.log ---\n{}",
                out.transcript(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("dovecot did not start\n{last}");
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            if !support::peers::pid_exited(p.pid()) {
                p.signal(rustix::process::Signal::TERM);
            }
            let _ = p.finish(HANG_GUARD);
        }
    }
}

/// Makes `dir` and everything under it readable and writable by anyone.
fn chmod_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if dir.is_dir() { 0o777 } else { 0o666 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    if dir.is_dir() {
        for e in std::fs::read_dir(dir).expect("list a directory") {
            chmod_all(&e.expect("an entry").path());
        }
    }
}

/// Whether a POP3 server at `addr` sends its `+OK` greeting.
fn greets(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 3];
    let ok = s.read_exact(&mut buf).is_ok() && &buf == b"+OK";
    let _ = s.write_all(b"QUIT\r\n");
    ok
}

/// Dovecot's configuration: everything it writes under `dir`, POP3 alone on
/// 127.0.0.1:`port` without TLS, plain passwords from `dir/users`, mail as `nobody` in
/// `dir/Maildir`.
fn dovecot_config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = asyncore-test-{port}
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
login_trusted_networks = 127.0.0.0/8
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{d}/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"#
    )
}

#[test]
fn pop3_client_against_dovecot() {
    if !have_dovecot() {
        return;
    }
    let message = client_message();
    if let Some(why) = dovecot_cannot_run() {
        eprintln!("dovecot cannot run here ({why}): running pop3-client against pop3-server");
        pop3_client_against_pop3_server();
        return;
    }
    let dovecot = Dovecot::start();
    let maildir = dovecot.maildir();
    let name = "1700000000.M1P1.asyncore-test";
    let path = maildir.join("new").join(name);
    std::fs::write(&path, &message).expect("put a message into the maildir");
    chmod_all(&maildir);
    // Dovecot moves a message it has seen from new/ to cur/ (adding flags to its name).
    let gone = || {
        ["new", "cur"].iter().all(|sub| {
            std::fs::read_dir(maildir.join(sub))
                .map(|d| {
                    !d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(name))
                })
                .unwrap_or(true)
        })
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client_session(dovecot.addr, USER, PASSWORD, &message, gone)
    }));
    if let Err(e) = result {
        eprintln!("--- dovecot.log ---\n{}", dovecot.log());
        std::panic::resume_unwind(e);
    }
}

// ===== bad input =====

/// A connection that stays open through the bad input and must keep being served.
fn witness_check(w: &mut Raw, after: &str) {
    let lines = w.listing("CAPA");
    assert!(
        lines.iter().any(|l| l == "UIDL"),
        "the witness's CAPA after {after}: {lines:?}"
    );
}

fn bad_input_gets_err_or_a_close(backend: Backend) {
    let maildir = TempDir::new("pop3-bad-maildir");
    let one = maildir.file("0000000003CCCCCC00000001.eml", b"Subject: one\r\n\r\n1\r\n");
    let two = maildir.file("0000000003CCCCCC00000002.eml", b"Subject: two\r\n\r\n2\r\n");
    let (server, addr) = start_server(backend, maildir.path(), &[]);
    let mut witness = Raw::connect(addr);
    witness_check(&mut witness, "the start");

    // Before login.
    let mut c = Raw::connect(addr);
    c.expect(&format!("NOOP {}", "x".repeat(600)), "-ERR line too long");
    c.send(format!("{}\r\n", "y".repeat(100_000)).as_bytes());
    assert_eq!(c.line().as_deref(), Some("-ERR line too long"));
    c.expect("FROB nicate", "-ERR unknown command");
    c.expect("STAT", "-ERR command not valid in this state");
    c.expect("RETR 1", "-ERR command not valid in this state");
    c.expect("DELE 1", "-ERR command not valid in this state");
    c.expect("PASS secret", "-ERR USER first");
    c.expect("APOP alice 0123456789abcdef0123456789abcdef", "-ERR");
    c.expect("USER", "-ERR");
    assert!(c.listing("CAPA").contains(&"USER".to_string()));
    witness_check(&mut witness, "bad input before login");

    // Logged in.
    c.login();
    c.expect("RETR 99", "-ERR no such message");
    c.expect("RETR 0", "-ERR no such message");
    c.expect("RETR abc", "-ERR syntax error");
    c.expect("RETR 99999999999999999999", "-ERR syntax error");
    c.expect("TOP 1", "-ERR");
    c.expect("LIST 3", "-ERR no such message");
    c.expect("UIDL 3", "-ERR no such message");
    c.expect("DELE 3", "-ERR no such message");
    c.expect("USER alice", "-ERR command not valid in this state");
    c.expect("PASS x", "-ERR command not valid in this state");
    c.expect(&format!("LIST {}", "1".repeat(600)), "-ERR line too long");
    c.expect("XTND XMIT", "-ERR unknown command");
    // A bare LF: an error for the line up to its CRLF.
    c.send(b"NOOP\nNOOP\r\n");
    assert!(c.line().is_some_and(|l| l.starts_with("-ERR")));
    c.expect("NOOP", "+OK");
    assert_eq!(c.listing("LIST"), ["1 19", "2 19"]);
    c.expect("DELE 1", "+OK");
    c.expect("DELE 1", "-ERR message 1 already deleted");
    // Gone without QUIT: nothing is removed, and the maildrop is free again.
    c.stream.shutdown(Shutdown::Write).expect("half-close");
    assert!(c.expect_close("a half-close").is_empty());
    assert!(one.exists() && two.exists());
    witness_check(&mut witness, "a client gone without QUIT");

    // QUIT before login removes nothing either.
    let mut c = Raw::connect(addr);
    c.expect("QUIT", "+OK");
    assert!(c.expect_close("QUIT").is_empty());

    // Too many failed logins: the last -ERR, then a close.
    let mut c = Raw::connect(addr);
    for _ in 0..2 {
        c.expect(&format!("USER {USER}"), "+OK");
        c.expect("PASS wrong", "-ERR [AUTH]");
    }
    c.expect(&format!("USER {USER}"), "+OK");
    c.expect("PASS wrong", "-ERR [AUTH]");
    assert!(c.expect_close("the third failed login").is_empty());

    // Garbage: only -ERR replies, then QUIT still works.
    for seed in 1..=3 {
        let mut c = Raw::connect(addr);
        let mut bytes = support::noise(20_000, seed);
        bytes.extend_from_slice(b"\r\nQUIT\r\n");
        c.send(&bytes);
        let lines = c.expect_close("garbage");
        let (last, rest) = lines.split_last().expect("at least the reply to QUIT");
        assert!(last.starts_with("+OK"), "{lines:?}");
        assert!(
            !rest.is_empty() && rest.iter().all(|l| l.starts_with("-ERR")),
            "{rest:?}"
        );
    }
    witness_check(&mut witness, "garbage");

    // The witness logs in (the maildrop was released), and QUIT removes what it deletes.
    witness.login();
    witness.expect("DELE 2", "+OK");
    witness.expect("QUIT", "+OK");
    assert!(witness.expect_close("QUIT").is_empty());
    assert!(one.exists() && !two.exists());
    stop(server);
}

on_every_backend!(bad_input_gets_err_or_a_close);

#[test]
fn a_silent_client_is_closed_after_the_idle_timeout() {
    let maildir = TempDir::new("pop3-idle-maildir");
    let message = maildir.file("0000000004DDDDDD00000001.eml", b"Subject: idle\r\n\r\n");
    let (server, addr) = start_server(Backend::default(), maildir.path(), &["--idle-timeout", "1"]);
    // Says nothing at all: the greeting, then the close.
    let mut c = Raw::connect_quiet(addr);
    let lines = c.expect_close("the idle timeout");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("+OK"), "{lines:?}");
    // Logged in, a message marked deleted, then silent: closed, and nothing removed.
    let mut c = Raw::connect(addr);
    c.login();
    c.expect("DELE 1", "+OK");
    assert!(c.expect_close("the idle timeout after login").is_empty());
    assert!(message.exists(), "the autologout timer removes nothing");
    // The maildrop was released.
    let mut c = Raw::connect(addr);
    c.login();
    c.expect("QUIT", "+OK");
    stop(server);
}

#[test]
fn limits_get_a_clear_err() {
    let maildir = TempDir::new("pop3-limits-maildir");
    maildir.file(
        "0000000005EEEEEE00000001.eml",
        b"Subject: small\r\n\r\nok\r\n",
    );
    maildir.file("0000000005EEEEEE00000002.eml", &[b'x'; 300]);
    // A line longer than any line POP3 lets the server send (64 KiB).
    let mut long = b"Subject: long line\r\n\r\n".to_vec();
    long.extend_from_slice(&[b'y'; 70_000]);
    long.extend_from_slice(b"\r\n");
    maildir.file("0000000005EEEEEE00000003.eml", &long);

    // More messages than --max-messages: the login is refused, and says why.
    let (server, addr) = start_server(Backend::default(), maildir.path(), &["--max-messages", "2"]);
    let mut c = Raw::connect(addr);
    c.expect(&format!("USER {USER}"), "+OK");
    let reply = c.expect(&format!("PASS {PASSWORD}"), "-ERR [SYS/PERM]");
    assert!(
        reply.contains("3 messages") && reply.contains("2"),
        "{reply}"
    );
    c.expect("QUIT", "+OK");
    stop(server);

    // A message over --max-size is listed, but not sent.
    let (server, addr) = start_server(Backend::default(), maildir.path(), &["--max-size", "200"]);
    let mut c = Raw::connect(addr);
    c.login();
    // A message over the limit is never read: its size is that of its file.
    assert_eq!(
        c.listing("LIST")[..2],
        ["1 22".to_string(), "2 300".to_string()]
    );
    let reply = c.expect("RETR 2", "-ERR [SYS/PERM]");
    assert!(reply.contains("larger than the 200 octets"), "{reply}");
    c.expect("TOP 2 0", "-ERR [SYS/PERM]");
    assert_eq!(c.listing("RETR 1"), ["Subject: small", "", "ok"]);
    c.expect("QUIT", "+OK");
    stop(server);

    // A message POP3 cannot carry (a line over 64 KiB) gets -ERR, and the session goes on.
    let (server, addr) = start_server(
        Backend::default(),
        maildir.path(),
        &["--max-size", "100KiB"],
    );
    let mut c = Raw::connect(addr);
    c.login();
    c.expect("RETR 3", "-ERR [SYS/PERM] the message cannot be sent");
    c.expect("NOOP", "+OK");
    assert_eq!(c.listing("TOP 3 0"), ["Subject: long line", ""]);
    c.expect("QUIT", "+OK");
    stop(server);
    assert_eq!(messages(maildir.path()).len(), 3);
}
