//! Messages encoded from a list of parts: what generated encoders of messages made only
//! of literals, separators and plain fields hand to the runtime, instead of a call per
//! part of their own.

use super::{EncodeError, Encoder};
use crate::wire::Framing;

/// One part of a message for [`Encoder::encode_parts`]: a literal, a separator, or a
/// field (by its name, for errors) whose value is the next of the values given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodePart {
    /// [`Encoder::lit`].
    Lit(&'static [u8]),
    /// [`Encoder::sep`].
    Sep,
    /// [`Encoder::end_line`].
    EndLine,
    /// [`Encoder::word`] of the next value.
    Word(&'static str),
    /// [`Encoder::token`] of the next value.
    Token(&'static str),
    /// [`Encoder::rest`] of the next value.
    Rest(&'static str),
    /// [`Encoder::uint`] of the next value, with its maximum.
    Uint(&'static str, u64),
    /// [`Encoder::int`] of the next value, with its minimum and maximum.
    Int(&'static str, i64, i64),
    /// [`Encoder::hex`] of the next value, with its maximum.
    Hex(&'static str, u64),
    /// [`Encoder::bytes`] of the next value, with its maximum length.
    Bytes(&'static str, u32),
}

/// The value of a field part of [`Encoder::encode_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeValue<'a> {
    /// Bytes: for words, tokens, rests of line and byte strings.
    Bytes(&'a [u8]),
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
}

/// The bytes of `v`, if it is bytes (empty otherwise, or when missing).
fn bytes_of<'a>(v: Option<&EncodeValue<'a>>) -> &'a [u8] {
    match v {
        Some(EncodeValue::Bytes(b)) => b,
        _ => &[],
    }
}

/// The integer in `v` as a `u64` (a signed one in two's complement; 0 when missing).
fn uint_of(v: Option<&EncodeValue<'_>>) -> u64 {
    match v {
        Some(EncodeValue::Uint(n)) => *n,
        Some(EncodeValue::Int(n)) => *n as u64,
        _ => 0,
    }
}

/// The integer in `v` as an `i64` (an unsigned one cast; 0 when missing).
fn int_of(v: Option<&EncodeValue<'_>>) -> i64 {
    match v {
        Some(EncodeValue::Int(n)) => *n,
        Some(EncodeValue::Uint(n)) => *n as i64,
        _ => 0,
    }
}

impl Encoder<'_> {
    /// Appends one message made of `parts` to `out`, the field parts taking `values` in
    /// order, then [finishes](Encoder::finish) it: the same bytes and errors as a call per
    /// part. On an error nothing is appended. A field part whose value is missing or of
    /// another kind reads it as empty bytes or 0.
    ///
    /// ```
    /// use asyncore_runtime::wire::{EncodePart as P, EncodeValue as V, Encoder, Framing};
    ///
    /// static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// const SET: &[P] = &[P::Lit(b"set"), P::Sep, P::Word("key"), P::Sep, P::Uint("flags", 65535), P::EndLine];
    /// let mut out = Vec::new();
    /// Encoder::encode_parts(&mut out, &LINES, SET, &[V::Bytes(b"k1"), V::Uint(3)]).unwrap();
    /// assert_eq!(out, b"set k1 3\r\n");
    /// let err = Encoder::encode_parts(&mut out, &LINES, SET, &[V::Bytes(b"k 1"), V::Uint(3)]);
    /// assert_eq!(err.unwrap_err().field(), "key");
    /// assert_eq!(out, b"set k1 3\r\n"); // the failed message left nothing
    /// ```
    pub fn encode_parts(
        out: &mut Vec<u8>,
        framing: &'static Framing,
        parts: &[EncodePart],
        values: &[EncodeValue<'_>],
    ) -> Result<(), EncodeError> {
        let mut e = Encoder::new(out, framing);
        let mut values = values.iter();
        for part in parts {
            match *part {
                EncodePart::Lit(b) => e.lit(b),
                EncodePart::Sep => e.sep(),
                EncodePart::EndLine => e.end_line(),
                EncodePart::Word(n) => e.word(n, bytes_of(values.next()))?,
                EncodePart::Token(n) => e.token(n, bytes_of(values.next()))?,
                EncodePart::Rest(n) => e.rest(n, bytes_of(values.next()))?,
                EncodePart::Uint(n, max) => e.uint(n, uint_of(values.next()), max)?,
                EncodePart::Int(n, min, max) => e.int(n, int_of(values.next()), min, max)?,
                EncodePart::Hex(n, max) => e.hex(n, uint_of(values.next()), max)?,
                EncodePart::Bytes(n, max) => e.bytes(n, bytes_of(values.next()), max)?,
            }
        }
        e.finish()
    }
}
