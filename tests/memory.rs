//! Memory comes back: after 100 connections each sent a 1 MB request and read its 1 MB
//! reply, their buffers (100 MB and more) are given back within a few sweeps of the map
//! (`Map::set_release_interval`, 2 s) while the connections stay open, and nothing
//! stays behind once they close, on every backend.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use asyncore_runtime::Backend;
use support::{read_more, rss, start_server, stop_server, HANG_GUARD};

/// Connections, and the size of each one's request and reply.
const CONNS: usize = 100;
const SIZE: usize = 1_000_000;

/// How far above where it started the server's memory may stay: a tenth of the burst.
const SLACK: usize = 10 << 20;

/// Waits until the server's memory is at most `limit` (true), or the hang guard passes
/// (false); the memory last seen.
fn settles(pid: u32, limit: usize) -> (bool, usize) {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let now = rss(pid);
        if now <= limit {
            return (true, now);
        }
        if Instant::now() > deadline {
            return (false, now);
        }
        sleep(Duration::from_millis(200));
    }
}

fn resp_echo_burst(backend: Backend) {
    let (server, addr) = start_server("resp-server", backend.name(), &[] as &[&str]);
    let pid = server.pid();
    let arg = vec![b'e'; SIZE];
    let mut request = format!("*2\r\n$4\r\nECHO\r\n${SIZE}\r\n").into_bytes();
    request.extend_from_slice(&arg);
    request.extend_from_slice(b"\r\n");
    let mut want = format!("${SIZE}\r\n").into_bytes();
    want.extend_from_slice(&arg);
    want.extend_from_slice(b"\r\n");

    let mut conns: Vec<TcpStream> = (0..CONNS)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    sleep(Duration::from_millis(300));
    let before = rss(pid);
    // Every request is sent before any reply is read: the server holds them all at once.
    let mut peak = before;
    for c in &mut conns {
        c.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
        c.write_all(&request).expect("send the request");
    }
    for c in &mut conns {
        let mut got = Vec::new();
        let deadline = Instant::now() + HANG_GUARD;
        while got.len() < want.len() && read_more(c, &mut got, deadline, "resp-server") {}
        assert!(
            got == want,
            "the 1 MB reply came whole ({} bytes)",
            got.len()
        );
        peak = peak.max(rss(pid));
    }
    assert!(
        peak > before + CONNS * SIZE / 2,
        "the burst did not show in the server's memory ({before} then {peak}): the test \
         measures nothing"
    );
    // Still open, idle: the buffers go back.
    let (ok, now) = settles(pid, before + SLACK);
    assert!(
        ok,
        "{CONNS} idle connections after a 1 MB request each: the server still holds \
         {now} bytes, {before} before the burst (peak {peak})"
    );
    // Still served after giving its buffers back.
    conns[0].write_all(b"PING\r\n").expect("send PING");
    let mut got = Vec::new();
    let deadline = Instant::now() + HANG_GUARD;
    while got.len() < 7 && read_more(&mut conns[0], &mut got, deadline, "resp-server") {}
    assert_eq!(got, b"+PONG\r\n");
    drop(conns);
    let (ok, now) = settles(pid, before + SLACK / 4);
    assert!(
        ok,
        "after the connections closed the server holds {now} bytes, {before} before"
    );
    stop_server(server);
}

on_every_backend!(resp_echo_burst);
