//! STARTTLS (RFC 3207) in `smtp-server` and `smtp-client`, as the SMTP description
//! declares it (`StartTls -> Fresh on Reply if code == 220 starttls | Greeted on Reply
//! if code != 220`), on every backend:
//!
//! * `swaks --tls` delivers a message over TLS, stored byte-exact in `--maildir`;
//! * `openssl s_client -starttls smtp` finishes the handshake and sends a message in the
//!   session;
//! * the `smtp-client` library and program (`--starttls --cacert`) deliver over TLS, and
//!   refuse to send in plaintext to a server that does not offer it;
//! * commands written after `STARTTLS` in the same packet, before the handshake (the
//!   injection of CVE-2011-0411), are never answered nor acted on in the session; a
//!   second `STARTTLS` in the session is refused (`503`) and `EHLO` no longer offers it;
//! * a server without a certificate does not offer `STARTTLS`, answers it `454` (and
//!   `503` before `EHLO`), and the session goes on in plaintext;
//! * the generated roles refuse what would make a reply and the session disagree (the
//!   agreeing reply sent without a configuration, a request that may start TLS sent
//!   without one, anything sent while its reply is awaited, TLS twice).
//!
//! Certificates are made at test time (`support::tls::TestCerts`). A missing peer
//! (`swaks` with Perl's TLS modules, `openssl`) prints `skipping: ...` and the test
//! passes, unless `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use asyncore_examples::smtp_client::{send_mail, Options, SendError};
use asyncore_runtime::tls::{rustls, server_name};
use asyncore_runtime::wire::ClientTls;
use asyncore_runtime::{Addr, Backend};

use support::tls::{Client, TestCerts};
use support::{
    example_binary, require_peer, run_command_with_input, run_named, runs_ok, start_server,
    stop_server, Finished, Proc, TempDir, HANG_GUARD,
};

/// The message every test sends: a dot-stuffed line, a lone dot, 8-bit bytes.
const MESSAGE: &[u8] =
    b"Subject: over TLS\r\n\r\n.a line starting with a dot\r\n.\r\ncaf\xc3\xa9\r\nlast\r\n";

/// `MESSAGE` as sent in `DATA`: dot-stuffed, then the final dot.
fn stuffed() -> Vec<u8> {
    let mut out = Vec::new();
    for line in MESSAGE.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The messages stored in `dir`, in queue id order.
fn stored(dir: &TempDir) -> Vec<Vec<u8>> {
    dir.names()
        .into_iter()
        .filter(|n| n.ends_with(".eml"))
        .map(|n| std::fs::read(dir.path().join(n)).expect("read a stored message"))
        .collect()
}

fn assert_stored(dir: &TempDir, want: &[&[u8]], what: &str) {
    let got = stored(dir);
    let shown =
        |v: &[Vec<u8>]| -> Vec<String> { v.iter().map(|m| m.escape_ascii().to_string()).collect() };
    assert!(
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g == w),
        "{what}: the maildir holds {:?}, not {:?}",
        shown(&got),
        shown(&want.iter().map(|w| w.to_vec()).collect::<Vec<_>>())
    );
}

/// smtp-server with `backend`, storing in `maildir`, with the certificate of `certs`
/// (STARTTLS offered) or without.
fn server(backend: Backend, maildir: &TempDir, certs: Option<&TestCerts>) -> (Proc, SocketAddr) {
    let mut flags = vec![
        "--maildir".to_string(),
        maildir.path().display().to_string(),
    ];
    if let Some(certs) = certs {
        flags.extend(certs.server_flags());
    }
    start_server("smtp-server", backend.name(), &flags)
}

fn have_swaks_tls() -> bool {
    require_peer(
        "swaks with TLS (swaks, libnet-ssleay-perl, libio-socket-ssl-perl)",
        runs_ok("swaks", "--version")
            && runs_ok("perl", "-MNet::SSLeay")
            && runs_ok("perl", "-MIO::Socket::SSL"),
    )
}

fn have_openssl() -> bool {
    require_peer("openssl", runs_ok("openssl", "version"))
}

