//! Where units end: the line and frame finders of the [`Decoder`], each scanning a byte
//! once across calls.

use super::*;

/// The index of the first `byte` in `hay` (the `memchr` crate's vectorised search).
pub(crate) use memchr::memchr;

impl Decoder {
    /// Finds the line starting at `start`: `(end, next)` (the end of its content, and the
    /// offset after its terminator), or `None` if more input is needed. `room` is the
    /// most bytes the line may span, terminator included. When `lax`, a bare LF is part
    /// of the line instead of an error.
    pub(super) fn find_line(
        &mut self,
        buf: &[u8],
        start: usize,
        room: Room,
        lax: bool,
    ) -> Result<Option<(usize, usize)>, Fail> {
        let n = self.term.len();
        if n == 0 {
            return Err(Fail::bad("a line without a terminator", start));
        }
        let Some(have) = buf.len().checked_sub(start) else {
            return Ok(None);
        };
        // The longest content, and which limit sets it.
        let (limit, what, value) = if room.bytes.saturating_sub(n) < self.line_max {
            (room.bytes.saturating_sub(n), room.what, room.limit)
        } else {
            (self.line_max, Limit::Line, self.line_max as u32)
        };
        let too_long = || Fail::oversize(what, value, None, start);
        if room.bytes < n {
            return Err(too_long().then(Then::SkipLine(start)));
        }
        let span = limit.saturating_add(n);
        let window = start.saturating_add(span).min(buf.len());
        let mut from = self.scan.max(start);
        while from < window {
            let hay = &buf[from..window];
            let Some(k) = memchr(self.needle, hay) else {
                self.scanned += hay.len() as u64;
                from = window;
                break;
            };
            self.scanned += k as u64 + 1;
            let i = from + k;
            if self.crlf {
                if i > start && buf[i - 1] == b'\r' {
                    self.scan = i + 1;
                    return Ok(Some((i - 1, i + 1)));
                }
                if self.lenient {
                    self.scan = i + 1;
                    if i - start > limit {
                        return Err(too_long().then(Then::SkipBytes(i as u64 + 1)));
                    }
                    return Ok(Some((i, i + 1)));
                }
                if !lax {
                    self.scan = i + 1;
                    // Past the limit, the line was over it before the LF came.
                    let fail = if i - start > limit {
                        too_long()
                    } else {
                        Fail::hard(DecodeErrorKind::BareLf, i)
                    };
                    return Err(fail.then(Then::SkipLine(i + 1)));
                }
            } else if i + 1 >= start + n && buf[i + 1 - n..=i] == *self.term {
                self.scan = i + 1;
                return Ok(Some((i + 1 - n, i + 1)));
            }
            from = i + 1;
        }
        self.scan = from;
        if have >= span || (have > limit && !self.tail_may_end(buf, start, limit)) {
            return Err(too_long().then(Then::SkipLine(from)));
        }
        Ok(None)
    }

    /// With more than `limit` content bytes buffered and no terminator among them: could
    /// a terminator still start at or before `start + limit`, its first bytes being the
    /// last ones buffered?
    fn tail_may_end(&self, buf: &[u8], start: usize, limit: usize) -> bool {
        let len = buf.len();
        let lo = start.max((len + 1).saturating_sub(self.term.len()));
        let hi = start.saturating_add(limit);
        (lo..=hi).any(|k| buf.get(k..).is_some_and(|tail| self.term.starts_with(tail)))
    }

    /// The offset after the first terminator that ends at or after `from` (a bare LF ends
    /// nothing in strict CRLF), scanning each byte once.
    pub(super) fn find_term(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let n = self.term.len();
        if n == 0 {
            return None;
        }
        let mut from = from;
        while from < buf.len() {
            let hay = &buf[from..];
            let Some(k) = memchr(self.needle, hay) else {
                self.scanned += hay.len() as u64;
                return None;
            };
            self.scanned += k as u64 + 1;
            let i = from + k;
            let ends = if self.crlf {
                self.lenient || (i > 0 && buf[i - 1] == b'\r')
            } else {
                i + 1 >= n && buf[i + 1 - n..=i] == *self.term
            };
            if ends {
                return Some(i + 1);
            }
            from = i + 1;
        }
        None
    }

