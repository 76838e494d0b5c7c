//! Conformance with asyncore's loop and dispatcher semantics.
//!
//! Each scenario of `asyncore-semantics.md` §4.1–4.5 and §4.8 that applies on Linux runs on
//! every backend (select, poll, epoll), and the socket scenarios on IPv4, IPv6 and Unix
//! stream sockets. Numbers in comments refer to that list.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use asyncore_runtime::{
    Addr, Backend, Channel, Dispatcher, Domain, Error, Map, Result, SockType, Socket, Token,
};

// ===== fixtures =====

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    V4,
    V6,
    Unix,
}

const FAMILIES: [Family; 3] = [Family::V4, Family::V6, Family::Unix];

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn bind_addr(f: Family) -> Addr {
    match f {
        Family::V4 => Addr::Inet("127.0.0.1:0".parse().unwrap()),
        Family::V6 => Addr::Inet("[::1]:0".parse().unwrap()),
        Family::Unix => {
            let p = std::env::temp_dir().join(format!(
                "asyncore-conf-{}-{}.sock",
                std::process::id(),
                UNIQUE.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_file(&p);
            Addr::Unix(p)
        }
    }
}

/// Run passes (10 ms each, at most 300) until `done` holds; panic otherwise (F8).
#[track_caller]
fn loop_until(map: &mut Map, backend: Backend, mut done: impl FnMut(&mut Map) -> bool) {
    for _ in 0..300 {
        if done(map) {
            return;
        }
        map.run_with(Some(Duration::from_millis(10)), backend, Some(1))
            .expect("loop failed");
    }
    assert!(done(map), "condition not reached after 300 passes");
}

/// F6: a listener that wraps each accepted socket in `make()`; errors escape.
struct Server<F> {
    make: F,
}

impl<H: Dispatcher, F: FnMut() -> H + 'static> Dispatcher for Server<F> {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let h = (self.make)();
        ch.add_accepted(sock, addr, h)?;
        Ok(())
    }
    fn handle_error(&mut self, _ch: &mut Channel<'_>, err: Error) -> Result {
        Err(err)
    }
}

fn server<H: Dispatcher, F: FnMut() -> H + 'static>(
    map: &mut Map,
    family: Family,
    make: F,
) -> (Token, Addr) {
    listening(map, family, Server { make })
}

/// A listening channel of `family` running `d`, and the address it is bound to.
fn listening(map: &mut Map, family: Family, d: impl Dispatcher) -> (Token, Addr) {
    let t = map.listen(&bind_addr(family), d).unwrap();
    let a = map.local_addr(t).unwrap();
    (t, a)
}

/// A dispatcher that records calls and lets errors escape (F5's strictness).
#[derive(Default)]
struct Recorder {
    log: Log,
    read: bool,
}

impl Recorder {
    fn new(log: &Log) -> Self {
        Recorder {
            log: log.clone(),
            read: true,
        }
    }
}

impl Dispatcher for Recorder {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        push(&self.log, "read");
        if self.read {
            let mut buf = [0u8; 4096];
            ch.recv(&mut buf)?;
        }
        Ok(())
    }
    fn handle_write(&mut self, _ch: &mut Channel<'_>) -> Result {
        push(&self.log, "write");
        Ok(())
    }
    fn handle_connect(&mut self, _ch: &mut Channel<'_>) -> Result {
        push(&self.log, "connect");
        Ok(())
    }
    fn handle_expt(&mut self, _ch: &mut Channel<'_>) -> Result {
        push(&self.log, "expt");
        Ok(())
    }
    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        push(&self.log, format!("close {:?}", reason.map(|e| e.kind())));
        ch.close();
        Ok(())
    }
    fn handle_error(&mut self, _ch: &mut Channel<'_>, err: Error) -> Result {
        push(&self.log, format!("error {err}"));
        Err(err)
    }
}

/// Idle channel: nothing overridden.
struct Idle;
impl Dispatcher for Idle {}

// ===== §1.1 loop =====

on_every_backend!(
    empty_map_returns_at_once_without_a_pass,
    count_zero_runs_no_pass,
    count_n_runs_at_most_n_passes,
    count_none_runs_until_the_map_is_empty,
    channel_added_during_a_pass_is_polled_from_the_next_pass,
    channel_closed_during_a_pass_gets_no_further_event,
);

fn empty_map_returns_at_once_without_a_pass(backend: Backend) {
    let mut map = Map::new();
    map.run_with(Some(Duration::from_secs(30)), backend, None)
        .unwrap();
    map.run_with(None, backend, Some(5)).unwrap();
    map.poll_once(None, backend).unwrap();
    assert_eq!(map.passes(), 0);
}

fn count_zero_runs_no_pass(backend: Backend) {
    let mut map = Map::new();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let l = log();
    map.add(a.into(), Recorder::new(&l)).unwrap();
    map.run_with(Some(Duration::ZERO), backend, Some(0))
        .unwrap();
    assert_eq!(map.passes(), 0);
    assert!(l.borrow().is_empty());
}

/// `readable()`/`writable()` calls counted per pass.
struct Counting {
    calls: Rc<RefCell<Vec<(u64, &'static str)>>>,
    pass: Rc<RefCell<u64>>,
}

impl Dispatcher for Counting {
    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        self.calls
            .borrow_mut()
            .push((*self.pass.borrow(), "readable"));
        true
    }
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        self.calls
            .borrow_mut()
            .push((*self.pass.borrow(), "writable"));
        false
    }
}

fn count_n_runs_at_most_n_passes(backend: Backend) {
    let mut map = Map::new();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let pass = Rc::new(RefCell::new(0));
    map.add(
        a.into(),
        Counting {
            calls: calls.clone(),
            pass: pass.clone(),
        },
    )
    .unwrap();
    // Nothing is ever ready: each pass only waits, and still counts.
    map.run_with(Some(Duration::from_millis(1)), backend, Some(3))
        .unwrap();
    assert_eq!(map.passes(), 3);
    // readable() then writable(), exactly once each per pass.
    assert_eq!(
        calls.borrow().iter().map(|c| c.1).collect::<Vec<_>>(),
        ["readable", "writable"].repeat(3)
    );
}

/// Reads until end of file, then the loop closes it.
struct ReadToEnd {
    got: Rc<RefCell<Vec<u8>>>,
}

impl Dispatcher for ReadToEnd {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 7];
        let n = ch.recv(&mut buf)?;
        self.got.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(())
    }
}

fn count_none_runs_until_the_map_is_empty(backend: Backend) {
    let mut map = Map::new();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    map.add(a.into(), ReadToEnd { got: got.clone() }).unwrap();
    b.write_all(b"some bytes, more than one read").unwrap();
    drop(b);
    map.run_with(Some(Duration::from_secs(5)), backend, None)
        .unwrap();
    assert!(map.is_empty());
    assert_eq!(&*got.borrow(), b"some bytes, more than one read");
    // 31 bytes at 7 per read: 5 reads with data, then end of file.
    assert_eq!(map.passes(), 6);
}

fn channel_added_during_a_pass_is_polled_from_the_next_pass(backend: Backend) {
    let mut map = Map::new();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let pass = Rc::new(RefCell::new(0u64));
    let (c2, p2) = (calls.clone(), pass.clone());
    let (_t, addr) = server(&mut map, Family::V4, move || Counting {
        calls: c2.clone(),
        pass: p2.clone(),
    });
    let _client = TcpStream::connect(addr.as_inet().unwrap()).unwrap();
    // Pass 1: the listener accepts and adds the channel. It is not polled in pass 1.
    *pass.borrow_mut() = 1;
    loop_until(&mut map, backend, |m| m.len() == 2);
    let accepted_in = map.passes();
    *pass.borrow_mut() = accepted_in;
    assert!(
        calls.borrow().is_empty(),
        "polled in the pass that added it"
    );
    *pass.borrow_mut() = accepted_in + 1;
    map.run_with(Some(Duration::from_millis(1)), backend, Some(1))
        .unwrap();
    assert_eq!(
        &*calls.borrow(),
        &[(accepted_in + 1, "readable"), (accepted_in + 1, "writable")]
    );
}

