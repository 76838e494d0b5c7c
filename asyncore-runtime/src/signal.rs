//! Stopping the loop on signals (`SIGINT`, `SIGTERM`...), through a self-pipe.

use std::io;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::SigId;

use crate::channel::Channel;
use crate::dispatcher::Dispatcher;
use crate::error::Result;
use crate::socket::Socket;

/// `SIGINT`, for [`Map::stop_on_signals`](crate::Map::stop_on_signals).
pub const SIGINT: i32 = signal_hook::consts::SIGINT;
/// `SIGTERM`, for [`Map::stop_on_signals`](crate::Map::stop_on_signals).
pub const SIGTERM: i32 = signal_hook::consts::SIGTERM;
/// `SIGHUP`, for [`Map::stop_on_signals`](crate::Map::stop_on_signals).
pub const SIGHUP: i32 = signal_hook::consts::SIGHUP;

pub(crate) struct SignalChannel {
    flags: Vec<(i32, Arc<AtomicBool>)>,
    ids: Vec<SigId>,
}

impl SignalChannel {
    pub fn new(signals: &[i32]) -> io::Result<(SignalChannel, Socket)> {
        let (read, write) = UnixStream::pair()?;
        let mut chan = SignalChannel {
            flags: Vec::new(),
            ids: Vec::new(),
        };
        for &sig in signals {
            if signal_hook::consts::FORBIDDEN.contains(&sig) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal {sig} cannot be handled (SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV are reserved)"),
                ));
            }
            let flag = Arc::new(AtomicBool::new(false));
            // The flag is set before the pipe is written: actions run in registration order.
            chan.ids
                .push(signal_hook::flag::register(sig, flag.clone())?);
            chan.ids.push(signal_hook::low_level::pipe::register(
                sig,
                write.try_clone()?,
            )?);
            chan.flags.push((sig, flag));
        }
        Ok((chan, Socket::from(read)))
    }
}

impl Drop for SignalChannel {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl Dispatcher for SignalChannel {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 64];
        while matches!(ch.socket().recv(&mut buf), Ok(n) if n > 0) {}
        for (sig, flag) in &self.flags {
            if flag.swap(false, Ordering::SeqCst) {
                log::info!(target: "asyncore_runtime::signal", "signal {sig} received, stopping the loop");
                ch.map().set_signalled(*sig);
            }
        }
        Ok(())
    }
}
