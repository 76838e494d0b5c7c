//! [`EncodeError`]: why an [`Encoder`](super::Encoder) refused a value.

use std::fmt;
use std::io;

#[allow(unused_imports)] // named by the rustdoc links
use super::Encoder;

// ===== EncodeError =====

/// Why an [`Encoder`] refused a value: the field (empty for frame errors) and the
/// [`EncodeErrorKind`].
///
/// Converts into [`io::Error`] (kind `InvalidInput`) and [`crate::Error`], so `?` works
/// in handlers.
///
/// ```
/// use asyncore_runtime::wire::{EncodeErrorKind, Encoder, Framing};
///
/// static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
/// let mut out = Vec::new();
/// let err = Encoder::new(&mut out, &LINES).word("key", b"a b").unwrap_err();
/// assert_eq!(err.field(), "key");
/// assert!(matches!(err.kind(), EncodeErrorKind::Byte { byte: b' ', position: 1, .. }));
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeError {
    pub(super) field: &'static str,
    pub(super) kind: EncodeErrorKind,
}

impl EncodeError {
    /// The field whose value was refused; empty for an error about the frame.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let err = Encoder::new(&mut out, &LINES).uint("port", 70_000, 65_535).unwrap_err();
    /// assert_eq!(err.field(), "port");
    /// ```
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What was wrong.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{EncodeErrorKind, Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let err = Encoder::new(&mut out, &LINES).uint("port", 70_000, 65_535).unwrap_err();
    /// assert_eq!(*err.kind(), EncodeErrorKind::OutOfRange { value: 70_000, min: 0, max: 65_535 });
    /// ```
    pub fn kind(&self) -> &EncodeErrorKind {
        &self.kind
    }
}

/// What an [`EncodeError`] refused.
///
/// ```
/// use asyncore_runtime::wire::EncodeErrorKind;
///
/// let kind = EncodeErrorKind::Empty { what: "a word" };
/// assert_eq!(kind.to_string(), "a word cannot be empty");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// An element that needs at least one byte got none.
    Empty {
        /// The element ("a word", "a token").
        what: &'static str,
    },
    /// A byte the element cannot hold (a space in a word, a CR in a rest of line...).
    Byte {
        /// The element ("a word", "a rest of line", "a body line"...).
        what: &'static str,
        /// The byte.
        byte: u8,
        /// Where in the value.
        position: usize,
    },
    /// The value is not one of the literals of a `OneOf`.
    NotOneOf,
    /// An integer outside the field's bounds (or, for a length field, what it can hold).
    OutOfRange {
        /// The value.
        value: i128,
        /// The smallest value accepted.
        min: i128,
        /// The largest value accepted.
        max: i128,
    },
    /// A run of bytes, a body, a line or a frame over its limit.
    TooLong {
        /// The element ("a run", "a body", "a body line", "a frame body").
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A body line that, stuffed, equals the marker line and would end the body early.
    Marker,
    /// A binary integer width other than 1, 2, 4 or 8.
    Width {
        /// The width asked for.
        width: u8,
    },
    /// Frame or fixed unit calls out of order, a unit of the wrong size, or a frame the
    /// header's layout cannot encode.
    Frame {
        /// What went wrong.
        what: &'static str,
    },
    /// A bit field that does not fit in a byte: `bits` must be 1 to 8 and `shift + bits`
    /// at most 8.
    BitField {
        /// How far the field is from the byte's low bit.
        shift: u8,
        /// Its width in bits.
        bits: u8,
    },
    /// Bit fields that do not fill each byte exactly, from its high bits to its low ones
    /// (the decoder would read them elsewhere).
    BitOrder,
    /// A field present only under a condition is present when the condition does not
    /// hold, or absent when it holds.
    Condition {
        /// Whether the condition wants the field present.
        present: bool,
    },
}

/// How a byte is named in messages: "a space", "':'", "the byte 0x00".
struct ByteName(u8);

impl fmt::Display for ByteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b' ' => f.write_str("a space"),
            b'\t' => f.write_str("a tab"),
            b'\r' => f.write_str("a carriage return"),
            b'\n' => f.write_str("a line feed"),
            b if b.is_ascii_graphic() => write!(f, "'{}'", b as char),
            b => write!(f, "the byte 0x{b:02x}"),
        }
    }
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeErrorKind::Empty { what } => write!(f, "{what} cannot be empty"),
            EncodeErrorKind::Byte {
                what,
                byte,
                position,
            } => write!(
                f,
                "{what} cannot contain {} (byte {position})",
                ByteName(byte)
            ),
            EncodeErrorKind::NotOneOf => {
                f.write_str("the value is not one of the allowed literals")
            }
            EncodeErrorKind::OutOfRange { value, min, max } => {
                write!(f, "{value} is out of the range {min}..={max}")
            }
            EncodeErrorKind::TooLong { what, len, max } => {
                write!(f, "{what} of {len} bytes is over the limit of {max} bytes")
            }
            EncodeErrorKind::Marker => {
                f.write_str("a body line equals the marker line and would end the body")
            }
            EncodeErrorKind::Width { width } => write!(
                f,
                "a binary integer cannot be {width} bytes wide (1, 2, 4 or 8)"
            ),
            EncodeErrorKind::Frame { what } => f.write_str(what),
            EncodeErrorKind::BitField { shift, bits } => write!(
                f,
                "a bit field of {bits} bits at shift {shift} does not fit in a byte"
            ),
            EncodeErrorKind::BitOrder => f.write_str(
                "bit fields must fill each byte exactly, from its high bits to its low ones",
            ),
            EncodeErrorKind::Condition { present: true } => {
                f.write_str("must be present: its condition holds")
            }
            EncodeErrorKind::Condition { present: false } => {
                f.write_str("must be absent: its condition does not hold")
            }
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "field `{}`: {}", self.field, self.kind)
        }
    }
}

impl std::error::Error for EncodeError {}

impl From<EncodeError> for io::Error {
    /// An [`io::ErrorKind::InvalidInput`] error carrying the `EncodeError`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let err = Encoder::new(&mut out, &LINES).word("key", b"").unwrap_err();
    /// let io = std::io::Error::from(err);
    /// assert_eq!(io.to_string(), "field `key`: a word cannot be empty");
    /// ```
    fn from(e: EncodeError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

impl From<EncodeError> for crate::Error {
    /// An [`Error::Other`](crate::Error::Other) carrying the `EncodeError`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let err = Encoder::new(&mut out, &LINES).word("key", b"").unwrap_err();
    /// let err = asyncore_runtime::Error::from(err);
    /// assert!(!err.is_disconnect());
    /// ```
    fn from(e: EncodeError) -> Self {
        crate::Error::Other(Box::new(e))
    }
}