    /// Finds the frame with header `with` starting at `start`: `(unit start, unit)`,
    /// or `None` if more input is needed. `room` is the most bytes it may span.
    pub(super) fn find_frame(
        &mut self,
        buf: &[u8],
        start: usize,
        room: usize,
        with: Option<LengthHeader>,
    ) -> Result<Option<(usize, Unit)>, Fail> {
        let Some(h) = with else {
            return Err(Fail::bad("a frame in a line protocol", start));
        };
        let field_at = start + usize::from(h.offset);
        let (value, header) = if h.width == 0 {
            let mut value = 0u64;
            let mut i = 0;
            loop {
                let Some(&b) = buf.get(field_at + i) else {
                    return Ok(None);
                };
                if i == 9 && b > 1 {
                    return Err(Fail::hard(
                        DecodeErrorKind::Invalid {
                            what: "a length varint of at most 64 bits",
                        },
                        field_at,
                    ));
                }
                value |= u64::from(b & 0x7f) << (7 * i);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            (value, usize::from(h.offset) + i)
        } else {
            if !matches!(h.width, 1 | 2 | 4 | 8) {
                return Err(Fail::bad(
                    "a length field width other than 0, 1, 2, 4 or 8",
                    start,
                ));
            }
            let w = usize::from(h.width);
            let Some(bytes) = buf.get(field_at..field_at + w) else {
                return Ok(None);
            };
            (read_uint(bytes, h.big_endian), usize::from(h.offset) + w)
        };
        let body = i128::from(value) + i128::from(h.adjust);
        if body < 0 {
            return Err(Fail::hard(
                DecodeErrorKind::Invalid {
                    what: "a frame length that is not negative once adjusted",
                },
                field_at,
            ));
        }
        let total = body + header as i128;
        let skip_frame = Then::SkipBytes(u64::try_from(total).unwrap_or(u64::MAX));
        if body > i128::from(h.max) {
            let size = Some(u64::try_from(body).unwrap_or(u64::MAX));
            return Err(Fail::oversize(Limit::Frame, h.max, size, start).then(skip_frame));
        }
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        if total > room {
            let max = self
                .program
                .messages
                .get(usize::from(self.msg))
                .map_or(0, |m| m.max);
            let size = Some(total as u64);
            return Err(Fail::oversize(Limit::Message, max, size, start).then(skip_frame));
        }
        let end = start.saturating_add(total);
        // The ops start at `skip`, or at the end of the length field if that comes first.
        let unit_start = start + usize::from(h.skip).min(header);
        if unit_start > end {
            return Err(Fail::hard(
                DecodeErrorKind::Invalid {
                    what: "a frame at least as long as the header bytes it skips",
                },
                start,
            )
            .then(skip_frame));
        }
        if buf.len() < end {
            return Ok(None);
        }
        let unit = Unit {
            open: true,
            frame: true,
            end,
            next: end,
            field: Some((field_at, start + header)),
        };
        Ok(Some((unit_start, unit)))
    }

    /// Finds the first unit of a message, opened by `opener`, at the start of `buf`:
    /// `(cursor, unit)`, or `None` if more input is needed.
    pub(super) fn find_first(
        &mut self,
        buf: &[u8],
        opener: Opener,
    ) -> Result<Option<(usize, Unit)>, Fail> {
        match opener {
            Opener::Line => Ok(self
                .find_line(buf, 0, Room::ANY, false)?
                .map(|(end, next)| {
                    let unit = Unit {
                        open: true,
                        frame: false,
                        end,
                        next,
                        field: None,
                    };
                    (0, unit)
                })),
            Opener::Frame(header) => self.find_frame(buf, 0, usize::MAX, header),
            Opener::Fixed(n) => Ok(fixed_unit(buf, 0, n)?.map(|unit| (0, unit))),
        }
    }
}

/// The unit of `n` bytes (at least one) starting at `start`, or `None` if they are not
/// all buffered yet.
pub(super) fn fixed_unit(buf: &[u8], start: usize, n: u32) -> Result<Option<Unit>, Fail> {
    if n == 0 {
        return Err(Fail::bad("a fixed unit of no bytes", start));
    }
    let end = start.saturating_add(n as usize);
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(Unit {
        open: true,
        frame: true,
        end,
        next: end,
        field: None,
    }))
}

/// What kind of unit a message's first op opens: messages are only tried on a unit of
/// their kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opener {
    Line,
    /// A frame with this header (`None`: `Op::Frame` in a line protocol, an error).
    Frame(Option<LengthHeader>),
    Fixed(u32),
}

/// The kind of unit message `m` starts with, if it starts with one; `header` is the
/// program's.
pub(super) fn opener(m: &Message, header: Option<LengthHeader>) -> Option<Opener> {
    match *m.ops.first()? {
        Op::Line => Some(Opener::Line),
        Op::Frame => Some(Opener::Frame(header)),
        Op::FrameWith(h) => Some(Opener::Frame(Some(*h))),
        Op::Fixed(n) => Some(Opener::Fixed(n)),
        _ => None,
    }
}

/// An unsigned integer from 1 to 8 bytes.
pub(super) fn read_uint(bytes: &[u8], big_endian: bool) -> u64 {
    let fold = |v: u64, &b: &u8| v << 8 | u64::from(b);
    if big_endian {
        bytes.iter().fold(0, fold)
    } else {
        bytes.iter().rev().fold(0, fold)
    }
}
