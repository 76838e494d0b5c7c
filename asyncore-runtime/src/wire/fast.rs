//! The fast path of generated decoders.
//!
//! For each line-framed message, the compiler also generates a straight-line Rust
//! function that decodes the message when it is wholly in the buffer, the common case of a
//! pipelined load. It only ever answers for the plain success case: a message it would
//! decode is exactly the one the [`Decoder`] decodes (the fuzz targets check this), and
//! anything else (input still missing, a limit, a malformed field, a bare LF) makes it
//! step aside with [`Fast::Fallback`], so that the resumable decoder runs and reports.
//! Both leave the same slots, so [`Decoder::slots`] and [`Decoder::items`] serve either.
//!
//! The functions below are its building blocks: each returns `None` where the fast path
//! gives up.

use super::decode::memchr;
use super::{Decoded, Decoder, Framing, Slot};

/// What a generated fast decoder of one message says about the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// The message, `len` bytes long, is decoded; its slots are in the decoder.
    Match(usize),
    /// The buffer starts with a complete, well-formed line that is not this message
    /// (its leading literal differs): try the next allowed message.
    NoMatch,
    /// Let the resumable decoder decide.
    Fallback,
}

/// The fast decoder of a direction: the allowed messages tried in order.
pub type FastFn = fn(&mut Decoder, &[u8], &[u16]) -> Option<Decoded>;

/// Tries `each` (the generated fast decoder of message `i`) on the allowed messages in
/// order: the first `Match` is the message; a `Fallback`, or no match at all, leaves the
/// decision to the resumable decoder (`None`). Only runs when the decoder is between
/// messages.
///
/// ```
/// use asyncore_runtime::wire::{fast, Decoded, Decoder, Framing, Message, Op, Program};
///
/// static P: Program = Program {
///     name: "p",
///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
///     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
/// };
/// fn ping(dec: &mut Decoder, buf: &[u8]) -> fast::Fast {
///     let _ = dec.fast_begin::<0>(0);
///     let Some((end, next)) = fast::line(buf, 0, &P.framing) else { return fast::Fast::Fallback };
///     match fast::lit(buf, 0, end, b"PING", false) {
///         Some(p) if p == end => fast::Fast::Match(next),
///         Some(_) => fast::Fast::Fallback,
///         None => fast::Fast::NoMatch,
///     }
/// }
/// let mut dec = Decoder::new(&P);
/// let got = fast::run(&mut dec, b"PING\n", &[0], |dec, buf, _| ping(dec, buf));
/// assert_eq!(got, Some(Decoded::Message { index: 0, len: 5 }));
/// assert_eq!(fast::run(&mut dec, b"PIN", &[0], |dec, buf, _| ping(dec, buf)), None);
/// ```
pub fn run(
    dec: &mut Decoder,
    buf: &[u8],
    allowed: &[u16],
    each: impl Fn(&mut Decoder, &[u8], u16) -> Fast,
) -> Option<Decoded> {
    if buf.is_empty() || !dec.is_idle() {
        return None;
    }
    for &index in allowed {
        match each(dec, buf, index) {
            Fast::Match(len) => return Some(Decoded::Message { index, len }),
            Fast::NoMatch => continue,
            Fast::Fallback => return None,
        }
    }
    None
}

/// The line starting at `from`: `(end of content, offset after the terminator)`, if its
/// terminator is buffered, the line is within the framing's maximum, and (in strict CRLF)
/// no bare LF comes first.
///
/// ```
/// use asyncore_runtime::wire::{fast, Framing};
/// static CRLF: Framing = Framing::Line { term: b"\r\n", max: 10, bare_lf: false, nocase: false };
/// assert_eq!(fast::line(b"ab\r\ncd", 0, &CRLF), Some((2, 4)));
/// assert_eq!(fast::line(b"ab\ncd\r\n", 0, &CRLF), None); // bare LF: the decoder reports it
/// assert_eq!(fast::line(b"abc", 0, &CRLF), None); // not complete yet
/// ```
#[inline]
pub fn line(buf: &[u8], from: usize, framing: &Framing) -> Option<(usize, usize)> {
    let Framing::Line {
        term, max, bare_lf, ..
    } = *framing
    else {
        return None;
    };
    line_of(buf, from, term, max, bare_lf)
}

