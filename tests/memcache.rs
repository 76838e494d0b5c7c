//! The memcached examples (`examples/memcache_server.rs`, `examples/memcache_client.rs`)
//! against the real memcached and libmemcached's tools:
//!
//! * one scripted session of raw bytes (every command, `noreply`, CAS uniques, the
//!   `incr`/`decr` rules, expiry, a delayed `flush_all`, the item size limit, and
//!   memcached's error replies) gets byte-for-byte the same replies from
//!   `memcache-server` (on every backend) and from a real `memcached` started here; the
//!   version string and the `stats` values are compared by shape;
//! * libmemcached's tools (`memccp`, `memccat`, `memcexist`, `memcrm`, `memcstat`,
//!   `memcflush`, as Debian's `libmemcached-tools` names them) copy a file into
//!   `memcache-server`, read it back identical, remove it, flush and show the stats;
//! * the `memcache-client` library runs the same script against `memcached` and gets the
//!   same replies; the `memcache-client` program answers commands from its arguments and
//!   from standard input;
//! * bad input (an over-long line, invalid lengths, garbage, a client leaving in the
//!   middle of a line or of a data block) gets memcached's error reply or a close, never
//!   a panic, while other connections keep being served, on every backend.
//!
//! The peer tests print `skipping: ...` and pass when memcached or the tools are missing,
//! unless `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asyncore_examples::memcache_client::{exchange, Command as McCommand, Response};
use asyncore_runtime::Backend;

use support::{pseudo_random, Finished, Proc, Witness, HANG_GUARD};

// ===== peers and processes =====

fn have_memcached() -> bool {
    support::require_peer("memcached", support::runs_ok("memcached", "-V"))
}

/// libmemcached's command-line tools, under the names Debian's `libmemcached-tools`
/// gives them.
const TOOLS: [&str; 6] = [
    "memccp",
    "memccat",
    "memcexist",
    "memcrm",
    "memcstat",
    "memcflush",
];

fn have_libmemcached_tools() -> bool {
    support::require_peer(
        "libmemcached-tools (memccp, memccat, memcexist, memcrm, memcstat, memcflush)",
        TOOLS.iter().all(|t| support::runs_ok(t, "--version")),
    )
}

/// Starts memcache-server on 127.0.0.1:0 with `backend`.
fn start_ours(backend: Backend) -> (Proc, SocketAddr) {
    support::start_server("memcache-server", backend.name(), &[] as &[&str])
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// A real memcached on a free port of 127.0.0.1 (TCP only), killed on drop.
struct Memcached {
    _proc: Proc,
    addr: SocketAddr,
}

impl Memcached {
    fn start() -> Memcached {
        Memcached::start_with(&[])
    }

    /// memcached with `extra` arguments (`-m 3`).
    fn start_with(extra: &[&str]) -> Memcached {
        let mut last = String::new();
        // The port is picked by binding port 0 and releasing it; another process may take
        // it in between, so try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind a free port")
                .port();
            let mut cmd = Command::new("memcached");
            cmd.args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"]);
            cmd.args(extra);
            if rustix::process::geteuid().is_root() {
                // memcached refuses to run as root without a user to run as.
                cmd.args(["-u", "root"]);
            }
            let mut proc = Proc::spawn(&format!("memcached :{port}"), cmd);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline {
                if answers_version(addr) {
                    return Memcached { _proc: proc, addr };
                }
                std::thread::sleep(Duration::from_millis(20));
                if exited(&proc) {
                    break;
                }
            }
            last = proc.finish(Duration::from_secs(2)).transcript();
        }
        panic!("memcached did not start\n{last}");
    }
}

/// Whether the process is gone (or a zombie).
fn exited(proc: &Proc) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", proc.pid()))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

/// Whether a memcached server answers `version` at `addr`.
fn answers_version(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"version\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 8];
    s.read_exact(&mut buf).is_ok() && &buf == b"VERSION "
}

/// Runs `program args` with `input` on its standard input; see [`support::run_raw`].
fn run_raw(program: &PathBuf, args: &[String], input: &[u8]) -> (i32, Vec<u8>, String) {
    support::run_raw(program, args, input)
}

fn tool(name: &str, args: &[String]) -> (i32, Vec<u8>, String) {
    run_raw(&PathBuf::from(name), args, b"")
}

fn show(bytes: &[u8]) -> String {
    if bytes.len() <= 300 {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        format!(
            "{:?}... ({} bytes)",
            String::from_utf8_lossy(&bytes[..300]),
            bytes.len()
        )
    }
}

// ===== the script =====

/// What one step of the script must get back.
#[derive(Debug, Clone)]
enum Expect {
    /// Exactly these bytes (nothing, for a `noreply` command).
    Bytes(Vec<u8>),
    /// One `VERSION ...` line; the version itself is the server's own.
    Version,
    /// `STAT name value` lines and `END`; the values are the server's own.
    Stats,
    /// `STAT` lines and `END` with at least these names, with these values where given.
    StatValues(Vec<(&'static str, Option<&'static str>)>),
}

