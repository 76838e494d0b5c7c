//! The input and output plumbing of generated channels: a bounded read buffer, the
//! decoder, the replies of the current read, and the bad-input policies.

use super::{DecodeError, Decoder, Op, Program, MAX_PARAMS};
use crate::codec::{FrameBuf, READ_CHUNK};
use crate::{Channel, Result};

/// What a generated channel does with bad input, as the description's `on EVENT ACTION`
/// declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Close the connection (after the replies already queued).
    Close,
    /// Drop the offending line or frame and go on.
    Discard,
    /// Send `text` (its terminator included), then close or go on. Each `{byte}` in it
    /// is replaced by the byte found where the input went wrong ([`reply_text`]).
    Reply {
        /// The bytes to send.
        text: &'static [u8],
        /// Close after sending.
        close: bool,
    },
}

/// One step of [`Io::decode`].
#[derive(Debug)]
pub enum Event {
    /// Wait for more input.
    NeedMore,
    /// A whole message of `len` bytes, at the front of the buffer.
    Message {
        /// Its index in the program.
        index: u16,
        /// Its length.
        len: usize,
    },
    /// Bad input.
    Error(DecodeError),
}

/// The per-connection state of a generated channel: read buffer, decoder and replies.
///
/// ```
/// use asyncore_runtime::wire::{Framing, Io, Message, Op, Program};
///
/// static LINES: Program = Program {
///     name: "lines",
///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
///     messages: &[Message { name: "Line", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
/// };
/// let io = Io::new(&LINES);
/// assert!(!io.opened());
/// ```
#[derive(Debug)]
pub struct Io {
    program: &'static Program,
    /// Made at the first byte of a message, and given back between messages
    /// ([`release_memory`](Self::release_memory)): an idle connection holds none.
    decoder: Option<Box<Decoder>>,
    /// The message parameters the decoder starts with ([`set_params`](Self::set_params)):
    /// boxed at the first call, so that the many channels of protocols without
    /// parameters keep one word for them.
    params: Option<Box<[u64; MAX_PARAMS]>>,
    fast: Option<super::fast::FastFn>,
    buf: FrameBuf,
    out: Vec<u8>,
    /// Every message of the program opens a unit, so takes at least one byte
    /// ([`opens_unit`]): with nothing buffered, nothing can be decoded.
    needs_bytes: bool,
    opened: bool,
    closing: bool,
    close_told: bool,
    /// Decoding stopped with messages left in the buffer, because the replies were over
    /// the channel's high-water mark.
    deferred: bool,
    /// The peer stopped sending while requests were waiting in the buffer.
    input_ended: bool,
    /// Closing after an error reply: close lingering, so that the reply reaches a peer
    /// that is still sending.
    linger: bool,
    /// Every close on our side lingers (servers: see [`Io::lingering_close`]).
    linger_always: bool,
    /// Messages handled in the pass of the loop `budget_pass`.
    handled: u32,
    /// A message was handled since the last [`Io::settle_clock`].
    progressed: bool,
    budget_pass: u64,
    /// What the handler asked about the requests after the one it answers: to produce
    /// more of its reply when the output drains ([`Cx::produce_later`]), or to wait for
    /// something outside the connection ([`Cx::wait`]). Meanwhile they wait.
    producing: Hold,
    /// What the generated channel keeps about the reply being produced: the request it
    /// answers and the reply sent so far (indices of the description's messages).
    produced_for: (Option<u16>, Option<u16>),
}

impl Io {
    /// Plumbing for a channel that decodes `program`; the read buffer holds at most the
    /// largest message of the program.
    pub fn new(program: &'static Program) -> Io {
        Io::with_fast_path(program, None)
    }

    /// Like [`new`](Self::new), with the generated fast path of the program's messages,
    /// tried first whenever the decoder is between messages.
    pub fn with_fast_path(program: &'static Program, fast: Option<super::fast::FastFn>) -> Io {
        let limit = Decoder::new(program).buffer_limit().max(1);
        Io {
            program,
            decoder: None,
            params: None,
            fast,
            // Allocated at the first byte: an idle connection holds no read buffer.
            buf: FrameBuf::new(limit),
            out: Vec::new(),
            needs_bytes: program.messages.iter().all(opens_unit),
            opened: false,
            closing: false,
            close_told: false,
            deferred: false,
            input_ended: false,
            linger: false,
            linger_always: false,
            handled: 0,
            progressed: false,
            budget_pass: 0,
            producing: Hold::Free,
            produced_for: (None, None),
        }
    }