/// Closes another channel when it reads.
struct Closer {
    victim: Rc<RefCell<Option<Token>>>,
    log: Log,
}

impl Dispatcher for Closer {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        push(&self.log, "closer read");
        let mut buf = [0u8; 16];
        ch.recv(&mut buf)?;
        if let Some(v) = self.victim.borrow_mut().take() {
            assert!(ch.map().close(v));
        }
        Ok(())
    }
}

fn channel_closed_during_a_pass_gets_no_further_event(backend: Backend) {
    let mut map = Map::new();
    let l = log();
    let (a1, mut b1) = std::os::unix::net::UnixStream::pair().unwrap();
    let (a2, mut b2) = std::os::unix::net::UnixStream::pair().unwrap();
    let victim = Rc::new(RefCell::new(None));
    let t1 = map
        .add(
            a1.into(),
            Closer {
                victim: victim.clone(),
                log: l.clone(),
            },
        )
        .unwrap();
    let mut rec = Recorder::new(&l);
    rec.read = false;
    let t2 = map.add(a2.into(), rec).unwrap();
    *victim.borrow_mut() = Some(t2);
    b1.write_all(b"x").unwrap();
    b2.write_all(b"y").unwrap();
    map.run_with(Some(Duration::from_secs(1)), backend, Some(1))
        .unwrap();
    assert_eq!(&*l.borrow(), &["closer read"]);
    assert!(map.contains(t1) && !map.contains(t2));
    // The victim's socket is closed: its peer sees end of file (or a reset, since the
    // byte it was sent was never read).
    let mut buf = [0u8; 1];
    match b2.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
    }
}

// ===== §4.1 helper functions: error routing =====

/// F2/F3: every handler fails with the given error.
struct Failing {
    exit: bool,
    log: Log,
}

impl Failing {
    fn fail(&self, what: &str) -> Result {
        push(&self.log, what.to_string());
        if self.exit {
            Err(Error::Exit)
        } else {
            Err(Error::msg(format!("{what} failed")))
        }
    }
}

impl Dispatcher for Failing {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        true
    }
    fn handle_read(&mut self, _ch: &mut Channel<'_>) -> Result {
        self.fail("read")
    }
    fn handle_write(&mut self, _ch: &mut Channel<'_>) -> Result {
        self.fail("write")
    }
    fn handle_expt(&mut self, _ch: &mut Channel<'_>) -> Result {
        self.fail("expt")
    }
    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        push(&self.log, format!("handle_error: {err}"));
        ch.close();
        Ok(())
    }
}

on_every_backend!(
    exit_escapes_the_loop_from_read_and_write,
    other_errors_go_to_handle_error,
    urgent_data_reaches_handle_expt_and_its_errors_are_routed,
);

fn exit_escapes_the_loop_from_read_and_write(backend: Backend) {
    // Read.
    let mut map = Map::new();
    let l = log();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let t = map
        .add(
            a.into(),
            Failing {
                exit: true,
                log: l.clone(),
            },
        )
        .unwrap();
    b.write_all(b"x").unwrap();
    let r = map.run_with(Some(Duration::from_secs(1)), backend, Some(5));
    assert!(matches!(r, Err(Error::Exit)), "{r:?}");
    // handle_read ran (and Exit stopped the rest of the event: no handle_error).
    assert_eq!(l.borrow()[0], "read");
    assert!(!l.borrow().iter().any(|s| s.starts_with("handle_error")));
    // The channel survives an Exit: the loop can be resumed.
    assert!(map.contains(t));
    // Write (nothing to read).
    let mut map = Map::new();
    let l = log();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    map.add(
        a.into(),
        Failing {
            exit: true,
            log: l.clone(),
        },
    )
    .unwrap();
    let r = map.run_with(Some(Duration::from_secs(1)), backend, Some(5));
    assert!(matches!(r, Err(Error::Exit)), "{r:?}");
    assert_eq!(&*l.borrow(), &["write"]);
}

fn other_errors_go_to_handle_error(backend: Backend) {
    let mut map = Map::new();
    let l = log();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    map.add(
        a.into(),
        Failing {
            exit: false,
            log: l.clone(),
        },
    )
    .unwrap();
    b.write_all(b"x").unwrap();
    map.run_with(Some(Duration::from_secs(1)), backend, Some(1))
        .unwrap();
    // read failed -> handle_error (which closed), so the write step did not run.
    assert_eq!(&*l.borrow(), &["read", "handle_error: read failed"]);
    assert!(map.is_empty());
    // Write.
    let mut map = Map::new();
    let l = log();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    map.add(
        a.into(),
        Failing {
            exit: false,
            log: l.clone(),
        },
    )
    .unwrap();
    map.run_with(Some(Duration::from_secs(1)), backend, Some(1))
        .unwrap();
    assert_eq!(&*l.borrow(), &["write", "handle_error: write failed"]);
}

/// §4.5 test 25: the server side sends urgent data; the client's handle_expt runs.
struct OobReader {
    log: Log,
    fail: bool,
}

impl Dispatcher for OobReader {
    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        true
    }
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut b = [0u8; 16];
        ch.recv(&mut b)?;
        Ok(())
    }
    fn handle_expt(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut b = [0u8; 1];
        let n = ch.socket().recv_oob(&mut b)?;
        push(&self.log, format!("expt {:?}", &b[..n]));
        if self.fail {
            return Err(Error::msg("expt failed"));
        }
        ch.close();
        Ok(())
    }
    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        push(&self.log, format!("handle_error: {err}"));
        ch.close();
        Ok(())
    }
}

fn urgent_data_reaches_handle_expt_and_its_errors_are_routed(backend: Backend) {
    for fail in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let mut map = Map::new();
        let l = log();
        map.add(
            client.into(),
            OobReader {
                log: l.clone(),
                fail,
            },
        )
        .unwrap();
        let s = Socket::from(server_side);
        assert_eq!(s.send_oob(b"!").unwrap(), 1);
        loop_until(&mut map, backend, |m| m.is_empty());
        let mut want = vec!["expt [33]".to_string()];
        if fail {
            want.push("handle_error: expt failed".into());
        }
        assert_eq!(&*l.borrow(), &want);
    }
}

// ===== §4.1 tests 3-4: close_all =====

on_every_backend!(close_all_closes_every_channel_and_empties_the_map);

fn close_all_closes_every_channel_and_empties_the_map(_backend: Backend) {
    let mut map = Map::new();
    let mut peers = Vec::new();
    for _ in 0..10 {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        map.add(a.into(), Idle).unwrap();
        peers.push(b);
    }
    assert_eq!(map.len(), 10);
    asyncore_runtime::close_all(&mut map);
    assert!(map.is_empty());
    assert!(map.tokens().is_empty());
    for mut p in peers {
        let mut buf = [0u8; 1];
        assert_eq!(p.read(&mut buf).unwrap(), 0, "socket not closed");
    }
}

// ===== §4.2 dispatcher basics =====

#[test]
fn new_dispatcher_is_readable_and_writable() {
    // 6: test_basic.
    let mut map = Map::new();
    let t = map
        .create_socket(Domain::Ipv4, SockType::Stream, Idle)
        .unwrap();
    let rw = map.with::<Idle, _>(t, |d, ch| (d.readable(ch), d.writable(ch)));
    assert_eq!(rw, Some((true, true)));
}