// ===== an SMTP conversation that switches to TLS =====

/// A reply: its code and the text of each line.
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

/// Takes one whole reply off the front of `buf`, if it holds one.
fn take_reply(buf: &mut Vec<u8>) -> Option<Reply> {
    let mut lines = Vec::new();
    let mut at = 0;
    while let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") {
        let line = &buf[at..at + end];
        assert!(
            line.len() >= 4
                && line[..3].iter().all(u8::is_ascii_digit)
                && (line[3] == b' ' || line[3] == b'-'),
            "a malformed reply line: {}",
            line.escape_ascii()
        );
        let text = String::from_utf8_lossy(line).into_owned();
        lines.push(text[4..].to_string());
        at += end + 2;
        if line[3] == b' ' {
            let code = text[..3].parse().expect("three digits");
            buf.drain(..at);
            return Some(Reply { code, lines });
        }
    }
    None
}

/// The plaintext part of a conversation: reads byte by byte, so that nothing after a
/// reply is taken off the socket (the TLS handshake follows the `220`).
struct Plain {
    sock: TcpStream,
}

impl Plain {
    fn connect(addr: SocketAddr) -> Plain {
        let sock = TcpStream::connect(addr).expect("connect to smtp-server");
        sock.set_read_timeout(Some(HANG_GUARD)).expect("timeout");
        let mut c = Plain { sock };
        c.expect(220, "the greeting");
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).expect("send in plaintext");
    }

    fn reply(&mut self, after: &str) -> Reply {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if let Some(r) = take_reply(&mut buf) {
                return r;
            }
            let n = self
                .sock
                .read(&mut byte)
                .unwrap_or_else(|e| panic!("after {after}: reading a reply: {e}"));
            assert!(n == 1, "after {after}: the server closed");
            buf.push(byte[0]);
        }
    }

    fn expect(&mut self, code: u16, after: &str) -> Reply {
        let r = self.reply(after);
        assert_eq!(r.code, code, "after {after}: {r:?}");
        r
    }

    fn command(&mut self, line: &str, code: u16) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.expect(code, line)
    }

    /// The handshake, once the server said `220` to `STARTTLS`.
    fn start_tls(self, certs: &TestCerts) -> Secure {
        Secure {
            c: Client::over(self.sock, certs),
            buf: Vec::new(),
        }
    }
}

/// The conversation in TLS.
struct Secure {
    c: Client,
    buf: Vec<u8>,
}

impl Secure {
    fn send(&mut self, bytes: &[u8]) {
        self.c.send(bytes);
    }

    fn reply(&mut self, after: &str) -> Reply {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(r) = take_reply(&mut self.buf) {
                return r;
            }
            let n = rustls::Stream::new(&mut self.c.conn, &mut self.c.sock)
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("after {after}: reading a reply over TLS: {e}"));
            assert!(n > 0, "after {after}: the server closed the session");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn expect(&mut self, code: u16, after: &str) -> Reply {
        let r = self.reply(after);
        assert_eq!(r.code, code, "after {after}: {r:?}");
        r
    }

    fn command(&mut self, line: &str, code: u16) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.expect(code, line)
    }
}

fn offers_starttls(ehlo: &Reply) -> bool {
    ehlo.lines
        .iter()
        .any(|l| l.eq_ignore_ascii_case("STARTTLS"))
}

// ===== swaks =====