    /// Makes every close on our side a lingering close ([`Channel::close_lingering`]), not
    /// only the close after an error reply: a server closing after `QUIT`, after a reply
    /// that ends the connection, or for any reason of its handler's, must not lose the last
    /// replies to a reset because the client was still sending. Generated server channels
    /// use it; clients close at once.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Framing, Io, Message, Op, Program};
    ///
    /// static LINES: Program = Program {
    ///     name: "lines",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Line", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// };
    /// let io = Io::new(&LINES).lingering_close();
    /// assert!(!io.is_closing());
    /// ```
    ///
    /// [`Channel::close_lingering`]: crate::Channel::close_lingering
    pub fn lingering_close(mut self) -> Io {
        self.linger_always = true;
        self
    }

    /// Whether [`open`](Self::open) has run.
    #[inline]
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// Whether the connection is closing: a handler, a `close` transition or a bad-input
    /// policy asked for it. Generated channels then tell their handler (`on_close`) at
    /// once, as no close event will follow a close they make themselves.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::is_closing;
    /// ```
    #[inline]
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// True the first time only: when to tell the handler that the connection closed.
    #[inline]
    pub fn close_once(&mut self) -> bool {
        !std::mem::replace(&mut self.close_told, true)
    }

    /// Marks the connection open; true the first time only (when to call `on_open`).
    #[inline]
    pub fn open(&mut self) -> bool {
        !std::mem::replace(&mut self.opened, true)
    }

    /// A context for a handler call that is not about a message.
    #[inline]
    pub fn cx<'c, 'a>(&'c mut self, ch: &'c mut Channel<'a>) -> Cx<'c, 'a> {
        self.reply_buffer();
        Cx {
            ch,
            out: &mut self.out,
            closing: &mut self.closing,
            producing: &mut self.producing,
            input: &[],
        }
    }

    /// A context for the handler's answer to the bad input the decoder just reported:
    /// [`Cx::bad_input`] is the input in error. For a line protocol that is its first
    /// line, terminator excluded (the bytes buffered so far, when the line is over its
    /// limit); for frames, the bytes buffered from its first byte. Call it before
    /// decoding goes on, while those bytes are still at the front of the buffer.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::bad_input_cx;
    /// ```
    pub fn bad_input_cx<'c, 'a>(&'c mut self, ch: &'c mut Channel<'a>) -> Cx<'c, 'a> {
        self.reply_buffer();
        let data = self.buf.data();
        let input = match self.program.framing {
            super::Framing::Line { term, .. } => {
                let line = match term.last() {
                    Some(&last) => match super::decode::memchr(last, data) {
                        Some(i) => &data[..=i],
                        None => data,
                    },
                    None => data,
                };
                // The terminator, or the bare LF a lenient CRLF line ends with.
                line.strip_suffix(term)
                    .or_else(|| line.strip_suffix(b"\n"))
                    .unwrap_or(line)
            }
            super::Framing::Length(_) => data,
        };
        Cx {
            ch,
            out: &mut self.out,
            closing: &mut self.closing,
            producing: &mut self.producing,
            input,
        }
    }

    /// Whether a handler is producing a reply piece by piece ([`Cx::produce_later`]):
    /// the channel calls it again when its output drains, and decodes no further request
    /// until it is done.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::producing;
    /// ```
    #[inline]
    pub fn producing(&self) -> bool {
        self.producing == Hold::Produce && !self.closing
    }

    /// Whether the handler waits for something outside the connection ([`Cx::wait`]):
    /// no request is decoded, the handler is not called to produce, and the channel asks
    /// for nothing but reading (a close is still seen) until a later call of the handler
    /// (from one of its timers) ends the wait.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::waiting;
    /// ```
    #[inline]
    pub fn waiting(&self) -> bool {
        self.producing == Hold::Wait && !self.closing
    }