#[test]
fn repr_shows_type_state_and_address() {
    // 7: test_repr, adapted: type name, state word, address, identity.
    let mut map = Map::new();
    let t = map
        .create_socket(Domain::Ipv4, SockType::Stream, Idle)
        .unwrap();
    let s = map.with_channel(t, |ch| ch.to_string()).unwrap();
    assert!(s.starts_with("<Idle at #"), "{s}");
    let l = map
        .listen(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
            Idle,
        )
        .unwrap();
    let port = map.local_addr(l).unwrap().as_inet().unwrap().port();
    let s = map.with_channel(l, |ch| ch.to_string()).unwrap();
    assert!(
        s.starts_with(&format!("<Idle listening 127.0.0.1:{port} at #")),
        "{s}"
    );
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let c = map.add(a.into(), Idle).unwrap();
    let s = map.with_channel(c, |ch| ch.to_string()).unwrap();
    assert!(s.starts_with("<Idle connected (unnamed) at #"), "{s}");
}

/// A logger that keeps what the current thread logs, so tests can read it.
struct Capture;

thread_local! {
    static CAPTURED: RefCell<Vec<(log::Level, String)>> = const { RefCell::new(Vec::new()) };
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        CAPTURED.with(|c| {
            c.borrow_mut()
                .push((record.level(), record.args().to_string()))
        });
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;
static LOGGER_INIT: Mutex<bool> = Mutex::new(false);

fn capture_logs() {
    let mut done = LOGGER_INIT.lock().unwrap();
    if !*done {
        log::set_logger(&LOGGER).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        *done = true;
    }
    CAPTURED.with(|c| c.borrow_mut().clear());
}

fn captured() -> Vec<(log::Level, String)> {
    CAPTURED.with(|c| c.borrow().clone())
}

#[test]
fn log_and_log_info_write_asyncore_formatted_lines() {
    // 8, 9: test_log, test_log_info (through the `log` crate instead of stdout/stderr).
    capture_logs();
    Idle.log("Lovely spam! Wonderful spam!");
    Idle.log_info("Egg, bacon, spam and sausage", "EGGS");
    Idle.log_info("Lovely spam!", "info");
    Idle.log_info("broken", "error");
    let got = captured();
    assert_eq!(
        got,
        vec![
            (log::Level::Info, "log: Lovely spam! Wonderful spam!".into()),
            (
                log::Level::Info,
                "EGGS: Egg, bacon, spam and sausage".into()
            ),
            (log::Level::Info, "info: Lovely spam!".into()),
            (log::Level::Error, "error: broken".into()),
        ]
    );
}

#[test]
fn default_handlers_log_unhandled_events() {
    // 10: test_unhandled: expt, read, write, connect, in that order.
    capture_logs();
    let mut map = Map::new();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let t = map.add(a.into(), Idle).unwrap();
    map.with::<Idle, _>(t, |d, ch| {
        d.handle_expt(ch).unwrap();
        d.handle_read(ch).unwrap();
        d.handle_write(ch).unwrap();
        d.handle_connect(ch).unwrap();
    });
    let msgs: Vec<String> = captured()
        .into_iter()
        .filter(|(l, _)| *l == log::Level::Debug)
        .map(|(_, m)| m.split(": ").nth(1).unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        msgs,
        [
            "unhandled incoming priority event",
            "unhandled read event",
            "unhandled write event",
            "unhandled connect event"
        ]
    );
}

#[test]
fn strerror_is_the_os_text_and_never_empty() {
    // 11: test_strerror.
    assert_eq!(asyncore_runtime::strerror(1), "Operation not permitted");
    assert!(!asyncore_runtime::strerror(-1).is_empty());
    assert!(!asyncore_runtime::strerror(100_000).is_empty());
}

// ===== §4.3 dispatcher_with_send =====

on_every_backend!(buffered_send_before_the_loop_delivers_everything);

fn buffered_send_before_the_loop_delivers_everything(backend: Backend) {
    // 12: data queued before any pass goes out; the loop drains the buffer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut map = Map::new();
    let t = map
        .connect(&listener.local_addr().unwrap().into(), Idle)
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let payload: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let mut expected = Vec::new();
    for _ in 0..2 {
        map.with_channel(t, |ch| ch.send_buffered(&payload))
            .unwrap()
            .unwrap();
        expected.extend_from_slice(&payload);
    }
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; expected.len()];
        server.read_exact(&mut got).unwrap();
        assert!(got == expected, "payload corrupted");
    });
    loop_until(&mut map, backend, |m| {
        m.with_channel(t, |ch| !ch.has_pending_output()).unwrap()
    });
    reader.join().unwrap();
}

// ===== §4.4 file_dispatcher =====

#[test]
fn file_socket_is_a_dup_and_reads_consecutively() {
    // 13: test_recv.
    let path = std::env::temp_dir().join(format!("asyncore-file-{}", std::process::id()));
    std::fs::write(&path, b"It's not dead, it's sleeping!\n").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let s = Socket::from_file(&f).unwrap();
    assert_ne!(s.as_raw_fd(), f.as_raw_fd());
    let mut a = [0u8; 13];
    let mut b = [0u8; 6];
    assert_eq!(s.recv(&mut a).unwrap(), 13);
    assert_eq!(s.recv(&mut b).unwrap(), 6);
    assert_eq!(&a, b"It's not dead");
    assert_eq!(&b, b", it's");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_socket_send_appends() {
    // 14: test_send on an O_APPEND file.
    let path = std::env::temp_dir().join(format!("asyncore-append-{}", std::process::id()));
    std::fs::write(&path, b"It's not dead, it's sleeping!\n").unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let s = Socket::from_file(&f).unwrap();
    s.send(b"Come again?\n").unwrap();
    s.send(b"Sleeping?!\n").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"It's not dead, it's sleeping!\nCome again?\nSleeping?!\n"
    );
    std::fs::remove_file(&path).unwrap();
}

on_every_backend!(file_dispatcher_reads_a_file_then_closes_at_eof);

fn file_dispatcher_reads_a_file_then_closes_at_eof(backend: Backend) {
    // 15: a 29-byte file, count=2: pass 1 reads it all, pass 2 hits end of file.
    let path = std::env::temp_dir().join(format!(
        "asyncore-fd-{}-{}",
        std::process::id(),
        backend.name()
    ));
    std::fs::write(&path, b"It's not dead, it's sleeping").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let mut map = Map::new();
    let got = Rc::new(RefCell::new(Vec::new()));

    struct FileReader(Rc<RefCell<Vec<u8>>>);
    impl Dispatcher for FileReader {
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 1024];
            let n = ch.recv(&mut buf)?;
            self.0.borrow_mut().extend_from_slice(&buf[..n]);
            Ok(())
        }
    }
    map.add_file(&f, FileReader(got.clone())).unwrap();
    map.run_with(Some(Duration::from_millis(10)), backend, Some(2))
        .unwrap();
    assert_eq!(&*got.borrow(), b"It's not dead, it's sleeping");
    assert!(map.is_empty(), "end of file did not close the channel");
    std::fs::remove_file(&path).unwrap();
}

on_every_backend!(pipe_channel_reads_until_the_writer_closes);

fn pipe_channel_reads_until_the_writer_closes(backend: Backend) {
    let (r, w) = std::io::pipe().unwrap();
    let mut map = Map::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    map.add_file(&r, ReadToEnd { got: got.clone() }).unwrap();
    drop(r);
    let writer = std::thread::spawn(move || {
        let mut w = w;
        for i in 0..50 {
            w.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
    });
    map.run_with(Some(Duration::from_secs(5)), backend, Some(10_000))
        .unwrap();
    writer.join().unwrap();
    assert!(map.is_empty());
    let want: String = (0..50).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8(got.borrow().clone()).unwrap(), want);
}

