//! Running out of descriptors while accepting: the listener backs off instead of spinning
//! at 100% CPU (asyncore's loop spun, and its default handle_error closed the listener).
//!
//! This lowers the process's descriptor limit, so it is a test binary of its own.

use std::cell::RefCell;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::{Addr, Backend, Channel, Dispatcher, Map, Result, Socket};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

#[derive(Default)]
struct Stats {
    accept_calls: usize,
    accepted: Vec<Socket>,
}

struct Listener(Rc<RefCell<Stats>>);

impl Dispatcher for Listener {
    fn handle_accept(&mut self, ch: &mut Channel<'_>) -> Result {
        self.0.borrow_mut().accept_calls += 1;
        while let Some((sock, _addr)) = ch.accept()? {
            self.0.borrow_mut().accepted.push(sock);
        }
        Ok(())
    }
}

fn run(backend: Backend) {
    let stats = Rc::new(RefCell::new(Stats::default()));
    let mut map = Map::new();
    let l = map
        .listen(
            &Addr::from("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap()),
            Listener(stats.clone()),
        )
        .unwrap();
    let addr = map.local_addr(l).unwrap().as_inet().unwrap();
    // Ten connections wait in the backlog before the limit is lowered.
    let clients: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Make the first pass create the backend's descriptors (epoll) before the squeeze.
    map.run_with(Some(Duration::ZERO), backend, Some(0))
        .unwrap();
    let probe = std::fs::File::open("/dev/null").unwrap();
    let next_fd = std::os::fd::AsRawFd::as_raw_fd(&probe) as u64;
    drop(probe);
    let saved = getrlimit(Resource::Nofile);
    // Room for the backend's own descriptor and two accepted connections.
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(next_fd + 3),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let squeezed = map.run_with(Some(Duration::from_millis(10)), backend, Some(20));
    let calls_while_out = stats.borrow().accept_calls;
    let accepted_while_out = stats.borrow().accepted.len();
    setrlimit(Resource::Nofile, saved).unwrap();
    squeezed.unwrap();
    assert!(map.contains(l), "the listener was closed");
    assert!(
        accepted_while_out < 10,
        "the limit did not bite: {accepted_while_out} accepted"
    );
    // Without a back-off every one of the 20 passes would call handle_accept.
    assert!(
        calls_while_out <= 6,
        "{backend}: handle_accept called {calls_while_out} times in 20 passes while out of descriptors"
    );
    // Once descriptors are available again, the rest are accepted.
    for _ in 0..200 {
        if stats.borrow().accepted.len() == 10 {
            break;
        }
        map.run_with(Some(Duration::from_millis(10)), backend, Some(1))
            .unwrap();
    }
    assert_eq!(stats.borrow().accepted.len(), 10, "{backend}");
    drop(clients);
}

#[test]
fn out_of_descriptors_pauses_accepting_on_every_backend() {
    for backend in Backend::ALL {
        run(backend);
    }
}
