//! Running a server example: listen (on one or several loops), print the `listening on`
//! line, serve until SIGINT/SIGTERM, close every channel, exit 0.

use std::io::{self, Write};
use std::net::SocketAddr;

use asyncore_runtime::{
    Addr, Backend, Dispatcher, Domain, Map, SockType, Socket, SpreadGroup, SIGINT, SIGTERM,
};

/// How a server example runs (from its flags: [`ServerArgs::config`](crate::cli::ServerArgs::config)).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The readiness backend.
    pub backend: Backend,
    /// Number of loops (threads) sharing the port.
    pub threads: usize,
}

fn listener(addr: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_addr(&Addr::from(addr)), SockType::Stream)?;
    sock.set_reuse_addr()?;
    sock.bind(&Addr::from(addr))?;
    sock.listen(1024)?;
    Ok(sock)
}

/// Raise the soft limit on open descriptors to the hard limit, so a server can hold as
/// many connections as the system allows it.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
}

/// Logs to standard error through `env_logger`: `warn` and above by default, `RUST_LOG`
/// to choose (`RUST_LOG=info` adds a line for every connection closed for bad input,
/// with the peer and what was wrong; `RUST_LOG=debug` every bad input). [`serve`] calls
/// it; calling it again does nothing.
///
/// ```
/// asyncore_examples::server::init_logging();
/// asyncore_examples::server::init_logging();
/// log::warn!("to standard error");
/// ```
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .try_init();
}

/// Serve with `make()` as the listening dispatcher of each loop. Prints
/// `listening on HOST:PORT` once every loop listens, then runs until a signal.
///
/// One loop runs on the calling thread, so that a single-loop server is a single-threaded
/// process, as the C and tokio servers it is compared with are: in a process with more
/// than one thread the kernel takes a reference on the file of every descriptor a system
/// call names, a shared cache line written twice per `send` and per `recv`. Several loops
/// (`--threads N`) run on threads of their own, all watching the one listening socket:
/// its connections are dealt out to them in turn ([`SpreadGroup`]), as memcached's
/// listening thread deals them to its workers, so each loop holds an equal share.
pub fn serve<D, F>(config: &ServerConfig, make: F) -> io::Result<()>
where
    D: Dispatcher,
    F: Fn() -> D + Send + Sync + 'static,
{
    init_logging();
    raise_fd_limit();
    let first = listener(config.listen)?;
    let bound = first
        .local_addr()?
        .as_inet()
        .ok_or_else(|| io::Error::other("listener has no IP address"))?;
    let backend = config.backend;
    if config.threads <= 1 {
        let mut map = setup(first, make())?;
        announce(bound)?;
        return run(&mut map, backend);
    }
    let mut sockets = Vec::with_capacity(config.threads);
    for _ in 1..config.threads {
        sockets.push(first.try_clone()?);
    }
    sockets.push(first);
    let group = SpreadGroup::new();
    let make = std::sync::Arc::new(make);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let handles: Vec<_> = sockets
        .into_iter()
        .map(|sock| {
            let make = make.clone();
            let ready = ready_tx.clone();
            let group = group.clone();
            std::thread::spawn(move || -> io::Result<()> {
                match setup_spread(&group, sock, make()) {
                    Ok(mut map) => {
                        let _ = ready.send(Ok(()));
                        drop(ready);
                        run(&mut map, backend)
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        Ok(())
                    }
                }
            })
        })
        .collect();
    drop(ready_tx);
    for _ in 0..handles.len() {
        match ready_rx.recv() {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::other("a server loop ended before it was ready")),
        }
    }
    announce(bound)?;
    let mut result = Ok(());
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(io::Error::other("a server loop panicked")),
        }
    }
    result
}

/// A loop listening on `sock`, with `listener` as the listening dispatcher, that stops on
/// SIGINT and SIGTERM.
fn setup<D: Dispatcher>(sock: Socket, listener: D) -> io::Result<Map> {
    let mut map = Map::new();
    map.add_listener(sock, listener)?;
    map.stop_on_signals(&[SIGINT, SIGTERM])?;
    Ok(map)
}

/// A loop of `group`, watching its descriptor `sock` of the listening socket the group
/// shares, with `listener` as its listening dispatcher; it stops on SIGINT and SIGTERM.
fn setup_spread<D: Dispatcher>(group: &SpreadGroup, sock: Socket, listener: D) -> io::Result<Map> {
    let mut map = Map::new();
    group.join(&mut map, sock, listener)?;
    map.stop_on_signals(&[SIGINT, SIGTERM])?;
    Ok(map)
}

/// Runs `map` until it stops (on a signal), then closes every channel.
///
/// Each pass waits without a timeout: a server loop has no count of passes to keep, its
/// timers (idle timeouts) bound the wait themselves, and a wait with a timeout costs the
/// kernel a clock read and a slack estimate on every call.
fn run(map: &mut Map, backend: Backend) -> io::Result<()> {
    let r = map.run_with(None, backend, None);
    map.close_all();
    r.map_err(|e| io::Error::other(e.to_string()))
}

/// Prints the `listening on HOST:PORT` line tests and tools wait for.
fn announce(bound: SocketAddr) -> io::Result<()> {
    println!("listening on {bound}");
    io::stdout().flush()
}