// ===== §4.5 socket API matrix: {IPv4, IPv6, Unix} x backends =====

on_every_backend!(
    handle_connect_is_called_and_sees_the_connected_state,
    overridden_handle_accept_is_called,
    default_handle_accept_passes_connections_to_handle_accepted,
    handle_read_gets_data_sent_by_the_server_side,
    handle_write_is_called_with_default_writable_and_completes_connect,
    handle_close_follows_end_of_file,
    broken_connection_goes_to_handle_close_never_handle_error,
    handle_error_receives_the_original_error,
    connection_attributes_follow_the_state_machine,
    quick_reset_connection_does_not_break_the_loop,
    refused_connect_goes_to_handle_error_then_closes,
    reset_gives_exactly_one_handle_close,
);

fn handle_connect_is_called_and_sees_the_connected_state(backend: Backend) {
    // 18, and §5.23: handle_connect runs after the flags change.
    for family in FAMILIES {
        let mut map = Map::new();
        let (_s, addr) = server(&mut map, family, || Idle);
        struct Client(Log);
        impl Dispatcher for Client {
            fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
                push(
                    &self.0,
                    format!(
                        "connect connected={} connecting={}",
                        ch.connected(),
                        ch.connecting()
                    ),
                );
                Ok(())
            }
            fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
                Err(e)
            }
        }
        let l = log();
        map.connect(&addr, Client(l.clone())).unwrap();
        // Even a Unix connect that finished at once is reported as an event, never from
        // inside connect() (§4.8).
        assert!(l.borrow().is_empty());
        loop_until(&mut map, backend, |_| !l.borrow().is_empty());
        assert_eq!(
            &*l.borrow(),
            &["connect connected=true connecting=false"],
            "{family:?}"
        );
    }
}

fn overridden_handle_accept_is_called(backend: Backend) {
    // 19: handle_accept runs; nothing is accepted unless it calls accept().
    for family in FAMILIES {
        let mut map = Map::new();
        struct Acceptor(Log);
        impl Dispatcher for Acceptor {
            fn handle_accept(&mut self, ch: &mut Channel<'_>) -> Result {
                push(&self.0, "accept");
                ch.close();
                Ok(())
            }
        }
        let l = log();
        let (_listener, addr) = listening(&mut map, family, Acceptor(l.clone()));
        map.connect(&addr, Idle).unwrap();
        loop_until(&mut map, backend, |_| !l.borrow().is_empty());
        assert_eq!(&*l.borrow(), &["accept"], "{family:?}");
    }
}

fn default_handle_accept_passes_connections_to_handle_accepted(backend: Backend) {
    // 20.
    for family in FAMILIES {
        let mut map = Map::new();
        struct Acceptor(Log);
        impl Dispatcher for Acceptor {
            fn handle_accepted(
                &mut self,
                ch: &mut Channel<'_>,
                sock: Socket,
                addr: Addr,
            ) -> Result {
                push(
                    &self.0,
                    format!("accepted {}", sock.sock_type() == SockType::Stream),
                );
                let _ = addr;
                ch.close();
                Ok(())
            }
        }
        let l = log();
        let (_listener, addr) = listening(&mut map, family, Acceptor(l.clone()));
        map.connect(&addr, Idle).unwrap();
        loop_until(&mut map, backend, |_| !l.borrow().is_empty());
        assert_eq!(&*l.borrow(), &["accepted true"], "{family:?}");
    }
}

fn handle_read_gets_data_sent_by_the_server_side(backend: Backend) {
    // 21.
    for family in FAMILIES {
        let mut map = Map::new();
        struct SendOnAccept;
        impl Dispatcher for SendOnAccept {
            fn handle_accepted(
                &mut self,
                ch: &mut Channel<'_>,
                sock: Socket,
                addr: Addr,
            ) -> Result {
                let t = ch.add_accepted(sock, addr, Idle)?;
                ch.map().send_to(t, &[b'x'; 1024])?;
                Ok(())
            }
        }
        let (_listener, addr) = listening(&mut map, family, SendOnAccept);
        let l = log();
        map.connect(&addr, Recorder::new(&l)).unwrap();
        loop_until(&mut map, backend, |_| {
            l.borrow().iter().any(|s| s == "read")
        });
    }
}

fn handle_write_is_called_with_default_writable_and_completes_connect(backend: Backend) {
    // 22.
    for family in FAMILIES {
        let mut map = Map::new();
        let (_s, addr) = server(&mut map, family, || Idle);
        let l = log();
        let c = map.connect(&addr, Recorder::new(&l)).unwrap();
        loop_until(&mut map, backend, |_| {
            l.borrow().iter().any(|s| s == "write")
        });
        assert_eq!(l.borrow()[0], "connect", "{family:?}: {:?}", l.borrow());
        assert_eq!(map.with_channel(c, |ch| ch.connected()), Some(true));
    }
}

fn handle_close_follows_end_of_file(backend: Backend) {
    // 23: the server side closes at once; the client's recv sees end of file.
    for family in FAMILIES {
        let mut map = Map::new();
        struct CloseAtOnce;
        impl Dispatcher for CloseAtOnce {
            fn handle_accepted(&mut self, _ch: &mut Channel<'_>, sock: Socket, _a: Addr) -> Result {
                drop(sock);
                Ok(())
            }
        }
        let (_listener, addr) = listening(&mut map, family, CloseAtOnce);
        let l = log();
        let c = map.connect(&addr, Recorder::new(&l)).unwrap();
        loop_until(&mut map, backend, |m| !m.contains(c));
        let closes: Vec<_> = l
            .borrow()
            .iter()
            .filter(|s| s.starts_with("close"))
            .cloned()
            .collect();
        assert_eq!(closes.len(), 1, "{family:?}: {:?}", l.borrow());
    }
}

fn broken_connection_goes_to_handle_close_never_handle_error(backend: Backend) {
    // 24: the client writes on every write event; the server reads once and closes.
    for family in FAMILIES {
        let mut map = Map::new();
        struct ReadOnceAndClose;
        impl Dispatcher for ReadOnceAndClose {
            fn writable(&mut self, _: &Channel<'_>) -> bool {
                false
            }
            fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
                let mut b = [0u8; 128];
                ch.recv(&mut b)?;
                ch.close();
                Ok(())
            }
        }
        let (_s, addr) = server(&mut map, family, || ReadOnceAndClose);
        struct Writer(Log);
        impl Dispatcher for Writer {
            fn writable(&mut self, _: &Channel<'_>) -> bool {
                true
            }
            fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
                ch.send(&[b'x'; 128])?;
                Ok(())
            }
            fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
                let mut b = [0u8; 128];
                ch.recv(&mut b)?;
                Ok(())
            }
            fn handle_close(&mut self, ch: &mut Channel<'_>, _r: Option<io::Error>) -> Result {
                push(&self.0, "close");
                ch.close();
                Ok(())
            }
            fn handle_expt(&mut self, ch: &mut Channel<'_>) -> Result {
                push(&self.0, "expt");
                ch.close();
                Ok(())
            }
            fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
                Err(e)
            }
        }
        let l = log();
        let c = map.connect(&addr, Writer(l.clone())).unwrap();
        loop_until(&mut map, backend, |m| !m.contains(c));
        assert_eq!(l.borrow().len(), 1, "{family:?}: {:?}", l.borrow());
    }
}

