//! `#[dispatcher]` channels served by a `Map`, on every backend, talking to a std
//! `TcpStream` client: the handlers the block defines run, the ones it leaves out keep
//! asyncore's defaults, other methods stay ordinary methods, and generic blocks work.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

use asyncore_runtime::{
    dispatcher, Addr, Backend, Channel, Dispatcher, Map, Result, Socket, Token,
};

// ===== channels =====

/// Sends back every byte, as asyncore's `dispatcher_with_send` echo.
struct Echo;

#[dispatcher]
impl Echo {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 512];
        let n = ch.recv(&mut buf)?;
        ch.send_buffered(&buf[..n])?;
        Ok(())
    }
}

/// A listening channel that wraps each accepted socket in `make()`: generic, with a
/// where clause, and a helper that stays an ordinary method.
struct Server<F> {
    make: F,
    accepted: usize,
}

#[dispatcher]
impl<H, F> Server<F>
where
    H: Dispatcher,
    F: FnMut() -> H + 'static,
{
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        self.accepted += 1;
        let channel = (self.make)();
        ch.add_accepted(sock, addr, channel)?;
        Ok(())
    }

    /// Not a handler: how many connections were accepted.
    fn accepted(&self) -> usize {
        self.accepted
    }
}

type Log = Rc<RefCell<Vec<String>>>;

/// An echo channel whose handlers use helper methods, with its own `handle_close`.
struct Recording {
    log: Log,
    received: usize,
}

#[dispatcher]
impl Recording {
    /// Read size: a constant of the block, which stays in the inherent impl.
    const CHUNK: usize = 64;

    fn new(log: &Log) -> Self {
        Recording {
            log: log.clone(),
            received: 0,
        }
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; Self::CHUNK];
        let n = ch.recv(&mut buf)?;
        self.record(n);
        ch.send_buffered(&buf[..n])?;
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        let line = format!(
            "close after {} bytes (error: {})",
            self.received,
            reason.is_some()
        );
        self.note(line);
        ch.close();
        Ok(())
    }

    fn record(&mut self, n: usize) {
        self.received += n;
    }

    pub(crate) fn note(&self, line: String) {
        self.log.borrow_mut().push(line);
    }
}

/// Echoes every byte through `f`: a generic channel with a bound in the parameter list.
struct Mapping<F: FnMut(u8) -> u8> {
    f: F,
}

#[dispatcher]
impl<F: FnMut(u8) -> u8 + 'static> Mapping<F> {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 512];
        let n = ch.recv(&mut buf)?;
        let out = self.apply(&buf[..n]);
        ch.send_buffered(&out)?;
        Ok(())
    }

    fn apply(&mut self, data: &[u8]) -> Vec<u8> {
        data.iter().map(|&b| (self.f)(b)).collect()
    }
}

// ===== fixtures =====

/// A server on 127.0.0.1, port 0, whose accepted channels are `make()`; its token and
/// address.
fn serve<H: Dispatcher, F: FnMut() -> H + 'static>(map: &mut Map, make: F) -> (Token, SocketAddr) {
    let any_port = Addr::Inet("127.0.0.1:0".parse().unwrap());
    let token = map.listen(&any_port, Server { make, accepted: 0 }).unwrap();
    let addr = map.local_addr(token).unwrap().as_inet().unwrap();
    (token, addr)
}

/// A std client that sends each of `chunks` and reads back as many bytes as it sent
/// before the next, then disconnects; what it read.
fn client(addr: SocketAddr, chunks: &[&[u8]]) -> JoinHandle<io::Result<Vec<u8>>> {
    let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut received = Vec::new();
        for chunk in chunks {
            stream.write_all(&chunk)?;
            let mut back = vec![0u8; chunk.len()];
            stream.read_exact(&mut back)?;
            received.extend_from_slice(&back);
        }
        Ok(received)
    })
}

