//! In-process servers for tests: a listener on a `Map` that accepts into any dispatcher,
//! the loop run until a client thread is done, and a line client.
//!
//! Include it with `#[path = "support/inproc.rs"] mod inproc;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use asyncore_runtime::{dispatcher, Addr, Backend, Channel, Dispatcher, Map, Result, Socket};

/// Accepts connections into channels made by `make`, with the socket send buffer set to
/// `send_buffer` bytes when given.
pub struct Listener<F> {
    pub make: F,
    pub send_buffer: Option<usize>,
}

#[dispatcher]
impl<D: Dispatcher, F: FnMut() -> D + 'static> Listener<F> {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        if let Some(size) = self.send_buffer {
            rustix::net::sockopt::set_socket_send_buffer_size(&sock, size)?;
        }
        let channel = (self.make)();
        ch.add_accepted(sock, addr, channel)?;
        Ok(())
    }
}

pub fn listen_with<D: Dispatcher, F: FnMut() -> D + 'static>(
    map: &mut Map,
    make: F,
    send_buffer: Option<usize>,
) -> SocketAddr {
    let any = Addr::Inet("127.0.0.1:0".parse().unwrap());
    let token = map.listen(&any, Listener { make, send_buffer }).unwrap();
    map.local_addr(token).unwrap().as_inet().unwrap()
}

pub fn listen<D: Dispatcher, F: FnMut() -> D + 'static>(map: &mut Map, make: F) -> SocketAddr {
    listen_with(map, make, None)
}

/// Serves until the client thread is done; its result.
pub fn serve_until<T>(map: &mut Map, backend: Backend, client: JoinHandle<T>) -> T {
    for _ in 0..3_000 {
        if client.is_finished() {
            break;
        }
        map.run_with(Some(Duration::from_millis(10)), backend, Some(1))
            .expect("loop failed");
    }
    client.join().expect("client panicked")
}

/// Runs the loop (passes of at most 10 ms) until `done`, at most `passes` times.
pub fn run_until(map: &mut Map, backend: Backend, passes: usize, done: impl Fn(&Map) -> bool) {
    for _ in 0..passes {
        if done(map) {
            break;
        }
        map.run_with(Some(Duration::from_millis(10)), backend, Some(1))
            .expect("loop failed");
    }
}

/// A line client: `say` writes, `line` reads one CRLF line.
pub struct LineClient {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl LineClient {
    pub fn connect(addr: SocketAddr) -> LineClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        LineClient { stream, reader }
    }
    pub fn say(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "not a CRLF line: {l:?}");
        l.truncate(l.len() - 2);
        l
    }
    pub fn eof(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

/// A listener whose connections have a small socket send buffer (4 KiB), so that most of
/// a large reply waits in the channel's output buffer.
pub fn listen_small<D: Dispatcher, F: FnMut() -> D + 'static>(
    map: &mut Map,
    make: F,
) -> SocketAddr {
    listen_with(map, make, Some(4096))
}