fn handle_error_receives_the_original_error(backend: Backend) {
    // 26.
    for family in FAMILIES {
        let mut map = Map::new();
        let (_s, addr) = server(&mut map, family, || Idle);
        struct DivByZero(Log);
        impl Dispatcher for DivByZero {
            fn handle_write(&mut self, _: &mut Channel<'_>) -> Result {
                let e: std::num::ParseIntError = "".parse::<u8>().unwrap_err();
                Err(Error::other(e))
            }
            fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
                let original = match &err {
                    Error::Other(e) => e.downcast_ref::<std::num::ParseIntError>().is_some(),
                    _ => false,
                };
                push(&self.0, format!("error original={original}"));
                ch.close();
                Ok(())
            }
        }
        let l = log();
        map.connect(&addr, DivByZero(l.clone())).unwrap();
        loop_until(&mut map, backend, |_| !l.borrow().is_empty());
        assert_eq!(&*l.borrow(), &["error original=true"], "{family:?}");
    }
}

fn connection_attributes_follow_the_state_machine(backend: Backend) {
    // 27.
    for family in FAMILIES {
        let mut map = Map::new();
        let (s, addr) = server(&mut map, family, || Idle);
        let state = |m: &mut Map, t: Token| {
            m.with_channel(t, |ch| (ch.accepting(), ch.connected(), ch.connecting()))
        };
        assert_eq!(state(&mut map, s), Some((true, false, false)));
        let c = map.connect(&addr, Idle).unwrap();
        assert_eq!(state(&mut map, c), Some((false, false, true)));
        loop_until(&mut map, backend, |m| {
            state(m, c) == Some((false, true, false))
        });
        map.with_channel(c, |ch| {
            ch.close();
            assert_eq!((ch.accepting(), ch.connected()), (false, false));
        });
        assert!(!map.contains(c));
        assert_eq!(state(&mut map, s), Some((true, false, false)));
        map.with_channel(s, |ch| {
            ch.close();
            assert!(!ch.accepting());
        });
        assert!(!map.contains(s));
    }
}

fn quick_reset_connection_does_not_break_the_loop(backend: Backend) {
    // 31: connections reset right after connecting while the loop runs.
    for family in [Family::V4, Family::V6] {
        let mut map = Map::new();
        let l = log();
        let (_s, addr) = server(&mut map, family, move || Recorder::new(&l));
        let sa = addr.as_inet().unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..20 {
                let s = TcpStream::connect(sa).unwrap();
                Socket::from(s.try_clone().unwrap())
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(s);
            }
        });
        map.run_with(Some(Duration::from_millis(10)), backend, Some(60))
            .unwrap();
        t.join().unwrap();
        map.run_with(Some(Duration::from_millis(10)), backend, Some(20))
            .unwrap();
        // Only the listener is left: every reset connection was closed.
        assert_eq!(map.len(), 1, "{family:?}");
    }
}

fn refused_connect_goes_to_handle_error_then_closes(backend: Backend) {
    // §4.8: [error ConnectionRefusedError, close].
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut map = Map::new();
    struct Client(Log);
    impl Dispatcher for Client {
        fn handle_connect(&mut self, _: &mut Channel<'_>) -> Result {
            push(&self.0, "connect");
            Ok(())
        }
        fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
            let refused = err.as_io().map(|e| e.kind()) == Some(io::ErrorKind::ConnectionRefused);
            push(&self.0, format!("error refused={refused}"));
            self.handle_close(ch, None)
        }
        fn handle_close(&mut self, ch: &mut Channel<'_>, _r: Option<io::Error>) -> Result {
            push(&self.0, "close");
            ch.close();
            Ok(())
        }
    }
    let l = log();
    match map.connect(&port.into(), Client(l.clone())) {
        Ok(c) => {
            loop_until(&mut map, backend, |m| !m.contains(c));
            assert_eq!(&*l.borrow(), &["error refused=true", "close"]);
        }
        // A refusal reported at once is also an acceptable outcome.
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
    }
}

fn reset_gives_exactly_one_handle_close(backend: Backend) {
    // §4.8 and §5.26: one RST, one handle_close, on every backend.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let mut map = Map::new();
    let l = log();
    struct Writer(Log);
    impl Dispatcher for Writer {
        fn writable(&mut self, _: &Channel<'_>) -> bool {
            true
        }
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            push(&self.0, "read");
            let mut b = [0u8; 64];
            ch.recv(&mut b)?;
            Ok(())
        }
        fn handle_write(&mut self, _: &mut Channel<'_>) -> Result {
            Ok(())
        }
        fn handle_close(&mut self, ch: &mut Channel<'_>, r: Option<io::Error>) -> Result {
            push(&self.0, format!("close {:?}", r.map(|e| e.kind())));
            ch.close();
            Ok(())
        }
        fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
            Err(e)
        }
    }
    let c = map.add(client.into(), Writer(l.clone())).unwrap();
    let s = Socket::from(server_side);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    loop_until(&mut map, backend, |m| !m.contains(c));
    let closes: Vec<_> = l
        .borrow()
        .iter()
        .filter(|s| s.starts_with("close"))
        .cloned()
        .collect();
    assert_eq!(closes, ["close Some(ConnectionReset)"], "{:?}", l.borrow());
}

#[test]
fn create_socket_is_nonblocking_cloexec_and_of_the_family() {
    // 28.
    for (domain, ty) in [
        (Domain::Ipv4, SockType::Stream),
        (Domain::Ipv6, SockType::Stream),
        (Domain::Unix, SockType::Stream),
        (Domain::Ipv4, SockType::Datagram),
    ] {
        let mut map = Map::new();
        let t = map.create_socket(domain, ty, Idle).unwrap();
        map.with_channel(t, |ch| {
            let s = ch.socket();
            assert!(s.is_nonblocking().unwrap());
            assert!(s.is_cloexec().unwrap());
            assert_eq!(s.domain(), Some(domain));
            assert_eq!(s.sock_type(), ty);
        });
    }
}

#[test]
fn bind_really_binds() {
    // 29 (not Unix).
    for any in ["127.0.0.1:0", "[::1]:0"] {
        let mut map = Map::new();
        let t = map
            .listen(&any.parse::<std::net::SocketAddr>().unwrap().into(), Idle)
            .unwrap();
        let taken = map.local_addr(t).unwrap();
        let s2 = Socket::new(Domain::for_addr(&taken), SockType::Stream).unwrap();
        let e = s2.bind(&taken).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }
}

#[test]
fn set_reuse_addr_turns_the_option_on() {
    // 30 (not Unix).
    let plain = Socket::from(TcpListener::bind("127.0.0.1:0").unwrap());
    let _ = plain; // std sets SO_REUSEADDR on its listeners; check a fresh socket instead.
    let s = Socket::new(Domain::Ipv4, SockType::Stream).unwrap();
    assert!(!s.reuse_addr().unwrap());
    s.set_reuse_addr().unwrap();
    assert!(s.reuse_addr().unwrap());
}

// ===== what asyncore lacked =====

on_every_backend!(
    timer_fires_while_the_loop_waits_with_a_30s_timeout,
    channel_timers_reach_handle_timer_and_can_be_cancelled,
    idle_timeout_closes_a_silent_channel,
    waker_hands_work_to_a_waiting_loop,
    a_panicking_handler_closes_only_its_own_channel,
    back_pressure_keeps_a_slow_readers_buffer_under_its_limit,
    exit_from_handle_error_escapes_and_other_channels_stay,
    select_refuses_descriptors_above_fd_setsize_per_channel,
);

