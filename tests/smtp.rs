//! The SMTP examples (`examples/smtp_server.rs`, `examples/smtp_client.rs`) against real
//! peers:
//!
//! * `swaks` delivers to `smtp-server` (several recipients, lines starting with dots,
//!   8-bit bytes, with and without `--pipeline`), and the stored file is the message as
//!   swaks meant it, byte for byte;
//! * Python's `smtplib` sends plain, dot-stuffed and 8-bit (`BODY=8BITMIME`) messages,
//!   with a null sender, refused recipients, a `SIZE` over the limit and a bare LF; the
//!   stored files are byte-exact and each refusal has its code;
//! * the `smtp-client` library and program send to `smtp-server` (byte-exact, pipelined
//!   or not, several loops) and to a Python `smtpd` server that records what it gets;
//! * bad input (an over-long line, an unknown command, commands out of sequence,
//!   malformed paths, a bare LF, garbage, a client gone in the middle of `DATA`) gets the
//!   right reply code or a close, never a panic, stores nothing, and another connection
//!   keeps being served, on every backend.
//!
//! The tests print `skipping: ...` and pass when a peer is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use asyncore_examples::smtp_client::{normalize_line_ends, send_mail, Options, SendError};
use asyncore_runtime::{Addr, Backend};

use support::{noise, run_named, Finished, Proc, TempDir, HANG_GUARD};

// ===== peers, processes and directories =====

fn have_swaks() -> bool {
    support::require_peer("swaks", support::runs_ok("swaks", "--version"))
}

fn have_smtplib() -> bool {
    support::require_peer(
        "python3 with smtplib",
        support::python_has_module("smtplib"),
    )
}

fn have_smtpd() -> bool {
    support::require_peer(
        "python3 with smtpd (Python 3.11 or older)",
        support::python_has_module("smtpd"),
    )
}

/// The messages stored in `dir` (`*.eml`), in queue id order (the order they were taken).
fn messages(dir: &TempDir) -> Vec<(String, Vec<u8>)> {
    dir.names()
        .into_iter()
        .filter(|n| n.ends_with(".eml"))
        .map(|n| {
            let data = std::fs::read(dir.path().join(&n)).expect("read a stored message");
            (n.trim_end_matches(".eml").to_string(), data)
        })
        .collect()
}

/// Starts smtp-server on 127.0.0.1:0 with `backend`, storing in `maildir` if given.
fn start_server(backend: Backend, maildir: Option<&Path>, extra: &[&str]) -> (Proc, SocketAddr) {
    let mut flags: Vec<std::ffi::OsString> = Vec::new();
    if let Some(dir) = maildir {
        flags.push("--maildir".into());
        flags.push(dir.into());
    }
    flags.extend(extra.iter().map(Into::into));
    support::start_server("smtp-server", backend.name(), &flags)
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// The queue id in a `250 ... queued as ID` line of `lines`.
fn queue_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.split("queued as ").nth(1))
        .map(|id| id.trim().to_string())
        .collect()
}

/// Shows bytes for a failure message: text, with escapes for anything else.
fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: not byte-exact\n got: {}\nwant: {}",
        show(got),
        show(want)
    );
}

// ===== a raw SMTP connection =====

/// A reply: its code and the text of each line.
#[derive(Debug)]
struct RawReply {
    code: u16,
    lines: Vec<String>,
}

