//! Messages encoded from a list of parts: what the generated encoders of a large
//! description hand to the runtime, instead of a call per part of their own. Lines and
//! frames, plain, binary and optional fields are parts; a message with a repetition is
//! still written by code of its own.

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
    /// [`Encoder::one_of`] of the next value, with the literals it may be.
    OneOf(&'static str, &'static [&'static [u8]]),
    /// [`Encoder::begin_frame`].
    BeginFrame,
    /// [`Encoder::end_frame`].
    EndFrame,
    /// [`Encoder::begin_fixed`].
    BeginFixed,
    /// [`Encoder::end_fixed`], with the unit's size.
    EndFixed(u32),
    /// [`Encoder::length_field`].
    LengthField,
    /// [`Encoder::bin`] of the next value: its width in bytes, and whether it is
    /// big-endian.
    Bin(&'static str, u8, bool),
    /// [`Encoder::bin_signed`] of the next value: its width in bytes, and whether it is
    /// big-endian.
    BinSigned(&'static str, u8, bool),
    /// [`Encoder::bits`] of the next value: the shift and the number of bits.
    Bits(&'static str, u8, u8),
    /// [`Encoder::bits_lit`]: the value, the shift and the number of bits.
    BitsLit(u8, u8, u8),
    /// [`Encoder::varint`] of the next value, with its maximum.
    Varint(&'static str, u64),
    /// [`Encoder::cstr`] of the next value.
    CStr(&'static str),
    /// A flag, the next value (a [`EncodeValue::Uint`], 0 for unset): the given number of
    /// parts after this one are written only when it is set.
    IfSet(u16),
    /// An optional field, the next value: when it is [`EncodeValue::Absent`] it is taken
    /// and the given number of parts after this one are skipped; when it is there, those
    /// parts write it.
    IfPresent(u16),
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
    /// An optional field that is not there ([`EncodePart::IfPresent`]).
    Absent,
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

/// Passes over the next `n` parts.
fn skip_parts(parts: &mut std::slice::Iter<'_, EncodePart>, n: u16) {
    for _ in 0..n {
        parts.next();
    }
}

impl Encoder<'_> {
    /// Appends one message made of `parts` to `out`, the field parts taking `values` in
    /// order, then [finishes](Encoder::finish) it: the same bytes and errors as a call per
    /// part. On an error nothing is appended. A field part whose value is missing or of
    /// another kind reads it as empty bytes or 0. Parts that an unset flag or an absent
    /// optional field skip take no values.
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
    ///
    /// // A frame with a length prefix, an opcode, an optional field and a flag.
    /// static FRAMES: Framing = Framing::Length(asyncore_runtime::wire::LengthHeader {
    ///     offset: 0, width: 2, big_endian: true, adjust: 0, skip: 2, max: 64,
    /// });
    /// const PUT: &[P] = &[
    ///     P::BeginFrame, P::Lit(b"\x07"), P::Bin("id", 2, true),
    ///     P::IfPresent(1), P::CStr("name"),
    ///     P::IfSet(1), P::Lit(b"!"), P::EndFrame,
    /// ];
    /// let mut out = Vec::new();
    /// Encoder::encode_parts(&mut out, &FRAMES, PUT, &[V::Uint(258), V::Bytes(b"ab"), V::Uint(1)]).unwrap();
    /// assert_eq!(out, b"\x00\x07\x07\x01\x02ab\x00!");
    /// out.clear();
    /// Encoder::encode_parts(&mut out, &FRAMES, PUT, &[V::Uint(258), V::Absent, V::Uint(0)]).unwrap();
    /// assert_eq!(out, b"\x00\x03\x07\x01\x02");
    /// ```
    pub fn encode_parts(
        out: &mut Vec<u8>,
        framing: &'static Framing,
        parts: &[EncodePart],
        values: &[EncodeValue<'_>],
    ) -> Result<(), EncodeError> {
        let mut e = Encoder::new(out, framing);
        let mut values = values.iter().peekable();
        let mut parts = parts.iter();
        while let Some(part) = parts.next() {
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
                EncodePart::OneOf(n, lits) => e.one_of(n, bytes_of(values.next()), lits)?,
                EncodePart::BeginFrame => e.begin_frame(),
                EncodePart::EndFrame => e.end_frame()?,
                EncodePart::BeginFixed => e.begin_fixed(),
                EncodePart::EndFixed(size) => e.end_fixed(size)?,
                EncodePart::LengthField => e.length_field(),
                EncodePart::Bin(n, width, big) => e.bin(n, uint_of(values.next()), width, big)?,
                EncodePart::BinSigned(n, width, big) => {
                    e.bin_signed(n, int_of(values.next()), width, big)?
                }
                EncodePart::Bits(n, shift, bits) => {
                    e.bits(n, uint_of(values.next()), shift, bits)?
                }
                EncodePart::BitsLit(v, shift, bits) => e.bits_lit(v, shift, bits),
                EncodePart::Varint(n, max) => e.varint(n, uint_of(values.next()), max)?,
                EncodePart::CStr(n) => e.cstr(n, bytes_of(values.next()))?,
                EncodePart::IfSet(skip) => {
                    if uint_of(values.next()) == 0 {
                        skip_parts(&mut parts, skip);
                    }
                }
                EncodePart::IfPresent(skip) => {
                    if values.next_if_eq(&&EncodeValue::Absent).is_some() {
                        skip_parts(&mut parts, skip);
                    }
                }
            }
        }
        e.finish()
    }
}