/// Runs passes of 10 ms (at most 2,000) until `done` holds.
#[track_caller]
fn run_until(map: &mut Map, backend: Backend, mut done: impl FnMut(&Map) -> bool) {
    for _ in 0..2_000 {
        if done(map) {
            return;
        }
        map.run_with(Some(Duration::from_millis(10)), backend, Some(1))
            .expect("loop failed");
    }
    assert!(done(map), "condition not reached after 2,000 passes");
}

/// Serves until `client` is done, then until only the listener is left; what the
/// client read.
#[track_caller]
fn exchange(map: &mut Map, backend: Backend, client: JoinHandle<io::Result<Vec<u8>>>) -> Vec<u8> {
    run_until(map, backend, |_| client.is_finished());
    let received = client
        .join()
        .expect("client panicked")
        .expect("client failed");
    run_until(map, backend, |map| map.len() == 1);
    received
}

// ===== tests =====

on_every_backend!(
    echo_exchanges_data_with_a_std_client,
    helpers_stay_ordinary_methods_next_to_handlers,
    generic_channels_work,
);

fn echo_exchanges_data_with_a_std_client(backend: Backend) {
    let mut map = Map::new();
    let make: fn() -> Echo = || Echo;
    let (server, addr) = serve(&mut map, make);
    let chunks: [&[u8]; 3] = [b"hello", b", asyncore", &[0u8, 255, 10, 13]];
    // `exchange` also waits for the accepted channel to go: the default `handle_close`
    // closed it when the client left.
    let received = exchange(&mut map, backend, client(addr, &chunks));
    assert_eq!(received, chunks.concat());
    // The server's helper is an ordinary method.
    let server = map
        .get::<Server<fn() -> Echo>>(server)
        .expect("the listener is there");
    assert_eq!(server.accepted(), 1);
}

fn helpers_stay_ordinary_methods_next_to_handlers(backend: Backend) {
    let log: Log = Rc::default();
    let mut map = Map::new();
    let for_server = log.clone();
    let (_server, addr) = serve(&mut map, move || Recording::new(&for_server));
    let long = vec![b'x'; 3 * Recording::CHUNK + 1];
    let received = exchange(&mut map, backend, client(addr, &[b"abc", &long]));
    assert_eq!(received.len(), 3 + long.len());
    assert_eq!(&received[..3], b"abc");
    assert_eq!(
        *log.borrow(),
        [format!(
            "close after {} bytes (error: false)",
            3 + long.len()
        )]
    );
    // An inherent method outside any handler.
    Recording::new(&log).note("direct".to_string());
    assert_eq!(log.borrow().last().map(String::as_str), Some("direct"));
}

fn generic_channels_work(backend: Backend) {
    let mut map = Map::new();
    let (_server, addr) = serve(&mut map, || Mapping {
        f: |b: u8| b.to_ascii_uppercase(),
    });
    let received = exchange(&mut map, backend, client(addr, &[b"hello ", b"world"]));
    assert_eq!(received, b"HELLO WORLD");
    let mut second = Mapping { f: |b: u8| b + 1 };
    assert_eq!(second.apply(b"abc"), b"bcd");
}

/// A block that defines `writable` keeps asyncore's every-pass asking.
struct Greeter {
    sent: bool,
}

#[dispatcher]
impl Greeter {
    fn writable(&mut self, ch: &Channel<'_>) -> bool {
        !ch.connected() || !self.sent
    }
}

#[test]
fn only_blocks_that_keep_both_defaults_say_their_interest_is_their_own() {
    // Neither readable nor writable: the defaults, which depend only on the channel.
    assert!(Echo.interest_from_own_state());
    assert!(Mapping { f: |b: u8| b }.interest_from_own_state());
    // writable defined: the loop must ask it every pass.
    assert!(!Greeter { sent: false }.interest_from_own_state());
    // The library's own channels whose interest is their own state.
    let chat =
        asyncore_runtime::AsyncChat::with_terminator(asyncore_examples::echo::LineEcho, b"\n");
    assert!(chat.interest_from_own_state());
}
