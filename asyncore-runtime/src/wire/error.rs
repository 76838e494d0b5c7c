//! The errors of the [`Decoder`](super::Decoder): what went wrong, which message, where,
//! and whether the stream can be resynchronised.

use std::fmt;
use std::io;

#[allow(unused_imports)] // named by the rustdoc links
use super::{Decoder, Framing, LengthHeader, Message, Op, Program};

/// Which limit an [`Oversize`](DecodeErrorKind::Oversize) error is about.
///
/// ```
/// use asyncore_runtime::wire::Limit;
///
/// assert_eq!(Limit::Line.to_string(), "line");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The framing's longest line ([`Framing::Line`] `max`).
    Line,
    /// The longest frame body ([`LengthHeader::max`]).
    Frame,
    /// The longest counted run of bytes ([`Op::Bytes`] `max`).
    Bytes,
    /// The most items of a repetition (`max` of [`Op::Repeat`], [`Op::Many`],
    /// [`Op::ManyUntil`]).
    Items,
    /// The longest run of lines ([`Op::LinesUntil`] `max`).
    Lines,
    /// The most bytes one message spans ([`Message::max`]).
    Message,
}

impl Limit {
    pub(super) fn unit(self) -> &'static str {
        match self {
            Limit::Items => "items",
            _ => "bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Line => "line",
            Limit::Frame => "frame",
            Limit::Bytes => "counted run",
            Limit::Items => "repetition",
            Limit::Lines => "run of lines",
            Limit::Message => "message",
        })
    }
}

/// What a [`DecodeError`] is about.
///
/// ```
/// use asyncore_runtime::wire::{DecodeErrorKind, Limit};
///
/// let kind = DecodeErrorKind::Oversize { what: Limit::Frame, limit: 1024, size: Some(5000) };
/// assert_eq!(kind.to_string(), "frame of 5000 bytes is over the limit of 1024 bytes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Over one of the program's limits.
    Oversize {
        /// Which limit.
        what: Limit,
        /// Its value.
        limit: usize,
        /// The size announced (a frame or counted run's length, a repetition count), when
        /// known; `None` when the error is raised as the bytes or items arrive.
        size: Option<u64>,
    },
    /// No message of the program matches.
    Unknown,
    /// A message of the program matches, but it is not allowed in the current state.
    NotAllowed {
        /// The message found.
        message: &'static str,
    },
    /// The input does not match the message.
    Invalid {
        /// What was expected ("a word", "the end of the line"...).
        what: &'static str,
    },
    /// A literal of the message is missing.
    Literal {
        /// The literal expected.
        expected: &'static [u8],
    },
    /// An integer outside its bounds.
    OutOfRange {
        /// The smallest value accepted.
        min: i128,
        /// The largest value accepted.
        max: i128,
    },
    /// A bare `"\n"` in a line of a strict CRLF protocol.
    BareLf,
    /// The program itself is malformed (a compiler bug, never the input's fault).
    Program {
        /// What is wrong with it.
        what: &'static str,
    },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeErrorKind::Oversize {
                what,
                limit,
                size: Some(size),
            } => write!(
                f,
                "{what} of {size} {unit} is over the limit of {limit} {unit}",
                unit = what.unit()
            ),
            DecodeErrorKind::Oversize {
                what,
                limit,
                size: None,
            } => write!(f, "{what} over the limit of {limit} {}", what.unit()),
            DecodeErrorKind::Unknown => f.write_str("unknown message"),
            DecodeErrorKind::NotAllowed { message } => {
                write!(f, "message {message} not allowed in this state")
            }
            DecodeErrorKind::Invalid { what } => write!(f, "expected {what}"),
            DecodeErrorKind::Literal { expected } => {
                write!(f, "expected \"{}\"", expected.escape_ascii())
            }
            DecodeErrorKind::OutOfRange { min, max } => {
                write!(f, "integer out of the range {min}..={max}")
            }
            DecodeErrorKind::BareLf => f.write_str("bare LF (\"\\n\" without \"\\r\") in a line"),
            DecodeErrorKind::Program { what } => write!(f, "malformed program: {what}"),
        }
    }
}

/// An error of a [`Decoder`]: what went wrong ([`kind`](Self::kind)), in which protocol
/// and message, at which byte of the message, and whether decoding can go on.
///
/// Displayed as `protocol: what (message Name, byte N)`. Converts into [`io::Error`]
/// (kind `InvalidData`) and [`crate::Error`], so `?` works in handlers.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::wire::{Decoder, DecodeErrorKind, Framing, Limit, Message, Op, Program};
///
/// static PROGRAM: Program = Program {
///     name: "resp",
///     framing: Framing::Line { term: b"\r\n", max: 16, bare_lf: false, nocase: false },
///     messages: &[Message { name: "Simple", slots: 1, max: 18, ops: &[Op::Line, Op::Lit(b"+"), Op::Rest { slot: 0 }, Op::EndLine] }],
/// };
/// let mut decoder = Decoder::new(&PROGRAM);
/// let err = decoder.decode(b"+this line is too long", &[0]).unwrap_err();
/// // Too long to be whole, but it starts as `Simple` does: that message's error.
/// assert_eq!(err.to_string(), "resp: line over the limit of 16 bytes (message Simple, byte 0)");
/// assert_eq!(*err.kind(), DecodeErrorKind::Oversize { what: Limit::Line, limit: 16, size: None });
/// assert!(err.can_continue());
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub(super) kind: DecodeErrorKind,
    pub(super) protocol: &'static str,
    pub(super) message: Option<&'static str>,
    pub(super) offset: usize,
    pub(super) can_continue: bool,
    pub(super) op: Option<u16>,
    pub(super) found: Option<u8>,
}