/// The terminator of the line that started at `start`, right at `pos`: the position after
/// it, if it is buffered, the line is within the framing's maximum, and it is a proper
/// terminator (in strict CRLF, `\r\n`; a bare `\n` only where accepted). For lines
/// whose parts never reach past their end (literals and numbers), so no search is needed.
///
/// ```
/// use asyncore_runtime::wire::{fast, Framing};
/// static CRLF: Framing = Framing::Line { term: b"\r\n", max: 10, bare_lf: false, nocase: false };
/// assert_eq!(fast::term_at(b"$12\r\nx", 0, 3, &CRLF), Some(5));
/// assert_eq!(fast::term_at(b"$12\nx", 0, 3, &CRLF), None);
/// ```
#[inline]
pub fn term_at(buf: &[u8], start: usize, pos: usize, framing: &Framing) -> Option<usize> {
    let Framing::Line {
        term, max, bare_lf, ..
    } = *framing
    else {
        return None;
    };
    term_of(buf, start, pos, term, max, bare_lf)
}

/// [`line()`] with the framing's terminator, line maximum and bare-LF rule given directly
/// (constants in generated code, so the checks fold). Inlined into each decoder; large
/// descriptions call [`shared::line_of`] instead.
#[inline(always)]
pub fn line_of(
    buf: &[u8],
    from: usize,
    term: &[u8],
    max: u32,
    bare_lf: bool,
) -> Option<(usize, usize)> {
    let last = *term.last()?;
    let at = from + memchr(last, buf.get(from..)?)?;
    let end = if term.len() == 1 {
        at
    } else if term == b"\r\n" {
        if at > from && buf[at - 1] == b'\r' {
            at - 1
        } else if bare_lf {
            at
        } else {
            return None;
        }
    } else {
        let start = (at + 1).checked_sub(term.len())?;
        if start < from || buf.get(start..=at)? != term {
            return None;
        }
        start
    };
    if end - from > max as usize {
        return None;
    }
    Some((end, at + 1))
}

/// [`term_at`] with the framing's terminator, line maximum and bare-LF rule given directly.
#[inline(always)]
pub fn term_of(
    buf: &[u8],
    start: usize,
    pos: usize,
    term: &[u8],
    max: u32,
    bare_lf: bool,
) -> Option<usize> {
    if pos - start > max as usize {
        return None;
    }
    // A wrapped `stop` makes an empty range, which `get` refuses like a short buffer.
    let stop = pos.wrapping_add(term.len());
    if buf.get(pos..stop).is_some_and(|t| same_bytes(t, term)) {
        return Some(stop);
    }
    if bare_lf && term == b"\r\n" && buf.get(pos) == Some(&b'\n') {
        return Some(pos + 1);
    }
    None
}

/// `lit` at `pos` (before `end`): the position after it.
#[inline]
pub fn lit(buf: &[u8], pos: usize, end: usize, lit: &[u8], nocase: bool) -> Option<usize> {
    // A wrapped `stop` makes an empty range, which `get` refuses.
    let stop = pos.wrapping_add(lit.len());
    if stop > end {
        return None;
    }
    let head = buf.get(pos..stop)?;
    let same = if nocase {
        head.eq_ignore_ascii_case(lit)
    } else {
        same_bytes(head, lit)
    };
    same.then_some(stop)
}

/// Equal slices of equal length; short literals (the usual `*`, `$`, `\r\n`) without a
/// call to `memcmp`.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    match (a, b) {
        ([x], [y]) => x == y,
        ([x0, x1], [y0, y1]) => x0 == y0 && x1 == y1,
        _ => a == b,
    }
}

/// `lit` at `pos` between units (in the stream), if buffered.
#[inline]
pub fn lit_between(buf: &[u8], pos: usize, lit: &[u8]) -> Option<usize> {
    // A wrapped `stop` makes an empty range, which `get` refuses.
    let stop = pos.wrapping_add(lit.len());
    same_bytes(buf.get(pos..stop)?, lit).then_some(stop)
}

/// A space or a tab.
#[inline]
pub fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One or more spaces or tabs: the position after them. The usual single space is
/// checked inline; a longer run is read by a shared function.
#[inline]
pub fn sep(buf: &[u8], pos: usize, end: usize) -> Option<usize> {
    if pos >= end || !is_space(buf[pos]) {
        return None;
    }
    let p = pos + 1;
    if p < end && is_space(buf[p]) {
        return Some(spaces(buf, p, end));
    }
    Some(p)
}

