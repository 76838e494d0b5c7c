//! The context of a generated handler ([`Cx`]): how it answers, closes, waits and asks
//! to produce more, over the channel and the replies of the current read.

use super::{send_replies, Hold, REPLY_BATCH};
use crate::wire::EncodeError;
use crate::{Channel, Result};

/// What the context of a generated handler wraps: the channel and the replies queued so
/// far.
#[derive(Debug)]
pub struct Cx<'c, 'a> {
    pub(super) ch: &'c mut Channel<'a>,
    pub(super) out: &'c mut Vec<u8>,
    pub(super) closing: &'c mut bool,
    pub(super) producing: &'c mut Hold,
    /// The input in error, for a context made by [`Io::bad_input_cx`](super::Io::bad_input_cx)(super::Io::bad_input_cx); else empty.
    pub(super) input: &'c [u8],
}

impl<'c, 'a> Cx<'c, 'a> {
    /// Appends an encoded message to the replies; an encoding error leaves them as they
    /// were and is returned.
    #[inline]
    pub fn send_with(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), EncodeError>,
    ) -> Result {
        encode(self.out)?;
        if self.out.len() >= REPLY_BATCH {
            // Hand the replies to the channel, where its output limit applies.
            self.ch.send_buffered(self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// The channel.
    #[inline]
    pub fn channel(&mut self) -> &mut Channel<'a> {
        self.ch
    }

    /// Closes the connection once the replies are sent.
    #[inline]
    pub fn close(&mut self) {
        *self.closing = true;
    }

    /// In the handler's answer to bad input (a context from [`Io::bad_input_cx`](super::Io::bad_input_cx)): the
    /// input in error, its first line for a line protocol; empty in other calls.
    /// Generated server contexts offer it as `cx.bad_input()`.
    pub fn bad_input(&self) -> &'c [u8] {
        self.input
    }

    /// The reply bytes waiting to be sent: those gathered here and those in the channel's
    /// output buffer.
    pub fn waiting(&self) -> usize {
        self.out.len() + self.ch.pending_output()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        *self.closing
    }

    /// Whether the connection's traffic goes through a TLS session ([`crate::wire::is_tls`]).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Framing, Io, Message, Op, Program};
    /// use asyncore_runtime::{Dispatcher, Map};
    ///
    /// static LINES: Program = Program {
    ///     name: "lines",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Line", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// };
    /// struct D;
    /// impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// let mut io = Io::new(&LINES);
    /// assert_eq!(map.with_channel(t, |ch| io.cx(ch).is_tls()), Some(false));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_tls(&self) -> bool {
        crate::wire::is_tls(self.ch)
    }

    /// Asks to be called again when the output drains (below the channel's high-water
    /// mark), to produce more of a reply too large to queue at once: asynchat's
    /// producers. Until the handler stops asking, the channel decodes no further request,
    /// so replies keep their order, and a client that reads slowly paces the production
    /// instead of making the output grow.
    ///
    /// ```
    /// // Generated server contexts offer it as `cx.produce_later()`.
    /// let _ = asyncore_runtime::wire::Cx::produce_later;
    /// ```
    pub fn produce_later(&mut self) {
        *self.producing = Hold::Produce;
    }

    /// Whether [`produce_later`](Self::produce_later) was called in this handler call.
    pub fn is_producing(&self) -> bool {
        *self.producing == Hold::Produce
    }

    /// Waits for something outside the connection (another connection's write, a
    /// timer): the requests after this one are not decoded, and nothing is asked of the
    /// handler, until a later call of it (`on_timer`: a timer it set, or one another
    /// connection set on its channel to wake it) calls [`end_wait`](Self::end_wait). The
    /// channel keeps reading meanwhile (within its buffer's limit), so that a close is
    /// seen. Generated server contexts offer it as `cx.wait()`.
    ///
    /// ```
    /// // Generated server contexts offer it as `cx.wait()`.
    /// let _ = asyncore_runtime::wire::Cx::wait;
    /// ```
    pub fn wait(&mut self) {
        *self.producing = Hold::Wait;
    }

    /// Ends a [`wait`](Self::wait): the requests held go on once the handler returns.
    pub fn end_wait(&mut self) {
        if *self.producing == Hold::Wait {
            *self.producing = Hold::Free;
        }
    }

    /// Whether the handler waits ([`wait`](Self::wait)).
    pub fn is_waiting(&self) -> bool {
        *self.producing == Hold::Wait
    }

    /// Whether the output is at or over its high-water mark: the replies gathered here
    /// and those in the channel's output buffer. A producing handler stops there and
    /// asks to [`produce_later`](Self::produce_later).
    pub fn output_full(&self) -> bool {
        self.waiting() >= self.ch.high_water()
    }

    /// Sends the replies queued so far (used after `on_open`).
    pub fn flush(&mut self) -> Result {
        // As after a read: a connection idle after its greeting holds no reply buffer.
        send_replies(self.ch, self.out)?;
        if *self.closing {
            self.ch.close_when_done();
        }
        Ok(())
    }
}
