//! `resp-server`'s blocking list commands over real connections, on every backend: a
//! client blocked in `BLPOP` (and the others) waits on the loop without holding it, is
//! served first blocked, first served when another connection pushes, keeps the requests
//! it pipelined behind the blocking one until then, times out, can be unblocked with
//! `CLIENT UNBLOCK`, and is forgotten when it leaves. The tests count replies and
//! events; they never measure time.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use asyncore_runtime::Backend;

use support::{Proc, HANG_GUARD};

fn start(backend: Backend) -> (Proc, SocketAddr) {
    support::start_server("resp-server", backend.name(), &[] as &[&str])
}

/// A client connection: commands out, whole replies in.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to resp-server");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends the commands (each split on spaces) in one write.
    fn send(&mut self, commands: &[&str]) {
        let mut bytes = Vec::new();
        for c in commands {
            let args: Vec<Vec<u8>> = c.split(' ').map(|a| a.as_bytes().to_vec()).collect();
            asyncore_examples::resp_client::encode_command(&args, &mut bytes).expect("encode");
        }
        self.stream.write_all(&bytes).expect("send commands");
    }

    /// The next whole reply, RESP-encoded.
    fn reply(&mut self) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(len) = reply_len(&self.buf) {
                let r: Vec<u8> = self.buf.drain(..len).collect();
                return String::from_utf8_lossy(&r).into_owned();
            }
            assert!(
                support::read_more(&mut self.stream, &mut self.buf, deadline, "resp-server"),
                "resp-server closed; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Sends one command and reads its reply.
    fn call(&mut self, command: &str) -> String {
        self.send(&[command]);
        self.reply()
    }
}

