//! Quoted words, as Redis reads an inline command (`sdssplitargs`): the scanner the
//! decoder's [`Op::Quoted`](super::Op::Quoted) runs, and [`Quoted`], the view of one word
//! that generated messages hand to handlers.

use std::borrow::Cow;
use std::fmt;

use super::{bytes_at, Item, Slot};

/// Whitespace between words: C's `isspace` (space, `\t`, `\n`, `\v`, `\f`, `\r`).
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The bytes that end a word outside quotes (`\v` and `\f` do not, as in Redis).
fn ends_word(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One step of reading a quoted word: what the bytes at `p` stand for.
enum Step {
    /// `n` bytes of the input stand for the byte `b`.
    Byte { b: u8, n: usize },
    /// An opening quote.
    Open,
    /// A closing quote, which ends the word (what follows it was checked).
    Close,
    /// The word ends before `p`.
    End,
}

/// Where reading a word stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Plain,
    Double,
    Single,
}

/// The next step of the word at `hay[p..]`, in state `at`; `Err(position)` where the
/// quoting is broken. `hay` holds no NUL byte (the caller cut it there).
fn step(hay: &[u8], p: usize, at: &mut In) -> Result<Step, usize> {
    let Some(&b) = hay.get(p) else {
        return match at {
            In::Plain => Ok(Step::End),
            // A quote left open.
            _ => Err(hay.len()),
        };
    };
    // A closing quote must be followed by whitespace or the end.
    let close = |at: &mut In| match hay.get(p + 1) {
        Some(&next) if !is_space(next) => Err(p + 1),
        _ => {
            *at = In::Plain;
            Ok(Step::Close)
        }
    };
    match *at {
        In::Plain => match b {
            _ if ends_word(b) => Ok(Step::End),
            b'"' => {
                *at = In::Double;
                Ok(Step::Open)
            }
            b'\'' => {
                *at = In::Single;
                Ok(Step::Open)
            }
            _ => Ok(Step::Byte { b, n: 1 }),
        },
        In::Double => match (b, hay.get(p + 1).copied()) {
            (b'\\', Some(b'x')) => match (
                hay.get(p + 2).copied().and_then(hex_digit),
                hay.get(p + 3).copied().and_then(hex_digit),
            ) {
                (Some(hi), Some(lo)) => Ok(Step::Byte {
                    b: hi << 4 | lo,
                    n: 4,
                }),
                _ => Ok(Step::Byte { b: b'x', n: 2 }),
            },
            (b'\\', Some(c)) => {
                let b = match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    c => c,
                };
                Ok(Step::Byte { b, n: 2 })
            }
            (b'"', _) => close(at),
            _ => Ok(Step::Byte { b, n: 1 }),
        },
        In::Single => match (b, hay.get(p + 1).copied()) {
            (b'\\', Some(b'\'')) => Ok(Step::Byte { b: b'\'', n: 2 }),
            (b'\'', _) => close(at),
            _ => Ok(Step::Byte { b, n: 1 }),
        },
    }
}

/// The end of the word that starts at `hay[start]` (not whitespace), or `Err(position)`
/// where its quoting is broken.
pub(crate) fn word_end(hay: &[u8], start: usize) -> Result<usize, usize> {
    let mut at = In::Plain;
    let mut p = start;
    loop {
        match step(hay, p, &mut at)? {
            Step::End => return Ok(p),
            Step::Close => return Ok(p + 1),
            Step::Open => p += 1,
            Step::Byte { n, .. } => p += n,
        }
    }
}

#[cfg(test)]
/// Splits `hay` into words as Redis's `sdssplitargs` does, calling `word` with the range
/// of each (quotes included); `Err(position)` where the quoting is broken. A NUL byte
/// ends the words.
pub(crate) fn split(
    hay: &[u8],
    mut word: impl FnMut(usize, usize) -> Result<(), usize>,
) -> Result<(), usize> {
    let hay = &hay[..super::decode::memchr(0, hay).unwrap_or(hay.len())];
    let mut p = 0;
    loop {
        while p < hay.len() && is_space(hay[p]) {
            p += 1;
        }
        if p == hay.len() {
            return Ok(());
        }
        let end = word_end(hay, p)?;
        word(p, end)?;
        p = end;
    }
}

