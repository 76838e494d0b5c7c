//! No one is starved: the chat server in this process, 1,000 members that never read,
//! 10 that send as fast as they can, and a newcomer.
//!
//! * each pass of the loop does a bounded amount of work per channel: the newcomer, who
//!   is sent every line, never gets more than the senders' budgets' worth in one pass
//!   (before, one read event of a sender fanned out every line it held, thousands);
//! * the newcomer's `/nick` is answered within a few passes;
//! * SIGTERM stops the loop at the next pass.
//!
//! The test counts passes, not time. It runs the loop itself, one pass at a time, so
//! it lives in a test binary of its own (it raises SIGTERM in its own process, with the
//! loop's handler in place).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use asyncore_examples::chat::ChatServer;
use asyncore_runtime::wire::MESSAGE_BUDGET;
use asyncore_runtime::{Backend, Map, SIGTERM};

/// Members that never read.
const SILENT: usize = 1_000;
/// Members that send.
const SENDERS: usize = 10;
/// Lines each sender sends: short ones, so that one read holds thousands.
const LINES: usize = 4_000;

/// One pass of the loop (waiting at most a second, a guard against a hang).
fn pass(map: &mut Map, backend: Backend) {
    map.run_with(Some(Duration::from_secs(1)), backend, Some(1))
        .expect("a pass of the loop");
}

/// Runs passes until `done(map)`, at most `limit` of them; the number it took.
fn passes_until(
    map: &mut Map,
    backend: Backend,
    limit: usize,
    done: impl Fn(&Map) -> bool,
) -> Option<usize> {
    for n in 1..=limit {
        pass(map, backend);
        if done(map) {
            return Some(n);
        }
    }
    None
}

/// Everything the socket holds now (it is non-blocking).
fn drain(s: &mut TcpStream, into: &mut Vec<u8>) -> usize {
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                total += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the newcomer's socket: {e}"),
        }
    }
}

fn count_lines(bytes: &[u8], prefix: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(prefix))
        .count()
}

/// Connects `n` members, running passes until the map holds them all.
fn join(map: &mut Map, backend: Backend, addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let before = map.len();
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        members.push(TcpStream::connect(addr).expect("connect a member"));
        if members.len() % 10 == 0 {
            // Accept them before the listen queue is full.
            map.run_with(Some(Duration::ZERO), backend, Some(1))
                .expect("a pass of the loop");
        }
    }
    let joined = passes_until(map, backend, 1_000, |m| m.len() >= before + n);
    assert!(joined.is_some(), "{n} members were not all accepted");
    members
}

fn busy_room(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address");
    let mut map = Map::new();
    map.add_listener(listener.into(), ChatServer::new())
        .expect("listen");
    map.stop_on_signals(&[SIGTERM]).expect("signal handler");

    let _silent = join(&mut map, backend, addr, SILENT);
    let senders = join(&mut map, backend, addr, SENDERS);
    let mut newcomer = join(&mut map, backend, addr, 1).remove(0);
    newcomer.set_nonblocking(true).expect("non-blocking");
    let mut seen = Vec::new();
    for _ in 0..3 {
        pass(&mut map, backend);
        drain(&mut newcomer, &mut seen);
    }
    assert!(
        count_lines(&seen, b"* welcome guest") == 1,
        "the newcomer is welcome"
    );

    // The senders' lines wait in the server's sockets (they fit in the kernel's
    // buffers), then the newcomer's `/nick`: how many passes until it is answered, and
    // what one pass sends the newcomer.
    let lines = b"x\n".repeat(LINES);
    for mut s in senders.iter() {
        s.write_all(&lines).expect("a sender's lines");
    }
    newcomer.write_all(b"/nick newcomer\n").expect("send /nick");
    let mut most_in_a_pass = 0;
    let mut nick_after = None;
    let mut broadcasts = 0;
    for n in 1..=5_000 {
        pass(&mut map, backend);
        let mut got = Vec::new();
        drain(&mut newcomer, &mut got);
        let lines = count_lines(&got, b"guest");
        broadcasts += lines;
        most_in_a_pass = most_in_a_pass.max(lines);
        if nick_after.is_none() && count_lines(&got, b"* you are now newcomer") == 1 {
            nick_after = Some(n);
        }
        if nick_after.is_some() && broadcasts >= SENDERS * LINES {
            break;
        }
    }
    // The senders' lines were all fanned out; no pass gave the newcomer more than the
    // senders' budgets (a pass may flush what the previous one queued: twice that).
    assert_eq!(
        broadcasts,
        SENDERS * LINES,
        "every line reached the newcomer"
    );
    let bound = 2 * SENDERS * MESSAGE_BUDGET;
    assert!(
        most_in_a_pass <= bound,
        "one pass ({backend}) sent the newcomer {most_in_a_pass} lines, over {bound}: a sender's burst held the loop"
    );
    let nick_after = nick_after.expect("the newcomer's /nick was answered");
    assert!(
        nick_after <= 5,
        "the newcomer's /nick took {nick_after} passes ({backend})"
    );

    // SIGTERM: the loop stops at the next pass.
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
        .expect("raise SIGTERM");
    let stopped = passes_until(&mut map, backend, 2, |m| m.signalled() == Some(SIGTERM));
    assert!(
        stopped.is_some(),
        "SIGTERM did not stop the loop within 2 passes ({backend})"
    );
    map.close_all();
}

#[test]
fn a_busy_room_starves_no_one() {
    asyncore_examples::server::raise_fd_limit();
    // One backend after the other: one SIGTERM handler at a time. Not select(2): it
    // watches descriptors below FD_SETSIZE (1024) only, and the room needs more.
    for backend in [Backend::Epoll, Backend::Poll] {
        busy_room(backend);
    }
}
