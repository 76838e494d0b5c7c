//! `pg-server` (`examples/pg_server.rs`) on the wire, message by message, against a real
//! PostgreSQL 15 started here; the messages are encoded and decoded with the types
//! generated from `pg.aproto`:
//!
//! * the startup sequence (SSLRequest, GSSENCRequest, StartupMessage) gets the answers
//!   and parameters PostgreSQL sends;
//! * bad input gets what PostgreSQL sends for it, compared with the real server byte
//!   stream by byte stream where the two agree, and on every backend never a panic and
//!   never harm to another connection.
//!
//! The tests print `skipping: ...` and pass when a peer is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use asyncore_examples::pg_server::pg;
use asyncore_runtime::wire::{Decoded, Seq};
use asyncore_runtime::Backend;

use support::peers::Postgres;
use support::{pseudo_random, Finished, Proc, Witness, HANG_GUARD};

fn start_pg_server(backend: Backend, extra: &[&str]) -> (Proc, SocketAddr) {
    support::start_server("pg-server", backend.name(), extra)
}

fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    let params: Vec<pg::StartupParams<'_>> = params
        .iter()
        .map(|(n, v)| pg::StartupParams {
            name: n.as_bytes(),
            value: v.as_bytes(),
        })
        .collect();
    let mut out = Vec::new();
    pg::Startup {
        params: Seq::from(&params[..]),
    }
    .encode(&mut out)
    .expect("encode a StartupMessage");
    out
}

fn login() -> Vec<u8> {
    startup(&[("user", "postgres"), ("database", "postgres")])
}

fn encode<'m>(msg: impl Into<pg::ClientMessage<'m>>) -> Vec<u8> {
    let mut out = Vec::new();
    msg.into().encode(&mut out).expect("encode a message");
    out
}

fn query(sql: &str) -> Vec<u8> {
    encode(pg::Query {
        sql: sql.as_bytes(),
    })
}

/// What the server sent, message by message: `answer N`, `auth ok`, `ready I`,
/// `row x|NULL`, `complete TAG`, `error SEVERITY CODE MESSAGE`...
#[derive(Debug, Default)]
struct Replies {
    messages: Vec<String>,
    closed: bool,
}

impl Replies {
    /// The messages without the details that differ between servers (parameter values,
    /// the backend key).
    fn kinds(&self) -> Vec<String> {
        self.messages
            .iter()
            .map(|m| {
                if m.starts_with("parameter ") {
                    "parameter".to_string()
                } else if m.starts_with("key ") {
                    "key".to_string()
                } else {
                    m.clone()
                }
            })
            .collect()
    }
}

fn summary(m: &pg::ServerMessage<'_>) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let fields = |f: &mut dyn Iterator<Item = (u8, Vec<u8>)>| {
        let mut s = String::new();
        let mut c = String::new();
        let mut msg = String::new();
        for (code, v) in f {
            match code {
                b'S' => s = text(&v),
                b'C' => c = text(&v),
                b'M' => msg = text(&v),
                _ => {}
            }
        }
        format!("{s} {c} {msg}")
    };
    match m {
        pg::ServerMessage::EncryptionAnswer(a) => format!("answer {}", text(a.answer)),
        pg::ServerMessage::AuthOk(_) => "auth ok".into(),
        pg::ServerMessage::AuthCleartext(_) => "auth cleartext".into(),
        pg::ServerMessage::ParameterStatus(p) => {
            format!("parameter {}={}", text(p.name), text(p.value))
        }
        pg::ServerMessage::BackendKeyData(k) => format!("key {} {}", k.pid, k.key),
        pg::ServerMessage::ReadyForQuery(r) => format!("ready {}", text(r.status)),
        pg::ServerMessage::RowDescription(d) => {
            let cols: Vec<String> = d
                .columns
                .iter()
                .map(|c| format!("{}:{}", text(c.name), c.type_oid))
                .collect();
            format!("columns {}", cols.join(","))
        }
        pg::ServerMessage::DataRow(r) => {
            let vals: Vec<String> = r
                .values
                .iter()
                .map(|v| v.value.map_or("NULL".into(), text))
                .collect();
            format!("row {}", vals.join("|"))
        }
        pg::ServerMessage::CommandComplete(c) => format!("complete {}", text(c.tag)),
        pg::ServerMessage::EmptyQueryResponse(_) => "empty".into(),
        pg::ServerMessage::ErrorResponse(e) => format!(
            "error {}",
            fields(&mut e.fields.iter().map(|f| (f.code, f.value.to_vec())))
        ),
        pg::ServerMessage::NoticeResponse(e) => format!(
            "notice {}",
            fields(&mut e.fields.iter().map(|f| (f.code, f.value.to_vec())))
        ),
        other => format!("other {}", other.name()),
    }
}