fn swaks_starttls(backend: Backend) {
    if !have_swaks_tls() {
        return;
    }
    let certs = TestCerts::new("smtp-swaks");
    let maildir = TempDir::new("smtp-tls-swaks");
    let files = TempDir::new("smtp-tls-swaks-files");
    // swaks ends the text with CRLF and the dot itself: the file stops before them.
    let data = files.file("data.eml", &MESSAGE[..MESSAGE.len() - 2]);
    let (server, addr) = server(backend, &maildir, Some(&certs));
    let mut cmd = Command::new("swaks");
    cmd.args(["--server", "localhost"])
        .args(["--port", &addr.port().to_string()])
        .args(["--helo", "swaks.test"])
        .args(["--from", "sender@example.org", "--to", "rcpt@example.org"])
        .args(["--tls", "--tls-verify", "--tls-ca-path"])
        .arg(&certs.ca)
        .arg("--data")
        .arg(format!("@{}", data.display()));
    let out = run_named("swaks", cmd);
    assert!(out.success(), "swaks --tls failed\n{}", out.transcript());
    let lines = &out.stdout;
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` line\n{}", out.transcript()))
    };
    // Offered in plaintext, started, then EHLO again and the transaction in TLS (swaks
    // marks what it sends in TLS with `~>`).
    let offered = at("<-  250 STARTTLS");
    let started = at("=== TLS started");
    let ehlo_again = at(" ~> EHLO swaks.test");
    let queued = at("<~  250 2.0.0 Ok: queued as");
    assert!(
        offered < started && started < ehlo_again && ehlo_again < queued,
        "{}",
        out.transcript()
    );
    assert!(
        !lines[ehlo_again..].iter().any(|l| l.contains("STARTTLS")),
        "STARTTLS offered again in TLS\n{}",
        out.transcript()
    );
    stop_server(server);
    assert_stored(&maildir, &[MESSAGE], "swaks --tls");
}

// ===== openssl s_client =====

fn openssl_s_client_starttls(backend: Backend) {
    if !have_openssl() {
        return;
    }
    let certs = TestCerts::new("smtp-s-client");
    let maildir = TempDir::new("smtp-tls-s-client");
    let (server, addr) = server(backend, &maildir, Some(&certs));
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-starttls", "smtp", "-connect"])
        .arg(format!("127.0.0.1:{}", addr.port()))
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-CAfile",
        ])
        .arg(&certs.ca)
        .arg("-quiet");
    // s_client says EHLO and STARTTLS itself; this goes through the session.
    let mut input = b"EHLO s-client.test\r\nMAIL FROM:<a@example.org>\r\n\
RCPT TO:<b@example.org>\r\nDATA\r\n"
        .to_vec();
    input.extend_from_slice(&stuffed());
    input.extend_from_slice(b"QUIT\r\n");
    let (status, out, err) = run_command_with_input(cmd, &input, HANG_GUARD);
    let text = String::from_utf8_lossy(&out);
    let err = String::from_utf8_lossy(&err);
    assert!(status.success(), "s_client: {status}\n{text}\n{err}");
    assert!(!err.contains("verify error"), "{err}");
    for want in [
        "250-localhost",
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "354 ",
        "250 2.0.0 Ok: queued as",
        "221 2.0.0 Bye",
    ] {
        assert!(
            text.contains(want),
            "no `{want}` in the session\n{text}\n{err}"
        );
    }
    assert!(
        !text.contains("STARTTLS"),
        "offered again in the session\n{text}"
    );
    stop_server(server);
    assert_stored(&maildir, &[MESSAGE], "openssl s_client -starttls smtp");
}

// ===== smtp-client =====

fn smtp_client_starttls(backend: Backend) {
    let certs = TestCerts::new("smtp-client");
    let maildir = TempDir::new("smtp-tls-client");
    let (server, addr) = server(backend, &maildir, Some(&certs));
    let tls = ClientTls::new(
        certs.client_config(),
        server_name("localhost").expect("name"),
    );
    for pipelining in [true, false] {
        let options = Options {
            backend,
            pipelining,
            timeout: HANG_GUARD,
            starttls: Some(tls.clone()),
            ..Options::default()
        };
        let done = send_mail(
            &Addr::from(addr),
            "a@example.org",
            &["b@example.org".to_string()],
            MESSAGE,
            &options,
        )
        .unwrap_or_else(|e| panic!("send_mail with STARTTLS ({backend}): {e}"));
        assert_eq!(done.reply.code, 250, "{}", done.reply);
        assert_eq!(done.pipelined, pipelining);
    }
    // The program, checking the certificate against --cacert.
    let message = TempDir::new("smtp-tls-client-file");
    let file = message.file("m.eml", MESSAGE);
    let mut cmd = Command::new(example_binary("smtp-client"));
    cmd.args(["--connect", &addr.to_string(), "--backend", backend.name()])
        .args(["--from", "a@example.org", "--to", "b@example.org"])
        .args(["--starttls", "--tls-name", "localhost", "--cacert"])
        .arg(&certs.ca)
        .arg(&file);
    let out = run_named("smtp-client --starttls", cmd);
    assert!(out.success(), "{}", out.transcript());
    assert!(
        out.stdout.iter().any(|l| l.contains("queued as")),
        "{}",
        out.transcript()
    );
    // A certificate the client does not trust: nothing is sent.
    let other = TestCerts::new("smtp-client-other");
    let untrusted = Options {
        backend,
        timeout: HANG_GUARD,
        starttls: Some(ClientTls::new(
            other.client_config(),
            server_name("localhost").expect("name"),
        )),
        ..Options::default()
    };
    let err = send_mail(
        &Addr::from(addr),
        "a@example.org",
        &["b@example.org".to_string()],
        b"Subject: never\r\n\r\nsent\r\n",
        &untrusted,
    )
    .expect_err("a server whose certificate is not trusted");
    assert!(
        matches!(err, SendError::Io(_)) && err.to_string().contains("certificate"),
        "{err}"
    );
    let done: Finished = stop_server(server);
    assert!(!done.stderr.contains("panicked"), "{}", done.transcript());
    assert_stored(
        &maildir,
        &[MESSAGE, MESSAGE, MESSAGE],
        "smtp-client --starttls",
    );
}

/// Without a certificate the server does not offer STARTTLS: the client sends nothing.
#[test]
fn smtp_client_refuses_plaintext_when_starttls_is_not_offered() {
    let certs = TestCerts::new("smtp-client-plain");
    let maildir = TempDir::new("smtp-tls-client-plain");
    let (server, addr) = server(Backend::default(), &maildir, None);
    let options = Options {
        timeout: HANG_GUARD,
        starttls: Some(ClientTls::new(
            certs.client_config(),
            server_name("localhost").expect("name"),
        )),
        ..Options::default()
    };
    let err = send_mail(
        &Addr::from(addr),
        "a@example.org",
        &["b@example.org".to_string()],
        MESSAGE,
        &options,
    )
    .expect_err("no STARTTLS offered");
    assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
    stop_server(server);
    assert_stored(&maildir, &[], "a client that wanted TLS");
}

// ===== the command injection of CVE-2011-0411 =====

fn injected_commands_are_dropped(backend: Backend) {
    let certs = TestCerts::new("smtp-injection");
    let maildir = TempDir::new("smtp-tls-injection");
    let (server, addr) = server(backend, &maildir, Some(&certs));
    for injected in [
        &b"RSET\r\n"[..],
        b"MAIL FROM:<evil@example.org>\r\n",
        b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: injected\r\n\r\n.\r\n",
    ] {
        let mut c = Plain::connect(addr);
        let ehlo = c.command("EHLO client.test", 250);
        assert!(offers_starttls(&ehlo), "{ehlo:?}");
        // STARTTLS and more commands in one write, before the handshake.
        let mut packet = b"STARTTLS\r\n".to_vec();
        packet.extend_from_slice(injected);
        c.send(&packet);
        let ready = c.expect(220, "STARTTLS");
        assert_eq!(ready.lines, ["2.0.0 Ready to start TLS"]);
        let mut s = c.start_tls(&certs);
        // The first reply in the session is to EHLO: nothing injected was answered.
        let ehlo = s.command("EHLO client.test", 250);
        assert_eq!(
            ehlo.lines.first().map(String::as_str),
            Some("localhost"),
            "a reply to an injected command came first: {ehlo:?}"
        );
        assert!(!offers_starttls(&ehlo), "offered again in TLS: {ehlo:?}");
        // TLS starts once: a second STARTTLS is out of sequence.
        s.command("STARTTLS", 503);
        // No transaction was opened by an injected MAIL: this one is not nested.
        s.command("MAIL FROM:<a@example.org>", 250);
        s.command("RCPT TO:<b@example.org>", 250);
        s.command("DATA", 354);
        s.send(&stuffed());
        s.expect(250, "the message text");
        s.command("QUIT", 221);
    }
    stop_server(server);
    assert_stored(
        &maildir,
        &[MESSAGE, MESSAGE, MESSAGE],
        "after injected commands",
    );
}

// ===== without a certificate =====

fn refused_without_a_certificate(backend: Backend) {
    let maildir = TempDir::new("smtp-tls-none");
    let (server, addr) = server(backend, &maildir, None);
    let mut c = Plain::connect(addr);
    // Before EHLO, STARTTLS is out of sequence.
    c.command("STARTTLS", 503);
    let ehlo = c.command("EHLO client.test", 250);
    assert!(
        !offers_starttls(&ehlo),
        "offered without a certificate: {ehlo:?}"
    );
    let refused = c.command("STARTTLS", 454);
    assert_eq!(
        refused.lines,
        ["4.7.0 TLS not available due to local problem"]
    );
    // The session goes on in plaintext, in the state it was in.
    c.command("MAIL FROM:<a@example.org>", 250);
    c.command("RCPT TO:<b@example.org>", 250);
    c.command("DATA", 354);
    c.send(&stuffed());
    c.expect(250, "the message text");
    c.command("QUIT", 221);
    stop_server(server);
    assert_stored(
        &maildir,
        &[MESSAGE],
        "in plaintext after a refused STARTTLS",
    );
}

on_every_backend!(
    swaks_starttls,
    openssl_s_client_starttls,
    smtp_client_starttls,
    injected_commands_are_dropped,
    refused_without_a_certificate
);

// ===== the generated handlers' mistakes =====

asyncore_runtime::protocol!(pub mod smtp = "../protocols/descriptions/smtp.aproto");

/// What the handlers' wrong calls returned, and the codes the client read.
#[derive(Default)]
struct Seen {
    errors: Vec<String>,
    codes: Vec<(u16, bool)>,
}

type Shared = std::rc::Rc<std::cell::RefCell<Seen>>;

fn err_text(r: asyncore_runtime::Result) -> String {
    match r {
        Ok(()) => "no error".to_string(),
        Err(e) => e.to_string(),
    }
}

fn reply<'a>(code: u16, text: &'a [u8]) -> smtp::Reply<'a> {
    smtp::Reply {
        code,
        more: b" ",
        text,
    }
}

/// A server that tries the wrong ways to answer `STARTTLS` before the right one.
struct Mistaken {
    tls: asyncore_runtime::wire::ServerTls,
    seen: Shared,
}

#[asyncore_runtime::dispatcher(protocol = smtp, role = server)]
impl Mistaken {
    fn on_open(&mut self, cx: &mut smtp::ServerCx<'_, '_>) -> asyncore_runtime::Result {
        cx.send(reply(220, b"ready"))
    }
    fn on_helo(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Helo<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"hi"))
    }
    fn on_ehlo(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Ehlo<'_>,
    ) -> asyncore_runtime::Result {
        // `EHLO` starts no TLS.
        let e = err_text(cx.start_tls(reply(250, b"hi"), self.tls.clone()));
        self.seen.borrow_mut().errors.push(e);
        cx.send(reply(250, b"hi"))
    }
    fn on_start_tls(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::StartTls,
    ) -> asyncore_runtime::Result {
        let plain = err_text(cx.send(reply(220, b"go ahead")));
        let wrong = err_text(cx.start_tls(reply(250, b"no"), self.tls.clone()));
        self.seen.borrow_mut().errors.extend([plain, wrong]);
        cx.start_tls(reply(220, b"go ahead"), self.tls.clone())
    }
    fn on_mail(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Mail<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"ok"))
    }
    fn on_rcpt(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Rcpt<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"ok"))
    }
    fn on_data(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Data,
    ) -> asyncore_runtime::Result {
        cx.send(reply(503, b"no"))
    }
    fn on_body(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Body<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"ok"))
    }
    fn on_rset(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Rset,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"ok"))
    }
    fn on_noop(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Noop<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(250, b"ok"))
    }
    fn on_vrfy(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Vrfy<'_>,
    ) -> asyncore_runtime::Result {
        cx.send(reply(252, b"maybe"))
    }
    fn on_quit(
        &mut self,
        cx: &mut smtp::ServerCx<'_, '_>,
        _m: smtp::Quit,
    ) -> asyncore_runtime::Result {
        cx.send(reply(221, b"bye"))
    }
}

/// A client that tries the wrong ways to ask for TLS, and to send while it may start.
struct Asker {
    tls: ClientTls,
    seen: Shared,
    step: usize,
}

#[asyncore_runtime::dispatcher(protocol = smtp, role = client)]
impl Asker {
    fn on_reply(
        &mut self,
        cx: &mut smtp::ClientCx<'_, '_>,
        m: smtp::Reply<'_>,
    ) -> asyncore_runtime::Result {
        self.seen.borrow_mut().codes.push((m.code, cx.is_tls()));
        self.step += 1;
        let mut errors = Vec::new();
        let r = match self.step {
            // The greeting, then the first EHLO reply.
            1 => cx.send(smtp::Ehlo { domain: b"c" }),
            2 => {
                errors.push(err_text(cx.send(smtp::StartTls {})));
                errors.push(err_text(
                    cx.start_tls(smtp::Noop { text: None }, self.tls.clone()),
                ));
                cx.start_tls(smtp::StartTls {}, self.tls.clone())?;
                errors.push(err_text(cx.send(smtp::Noop { text: None })));
                Ok(())
            }
            // 220: TLS is on, in `Fresh`.
            3 => cx.send(smtp::Ehlo { domain: b"c" }),
            4 => {
                errors.push(err_text(cx.start_tls(smtp::StartTls {}, self.tls.clone())));
                cx.send(smtp::Quit {})
            }
            _ => Ok(()),
        };
        self.seen.borrow_mut().errors.extend(errors);
        r
    }
}

/// The generated roles refuse what would make the reply and the session disagree: the
/// agreeing reply without a configuration, a configuration with another reply, a
/// request that may start TLS without one, anything sent while it waits, and TLS twice.
#[test]
fn handlers_cannot_make_the_reply_and_the_session_disagree() {
    use asyncore_runtime::Map;
    let certs = TestCerts::new("smtp-mistakes");
    let seen: Shared = Shared::default();
    let mut map = Map::new();
    let (a, b) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    let server = Mistaken {
        tls: certs.server_config(),
        seen: seen.clone(),
    };
    map.add(a.into(), smtp::ServerChannel::new(server))
        .expect("add the server");
    let client = Asker {
        tls: ClientTls::new(
            certs.client_config(),
            server_name("localhost").expect("name"),
        ),
        seen: seen.clone(),
        step: 0,
    };
    map.add(b.into(), smtp::ClientChannel::new(client))
        .expect("add the client");
    for _ in 0..2_000 {
        if map.is_empty() {
            break;
        }
        map.poll_once(Some(std::time::Duration::from_millis(10)), Backend::Poll)
            .expect("a pass of the loop");
    }
    let seen = seen.borrow();
    assert_eq!(
        seen.codes,
        [
            (220, false),
            (250, false),
            (220, true),
            (250, true),
            (221, true)
        ],
        "errors: {:#?}",
        seen.errors
    );
    let want = [
        "`Reply` does not start TLS here: send it with `cx.send`",
        "`StartTls` may start TLS: send it with `cx.start_tls(msg, tls)`",
        "`Noop` does not start TLS in the state the server is in: send it with `cx.send`",
        "`Noop` must wait for the reply that may start TLS",
        "`Reply` agrees to start TLS after `StartTls` in state `Greeted`: send it with `cx.start_tls(reply, config)`",
        "`Reply` does not start TLS here: send it with `cx.send`",
        "`Reply` does not start TLS here: send it with `cx.send`",
        "TLS is on already; `StartTls` would start it again",
    ];
    assert_eq!(seen.errors.len(), want.len(), "{:#?}", seen.errors);
    for (got, want) in seen.errors.iter().zip(want) {
        assert!(got.contains(want), "`{got}` does not say `{want}`");
    }
}
