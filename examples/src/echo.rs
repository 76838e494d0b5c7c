//! The echo channel: everything received is sent back.

use std::cell::RefCell;

use asyncore_runtime::{Addr, Channel, Dispatcher, Result, Socket};

/// Size of the receive buffer of one read event.
pub const READ_SIZE: usize = 16 * 1024;

/// An echo connection: each read is sent back as it came, through the channel's bounded
/// output buffer (so a peer that does not read stops being read).
#[derive(Debug, Default)]
pub struct Echo;

thread_local! {
    /// One receive buffer per loop thread, zeroed once rather than on every read event.
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; READ_SIZE].into_boxed_slice());
}

impl Dispatcher for Echo {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        READ_BUF.with_borrow_mut(|buf| {
            let n = ch.recv(buf)?;
            if n > 0 {
                ch.send_buffered(&buf[..n])?;
            }
            Ok(())
        })
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<std::io::Error>) -> Result {
        // The peer may have shut down only its sending side: finish echoing first.
        ch.close_when_done();
        Ok(())
    }
}

/// The listening side: every accepted connection becomes an [`Echo`] channel.
#[derive(Debug, Default)]
pub struct EchoServer;

impl Dispatcher for EchoServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        ch.add_accepted(sock, addr, Echo)?;
        Ok(())
    }
}