/// The index of `EncryptionAnswer`, read only when expected.
fn answer_index() -> u16 {
    pg::ServerMessage::decoder()
        .program()
        .messages
        .iter()
        .position(|m| m.name == "EncryptionAnswer")
        .expect("pg.aproto has EncryptionAnswer") as u16
}

/// A raw connection that reads the server's messages with the generated decoder.
struct Conn {
    s: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
    dec: asyncore_runtime::wire::Decoder,
    out: Replies,
    deadline: Instant,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        Conn {
            s,
            addr,
            buf: Vec::new(),
            dec: pg::ServerMessage::decoder(),
            out: Replies::default(),
            deadline: Instant::now() + HANG_GUARD,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        // The server may close before taking everything: a reset here is fine.
        let _ = self.s.write_all(bytes);
    }

    /// Reads messages until the server closes or `done` says the last one came (the
    /// test fails after [`HANG_GUARD`]); the first `answers` messages of the connection
    /// are one-byte answers.
    fn read_until(&mut self, answers: usize, done: impl Fn(&[String]) -> bool) {
        let answer = [answer_index()];
        let addr = self.addr;
        loop {
            loop {
                let allowed: &[u16] = if self.out.messages.len() < answers {
                    &answer
                } else {
                    pg::SERVER_MESSAGES_ALL
                };
                match pg::ServerMessage::decode(&mut self.dec, &self.buf, allowed) {
                    Ok(Decoded::Message { index, len }) => {
                        let m = pg::ServerMessage::from_decoder(&self.dec, &self.buf[..len], index)
                            .expect("a decoded message");
                        self.out.messages.push(summary(&m));
                        self.buf.drain(..len);
                    }
                    Ok(Decoded::Skip { len }) => {
                        self.buf.drain(..len);
                    }
                    Ok(Decoded::NeedMore) => break,
                    Err(e) => panic!(
                        "{addr} sent something that is no message: {e}\nso far: {:?}",
                        self.out
                    ),
                }
            }
            if done(&self.out.messages) {
                return;
            }
            if !support::read_more(&mut self.s, &mut self.buf, self.deadline, &addr.to_string()) {
                self.out.closed = true;
                assert!(
                    self.buf.is_empty(),
                    "{addr} closed in the middle of a message: {:?}",
                    self.buf
                );
                return;
            }
        }
    }
}

/// Sends `bytes` on a new connection to `addr` and reads the server's messages until it
/// closes or `done` says the last one came; `answers` one-byte answers come first.
fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    answers: usize,
    done: impl Fn(&[String]) -> bool,
) -> Replies {
    let mut c = Conn::new(addr);
    c.send(bytes);
    c.read_until(answers, done);
    c.out
}

/// Reads until the server closes.
fn until_close(_: &[String]) -> bool {
    false
}

/// Reads until the `n`th ReadyForQuery.
fn ready(n: usize) -> impl Fn(&[String]) -> bool {
    move |m: &[String]| m.iter().filter(|m| m.starts_with("ready ")).count() >= n
}

fn logged_in(rest: &[u8]) -> Vec<u8> {
    let mut b = login();
    b.extend_from_slice(rest);
    b
}

