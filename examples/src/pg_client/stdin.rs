//! Standard input as a channel of the loop: its lines go through the [`Splitter`], and
//! the statements to the client channel.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use asyncore_runtime::{Channel, Dispatcher, Map, Result, Token};

use super::{pg, Item, PgClient, Shared, Splitter, MAX_INPUT_LINE};

/// Standard input: its lines are split into statements for the client channel.
pub(super) struct StdinStatements {
    to: Token,
    shared: Rc<RefCell<Shared>>,
    splitter: Splitter,
    line: Vec<u8>,
}

impl StdinStatements {
    /// A reader of standard input for the client channel `to` of the session `shared`.
    pub(super) fn new(to: Token, shared: Rc<RefCell<Shared>>) -> StdinStatements {
        StdinStatements {
            to,
            shared,
            splitter: Splitter::default(),
            line: Vec::new(),
        }
    }

    fn take(&mut self, map: &mut Map, items: Vec<Item>) -> Result {
        if items.is_empty() {
            return Ok(());
        }
        let idle = {
            let mut s = self.shared.borrow_mut();
            s.queue.extend(items);
            s.connected && !s.busy && s.status.is_none()
        };
        if idle {
            map.with::<pg::ClientChannel<PgClient>, _>(self.to, |c, ch| c.handler.pump_outside(ch))
                .unwrap_or(Ok(()))?;
        }
        Ok(())
    }

    fn line(&mut self, map: &mut Map, line: &[u8]) -> Result {
        let text = String::from_utf8_lossy(line);
        let items = self.splitter.line(text.trim_end_matches('\r'));
        let quit = items.iter().any(|i| !matches!(i, Item::Query(_)));
        self.take(map, items)?;
        if quit {
            self.finish(map, false)?;
        }
        Ok(())
    }

    fn finish(&mut self, map: &mut Map, rest: bool) -> Result {
        let last = if rest { self.splitter.finish() } else { None };
        let idle = {
            let mut s = self.shared.borrow_mut();
            s.queue.extend(last);
            s.input_done = true;
            s.connected && !s.busy && s.status.is_none()
        };
        if idle {
            map.with::<pg::ClientChannel<PgClient>, _>(self.to, |c, ch| c.handler.pump_outside(ch))
                .unwrap_or(Ok(()))?;
        }
        Ok(())
    }
}

impl Dispatcher for StdinStatements {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }

    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        !self.shared.borrow().input_done
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 16 * 1024];
        let n = ch.recv(&mut buf)?;
        let mut rest = &buf[..n];
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&rest[..pos]);
            self.line(ch.map(), &line)?;
            rest = &rest[pos + 1..];
            if self.shared.borrow().input_done {
                ch.close();
                return Ok(());
            }
        }
        if self.line.len() + rest.len() > MAX_INPUT_LINE {
            return Err(format!("an input line is longer than {MAX_INPUT_LINE} bytes").into());
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, _reason: Option<io::Error>) -> Result {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() && !self.shared.borrow().input_done {
            self.line(ch.map(), &line)?;
        }
        if !self.shared.borrow().input_done {
            self.finish(ch.map(), true)?;
        }
        ch.close();
        Ok(())
    }
}