/// The value of the word `raw` (one word, as [`split`] cuts it): borrowed when it needs
/// no unescaping.
fn value(raw: &[u8]) -> Cow<'_, [u8]> {
    // Plain: no quote at all.
    if !raw.iter().any(|&b| b == b'"' || b == b'\'') {
        return Cow::Borrowed(raw);
    }
    // One quoted run with nothing to unescape.
    if let [q @ (b'"' | b'\''), inner @ .., last] = raw {
        if last == q && !inner.contains(&b'\\') && !inner.contains(q) {
            return Cow::Borrowed(inner);
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = In::Plain;
    let mut p = 0;
    while let Ok(s) = step(raw, p, &mut at) {
        match s {
            Step::End | Step::Close => break,
            Step::Byte { b, n } => {
                out.push(b);
                p += n;
            }
            Step::Open => p += 1,
        }
    }
    Cow::Owned(out)
}

/// Whether `v` can be written as it is, as a word no quoting changes.
fn is_plain(v: &[u8]) -> bool {
    !v.is_empty()
        && v.iter()
            .all(|&b| b > b' ' && b < 0x7f && b != b'"' && b != b'\'')
}

/// Writes `v` as one word: as it is if [plain](is_plain), else in double quotes with
/// escapes (Redis's `sdscatrepr`).
pub(crate) fn write(out: &mut Vec<u8>, v: &[u8]) {
    if is_plain(v) {
        out.extend_from_slice(v);
        return;
    }
    out.push(b'"');
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b' '..=b'~' => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
    }
    out.push(b'"');
}

/// One word of a `quoted` field: a word of an inline command, plain (`GET`), in double
/// quotes with escapes (`"a b\x41\n"`) or in single quotes (`'it\'s'`).
///
/// A decoded word holds its bytes as they came, quotes and escapes included
/// ([`wire`](Self::wire)); [`value`](Self::value) reads what they stand for, borrowing
/// when nothing needs unescaping. A word made with [`new`](Self::new) holds a value to
/// send: the encoder writes it as it is when no quoting would change it, else in double
/// quotes with escapes. Two words are equal when their values are.
///
/// ```
/// use asyncore_runtime::wire::Quoted;
///
/// let w = Quoted::from_wire(br#""a b\x41""#);
/// assert_eq!(&*w.value(), b"a bA");
/// assert_eq!(w.wire(), Some(&br#""a b\x41""#[..]));
/// assert_eq!(w, Quoted::new(b"a bA"));
/// assert_eq!(&*Quoted::from_wire(b"'it\\'s'").value(), b"it's");
/// assert_eq!(&*Quoted::from_wire(b"plain").value(), b"plain");
///
/// // What the encoder writes for a value.
/// let mut out = Vec::new();
/// Quoted::new(b"two words\n").write_to(&mut out);
/// assert_eq!(out, br#""two words\n""#);
/// ```
#[derive(Clone, Copy)]
pub struct Quoted<'a> {
    bytes: &'a [u8],
    wire: bool,
}

impl<'a> Quoted<'a> {
    /// A word to send whose value is `value` (any bytes).
    ///
    /// ```
    /// # use asyncore_runtime::wire::Quoted;
    /// assert_eq!(&*Quoted::new(b"").value(), b"");
    /// ```
    pub fn new(value: &'a [u8]) -> Self {
        Quoted {
            bytes: value,
            wire: false,
        }
    }

    /// A word as it came on the wire, quotes and escapes included (what the decoder
    /// hands out). The bytes should be one word as Redis splits them; anything else
    /// reads as far as it goes, and the encoder refuses it.
    ///
    /// ```
    /// # use asyncore_runtime::wire::Quoted;
    /// assert_eq!(&*Quoted::from_wire(b"\"x\"").value(), b"x");
    /// ```
    pub fn from_wire(wire: &'a [u8]) -> Self {
        Quoted {
            bytes: wire,
            wire: true,
        }
    }

