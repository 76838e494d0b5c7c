//! Running one event on one channel: asyncore's `read`/`write`/`_exception` wrappers and
//! `readwrite`, with the routing of handler outcomes (exit, disconnect, error), the
//! connect and close events, and panic isolation.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::channel::Channel;
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::ready::Ready;
use crate::socket::SockType;

/// Run `f`, turning a panic into its message.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a non-string panic payload".to_string()
        }
    })
}

fn poison(ch: &mut Channel<'_>, msg: &str) {
    log::error!(target: "asyncore_runtime::map", "handler of {ch} panicked, closing that channel: {msg}");
    ch.core.poisoned = true;
}

pub(crate) fn interest(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Ready {
    let c = &*ch.core;
    if c.poisoned || c.closed {
        return Ready::EMPTY;
    }
    if c.lingering.is_some() {
        // Only the peer's input, to discard.
        return Ready::READ;
    }
    let idle_stream =
        !c.accepting && !c.connecting && !c.connected && c.sock.sock_type() == SockType::Stream;
    let pending = c.can_send();
    let (readable, writable) = match guarded(|| (h.readable(ch), h.writable(ch))) {
        Ok(rw) => rw,
        Err(msg) => {
            poison(ch, &msg);
            return Ready::EMPTY;
        }
    };
    let c = &mut *ch.core;
    c.user_writable = writable && !c.accepting;
    c.user_readable = readable;
    if idle_stream || c.close_event.is_some() {
        // Nothing to watch until the channel connects or listens; a pending close event
        // is delivered on the next event or by the loop below.
        return Ready::EMPTY;
    }
    let mut want = Ready::EMPTY;
    if readable && !c.paused() && !c.accept_paused && !c.eof {
        want |= Ready::READ | Ready::PRIORITY;
    }
    if c.tls_handshaking() && c.connected && !c.eof {
        // The handshake goes on whatever the handler wants to read.
        want |= Ready::READ;
    }
    if c.user_writable || (pending && c.connected) {
        want |= Ready::WRITE;
    }
    want
}

/// Call one handler method, catching a panic (which poisons the channel).
pub(crate) fn call(
    h: &mut dyn Dispatcher,
    ch: &mut Channel<'_>,
    f: impl FnOnce(&mut dyn Dispatcher, &mut Channel<'_>) -> Result,
) -> Option<Error> {
    match guarded(|| f(h, ch)) {
        Ok(r) => route(h, ch, r),
        Err(msg) => {
            poison(ch, &msg);
            None
        }
    }
}

/// asyncore's routing of a handler's outcome: `Exit` escapes; a disconnect becomes a
/// close event; anything else goes to `handle_error`, whose own error escapes.
pub(crate) fn route(h: &mut dyn Dispatcher, ch: &mut Channel<'_>, r: Result) -> Option<Error> {
    match r {
        Ok(()) => None,
        Err(Error::Exit) => Some(Error::Exit),
        Err(Error::Io(e)) if crate::error::is_disconnect(&e) => {
            ch.core.schedule_close(Some(e));
            None
        }
        Err(e) => match guarded(|| h.handle_error(ch, e)) {
            Ok(Ok(())) => None,
            Ok(Err(e2)) => Some(e2),
            Err(msg) => {
                poison(ch, &msg);
                None
            }
        },
    }
}

pub(crate) fn deliver_close(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Option<Error> {
    if ch.core.poisoned || ch.core.closed {
        return None;
    }
    let reason = ch.core.close_event.take()?;
    ch.core.eof = true;
    ch.core.close_delivered = true;
    let r = guarded(|| h.handle_close(ch, reason));
    // A handle_close that called close_when_done() keeps the channel until its queued
    // output is sent (the peer may only have shut down its sending side); one that called
    // hold_after_close() keeps it until it closes it itself.
    let lingering =
        !ch.core.closed && (ch.core.held || (ch.core.close_when_done && ch.core.has_output()));
    if !lingering {
        ch.close();
    }
    match r {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(msg) => {
            poison(ch, &msg);
            None
        }
    }
}

fn connect_event(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Result {
    if let Some(e) = ch.core.sock.take_error()? {
        return Err(Error::Io(e));
    }
    ch.core.connecting = false;
    ch.core.connected = true;
    h.handle_connect(ch)
}

fn read_event(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Result {
    if ch.core.accepting {
        return h.handle_accept(ch);
    }
    if ch.core.connecting {
        connect_event(h, ch)?;
        if ch.core.done() {
            return Ok(());
        }
    }
    if ch.core.tls_handshaking() {
        // The handler reads plaintext: not before the handshake is over, and only if it
        // wants to (the read event may be the handshake's alone).
        let now = ch.map.now;
        if !ch.core.tls_handshake_step(now)? || !ch.core.user_readable || ch.core.done() {
            return Ok(());
        }
    }
    h.handle_read(ch)
}

fn write_event(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Result {
    if ch.core.accepting {
        return Ok(());
    }
    if ch.core.connecting {
        connect_event(h, ch)?;
        if ch.core.done() {
            return Ok(());
        }
    }
    if ch.core.has_output() {
        ch.flush()?;
        if ch.core.done() {
            return Ok(());
        }
    }
    if ch.core.user_writable {
        h.handle_write(ch)?;
    }
    Ok(())
}

fn expt_event(h: &mut dyn Dispatcher, ch: &mut Channel<'_>) -> Result {
    if let Some(e) = ch.core.sock.take_error()? {
        ch.core.schedule_close(Some(e));
        return Ok(());
    }
    h.handle_expt(ch)
}

pub(crate) fn io_event(
    h: &mut dyn Dispatcher,
    ch: &mut Channel<'_>,
    ready: Ready,
) -> Option<Error> {
    if ready.is_readable() {
        if let Some(e) = call(h, ch, read_event) {
            return Some(e);
        }
    }
    if ready.is_writable() && !ch.core.done() {
        if let Some(e) = call(h, ch, write_event) {
            return Some(e);
        }
    }
    if ready.is_priority() && !ch.core.done() {
        if let Some(e) = call(h, ch, expt_event) {
            return Some(e);
        }
    }
    if !ch.core.done() && (ready.is_error() || (ready.is_hup() && !ready.is_readable())) {
        let reason = ch.core.sock.take_error().ok().flatten();
        ch.core.schedule_close(reason);
    }
    None
}