/// An SMTP connection driven byte by byte, for bad input.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect to smtp-server");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        raw.expect(220, "the greeting");
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to smtp-server");
    }

    /// Reads more; false at end of input (or a reset: the server closed).
    fn fill(&mut self, deadline: Instant) -> bool {
        support::read_more(&mut self.stream, &mut self.buf, deadline, "smtp-server")
    }

    /// The next whole reply, or `None` if the server closed first.
    fn reply(&mut self) -> Option<RawReply> {
        let deadline = Instant::now() + HANG_GUARD;
        let mut lines = Vec::new();
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                let text = String::from_utf8_lossy(&line).into_owned();
                assert!(
                    line.len() >= 4
                        && line[..3].iter().all(u8::is_ascii_digit)
                        && (line[3] == b' ' || line[3] == b'-'),
                    "a malformed reply line from smtp-server: {}",
                    show(&line)
                );
                let code: u16 = text[..3].parse().expect("three digits");
                lines.push(text[4..].to_string());
                if line[3] == b' ' {
                    return Some(RawReply { code, lines });
                }
            }
            if !self.fill(deadline) {
                assert!(
                    self.buf.is_empty() && lines.is_empty(),
                    "smtp-server closed in the middle of a reply: {}",
                    show(&self.buf)
                );
                return None;
            }
        }
    }

    /// The next reply must have `code`.
    fn expect(&mut self, code: u16, after: &str) -> RawReply {
        match self.reply() {
            Some(r) if r.code == code => r,
            Some(r) => panic!(
                "after {after}: expected {code}, got {} {:?}",
                r.code, r.lines
            ),
            None => panic!("after {after}: expected {code}, but smtp-server closed"),
        }
    }

    /// Sends `line` with CRLF; the reply must have `code`.
    fn command(&mut self, line: &str, code: u16) -> RawReply {
        self.send(format!("{line}\r\n").as_bytes());
        self.expect(code, line)
    }

    /// The server closes the connection (after any replies, which are returned).
    fn expect_close(&mut self, after: &str) -> Vec<RawReply> {
        let mut replies = Vec::new();
        while let Some(r) = self.reply() {
            replies.push(r);
            assert!(
                replies.len() < 10_000,
                "after {after}: smtp-server keeps replying instead of closing"
            );
        }
        replies
    }
}

/// A whole transaction on a new connection: the server must still serve. Returns the
/// queue id; the message is `Subject: witness N`.
fn witness(addr: SocketAddr, n: usize) -> String {
    let mut c = Raw::connect(addr);
    c.command("EHLO witness.example", 250);
    c.command("MAIL FROM:<w@example.org>", 250);
    c.command("RCPT TO:<w@example.org>", 250);
    c.command("DATA", 354);
    c.send(witness_message(n).as_bytes());
    let r = c.command(".", 250);
    c.command("QUIT", 221);
    assert!(c.expect_close("QUIT").is_empty());
    r.lines[0]
        .split("queued as ")
        .nth(1)
        .expect("a queue id")
        .to_string()
}

fn witness_message(n: usize) -> String {
    format!("Subject: witness {n}\r\n\r\nstill served\r\n")
}

// ===== swaks =====

/// The DATA template given to swaks: headers, then its `%BODY%` token, no final newline.
const SWAKS_DATA: &[u8] =
    b"From: <sender@example.org>\nTo: <one@example.org>, <two@example.org>\nSubject: swaks byte-exact\n\n%BODY%";

/// The body given to swaks with `--body @FILE`: lines starting with dots, a lone dot,
/// 8-bit bytes, a tab, and a last line without a newline.
const SWAKS_BODY: &[u8] = b"Lines that start with dots:\n.one dot\n..two dots\n.\n...\n\
Eight-bit: caf\xc3\xa9 \x80\x81\xfe\xff\nA tab\there, a trailing space \nlast line";

/// What swaks sends for SWAKS_DATA with SWAKS_BODY, dot-unstuffed: the headers each end
/// with CRLF, the blank line, the body with every LF made CRLF, and a CRLF after the
/// last line (swaks ends the text with `\r\n.`). Built here, not taken from swaks.
fn swaks_expected() -> Vec<u8> {
    let mut want = b"From: <sender@example.org>\r\nTo: <one@example.org>, <two@example.org>\r\n\
Subject: swaks byte-exact\r\n\r\n"
        .to_vec();
    for &b in SWAKS_BODY {
        if b == b'\n' {
            want.extend_from_slice(b"\r\n");
        } else {
            want.push(b);
        }
    }
    want.extend_from_slice(b"\r\n");
    want
}