/// The messages after the session's first ReadyForQuery.
fn after_login(r: &Replies) -> Vec<String> {
    let first = r
        .messages
        .iter()
        .position(|m| m.starts_with("ready "))
        .unwrap_or_else(|| panic!("no ReadyForQuery after the login: {r:?}"));
    r.messages[first + 1..].to_vec()
}

#[test]
fn startup_sequence_and_encryption_answers_match_postgres() {
    let Some(real) = Postgres::start() else {
        return;
    };
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    // SSLRequest, its answer, then the StartupMessage (PostgreSQL refuses data sent
    // before the answer).
    let login_after_ssl = |addr: SocketAddr| {
        let mut c = Conn::new(addr);
        c.send(&encode(pg::SslRequest {}));
        c.read_until(1, |m| !m.is_empty());
        c.send(&login());
        c.read_until(1, ready(1));
        c.out
    };
    let ours = login_after_ssl(addr);
    let theirs = login_after_ssl(real.addr());
    assert_eq!(ours.kinds(), theirs.kinds());
    assert_eq!(ours.messages[..2], ["answer N", "auth ok"]);
    // GSSENCRequest: no, as a server without GSSAPI answers (PostgreSQL built with it
    // says G, and expects a GSSAPI exchange). pg-server takes the requests pipelined.
    let mut gss = encode(pg::GssEncRequest {});
    gss.extend(encode(pg::SslRequest {}));
    gss.extend(login());
    let again = exchange(addr, &gss, 2, ready(1));
    assert_eq!(again.messages[..3], ["answer N", "answer N", "auth ok"]);
    // The same parameters, in the same order; the values PostgreSQL's build decides
    // (its version) differ.
    let params: Vec<&String> = ours
        .messages
        .iter()
        .filter(|m| m.starts_with("parameter ") && !m.contains("server_version="))
        .collect();
    let real_params: Vec<&String> = theirs
        .messages
        .iter()
        .filter(|m| m.starts_with("parameter ") && !m.contains("server_version="))
        .collect();
    assert_eq!(params, real_params);
    assert!(ours
        .messages
        .contains(&"parameter server_version=15.0".to_string()));
    stop(server);
}

/// A case of bad input: the bytes, whether to log in first, and what comes back.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Log in first.
    after_login: bool,
    /// What pg-server answers, after the login if any, and whether it closes.
    ours: (&'static [&'static str], bool),
}

fn probe() -> Vec<u8> {
    query("select 'alive'")
}

const ALIVE: &[&str] = &[
    "columns ?column?:25",
    "row alive",
    "complete SELECT 1",
    "ready I",
];

