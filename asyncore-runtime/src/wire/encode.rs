//! [`Encoder`]: writes one message into a caller's `Vec<u8>`, refusing field values that
//! would not decode back to themselves.

mod binary;
mod error;
mod frames;
mod parts;

use super::view::Lines;
use super::{Framing, Quoted};
pub use error::{EncodeError, EncodeErrorKind};
use frames::OpenFrame;
pub use parts::{EncodePart, EncodeValue};

// ===== Encoder =====

/// Writes one message of a protocol into a `Vec<u8>`.
///
/// Generated encoders are straight-line code: one call per element of the message, in
/// order, then [`finish`](Self::finish). The field methods check the value against what
/// the decoder accepts (a word has no space, a rest of line no CR or LF, an integer is
/// within its bounds...) and return an [`EncodeError`] naming the field otherwise.
///
/// **Nothing half-written**: on any error the output is truncated back to where this
/// message started, and an encoder dropped without [`finish`](Self::finish) (because an
/// error was propagated with `?`) removes what it wrote too. Bytes already in the `Vec`
/// before [`Encoder::new`] are never touched.
///
/// # Examples
///
/// A memcached `set` (`"set" key:word flags:u32 exptime:i64 bytes:len(data) then
/// data:bytes "\r\n"`):
///
/// ```
/// use asyncore_runtime::wire::{Encoder, EncodeError, Framing};
///
/// static FRAMING: Framing = Framing::Line { term: b"\r\n", max: 2048, bare_lf: false, nocase: false };
///
/// fn set(out: &mut Vec<u8>, key: &[u8], flags: u64, data: &[u8]) -> Result<(), EncodeError> {
///     let mut e = Encoder::new(out, &FRAMING);
///     e.lit(b"set");
///     e.sep();
///     e.word("key", key)?;
///     e.sep();
///     e.uint("flags", flags, u32::MAX.into())?;
///     e.sep();
///     e.int("exptime", 0, i64::MIN, i64::MAX)?;
///     e.sep();
///     e.uint("bytes", data.len() as u64, 1 << 20)?;
///     e.end_line();
///     e.bytes("data", data, 1 << 20)?;
///     e.lit(b"\r\n");
///     e.finish()
/// }
///
/// let mut out = Vec::new();
/// set(&mut out, b"k", 5, b"hello")?;
/// assert_eq!(out, b"set k 5 0 5\r\nhello\r\n");
///
/// let err = set(&mut out, b"a key", 0, b"").unwrap_err();
/// assert_eq!(err.to_string(), "field `key`: a word cannot contain a space (byte 1)");
/// assert_eq!(out, b"set k 5 0 5\r\nhello\r\n"); // the failed message left nothing
/// # Ok::<(), EncodeError>(())
/// ```
#[derive(Debug)]
pub struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    /// Where this message starts in `out`.
    start: usize,
    framing: &'static Framing,
    /// The open frame.
    frame: Option<OpenFrame>,
    /// Where the open fixed unit starts in `out`.
    fixed: Option<usize>,
    /// The byte of bit fields being filled, and where the next field must end (its
    /// `shift + bits`).
    bits: Option<(usize, u8)>,
    /// A misuse of a call without a result, to report at the next call that has one
    /// (`end_frame`, `end_fixed`, `finish`).
    misuse: Option<EncodeErrorKind>,
    finished: bool,
}

impl<'o> Encoder<'o> {
    /// An encoder appending a message of a protocol with this framing to `out`.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing};
    ///
    /// static LINES: Framing = Framing::Line { term: b"\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = b"already there\n".to_vec();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit(b"PING");
    /// e.end_line();
    /// e.finish().unwrap();
    /// assert_eq!(out, b"already there\nPING\n");
    /// ```
    pub fn new(out: &'o mut Vec<u8>, framing: &'static Framing) -> Self {
        let start = out.len();
        Encoder {
            out,
            start,
            framing,
            frame: None,
            fixed: None,
            bits: None,
            misuse: None,
            finished: false,
        }
    }

    /// The bytes this message has written so far.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing};
    ///
    /// static LINES: Framing = Framing::Line { term: b"\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = b"x".to_vec();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit(b"ab");
    /// assert_eq!(e.written(), b"ab");
    /// ```
    pub fn written(&self) -> &[u8] {
        self.out.get(self.start..).unwrap_or(&[])
    }

    /// Writes literal bytes (a keyword, a separator, a trailer such as `b"\r\n"`).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit(b"QUIT");
    /// assert_eq!(e.written(), b"QUIT");
    /// ```
    pub fn lit(&mut self, b: &[u8]) {
        self.lit_inline(b);
    }