    /// Records what the generated channel needs to call the producing handler again:
    /// the request being answered and the reply sent to it so far.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::set_produced_for;
    /// ```
    #[inline]
    pub fn set_produced_for(&mut self, answering: Option<u16>, replied: Option<u16>) {
        self.produced_for = (answering, replied);
    }

    /// What [`set_produced_for`](Self::set_produced_for) recorded.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::produced_for;
    /// ```
    #[inline]
    pub fn produced_for(&self) -> (Option<u16>, Option<u16>) {
        self.produced_for
    }

    /// Before calling a producing handler again: true when it may produce now (the
    /// output is under its high-water mark and the channel has not used its
    /// [`MESSAGE_BUDGET`] in this pass; each call counts as one message). The flag is
    /// cleared: the handler sets it again if it has more. Otherwise the channel waits
    /// for its output to drain ([`deferred`](Self::deferred)).
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::start_producing;
    /// ```
    #[inline]
    pub fn start_producing(&mut self, ch: &Channel<'_>) -> bool {
        if self.over_budget(ch) || self.out.len() + ch.pending_output() >= ch.high_water() {
            self.deferred = true;
            return false;
        }
        self.producing = Hold::Free;
        self.handled = self.handled.saturating_add(1);
        self.progressed = true;
        true
    }

    /// Whether decoding stopped because the replies were over the channel's high-water
    /// mark, with input left in the buffer: the channel goes on when they drain (it asks
    /// to write, and decodes in `handle_write`).
    #[inline]
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// The peer stopped sending (a half-close) while requests read before it still wait
    /// in the buffer for their replies to drain: they are answered first, then the
    /// channel closes (see [`input_ended`](Self::input_ended)).
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::end_input;
    /// ```
    pub fn end_input(&mut self) {
        self.input_ended = true;
    }

    /// Whether [`end_input`](Self::end_input) was called.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::input_ended;
    /// ```
    #[inline]
    pub fn input_ended(&self) -> bool {
        self.input_ended
    }

    /// Starts a round of decoding: nothing is deferred any more.
    #[inline]
    pub fn resume(&mut self) {
        self.deferred = false;
    }