/// The length of the whole reply at the start of `buf`, if it is all there.
fn reply_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[..end];
    let n = || -> i64 {
        std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad reply line {:?}", String::from_utf8_lossy(line)))
    };
    match line.first()? {
        b'$' if n() >= 0 => {
            let total = end + 2 + n() as usize + 2;
            (buf.len() >= total).then_some(total)
        }
        b'*' if n() > 0 => {
            let mut at = end + 2;
            for _ in 0..n() {
                at += reply_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => Some(end + 2),
    }
}

/// Waits (asking `INFO clients` again and again) until `n` clients are blocked.
fn wait_blocked(admin: &mut Client, n: usize) {
    let deadline = Instant::now() + HANG_GUARD;
    let want = format!("blocked_clients:{n}\r\n");
    loop {
        let info = admin.call("INFO clients");
        if info.contains(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {n} blocked clients: {info}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn array(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&format!("${}\r\n{i}\r\n", i.len()));
    }
    s
}

on_every_backend!(
    waiters_are_served_in_order_and_hold_what_they_pipelined,
    timeouts_answer_nil_and_the_connection_goes_on,
    a_client_that_leaves_while_blocked_is_not_served,
    client_unblock_ends_a_wait,
    moves_go_from_waiter_to_waiter,
    a_large_reply_to_a_waiter_goes_out_as_it_is_read,
);

fn waiters_are_served_in_order_and_hold_what_they_pipelined(backend: Backend) {
    let (server, addr) = start(backend);
    let mut admin = Client::connect(addr);
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    // `a` pipelines a PING behind its BLPOP: it is answered after the BLPOP, so only
    // once the wait is over.
    a.send(&["BLPOP l 0", "PING"]);
    wait_blocked(&mut admin, 1);
    b.send(&["BRPOP other l 0"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(admin.call("RPUSH l x y z"), ":3\r\n");
    assert_eq!(a.reply(), array(&["l", "x"]), "first blocked, first served");
    assert_eq!(a.reply(), "+PONG\r\n", "the pipelined PING after it");
    assert_eq!(b.reply(), array(&["l", "z"]));
    assert_eq!(admin.call("LRANGE l 0 -1"), array(&["y"]));
    wait_blocked(&mut admin, 0);
    support::stop_server(server);
}

fn timeouts_answer_nil_and_the_connection_goes_on(backend: Backend) {
    let (server, addr) = start(backend);
    let mut a = Client::connect(addr);
    a.send(&[
        "BLPOP l 0.01",
        "BRPOPLPUSH l m 0.01",
        "BLMOVE l m LEFT RIGHT 0.01",
        "BLMPOP 0.01 2 l m LEFT COUNT 3",
        "PING",
    ]);
    for _ in 0..4 {
        assert_eq!(a.reply(), "*-1\r\n");
    }
    assert_eq!(a.reply(), "+PONG\r\n");
    let mut admin = Client::connect(addr);
    wait_blocked(&mut admin, 0);
    support::stop_server(server);
}

fn a_client_that_leaves_while_blocked_is_not_served(backend: Backend) {
    let (server, addr) = start(backend);
    let mut admin = Client::connect(addr);
    let mut a = Client::connect(addr);
    a.send(&["BLPOP l 0"]);
    wait_blocked(&mut admin, 1);
    drop(a);
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.call("RPUSH l x"), ":1\r\n");
    assert_eq!(admin.call("LLEN l"), ":1\r\n", "nobody took it");
    support::stop_server(server);
}

fn client_unblock_ends_a_wait(backend: Backend) {
    let (server, addr) = start(backend);
    let mut admin = Client::connect(addr);
    let mut a = Client::connect(addr);
    let id = a.call("CLIENT ID");
    let id = id.trim_start_matches(':').trim_end();
    a.send(&["BLPOP l 0", "PING"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&format!("CLIENT UNBLOCK {id}")), ":1\r\n");
    assert_eq!(a.reply(), "*-1\r\n");
    assert_eq!(a.reply(), "+PONG\r\n");
    a.send(&["BLMPOP 0 1 l RIGHT"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&format!("CLIENT UNBLOCK {id} ERROR")), ":1\r\n");
    assert_eq!(
        a.reply(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(admin.call(&format!("CLIENT UNBLOCK {id}")), ":0\r\n");
    assert_eq!(a.call("PING"), "+PONG\r\n");
    support::stop_server(server);
}

fn moves_go_from_waiter_to_waiter(backend: Backend) {
    let (server, addr) = start(backend);
    let mut admin = Client::connect(addr);
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    b.send(&["BLPOP target 0"]);
    wait_blocked(&mut admin, 1);
    a.send(&["BLMOVE source target RIGHT LEFT 0"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(admin.call("RPUSH source foo"), ":1\r\n");
    assert_eq!(a.reply(), "$3\r\nfoo\r\n");
    assert_eq!(b.reply(), array(&["target", "foo"]));
    assert_eq!(admin.call("EXISTS source target"), ":0\r\n");
    support::stop_server(server);
}

fn a_large_reply_to_a_waiter_goes_out_as_it_is_read(backend: Backend) {
    let (server, addr) = start(backend);
    let mut admin = Client::connect(addr);
    let mut a = Client::connect(addr);
    a.send(&["BLMPOP 0 1 big LEFT COUNT 100000", "PING"]);
    wait_blocked(&mut admin, 1);
    // 40,000 elements of 100 bytes: far over a connection's high-water mark.
    let element = "e".repeat(100);
    let push: String = std::iter::once("RPUSH big".to_string())
        .chain((0..40_000).map(|_| element.clone()))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(admin.call(&push), ":40000\r\n");
    let reply = a.reply();
    assert!(
        reply.starts_with("*2\r\n$3\r\nbig\r\n*40000\r\n$100\r\neeee"),
        "{}",
        &reply[..60]
    );
    assert_eq!(reply.matches(&element).count(), 40_000);
    assert_eq!(a.reply(), "+PONG\r\n");
    assert_eq!(admin.call("EXISTS big"), ":0\r\n");
    support::stop_server(server);
}
