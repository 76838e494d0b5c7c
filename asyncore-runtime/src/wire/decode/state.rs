//! The [`Decoder`]'s accessors: its parameters, program and slots, whether it is between
//! messages, the fast path's entry, and the buffer it needs.

use super::*;

impl Decoder {
    /// Sets the values the [`Op::Param`] ops of the next messages read (the first
    /// `params.len()`, at most [`MAX_PARAMS`]; the others keep their values). Generated
    /// channels call it when a handler moves to a state whose message takes parameters
    /// (an HTTP body whose length the request's headers gave).
    ///
    /// ```
    /// use asyncore_runtime::wire::{bytes_at, Decoded, Decoder, Framing, Message, Op, Program};
    ///
    /// // `client Body(length) = data:bytes[length] max 64`
    /// static PROGRAM: Program = Program {
    ///     name: "body",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Body", slots: 2, max: 64, ops: &[
    ///         Op::Param { slot: 0, param: 0 },
    ///         Op::Bytes { slot: 1, len: 0, len_in_message: true, max: 64 },
    ///     ] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// decoder.set_params(&[5]);
    /// let input = b"hello, and the next request";
    /// assert_eq!(decoder.decode(input, &[0])?, Decoded::Message { index: 0, len: 5 });
    /// assert_eq!(bytes_at(input, decoder.slots()[1]), b"hello");
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn set_params(&mut self, params: &[u64]) {
        for (to, from) in self.params.iter_mut().zip(params) {
            *to = *from;
        }
    }

