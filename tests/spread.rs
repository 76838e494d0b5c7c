//! Several loops on one listening socket ([`SpreadGroup`]): each loop gets its turn of
//! the connections, whichever loop accepts them, and a connection handed to another loop
//! is served there like one it accepted itself.
//!
//! Also the servers' `--threads`: memcache-server's two loops hold the same number of
//! connections (counted in each loop's `epoll` set), where `SO_REUSEPORT`'s hash split
//! them unevenly.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;

use asyncore_runtime::{
    Addr, Backend, Channel, Dispatcher, Domain, Map, Result, SockType, Socket, SpreadGroup, Waker,
};

/// Answers each line with `<loop name> <line>`, on the thread that owns the channel.
struct Echo {
    name: &'static str,
    thread: ThreadId,
    buf: Vec<u8>,
}

impl Dispatcher for Echo {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        assert_eq!(
            std::thread::current().id(),
            self.thread,
            "served on its loop's thread"
        );
        let mut chunk = [0u8; 256];
        let n = ch.recv(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            ch.send_buffered(self.name.as_bytes())?;
            ch.send_buffered(b" ")?;
            ch.send_buffered(&line)?;
        }
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<std::io::Error>) -> Result {
        ch.close();
        Ok(())
    }
}

/// A loop's listening dispatcher: counts the connections it was given.
struct Listener {
    name: &'static str,
    given: Arc<AtomicUsize>,
}

impl Dispatcher for Listener {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        self.given.fetch_add(1, Ordering::SeqCst);
        let echo = Echo {
            name: self.name,
            thread: std::thread::current().id(),
            buf: Vec::new(),
        };
        ch.add_accepted(sock, addr, echo)?;
        Ok(())
    }
}

/// `names.len()` loops in a group on one listening socket; returns its address, each
/// loop's count of connections given, and the wakers that stop them.
fn start(names: &[&'static str]) -> (std::net::SocketAddr, Vec<Arc<AtomicUsize>>, Vec<Waker>) {
    let sock = Socket::new(Domain::Ipv4, SockType::Stream).unwrap();
    sock.bind(&Addr::from(
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    ))
    .unwrap();
    sock.listen(128).unwrap();
    let addr = sock.local_addr().unwrap().as_inet().unwrap();
    let group = SpreadGroup::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut counts = Vec::new();
    for &name in names {
        let given = Arc::new(AtomicUsize::new(0));
        counts.push(given.clone());
        let (group, sock, ready) = (group.clone(), sock.try_clone().unwrap(), ready_tx.clone());
        std::thread::spawn(move || {
            let mut map = Map::new();
            group
                .join(&mut map, sock, Listener { name, given })
                .unwrap();
            ready.send(map.waker().unwrap()).unwrap();
            map.run_with(None, Backend::Epoll, None).unwrap();
        });
    }
    let wakers: Vec<Waker> = names.iter().map(|_| ready_rx.recv().unwrap()).collect();
    assert_eq!(group.len(), names.len());
    (addr, counts, wakers)
}

/// Sends `line` on `s` and reads the answer.
fn ask(s: &mut BufReader<TcpStream>, line: &str) -> String {
    s.get_mut().write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_line(&mut answer).unwrap();
    answer
}

#[test]
fn each_loop_gets_its_turn_of_the_connections() {
    let names = ["one", "two", "three"];
    let (addr, counts, wakers) = start(&names);
    let mut conns: Vec<BufReader<TcpStream>> = (0..30)
        .map(|_| BufReader::new(TcpStream::connect(addr).unwrap()))
        .collect();
    let mut served = std::collections::BTreeMap::<String, usize>::new();
    for (i, c) in conns.iter_mut().enumerate() {
        let answer = ask(c, &format!("hello {i}\n"));
        let (name, rest) = answer.split_once(' ').unwrap();
        assert_eq!(rest, format!("hello {i}\n"), "the whole line comes back");
        *served.entry(name.to_string()).or_default() += 1;
    }
    let given: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(
        given,
        [10, 10, 10],
        "thirty connections, ten for each of three loops"
    );
    for name in names {
        assert_eq!(
            served.get(name),
            Some(&10),
            "{name} serves what it was given"
        );
    }
    // A second round on the same connections stays where each connection was put.
    for (i, c) in conns.iter_mut().enumerate() {
        let again = ask(c, &format!("again {i}\n"));
        assert!(again.ends_with(&format!(" again {i}\n")), "{again:?}");
    }
    for w in wakers {
        w.stop().unwrap();
    }
}

#[test]
fn a_group_of_one_loop_keeps_every_connection() {
    let (addr, counts, wakers) = start(&["alone"]);
    for i in 0..5 {
        let mut c = BufReader::new(TcpStream::connect(addr).unwrap());
        assert_eq!(ask(&mut c, &format!("{i}\n")), format!("alone {i}\n"));
    }
    assert_eq!(counts[0].load(Ordering::SeqCst), 5);
    for w in wakers {
        w.stop().unwrap();
    }
}

/// The descriptors each `epoll` instance of process `pid` watches.
fn epoll_sets(pid: u32) -> Vec<usize> {
    let mut sets = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if target.to_string_lossy() == "anon_inode:[eventpoll]" {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap();
            sets.push(info.lines().filter(|l| l.starts_with("tfd:")).count());
        }
    }
    sets.sort();
    sets
}

#[test]
fn memcache_servers_two_loops_hold_equal_shares() {
    let (server, addr) = support::start_server("memcache-server", "epoll", &["--threads", "2"]);
    let before = epoll_sets(server.pid());
    assert_eq!(before.len(), 2, "one epoll set per loop: {before:?}");
    let mut conns: Vec<BufReader<TcpStream>> = (0..32)
        .map(|_| BufReader::new(TcpStream::connect(addr).unwrap()))
        .collect();
    for c in &mut conns {
        assert!(ask(c, "version\r\n").starts_with("VERSION "));
    }
    let after = epoll_sets(server.pid());
    let added: Vec<usize> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        added,
        [16, 16],
        "32 connections over two loops: {before:?} -> {after:?}"
    );
    drop(conns);
    support::stop_server(server);
}
