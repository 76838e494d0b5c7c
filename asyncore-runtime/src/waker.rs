//! [`Waker`]: wake the loop from another thread and hand it work.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustix::event::{eventfd, EventfdFlags};

use crate::channel::Channel;
use crate::dispatcher::Dispatcher;
use crate::error::Result;
use crate::map::Map;
use crate::socket::Socket;

type Job = Box<dyn FnOnce(&mut Map) + Send>;

struct Shared {
    fd: OwnedFd,
    jobs: Mutex<Vec<Job>>,
    stop: AtomicBool,
}

/// A handle that wakes a [`Map`]'s loop from any thread (an `eventfd` the loop watches).
///
/// Get one from [`Map::waker`]. It is `Send + Sync + Clone`; every clone wakes the same
/// loop. Waking a loop that is not waiting makes its next wait return at once.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Backend, Map};
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let mut map = Map::new();
/// let waker = map.waker()?;
/// # let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// # struct Idle; impl asyncore_runtime::Dispatcher for Idle {}
/// # map.add(a.into(), Idle)?;
/// let (tx, rx) = mpsc::channel();
/// let t = std::thread::spawn(move || {
///     waker.call(move |map| { tx.send(map.len()).unwrap(); map.stop(); })
/// });
/// // Returns as soon as the job ran, not after 30 seconds.
/// map.run_with(Some(Duration::from_secs(30)), Backend::Epoll, None)?;
/// assert_eq!(rx.recv()?, 1);
/// t.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Waker {
    shared: Arc<Shared>,
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker").finish_non_exhaustive()
    }
}

impl Waker {
    /// Make the loop's current (or next) wait return at once.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.waker()?.wake()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wake(&self) -> io::Result<()> {
        match rustix::io::write(&self.shared.fd, &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            // The counter is saturated: the loop is awake already.
            Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Run `f` on the loop's thread, with the map, during its next pass.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// let w = map.waker()?;
    /// w.call(|map| map.stop())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn call(&self, f: impl FnOnce(&mut Map) + Send + 'static) -> io::Result<()> {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(f));
        self.wake()
    }

    /// Make the loop return after its current pass, as [`Map::stop`] does.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.waker()?.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) -> io::Result<()> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.wake()
    }
}

/// The loop's side of the waker: an internal channel on the eventfd.
pub(crate) struct WakerChannel {
    shared: Arc<Shared>,
}

impl WakerChannel {
    pub fn new() -> io::Result<(Waker, WakerChannel, Socket)> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let loop_fd = rustix::io::fcntl_dupfd_cloexec(&fd, 0)?;
        let shared = Arc::new(Shared {
            fd,
            jobs: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        Ok((
            Waker {
                shared: shared.clone(),
            },
            WakerChannel { shared },
            Socket::from_owned_file(loop_fd),
        ))
    }
}

impl Dispatcher for WakerChannel {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 8];
        // Resets the counter; EAGAIN means another read got there first.
        let _ = ch.socket().recv(&mut buf);
        let jobs: Vec<Job> =
            std::mem::take(&mut *self.shared.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        for job in jobs {
            let map = ch.map();
            if let Err(msg) = crate::dispatch::guarded(|| job(map)) {
                log::error!(target: "asyncore_runtime::waker", "a job handed to the loop panicked: {msg}");
            }
        }
        if self.shared.stop.swap(false, Ordering::SeqCst) {
            ch.map().stop();
        }
        Ok(())
    }
}