#[test]
fn swaks_delivers_byte_exact_messages_pipelined_or_not() {
    if !have_swaks() {
        return;
    }
    let maildir = TempDir::new("smtp-swaks-maildir");
    let files = TempDir::new("smtp-swaks-files");
    let data = files.file("data.txt", SWAKS_DATA);
    let body = files.file("body.txt", SWAKS_BODY);
    let (server, addr) = start_server(Backend::default(), Some(maildir.path()), &[]);
    let mut ids = Vec::new();
    for pipeline in [true, false] {
        let mut cmd = Command::new("swaks");
        cmd.args(["--server", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--helo", "swaks.test"])
            .args(["--from", "sender@example.org"])
            .args(["--to", "one@example.org,two@example.org,three@example.org"])
            .arg("--data")
            .arg(format!("@{}", data.display()))
            .arg("--body")
            .arg(format!("@{}", body.display()));
        if pipeline {
            cmd.arg("--pipeline");
        }
        let out = run_named("swaks", cmd);
        assert!(out.success(), "swaks failed\n{}", out.transcript());
        let lines = &out.stdout;
        // swaks shows the EHLO reply, and with --pipeline the commands it sent before
        // reading their replies.
        assert!(
            lines.iter().any(|l| l.contains("250-PIPELINING"))
                && lines.iter().any(|l| l.contains("250-8BITMIME"))
                && lines.iter().any(|l| l.contains("250-SIZE 10485760")),
            "the EHLO reply lacks an extension\n{}",
            out.transcript()
        );
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no `{needle}` line\n{}", out.transcript()))
        };
        let data_sent = at(" -> DATA");
        let mail_ok = at("<-  250 2.1.0 Ok");
        assert_eq!(
            data_sent < mail_ok,
            pipeline,
            "pipelining (DATA sent before the reply to MAIL) should be {pipeline}\n{}",
            out.transcript()
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains("250 2.1.5 Ok")).count(),
            3,
            "three recipients taken\n{}",
            out.transcript()
        );
        let id = queue_ids(lines);
        assert_eq!(id.len(), 1, "one queue id\n{}", out.transcript());
        ids.push(id[0].clone());
    }
    stop(server);
    let stored = messages(&maildir);
    let names: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ids, "one file per message, named by its queue id");
    for (id, data) in &stored {
        assert_bytes_eq(data, &swaks_expected(), &format!("message {id} from swaks"));
    }
    assert!(
        maildir.names().iter().all(|n| n.ends_with(".eml")),
        "only whole messages in the maildir: {:?}",
        maildir.names()
    );
}

// ===== Python's smtplib =====

const SMTPLIB_SCRIPT: &str = r#"
import smtplib, sys
host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def read(name):
    with open(d + "/" + name, "rb") as f:
        return f.read()
s = smtplib.SMTP(host, port, local_hostname="smtplib.test", timeout=20)
code, _ = s.ehlo()
print("ehlo", code, s.has_extn("pipelining"), s.has_extn("8bitmime"), s.esmtp_features.get("size"))
refused = s.sendmail("a@example.org", ["b@example.org", "c@example.org", "bad@@example.org"], read("plain.eml"))
for who, (code, text) in sorted(refused.items()):
    print("refused", who, code)
s.sendmail("", ["d@example.org"], read("dots.eml"))
print("null sender ok")
s.sendmail("a@example.org", ["e@example.org"], read("8bit.eml"), mail_options=["BODY=8BITMIME"])
print("8bit ok")
s.mail("a@example.org")
s.rcpt("f@example.org")
code, text = s.data(read("plain.eml"))
print("data", code, text.decode())
try:
    s.sendmail("a@example.org", ["g@example.org"], read("big.eml"))
    print("big sent")
except smtplib.SMTPSenderRefused as e:
    print("big refused", e.smtp_code)
try:
    s.sendmail("a@example.org", ["x@@example.org", "<y>"], read("plain.eml"))
    print("all sent")
except smtplib.SMTPRecipientsRefused as e:
    print("all refused", sorted(c for c, _ in e.recipients.values()))
print("vrfy", s.verify("someone")[0])
print("noop", s.noop()[0])
print("unknown", s.docmd("EXPN", "list")[0])
try:
    s.sendmail("a@example.org", ["h@example.org"], b"Subject: bare\n\nLF only\n")
    print("bare-lf sent")