fn timer_fires_while_the_loop_waits_with_a_30s_timeout(backend: Backend) {
    // The loop runs in a thread; if the timer did not bound the wait, the single pass
    // would block for 30 s and the watchdog below would fail the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut map = Map::new();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        map.add(a.into(), Idle).unwrap();
        let fired = Rc::new(RefCell::new(false));
        let f = fired.clone();
        map.call_later(Duration::from_millis(50), move |_| *f.borrow_mut() = true);
        map.run_with(Some(Duration::from_secs(30)), backend, Some(1))
            .unwrap();
        drop(b);
        tx.send((*fired.borrow(), map.passes())).unwrap();
    });
    let (fired, passes) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the timer did not cut the 30 s wait short");
    handle.join().unwrap();
    assert!(fired);
    assert_eq!(passes, 1);
}

fn channel_timers_reach_handle_timer_and_can_be_cancelled(backend: Backend) {
    let mut map = Map::new();
    struct Ticker {
        log: Log,
        cancelled: Option<asyncore_runtime::TimerId>,
    }
    impl Dispatcher for Ticker {
        fn handle_timer(&mut self, ch: &mut Channel<'_>, id: asyncore_runtime::TimerId) -> Result {
            assert_ne!(Some(id), self.cancelled);
            push(&self.log, "tick");
            if self.log.borrow().len() == 3 {
                ch.close();
            } else {
                ch.set_timer(Duration::from_millis(1));
            }
            Ok(())
        }
    }
    let l = log();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let t = map
        .add(
            a.into(),
            Ticker {
                log: l.clone(),
                cancelled: None,
            },
        )
        .unwrap();
    map.with::<Ticker, _>(t, |d, ch| {
        let doomed = ch.set_timer(Duration::from_millis(1));
        assert!(ch.cancel_timer(doomed));
        d.cancelled = Some(doomed);
        ch.set_timer(Duration::from_millis(2));
    });
    map.run_with(Some(Duration::from_secs(5)), backend, Some(100))
        .unwrap();
    assert!(map.is_empty());
    assert_eq!(&*l.borrow(), &["tick", "tick", "tick"]);
}

fn idle_timeout_closes_a_silent_channel(backend: Backend) {
    let mut map = Map::new();
    let l = log();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let t = map.add(a.into(), Recorder::new(&l)).unwrap();
    map.with_channel(t, |ch| ch.set_idle_timeout(Some(Duration::from_millis(30))));
    map.run_with(Some(Duration::from_secs(5)), backend, Some(100))
        .unwrap();
    assert!(map.is_empty());
    assert_eq!(&*l.borrow(), &["close Some(TimedOut)"]);
}

fn waker_hands_work_to_a_waiting_loop(backend: Backend) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut map = Map::new();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        map.add(a.into(), Idle).unwrap();
        let waker = map.waker().unwrap();
        assert_eq!(map.len(), 1, "the waker is not a channel");
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            waker
                .call(move |map| {
                    got_tx.send(map.len()).unwrap();
                })
                .unwrap();
            waker.stop().unwrap();
        });
        map.run_with(Some(Duration::from_secs(30)), backend, None)
            .unwrap();
        other.join().unwrap();
        tx.send(got_rx.try_recv().ok()).unwrap();
    });
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the waker did not wake the loop");
    handle.join().unwrap();
    assert_eq!(got, Some(1));
}

/// Echo that panics on the line "panic".
struct PanickyEcho;
impl Dispatcher for PanickyEcho {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 1024];
        let n = ch.recv(&mut buf)?;
        if buf[..n].starts_with(b"panic") {
            panic!("deliberate panic in a handler");
        }
        ch.send_buffered(&buf[..n])?;
        Ok(())
    }
}

fn a_panicking_handler_closes_only_its_own_channel(backend: Backend) {
    let mut map = Map::new();
    let (_s, addr) = server(&mut map, Family::V4, || PanickyEcho);
    let sa = addr.as_inet().unwrap();
    let mut good = TcpStream::connect(sa).unwrap();
    let mut bad = TcpStream::connect(sa).unwrap();
    loop_until(&mut map, backend, |m| m.len() == 3);
    bad.write_all(b"panic").unwrap();
    good.write_all(b"hello").unwrap();
    loop_until(&mut map, backend, |m| m.len() == 2);
    // The panicking channel's socket was closed.
    let mut buf = [0u8; 16];
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bad.read(&mut buf).unwrap(), 0);
    // The other one is still served, before and after.
    good.set_nonblocking(true).unwrap();
    let mut echoed = Vec::new();
    loop_until(&mut map, backend, |_| {
        let mut b = [0u8; 64];
        if let Ok(n) = good.read(&mut b) {
            echoed.extend_from_slice(&b[..n]);
        }
        echoed.len() >= 5
    });
    assert_eq!(echoed, b"hello");
    good.write_all(b"again").unwrap();
    echoed.clear();
    loop_until(&mut map, backend, |_| {
        let mut b = [0u8; 64];
        if let Ok(n) = good.read(&mut b) {
            echoed.extend_from_slice(&b[..n]);
        }
        echoed.len() >= 5
    });
    assert_eq!(echoed, b"again");
}

fn back_pressure_keeps_a_slow_readers_buffer_under_its_limit(backend: Backend) {
    const HIGH: usize = 64 * 1024;
    const LIMIT: usize = 256 * 1024;
    let mut map = Map::new();
    map.set_default_output_limits(HIGH, LIMIT);
    let (_s, addr) = server(&mut map, Family::V4, || asyncore_examples::echo::Echo);
    let sa = addr.as_inet().unwrap();
    let mut client = TcpStream::connect(sa).unwrap();
    loop_until(&mut map, backend, |m| m.len() == 2);
    let echo = map.tokens()[1];
    // The client writes 16 MiB and reads nothing.
    let total = 16 * 1024 * 1024;
    let mut writer = client.try_clone().unwrap();
    let w = std::thread::spawn(move || {
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        writer
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while sent < total {
            match writer.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let mut max_pending = 0;
    let mut paused_seen = false;
    // Run until the socket buffers are full and the channel pauses, and a while longer.
    let mut extra = 200;
    for _ in 0..50_000 {
        map.run_with(Some(Duration::from_millis(5)), backend, Some(1))
            .unwrap();
        let (pending, paused) = map
            .with_channel(echo, |ch| (ch.pending_output(), ch.is_paused()))
            .expect("echo channel closed");
        max_pending = max_pending.max(pending);
        paused_seen |= paused;
        if paused_seen {
            extra -= 1;
            if extra == 0 {
                break;
            }
        }
    }
    assert!(paused_seen, "the echo channel never paused reading");
    assert!(
        max_pending <= HIGH + asyncore_examples::echo::READ_SIZE,
        "output buffer grew to {max_pending} bytes"
    );
    // Now read everything: the data is intact and reading resumes.
    let r = std::thread::spawn(move || {
        let mut got = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while got < total {
            let n = client.read(&mut buf).unwrap();
            assert!(buf[..n].iter().all(|&b| b == 7));
            got += n;
        }
        got
    });
    let mut done = false;
    for _ in 0..20_000 {
        map.run_with(Some(Duration::from_millis(5)), backend, Some(1))
            .unwrap();
        if r.is_finished() {
            done = true;
            break;
        }
    }
    assert!(done, "echo did not finish");
    assert_eq!(w.join().unwrap(), total);
    assert_eq!(r.join().unwrap(), total);
}

fn exit_from_handle_error_escapes_and_other_channels_stay(backend: Backend) {
    let mut map = Map::new();
    let l = log();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (c, _d) = std::os::unix::net::UnixStream::pair().unwrap();
    struct Strict;
    impl Dispatcher for Strict {
        fn handle_read(&mut self, _: &mut Channel<'_>) -> Result {
            Err(Error::msg("unexpected"))
        }
        fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
            Err(e)
        }
    }
    map.add(a.into(), Strict).unwrap();
    map.add(c.into(), Recorder::new(&l)).unwrap();
    b.write_all(b"x").unwrap();
    let r = map.run_with(Some(Duration::from_secs(1)), backend, Some(3));
    assert_eq!(r.unwrap_err().to_string(), "unexpected");
    assert_eq!(map.len(), 2);
}

fn select_refuses_descriptors_above_fd_setsize_per_channel(backend: Backend) {
    // Raise the soft descriptor limit so a descriptor above 1024 can exist.
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current.unwrap_or(u64::MAX) < 2048 {
        let want = lim.maximum.map_or(4096, |m| m.min(4096));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: lim.maximum,
            },
        )
        .unwrap();
    }
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let high = rustix::io::fcntl_dupfd_cloexec(&a, 1500).unwrap();
    drop(a);
    assert!(high.as_raw_fd() >= 1024);
    let mut map = Map::new();
    let l = log();
    struct HighFd(Log);
    impl Dispatcher for HighFd {
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 8];
            let n = ch.recv(&mut buf)?;
            push(&self.0, format!("read {n}"));
            Ok(())
        }
        fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
            push(&self.0, format!("error {err}"));
            ch.close();
            Ok(())
        }
    }
    let (c, mut d) = std::os::unix::net::UnixStream::pair().unwrap();
    map.add(Socket::from_socket_fd(high).unwrap(), HighFd(l.clone()))
        .unwrap();
    let other = map.add(c.into(), ReadToEnd { got: Rc::default() }).unwrap();
    b.write_all(b"hi").unwrap();
    d.write_all(b"ok").unwrap();
    map.run_with(Some(Duration::from_millis(50)), backend, Some(2))
        .unwrap();
    let got = l.borrow().clone();
    if backend == Backend::Select {
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("FD_SETSIZE"), "{got:?}");
        assert!(map.contains(other), "the other channel must be unaffected");
    } else {
        assert_eq!(got, ["read 2"]);
    }
}

