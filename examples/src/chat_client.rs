//! The chat client: one chat channel to the server, printing what arrives, and a
//! channel on standard input sending what is typed.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use asyncore_runtime::{AsyncChat, Channel, Chat, ChatHandler, Dispatcher, Map, Result, Token};

/// The longest line the client accepts from the server.
pub const MAX_LINE: usize = 64 * 1024;

/// A chat connection that keeps (or prints) every line it receives.
#[derive(Debug, Default)]
pub struct ChatClient {
    /// Lines received, without their terminator (kept when `print` is false).
    pub lines: Rc<RefCell<Vec<String>>>,
    /// Print lines to standard output instead of keeping them.
    pub print: bool,
    /// Lines to send once connected.
    pub send_on_connect: Vec<String>,
    /// Whether the connection is established.
    pub connected: bool,
}

impl ChatHandler for ChatClient {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        chat.set_terminator(b"\n");
        chat.set_max_collect(MAX_LINE);
        self.connected = true;
        for l in std::mem::take(&mut self.send_on_connect) {
            chat.push(format!("{l}\n").as_bytes())?;
        }
        Ok(())
    }

    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        chat.collect(data)?;
        Ok(())
    }

    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        let line = String::from_utf8_lossy(&chat.take_collected()).into_owned();
        if self.print {
            let mut out = io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()?;
        } else {
            self.lines.borrow_mut().push(line);
        }
        Ok(())
    }

    fn handle_close(&mut self, chat: &mut Chat<'_, '_>, _reason: Option<io::Error>) -> Result {
        chat.close();
        // The server is gone: nothing more to do.
        chat.map().stop();
        Ok(())
    }
}

/// Standard input: each chunk read is sent to the chat channel; at end of input the chat
/// channel is closed once its output is sent.
#[derive(Debug)]
pub struct StdinForwarder {
    /// The chat channel to send to.
    pub to: Token,
}

impl Dispatcher for StdinForwarder {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 4096];
        let n = ch.recv(&mut buf)?;
        let to = self.to;
        if n > 0 {
            let data = buf[..n].to_vec();
            AsyncChat::<ChatClient>::with_chat(ch.map(), to, |_, chat| chat.push(&data))
                .transpose()?;
        }
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<io::Error>) -> Result {
        let to = self.to;
        AsyncChat::<ChatClient>::with_chat(ch.map(), to, |_, chat| chat.close_when_done());
        ch.close();
        Ok(())
    }
}

/// Connect to `addr`, forward standard input, print what arrives; returns when the
/// server closes or after standard input ends and everything was sent.
pub fn run(
    map: &mut Map,
    addr: &asyncore_runtime::Addr,
    backend: asyncore_runtime::Backend,
) -> io::Result<()> {
    let client = ChatClient {
        print: true,
        ..ChatClient::default()
    };
    let t = map.connect(addr, AsyncChat::with_terminator(client, b"\n"))?;
    map.add_file(io::stdin(), StdinForwarder { to: t })?;
    map.run_with(Some(asyncore_runtime::DEFAULT_TIMEOUT), backend, None)
        .map_err(|e| io::Error::other(e.to_string()))?;
    map.close_all();
    Ok(())
}
