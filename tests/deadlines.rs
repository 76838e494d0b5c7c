//! Request deadlines: a client that trickles a request a byte at a time (a slowloris)
//! is stopped by the request timeout, which a byte now and then does not push back as it
//! does the idle timeout, with the protocol's own reply (HTTP `408`, SMTP `421`), while a
//! normal client is served. On every backend.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use asyncore_runtime::Backend;
use support::{read_more, start_server, stop_server, HANG_GUARD};

/// Slow clients at once.
const SLOW: usize = 200;

/// Opens `SLOW` connections, sends `head` on each, then keeps sending one byte of
/// `trickle` to each every 100 ms (from a thread of its own) until told to stop.
fn slowloris(
    addr: SocketAddr,
    head: &'static [u8],
    trickle: u8,
) -> (Vec<TcpStream>, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let mut conns = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut s = TcpStream::connect(addr).expect("connect a slow client");
        s.write_all(head).expect("the start of a request");
        s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
        conns.push(s);
    }
    let writers: Vec<TcpStream> = conns
        .iter()
        .map(|s| s.try_clone().expect("clone"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = thread::spawn(move || {
        let started = Instant::now();
        while !stopped.load(Ordering::Relaxed) && started.elapsed() < HANG_GUARD {
            for mut w in &writers {
                // A closed connection refuses: that is the point.
                let _ = w.write_all(&[trickle]);
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    (conns, stop, thread)
}

/// Every slow client got `reply` and the close.
fn all_refused(conns: Vec<TcpStream>, reply: &[u8], what: &str) {
    for (i, mut s) in conns.into_iter().enumerate() {
        // Until the server closes (the test fails if it does not, within the hang guard).
        let mut got = Vec::new();
        let deadline = Instant::now() + HANG_GUARD;
        while read_more(&mut s, &mut got, deadline, what) {}
        let text = String::from_utf8_lossy(&got);
        assert!(
            got.windows(reply.len()).any(|w| w == reply),
            "{what}: slow client {i} got {text:?}, not {:?}",
            String::from_utf8_lossy(reply)
        );
    }
}

fn http_slowloris(backend: Backend) {
    let (server, addr) = start_server("http-server", backend.name(), &["--header-timeout", "1"]);
    let (conns, stop, trickler) =
        slowloris(addr, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", b'a');
    // A normal client, meanwhile: every request answered on its keep-alive connection.
    let mut fast = TcpStream::connect(addr).expect("connect");
    fast.set_read_timeout(Some(HANG_GUARD)).expect("timeout");
    let mut reader = BufReader::new(fast.try_clone().expect("clone"));
    for i in 0..50 {
        fast.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .expect("a request");
        let mut status = String::new();
        reader.read_line(&mut status).expect("a status line");
        assert!(
            status.starts_with("HTTP/1.1 200 "),
            "request {i}: {status:?}"
        );
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a header line");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("the body");
    }
    all_refused(conns, b"HTTP/1.1 408 ", "http-server");
    stop.store(true, Ordering::Relaxed);
    trickler.join().expect("the trickling thread");
    stop_server(server);
}

fn smtp_slowloris(backend: Backend) {
    let (server, addr) = start_server("smtp-server", backend.name(), &["--command-timeout", "1"]);
    let (conns, stop, trickler) = slowloris(addr, b"NOOP", b' ');
    // A normal client, meanwhile: greeted, and every NOOP answered.
    let mut fast = TcpStream::connect(addr).expect("connect");
    fast.set_read_timeout(Some(HANG_GUARD)).expect("timeout");
    let mut reader = BufReader::new(fast.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("the greeting");
    assert!(line.starts_with("220 "), "{line:?}");
    for i in 0..50 {
        fast.write_all(b"NOOP\r\n").expect("NOOP");
        let mut line = String::new();
        reader.read_line(&mut line).expect("a reply");
        assert!(line.starts_with("250 "), "NOOP {i}: {line:?}");
    }
    all_refused(conns, b"421 4.4.2 ", "smtp-server");
    stop.store(true, Ordering::Relaxed);
    trickler.join().expect("the trickling thread");
    stop_server(server);
}

on_every_backend!(http_slowloris, smtp_slowloris);