    /// [`lit`](Self::lit), inlined where it is called: the straight-line encoders of
    /// small descriptions use it, a literal then costs a store or two.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit_inline(b"+OK");
    /// e.end_line_inline();
    /// assert_eq!(e.written(), b"+OK\r\n");
    /// ```
    #[inline(always)]
    pub fn lit_inline(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    /// Writes one space, for [`Op::Sep`](super::Op::Sep) and
    /// [`Op::Ows`](super::Op::Ows).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit(b"a");
    /// e.sep();
    /// e.lit(b"b");
    /// assert_eq!(e.written(), b"a b");
    /// ```
    pub fn sep(&mut self) {
        self.out.push(b' ');
    }

    /// Writes a word: one or more bytes, none of them a space, a tab, a CR, an LF or a
    /// byte of the line terminator.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.word("key", b"user:1").unwrap();
    /// let err = e.word("key", b"").unwrap_err();
    /// assert_eq!(err.to_string(), "field `key`: a word cannot be empty");
    /// assert!(e.word("key", b"a\tb").is_err());
    /// ```
    pub fn word(&mut self, field: &'static str, v: &[u8]) -> Result<(), EncodeError> {
        if v.is_empty() {
            return Err(self.fail(field, EncodeErrorKind::Empty { what: "a word" }));
        }
        let term = self.term();
        if let Some(position) = v
            .iter()
            .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n') || term.contains(&b))
        {
            return Err(self.byte(field, "a word", v, position));
        }
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Writes one word of a `quoted` field: a value as it is when no quoting changes it,
    /// else in double quotes with escapes; a decoded word as it came, if it is one
    /// well-formed word.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, Quoted};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.quoted("args", Quoted::new(b"SET")).unwrap();
    /// e.sep();
    /// e.quoted("args", Quoted::new(b"a b")).unwrap();
    /// e.sep();
    /// e.quoted("args", Quoted::from_wire(b"'c'")).unwrap();
    /// assert_eq!(e.written(), b"SET \"a b\" 'c'");
    /// assert!(e.quoted("args", Quoted::from_wire(b"\"open")).is_err());
    /// ```
    pub fn quoted(&mut self, field: &'static str, v: Quoted<'_>) -> Result<(), EncodeError> {
        if let Some(wire) = v.wire() {
            if wire.is_empty() {
                return Err(self.fail(field, EncodeErrorKind::Empty { what: "a word" }));
            }
            if !v.is_one_word() {
                let position = super::quoted::word_end(wire, 0)
                    .map_or_else(|bad| bad.min(wire.len() - 1), |end| end.min(wire.len() - 1));
                return Err(self.byte(field, "a quoted word", wire, position));
            }
        }
        v.write_to(self.out);
        Ok(())
    }

    /// Writes an RFC 9110 token: one or more of `` !#$%&'*+-.^_`|~ ``, digits and letters.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.token("name", b"Content-Length").unwrap();
    /// let err = e.token("name", b"Bad:Name").unwrap_err();
    /// assert_eq!(err.to_string(), "field `name`: a token cannot contain ':' (byte 3)");
    /// ```
    pub fn token(&mut self, field: &'static str, v: &[u8]) -> Result<(), EncodeError> {
        if v.is_empty() {
            return Err(self.fail(field, EncodeErrorKind::Empty { what: "a token" }));
        }
        if let Some(position) = v.iter().position(|&b| !is_tchar(b)) {
            return Err(self.byte(field, "a token", v, position));
        }
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Writes the rest of a unit. In a line protocol it cannot contain a byte of the
    /// terminator (so with `"\r\n"` no CR and no LF; with `"\n"` a CR is data, as for
    /// [`LineFramer`](crate::codec::LineFramer)), nor end in a CR when the terminator is
    /// `"\n"` with `bare_lf` set (the framing of a protocol whose readers also take
    /// `"\r\n"`: they would take a final CR for part of the terminator; a lone CR inside
    /// the line is data to them); in a length-prefixed protocol any bytes go.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.rest("text", b"OK, all good").unwrap();
    /// let err = e.rest("text", b"two\r\nlines").unwrap_err();
    /// assert_eq!(err.to_string(), "field `text`: a rest of line cannot contain a carriage return (byte 3)");
    ///
    /// static LF: Framing = Framing::Line { term: b"\n", max: 80, bare_lf: false, nocase: false };
    /// let mut lf = Vec::new();
    /// let mut e = Encoder::new(&mut lf, &LF);
    /// e.rest("text", b"a\rb\r").unwrap();
    /// assert!(e.rest("text", b"a\nb").is_err());
    /// ```
    pub fn rest(&mut self, field: &'static str, v: &[u8]) -> Result<(), EncodeError> {
        // The rest of a frame or a fixed unit, even in a line protocol, takes any bytes.
        let in_line = self.frame.is_none() && self.fixed.is_none();
        if let (Framing::Line { term, bare_lf, .. }, true) = (*self.framing, in_line) {
            if let Some(position) = find_any(term, v) {
                return Err(self.byte(field, "a rest of line", v, position));
            }
            // Readers that also take "\r\n" would drop a CR at the end.
            if term == b"\n" && bare_lf && v.last() == Some(&b'\r') {
                return Err(self.byte(field, "a rest of line", v, v.len() - 1));
            }
        }
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Writes `v`, which must be one of `lits`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.one_of("more", b"-", &[b"-", b" "]).unwrap();
    /// let err = e.one_of("more", b"+", &[b"-", b" "]).unwrap_err();
    /// assert_eq!(err.to_string(), "field `more`: the value is not one of the allowed literals");
    /// ```
    pub fn one_of(
        &mut self,
        field: &'static str,
        v: &[u8],
        lits: &[&[u8]],
    ) -> Result<(), EncodeError> {
        if !lits.contains(&v) {
            return Err(self.fail(field, EncodeErrorKind::NotOneOf));
        }
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Writes a decimal unsigned integer of at most `max`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.uint("code", 250, 999).unwrap();
    /// let err = e.uint("code", 1000, 999).unwrap_err();
    /// assert_eq!(err.to_string(), "field `code`: 1000 is out of the range 0..=999");
    /// ```
    pub fn uint(&mut self, field: &'static str, v: u64, max: u64) -> Result<(), EncodeError> {
        self.uint_inline(field, v, max)
    }

    /// [`uint`](Self::uint), inlined where it is called (see
    /// [`lit_inline`](Self::lit_inline)).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.uint_inline("len", 7, 10).unwrap();
    /// assert_eq!(e.written(), b"7");
    /// ```
    #[inline(always)]
    pub fn uint_inline(
        &mut self,
        field: &'static str,
        v: u64,
        max: u64,
    ) -> Result<(), EncodeError> {
        if v > max {
            return Err(self.range(field, v.into(), 0, max.into()));
        }
        write_decimal(self.out, v, false);
        Ok(())
    }

    /// Writes a decimal signed integer within `min..=max`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.int("n", -42, i64::MIN, i64::MAX).unwrap();
    /// assert_eq!(e.written(), b"-42");
    /// assert!(e.int("n", -1, 0, 10).is_err());
    /// ```
    pub fn int(
        &mut self,
        field: &'static str,
        v: i64,
        min: i64,
        max: i64,
    ) -> Result<(), EncodeError> {
        if v < min || v > max {
            return Err(self.range(field, v.into(), min.into(), max.into()));
        }
        write_decimal(self.out, v.unsigned_abs(), v < 0);
        Ok(())
    }

    /// Writes a hexadecimal unsigned integer (lowercase digits) of at most `max`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.hex("size", 0x1f4, u64::MAX).unwrap();
    /// assert_eq!(e.written(), b"1f4");
    /// ```
    pub fn hex(&mut self, field: &'static str, v: u64, max: u64) -> Result<(), EncodeError> {
        if v > max {
            return Err(self.range(field, v.into(), 0, max.into()));
        }
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        let mut n = v;
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(n & 0xf) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&digits[i..]);
        Ok(())
    }

    /// Writes an unsigned binary integer of `width` bytes (1, 2, 4 or 8); the value must
    /// fit the width.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static KV: Framing = Framing::Length(LengthHeader { offset: 0, width: 4, big_endian: true, adjust: 0, skip: 4, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &KV);
    /// e.bin("klen", 0x0102, 2, true).unwrap();
    /// e.bin("klen", 0x0102, 2, false).unwrap();
    /// assert_eq!(e.written(), b"\x01\x02\x02\x01");
    /// let err = e.bin("klen", 70_000, 2, true).unwrap_err();
    /// assert_eq!(err.to_string(), "field `klen`: 70000 is out of the range 0..=65535");
    /// ```
    pub fn bin(
        &mut self,
        field: &'static str,
        v: u64,
        width: u8,
        big_endian: bool,
    ) -> Result<(), EncodeError> {
        let Some(max) = width_max(width) else {
            return Err(self.fail(field, EncodeErrorKind::Width { width }));
        };
        if v > max {
            return Err(self.range(field, v.into(), 0, max.into()));
        }
        write_bin(self.out, v, width, big_endian);
        Ok(())
    }

    /// Writes a signed binary integer of `width` bytes (1, 2, 4 or 8) in two's complement;
    /// the value must fit the width.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static KV: Framing = Framing::Length(LengthHeader { offset: 0, width: 4, big_endian: true, adjust: 0, skip: 4, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &KV);
    /// e.bin_signed("delta", -2, 2, true).unwrap();
    /// assert_eq!(e.written(), b"\xff\xfe");
    /// assert!(e.bin_signed("delta", 128, 1, true).is_err());
    /// ```
    pub fn bin_signed(
        &mut self,
        field: &'static str,
        v: i64,
        width: u8,
        big_endian: bool,
    ) -> Result<(), EncodeError> {
        let Some(umax) = width_max(width) else {
            return Err(self.fail(field, EncodeErrorKind::Width { width }));
        };
        let max = (umax >> 1) as i64;
        let min = -max - 1;
        if v < min || v > max {
            return Err(self.range(field, v.into(), min.into(), max.into()));
        }
        write_bin(self.out, v as u64 & umax, width, big_endian);
        Ok(())
    }

    /// Writes a counted run of bytes, at most `max` of them. Any bytes go: the length
    /// written before them (or the frame) delimits them.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.bytes("data", b"a\r\nb", 16).unwrap();
    /// let err = e.bytes("data", &[0; 17], 16).unwrap_err();
    /// assert_eq!(err.to_string(), "field `data`: a run of 17 bytes is over the limit of 16 bytes");
    /// ```
    pub fn bytes(&mut self, field: &'static str, v: &[u8], max: u32) -> Result<(), EncodeError> {
        if v.len() > max as usize {
            return Err(self.fail(
                field,
                EncodeErrorKind::TooLong {
                    what: "a run",
                    len: v.len(),
                    max: max as usize,
                },
            ));
        }
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Ends a line: writes the terminator (nothing in a length-prefixed protocol).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing};
    /// # static LINES: Framing = Framing::Line { term: b"\r\n", max: 80, bare_lf: false, nocase: false };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &LINES);
    /// e.lit(b"DATA");
    /// e.end_line();
    /// assert_eq!(e.written(), b"DATA\r\n");
    /// ```
    pub fn end_line(&mut self) {
        self.end_line_inline();
    }

    /// [`end_line`](Self::end_line), inlined where it is called (see
    /// [`lit_inline`](Self::lit_inline)).
    #[inline(always)]
    pub fn end_line_inline(&mut self) {
        match *self.term() {
            // The usual terminators, written as constants rather than copied.
            [a] => self.out.push(a),
            [a, b] => self.out.extend_from_slice(&[a, b]),
            ref term => self.out.extend_from_slice(term),
        }
    }

    /// Writes a run of lines ended by a marker line, as [`Op::LinesUntil`] decodes it:
    /// each line of `body` (stuffed: a line starting with the `unstuff` prefix gets one
    /// more), its terminator, then `marker` and a terminator.
    ///
    /// Refused: a line over the framing's maximum, a line containing a CR or LF (with the
    /// terminator `"\r\n"`) or the terminator (any other), a line equal to the marker
    /// after stuffing (it would end the run early), and a run of more than `max` bytes.
    /// A [`Lines::Text`] body is split at the terminator; its last line may lack one.
    ///
    /// [`Op::LinesUntil`]: super::Op::LinesUntil
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, Lines};
    ///
    /// static SMTP: Framing = Framing::Line { term: b"\r\n", max: 998, bare_lf: false, nocase: true };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &SMTP);
    /// e.lines("body", &Lines::Text(b"Hi\r\n.\r\n..x"), b".", Some(b"."), 1 << 20).unwrap();
    /// assert_eq!(e.written(), b"Hi\r\n..\r\n...x\r\n.\r\n");
    ///
    /// let err = e.lines("body", &Lines::Text(b"bare\rCR\r\n"), b".", Some(b"."), 1 << 20).unwrap_err();
    /// assert_eq!(err.to_string(), "field `body`: a body line cannot contain a carriage return (byte 4)");
    /// ```
    pub fn lines(
        &mut self,
        field: &'static str,
        body: &Lines<'_>,
        marker: &[u8],
        unstuff: Option<&[u8]>,
        max: u32,
    ) -> Result<(), EncodeError> {
        let Framing::Line {
            term,
            max: line_max,
            ..
        } = *self.framing
        else {
            return Err(self.fail(
                field,
                EncodeErrorKind::Frame {
                    what: "lines cannot be written in a length-prefixed protocol",
                },
            ));
        };
        if term.is_empty() {
            return Err(self.fail(
                field,
                EncodeErrorKind::Frame {
                    what: "lines cannot be written with an empty terminator",
                },
            ));
        }
        let begin = self.out.len();
        let result = match *body {
            Lines::Text(text) => {
                let mut rest = text;
                let mut result = Ok(());
                while !rest.is_empty() && result.is_ok() {
                    let (line, next) = match find(rest, term) {
                        Some(i) => (&rest[..i], &rest[i + term.len()..]),
                        None => (rest, &rest[rest.len()..]),
                    };
                    result = self.body_line(line, term, line_max, marker, unstuff);
                    rest = next;
                }
                result
            }
            Lines::Decoded { .. } => body
                .iter()
                .try_for_each(|line| self.body_line(line, term, line_max, marker, unstuff)),
        };
        if let Err(kind) = result {
            return Err(self.fail(field, kind));
        }
        let len = self.out.len() - begin;
        if len > max as usize {
            return Err(self.fail(
                field,
                EncodeErrorKind::TooLong {
                    what: "a body",
                    len,
                    max: max as usize,
                },
            ));
        }
        if let Err(kind) = check_line(marker, term, "a marker line") {
            return Err(self.fail(field, kind));
        }
        self.out.extend_from_slice(marker);
        self.out.extend_from_slice(term);
        Ok(())
    }

    /// Completes the message. Fails (and removes the message) if a frame or a fixed unit
    /// is still open, a byte of bit fields is not filled, or an earlier call was misused.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// static KV: Framing = Framing::Length(LengthHeader { offset: 0, width: 4, big_endian: true, adjust: 0, skip: 4, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &KV);
    /// e.begin_frame();
    /// let err = e.finish().unwrap_err();
    /// assert_eq!(err.to_string(), "a frame was not ended");
    /// assert!(out.is_empty());
    /// ```
    pub fn finish(mut self) -> Result<(), EncodeError> {
        self.check_misuse()?;
        if self.frame.is_some() {
            return Err(self.frame_error("a frame was not ended"));
        }
        if self.fixed.is_some() {
            return Err(self.frame_error("a fixed unit was not ended"));
        }
        self.finished = true;
        Ok(())
    }

    // ----- helpers -----

    #[inline]
    fn term(&self) -> &'static [u8] {
        match *self.framing {
            Framing::Line { term, .. } => term,
            Framing::Length(_) => b"",
        }
    }

    /// Truncates the output back to the message's start and makes the error.
    #[cold]
    fn fail(&mut self, field: &'static str, kind: EncodeErrorKind) -> EncodeError {
        self.out.truncate(self.start);
        self.frame = None;
        self.fixed = None;
        self.bits = None;
        self.misuse = None;
        EncodeError { field, kind }
    }

    /// Records the misuse of a call that returns nothing (the first one is reported).
    fn misused(&mut self, kind: EncodeErrorKind) {
        self.misuse.get_or_insert(kind);
    }

    /// Reports a recorded misuse, or a byte of bit fields left unfilled.
    fn check_misuse(&mut self) -> Result<(), EncodeError> {
        if let Some(kind) = self.misuse {
            return Err(self.fail("", kind));
        }
        if self.bits.is_some() {
            return Err(self.fail("", EncodeErrorKind::BitOrder));
        }
        Ok(())
    }

    fn frame_error(&mut self, what: &'static str) -> EncodeError {
        self.fail("", EncodeErrorKind::Frame { what })
    }

    #[cold]
    fn byte(
        &mut self,
        field: &'static str,
        what: &'static str,
        v: &[u8],
        position: usize,
    ) -> EncodeError {
        let byte = v.get(position).copied().unwrap_or(0);
        self.fail(
            field,
            EncodeErrorKind::Byte {
                what,
                byte,
                position,
            },
        )
    }

    #[cold]
    fn range(&mut self, field: &'static str, value: i128, min: i128, max: i128) -> EncodeError {
        self.fail(field, EncodeErrorKind::OutOfRange { value, min, max })
    }

    /// Writes one body line, stuffed, and its terminator.
    fn body_line(
        &mut self,
        line: &[u8],
        term: &[u8],
        line_max: u32,
        marker: &[u8],
        unstuff: Option<&[u8]>,
    ) -> Result<(), EncodeErrorKind> {
        check_line(line, term, "a body line")?;
        let stuff = match unstuff {
            Some(prefix) if !prefix.is_empty() && line.starts_with(prefix) => prefix,
            _ => &[],
        };
        let len = stuff.len() + line.len();
        if len > line_max as usize {
            return Err(EncodeErrorKind::TooLong {
                what: "a body line",
                len,
                max: line_max as usize,
            });
        }
        if len == marker.len() && marker.starts_with(stuff) && marker.ends_with(line) {
            return Err(EncodeErrorKind::Marker);
        }
        self.out.extend_from_slice(stuff);
        self.out.extend_from_slice(line);
        self.out.extend_from_slice(term);
        Ok(())
    }
}

impl Drop for Encoder<'_> {
    /// Removes what the message wrote, unless [`finish`](Encoder::finish) succeeded.
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

/// The largest value of an unsigned binary integer of `width` bytes.
fn width_max(width: u8) -> Option<u64> {
    match width {
        1 => Some(u8::MAX.into()),
        2 => Some(u16::MAX.into()),
        4 => Some(u32::MAX.into()),
        8 => Some(u64::MAX),
        _ => None,
    }
}

/// Appends `v` as an unsigned LEB128 varint of minimal length.
fn write_varint(out: &mut Vec<u8>, v: u64) {
    let mut v = v;
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the low `width` bytes of `v`.
fn write_bin(out: &mut Vec<u8>, v: u64, width: u8, big_endian: bool) {
    let width = usize::from(width).min(8);
    if big_endian {
        out.extend_from_slice(&v.to_be_bytes()[8 - width..]);
    } else {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
}

/// Appends `v` in decimal, after a `-` if `negative`.
#[inline]
fn write_decimal(out: &mut Vec<u8>, v: u64, negative: bool) {
    // Lengths, counts and status codes are mostly short: one or two digits written
    // directly, without a copy of a run of unknown length.
    if !negative && v < 100 {
        if v < 10 {
            out.push(b'0' + v as u8);
        } else {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
        }
        return;
    }
    write_decimal_long(out, v, negative);
}

/// [`write_decimal`] of a number of more than two digits, or a negative one.
#[inline(never)]
fn write_decimal_long(out: &mut Vec<u8>, v: u64, negative: bool) {
    let mut digits = [0u8; 21];
    let mut i = digits.len();
    let mut n = v;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        digits[i] = b'-';
    }
    out.extend_from_slice(&digits[i..]);
}

/// Whether `b` is an RFC 9110 token character.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Fields shorter than this are searched byte by byte: for them the vector search's
/// set-up costs more than the search (a reply's `OK` took 57 instructions).
const SHORT_FIELD: usize = 16;

/// The first index in `v` of any byte of `bytes`.
#[inline(always)]
pub(super) fn find_any(bytes: &[u8], v: &[u8]) -> Option<usize> {
    let short = v.len() < SHORT_FIELD;
    match *bytes {
        [a] if short => v.iter().position(|&x| x == a),
        [a, b] if short => v.iter().position(|&x| x == a || x == b),
        [a] => memchr::memchr(a, v),
        [a, b] => memchr::memchr2(a, b, v),
        [a, b, c] => memchr::memchr3(a, b, c, v),
        _ => v.iter().position(|b| bytes.contains(b)),
    }
}

/// The first index of `needle` in `hay` (`None` for an empty needle).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// Refuses a line that would not decode back to itself with this terminator.
fn check_line(line: &[u8], term: &[u8], what: &'static str) -> Result<(), EncodeErrorKind> {
    if term == b"\r\n" {
        if let Some(position) = find_any(b"\r\n", line) {
            return Err(EncodeErrorKind::Byte {
                what,
                byte: line[position],
                position,
            });
        }
        return Ok(());
    }
    if let Some(position) = find(line, term) {
        return Err(EncodeErrorKind::Byte {
            what,
            byte: line[position],
            position,
        });
    }
    // With the terminator appended, could one start inside the line? ("aq" + "qqq")
    let t = term.len();
    for k in (1..t).rev() {
        if line.ends_with(&term[..k]) && term[k..] == term[..t - k] {
            let position = line.len() - k;
            return Err(EncodeErrorKind::Byte {
                what,
                byte: line[position],
                position,
            });
        }
    }
    Ok(())
}