impl DecodeError {
    /// What went wrong.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, DecodeErrorKind, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"PONG\n", &[0]).unwrap_err();
    /// assert_eq!(*err.kind(), DecodeErrorKind::Unknown);
    /// ```
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The protocol's name ([`Program::name`]).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"PONG\n", &[0]).unwrap_err();
    /// assert_eq!(err.protocol(), "ping");
    /// ```
    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    /// The message being decoded, once one was chosen (or the message whose mismatch got
    /// furthest, for an error in the first unit).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "set",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Set", slots: 1, max: 65, ops: &[Op::Line, Op::Lit(b"SET "), Op::Uint { slot: 0, max: 9 }, Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"SET x\n", &[0]).unwrap_err();
    /// assert_eq!(err.message(), Some("Set"));
    /// assert_eq!(err.to_string(), "set: expected an unsigned integer (message Set, byte 4)");
    /// ```
    pub fn message(&self) -> Option<&'static str> {
        self.message
    }

    /// The offset of the offending byte from the first byte of the message.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "set",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Set", slots: 1, max: 65, ops: &[Op::Line, Op::Lit(b"SET "), Op::Uint { slot: 0, max: 9 }, Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"SET 12\n", &[0]).unwrap_err();
    /// assert_eq!(err.offset(), 4);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Whether the decoder can resynchronise: calling [`Decoder::decode`] again skips the
    /// offending input (see [`Decoder`], "Recovery") and goes on. When `false`, the
    /// stream is lost: close the connection.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, LengthHeader, Message, Op, Program};
    /// // A 1-byte length that counts itself: a length of 0 is negative once adjusted.
    /// static PROGRAM: Program = Program {
    ///     name: "tiny",
    ///     framing: Framing::Length(LengthHeader { offset: 0, width: 1, big_endian: true, adjust: -1, skip: 1, max: 100 }),
    ///     messages: &[Message { name: "Any", slots: 1, max: 101, ops: &[Op::Frame, Op::Rest { slot: 0 }, Op::EndFrame] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// let err = decoder.decode(b"\x00", &[0]).unwrap_err();
    /// assert!(!err.can_continue());
    /// assert_eq!(decoder.decode(b"\x02a", &[0]), Err(err)); // the same error, again
    /// ```
    pub fn can_continue(&self) -> bool {
        self.can_continue
    }

    /// The index, in the ops of [`message`](Self::message), of the op that failed: which
    /// part of the message was wrong (generated channels answer it with that part's own
    /// policy, written `else` in the description). For a first line over its limit, it
    /// is 0 (the line's [`Op::Line`]), and the message is the first allowed one whose
    /// leading literal the line starts with. `None` when no message is concerned.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "set",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Set", slots: 1, max: 65, ops: &[Op::Line, Op::Lit(b"SET "), Op::Uint { slot: 0, max: 9 }, Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"SET x\n", &[0]).unwrap_err();
    /// assert_eq!(err.op(), Some(2)); // the `Uint`
    /// let err = Decoder::new(&PROGRAM).decode(b"GET x\n", &[0]).unwrap_err();
    /// assert_eq!(err.op(), None); // unknown: no message
    /// ```
    pub fn op(&self) -> Option<usize> {
        self.op.map(usize::from)
    }

    /// The byte found at [`offset`](Self::offset), where the input went wrong, if it was
    /// buffered: what a reply such as Redis's `expected '$', got 'f'` names.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "set",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Set", slots: 1, max: 65, ops: &[Op::Line, Op::Lit(b"SET "), Op::Uint { slot: 0, max: 9 }, Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"SET x\n", &[0]).unwrap_err();
    /// assert_eq!(err.found(), Some(b'x'));
    /// ```
    pub fn found(&self) -> Option<u8> {
        self.found
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (", self.protocol, self.kind)?;
        if let Some(message) = self.message {
            write!(f, "message {message}, ")?;
        }
        write!(f, "byte {})", self.offset)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for io::Error {
    /// An [`io::ErrorKind::InvalidData`] error carrying the `DecodeError`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"PONG\n", &[0]).unwrap_err();
    /// let io = std::io::Error::from(err);
    /// assert_eq!(io.to_string(), "ping: unknown message (byte 0)");
    /// ```
    fn from(e: DecodeError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl From<DecodeError> for crate::Error {
    /// An [`Error::Other`](crate::Error::Other) carrying the `DecodeError`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let err = Decoder::new(&PROGRAM).decode(b"PONG\n", &[0]).unwrap_err();
    /// let err = asyncore_runtime::Error::from(err);
    /// assert_eq!(err.to_string(), "ping: unknown message (byte 0)");
    /// ```
    fn from(e: DecodeError) -> Self {
        crate::Error::Other(Box::new(e))
    }
}
