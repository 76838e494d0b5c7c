//! Running a server example: listen (on one or several loops), print the `listening on`
//! line, serve until SIGINT/SIGTERM, close every channel, exit 0.

use std::io::{self, Write};
use std::net::SocketAddr;

use asyncore_runtime::{Addr, Backend, Dispatcher, Domain, Map, SockType, Socket, SIGINT, SIGTERM};

/// How a server example runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The readiness backend.
    pub backend: Backend,
    /// Number of loops (threads) sharing the port.
    pub threads: usize,
}

impl ServerConfig {
    /// Read `--listen`, `--backend` and `--threads` from parsed flags.
    pub fn from_args(args: &crate::cli::Args) -> Result<ServerConfig, String> {
        let listen = args.get("listen").unwrap_or("127.0.0.1:0");
        let listen: SocketAddr = listen.parse().map_err(|e| {
            format!("--listen takes HOST:PORT with a numeric address, not `{listen}`: {e}")
        })?;
        Ok(ServerConfig {
            listen,
            backend: args.backend()?,
            threads: args.threads()?,
        })
    }
}

fn listener(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_addr(&Addr::from(addr)), SockType::Stream)?;
    sock.set_reuse_addr()?;
    if reuse_port {
        sock.set_reuse_port()?;
    }
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

/// Serve with `make()` as the listening dispatcher of each loop. Prints
/// `listening on HOST:PORT` once every loop listens, then runs until a signal.
pub fn serve<D, F>(config: &ServerConfig, make: F) -> io::Result<()>
where
    D: Dispatcher,
    F: Fn() -> D + Send + Sync + 'static,
{
    raise_fd_limit();
    let reuse = config.threads > 1;
    let first = listener(config.listen, reuse)?;
    let bound = first
        .local_addr()?
        .as_inet()
        .ok_or_else(|| io::Error::other("listener has no IP address"))?;
    let mut sockets = vec![first];
    for _ in 1..config.threads {
        sockets.push(listener(bound, true)?);
    }
    let make = std::sync::Arc::new(make);
    let backend = config.backend;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let handles: Vec<_> = sockets
        .into_iter()
        .map(|sock| {
            let make = make.clone();
            let ready = ready_tx.clone();
            std::thread::spawn(move || -> io::Result<()> {
                let mut map = Map::new();
                let setup = map
                    .add_listener(sock, make())
                    .and_then(|_| map.stop_on_signals(&[SIGINT, SIGTERM]));
                let failed = setup.is_err();
                let _ = ready.send(setup);
                drop(ready);
                if failed {
                    return Ok(());
                }
                let r = map.run_with(Some(asyncore_runtime::DEFAULT_TIMEOUT), backend, None);
                map.close_all();
                r.map_err(|e| io::Error::other(e.to_string()))
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
    println!("listening on {bound}");
    io::stdout().flush()?;
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