    /// The value: quotes removed and escapes replaced. Borrowed from the input when there
    /// is nothing to replace (a plain word, or a quoted one without escapes).
    ///
    /// ```
    /// # use asyncore_runtime::wire::Quoted;
    /// use std::borrow::Cow;
    /// assert!(matches!(Quoted::from_wire(b"\"a b\"").value(), Cow::Borrowed(b"a b")));
    /// assert!(matches!(Quoted::from_wire(b"\"a\\tb\"").value(), Cow::Owned(_)));
    /// ```
    pub fn value(&self) -> Cow<'a, [u8]> {
        if self.wire {
            value(self.bytes)
        } else {
            Cow::Borrowed(self.bytes)
        }
    }

    /// The bytes as they came, for a decoded word; `None` for one made with
    /// [`new`](Self::new).
    ///
    /// ```
    /// # use asyncore_runtime::wire::Quoted;
    /// assert_eq!(Quoted::new(b"x").wire(), None);
    /// ```
    pub fn wire(&self) -> Option<&'a [u8]> {
        self.wire.then_some(self.bytes)
    }

    /// Appends the word as it goes on the wire: a decoded word as it came; a value as it
    /// is, or in double quotes with escapes when it is empty or holds whitespace, quotes
    /// or bytes outside printable ASCII.
    ///
    /// ```
    /// # use asyncore_runtime::wire::Quoted;
    /// let mut out = Vec::new();
    /// Quoted::new(b"").write_to(&mut out);
    /// out.push(b' ');
    /// Quoted::new(b"say \"hi\"\x00").write_to(&mut out);
    /// assert_eq!(out, br#""" "say \"hi\"\x00""#);
    /// ```
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if self.wire {
            out.extend_from_slice(self.bytes);
        } else {
            write(out, self.bytes);
        }
    }

    /// Whether a decoded word is exactly one well-formed word (the encoder's check).
    pub(crate) fn is_one_word(&self) -> bool {
        !self.wire
            || (!self.bytes.is_empty()
                && !self.bytes.contains(&0)
                && !is_space(self.bytes[0])
                && word_end(self.bytes, 0) == Ok(self.bytes.len()))
    }
}

impl PartialEq for Quoted<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl Eq for Quoted<'_> {}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.value()))
    }
}

impl<'a> Item<'a> for Quoted<'a> {
    const STRIDE: usize = 1;

    #[inline]
    fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self {
        Quoted::from_wire(slots.first().map_or(&[], |&slot| bytes_at(buf, slot)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &[u8]) -> Result<Vec<Vec<u8>>, usize> {
        let mut out = Vec::new();
        split(line, |s, e| {
            out.push(Quoted::from_wire(&line[s..e]).value().into_owned());
            Ok(())
        })?;
        Ok(out)
    }

    fn ok(line: &[u8]) -> Vec<String> {
        words(line)
            .unwrap()
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn splits_as_sdssplitargs() {
        assert_eq!(ok(b"set \"a b\" c"), ["set", "a b", "c"]);
        assert_eq!(ok(b"  PING  \t "), ["PING"]);
        assert_eq!(ok(b""), Vec::<String>::new());
        assert_eq!(ok(b"   "), Vec::<String>::new());
        assert_eq!(ok(b"PING\rPING"), ["PING", "PING"]);
        assert_eq!(ok(b"a\x0bb"), ["a\x0bb"]);
        assert_eq!(ok(b"\x0ba"), ["a"]);
        assert_eq!(ok(b"\"x\"\x0cy"), ["x", "y"]);
        assert_eq!(ok(br#""\x41\n\q""#), ["A\nq"]);
        assert_eq!(ok(br#""\x4""#), ["x4"]);
        assert_eq!(ok(br"'a\'b' 'c\nd'"), ["a'b", "c\\nd"]);
        assert_eq!(ok(br#"ab"cd ef""#), ["abcd ef"]);
        assert_eq!(ok(br#""""#), [""]);
        assert_eq!(ok(b"ab\0cd ef"), ["ab"]);
        assert_eq!(ok(b"\"a\\\"b\""), ["a\"b"]);
    }

    #[test]
    fn broken_quotes_are_errors_after_the_word_start() {
        assert_eq!(words(b"set \"a"), Err(6));
        assert_eq!(words(b"\"a\"b c"), Err(3));
        assert_eq!(words(b"'a'' c"), Err(3));
        assert_eq!(words(b"\"\"\"x\"\"\""), Err(2));
        assert_eq!(words(b"x \"a\0b\""), Err(4));
        assert_eq!(words(b"\""), Err(1));
        assert_eq!(words(b"'abc\\'"), Err(6));
    }

    #[test]
    fn values_round_trip_through_write() {
        for v in [
            &b""[..],
            b"plain",
            b"two words",
            b"quote\"s",
            b"it's",
            b"\\back\\slash",
            b"\x00\x01\x7f\xff",
            b"\r\n\t\x07\x08\x0b\x0c",
        ] {
            let mut out = Vec::new();
            Quoted::new(v).write_to(&mut out);
            let w = Quoted::from_wire(&out);
            assert!(w.is_one_word(), "{:?}", String::from_utf8_lossy(&out));
            assert_eq!(&*w.value(), v, "{:?}", String::from_utf8_lossy(&out));
        }
    }
}
