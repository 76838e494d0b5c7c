//! Servers allocate nothing per request in steady state: resp-server's GET and SET,
//! memcache-server's get and set, and http-server's GET of a small file it has cached.
//!
//! Each server runs in this process on a thread of its own; a counting global allocator
//! counts the allocations that thread makes while a client sends a steady stream of
//! requests (after a warm-up that lets buffers, tables and caches reach their size).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use asyncore_examples::http_server::{canonical_root, Config, HttpServer, Stats};
use asyncore_examples::memcache_server::MemcacheServer;
use asyncore_examples::resp_server::{Limits, RespServer};
use asyncore_runtime::{Addr, Backend, Dispatcher, Map};

#[path = "support/counting.rs"]
mod counting;

/// A server running on a thread of its own; dropping it stops the thread (also when a
/// test fails, so that its allocations are not counted in the next test).
struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Runs a server made by `make` on a thread of its own (its allocations are the ones
/// counted).
fn start<D, F>(make: F) -> Running
where
    D: Dispatcher,
    F: FnOnce() -> D + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let handle = std::thread::spawn(move || {
        counting::watch_this_thread();
        let mut map = Map::new();
        let any = Addr::Inet("127.0.0.1:0".parse().unwrap());
        let token = map.listen(&any, make()).unwrap();
        tx.send(map.local_addr(token).unwrap().as_inet().unwrap())
            .unwrap();
        while !stopped.load(Ordering::Relaxed) {
            map.run_with(Some(Duration::from_millis(20)), Backend::Epoll, Some(1))
                .expect("loop failed");
        }
    });
    Running {
        addr: rx.recv().unwrap(),
        stop,
        handle: Some(handle),
    }
}

/// Sends `request` and reads until `reply` has come back whole, `times` times, with
/// `depth` requests in flight.
fn exchange(mut stream: &TcpStream, request: &[u8], reply: &[u8], times: usize, depth: usize) {
    let batch: Vec<u8> = request.repeat(depth);
    let want = reply.len() * depth;
    let mut got = vec![0u8; want];
    for _ in 0..times / depth {
        stream.write_all(&batch).unwrap();
        stream.read_exact(&mut got).unwrap();
        for (i, one) in got.chunks(reply.len()).enumerate() {
            assert_eq!(
                one,
                reply,
                "reply {i}: {:?}, wanted {:?}",
                String::from_utf8_lossy(one),
                String::from_utf8_lossy(reply)
            );
        }
    }
}

/// The allocations the server thread makes while `work` runs, after `warm` has run once.
fn allocations_during(warm: impl Fn(), work: impl Fn()) -> usize {
    warm();
    counting::count_during(work).0
}

struct Case<'a> {
    name: &'a str,
    request: Vec<u8>,
    reply: Vec<u8>,
}

/// Each case is sent 5,000 times one at a time and 5,000 times 16 deep; the server must
/// not allocate for any of them.
fn assert_no_allocations(addr: SocketAddr, cases: &[Case<'_>]) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    for case in cases {
        for depth in [1, 16] {
            let n = allocations_during(
                || exchange(&stream, &case.request, &case.reply, 2_000, depth),
                || exchange(&stream, &case.request, &case.reply, 5_000, depth),
            );
            assert_eq!(
                n, 0,
                "{n} allocations for 5,000 {} requests {depth} in flight",
                case.name
            );
        }
    }
}

#[test]
fn resp_server_get_and_set_allocate_nothing() {
    let _one = counting::exclusive();
    let server = start(|| {
        RespServer::new(Limits {
            max_memory: 1 << 30,
            output_limit: 1 << 29,
        })
    });
    let value = "v".repeat(100);
    let set = format!("*3\r\n$3\r\nSET\r\n$7\r\nkey:000\r\n$100\r\n{value}\r\n");
    assert_no_allocations(
        server.addr,
        &[
            Case {
                name: "SET",
                request: set.into_bytes(),
                reply: b"+OK\r\n".to_vec(),
            },
            Case {
                name: "GET",
                request: b"*2\r\n$3\r\nGET\r\n$7\r\nkey:000\r\n".to_vec(),
                reply: format!("$100\r\n{value}\r\n").into_bytes(),
            },
            Case {
                name: "GET of a missing key",
                request: b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n".to_vec(),
                reply: b"$-1\r\n".to_vec(),
            },
        ],
    );
}

#[test]
fn memcache_server_get_and_set_allocate_nothing() {
    let _one = counting::exclusive();
    let server = start(MemcacheServer::new);
    let value = "v".repeat(32);
    assert_no_allocations(
        server.addr,
        &[
            Case {
                name: "set",
                request: format!("set key:000 5 0 32\r\n{value}\r\n").into_bytes(),
                reply: b"STORED\r\n".to_vec(),
            },
            Case {
                name: "get",
                request: b"get key:000\r\n".to_vec(),
                reply: format!("VALUE key:000 5 32\r\n{value}\r\nEND\r\n").into_bytes(),
            },
            Case {
                name: "get of a missing key",
                request: b"get missing\r\n".to_vec(),
                reply: b"END\r\n".to_vec(),
            },
        ],
    );
}

#[test]
fn http_server_get_of_a_small_file_allocates_nothing() {
    let _one = counting::exclusive();
    let dir = std::env::temp_dir().join(format!("asyncore-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), b"Hello, world!").unwrap();
    let root = canonical_root(&dir).unwrap();
    let config = Arc::new(Config {
        root: Some(root),
        ..Config::default()
    });
    let stats = Arc::new(Stats::default());
    let server = start(move || HttpServer::new(config, stats));
    // The reply's Date header changes once a second; compare everything else.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let reply_len = {
        stream.write_all(request).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut have = 0;
        loop {
            have += stream.read(&mut buf[have..]).unwrap();
            if buf[..have].ends_with(b"Hello, world!") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..have]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        have
    };
    let many = |times: usize, depth: usize| {
        let stream = &mut &stream;
        let batch = request.repeat(depth);
        let mut got = vec![0u8; reply_len * depth];
        for _ in 0..times / depth {
            stream.write_all(&batch).unwrap();
            stream.read_exact(&mut got).unwrap();
            for one in got.chunks(reply_len) {
                assert!(one.starts_with(b"HTTP/1.1 200 OK\r\n"));
                assert!(one.ends_with(b"\r\n\r\nHello, world!"));
            }
        }
    };
    for depth in [1, 16] {
        let n = allocations_during(|| many(2_000, depth), || many(5_000, depth));
        assert_eq!(
            n, 0,
            "{n} allocations for 5,000 GETs of a small file {depth} in flight"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_counter_sees_the_server_thread_allocate() {
    let _one = counting::exclusive();
    // The memcache server keeps the key and value of a new item: setting 100 new keys
    // allocates, and the counter sees it (so a 0 above is a real 0).
    let server = start(MemcacheServer::new);
    let stream = TcpStream::connect(server.addr).unwrap();
    let n = allocations_during(
        || {},
        || {
            for i in 0..100 {
                exchange(
                    &stream,
                    format!("set new:{i:03} 0 0 1\r\nx\r\n").as_bytes(),
                    b"STORED\r\n",
                    1,
                    1,
                );
            }
        },
    );
    assert!(n >= 100, "only {n} allocations for 100 new items");
}