    /// Before decoding the next message: whether to stop because the channel's output is
    /// over its high-water mark (the replies gathered here, at most [`REPLY_BATCH`]
    /// bytes, come on top), or because the channel handled [`MESSAGE_BUDGET`] messages
    /// in this pass of the loop (the others' turn: it goes on in the next pass). The rest of the input
    /// waits in the buffer; [`deferred`](Self::deferred) tells.
    #[inline]
    pub fn should_defer(&mut self, ch: &Channel<'_>) -> bool {
        if self.closing {
            return false;
        }
        match self.producing {
            Hold::Produce => {
                // A reply is being produced: the next request waits for it to be done.
                self.deferred = true;
                return true;
            }
            // The handler waits: nothing to do here until the wait ends.
            Hold::Wait => return true,
            Hold::Free => {}
        }
        if self.buf.is_empty() || !self.over_budget(ch) {
            return false;
        }
        if !ch.is_paused() {
            BUDGET_YIELDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.deferred = true;
        true
    }

    /// Whether the output is over its high-water mark or the channel handled
    /// [`MESSAGE_BUDGET`] messages in this pass of the loop.
    #[inline]
    fn over_budget(&mut self, ch: &Channel<'_>) -> bool {
        let pass = ch.map.passes();
        if self.budget_pass != pass {
            // A new pass of the loop: a new budget.
            self.budget_pass = pass;
            self.handled = 0;
        }
        ch.is_paused() || self.handled as usize >= MESSAGE_BUDGET
    }

    /// How many bytes are buffered and not yet consumed (the message being handled
    /// included, until [`consume`](Self::consume)).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads once from the channel into the buffer; false when nothing arrived.
    pub fn fill(&mut self, ch: &mut Channel<'_>) -> Result<bool> {
        if self.closing {
            return Ok(false);
        }
        if self.buf.capacity() < READ_CHUNK && self.buf.limit() >= READ_CHUNK {
            // Read into a full-size buffer lent by the thread, the bytes kept so far
            // (the start of a message) moved into it.
            if let Some(storage) = spare::take_read() {
                if self.buf.capacity() == 0 {
                    self.buf.give_storage(storage);
                } else {
                    drop(self.buf.swap_storage(storage));
                }
            }
        }
        let n = self.buf.read_with(|spare| ch.recv(spare))?;
        if n == 0 {
            self.lend_buffer();
        }
        Ok(n > 0)
    }

    /// Between messages, hands the read buffer's storage, the reply buffer and the
    /// decoder to the thread's spares: connections between requests hold none of them.
    fn lend_buffer(&mut self) {
        if !self.buf.is_empty() {
            let kept = self.buf.len();
            if self.buf.capacity() == READ_CHUNK && kept <= SMALL_PARTIAL {
                // The start of a message (a request trickling in): its few bytes wait in
                // storage of their size, the full-size buffer goes back to the thread.
                let small = vec![0; kept.next_power_of_two().max(256)];
                spare::put_read(self.buf.swap_storage(small));
            }
            return;
        }
        if self.buf.capacity() == READ_CHUNK {
            if let Some(storage) = self.buf.take_storage() {
                spare::put_read(storage);
            }
        }
        if self.decoder.as_ref().is_some_and(|d| d.holds_nothing()) {
            if let Some(mut d) = self.decoder.take() {
                // Whatever message it began goes: the next user begins its own.
                d.reset();
                spare::put_decoder(d);
            }
        }
    }

    /// The reply buffer, borrowed from the thread's spares if the channel has none.
    #[inline]
    fn reply_buffer(&mut self) -> &mut Vec<u8> {
        if self.out.capacity() == 0 {
            if let Some(v) = spare::take_reply() {
                self.out = v;
            }
        }
        &mut self.out
    }

    /// Decodes the next message allowed in the state (`allowed`, in the order to try),
    /// consuming bytes the decoder skips.
    #[inline]
    pub fn decode(&mut self, allowed: &[u16]) -> Event {
        loop {
            if self.closing {
                return Event::NeedMore;
            }
            // With nothing buffered, and a program whose every message opens a unit,
            // nothing can be decoded: the decoder need not run over nothing once per
            // read, after the last whole message of the read. (A message that opens
            // none, such as a body of a length a parameter gives, may take no bytes.)
            if self.needs_bytes && self.buf.is_empty() {
                return Event::NeedMore;
            }
            if let Some(fast) = self.fast {
                if let Some(super::Decoded::Message { index, len }) = fast(
                    decoder(&mut self.decoder, self.program, self.params.as_deref()),
                    self.buf.data(),
                    allowed,
                ) {
                    return Event::Message { index, len };
                }
            }
            let dec = decoder(&mut self.decoder, self.program, self.params.as_deref());
            match dec.decode(self.buf.data(), allowed) {
                Ok(super::Decoded::NeedMore) => return Event::NeedMore,
                Ok(super::Decoded::Skip { len }) => self.buf.consume(len),
                Ok(super::Decoded::Message { index, len }) => return Event::Message { index, len },
                Err(e) => return Event::Error(e),
            }
        }
    }

    /// The context, decoder and bytes for the message of `len` bytes just decoded.
    #[inline]
    pub fn message<'c, 'a>(
        &'c mut self,
        ch: &'c mut Channel<'a>,
        len: usize,
    ) -> (Cx<'c, 'a>, &'c Decoder, &'c [u8]) {
        self.reply_buffer();
        let data = self.buf.data();
        let msg = &data[..len.min(data.len())];
        (
            Cx {
                ch,
                out: &mut self.out,
                closing: &mut self.closing,
                producing: &mut self.producing,
                input: &[],
            },
            decoder(&mut self.decoder, self.program, self.params.as_deref()),
            msg,
        )
    }

    /// Drops every byte read and not yet handled, and whatever message the decoder
    /// began: what the peer sent before a TLS session started (STARTTLS) must never be
    /// read as if it had come through the session (the command injection of
    /// CVE-2011-0411). Returns how many bytes were dropped.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Framing, Io, Message, Op, Program};
    ///
    /// static LINES: Program = Program {
    ///     name: "lines",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Line", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// };
    /// let mut io = Io::new(&LINES);
    /// assert_eq!(io.discard_input(), 0);
    /// assert_eq!(io.buffered(), 0);
    /// ```
    pub fn discard_input(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.consume(n);
        if let Some(d) = self.decoder.as_mut() {
            d.reset();
        }
        self.deferred = false;
        n
    }

    /// Moves the replies queued so far into the channel's output buffer without trying
    /// the socket ([`Channel::queue`]): before a TLS session starts, so that they go out
    /// in plaintext ahead of it.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::queue_replies;
    /// ```
    pub fn queue_replies(&mut self, ch: &mut Channel<'_>) -> Result {
        if !self.out.is_empty() {
            ch.queue(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Drops the message just handled from the buffer.
    #[inline]
    pub fn consume(&mut self, len: usize) {
        self.buf.consume(len.min(self.buf.len()));
        self.handled = self.handled.saturating_add(1);
        self.progressed = true;
    }

    /// After a round of decoding: the request clock
    /// ([`Channel::set_request_timeout`]) runs while a message is partly received, from
    /// the round that left it so; it stops when nothing waits, or only whole messages
    /// waiting for their turn.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::settle_clock;
    /// ```
    #[inline]
    pub fn settle_clock(&mut self, ch: &mut Channel<'_>) {
        let partial =
            !self.buf.is_empty() && !self.deferred && !self.closing && self.producing != Hold::Wait;
        if std::mem::take(&mut self.progressed) || !partial {
            ch.stop_request_clock();
        }
        if partial {
            ch.start_request_clock();
        }
    }

    /// Whether part of a message is in the buffer, waiting for the rest.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::mid_message;
    /// ```
    pub fn mid_message(&self) -> bool {
        !self.buf.is_empty() && !self.deferred && self.producing != Hold::Wait
    }

    /// A request did not arrive whole in time: queues `reply` (the description's
    /// `on timeout`), logs, and closes lingering once it is sent.
    ///
    /// ```
    /// // Used by generated channels; nothing to do by hand.
    /// let _ = asyncore_runtime::wire::Io::time_out;
    /// ```
    pub fn time_out(&mut self, ch: &Channel<'_>, reply: &[u8]) {
        log::info!(target: "asyncore_runtime::wire", "closing {ch}: a request did not arrive whole in time");
        self.out.extend_from_slice(reply);
        self.closing = true;
        self.linger = true;
    }

    /// Sets the parameters of the next messages (see [`Decoder::set_params`]).
    ///
    /// [`Decoder::set_params`]: super::Decoder::set_params
    pub fn set_params(&mut self, params: &[u64]) {
        let kept = self.params.get_or_insert_with(|| Box::new([0; MAX_PARAMS]));
        for (to, from) in kept.iter_mut().zip(params) {
            *to = *from;
        }
        if let Some(d) = self.decoder.as_mut() {
            d.set_params(params);
        }
    }

    /// Gives back what an idle connection does not need: the read buffer and the reply
    /// buffer when they are empty, and the decoder when it is between messages (the
    /// next byte makes them again). Generated channels call it from
    /// [`Dispatcher::release_memory`](crate::Dispatcher::release_memory).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Framing, Io, Message, Op, Program};
    ///
    /// static LINES: Program = Program {
    ///     name: "lines",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Line", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// };
    /// let mut io = Io::new(&LINES);
    /// assert_eq!(io.release_memory(), 0, "nothing to give back yet");
    /// ```
    pub fn release_memory(&mut self) -> usize {
        if !self.buf.is_empty() {
            return 0;
        }
        let mut freed = self.buf.capacity();
        self.buf.release();
        if self.out.is_empty() {
            freed += std::mem::take(&mut self.out).capacity();
        }
        if self.decoder.as_ref().is_some_and(|d| d.holds_nothing()) {
            self.decoder = None;
            freed += std::mem::size_of::<Decoder>();
        }
        freed
    }

    /// Closes the connection once the queued replies are sent.
    pub fn close_when_done(&mut self, _ch: &mut Channel<'_>) {
        self.closing = true;
    }

    /// Applies `policy` to `err`; true when decoding goes on.
    pub fn apply(
        &mut self,
        ch: &mut Channel<'_>,
        policy: Policy,
        err: &DecodeError,
    ) -> Result<bool> {
        let go_on = match policy {
            Policy::Close => false,
            Policy::Discard => err.can_continue(),
            Policy::Reply { text, close } => {
                reply_text(&mut self.out, text, err);
                let go_on = !close && err.can_continue();
                // An error reply that ends the connection must reach a peer that is
                // still sending: close lingering, not with a reset.
                self.linger |= !go_on;
                go_on
            }
        };
        if self.closing {
            // The handler's `on_bad_input` ended the connection (and says why itself).
            return Ok(false);
        }
        if !go_on {
            // One line per connection the policy ends for bad input: who, and what was
            // wrong (the limit, for input over one).
            log::info!(target: "asyncore_runtime::wire", "closing {ch}: {err}");
            self.closing = true;
        }
        Ok(go_on)
    }

    /// Sends the queued replies; closes when done if the connection is closing.
    pub fn flush(&mut self, ch: &mut Channel<'_>) -> Result {
        self.lend_buffer();
        send_replies(ch, &mut self.out)?;
        if self.closing {
            if self.linger || self.linger_always {
                // After bad input: the peer may still be sending; the reply must not be
                // lost to a reset.
                ch.close_lingering();
            } else {
                ch.close_when_done();
            }
        }
        Ok(())
    }
}

/// Hands the replies gathered in `out` to the channel, then gives the reply buffer back
/// to the thread's spares (one much grown by a burst goes back to the allocator).
fn send_replies(ch: &mut Channel<'_>, out: &mut Vec<u8>) -> Result {
    if !out.is_empty() {
        ch.send_buffered(out)?;
        out.clear();
    }
    let kept = out.capacity();
    if kept > 0 {
        let out = std::mem::take(out);
        if kept <= 2 * REPLY_BATCH {
            spare::put_reply(out);
        }
    }
    Ok(())
}

/// Appends a policy's reply `text`, each `{byte}` in it replaced by the byte where the
/// input went wrong ([`DecodeError::found`]; a CR or LF as a space, so that the reply
/// stays one line; nothing if no byte was found).
///
/// ```
/// use asyncore_runtime::wire::{reply_text, Decoder, Framing, Message, Op, Program};
///
/// static PROGRAM: Program = Program {
///     name: "resp",
///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
///     messages: &[Message { name: "Bulk", slots: 0, max: 66, ops: &[Op::Line, Op::Lit(b"$"), Op::EndLine] }],
/// };
/// let err = Decoder::new(&PROGRAM).decode(b"foo\r\n", &[0]).unwrap_err();
/// let mut out = Vec::new();
/// reply_text(&mut out, b"-ERR expected '$', got '{byte}'\r\n", &err);
/// assert_eq!(out, b"-ERR expected '$', got 'f'\r\n");
/// ```
pub fn reply_text(out: &mut Vec<u8>, text: &[u8], err: &DecodeError) {
    const HOLE: &[u8] = b"{byte}";
    let mut rest = text;
    while let Some(i) = memchr::memmem::find(rest, HOLE) {
        out.extend_from_slice(&rest[..i]);
        match err.found() {
            Some(b'\r' | b'\n') => out.push(b' '),
            Some(b) => out.push(b),
            None => {}
        }
        rest = &rest[i + HOLE.len()..];
    }
    out.extend_from_slice(rest);
}

/// The most bytes of a partly received message a channel keeps in storage of their own
/// size between reads, lending its full-size read buffer to others.
const SMALL_PARTIAL: usize = 2048;

mod cx;
mod spare;

pub use cx::Cx;

/// The decoder, made now if the connection had none (with the parameters set so far).
#[inline]
fn decoder<'d>(
    slot: &'d mut Option<Box<Decoder>>,
    program: &'static Program,
    params: Option<&[u64; MAX_PARAMS]>,
) -> &'d mut Decoder {
    slot.get_or_insert_with(|| new_decoder(program, params))
}

/// Whether `message` starts by opening a unit, which takes at least one byte (see
/// [`Message::ops`](super::Message::ops)).
fn opens_unit(message: &super::Message) -> bool {
    match message.ops.first() {
        Some(Op::Line | Op::Frame | Op::FrameWith(_)) => true,
        Some(Op::Fixed(n)) => *n > 0,
        _ => false,
    }
}

/// A decoder for a connection that has none: a spare one of the thread's, or a new one.
#[cold]
fn new_decoder(program: &'static Program, params: Option<&[u64; MAX_PARAMS]>) -> Box<Decoder> {
    let mut d = spare::take_decoder(program).unwrap_or_else(|| Box::new(Decoder::new(program)));
    d.set_params(params.unwrap_or(&[0; MAX_PARAMS]));
    d
}

/// The most messages a generated channel handles in one pass of the loop: then the others
/// have their turn, and it goes on in the next pass (a client pipelining thousands of requests, or a
/// chat line fanned out to every member, cannot hold the loop).
pub const MESSAGE_BUDGET: usize = 64;

/// How many times a generated channel stopped for the pass with requests waiting,
/// because it had handled [`MESSAGE_BUDGET`] messages: [`budget_yields`].
static BUDGET_YIELDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times, in this process, a generated channel let the other channels of its
/// loop have their turn with requests of its own still waiting, because it had handled
/// [`MESSAGE_BUDGET`] messages in one pass (memcached's `conn_yields`).
///
/// ```
/// let before = asyncore_runtime::wire::budget_yields();
/// assert!(asyncore_runtime::wire::budget_yields() >= before);
/// ```
pub fn budget_yields() -> u64 {
    BUDGET_YIELDS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The most reply bytes a generated channel gathers before handing them to the channel's
/// output buffer (where the output limit applies): 64 KiB.
pub const REPLY_BATCH: usize = 64 * 1024;

/// What a handler asked about the requests after the one it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Nothing: they are decoded in turn.
    Free,
    /// To produce more of its reply first ([`Cx::produce_later`]).
    Produce,
    /// To wait for something outside the connection ([`Cx::wait`]).
    Wait,
}

/// What generated channels do with an error a handler returned (or a failed connect):
/// log it as [`Dispatcher::handle_error`](crate::Dispatcher::handle_error) does, and give
/// the reason to pass on to `on_close`. `Error::Exit` is returned as is, to leave the loop.
///
/// ```
/// use asyncore_runtime::{wire, Error};
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let reason = wire::close_reason("client", Error::Io(refused)).unwrap();
/// assert_eq!(reason.unwrap().kind(), std::io::ErrorKind::ConnectionRefused);
/// assert!(matches!(wire::close_reason("client", Error::Exit), Err(Error::Exit)));
/// ```
pub fn close_reason(channel: &str, err: crate::Error) -> Result<Option<std::io::Error>> {
    match err {
        crate::Error::Exit => Err(crate::Error::Exit),
        crate::Error::Io(e) => {
            log::error!(target: "asyncore_runtime::dispatcher", "closing {channel}: {e}");
            Ok(Some(e))
        }
        other => {
            log::error!(target: "asyncore_runtime::dispatcher", "closing {channel}: {other}");
            Ok(Some(std::io::Error::other(other.to_string())))
        }
    }
}

/// How generated channels end a connection in `handle_close`: when the peer stopped
/// sending (no `reason`), once the queued replies are sent (asynchat's
/// `close_when_done`); after an error, at once.
///
/// ```
/// // Called by generated channels; nothing to do by hand.
/// let _ = asyncore_runtime::wire::close_channel;
/// ```
pub fn close_channel(ch: &mut Channel<'_>, reason: Option<&std::io::Error>) {
    if reason.is_none() {
        ch.close_when_done();
    } else {
        ch.close();
    }
}

/// Logs bad input at the `debug` level: the default `on_bad_input` of generated handlers.
/// (A connection the bad input ends is logged once more, at `info`, with its peer: a
/// client sending junk cannot make a server at the default `warn` level write a line per
/// request.)
///
/// ```
/// // Called by generated channels; nothing to do by hand.
/// let _ = asyncore_runtime::wire::log_bad_input;
/// ```
pub fn log_bad_input(err: &DecodeError) {
    log::debug!(target: "asyncore_runtime::wire", "{err}");
}
