//! A reply of 50 MB to one request (memcached's multi-key `get`, RESP's `MGET` and
//! `LRANGE`) reaches a client that reads slowly whole and in order, followed by the reply
//! to the next pipelined request, on every backend; meanwhile the server's resident
//! memory grows by far less than the reply: the values are produced as the client reads
//! them, not copied into the output at once.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

use asyncore_runtime::Backend;
use support::{pseudo_random, read_more, rss, start_server, stop_server, HANG_GUARD};

/// Values in the reply, and the size of each: 50 MB in all.
const VALUES: usize = 50;
const VALUE_LEN: usize = 1_000_000;

/// The most the server's resident memory may grow while it sends the reply: a fraction
/// of the reply (the high-water mark, one value, the allocator's slack).
const GROWTH_LIMIT: usize = 16 << 20;

/// The value stored under key number `i`.
fn value(i: usize) -> Vec<u8> {
    pseudo_random(VALUE_LEN, i as u64 + 7)
}

/// Sends `load`, reads until `loaded` bytes came; the connection stays open.
fn load(addr: SocketAddr, load: &[u8], loaded: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    let mut w = s.try_clone().expect("clone");
    let load = load.to_vec();
    let writer = std::thread::spawn(move || w.write_all(&load).expect("send the values"));
    let mut got = Vec::new();
    let deadline = Instant::now() + HANG_GUARD * 3;
    while got.len() < loaded.len() && read_more(&mut s, &mut got, deadline, "loading") {}
    writer.join().expect("writer");
    assert_eq!(
        got.escape_ascii().to_string(),
        loaded.escape_ascii().to_string(),
        "the values are stored"
    );
    s
}

/// Sends `request` on a new connection and reads the reply slowly (256 KiB, then a
/// pause), until `want.len()` bytes came or the server closed; checks them against
/// `want`, and the growth of the server's memory against [`GROWTH_LIMIT`].
fn slow_read(pid: u32, addr: SocketAddr, request: &[u8], want: &[u8], what: &str) {
    let before = rss(pid);
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    s.write_all(request).expect("send the request");
    let mut got = Vec::new();
    let mut peak = before;
    let mut next_pause = 0;
    let deadline = Instant::now() + HANG_GUARD * 3;
    while got.len() < want.len() && read_more(&mut s, &mut got, deadline, what) {
        if got.len() >= next_pause {
            next_pause = got.len() + 256 * 1024;
            peak = peak.max(rss(pid));
            sleep(Duration::from_millis(3));
        }
    }
    peak = peak.max(rss(pid));
    if got != want {
        let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
        let show = |b: &[u8]| b[at..(at + 80).min(b.len())].escape_ascii().to_string();
        panic!(
            "{what}: {} of {} bytes came, the first difference at byte {at}: got `{}`, want `{}`",
            got.len(),
            want.len(),
            show(&got),
            show(want)
        );
    }
    let growth = peak.saturating_sub(before);
    assert!(
        growth <= GROWTH_LIMIT,
        "{what}: the server's memory grew by {growth} bytes while it sent a reply of {} \
         bytes (limit {GROWTH_LIMIT}): the reply was copied, not produced as it was read",
        want.len()
    );
}

fn memcache_multi_get(backend: Backend) {
    let (server, addr) = start_server("memcache-server", backend.name(), &[] as &[&str]);
    let (mut sets, mut stored) = (Vec::new(), Vec::new());
    let mut get = b"get".to_vec();
    let mut want = Vec::new();
    for i in 0..VALUES {
        let v = value(i);
        sets.extend_from_slice(format!("set k{i} {i} 0 {VALUE_LEN}\r\n").as_bytes());
        sets.extend_from_slice(&v);
        sets.extend_from_slice(b"\r\n");
        stored.extend_from_slice(b"STORED\r\n");
        get.extend_from_slice(format!(" k{i}").as_bytes());
        want.extend_from_slice(format!("VALUE k{i} {i} {VALUE_LEN}\r\n").as_bytes());
        want.extend_from_slice(&v);
        want.extend_from_slice(b"\r\n");
    }
    // A missing key is left out; the next request is answered after `END`.
    get.extend_from_slice(b" absent\r\nversion\r\n");
    want.extend_from_slice(b"END\r\nVERSION 1.6.18-asyncore\r\n");
    let _keep = load(addr, &sets, &stored);
    slow_read(
        server.pid(),
        addr,
        &get,
        &want,
        "memcache-server get of 50 values",
    );
    stop_server(server);
}

/// A RESP command as an array of bulk strings.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn resp_bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// `MGET` of 50 values, and `LRANGE` of a list of 50 elements, each followed by `PING`.
fn resp_mget_lrange(backend: Backend) {
    let (server, addr) = start_server("resp-server", backend.name(), &[] as &[&str]);
    let (mut sets, mut loaded) = (Vec::new(), Vec::new());
    let keys: Vec<Vec<u8>> = (0..VALUES).map(|i| format!("k{i}").into_bytes()).collect();
    let mut mget: Vec<&[u8]> = vec![b"MGET"];
    let mut want_mget = format!("*{}\r\n", VALUES + 1).into_bytes();
    let mut want_lrange = format!("*{VALUES}\r\n").into_bytes();
    for (i, key) in keys.iter().enumerate() {
        let v = value(i);
        sets.extend(command(&[b"SET", key, &v]));
        loaded.extend_from_slice(b"+OK\r\n");
        let e = value(i + VALUES);
        sets.extend(command(&[b"RPUSH", b"list", &e]));
        loaded.extend_from_slice(format!(":{}\r\n", i + 1).as_bytes());
        mget.push(key);
        resp_bulk(&mut want_mget, &v);
        resp_bulk(&mut want_lrange, &e);
    }
    // A missing key is a nil in its place.
    mget.push(b"absent");
    want_mget.extend_from_slice(b"$-1\r\n+PONG\r\n");
    want_lrange.extend_from_slice(b"+PONG\r\n");
    let _keep = load(addr, &sets, &loaded);
    let mut request = command(&mget);
    request.extend(command(&[b"PING"]));
    slow_read(
        server.pid(),
        addr,
        &request,
        &want_mget,
        "resp-server MGET of 50 values",
    );
    let mut request = command(&[b"LRANGE", b"list", b"0", b"-1"]);
    request.extend(command(&[b"PING"]));
    let what = "resp-server LRANGE of 50 elements";
    slow_read(server.pid(), addr, &request, &want_lrange, what);
    stop_server(server);
}

on_every_backend!(memcache_multi_get, resp_mget_lrange);