// ===== misc =====

#[test]
fn loop_is_not_reentrant_and_reports_it() {
    let mut map = Map::new();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    struct Reenter(Rc<RefCell<Option<String>>>);
    impl Dispatcher for Reenter {
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 8];
            ch.recv(&mut buf)?;
            let r = ch.map().poll_once(Some(Duration::ZERO), Backend::Poll);
            *self.0.borrow_mut() = r.err().map(|e| e.to_string());
            Ok(())
        }
    }
    let out = Rc::new(RefCell::new(None));
    map.add(a.into(), Reenter(out.clone())).unwrap();
    b.write_all(b"x").unwrap();
    map.run_with(Some(Duration::from_secs(1)), Backend::Epoll, Some(1))
        .unwrap();
    assert!(out
        .borrow()
        .as_deref()
        .unwrap_or("")
        .contains("already running"));
}

#[test]
fn switching_backends_between_runs_keeps_serving() {
    let mut map = Map::new();
    let (_s, addr) = server(&mut map, Family::V4, || asyncore_examples::echo::Echo);
    let mut client = TcpStream::connect(addr.as_inet().unwrap()).unwrap();
    client.set_nonblocking(true).unwrap();
    for (i, backend) in [
        Backend::Epoll,
        Backend::Select,
        Backend::Poll,
        Backend::Epoll,
    ]
    .into_iter()
    .enumerate()
    {
        let msg = format!("message {i}");
        client.write_all(msg.as_bytes()).unwrap();
        let mut got = Vec::new();
        loop_until(&mut map, backend, |_| {
            let mut b = [0u8; 64];
            if let Ok(n) = client.read(&mut b) {
                got.extend_from_slice(&b[..n]);
            }
            got.len() >= msg.len()
        });
        assert_eq!(got, msg.as_bytes(), "{backend}");
    }
}

#[test]
fn stop_ends_the_run_after_the_current_pass() {
    let mut map = Map::new();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    map.add(a.into(), Idle).unwrap();
    map.call_later(Duration::ZERO, |m| m.stop());
    map.run_with(Some(Duration::from_secs(30)), Backend::Epoll, None)
        .unwrap();
    assert_eq!(map.passes(), 1);
    assert_eq!(map.len(), 1);
}

#[test]
fn output_queued_at_a_half_close_is_still_delivered() {
    // The peer shuts down its sending side while our output buffer is full; an
    // echo whose handle_close calls close_when_done finishes sending before closing.
    for backend in Backend::ALL {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut map = Map::new();
        let t = map.add(a.into(), asyncore_examples::echo::Echo).unwrap();
        let mut queued = 0;
        while map.with_channel(t, |ch| ch.pending_output()).unwrap() < 64 * 1024 {
            map.send_to(t, &[b'x'; 4096]).unwrap();
            queued += 4096;
        }
        b.shutdown(std::net::Shutdown::Write).unwrap();
        let reader = std::thread::spawn(move || {
            let mut back = Vec::new();
            b.read_to_end(&mut back).unwrap();
            back.len()
        });
        map.run_with(Some(Duration::from_millis(100)), backend, Some(1000))
            .unwrap();
        assert!(
            map.is_empty(),
            "{backend}: channel not closed after its output"
        );
        assert_eq!(reader.join().unwrap(), queued, "{backend}");
    }
}

on_every_backend!(
    udp_datagram_channel_echoes_datagrams,
    writing_to_a_closed_pipe_closes_the_channel_not_the_process,
);

fn udp_datagram_channel_echoes_datagrams(backend: Backend) {
    struct UdpEcho(Rc<RefCell<usize>>);
    impl Dispatcher for UdpEcho {
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 2048];
            while let Some((n, from)) = ch.recv_from(&mut buf)? {
                *self.0.borrow_mut() += 1;
                ch.send_to(&buf[..n], &from)?;
            }
            Ok(())
        }
    }
    for any in ["127.0.0.1:0", "[::1]:0"] {
        let mut map = Map::new();
        let count = Rc::new(RefCell::new(0));
        let sock = std::net::UdpSocket::bind(any).unwrap();
        let addr = sock.local_addr().unwrap();
        let t = map.add(sock.into(), UdpEcho(count.clone())).unwrap();
        assert_eq!(map.with_channel(t, |ch| ch.connected()), Some(true));
        let client = std::net::UdpSocket::bind(any).unwrap();
        client.set_nonblocking(true).unwrap();
        // An empty datagram is a datagram, not end of file.
        let msgs: [&[u8]; 3] = [b"one", b"", b"three"];
        for m in msgs {
            client.send_to(m, addr).unwrap();
        }
        let mut got: Vec<Vec<u8>> = Vec::new();
        loop_until(&mut map, backend, |_| {
            let mut b = [0u8; 64];
            while let Ok((n, _)) = client.recv_from(&mut b) {
                got.push(b[..n].to_vec());
            }
            got.len() == 3
        });
        assert_eq!(got, msgs.map(|m| m.to_vec()).to_vec());
        assert_eq!(*count.borrow(), 3);
        assert!(map.contains(t));
    }
}

fn writing_to_a_closed_pipe_closes_the_channel_not_the_process(backend: Backend) {
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let mut map = Map::new();
    let l = log();
    struct PipeWriter(Log);
    impl Dispatcher for PipeWriter {
        fn readable(&mut self, _: &Channel<'_>) -> bool {
            false
        }
        fn writable(&mut self, _: &Channel<'_>) -> bool {
            true
        }
        fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
            ch.send(b"nobody reads this")?;
            Ok(())
        }
        fn handle_close(&mut self, ch: &mut Channel<'_>, r: Option<io::Error>) -> Result {
            push(&self.0, format!("close {:?}", r.map(|e| e.kind())));
            ch.close();
            Ok(())
        }
        fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
            Err(e)
        }
    }
    map.add_file(&w, PipeWriter(l.clone())).unwrap();
    loop_until(&mut map, backend, |m| m.is_empty());
    assert_eq!(&*l.borrow(), &["close Some(BrokenPipe)"]);
}