/// Zero or more spaces or tabs: the position after them.
#[inline]
pub fn ows(buf: &[u8], pos: usize, end: usize) -> usize {
    if pos < end && is_space(buf[pos]) {
        spaces(buf, pos, end)
    } else {
        pos
    }
}

/// The run of spaces and tabs at `pos`: the position after it.
#[inline(never)]
fn spaces(buf: &[u8], pos: usize, end: usize) -> usize {
    let mut p = pos;
    while p < end && is_space(buf[p]) {
        p += 1;
    }
    p
}

/// A word: one or more bytes up to a space, a tab, a byte of the terminator `term`, or
/// `end`: the position after it.
#[inline]
pub fn word(buf: &[u8], pos: usize, end: usize, term: &[u8]) -> Option<usize> {
    let hay = buf.get(pos..end)?;
    let n = hay
        .iter()
        .position(|&b| is_space(b) || term.contains(&b))
        .unwrap_or(hay.len());
    (n > 0).then_some(pos + n)
}

/// An RFC 9110 token: the position after it.
#[inline]
pub fn token(buf: &[u8], pos: usize, end: usize) -> Option<usize> {
    let hay = buf.get(pos..end)?;
    let n = hay
        .iter()
        .position(|&b| !super::encode::is_tchar(b))
        .unwrap_or(hay.len());
    (n > 0).then_some(pos + n)
}

/// The rest of the line, which (with a multi-byte terminator in strict mode, `check`)
/// holds no byte of `term`: `end`.
#[inline]
pub fn rest(buf: &[u8], pos: usize, end: usize, term: &[u8], check: bool) -> Option<usize> {
    let hay = buf.get(pos..end)?;
    if check && super::encode::find_any(term, hay).is_some() {
        return None;
    }
    Some(end)
}

/// A decimal unsigned integer of at most `max`: the value and the position after it.
#[inline]
pub fn uint(buf: &[u8], pos: usize, end: usize, max: u64) -> Option<(u64, usize)> {
    let mut p = pos;
    let mut v: u64 = 0;
    while p < end && buf[p].is_ascii_digit() {
        // Wraps only past 19 digits, which are read again below with checks.
        v = v.wrapping_mul(10).wrapping_add(u64::from(buf[p] - b'0'));
        p += 1;
    }
    if p - pos > 19 {
        return uint_long(buf, pos, p, max);
    }
    (p > pos && v <= max).then_some((v, p))
}

/// [`uint`] for a run of more than 19 digits (leading zeros, or a number too big): checked
/// arithmetic.
#[cold]
#[inline(never)]
fn uint_long(buf: &[u8], pos: usize, end: usize, max: u64) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for &b in buf.get(pos..end)? {
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (v <= max).then_some((v, end))
}

/// A decimal signed integer within `min..=max`: the value (two's complement) and the
/// position after it.
#[inline]
pub fn int(buf: &[u8], pos: usize, end: usize, min: i64, max: i64) -> Option<(u64, usize)> {
    if pos < end && buf[pos] != b'-' {
        // No sign, the usual case (a RESP count): an unsigned number up to `max`.
        let max = u64::try_from(max).ok()?;
        let (v, p) = uint(buf, pos, end, max)?;
        return (v as i64 >= min).then_some((v, p));
    }
    int_signed(buf, pos, end, min, max)
}

/// [`int`] of a number with a sign, or at the end: out of line, as the rarer case.
#[inline(never)]
fn int_signed(buf: &[u8], pos: usize, end: usize, min: i64, max: i64) -> Option<(u64, usize)> {
    let neg = pos < end && buf[pos] == b'-';
    let start = pos + usize::from(neg);
    let (magnitude, p) = uint(buf, start, end, u64::MAX)?;
    let v = if neg {
        0i64.checked_sub_unsigned(magnitude)?
    } else {
        i64::try_from(magnitude).ok()?
    };
    (min <= v && v <= max).then_some((v as u64, p))
}