except smtplib.SMTPDataError as e:
    print("bare-lf", e.smtp_code)
except smtplib.SMTPServerDisconnected:
    print("bare-lf disconnected")
s.close()
"#;

const PLAIN: &[u8] =
    b"From: a@example.org\r\nTo: b@example.org, c@example.org\r\nSubject: plain\r\n\r\nHello.\r\n";
const DOTS: &[u8] = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\n. \r\nend\r\n";
const EIGHT_BIT: &[u8] = b"Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 \xe2\x82\xac \x80\xff\r\n.\xc3\xa9\r\n";

#[test]
fn smtplib_sends_byte_exact_messages_and_gets_each_refusal() {
    if !have_smtplib() {
        return;
    }
    let maildir = TempDir::new("smtp-smtplib-maildir");
    let files = TempDir::new("smtp-smtplib-files");
    files.file("plain.eml", PLAIN);
    files.file("dots.eml", DOTS);
    files.file("8bit.eml", EIGHT_BIT);
    let big: Vec<u8> = (0..100)
        .flat_map(|i| format!("line {i:03} {}\r\n", "x".repeat(60)).into_bytes())
        .collect();
    files.file("big.eml", &big);
    let (server, addr) = start_server(
        Backend::default(),
        Some(maildir.path()),
        &["--max-size", "4096"],
    );
    let out = run_named(
        "python3 smtplib",
        support::python_script(
            SMTPLIB_SCRIPT,
            [
                addr.ip().to_string(),
                addr.port().to_string(),
                files.path().display().to_string(),
            ],
        ),
    );
    assert!(
        out.success(),
        "the smtplib script failed\n{}",
        out.transcript()
    );
    let data_line = out
        .stdout
        .iter()
        .find(|l| l.starts_with("data "))
        .cloned()
        .unwrap_or_default();
    let want = [
        "ehlo 250 True True 4096",
        "refused bad@@example.org 553",
        "null sender ok",
        "8bit ok",
        data_line.as_str(),
        "big refused 552",
        "all refused [553, 553]",
        "vrfy 252",
        "noop 250",
        "unknown 500",
        "bare-lf 554",
    ];
    assert_eq!(out.stdout, want, "\n{}", out.transcript());
    assert!(
        data_line.starts_with("data 250 2.0.0 Ok: queued as "),
        "{data_line}"
    );
    let witness_id = witness(addr, 1);
    stop(server);
    let stored = messages(&maildir);
    let want: Vec<Vec<u8>> = vec![
        PLAIN.to_vec(),
        DOTS.to_vec(),
        EIGHT_BIT.to_vec(),
        PLAIN.to_vec(),
        witness_message(1).into_bytes(),
    ];
    assert_eq!(stored.len(), want.len(), "stored: {:?}", maildir.names());
    for ((id, got), want) in stored.iter().zip(&want) {
        assert_bytes_eq(got, want, &format!("message {id} from smtplib"));
    }
    assert_eq!(data_line.rsplit(' ').next(), Some(stored[3].0.as_str()));
    assert_eq!(stored[4].0, witness_id);
}

// ===== our client =====

/// A message with everything that needs care: dots, 8-bit bytes, a bare LF and a bare
/// CR (made CRLF), a long line just under the limit, no final newline.
fn client_message() -> Vec<u8> {
    let mut m = b"Subject: from smtp-client\r\n\r\n.dot\r\n..\r\n.\r\nbare LF\nbare CR\rcaf\xc3\xa9 \xff\r\n"
        .to_vec();
    m.extend_from_slice(&[b'y'; 998]);
    m.extend_from_slice(b"\r\n.last line, no newline");
    m
}

fn client_expected() -> Vec<u8> {
    let mut m = b"Subject: from smtp-client\r\n\r\n.dot\r\n..\r\n.\r\nbare LF\r\nbare CR\r\ncaf\xc3\xa9 \xff\r\n"
        .to_vec();
    m.extend_from_slice(&[b'y'; 998]);
    m.extend_from_slice(b"\r\n.last line, no newline\r\n");
    m
}