    /// The program this decoder runs.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Program};
    /// static EMPTY: Program = Program {
    ///     name: "empty",
    ///     framing: Framing::Line { term: b"\n", max: 8, bare_lf: false, nocase: false },
    ///     messages: &[],
    /// };
    /// assert!(Decoder::new(&EMPTY).program().messages.is_empty());
    /// ```
    pub fn program(&self) -> &'static Program {
        self.program
    }

    /// The slots of the message [`decode`](Self::decode) just returned, as many as its
    /// [`Message::slots`]. Ranges are offsets into the buffer passed to `decode`.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program, Slot};
    ///
    /// static PROGRAM: Program = Program {
    ///     name: "kv",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Set", slots: 2, max: 65,
    ///         ops: &[Op::Line, Op::Word { slot: 0 }, Op::Sep, Op::Uint { slot: 1, max: 999 }, Op::EndLine] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"x 42\n", &[0])?, Decoded::Message { index: 0, len: 5 });
    /// assert_eq!(decoder.slots(), [Slot::Range(0, 1), Slot::Int(42)]);
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The repetition items of the message [`decode`](Self::decode) just returned; a
    /// [`Slot::Seq`] in [`slots`](Self::slots) points into them (read them with
    /// [`seq_at`](crate::wire::seq_at)).
    ///
    /// ```
    /// use asyncore_runtime::wire::{seq_at, Decoded, Decoder, Framing, Message, Op, Program, Seq};
    ///
    /// // `get keys:word+`
    /// static PROGRAM: Program = Program {
    ///     name: "get",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Get", slots: 1, max: 66, ops: &[
    ///         Op::Line, Op::Lit(b"get"),
    ///         Op::Many { slot: 0, len: 2, stride: 1, min: 1, max: 8 }, Op::Sep, Op::Word { slot: 0 },
    ///         Op::EndLine,
    ///     ] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// let buf = b"get a bc\r\n";
    /// assert_eq!(decoder.decode(buf, &[0])?, Decoded::Message { index: 0, len: 10 });
    /// let keys: Seq<'_, &[u8]> = seq_at(buf, decoder.items(), decoder.slots()[0]);
    /// assert_eq!(keys, [&b"a"[..], b"bc"]);
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn items(&self) -> &[Slot] {
        &self.items
    }

    /// Forgets any partial message, any recovery in progress and any error: the next call
    /// of [`decode`](Self::decode) starts a new message at the first byte of its buffer.
    /// For a new stream, or a buffer the caller has emptied itself.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"PI", &[0])?, Decoded::NeedMore);
    /// decoder.reset();
    /// assert_eq!(decoder.decode(b"PING\n", &[0])?, Decoded::Message { index: 0, len: 5 });
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.discard = false;
        self.resume = Resume::None;
        self.stack.clear();
        self.item = None;
        self.unit = Unit::default();
        self.pos = 0;
        self.scan = 0;
    }

    /// Whether the decoder is between messages: no partial message, no input being
    /// skipped. The fast path of generated decoders only runs then.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert!(decoder.is_idle());
    /// assert_eq!(decoder.decode(b"PI", &[0])?, asyncore_runtime::wire::Decoded::NeedMore);
    /// assert!(!decoder.is_idle());
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    #[inline]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Start)
    }

    /// Whether nothing of the next message has been taken in: the decoder is between
    /// messages, or has begun one (waiting for its first byte, as after the last message
    /// of a read) without a byte of it. Such a decoder can be dropped and made again
    /// (with the same parameters) without changing what it decodes next: generated
    /// channels give theirs back between messages.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"", &[0])?, Decoded::NeedMore);
    /// assert!(decoder.holds_nothing() && !decoder.is_idle());
    /// assert_eq!(decoder.decode(b"PI", &[0])?, Decoded::NeedMore);
    /// assert!(!decoder.holds_nothing());
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn holds_nothing(&self) -> bool {
        match self.state {
            State::Start => true,
            State::First | State::Run => {
                self.pos == 0 && self.scan == 0 && !self.discard && self.unit.next == 0
            }
            _ => false,
        }
    }

    /// For the fast path: makes message `index` the current one, with its `N` slots (the
    /// message's [`Message::slots`]) and no items, and returns the slots and the item
    /// vector to fill; `None` if the message is not in the program or has another number of
    /// slots. The slots hold whatever the last message left there: the fast path must write
    /// every one of them (generated fast paths do, emptying those a matching path may
    /// skip). The decoder stays between messages, so a fast path that gives up leaves
    /// nothing behind.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program, Slot};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Say", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// let (slots, items) = decoder.fast_begin::<1>(0).unwrap();
    /// slots[0] = Slot::Range(0, 2);
    /// assert!(items.is_empty());
    /// assert_eq!(decoder.slots(), [Slot::Range(0, 2)]);
    /// assert!(decoder.fast_begin::<2>(0).is_none());
    /// ```
    #[inline]
    pub fn fast_begin<const N: usize>(
        &mut self,
        index: u16,
    ) -> Option<(&mut [Slot; N], &mut Vec<Slot>)> {
        // Resizing only when the message changes: emptying the slots of every message
        // costs the fast path a tenth of its time, and it writes them all anyway.
        if (self.slots.len() != N || self.msg != index) && !self.fast_resize(index, N) {
            return None;
        }
        self.msg = index;
        self.items.clear();
        let slots = <&mut [Slot; N]>::try_from(&mut self.slots[..]).ok()?;
        Some((slots, &mut self.items))
    }

    /// [`fast_begin`](Self::fast_begin) for another message than the last: `n` empty
    /// slots, if message `index` has that many. Out of line, so that the code of each
    /// message's fast decoder holds one call rather than a copy of the resizing.
    #[inline(never)]
    pub(super) fn fast_resize(&mut self, index: u16, n: usize) -> bool {
        match self.program.messages.get(usize::from(index)) {
            Some(m) if usize::from(m.slots) == n => {
                self.slots.clear();
                self.slots.resize(n, Slot::Empty);
                true
            }
            _ => false,
        }
    }

    /// The most bytes the caller's buffer must be able to hold for this decoder to decide
    /// on every message: the largest [`Message::max`] (plus the frame header in a
    /// length-prefixed protocol), and at least one whole first unit. Size a
    /// [`FrameBuf`](crate::codec::FrameBuf) with it.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// static PROGRAM: Program = Program {
    ///     name: "ping",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Ping", slots: 0, max: 66, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// };
    /// assert_eq!(Decoder::new(&PROGRAM).buffer_limit(), 66);
    /// ```
    pub fn buffer_limit(&self) -> usize {
        let messages = self.program.messages;
        let largest = messages.iter().map(|m| m.max as usize).max().unwrap_or(0);
        // First units of other framings are waited for whole before a message is chosen.
        let others = messages
            .iter()
            .map(|m| match m.ops.first() {
                Some(Op::FrameWith(h)) => frame_limit(h).1,
                Some(&Op::Fixed(n)) => n as usize,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let own = match self.program.framing {
            Framing::Line { term, max, .. } => {
                largest.max((max as usize).saturating_add(term.len()))
            }
            Framing::Length(h) => {
                let (header, frame) = frame_limit(&h);
                largest.saturating_add(header).max(frame)
            }
        };
        own.max(others)
    }

    /// Whether the decoder is dropping input after an error (the next calls return
    /// [`Decoded::Skip`] steps before any message).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 4, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 5, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert!(decoder.decode(b"PINGPONG", &[0]).is_err()); // a line over 4 bytes
    /// assert!(decoder.is_recovering());
    /// ```
    pub fn is_recovering(&self) -> bool {
        self.discard || matches!(self.state, State::SkipLine { .. } | State::SkipBytes { .. })
    }

    /// Bytes examined by terminator searches since the decoder was made (a test hook for
    /// the linear-time guarantee).
    #[doc(hidden)]
    pub fn scanned_bytes(&self) -> u64 {
        self.scanned
    }
}
