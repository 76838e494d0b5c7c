//! The echo channels: [`Echo`] sends everything received back as it came; [`LineEcho`]
//! (an [`AsyncChat`] handler) cuts the input into lines and sends each line back.

use std::cell::RefCell;

use asyncore_runtime::{
    dispatcher, protocol, Addr, AsyncChat, Channel, Chat, ChatHandler, Dispatcher, Result, Socket,
};

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

    /// `readable` and `writable` are the defaults, which depend only on the channel: the
    /// loop need not ask an idle connection every pass.
    fn interest_from_own_state(&self) -> bool {
        true
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

    fn interest_from_own_state(&self) -> bool {
        true
    }
}

/// The longest line a [`LineEcho`] connection collects, terminator excluded (asynchat's
/// collector has no limit; ours refuses a longer line and closes the connection).
pub const MAX_LINE: usize = 64 * 1024;

/// A line echo connection, as Python's asynchat writes one: the terminator is `b"\n"`,
/// [`collect_incoming_data`](ChatHandler::collect_incoming_data) collects the line with
/// [`Chat::collect`] (at most [`MAX_LINE`] bytes), and
/// [`found_terminator`](ChatHandler::found_terminator) pushes the line plus `"\n"` back,
/// one push per line. [`AsyncChat`] sends everything pushed during one read event with
/// one send, so 16 lines arriving in one read go back in one send.
///
/// A line longer than [`MAX_LINE`] is an error: the connection is closed. An unfinished
/// line when the peer closes is dropped.
///
/// ```
/// use asyncore_examples::echo::LineEcho;
/// use asyncore_runtime::AsyncChat;
/// let channel = AsyncChat::with_terminator(LineEcho, b"\n");
/// # let _ = channel;
/// ```
#[derive(Debug, Default)]
pub struct LineEcho;

impl ChatHandler for LineEcho {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        chat.set_max_collect(MAX_LINE);
        Ok(())
    }

    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        chat.collect(data)?;
        Ok(())
    }

    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        let mut line = chat.take_collected();
        line.push(b'\n');
        chat.push(&line)?;
        Ok(())
    }
}

/// The listening side of the line echo server: every accepted connection becomes an
/// [`AsyncChat`] running [`LineEcho`], with the terminator `b"\n"` from the start.
///
/// ```no_run
/// use asyncore_examples::echo::LineEchoServer;
/// use asyncore_examples::server::{serve, ServerConfig};
/// # fn main() -> std::io::Result<()> {
/// let config = ServerConfig {
///     listen: "127.0.0.1:7000".parse().unwrap(),
///     backend: Default::default(),
///     threads: 1,
/// };
/// serve(&config, || LineEchoServer)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct LineEchoServer;

impl Dispatcher for LineEchoServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        ch.add_accepted(sock, addr, AsyncChat::with_terminator(LineEcho, b"\n"))?;
        Ok(())
    }
}

protocol!(pub mod echo = "../protocols/descriptions/echo.aproto");

/// The echo protocol's server side, generated from `protocols/descriptions/echo.aproto`:
/// each line comes back as an `Echo` once its `\n` has arrived. Lines over 1 MiB get
/// the description's error reply and a close.
#[derive(Debug, Default)]
pub struct ProtocolEcho;

#[dispatcher(protocol = echo, role = server)]
impl ProtocolEcho {
    fn on_line(&mut self, cx: &mut echo::ServerCx<'_, '_>, msg: echo::Line<'_>) -> Result {
        cx.send(echo::Echo { text: msg.text })
    }
}

/// The listening channel of the protocol echo server: each connection gets a
/// [`ProtocolEcho`] channel.
#[derive(Debug, Default)]
pub struct ProtocolEchoServer;

impl Dispatcher for ProtocolEchoServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        ch.add_accepted(sock, addr, echo::ServerChannel::new(ProtocolEcho))?;
        Ok(())
    }
}