fn cases() -> Vec<Case> {
    let typed = |kind: u8, len: u32, body: &[u8]| {
        let mut b = vec![kind];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(body);
        b
    };
    let untyped = |len: u32, body: &[u8]| {
        let mut b = len.to_be_bytes().to_vec();
        b.extend_from_slice(body);
        b
    };
    let then = |mut a: Vec<u8>, b: Vec<u8>| {
        a.extend(b);
        a
    };
    vec![
        Case {
            name: "a startup packet of protocol 4.0",
            bytes: untyped(9, &[0, 4, 0, 0, 0]),
            after_login: false,
            ours: (
                &["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"],
                true,
            ),
        },
        Case {
            name: "an unknown request code",
            bytes: untyped(8, &[0x04, 0xd2, 0x16, 0x31]),
            after_login: false,
            ours: (
                &["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"],
                true,
            ),
        },
        Case {
            name: "a startup packet without a user",
            bytes: startup(&[("database", "postgres")]),
            after_login: false,
            ours: (
                &["error FATAL 28000 no PostgreSQL user name specified in startup packet"],
                true,
            ),
        },
        Case {
            name: "a cancel request",
            bytes: encode(pg::CancelRequest { pid: 1, key: 2 }),
            after_login: false,
            ours: (&[], true),
        },
        Case {
            name: "a startup packet over 10,000 bytes",
            bytes: untyped(20_000, &[0, 3, 0, 0]),
            after_login: false,
            ours: (
                &["error FATAL 08P01 invalid length of startup packet"],
                true,
            ),
        },
        Case {
            name: "an unknown message type",
            bytes: typed(b'?', 4, b""),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid frontend message type"], true),
        },
        Case {
            name: "a password message after the login",
            bytes: encode(pg::Password { password: b"x" }),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid frontend message type"], true),
        },
        Case {
            name: "a length below 4",
            bytes: typed(b'Q', 2, b""),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid message length"], true),
        },
        Case {
            name: "a query string without its NUL",
            bytes: then(typed(b'Q', 7, b"abc"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid string in message",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
        Case {
            name: "bytes after the query string",
            bytes: then(typed(b'Q', 9, b"ab\0cd"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid message format",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
        Case {
            name: "a Sync with a body",
            bytes: then(typed(b'S', 5, b"x"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid message format",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
    ]
}

/// Where PostgreSQL closes without a word, pg-server says why first.
const POSTGRES_SILENT: &[&str] = &["a startup packet over 10,000 bytes", "a length below 4"];

#[test]
fn bad_input_gets_what_postgres_sends() {
    let Some(real) = Postgres::start() else {
        return;
    };
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    for case in cases() {
        let bytes = if case.after_login {
            logged_in(&case.bytes)
        } else {
            case.bytes.clone()
        };
        let done = |m: &[String]| {
            // The cases that go on end with the probe's ReadyForQuery.
            m.iter().filter(|m| m.starts_with("ready ")).count() >= 3
        };
        let ours = exchange(addr, &bytes, 0, done);
        let theirs = exchange(real.addr(), &bytes, 0, done);
        let (ours_after, theirs_after) = if case.after_login {
            (after_login(&ours), after_login(&theirs))
        } else {
            (ours.messages.clone(), theirs.messages.clone())
        };
        let want: Vec<String> = case.ours.0.iter().map(|s| s.to_string()).collect();
        assert_eq!(ours_after, want, "{}: pg-server's answer", case.name);
        assert_eq!(ours.closed, case.ours.1, "{}: pg-server closed", case.name);
        assert_eq!(
            theirs.closed, ours.closed,
            "{}: PostgreSQL closed",
            case.name
        );
        if POSTGRES_SILENT.contains(&case.name) {
            assert!(
                theirs_after.is_empty(),
                "{}: PostgreSQL said {theirs_after:?}",
                case.name
            );
            continue;
        }
        // The same messages; PostgreSQL's texts may say more (the message type, the
        // version it got).
        assert_eq!(
            ours_after.len(),
            theirs_after.len(),
            "{}: {ours_after:?} / {theirs_after:?}",
            case.name
        );
        for (o, t) in ours_after.iter().zip(&theirs_after) {
            let o = o.trim_end_matches(": server supports 3.0 to 3.0");
            let o = o.trim_end_matches("unsupported frontend protocol");
            assert!(
                t.starts_with(o),
                "{}: pg-server's {o:?}, PostgreSQL's {t:?}",
                case.name
            );
        }
    }
    stop(server);
}

/// A connection that must keep being served through the bad input.
fn witness(addr: SocketAddr) -> Witness {
    Witness::new(addr, |w, after| {
        if w.n == 1 {
            w.stream.write_all(&login()).expect("witness login");
            let mut seen = Vec::new();
            while !seen.ends_with(b"Z\0\0\0\x05I") {
                let mut b = [0u8; 4096];
                let n = w.stream.read(&mut b).expect("witness login reply");
                assert!(n > 0, "the witness's login");
                seen.extend_from_slice(&b[..n]);
            }
        }
        let sql = format!("select {}", w.n);
        let mut want = Vec::new();
        let cols = [pg::RowDescriptionColumns {
            name: b"?column?",
            table: 0,
            column: 0,
            type_oid: 23,
            type_size: 4,
            type_modifier: -1,
            format: 0,
        }];
        let n = w.n.to_string();
        let vals = [pg::DataRowValues {
            value: Some(n.as_bytes()),
        }];
        for m in [
            pg::ServerMessage::from(pg::RowDescription {
                columns: Seq::from(&cols[..]),
            }),
            pg::ServerMessage::from(pg::DataRow {
                values: Seq::from(&vals[..]),
            }),
            pg::ServerMessage::from(pg::CommandComplete { tag: b"SELECT 1" }),
            pg::ServerMessage::from(pg::ReadyForQuery { status: b"I" }),
        ] {
            m.encode(&mut want).expect("encode the expected reply");
        }
        w.exchange(&query(&sql), &want, after);
    })
}

on_every_backend!(bad_input_never_harms_other_connections);

fn bad_input_never_harms_other_connections(backend: Backend) {
    let (server, addr) = start_pg_server(backend, &[]);
    let mut witness = witness(addr);
    witness.check("the start");
    for case in cases() {
        let bytes = if case.after_login {
            logged_in(&case.bytes)
        } else {
            case.bytes.clone()
        };
        let r = exchange(addr, &bytes, 0, ready(3));
        let got = if case.after_login {
            after_login(&r)
        } else {
            r.messages.clone()
        };
        let want: Vec<String> = case.ours.0.iter().map(|s| s.to_string()).collect();
        assert_eq!((got, r.closed), (want, case.ours.1), "{}", case.name);
        witness.check(case.name);
    }
    // A frame over the 1 MiB limit: refused as soon as its length is read.
    let mut big = vec![b'Q'];
    big.extend_from_slice(&(2u32 * 1024 * 1024).to_be_bytes());
    big.extend_from_slice(&[b'x'; 1000]);
    let r = exchange(addr, &logged_in(&big), 0, until_close);
    assert_eq!(
        after_login(&r),
        ["error FATAL 08P01 invalid message length"]
    );
    assert!(r.closed);
    witness.check("a frame over the limit");
    // A 2.0 startup packet: refused (in the 3.0 format).
    let r = exchange(addr, &[0, 0, 0, 9, 0, 2, 0, 0, 0], 0, until_close);
    assert_eq!(
        r.messages,
        ["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"]
    );
    // The extended protocol: one error, the rest ignored up to Sync, then on.
    let mut ext = encode(pg::Parse {
        body: b"\0select $1\0\0\0",
    });
    ext.extend(encode(pg::Bind {
        body: b"\0\0\0\0\0\x01\0\0\0\x011\0\0",
    }));
    ext.extend(encode(pg::Describe { body: b"P\0" }));
    ext.extend(encode(pg::Execute {
        body: b"\0\0\0\0\0",
    }));
    ext.extend(query("select 'ignored'"));
    ext.extend(encode(pg::Flush {}));
    ext.extend(encode(pg::Sync {}));
    ext.extend(query("begin"));
    ext.extend(encode(pg::CloseStatement { body: b"S\0" }));
    ext.extend(encode(pg::Sync {}));
    ext.extend(query("rollback"));
    ext.extend(probe());
    let r = exchange(addr, &logged_in(&ext), 0, ready(6));
    let mut want = vec![
        "error ERROR 0A000 extended query protocol not supported",
        "ready I",
        "complete BEGIN",
        "ready T",
        "error ERROR 0A000 extended query protocol not supported",
        "ready E",
        "complete ROLLBACK",
        "ready I",
    ];
    want.extend_from_slice(ALIVE);
    assert_eq!(after_login(&r), want);
    witness.check("the extended protocol");
    // Garbage after the login: only messages of the protocol, then a close.
    for seed in 1..=8u64 {
        let mut g = pseudo_random(2048, seed);
        if seed % 2 == 0 {
            // Plausible frames: a known type byte and a small length.
            for chunk in g.chunks_mut(16) {
                chunk[0] = b"QSHXPBDEC"[usize::from(chunk[0]) % 9];
                chunk[1..4].copy_from_slice(&[0, 0, 0]);
                chunk[4] = 4 + chunk[4] % 12;
            }
        }
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
        let _ = s.write_all(&logged_in(&g));
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        match s.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("garbage case {seed}: the server did not close: {e}"),
        }
        witness.check(&format!("garbage case {seed}"));
    }
    stop(server);
}