// ===== interest from own state (Dispatcher::interest_from_own_state) =====

on_every_backend!(
    own_state_interest_is_asked_only_after_something_happened,
    own_state_interest_channels_connect_echo_and_close_as_any_other,
);

/// Says its interest comes from its own state, and counts the calls to `readable` (a side
/// effect a real dispatcher that says so must not have) to show when the loop asks.
struct AskedWhenTouched {
    asked: Rc<RefCell<u32>>,
    read: Rc<RefCell<Vec<u8>>>,
}

impl Dispatcher for AskedWhenTouched {
    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        *self.asked.borrow_mut() += 1;
        true
    }
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 64];
        let n = ch.recv(&mut buf)?;
        self.read.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(())
    }
    fn interest_from_own_state(&self) -> bool {
        true
    }
}

fn own_state_interest_is_asked_only_after_something_happened(backend: Backend) {
    let mut map = Map::new();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let asked = Rc::new(RefCell::new(0));
    let read = Rc::new(RefCell::new(Vec::new()));
    let t = map
        .add(
            a.into(),
            AskedWhenTouched {
                asked: asked.clone(),
                read: read.clone(),
            },
        )
        .unwrap();
    let pass = |map: &mut Map| {
        map.run_with(Some(Duration::from_millis(1)), backend, Some(1))
            .unwrap()
    };
    // Asked in the first pass only, while nothing happens.
    for _ in 0..4 {
        pass(&mut map);
    }
    assert_eq!(*asked.borrow(), 1);
    // A read event: asked again in the pass after it, then not while idle.
    b.write_all(b"ping").unwrap();
    loop_until(&mut map, backend, |_| read.borrow().len() == 4);
    // The event came in a pass that kept what it watched; the next one asks again.
    assert_eq!(*asked.borrow(), 1);
    for _ in 0..4 {
        pass(&mut map);
    }
    assert_eq!(*asked.borrow(), 2);
    // Reaching the channel from outside counts as something happening.
    map.with_channel(t, |ch| ch.send_buffered(b"pong"))
        .unwrap()
        .unwrap();
    pass(&mut map);
    assert_eq!(*asked.borrow(), 3);
    let mut got = [0u8; 4];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong");
}

fn own_state_interest_channels_connect_echo_and_close_as_any_other(backend: Backend) {
    // The example echo server opts in, for its listener and its connections; so does
    // this client, whose connect completes through a write event (default writable()).
    struct Client {
        log: Log,
        got: Vec<u8>,
    }
    impl Dispatcher for Client {
        fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
            push(&self.log, "connect");
            ch.send_buffered(&[b'x'; 100_000])?;
            Ok(())
        }
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 8192];
            let n = ch.recv(&mut buf)?;
            self.got.extend_from_slice(&buf[..n]);
            if self.got.len() == 100_000 {
                push(&self.log, "echoed");
                ch.close();
            }
            Ok(())
        }
        fn handle_error(&mut self, _: &mut Channel<'_>, e: Error) -> Result {
            Err(e)
        }
        fn interest_from_own_state(&self) -> bool {
            true
        }
    }
    for family in FAMILIES {
        let mut map = Map::new();
        let (_s, addr) = server(&mut map, family, || asyncore_examples::echo::Echo);
        let l = log();
        map.connect(
            &addr,
            Client {
                log: l.clone(),
                got: Vec::new(),
            },
        )
        .unwrap();
        loop_until(&mut map, backend, |_| l.borrow().len() == 2);
        assert_eq!(&*l.borrow(), &["connect", "echoed"], "{family:?}");
        // The server side sees the close and goes too: only the listener is left.
        loop_until(&mut map, backend, |m| m.len() == 1);
    }
}

// ===== level-triggered on every backend =====
//
// The epoll backend registers edge-triggered and dispatches again whatever a handler did
// not use up; these are asyncore's level-triggered reports, on every backend alike.

on_every_backend!(
    data_left_unread_is_reported_again_every_pass,
    a_socket_with_room_is_reported_writable_every_pass_while_wanted,
    connections_waiting_to_be_accepted_are_reported_until_accepted,
);

/// Counts its read events, and reads `per_event` bytes in each (0: none).
struct SlowReader {
    events: Rc<RefCell<u32>>,
    per_event: usize,
    got: Rc<RefCell<Vec<u8>>>,
}

impl Dispatcher for SlowReader {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        *self.events.borrow_mut() += 1;
        if self.per_event > 0 {
            let mut buf = vec![0u8; self.per_event];
            let n = ch.recv(&mut buf)?;
            self.got.borrow_mut().extend_from_slice(&buf[..n]);
        }
        Ok(())
    }
}

fn data_left_unread_is_reported_again_every_pass(backend: Backend) {
    for per_event in [0, 3] {
        let mut map = Map::new();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let events = Rc::new(RefCell::new(0));
        let got = Rc::new(RefCell::new(Vec::new()));
        map.add(
            a.into(),
            SlowReader {
                events: events.clone(),
                per_event,
                got: got.clone(),
            },
        )
        .unwrap();
        b.write_all(b"twelve bytes").unwrap();
        // One write; a read event in each of 4 passes, as long as bytes are left.
        map.run_with(Some(Duration::from_millis(200)), backend, Some(4))
            .unwrap();
        assert_eq!(*events.borrow(), 4, "reading {per_event} per event");
        if per_event == 3 {
            assert_eq!(&*got.borrow(), b"twelve bytes");
            // All read (the last read filled its buffer, so only a fresh look can tell):
            // no more events, and the pass waits for its timeout.
            let start = std::time::Instant::now();
            map.run_with(Some(Duration::from_millis(50)), backend, Some(1))
                .unwrap();
            assert_eq!(*events.borrow(), 4, "an event after the last byte");
            assert!(
                start.elapsed() >= Duration::from_millis(40),
                "the pass did not wait"
            );
        }
    }
}

/// Wants to write every pass, and counts the write events (writing nothing).
struct Writer {
    events: Rc<RefCell<u32>>,
}

impl Dispatcher for Writer {
    fn readable(&mut self, _: &Channel<'_>) -> bool {
        false
    }
    fn writable(&mut self, _: &Channel<'_>) -> bool {
        true
    }
    fn handle_write(&mut self, _ch: &mut Channel<'_>) -> Result {
        *self.events.borrow_mut() += 1;
        Ok(())
    }
}

fn a_socket_with_room_is_reported_writable_every_pass_while_wanted(backend: Backend) {
    let mut map = Map::new();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let events = Rc::new(RefCell::new(0));
    map.add(
        a.into(),
        Writer {
            events: events.clone(),
        },
    )
    .unwrap();
    map.run_with(Some(Duration::from_millis(200)), backend, Some(5))
        .unwrap();
    assert_eq!(*events.borrow(), 5);
}

fn connections_waiting_to_be_accepted_are_reported_until_accepted(backend: Backend) {
    // The default handle_accept takes one connection per event (asyncore's); three
    // connections waiting at once are all accepted, one per pass.
    let mut map = Map::new();
    let (_s, addr) = server(&mut map, Family::V4, || Idle);
    let sa = addr.as_inet().unwrap();
    let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(sa).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(20));
    loop_until(&mut map, backend, |m| m.len() == 4);
    drop(clients);
}