/// One step: wait `pause`, send `send`, read the reply.
#[derive(Debug, Clone)]
struct Step {
    pause: Duration,
    send: Vec<u8>,
    expect: Expect,
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// The scripted session. CAS uniques count from a fresh server; `unix_now` is the time
/// the script is made, for absolute expiry times.
fn script(unix_now: u64) -> Vec<Step> {
    let step = |send: &str, reply: &str| Step {
        pause: Duration::ZERO,
        send: b(send),
        expect: Expect::Bytes(b(reply)),
    };
    let after = |pause: u64, send: &str, reply: &str| Step {
        pause: Duration::from_millis(pause),
        ..step(send, reply)
    };
    let shape = |send: &str, expect: Expect| Step {
        pause: Duration::ZERO,
        send: b(send),
        expect,
    };
    // The largest value memcached takes under a 3-byte key, and one byte more.
    let max = 1024 * 1024 - 59 - 3;
    let big = |n: usize| {
        let mut v = format!("set big 0 0 {n}\r\n").into_bytes();
        v.extend((0..n).map(|i| b'a' + (i % 26) as u8));
        v.extend_from_slice(b"\r\n");
        v
    };
    let mut big_reply = format!("VALUE big 0 {max}\r\n").into_bytes();
    big_reply.extend((0..max).map(|i| b'a' + (i % 26) as u8));
    big_reply.extend_from_slice(b"\r\nEND\r\n");
    let mut huge = b("set huge 0 0 2000000\r\n");
    huge.extend(std::iter::repeat_n(b'h', 2_000_000));
    huge.extend_from_slice(b"\r\n");
    let long_key = "k".repeat(251);
    let future = unix_now + 1000;

    vec![
        // Storage, retrieval and CAS uniques.
        step("set a 0 0 1\r\n1\r\n", "STORED\r\n"),
        step("get a\r\n", "VALUE a 0 1\r\n1\r\nEND\r\n"),
        step("gets a\r\n", "VALUE a 0 1 1\r\n1\r\nEND\r\n"),
        step("add a 0 0 1\r\n2\r\n", "NOT_STORED\r\n"),
        step("add b 5 0 3\r\nxyz\r\n", "STORED\r\n"),
        step("replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        step("replace b 7 0 2\r\nhi\r\n", "STORED\r\n"),
        step("append b 0 0 3\r\n!!!\r\n", "STORED\r\n"),
        step("prepend b 9 0 2\r\n>>\r\n", "STORED\r\n"),
        step(
            "get a b c\r\n",
            "VALUE a 0 1\r\n1\r\nVALUE b 7 7\r\n>>hi!!!\r\nEND\r\n",
        ),
        step("gets b\r\n", "VALUE b 7 7 5\r\n>>hi!!!\r\nEND\r\n"),
        step("cas b 0 0 1 4\r\nX\r\n", "EXISTS\r\n"),
        step("cas b 3 0 1 5\r\nY\r\n", "STORED\r\n"),
        step("cas zz 0 0 1 1\r\nZ\r\n", "NOT_FOUND\r\n"),
        step("gets b\r\n", "VALUE b 3 1 6\r\nY\r\nEND\r\n"),
        step("append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        step("prepend nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        step("set empty 0 0 0\r\n\r\n", "STORED\r\n"),
        step("get empty\r\n", "VALUE empty 0 0\r\n\r\nEND\r\n"),
        step("set crlf 4294967295 0 4\r\n\r\n\r\n\r\n", "STORED\r\n"),
        step(
            "get crlf\r\n",
            "VALUE crlf 4294967295 4\r\n\r\n\r\n\r\nEND\r\n",
        ),
        step("delete b\r\n", "DELETED\r\n"),
        step("delete b\r\n", "NOT_FOUND\r\n"),
        step("delete a noreply\r\n", ""),
        step("get a b\r\n", "END\r\n"),
        // incr and decr: in-place padding, wrapping, the floor at 0, non-numbers.
        step("set n 0 0 3\r\n100\r\n", "STORED\r\n"),
        step("decr n 91\r\n", "9\r\n"),
        step("get n\r\n", "VALUE n 0 3\r\n9  \r\nEND\r\n"),
        step("incr n 1000\r\n", "1009\r\n"),
        step("gets n\r\n", "VALUE n 0 4 11\r\n1009\r\nEND\r\n"),
        step("decr n 5000\r\n", "0\r\n"),
        step("incr n 5 noreply\r\n", ""),
        step("get n\r\n", "VALUE n 0 4\r\n5   \r\nEND\r\n"),
        step("set max 0 0 20\r\n18446744073709551615\r\n", "STORED\r\n"),
        step("incr max 2\r\n", "1\r\n"),
        step("set sp 0 0 4\r\n 12 \r\n", "STORED\r\n"),
        step("incr sp 1\r\n", "13\r\n"),
        step("incr nope 1\r\n", "NOT_FOUND\r\n"),
        step("decr nope 1\r\n", "NOT_FOUND\r\n"),
        step("set s 0 0 3\r\nabc\r\n", "STORED\r\n"),
        step(
            "incr s 1\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        step(
            "decr empty 1\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        // touch, gat, gats.
        step("touch s 100\r\n", "TOUCHED\r\n"),
        step("touch zz 100\r\n", "NOT_FOUND\r\n"),
        step("gat 100 s zz\r\n", "VALUE s 0 3\r\nabc\r\nEND\r\n"),
        step("gats 0 s\r\n", "VALUE s 0 3 18\r\nabc\r\nEND\r\n"),
        step("set q 0 0 1 noreply\r\nq\r\n", ""),
        // Bare LF ends a command line too.
        step("get q\n", "VALUE q 0 1\r\nq\r\nEND\r\n"),
        // Expiry: negative, an absolute time in the past, in the future.
        step("set gone 0 -1 1\r\nx\r\n", "STORED\r\n"),
        step("get gone\r\n", "END\r\n"),
        step("set past 0 1000000000 1\r\nx\r\n", "STORED\r\n"),
        step("get past\r\n", "END\r\n"),
        step(&format!("set future 0 {future} 1\r\nf\r\n"), "STORED\r\n"),
        step("get future\r\n", "VALUE future 0 1\r\nf\r\nEND\r\n"),
        step("set soon 0 1 1\r\nx\r\n", "STORED\r\n"),
        step("set later 0 100 1\r\nl\r\n", "STORED\r\n"),
        step("touch later -1\r\n", "TOUCHED\r\n"),
        step("get later\r\n", "END\r\n"),
        after(
            2500,
            "get soon future\r\n",
            "VALUE future 0 1\r\nf\r\nEND\r\n",
        ),
        // A delayed flush_all: items stored before it go once its time has come.
        step("flush_all 2\r\n", "OK\r\n"),
        after(3200, "get future q\r\n", "END\r\n"),
        step("set d2 0 0 2\r\nd2\r\n", "STORED\r\n"),
        step("gets d2\r\n", "VALUE d2 0 2 25\r\nd2\r\nEND\r\n"),
        // The item size limit; a set over it also drops the old value.
        Step {
            pause: Duration::ZERO,
            send: big(max),
            expect: Expect::Bytes(b("STORED\r\n")),
        },
        Step {
            pause: Duration::ZERO,
            send: b("get big\r\n"),
            expect: Expect::Bytes(big_reply),
        },
        Step {
            pause: Duration::ZERO,
            send: big(max + 1),
            expect: Expect::Bytes(b("SERVER_ERROR object too large for cache\r\n")),
        },
        step("get big\r\n", "END\r\n"),
        Step {
            pause: Duration::ZERO,
            send: huge,
            expect: Expect::Bytes(b("SERVER_ERROR object too large for cache\r\n")),
        },
        step("get huge d2\r\n", "VALUE d2 0 2\r\nd2\r\nEND\r\n"),
        // memcached's error replies.
        step("bogus\r\n", "ERROR\r\n"),
        step("GET d2\r\n", "ERROR\r\n"),
        step("\r\n", "ERROR\r\n"),
        step("get\r\n", "ERROR\r\n"),
        step("gets\r\n", "ERROR\r\n"),
        step("set k 0 0\r\n", "ERROR\r\n"),
        step(
            "set k abc 0 1\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        step(
            "set k 0 0 -1\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step(
            "cas k 0 0 1 x\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        step("cas k 0 0 1\r\n", "ERROR\r\n"),
        step("incr\r\n", "ERROR\r\n"),
        step("incr n\r\n", "ERROR\r\n"),
        step(
            "incr n abc\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        step(
            "decr n -1\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        step(
            "incr n 18446744073709551616\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        step("touch s\r\n", "ERROR\r\n"),
        step(
            "touch s abc\r\n",
            "CLIENT_ERROR invalid exptime argument\r\n",
        ),
        step("touch s 1 2 3\r\n", "ERROR\r\n"),
        step("gat\r\n", "ERROR\r\n"),
        step("gat 10\r\n", "END\r\n"),
        step("gat abc s\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        step("gats s\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        step("delete\r\n", "ERROR\r\n"),
        step(
            "delete s 5\r\n",
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        step("verbosity\r\n", "ERROR\r\n"),
        step(
            "verbosity abc\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step("verbosity 1\r\n", "OK\r\n"),
        step("verbosity 1 noreply\r\n", ""),
        step(
            "flush_all abc\r\n",
            "CLIENT_ERROR invalid exptime argument\r\n",
        ),
        step("stats bogus\r\n", "ERROR\r\n"),
        // memcached drops the replies it has queued for earlier commands of the same
        // read when a get has an over-long key: the pause makes the library send this
        // one first on a connection of its own.
        after(
            1,
            &format!("get {long_key}\r\n"),
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step(
            &format!("incr {long_key} 1\r\n"),
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step(
            &format!("touch {long_key} 1\r\n"),
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step(
            &format!("delete {long_key}\r\n"),
            "CLIENT_ERROR bad command line format\r\n",
        ),
        // Version and stats: compared by shape.
        shape("version\r\n", Expect::Version),
        shape("version x\r\n", Expect::Version),
        shape("stats\r\n", Expect::Stats),
        // libmemcached ends `stats` and `flush_all` with a space.
        shape("stats \r\n", Expect::Stats),
        step("flush_all \r\n", "OK\r\n"),
        step("get d2 s\r\n", "END\r\n"),
        step("set after 0 0 1\r\nz\r\n", "STORED\r\n"),
        step("gets after\r\n", "VALUE after 0 1 28\r\nz\r\nEND\r\n"),
        step("flush_all noreply\r\n", ""),
        step("get after\r\n", "END\r\n"),
        // A data block not followed by CRLF: memcached's reply; the block and two bytes
        // more go by, and what follows is read as commands.
        step("set k 0 0 5\r\nhelloXY", "CLIENT_ERROR bad data chunk\r\n"),
        step("get k\r\n", "END\r\n"),
        step(
            "set k 0 0 2\r\nabcdef\r\nget k\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
        ),
        step("set k 0 0 2\r\nab\rx", "CLIENT_ERROR bad data chunk\r\n"),
        shape("version\r\n", Expect::Version),
        step(
            "set k 0 0 2\r\nabcdefgh ijk\r\nget k\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
        ),
    ]
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Reads from `s` until `done(buffer)`, the end of the stream, or `quiet` without
/// anything arriving (or the hang guard).
fn read_until(s: &mut TcpStream, quiet: Duration, mut done: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + HANG_GUARD;
    let mut last = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !done(&got) && Instant::now() < deadline && last.elapsed() < quiet {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                last = Instant::now();
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    got
}

/// Runs the script on one connection to `addr`: the reply to each step, then whatever
/// came after the last one. Stops after the first reply that differs from the script's
/// (the rest could only be out of step).
fn run_script(addr: SocketAddr, steps: &[Step]) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut replies = Vec::new();
    for step in steps {
        std::thread::sleep(step.pause);
        if s.write_all(&step.send).is_err() {
            break;
        }
        let reply = match &step.expect {
            Expect::Bytes(want) if want.is_empty() => Vec::new(),
            Expect::Bytes(want) => read_until(&mut s, HANG_GUARD, |got| {
                got.len() >= want.len() || !want.starts_with(got)
            }),
            Expect::Version => read_until(&mut s, HANG_GUARD, |got| got.ends_with(b"\r\n")),
            Expect::Stats | Expect::StatValues(_) => read_until(&mut s, HANG_GUARD, |got| {
                got.ends_with(b"END\r\n") || got.ends_with(b"ERROR\r\n")
            }),
        };
        let wrong = matches!(&step.expect, Expect::Bytes(want) if *want != reply);
        replies.push(reply);
        if wrong {
            return replies;
        }
    }
    // Nothing more may come (a close is fine).
    let extra = read_until(&mut s, Duration::from_millis(300), |_| false);
    replies.push(extra);
    replies
}

/// The names of the `STAT` lines of a stats reply; panics if the reply is not
/// `STAT name value` lines and `END`.
fn stat_names(who: &str, reply: &[u8]) -> Vec<String> {
    stat_values(who, reply)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// The names and values of the `STAT` lines of a stats reply; panics if the reply is not
/// `STAT name value` lines and `END`.
fn stat_values(who: &str, reply: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines.last(),
        Some(&"END"),
        "{who}: a stats reply ends with END: {text:?}"
    );
    lines[..lines.len() - 1]
        .iter()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let (stat, name, value) = (parts.next(), parts.next(), parts.next());
            assert!(
                stat == Some("STAT") && name.is_some_and(|n| !n.is_empty()) && value.is_some(),
                "{who}: `{l}` is not `STAT name value`"
            );
            (
                name.unwrap_or_default().to_string(),
                value.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Checks one server's replies against the script.
fn check_replies(who: &str, steps: &[Step], replies: &[Vec<u8>]) {
    for (i, step) in steps.iter().enumerate() {
        let got = replies.get(i).unwrap_or_else(|| {
            panic!(
                "{who}: the session stopped before step {i} ({})",
                show(&step.send)
            )
        });
        let what = format!("{who}, step {i} ({})", show(&step.send));
        match &step.expect {
            Expect::Bytes(want) => assert!(
                got == want,
                "{what}: got {}, want {}",
                show(got),
                show(want)
            ),
            Expect::Version => {
                let text = String::from_utf8_lossy(got);
                assert!(
                    text.starts_with("VERSION ")
                        && text.ends_with("\r\n")
                        && text.matches("\r\n").count() == 1,
                    "{what}: got {text:?}"
                );
            }
            Expect::Stats => {
                let names = stat_names(&what, got);
                for wanted in [
                    "pid",
                    "uptime",
                    "curr_items",
                    "total_items",
                    "get_hits",
                    "get_misses",
                    "cmd_get",
                    "cmd_set",
                    "curr_connections",
                ] {
                    assert!(
                        names.iter().any(|n| n == wanted),
                        "{what}: no `STAT {wanted}` in {names:?}"
                    );
                }
            }
            Expect::StatValues(wanted) => {
                let values = stat_values(&what, got);
                for (name, value) in wanted {
                    let found = values.iter().find(|(n, _)| n == name);
                    match (found, value) {
                        (None, _) => panic!("{what}: no `STAT {name}` in {values:?}"),
                        (Some((_, v)), Some(want)) => {
                            assert_eq!(v, want, "{what}: `STAT {name}`")
                        }
                        (Some(_), None) => {}
                    }
                }
            }
        }
    }
    let extra = &replies[steps.len()];
    assert!(
        extra.is_empty(),
        "{who}: replies after the last step: {}",
        show(extra)
    );
}

#[test]
fn scripted_session_gets_the_same_bytes_from_memcache_server_and_memcached() {
    if !have_memcached() {
        return;
    }
    let steps = script(unix_now());
    let memcached = Memcached::start();
    // Every server runs the script at the same time: the pauses are the longest part.
    let servers: Vec<(Proc, SocketAddr, Backend)> = Backend::ALL
        .iter()
        .map(|&backend| {
            let (p, a) = start_ours(backend);
            (p, a, backend)
        })
        .collect();
    let reference = {
        let steps = steps.clone();
        let addr = memcached.addr;
        std::thread::spawn(move || run_script(addr, &steps))
    };
    let ours: Vec<_> = servers
        .iter()
        .map(|(_, addr, backend)| {
            let steps = steps.clone();
            let addr = *addr;
            let backend = *backend;
            (
                backend,
                std::thread::spawn(move || run_script(addr, &steps)),
            )
        })
        .collect();
    let reference = reference.join().expect("the memcached session");
    // The script must be right about memcached before it says anything about us.
    check_replies("memcached", &steps, &reference);
    let reference_stats = steps
        .iter()
        .zip(&reference)
        .find(|(s, _)| matches!(s.expect, Expect::Stats))
        .map(|(_, r)| stat_names("memcached", r))
        .expect("the script has a stats step");
    for (backend, session) in ours {
        let replies = session.join().expect("a memcache-server session");
        let who = format!("memcache-server ({backend})");
        check_replies(&who, &steps, &replies);
        for (i, step) in steps.iter().enumerate() {
            match step.expect {
                Expect::Bytes(_) => assert_eq!(
                    replies[i], reference[i],
                    "{who}, step {i}: not the bytes memcached sent"
                ),
                Expect::Stats => {
                    for name in stat_names(&who, &replies[i]) {
                        assert!(
                            reference_stats.contains(&name),
                            "{who}: `STAT {name}` is not a memcached statistic"
                        );
                    }
                }
                Expect::Version | Expect::StatValues(_) => {}
            }
        }
    }
    for (server, _, _) in servers {
        stop(server);
    }
}

/// What memcached's own test suite (1.6.18, `t/*.t`) found `memcache-server` answering
/// differently, as one session against a fresh memcached and a fresh memcache-server:
/// `stats items`, `stats slabs` and `stats settings` with memcached's names (and its size
/// classes), `slabs automove`, spaces around a command line, `delete <key> 0`, `noreply`
/// silencing errors, a failed oversize `set` dropping the old value, a length memcached
/// cannot count answered without a close, a `get` line of 180 KB, and the silent close
/// after an HTTP request line.
#[test]
fn suite_findings_get_the_same_bytes_from_memcache_server_and_memcached() {
    if !have_memcached() {
        return;
    }
    let step = |send: &str, reply: &str| Step {
        pause: Duration::ZERO,
        send: b(send),
        expect: Expect::Bytes(b(reply)),
    };
    let stats = |send: &str, wanted: Vec<(&'static str, Option<&'static str>)>| Step {
        pause: Duration::ZERO,
        send: b(send),
        expect: Expect::StatValues(wanted),
    };
    let mut too_large = b"set big 0 0 1100000\r\n".to_vec();
    too_large.extend(std::iter::repeat_n(b'v', 1_100_000));
    too_large.extend_from_slice(b"\r\n");
    let long_get = format!("get {}a\r\n", "nokey ".repeat(30_000));
    let steps = vec![
        step("set a 0 0 10\r\n0123456789\r\n", "STORED\r\n"),
        step("get a\r\n", "VALUE a 0 10\r\n0123456789\r\nEND\r\n"),
        stats(
            "stats items\r\n",
            vec![
                ("items:1:number", Some("1")),
                ("items:1:mem_requested", Some("70")),
                ("items:1:evicted", Some("0")),
                ("items:1:reclaimed", Some("0")),
                ("items:1:age", None),
            ],
        ),
        stats(
            "stats slabs\r\n",
            vec![
                ("1:chunk_size", Some("96")),
                ("1:used_chunks", Some("1")),
                ("1:get_hits", Some("1")),
                ("1:cmd_set", Some("1")),
                ("active_slabs", Some("1")),
                ("total_malloced", Some("1048576")),
            ],
        ),
        stats(
            "stats settings\r\n",
            vec![
                ("maxbytes", Some("67108864")),
                ("item_size_max", Some("1048576")),
                ("evictions", Some("on")),
                ("growth_factor", Some("1.25")),
                ("chunk_size", Some("48")),
                ("cas_enabled", Some("yes")),
            ],
        ),
        stats(
            "stats\r\n",
            vec![
                ("bytes", Some("70")),
                ("limit_maxbytes", Some("67108864")),
                ("evictions", Some("0")),
                ("reclaimed", Some("0")),
                ("conn_yields", Some("0")),
            ],
        ),
        step("shutdown\r\n", "ERROR: shutdown not enabled\r\n"),
        step("slabs automove 1\r\n", "OK\r\n"),
        step("slabs automove 3\r\n", "ERROR\r\n"),
        step(
            "slabs automove invalid\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        // Counters per key prefix.
        step("stats detail dump\r\n", "END\r\n"),
        step("stats detail on\r\n", "OK\r\n"),
        step("set foo:1 0 0 1\r\nx\r\n", "STORED\r\n"),
        step("get foo:1 foo:2 bar\r\n", "VALUE foo:1 0 1\r\nx\r\nEND\r\n"),
        step("delete foo:3\r\n", "NOT_FOUND\r\n"),
        step(
            "stats detail dump\r\n",
            "PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n",
        ),
        step("stats detail off\r\n", "OK\r\n"),
        step(
            "stats cachedump 99 0\r\n",
            "CLIENT_ERROR Illegal slab id\r\n",
        ),
        step("stats cachedump x\r\n", "CLIENT_ERROR bad command line\r\n"),
        step(
            "stats detail bogus\r\n",
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n",
        ),
        // Spaces before a command and after its last argument.
        step("set sp 0 0 1 \r\nx\r\n", "STORED\r\n"),
        step("get sp \r\n", "VALUE sp 0 1\r\nx\r\nEND\r\n"),
        step(
            "  get   a   sp\r\n",
            "VALUE a 0 10\r\n0123456789\r\nVALUE sp 0 1\r\nx\r\nEND\r\n",
        ),
        // A hold time of 0 (and only 0).
        step("delete sp 0\r\n", "DELETED\r\n"),
        step("delete sp 0 noreply\r\n", ""),
        step(
            "delete a 10\r\n",
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        // `noreply` silences errors too, but not `ERROR`.
        step("delete a 10 noreply\r\n", ""),
        step("incr a abc noreply\r\n", ""),
        step("touch a abc noreply\r\n", ""),
        step("set a 0 0 abc noreply\r\n", ""),
        step("bogus noreply\r\n", "ERROR\r\n"),
        // A set over the item size drops the value it would have replaced.
        step("set big 0 0 3\r\nold\r\n", "STORED\r\n"),
        Step {
            pause: Duration::ZERO,
            send: too_large,
            expect: Expect::Bytes(b("SERVER_ERROR object too large for cache\r\n")),
        },
        step("get big\r\n", "END\r\n"),
        // A length memcached cannot count: an error, and the next line is a command.
        step(
            "set k 0 0 4294967295\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        step("get k\r\n", "END\r\n"),
        // A get line of 180 KB.
        step(&long_get, "VALUE a 0 10\r\n0123456789\r\nEND\r\n"),
        // An HTTP request line: a close, without a word.
        step("GET / HTTP/1.0\r\n", ""),
    ];
    let memcached = Memcached::start();
    let (server, addr) = start_ours(Backend::Epoll);
    let reference = run_script(memcached.addr, &steps);
    check_replies("memcached", &steps, &reference);
    let replies = run_script(addr, &steps);
    check_replies("memcache-server", &steps, &replies);
    stop(server);
}

/// With `-m 3`, memcached and memcache-server take 80 values of 65 KB (5 MB) and drop
/// the oldest to make room: `evictions` and `items:31:evicted` count them, the first key
/// is gone and the last is there. memcache-server drops the least recently used: a key
/// read since it was stored stays.
#[test]
fn memory_limit_evicts_the_least_recently_used_items() {
    if !have_memcached() {
        return;
    }
    let memcached = Memcached::start_with(&["-m", "3"]);
    let (server, addr) =
        support::start_server("memcache-server", Backend::Epoll.name(), &["-m", "3"]);
    let value = "B".repeat(66_560);
    let set = |i: usize| format!("set key{i} 0 0 66560\r\n{value}\r\n");
    let value_of = |key: &str| format!("VALUE {key} 0 66560\r\n{value}\r\nEND\r\n");
    for (who, addr) in [("memcached", memcached.addr), ("memcache-server", addr)] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let mut ask = |send: &str, done: &dyn Fn(&[u8]) -> bool| {
            s.write_all(send.as_bytes()).expect("send");
            String::from_utf8_lossy(&read_until(&mut s, HANG_GUARD, done)).into_owned()
        };
        let end = |got: &[u8]| got.ends_with(b"END\r\n") || got.ends_with(b"ERROR\r\n");
        let line = |got: &[u8]| got.ends_with(b"\r\n");
        for i in 0..80 {
            assert_eq!(ask(&set(i), &line), "STORED\r\n", "{who}: set key{i}");
        }
        let general = stat_values(who, ask("stats\r\n", &end).as_bytes());
        let evictions = general.iter().find(|(n, _)| n == "evictions");
        assert!(
            evictions.is_some_and(|(_, v)| v.parse::<u64>().is_ok_and(|n| n > 0)),
            "{who}: evictions counted: {evictions:?}"
        );
        let items = stat_values(who, ask("stats items\r\n", &end).as_bytes());
        let evicted = items.iter().find(|(n, _)| n == "items:31:evicted");
        assert!(
            evicted.is_some_and(|(_, v)| v.parse::<u64>().is_ok_and(|n| n > 0)),
            "{who}: items:31:evicted counted: {evicted:?}"
        );
        assert_eq!(ask("get key0\r\n", &end), "END\r\n", "{who}: key0 evicted");
        assert_eq!(
            ask("get key79\r\n", &end),
            value_of("key79"),
            "{who}: key79 kept"
        );
    }
    // memcache-server: the least recently used go first, whatever their age.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut ask = |send: &str| {
        s.write_all(send.as_bytes()).expect("send");
        let done = |got: &[u8]| {
            got.ends_with(b"\r\n") && (got.starts_with(b"STORED") || got.ends_with(b"END\r\n"))
        };
        String::from_utf8_lossy(&read_until(&mut s, HANG_GUARD, done)).into_owned()
    };
    assert_eq!(ask("get key40\r\n"), value_of("key40"));
    for i in 80..120 {
        assert_eq!(ask(&set(i)), "STORED\r\n", "set key{i}");
    }
    assert_eq!(ask("get key40\r\n"), value_of("key40"), "read, so kept");
    assert_eq!(ask("get key41\r\n"), "END\r\n", "not read, so evicted");
    stop(server);
}

/// `stats conns` lists each connection by descriptor and address, and a
/// connection that says `watch fetchers mutations` receives a line for each item another
/// connection looks up or stores, naming that connection's descriptor: the same on
/// memcached and memcache-server (memcached's watcher_connid.t).
#[test]
fn watchers_see_lookups_and_stores_with_the_connection_of_each() {
    if !have_memcached() {
        return;
    }
    let memcached = Memcached::start();
    let (server, addr) = start_ours(Backend::Epoll);
    for (who, addr) in [("memcached", memcached.addr), ("memcache-server", addr)] {
        let connect = || {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .expect("read timeout");
            s
        };
        let (mut client, mut watcher) = (connect(), connect());
        client.write_all(b"stats conns\r\n").expect("send");
        let got = read_until(&mut client, HANG_GUARD, |got| got.ends_with(b"END\r\n"));
        let conns = stat_values(who, &got);
        // The client's own line: its address as the server sees it.
        let me = format!("tcp:{}", client.local_addr().expect("local address"));
        let fd = conns
            .iter()
            .find(|(n, v)| n.ends_with(":addr") && *v == me)
            .and_then(|(n, _)| n.split(':').next())
            .unwrap_or_else(|| panic!("{who}: no `{me}` in {conns:?}"))
            .to_string();
        assert!(
            conns
                .iter()
                .any(|(n, v)| *n == format!("{fd}:state") && v.starts_with("conn_")),
            "{who}: the state of connection {fd} in {conns:?}"
        );
        watcher
            .write_all(b"watch fetchers mutations\r\n")
            .expect("send");
        let ok = read_until(&mut watcher, HANG_GUARD, |got| got.ends_with(b"\r\n"));
        assert_eq!(ok, b"OK\r\n", "{who}: watch");
        client
            .write_all(b"set foo 0 0 5 noreply\r\nhello\r\nget foo\r\n")
            .expect("send");
        let _ = read_until(&mut client, HANG_GUARD, |got| got.ends_with(b"END\r\n"));
        let lines = read_until(&mut watcher, HANG_GUARD, |got| {
            got.iter().filter(|&&b| b == b'\n').count() >= 3
        });
        let lines = String::from_utf8_lossy(&lines);
        let lines: Vec<&str> = lines.lines().collect();
        let wanted = [
            "type=item_get key=foo status=not_found",
            "type=item_store key=foo status=stored cmd=set",
            "type=item_get key=foo status=found",
        ];
        assert_eq!(lines.len(), wanted.len(), "{who}: {lines:?}");
        for (line, want) in lines.iter().zip(wanted) {
            assert!(
                line.starts_with("ts=")
                    && line.contains(" gid=")
                    && line.contains(want)
                    && line.split_whitespace().any(|w| w == format!("cfd={fd}")),
                "{who}: `{line}` is not `ts=... gid=... {want} ... cfd={fd}`"
            );
        }
    }
    stop(server);
}

/// `stats cachedump <class> <limit>` lists the items of a size class, most recently used
/// first: key, value bytes and expiry (0 for never); memcached's error replies for a class
/// that does not exist and for missing numbers.
#[test]
fn stats_cachedump_lists_the_items_of_a_class() {
    let (server, addr) = start_ours(Backend::Epoll);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    s.write_all(b"set foo 0 0 6\r\nfooval\r\nset bar 0 0 3\r\nabc\r\nstats cachedump 1 0\r\n")
        .expect("send");
    let got = read_until(&mut s, HANG_GUARD, |got| got.ends_with(b"END\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "STORED\r\nSTORED\r\nITEM bar [3 b; 0 s]\r\nITEM foo [6 b; 0 s]\r\nEND\r\n"
    );
    s.write_all(b"stats cachedump 1 1\r\nstats cachedump 2 0\r\nstats cachedump 0 0\r\n")
        .expect("send");
    let got = read_until(&mut s, HANG_GUARD, |got| got.ends_with(b"slab id\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "ITEM bar [3 b; 0 s]\r\nEND\r\nEND\r\nCLIENT_ERROR Illegal slab id\r\n"
    );
    stop(server);
}

/// The room of flushed or expired items is reclaimed by the next stores of their size
/// class: `reclaimed` counts them (memcached's issue 183).
#[test]
fn stores_after_a_flush_count_as_reclaimed() {
    let (server, addr) = start_ours(Backend::Epoll);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut reclaimed = |send: &[u8]| {
        s.write_all(send).expect("send");
        let got = read_until(&mut s, HANG_GUARD, |got| got.ends_with(b"END\r\n"));
        let text = String::from_utf8_lossy(&got).into_owned();
        let stats = text.rsplit_once("OK\r\n").map_or(&text[..], |(_, s)| s);
        let stats = stats.strip_prefix("STORED\r\n").unwrap_or(stats);
        let values = stat_values("memcache-server", stats.as_bytes());
        let found = values.iter().find(|(n, _)| n == "reclaimed").cloned();
        found.map(|(_, v)| v)
    };
    assert_eq!(
        reclaimed(b"set key 0 0 1\r\n1\r\nstats\r\n").as_deref(),
        Some("0")
    );
    assert_eq!(
        reclaimed(b"flush_all\r\nset key 0 0 1\r\n1\r\nstats\r\n").as_deref(),
        Some("1")
    );
    stop(server);
}

/// A client that pipelines more requests than a connection handles in one pass
/// (`MESSAGE_BUDGET`) makes it let the others go first: `stats` counts it as
/// `conn_yields`, memcached's name for it.
#[test]
fn pipelined_requests_count_conn_yields() {
    let (server, addr) = start_ours(Backend::Epoll);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    s.write_all(&b"get nothing\r\n".repeat(300)).expect("send");
    let got = read_until(&mut s, HANG_GUARD, |got| got.len() >= 300 * 5);
    assert_eq!(got, b"END\r\n".repeat(300));
    s.write_all(b"stats\r\n").expect("send");
    let got = read_until(&mut s, HANG_GUARD, |got| got.ends_with(b"END\r\n"));
    let values = stat_values("memcache-server", &got);
    let yields = values.iter().find(|(n, _)| n == "conn_yields");
    assert!(
        yields.is_some_and(|(_, v)| v.parse::<u64>().is_ok_and(|n| n > 0)),
        "conn_yields counted: {yields:?}"
    );
    stop(server);
}

#[test]
fn quit_closes_the_connection_on_both() {
    if !have_memcached() {
        return;
    }
    let memcached = Memcached::start();
    let (server, addr) = start_ours(Backend::Epoll);
    for (who, addr) in [("memcached", memcached.addr), ("memcache-server", addr)] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        s.write_all(b"get nothing\r\nquit\r\nget nothing\r\n")
            .expect("send");
        let got = read_until(&mut s, HANG_GUARD, |_| false);
        assert_eq!(
            String::from_utf8_lossy(&got),
            "END\r\n",
            "{who}: END for the first get, then a close"
        );
        let mut buf = [0u8; 1];
        assert!(
            matches!(s.read(&mut buf), Ok(0) | Err(_)),
            "{who}: the connection is closed after quit"
        );
    }
    stop(server);
}

// ===== libmemcached's tools =====

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("asyncore-memcache-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

#[test]
fn libmemcached_tools_copy_a_file_in_and_out_of_memcache_server() {
    if !have_libmemcached_tools() {
        return;
    }
    let (server, addr) = start_ours(Backend::Epoll);
    let servers = format!("--servers={addr}");
    let dir = temp_dir("tools");
    let content = pseudo_random(300_000, 7);
    let path = dir.join("payload.bin");
    std::fs::write(&path, &content).expect("write the file");
    let path = path.to_string_lossy().into_owned();
    let small = dir.join("note.txt");
    std::fs::write(&small, b"a small file\n").expect("write the file");
    let small = small.to_string_lossy().into_owned();
    let s = |a: &[&str]| {
        std::iter::once(servers.clone())
            .chain(a.iter().map(|x| x.to_string()))
            .collect::<Vec<_>>()
    };

    // memccp stores each file under its base name.
    let (code, _, err) = tool("memccp", &s(&[&path, &small]));
    assert_eq!(code, 0, "memccp failed: {err}");
    // memccat prints the value and a newline.
    let (code, out, err) = tool("memccat", &s(&["payload.bin"]));
    assert_eq!(code, 0, "memccat failed: {err}");
    assert_eq!(out.len(), content.len() + 1, "memccat's output length");
    assert!(
        out[..content.len()] == content[..] && out.ends_with(b"\n"),
        "memccat gives back the file"
    );
    let (code, out, err) = tool("memccat", &s(&["note.txt"]));
    assert_eq!(code, 0, "memccat failed: {err}");
    assert_eq!(out, b"a small file\n\n");
    // memcexist (an `add` that expires at once): present, then absent after memcrm.
    let (code, _, err) = tool("memcexist", &s(&["payload.bin"]));
    assert_eq!(code, 0, "memcexist of a stored key: {err}");
    let (code, _, err) = tool("memcrm", &s(&["payload.bin"]));
    assert_eq!(code, 0, "memcrm failed: {err}");
    let (code, _, _) = tool("memcexist", &s(&["payload.bin"]));
    assert_ne!(code, 0, "memcexist of a removed key");
    let (code, out, _) = tool("memccat", &s(&["payload.bin"]));
    assert!(
        code != 0 && out.is_empty(),
        "memccat of a removed key fails"
    );
    // memcstat reads the counters.
    let (code, out, err) = tool("memcstat", &s(&[]));
    assert_eq!(code, 0, "memcstat failed: {err}");
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains(&format!("Server: {} ({})", addr.ip(), addr.port())),
        "memcstat names the server: {out}"
    );
    for stat in [
        "pid:",
        "uptime:",
        "curr_items:",
        "total_items:",
        "cmd_get:",
        "get_hits:",
        "get_misses:",
        "curr_connections:",
    ] {
        assert!(out.contains(stat), "memcstat shows `{stat}`: {out}");
    }
    // memcflush (`flush_all ` with a trailing space) empties the server.
    let (code, _, err) = tool("memcflush", &s(&[]));
    assert_eq!(code, 0, "memcflush failed: {err}");
    let (code, _, _) = tool("memccat", &s(&["note.txt"]));
    assert_ne!(code, 0, "memccat after memcflush");
    let _ = std::fs::remove_dir_all(&dir);
    stop(server);
}

// ===== the client =====

/// The script as the library sends it: the steps it can encode (valid commands), cut
/// where the script pauses; each part with the replies its steps expect.
fn client_parts(steps: &[Step]) -> Vec<(Duration, Vec<McCommand>, Vec<Expect>)> {
    let mut parts: Vec<(Duration, Vec<McCommand>, Vec<Expect>)> = Vec::new();
    for step in steps {
        let Ok(cmds) = McCommand::parse_all(&step.send) else {
            continue;
        };
        if cmds.len() != 1 {
            continue;
        }
        if parts.is_empty() || !step.pause.is_zero() {
            parts.push((step.pause, Vec::new(), Vec::new()));
        }
        let part = parts.last_mut().expect("a part");
        if cmds[0].expect() != asyncore_examples::memcache_client::Expect::Nothing {
            part.2.push(step.expect.clone());
        }
        part.1.extend(cmds);
    }
    parts
}

#[test]
fn memcache_client_library_gets_the_scripted_replies_from_memcached() {
    if !have_memcached() {
        return;
    }
    let memcached = Memcached::start();
    let steps = script(unix_now());
    let parts = client_parts(&steps);
    let sent: usize = parts.iter().map(|p| p.1.len()).sum();
    assert!(sent > 80, "most of the script is valid commands ({sent})");
    for (i, (pause, commands, expects)) in parts.into_iter().enumerate() {
        std::thread::sleep(pause);
        let count = commands.len();
        let responses: Vec<Response> =
            exchange(memcached.addr, Backend::Epoll, commands, HANG_GUARD)
                .unwrap_or_else(|e| panic!("part {i} of the script ({count} commands): {e}"));
        assert_eq!(
            responses.len(),
            expects.len(),
            "part {i}: one response per command that has a reply"
        );
        for (r, want) in responses.iter().zip(&expects) {
            let what = format!("part {i}, `{}`", show(&r.command));
            match want {
                Expect::Bytes(want) => assert!(
                    &r.reply == want,
                    "{what}: got {}, want {}",
                    show(&r.reply),
                    show(want)
                ),
                Expect::Version => assert!(r.reply.starts_with(b"VERSION "), "{what}"),
                Expect::Stats | Expect::StatValues(_) => {
                    stat_names(&what, &r.reply);
                }
            }
        }
    }
}

#[test]
fn memcache_client_program_takes_arguments_and_standard_input() {
    let (server, addr) = start_ours(Backend::Poll);
    let bin = support::example_binary("memcache-client");
    let connect = ["--connect".to_string(), addr.to_string()];
    let args = |a: &[&str]| {
        connect
            .iter()
            .cloned()
            .chain(a.iter().map(|x| x.to_string()))
            .collect::<Vec<_>>()
    };
    let (code, out, err) = run_raw(
        &bin,
        &args(&[
            "set greeting 0 0 5",
            "hello",
            "get greeting",
            "delete nothing",
        ]),
        b"",
    );
    assert_eq!(code, 0, "memcache-client failed: {err}");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "STORED\r\nVALUE greeting 0 5\r\nhello\r\nEND\r\nNOT_FOUND\r\n"
    );
    // From standard input, with bare LF lines and a noreply command; a line that is no
    // command is reported, and the rest still runs.
    let (code, out, err) = run_raw(
        &bin,
        &args(&[]),
        b"incr counter 1\nset counter 0 0 1 noreply\r\n7\r\nbogus\nincr counter 2\ngets greeting\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "NOT_FOUND\r\n9\r\nVALUE greeting 0 5 1\r\nhello\r\nEND\r\n"
    );
    assert!(
        err.contains("not a memcached command"),
        "the bad line is reported: {err}"
    );
    assert_eq!(code, 1, "exit status 1 after input that was no command");
    // quit: the server closes, the client ends.
    let (code, out, err) = run_raw(&bin, &args(&["version", "quit"]), b"");
    assert_eq!(code, 0, "memcache-client failed: {err}");
    assert!(out.starts_with(b"VERSION "), "{}", show(&out));
    // A usage error.
    let (code, _, err) = run_raw(&bin, &args(&["set k 0 0 1"]), b"");
    assert_eq!(code, 1);
    assert!(err.contains("needs its data"), "{err}");
    // No server there.
    let free = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (code, out, err) = run_raw(
        &bin,
        &["--connect".into(), free.to_string(), "version".into()],
        b"",
    );
    assert!(
        code == 1 && out.is_empty(),
        "exit 1 when the connection fails"
    );
    assert!(err.contains("refused"), "{err}");
    stop(server);
}

// ===== bad input =====

/// Sends `bytes` on a new connection; see [`support::send_bad`].
fn send_bad(addr: SocketAddr, bytes: &[u8], hang_up: bool) -> (Vec<u8>, bool) {
    support::send_bad(addr, bytes, hang_up)
}

/// A connection that stays open through the bad input and must keep being served: `incr`
/// on its own counter, whose reply must be the next number.
fn witness(addr: SocketAddr) -> Witness {
    let mut w = Witness::new(addr, |w, after| {
        let want = format!("{}\r\n", w.n);
        w.exchange(b"incr witness 1\r\n", want.as_bytes(), after);
    });
    w.exchange(b"set witness 0 0 1\r\n0\r\n", b"STORED\r\n", "the start");
    w
}

/// Whether `reply` is made of memcached error lines only.
fn only_errors(reply: &[u8]) -> bool {
    String::from_utf8_lossy(reply)
        .split_inclusive("\r\n")
        .all(|l| {
            l.ends_with("\r\n")
                && (l == "ERROR\r\n"
                    || l.starts_with("CLIENT_ERROR ")
                    || l.starts_with("SERVER_ERROR "))
        })
}

on_every_backend!(bad_input_gets_an_error_or_a_close_and_others_are_served);

fn bad_input_gets_an_error_or_a_close_and_others_are_served(backend: Backend) {
    let (server, addr) = start_ours(backend);
    let mut witness = witness(addr);
    witness.check("the start");

    // A command line over 2048 bytes (over 1 MiB for `get` and `gets`), with or without
    // its end: an error, then a close.
    for (case, bytes) in [
        ("without CRLF", vec![b'x'; 1_100_000]),
        (
            "with CRLF",
            [&b"delete "[..], &[b'k'; 5000], b"\r\nget a\r\n"].concat(),
        ),
        (
            "a long get",
            [b"get ".to_vec(), vec![b'k'; 1_100_000]].concat(),
        ),
    ] {
        let (got, closed) = send_bad(addr, &bytes, false);
        assert_eq!(
            String::from_utf8_lossy(&got),
            "CLIENT_ERROR line too long\r\n",
            "an over-long line {case}"
        );
        assert!(closed, "closed after an over-long line {case}");
        witness.check(&format!("an over-long line {case}"));
    }

    // Invalid lengths: negative, not a number or past what memcached can count is a
    // format error and the connection goes on; over the item size, the data is skipped.
    let (got, closed) = send_bad(addr, b"set k 0 0 -5\r\nget k\r\n", false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "CLIENT_ERROR bad command line format\r\nEND\r\n"
    );
    assert!(!closed);
    let (got, closed) = send_bad(addr, b"set k 0 0 x5\r\nget k\r\n", false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "CLIENT_ERROR bad command line format\r\nEND\r\n"
    );
    assert!(!closed);
    let mut over = b"set k 0 0 1100000\r\n".to_vec();
    over.extend(std::iter::repeat_n(b'v', 1_100_000));
    over.extend_from_slice(b"\r\nget k\r\n");
    let (got, closed) = send_bad(addr, &over, false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "SERVER_ERROR object too large for cache\r\nEND\r\n"
    );
    assert!(!closed);
    let (got, closed) = send_bad(addr, b"set k 0 0 3000000000\r\nget k\r\n", false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "CLIENT_ERROR bad command line format\r\nEND\r\n"
    );
    assert!(
        !closed,
        "the connection goes on after a length memcached cannot count"
    );
    witness.check("invalid lengths");

    // An HTTP request line: as memcached, a close without a word.
    for line in [&b"GET / HTTP/1.0\r\n"[..], b"DELETE HTTP/1.1\r\n"] {
        let (got, closed) = send_bad(addr, line, false);
        assert!(
            got.is_empty(),
            "no reply to an HTTP request: {}",
            show(&got)
        );
        assert!(closed, "closed after an HTTP request line");
    }
    witness.check("HTTP request lines");

    // A data block longer than announced: as memcached, the block and two bytes go by,
    // the rest of the line is read as a command (`ERROR`) and the connection goes on.
    let (got, closed) = send_bad(addr, b"set k 0 0 2\r\nabcdef\r\nget k\r\n", false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"
    );
    assert!(!closed, "the connection goes on after a bad data chunk");
    witness.check("a bad data chunk");

    // A client leaving in the middle of a line, or of a data block: no reply, and
    // nothing stored.
    let (got, _) = send_bad(addr, b"get wit", true);
    assert!(got.is_empty(), "no reply to half a line: {}", show(&got));
    let (got, _) = send_bad(addr, b"set cut 0 0 100\r\nonly a few bytes", true);
    assert!(
        got.is_empty(),
        "no reply to half a data block: {}",
        show(&got)
    );
    let (got, _) = send_bad(addr, b"set cut 0 0 3\r\nabc\r", true);
    assert!(got.is_empty(), "no reply without the CRLF: {}", show(&got));
    witness.check("clients leaving in the middle");
    let (got, _) = send_bad(addr, b"get cut\r\n", true);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "END\r\n",
        "nothing was stored"
    );

    // Garbage, then the client hangs up: only error replies, and the server goes on.
    let mut cases: Vec<Vec<u8>> = vec![
        b"\x00\xff\xfe\x80 garbage\r\n".to_vec(),
        b"\r\n\r\n\r\n".to_vec(),
        b"set\r\nget \r\ncas\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
    ];
    for seed in 1..=8u64 {
        let mut g = pseudo_random(4096, seed);
        for (i, b) in g.iter_mut().enumerate() {
            if i % 61 == 0 {
                *b = b'\r';
            } else if i % 61 == 1 {
                *b = b'\n';
            }
        }
        cases.push(g);
    }
    for (i, case) in cases.iter().enumerate() {
        let (got, closed) = send_bad(addr, case, true);
        assert!(
            only_errors(&got),
            "garbage case {i}: only error replies, got {}",
            show(&got)
        );
        assert!(closed, "garbage case {i}: closed once the client is done");
        witness.check(&format!("garbage case {i}"));
    }

    // A client that pipelines replies (40 MB) far beyond the server's output limit
    // (16 MiB) before it reads any: the server stops taking requests while their replies
    // are over its high-water mark and goes on as the client reads, so every value
    // arrives and the connection stays open.
    let value = vec![b'v'; 1000 * 1000];
    let mut out = b"set bulky 0 0 1000000\r\n".to_vec();
    out.extend_from_slice(&value);
    out.extend_from_slice(b"\r\n");
    out.extend(b"get bulky\r\n".repeat(40));
    let (got, closed) = send_bad(addr, &out, false);
    assert!(!closed, "the connection stays open");
    let one = [&b"VALUE bulky 0 1000000\r\n"[..], &value, b"\r\nEND\r\n"].concat();
    let want = [&b"STORED\r\n"[..], &one.repeat(40)].concat();
    assert!(got == want, "STORED and 40 values: got {} bytes", got.len());
    witness.check("too many unread replies");

    // A connection made after all that works too.
    let (got, _) = send_bad(addr, b"get witness\r\n", true);
    let n = witness.n.to_string();
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("VALUE witness 0 {}\r\n{n}\r\nEND\r\n", n.len())
    );
    stop(server);
}

/// Items with an expiry go away on the sweep's timer, without a command touching them:
/// `curr_items` drops.
#[test]
fn expired_items_are_swept_without_being_read() {
    let (server, addr) = start_ours(Backend::Epoll);
    let mut script = Vec::new();
    for i in 0..50 {
        script.extend_from_slice(format!("set short{i} 0 1 1\r\nx\r\n").as_bytes());
    }
    script.extend_from_slice(b"set long 0 1000 1\r\nx\r\nset never 0 0 1\r\nx\r\n");
    let cmds = McCommand::parse_all(&script).expect("the script parses");
    let replies = exchange(addr, Backend::Epoll, cmds, HANG_GUARD).expect("store the items");
    assert!(replies.iter().all(|r| r.reply == b"STORED\r\n"));
    let curr_items = || {
        let cmds = McCommand::parse_all(b"stats\r\n").expect("stats parses");
        let replies = exchange(addr, Backend::Epoll, cmds, HANG_GUARD).expect("stats");
        let text = String::from_utf8_lossy(&replies[0].reply).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("STAT curr_items "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no curr_items in {text}"))
    };
    assert_eq!(curr_items(), 52);
    let deadline = Instant::now() + HANG_GUARD;
    let mut now = curr_items();
    while now != 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        now = curr_items();
    }
    assert_eq!(now, 2, "the 50 items with a 1 s expiry were swept");
    stop(server);
}

/// With `--threads 2`, connections land on either loop and share one store: what one
/// connection stores, every other one reads, and CAS uniques stay unique.
#[test]
fn loops_of_a_threaded_server_share_the_store() {
    let (server, addr) = support::start_server("memcache-server", "epoll", &["--threads", "2"]);
    let writers: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut script = Vec::new();
                for i in 0..50 {
                    script.extend_from_slice(
                        format!("set t{t}k{i} 0 0 2\r\n{:02}\r\n", i).as_bytes(),
                    );
                }
                script.extend_from_slice(format!("incr shared{} 1\r\n", t % 2).as_bytes());
                let cmds = McCommand::parse_all(&script).expect("the script parses");
                exchange(addr, Backend::Epoll, cmds, HANG_GUARD).expect("store")
            })
        })
        .collect();
    for w in writers {
        let replies = w.join().expect("a writer");
        assert!(replies[..50].iter().all(|r| r.reply == b"STORED\r\n"));
    }
    let mut script = Vec::new();
    for t in 0..8 {
        script.extend_from_slice(format!("gets t{t}k7 t{t}k49\r\n").as_bytes());
    }
    for _ in 0..4 {
        let cmds = McCommand::parse_all(&script).expect("the script parses");
        let replies = exchange(addr, Backend::Epoll, cmds, HANG_GUARD).expect("read back");
        let mut uniques = std::collections::HashSet::new();
        for (t, r) in replies.iter().enumerate() {
            let text = String::from_utf8_lossy(&r.reply).into_owned();
            let lines: Vec<&str> = text.split("\r\n").collect();
            assert_eq!(
                lines.len(),
                6,
                "two values and END for writer {t}: {text:?}"
            );
            assert!(lines[0].starts_with(&format!("VALUE t{t}k7 0 2 ")) && lines[1] == "07");
            assert!(lines[2].starts_with(&format!("VALUE t{t}k49 0 2 ")) && lines[3] == "49");
            for l in [lines[0], lines[2]] {
                let unique = l.rsplit(' ').next().unwrap_or_default().to_string();
                assert!(uniques.insert(unique), "CAS uniques are unique: {text}");
            }
        }
    }
    stop(server);
}