/// A hexadecimal unsigned integer of at most `max`.
#[inline]
pub fn hex(buf: &[u8], pos: usize, end: usize, max: u64) -> Option<(u64, usize)> {
    let mut p = pos;
    let mut v: u64 = 0;
    while p < end {
        let d = match buf[p] {
            b @ b'0'..=b'9' => b - b'0',
            b @ b'a'..=b'f' => b - b'a' + 10,
            b @ b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        // Wraps only past 16 digits, which are read again below with checks.
        v = (v << 4) | u64::from(d);
        p += 1;
    }
    if p - pos > 16 {
        return hex_long(buf, pos, p, max);
    }
    (p > pos && v <= max).then_some((v, p))
}

/// [`hex`] for a run of more than 16 digits (leading zeros, or a number too big): checked
/// arithmetic.
#[cold]
#[inline(never)]
fn hex_long(buf: &[u8], pos: usize, end: usize, max: u64) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for &b in buf.get(pos..end)? {
        let d = char::from(b).to_digit(16)?;
        v = v.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    (v <= max).then_some((v, end))
}

/// `n` bytes at `pos`, at most `max`, ending by `limit` (the end of the line, or of the
/// buffer between units): the position after them.
#[inline]
pub fn bytes(pos: usize, n: u64, max: u32, limit: usize) -> Option<usize> {
    if n > u64::from(max) {
        return None;
    }
    let stop = pos.checked_add(usize::try_from(n).ok()?)?;
    (stop <= limit).then_some(stop)
}

/// The first of `lits` at `pos` (before `end`): the position after it.
#[inline(never)]
pub fn one_of(buf: &[u8], pos: usize, end: usize, lits: &[&[u8]], nocase: bool) -> Option<usize> {
    lits.iter().find_map(|l| lit(buf, pos, end, l, nocase))
}

/// A byte range as a slot.
#[inline]
pub fn range(start: usize, end: usize) -> Option<Slot> {
    Some(Slot::Range(
        u32::try_from(start).ok()?,
        u32::try_from(end).ok()?,
    ))
}

/// The integer in a slot (0 for any other slot).
#[inline]
pub fn int_of(slot: Option<&Slot>) -> u64 {
    match slot {
        Some(Slot::Int(v)) => *v,
        _ => 0,
    }
}

/// The helpers that loop, compiled once here for the decoders of large descriptions
/// (more than `protocol!`'s limit of messages for straight-line code): a call per use
/// instead of a copy in every message's decoder, which keeps the build of the crate
/// that uses `protocol!` short. Each does what the helper of the same name above does.
///
/// ```
/// use asyncore_runtime::wire::fast::{self, shared};
/// assert_eq!(shared::line_of(b"ab\r\n", 0, b"\r\n", 10, false), fast::line_of(b"ab\r\n", 0, b"\r\n", 10, false));
/// assert_eq!(shared::word(b"get k", 0, 5, b"\r\n"), Some(3));
/// assert_eq!(shared::token(b"Host: x", 0, 7), Some(4));
/// assert_eq!(shared::rest(b"hi there", 3, 8, b"\r\n", true), Some(8));
/// assert_eq!(shared::hex(b"1f;", 0, 3, 255), Some((31, 2)));
/// ```
pub mod shared {
    /// [`line_of`](super::line_of), not inlined.
    #[inline(never)]
    pub fn line_of(
        buf: &[u8],
        from: usize,
        term: &[u8],
        max: u32,
        bare_lf: bool,
    ) -> Option<(usize, usize)> {
        super::line_of(buf, from, term, max, bare_lf)
    }

    /// [`word`](super::word), not inlined.
    #[inline(never)]
    pub fn word(buf: &[u8], pos: usize, end: usize, term: &[u8]) -> Option<usize> {
        super::word(buf, pos, end, term)
    }

    /// [`token`](super::token), not inlined.
    #[inline(never)]
    pub fn token(buf: &[u8], pos: usize, end: usize) -> Option<usize> {
        super::token(buf, pos, end)
    }

    /// [`rest`](super::rest), not inlined.
    #[inline(never)]
    pub fn rest(buf: &[u8], pos: usize, end: usize, term: &[u8], check: bool) -> Option<usize> {
        super::rest(buf, pos, end, term, check)
    }

    /// [`hex`](super::hex), not inlined.
    #[inline(never)]
    pub fn hex(buf: &[u8], pos: usize, end: usize, max: u64) -> Option<(u64, usize)> {
        super::hex(buf, pos, end, max)
    }
}

#[cfg(test)]
mod tests {
    use super::{hex, int, lit, lit_between, term_of, uint};

    #[test]
    fn literals_and_terminators_at_any_position_never_panic() {
        let buf = b"GET x\r\n";
        assert_eq!(lit(buf, 0, buf.len(), b"GET", false), Some(3));
        assert_eq!(lit(buf, 0, 2, b"GET", false), None);
        assert_eq!(lit(buf, 0, buf.len(), b"get", true), Some(3));
        assert_eq!(lit_between(buf, 5, b"\r\n"), Some(7));
        assert_eq!(lit_between(buf, 6, b"\r\n"), None);
        assert_eq!(term_of(buf, 0, 5, b"\r\n", 64, false), Some(7));
        assert_eq!(term_of(buf, 0, 5, b"\r\n", 4, false), None);
        assert_eq!(term_of(b"a\n", 0, 1, b"\r\n", 64, true), Some(2));
        assert_eq!(term_of(b"a\n", 0, 1, b"\r\n", 64, false), None);
        // Positions past the buffer, up to where adding the length wraps around.
        for pos in [8, 9, 100, usize::MAX - 2, usize::MAX - 1, usize::MAX] {
            assert_eq!(
                lit(buf, pos, usize::MAX, b"GET", false),
                None,
                "lit at {pos}"
            );
            assert_eq!(lit_between(buf, pos, b"\r\n"), None, "lit_between at {pos}");
            assert_eq!(
                term_of(buf, pos, pos, b"\r\n", 64, true),
                None,
                "term_of at {pos}"
            );
        }
    }

    /// What `uint` must return, by the standard library's parser: the digits at the
    /// front, as a number of at most `max`.
    fn expected(s: &str, radix: u32, max: u64) -> Option<(u64, usize)> {
        let n = s
            .bytes()
            .take_while(|b| char::from(*b).is_digit(radix))
            .count();
        let v = u64::from_str_radix(s.get(..n)?, radix).ok()?;
        (v <= max).then_some((v, n))
    }

    const CASES: &[&str] = &[
        "",
        "x",
        "0",
        "7 ",
        "42\r\n",
        "4294967295",
        "4294967296",
        "999999999999999999",
        "9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "0000000000000000000000000000000042x",
        "00000000000000000000",
        "ffffffffffffffff",
        "0ffffffffffffffff",
        "10000000000000000",
        "0000000000000000000000aBc",
        "fffffffffffffffffff",
    ];

    #[test]
    fn decimal_runs_of_any_length_read_as_the_standard_parser_reads_them() {
        for s in CASES {
            for max in [u64::MAX, u64::from(u32::MAX), 100] {
                let got = uint(s.as_bytes(), 0, s.len(), max);
                assert_eq!(got, expected(s, 10, max), "uint({s:?}, max {max})");
            }
        }
    }

    #[test]
    fn hexadecimal_runs_of_any_length_read_as_the_standard_parser_reads_them() {
        for s in CASES {
            for max in [u64::MAX, 0xffff] {
                let got = hex(s.as_bytes(), 0, s.len(), max);
                assert_eq!(got, expected(s, 16, max), "hex({s:?}, max {max})");
            }
        }
    }

    #[test]
    fn numbers_stop_at_the_end_given_and_start_at_the_position_given() {
        assert_eq!(uint(b"x12345", 1, 3, u64::MAX), Some((12, 3)));
        assert_eq!(hex(b"x1f2", 1, 3, u64::MAX), Some((0x1f, 3)));
        let long = b"x000000000000000000000000012345";
        assert_eq!(
            uint(long, 1, long.len(), u64::MAX),
            Some((12345, long.len()))
        );
        assert_eq!(uint(b"12", 2, 2, u64::MAX), None);
    }

    #[test]
    fn signed_numbers_with_long_runs_of_digits() {
        let min = b"-00000000000000000009223372036854775808";
        assert_eq!(
            int(min, 0, min.len(), i64::MIN, i64::MAX),
            Some((i64::MIN as u64, min.len()))
        );
        let over = b"-9223372036854775809";
        assert_eq!(int(over, 0, over.len(), i64::MIN, i64::MAX), None);
        let zeros = b"0000000000000000000000000000-";
        assert_eq!(int(zeros, 0, zeros.len(), -5, 5), Some((0, 28)));
    }
}