#[test]
fn smtp_client_library_and_program_deliver_byte_exact_to_smtp_server() {
    let maildir = TempDir::new("smtp-client-maildir");
    let files = TempDir::new("smtp-client-files");
    let (server, addr) = start_server(
        Backend::default(),
        Some(maildir.path()),
        &["--threads", "2"],
    );
    let to: Vec<String> = ["r1@example.org", "bad@@example.org", "r2@example.org"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(normalize_line_ends(&client_message()), client_expected());
    let mut ids = Vec::new();
    for (pipelining, backend) in [
        (true, Backend::Epoll),
        (false, Backend::Poll),
        (true, Backend::Select),
    ] {
        let options = Options {
            pipelining,
            backend,
            timeout: HANG_GUARD,
            ..Options::default()
        };
        let done = send_mail(
            &Addr::from(addr),
            "sender@example.org",
            &to,
            &client_message(),
            &options,
        )
        .unwrap_or_else(|e| panic!("send_mail (pipelining {pipelining}, {backend}): {e}"));
        assert_eq!(done.reply.code, 250, "{}", done.reply);
        assert_eq!(done.pipelined, pipelining);
        assert_eq!(done.refused.len(), 1);
        assert_eq!(done.refused[0].0, "bad@@example.org");
        assert_eq!(done.refused[0].1.code, 553);
        ids.extend(queue_ids(&[done.reply.text()]));
    }
    // Every recipient refused: the error names the last one, and nothing is stored.
    let err = send_mail(
        &Addr::from(addr),
        "sender@example.org",
        &["x@@example.org".to_string()],
        b"never stored\r\n",
        &Options::default(),
    )
    .expect_err("every recipient refused");
    match &err {
        SendError::Refused { command, reply, .. } => {
            assert_eq!(command, "RCPT TO:<x@@example.org>");
            assert_eq!(reply.code, 553);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A size over the limit the server advertised: 552 to MAIL FROM ... SIZE=.
    let huge = [&[b'z'; 98][..], b"\r\n"].concat().repeat(110_000);
    let err = send_mail(
        &Addr::from(addr),
        "sender@example.org",
        &["r1@example.org".to_string()],
        &huge,
        &Options::default(),
    )
    .expect_err("a message over SIZE");
    assert!(
        matches!(&err, SendError::Refused { command, reply, .. } if command == "MAIL FROM" && reply.code == 552),
        "{err:?}"
    );
    // A line over 1000 bytes cannot be sent: refused before connecting.
    let long = format!("{}\r\n", "l".repeat(1001));
    assert!(matches!(
        send_mail(
            &Addr::from(addr),
            "a@example.org",
            &["b@example.org".to_string()],
            long.as_bytes(),
            &Options::default()
        ),
        Err(SendError::Message(_))
    ));

    // The program: exit 0 and the 250 reply; exit 1 with the server's reply.
    let file = files.file("message.eml", &client_message());
    let bin = support::example_binary("smtp-client");
    let mut cmd = Command::new(&bin);
    cmd.args(["--connect", &addr.to_string(), "--from", "p@example.org"])
        .args(["--to", "q1@example.org", "--to=q2@example.org"])
        .arg(&file);
    let out = run_named("smtp-client", cmd);
    assert!(out.success(), "smtp-client failed\n{}", out.transcript());
    assert_eq!(out.stdout.len(), 1, "{}", out.transcript());
    assert!(out.stdout[0].starts_with("250 2.0.0 Ok: queued as "));
    ids.extend(queue_ids(&out.stdout));
    let mut cmd = Command::new(&bin);
    cmd.args(["--connect", &addr.to_string(), "--from", "p@example.org"])
        .args(["--to", "nobody"])
        .arg(&file);
    let out = run_named("smtp-client", cmd);
    assert_eq!(out.status.code(), Some(1), "{}", out.transcript());
    assert!(
        out.stderr.contains("RCPT TO:<nobody>: 553 5.1.3"),
        "{}",
        out.transcript()
    );
    let mut cmd = Command::new(&bin);
    cmd.args(["--connect", &addr.to_string(), "--to", "q@example.org"]);
    let out = run_named("smtp-client", cmd);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error\n{}",
        out.transcript()
    );

    stop(server);
    let stored = messages(&maildir);
    let mut names: Vec<String> = stored.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    ids.sort();
    assert_eq!(names, ids, "one file per accepted message");
    for (id, data) in &stored {
        assert_bytes_eq(
            data,
            &client_expected(),
            &format!("message {id} from smtp-client"),
        );
    }
}

/// A Python `smtpd` server that records each message it gets: `N.env` (sender,
/// recipients, MAIL parameters, one per line) and `N.msg` (the data as `smtpd` gives it:
/// lines joined with LF, the final line end dropped). A recipient `refuse@...` gets 554.
const SMTPD_SCRIPT: &str = r#"
import asyncore, os, smtpd, sys
out = sys.argv[1]
class Recorder(smtpd.SMTPServer):
    count = 0
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        if any(r.startswith("refuse@") for r in rcpttos):
            return "554 5.7.1 refused by the test server"
        Recorder.count += 1
        base = os.path.join(out, "%04d" % Recorder.count)
        with open(base + ".env", "w") as f:
            f.write("\n".join([mailfrom] + rcpttos + [" ".join(kw.get("mail_options") or [])]) + "\n")
        with open(base + ".tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".tmp", base + ".msg")
server = Recorder(("127.0.0.1", 0), None, decode_data=False)
print("listening on %s:%d" % server.socket.getsockname()[:2], flush=True)
asyncore.loop(timeout=0.2)
"#;

#[test]
fn smtp_client_delivers_to_python_smtpd() {
    if !have_smtpd() {
        return;
    }
    let dir = TempDir::new("smtp-smtpd");
    let mut smtpd = Proc::spawn(
        "python3 smtpd",
        support::python_script(SMTPD_SCRIPT, [dir.path()]),
    );
    let addr = smtpd.listening_addr();
    let done = send_mail(
        &Addr::from(addr),
        "sender@example.org",
        &["r1@example.org".to_string(), "r2@example.org".to_string()],
        &client_message(),
        &Options {
            timeout: HANG_GUARD,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("send_mail to smtpd: {e}"));
    assert_eq!(done.reply.code, 250);
    assert!(!done.pipelined, "smtpd does not offer PIPELINING");
    // What smtpd hands over: unstuffed lines joined with LF, without the last CRLF.
    let sent = client_expected();
    let want = sent[..sent.len() - 2]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(&b'\n');
    let got = std::fs::read(dir.path().join("0001.msg")).expect("smtpd recorded the message");
    assert_bytes_eq(&got, &want, "the message smtpd received");
    let env = std::fs::read_to_string(dir.path().join("0001.env")).expect("the envelope");
    assert_eq!(
        env,
        format!(
            "sender@example.org\nr1@example.org\nr2@example.org\nSIZE={} BODY=8BITMIME\n",
            sent.len()
        )
    );
    // The program against smtpd: its refusal is the client's error.
    let file = dir.file("refused.txt", b"Subject: no\r\n\r\nno\r\n");
    let mut cmd = Command::new(support::example_binary("smtp-client"));
    cmd.args(["--connect", &addr.to_string(), "--from", "s@example.org"])
        .args(["--to", "refuse@example.org"])
        .arg(&file);
    let out = run_named("smtp-client", cmd);
    assert_eq!(out.status.code(), Some(1), "{}", out.transcript());
    assert!(
        out.stderr
            .contains("message text: 554 5.7.1 refused by the test server"),
        "{}",
        out.transcript()
    );
    let ok = dir.file("ok.txt", b"Subject: yes\n\nyes\n");
    let mut cmd = Command::new(support::example_binary("smtp-client"));
    cmd.args(["--connect", &addr.to_string(), "--from", ""])
        .args(["--to", "r3@example.org", "--no-pipelining"])
        .arg(&ok);
    let out = run_named("smtp-client", cmd);
    assert!(out.success(), "{}", out.transcript());
    assert_eq!(out.stdout, ["250 OK"]);
    assert_eq!(
        std::fs::read(dir.path().join("0002.msg")).expect("the second message"),
        b"Subject: yes\n\nyes"
    );
    let env = std::fs::read_to_string(dir.path().join("0002.env")).expect("the envelope");
    assert!(
        env.starts_with("<>\nr3@example.org\n"),
        "the null sender: {env:?}"
    );
    drop(smtpd);
}

#[test]
fn without_maildir_messages_are_counted_and_dropped() {
    let (server, addr) = start_server(Backend::default(), None, &[]);
    for n in 0..3 {
        witness(addr, n);
    }
    let out = stop(server);
    assert!(
        out.stderr.contains("3 messages accepted"),
        "{}",
        out.transcript()
    );
}

#[test]
fn a_message_that_cannot_be_stored_gets_451_and_the_session_goes_on() {
    let maildir = TempDir::new("smtp-gone-maildir");
    let (server, addr) = start_server(Backend::default(), Some(maildir.path()), &[]);
    std::fs::remove_dir_all(maildir.path()).expect("remove the maildir");
    let mut c = Raw::connect(addr);
    c.command("EHLO t", 250);
    c.command("MAIL FROM:<a@example.org>", 250);
    c.command("RCPT TO:<b@example.org>", 250);
    c.command("DATA", 354);
    c.send(b"Subject: lost\r\n\r\nno room\r\n");
    let r = c.command(".", 451);
    assert!(r.lines[0].starts_with("4.3.0"), "{:?}", r.lines);
    c.command("NOOP", 250);
    c.command("QUIT", 221);
    let out = stop(server);
    assert!(
        out.stderr.contains("cannot store message"),
        "{}",
        out.transcript()
    );
}

// ===== bad input =====

fn bad_input_gets_the_right_reply_or_a_close(backend: Backend) {
    let maildir = TempDir::new("smtp-bad-maildir");
    let (server, addr) = start_server(backend, Some(maildir.path()), &["--max-size", "100000"]);
    let mut witnesses = Vec::new();

    // Commands: each refusal has its code, and the session goes on.
    let mut c = Raw::connect(addr);
    c.send(format!("NOOP {}\r\n", "x".repeat(995)).as_bytes());
    c.expect(250, "a line of exactly 1000 bytes");
    c.send(format!("NOOP {}\r\n", "x".repeat(996)).as_bytes());
    let r = c.expect(500, "a line of 1001 bytes");
    assert!(r.lines[0].starts_with("5.5.6"), "{:?}", r.lines);
    c.send(format!("{}\r\n", "y".repeat(100_000)).as_bytes());
    c.expect(500, "a line of 100000 bytes");
    c.command("NOOP", 250);
    let r = c.command("FROB nicate", 500);
    assert!(r.lines[0].starts_with("5.5.2"), "{:?}", r.lines);
    c.command("EXPN list", 500);
    c.command("RCPT TO:<a@example.org>", 503);
    c.command("MAIL FROM:<a@example.org>", 503);
    c.command("DATA", 503);
    c.command("HELO", 501);
    c.command("EHLO test.example", 250);
    c.command("RCPT TO:<a@example.org>", 503);
    c.command("DATA", 503);
    c.command("VRFY someone", 252);
    c.command("MAIL FROM:a@example.org", 501);
    c.command("MAIL FROM:<a@@example.org>", 553);
    c.command("MAIL FROM:<a@example.org> SIZE=100001", 552);
    c.command("MAIL FROM:<a@example.org> SIZE=ten", 501);
    c.command("MAIL FROM:<a@example.org> BODY=BINARYMIME", 501);
    c.command("MAIL FROM:<a@example.org> FROB=1", 555);
    c.command("MAIL FROM:<a@example.org> SIZE=100000 BODY=8BITMIME", 250);
    c.command("MAIL FROM:<b@example.org>", 503);
    c.command("DATA", 503);
    c.command("RCPT TO:<>", 553);
    c.command("RCPT TO:b@example.org", 501);
    c.command("RCPT TO:<b@exa mple.org>", 553);
    c.command("RCPT TO:<b@example.org> NOTIFY=NEVER", 555);
    c.command("RCPT TO:<b@example.org>", 250);
    c.command("RSET", 250);
    c.command("DATA", 503);
    // A bare LF in a command: 501 for the line (up to its CRLF), and on.
    c.send(b"NOOP\nQUIT\r\n");
    c.expect(501, "a bare LF in a command");
    c.command("NOOP", 250);
    c.command("QUIT", 221);
    assert!(c.expect_close("QUIT").is_empty());
    witnesses.push(witness(addr, 1));

    // A bare LF in the message text: 554 and a close; nothing stored.
    let mut c = Raw::connect(addr);
    c.send(b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    c.expect(250, "EHLO");
    c.expect(250, "MAIL");
    c.expect(250, "RCPT");
    c.expect(354, "DATA");
    c.send(b"Subject: smuggled\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n");
    let replies = c.expect_close("a bare LF in the message text");
    assert_eq!(
        replies.iter().map(|r| r.code).collect::<Vec<_>>(),
        [554],
        "{replies:?}"
    );
    witnesses.push(witness(addr, 2));

    // An over-long line in the message text: 500 and a close; nothing stored.
    let mut c = Raw::connect(addr);
    c.send(b"HELO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    for code in [250, 250, 250, 354] {
        c.expect(code, "the pipelined commands");
    }
    c.send(format!("Subject: long\r\n\r\n{}\r\n.\r\n", "z".repeat(1500)).as_bytes());
    let replies = c.expect_close("an over-long line in the message text");
    assert_eq!(
        replies.iter().map(|r| r.code).collect::<Vec<_>>(),
        [500],
        "{replies:?}"
    );
    witnesses.push(witness(addr, 3));

    // A message over --max-size: 552 after the dot, and the session goes on.
    let mut c = Raw::connect(addr);
    c.command("EHLO t", 250);
    c.command("MAIL FROM:<a@example.org>", 250);
    c.command("RCPT TO:<b@example.org>", 250);
    c.command("DATA", 354);
    let line = format!("{}\r\n", "m".repeat(998));
    c.send(line.repeat(101).as_bytes());
    c.command(".", 552);
    c.command("NOOP", 250);
    drop(c);

    // Garbage: only 500/501/503 replies, then QUIT still works.
    for seed in 1..=3 {
        let mut c = Raw::connect(addr);
        let mut bytes = noise(20_000, seed);
        bytes.extend_from_slice(b"\r\nQUIT\r\n");
        c.send(&bytes);
        let replies = c.expect_close("garbage");
        let (last, rest) = replies.split_last().expect("at least the reply to QUIT");
        assert_eq!(last.code, 221, "{replies:?}");
        assert!(
            rest.iter().all(|r| matches!(r.code, 500 | 501 | 503)),
            "{rest:?}"
        );
        assert!(!rest.is_empty());
    }
    witnesses.push(witness(addr, 4));

    // A client gone in the middle of DATA (with half a line, then without): nothing
    // stored.
    for tail in [&b"half a li"[..], b"whole line\r\n"] {
        let mut c = Raw::connect(addr);
        c.command("EHLO t", 250);
        c.command("MAIL FROM:<a@example.org>", 250);
        c.command("RCPT TO:<b@example.org>", 250);
        c.command("DATA", 354);
        c.send(b"Subject: cut\r\n\r\n");
        c.send(tail);
        c.stream.shutdown(Shutdown::Both).expect("hang up");
        drop(c);
        witnesses.push(witness(addr, 5));
    }

    // A client that sends nothing and leaves; one that leaves before the greeting is read.
    drop(TcpStream::connect(addr).expect("connect"));
    drop(Raw::connect(addr));
    witnesses.push(witness(addr, 6));

    stop(server);
    let stored = messages(&maildir);
    let names: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, witnesses, "only the witnesses' messages are stored");
    for (n, (id, data)) in [1, 2, 3, 4, 5, 5, 6].iter().zip(&stored) {
        assert_bytes_eq(
            data,
            witness_message(*n).as_bytes(),
            &format!("message {id}"),
        );
    }
    assert!(
        maildir.names().iter().all(|n| n.ends_with(".eml")),
        "no temporary file left: {:?}",
        maildir.names()
    );
}

on_every_backend!(bad_input_gets_the_right_reply_or_a_close);
