//! The [`Dispatcher`] trait: asyncore's handler set, with its defaults.

use std::any::Any;
use std::io;

use crate::addr::Addr;
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::socket::Socket;
use crate::timer::TimerId;

/// How many connections the default [`Dispatcher::handle_accept`] takes per read event.
///
/// asyncore accepts one per event, so a burst of connections costs one pass each; this
/// budget keeps one busy listener from starving the other channels of a pass.
pub const ACCEPT_BUDGET: usize = 64;

/// A channel's behaviour: asyncore's `dispatcher` methods, as a trait with the same
/// defaults.
///
/// Every method has a default, so a type implements only what it handles. The loop calls
/// them with the channel's [`Channel`], which owns the socket and offers the socket
/// operations (`recv`, `send`, `send_buffered`, `close`, `connect`, ...).
///
/// | asyncore                     | here                                   | default                                      |
/// |------------------------------|----------------------------------------|----------------------------------------------|
/// | `readable()`                 | [`readable`](Self::readable)           | `true`                                       |
/// | `writable()`                 | [`writable`](Self::writable)           | `true` until connected (see below)           |
/// | `handle_read()`              | [`handle_read`](Self::handle_read)     | logs `unhandled read event`                  |
/// | `handle_write()`             | [`handle_write`](Self::handle_write)   | logs `unhandled write event`                 |
/// | `handle_expt()`              | [`handle_expt`](Self::handle_expt)     | logs `unhandled incoming priority event`     |
/// | `handle_connect()`           | [`handle_connect`](Self::handle_connect) | logs `unhandled connect event`             |
/// | `handle_accept()`            | [`handle_accept`](Self::handle_accept) | accepts, calls `handle_accepted`             |
/// | `handle_accepted(sock, addr)`| [`handle_accepted`](Self::handle_accepted) | closes the socket, logs                  |
/// | `handle_close()`             | [`handle_close`](Self::handle_close)   | logs `unhandled close event`, closes         |
/// | `handle_error()`             | [`handle_error`](Self::handle_error)   | logs the error, closes                       |
/// | (none)                       | [`handle_timer`](Self::handle_timer)   | logs `unhandled timer event`                 |
/// | (none)                       | [`handle_idle`](Self::handle_idle)     | closes with a `TimedOut` reason              |
///
/// The "unhandled" messages go to the [`log`] crate at debug level (asyncore prints them
/// as warnings it hides by default); `handle_error`'s goes at error level.
///
/// # Differences from asyncore, on purpose
///
/// * `writable()` defaults to "not yet connected" (asyncore's `dispatcher_with_send`),
///   not `true`: a connected channel that always asks to write turns the loop into a
///   busy spin. Buffered output ([`Channel::send_buffered`]) is always written when the
///   socket allows, whatever `writable()` says.
/// * `handle_connect` runs *after* the channel is marked connected.
/// * Errors are values: a handler returns [`Error`]. [`Error::Exit`] leaves the loop;
///   an I/O error with a disconnect errno goes to `handle_close`; anything else goes to
///   `handle_error`. An error returned by `handle_error` itself leaves the loop (this is
///   how a strict test fixture makes any unexpected event fail the test).
/// * A close found by `recv`/`send` (end of file, a reset) is delivered as one
///   `handle_close` call after the running handler returns, never from inside it, and
///   never twice; the channel is closed after that call.
/// * A panic in any method is caught: it is logged and closes that channel only.
///
/// # Examples
///
/// An echo channel:
///
/// ```
/// use asyncore_runtime::{Channel, Dispatcher, Result};
///
/// struct Echo;
///
/// impl Dispatcher for Echo {
///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
///         let mut buf = [0u8; 4096];
///         let n = ch.recv(&mut buf)?;
///         ch.send_buffered(&buf[..n])?;
///         Ok(())
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait Dispatcher: Any {
    /// Whether the loop should watch this channel for reading in the next pass.
    ///
    /// Called once per pass for every channel (only in the passes after something
    /// happened to it, for a dispatcher whose
    /// [`interest_from_own_state`](Self::interest_from_own_state) is `true`). Default:
    /// `true`. The loop also stops reading while the channel's buffered output is above
    /// its high-water mark (back-pressure), whatever this returns.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher};
    /// struct WriteOnly;
    /// impl Dispatcher for WriteOnly {
    ///     fn readable(&mut self, _ch: &Channel<'_>) -> bool { false }
    /// }
    /// ```
    fn readable(&mut self, ch: &Channel<'_>) -> bool {
        true
    }

    /// Whether the loop should call [`handle_write`](Self::handle_write) when the socket
    /// can take data.
    ///
    /// Called once per pass for every channel, as [`readable`](Self::readable) is (never
    /// for a listening one). Default:
    /// `true` while the channel is not connected (so a connect completes through a write
    /// event, as in asyncore), `false` afterwards. Buffered output is written regardless.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher};
    /// struct Streamer { left: usize }
    /// impl Dispatcher for Streamer {
    ///     fn writable(&mut self, ch: &Channel<'_>) -> bool { !ch.connected() || self.left > 0 }
    /// }
    /// ```
    fn writable(&mut self, ch: &Channel<'_>) -> bool {
        !ch.connected()
    }

    /// The socket has data (or end of file) to read.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Sink { seen: usize }
    /// impl Dispatcher for Sink {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 1024];
    ///         self.seen += ch.recv(&mut buf)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled read event");
        Ok(())
    }

    /// The socket can take data, and [`writable`](Self::writable) returned `true`.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Greeter { sent: bool }
    /// impl Dispatcher for Greeter {
    ///     fn writable(&mut self, _ch: &Channel<'_>) -> bool { !self.sent }
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.send_buffered(b"hello\r\n")?;
    ///         self.sent = true;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled write event");
        Ok(())
    }

    /// Urgent (out-of-band) data arrived (`POLLPRI`, select's exceptional set).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Urgent;
    /// impl Dispatcher for Urgent {
    ///     fn handle_expt(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut b = [0u8; 1];
    ///         ch.socket().recv_oob(&mut b)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_expt(&mut self, ch: &mut Channel<'_>) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled incoming priority event");
        Ok(())
    }

    /// A connect started with [`Channel::connect`] or [`Map::connect`](crate::Map::connect)
    /// succeeded. The channel is already marked connected.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Client;
    /// impl Dispatcher for Client {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         assert!(ch.connected());
    ///         ch.send_buffered(b"PING\r\n")?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled connect event");
        Ok(())
    }

    /// A listening channel has connections waiting.
    ///
    /// The default accepts up to [`ACCEPT_BUDGET`] of them with [`Channel::accept`] and
    /// passes each to [`handle_accepted`](Self::handle_accepted). Override it to take
    /// full control; then nothing is accepted unless the override calls `accept`.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Refuser;
    /// impl Dispatcher for Refuser {
    ///     fn handle_accept(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         while let Some((sock, _addr)) = ch.accept()? {
    ///             drop(sock); // closes it at once
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_accept(&mut self, ch: &mut Channel<'_>) -> Result {
        for _ in 0..ACCEPT_BUDGET {
            match ch.accept()? {
                Some((sock, addr)) => self.handle_accepted(ch, sock, addr)?,
                None => break,
            }
        }
        Ok(())
    }

    /// A connection was accepted: usually wrap it in a new channel with
    /// [`Channel::add_accepted`]. The default closes it and logs
    /// `unhandled accepted event`.
    ///
    /// ```
    /// # use asyncore_runtime::{Addr, Channel, Dispatcher, Result, Socket};
    /// struct Server;
    /// struct Session;
    /// impl Dispatcher for Session {}
    /// impl Dispatcher for Server {
    ///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
    ///         ch.add_accepted(sock, addr, Session)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        drop(sock);
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled accepted event from {addr}");
        Ok(())
    }

    /// The channel is closing because the peer closed, the connection broke, the channel
    /// was idle too long, or a handler reported an error. `reason` is the error, if any
    /// (`None` for a clean end of file).
    ///
    /// The loop closes the channel after this returns, so an override need not call
    /// [`Channel::close`] — unless it calls [`Channel::close_when_done`]: then the channel
    /// stays until its queued output is sent (useful when the peer only shut down its
    /// sending side), is no longer read, and closes without a second `handle_close`. The
    /// default logs `unhandled close event` and closes.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Member;
    /// impl Dispatcher for Member {
    ///     fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
    ///         log::info!("{ch} left ({reason:?})");
    ///         ch.close();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled close event");
        ch.close();
        Ok(())
    }

    /// A handler returned an error that is not a disconnect (or `handle_connect` found a
    /// refused or failed connect).
    ///
    /// The default logs it at error level (asyncore's "uncaptured python exception,
    /// closing channel") and calls [`handle_close`](Self::handle_close), then closes. An
    /// error returned from here leaves the loop: [`Map::run`](crate::Map::run) returns it.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Error, Result};
    /// struct Strict;
    /// impl Dispatcher for Strict {
    ///     fn handle_error(&mut self, _ch: &mut Channel<'_>, err: Error) -> Result {
    ///         Err(err) // let the caller of `run` see it
    ///     }
    /// }
    /// ```
    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        log::error!(target: "asyncore_runtime::dispatcher", "uncaptured error, closing channel {ch}: {err}");
        self.handle_close(ch, None)?;
        ch.close();
        Ok(())
    }

    /// A timer set with [`Channel::set_timer`] fired.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result, TimerId};
    /// # use std::time::Duration;
    /// struct Ticker { ticks: u32 }
    /// impl Dispatcher for Ticker {
    ///     fn handle_timer(&mut self, ch: &mut Channel<'_>, _id: TimerId) -> Result {
    ///         self.ticks += 1;
    ///         ch.set_timer(Duration::from_secs(1));
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_timer(&mut self, ch: &mut Channel<'_>, id: TimerId) -> Result {
        log::debug!(target: "asyncore_runtime::dispatcher", "{ch}: unhandled timer event {id:?}");
        Ok(())
    }

    /// Nothing was received or sent for the channel's idle timeout
    /// ([`Channel::set_idle_timeout`]). The default closes the channel, delivering
    /// [`handle_close`](Self::handle_close) with a `TimedOut` reason.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Patient;
    /// impl Dispatcher for Patient {
    ///     fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.send_buffered(b"still there?\r\n")?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
        ch.close_with_reason(io::Error::new(
            io::ErrorKind::TimedOut,
            "channel idle for longer than its idle timeout",
        ));
        Ok(())
    }

    /// asyncore's `log(message)`: a message for the program's log (info level).
    ///
    /// ```
    /// # use asyncore_runtime::Dispatcher;
    /// struct Quiet;
    /// impl Dispatcher for Quiet {}
    /// Quiet.log("hello"); // goes to the `log` crate as "log: hello"
    /// ```
    fn log(&self, message: &str) {
        log::info!(target: "asyncore_runtime::dispatcher", "log: {message}");
    }

    /// asyncore's `log_info(message, type)`: `"<kind>: <message>"`, at error level for
    /// `"error"`, warn level for `"warning"`, info level otherwise.
    ///
    /// ```
    /// # use asyncore_runtime::Dispatcher;
    /// struct Quiet;
    /// impl Dispatcher for Quiet {}
    /// Quiet.log_info("disk nearly full", "warning");
    /// ```
    fn log_info(&self, message: &str, kind: &str) {
        let level = match kind {
            "error" => log::Level::Error,
            "warning" => log::Level::Warn,
            _ => log::Level::Info,
        };
        log::log!(target: "asyncore_runtime::dispatcher", level, "{kind}: {message}");
    }

    /// Whether what [`readable`](Self::readable) and [`writable`](Self::writable) return
    /// depends only on this dispatcher's own fields and on its channel, and not on
    /// anything shared with other channels, other threads or the clock. Default: `false`.
    ///
    /// Such answers can change only when the loop reaches the channel: an event, one of
    /// its timers, or a call through the map (`with_channel`, `get_mut`, `send_to`,
    /// `close`...). So the loop asks them only in the pass after that, and leaves an
    /// idle channel watching what it watched: a pass then costs nothing per idle
    /// connection, however many there are. What is watched is the same as when asking
    /// every pass, provided `readable` and `writable` have no side effects. Asked once,
    /// when the channel is added.
    ///
    /// The defaults qualify, and `#[dispatcher]` answers `true` for an impl block that
    /// defines neither `readable` nor `writable`; [`AsyncChat`](crate::AsyncChat) and the
    /// channels `protocol!` generates answer `true` too. A dispatcher whose `readable`
    /// depends on, say, a queue that other channels fill through an `Rc` must leave it
    /// `false`, as asyncore asks every channel every pass.
    ///
    /// ```
    /// use asyncore_runtime::{Channel, Dispatcher, Result};
    ///
    /// struct Echo;
    ///
    /// impl Dispatcher for Echo {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 4096];
    ///         let n = ch.recv(&mut buf)?;
    ///         ch.send_buffered(&buf[..n])?;
    ///         Ok(())
    ///     }
    ///     fn interest_from_own_state(&self) -> bool {
    ///         true
    ///     }
    /// }
    /// ```
    fn interest_from_own_state(&self) -> bool {
        false
    }

    /// Give back memory kept for speed and not needed now: an empty input buffer, scratch
    /// space that grew for a large message. The map calls it on every channel every few
    /// seconds ([`Map::set_release_interval`](crate::Map::set_release_interval)), so that
    /// a burst does not hold its memory for the connection's lifetime and an idle
    /// connection holds only its bookkeeping. It must not change what the channel does
    /// next. Returns about how many bytes it gave back (the map hands free memory back
    /// to the system after a sweep that freed enough). Default: nothing, 0.
    /// [`AsyncChat`](crate::AsyncChat) and the channels `protocol!` generates give back
    /// their empty buffers and idle decoders.
    ///
    /// ```
    /// use asyncore_runtime::Dispatcher;
    ///
    /// struct Collector {
    ///     scratch: Vec<u8>,
    /// }
    ///
    /// impl Dispatcher for Collector {
    ///     fn release_memory(&mut self) -> usize {
    ///         let kept = self.scratch.capacity();
    ///         if self.scratch.is_empty() && kept > 0 {
    ///             self.scratch = Vec::new();
    ///             return kept;
    ///         }
    ///         0
    ///     }
    /// }
    /// ```
    fn release_memory(&mut self) -> usize {
        0
    }
}
