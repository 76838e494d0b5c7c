//! The execution of one op of a message by the [`Decoder`], and the helpers it uses to
//! read fields, literals and runs of bytes into slots.

use super::*;

impl Decoder {
    /// Runs one op.
    pub(super) fn step(&mut self, buf: &[u8], op: Op, m: &'static Message) -> Step {
        let at = self.pos;
        match op {
            Op::Line => {
                if self.unit.open {
                    return Err(Fail::bad("a line starts inside a unit", at));
                }
                let room = self.line_room(m);
                match self.find_line(buf, at, room, false)? {
                    Some((end, next)) => {
                        self.unit = Unit {
                            open: true,
                            frame: false,
                            end,
                            next,
                            field: None,
                        };
                    }
                    None => return Ok(Some(Flow::Wait)),
                }
            }
            Op::Frame | Op::FrameWith(_) => {
                if self.unit.open {
                    return Err(Fail::bad("a frame starts inside a unit", at));
                }
                let header = match op {
                    Op::FrameWith(h) => Some(*h),
                    _ => self.header,
                };
                let room = self.room(m);
                match self.find_frame(buf, at, room, header)? {
                    Some((start, unit)) => {
                        self.unit = unit;
                        self.pos = start;
                    }
                    None => return Ok(Some(Flow::Wait)),
                }
            }
            Op::Fixed(n) => return self.fixed(buf, n, m),
            Op::Commit => self.committed = true,
            Op::Quoted {
                slot,
                sep,
                min,
                max,
            } => self.quoted(buf, slot, sep, min, max, m)?,
            Op::LengthField => self.length_field()?,
            Op::EndLine | Op::EndFrame => {
                let frame = op == Op::EndFrame;
                if !self.unit.open || self.unit.frame != frame {
                    return Err(Fail::bad("a unit ends that is not open", at));
                }
                if self
                    .stack
                    .iter()
                    .any(|c| matches!(c.kind, Kind::Opt | Kind::Many))
                {
                    return Err(Fail::bad(
                        "a unit ends inside an optional part or a repetition within it",
                        at,
                    ));
                }
                if at != self.unit.end {
                    if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                        return Err(fail);
                    }
                    let what = if frame {
                        "the end of the frame"
                    } else {
                        "the end of the line"
                    };
                    return Err(Fail::invalid(what, at));
                }
                self.pos = self.unit.next;
                self.unit.open = false;
                self.pc += 1;
                if self.first {
                    self.first = false;
                    return Ok(Some(Flow::FirstUnit));
                }
                return Ok(None);
            }
            Op::Lit(lit) => {
                if !self.unit.open {
                    return self.lit_between(buf, lit, m);
                }
                if !self.starts(self.content(buf)?, lit) {
                    return Err(Fail::miss(DecodeErrorKind::Literal { expected: lit }, at));
                }
                self.pos += lit.len();
            }
            Op::Sep | Op::Ows => {
                let n = self.count(self.content(buf)?, SPACE);
                if n == 0 && op == Op::Sep {
                    if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                        return Err(fail);
                    }
                    return Err(Fail::invalid("a space or a tab", at));
                }
                self.pos += n;
            }
            Op::Trim => {
                if !self.unit.open || self.unit.frame {
                    return Err(Fail::bad("padding trimmed outside a line", at));
                }
                let hay = self.content(buf)?;
                let lead = self.count(hay, SPACE);
                let trail = hay[lead..]
                    .iter()
                    .rev()
                    .take_while(|&&b| self.class[usize::from(b)] & SPACE != 0)
                    .count();
                self.pos += lead;
                self.unit.end -= trail;
            }
            Op::Word { slot } => {
                let hay = self.content(buf)?;
                let n = hay
                    .iter()
                    .position(|&b| self.class[usize::from(b)] & (SPACE | TERM) != 0)
                    .unwrap_or(hay.len());
                if n == 0 {
                    return Err(Fail::invalid("a word", at));
                }
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::Token { slot } => {
                let n = self.count(self.content(buf)?, TCHAR);
                if n == 0 {
                    return Err(Fail::invalid("a token", at));
                }
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::Rest { slot } => {
                let hay = self.content(buf)?;
                if self.check_rest
                    && !self.unit.frame
                    && hay.iter().any(|&b| self.class[usize::from(b)] & TERM != 0)
                {
                    return Err(Fail::invalid(
                        "the rest of the line without a byte of the terminator",
                        at,
                    ));
                }
                self.put(slot, range(at, at + hay.len())?)?;
                self.pos += hay.len();
            }
            Op::OneOf { slot, lits } => {
                let hay = self.content(buf)?;
                let Some(lit) = lits.iter().find(|lit| self.starts(hay, lit)) else {
                    return Err(Fail::invalid("one of the listed literals", at));
                };
                self.put(slot, range(at, at + lit.len())?)?;
                self.pos += lit.len();
            }
            Op::Uint { slot, max } => {
                let (n, value) = digits(self.content(buf)?, 10);
                self.number(slot, n, value, max, "an unsigned integer")?;
            }
            Op::Hex { slot, max } => {
                let (n, value) = digits(self.content(buf)?, 16);
                self.number(slot, n, value, max, "a hexadecimal integer")?;
            }
            Op::Int { slot, min, max } => {
                let hay = self.content(buf)?;
                let negative = hay.first() == Some(&b'-');
                let sign = usize::from(negative);
                let (n, magnitude) = digits(&hay[sign..], 10);
                if n == 0 {
                    return Err(Fail::invalid("an integer", at));
                }
                let value = magnitude
                    .map(|v| {
                        if negative {
                            -i128::from(v)
                        } else {
                            i128::from(v)
                        }
                    })
                    .filter(|&v| v >= i128::from(min) && v <= i128::from(max));
                let Some(value) = value else {
                    return Err(Fail::miss(
                        DecodeErrorKind::OutOfRange {
                            min: min.into(),
                            max: max.into(),
                        },
                        at,
                    ));
                };
                self.put(slot, Slot::Int(value as i64 as u64))?;
                self.pos += sign + n;
            }
            Op::Bin {
                slot,
                width,
                big_endian,
                signed,
            } => {
                if !matches!(width, 1 | 2 | 4 | 8) {
                    return Err(Fail::bad(
                        "a binary integer width other than 1, 2, 4 or 8",
                        at,
                    ));
                }
                let w = usize::from(width);
                let Some(bytes) = self.content(buf)?.get(..w) else {
                    return Err(Fail::invalid("a binary integer", at));
                };
                let mut value = read_uint(bytes, big_endian);
                if signed && w < 8 {
                    let shift = 64 - 8 * w as u32;
                    value = ((value << shift) as i64 >> shift) as u64;
                }
                self.put(slot, Slot::Int(value))?;
                self.pos += w;
            }
            Op::Bits { slot, shift, bits } => self.bits(buf, Some(slot), shift, bits, 0)?,
            Op::BitsLit { shift, bits, value } => self.bits(buf, None, shift, bits, value)?,
            Op::Varint { slot, max } => self.varint(buf, slot, max)?,
            Op::CStr { slot } => self.cstr(buf, slot)?,
            Op::If { .. } => return self.cond(op, m),
            Op::Param { slot, param } => {
                let Some(&value) = self.params.get(usize::from(param)) else {
                    return Err(Fail::bad("a parameter number out of range", at));
                };
                self.put(slot, Slot::Int(value))?;
            }
            Op::Bytes {
                slot,
                len,
                len_in_message,
                max,
            } => {
                let n = self.length(len, len_in_message, at)?;
                if !self.unit.open {
                    return self.bytes_between(buf, slot, n, max, m);
                }
                if n > u64::from(max) {
                    return Err(Fail::oversize(Limit::Bytes, max, Some(n), at));
                }
                let room = self.unit.end.saturating_sub(at);
                if n > room as u64 {
                    return Err(Fail::invalid("a counted run of bytes within the unit", at));
                }
                let n = n as usize;
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::LinesUntil { slot, marker, max } => {
                if self.unit.open {
                    return Err(Fail::bad("lines until a marker start inside a unit", at));
                }
                return self.lines_until(buf, slot, marker, max, m);
            }
            Op::Opt { slot, len } => {
                if !self.unit.open {
                    return Err(Fail::bad("an optional part outside a unit", at));
                }
                let end = self.body_end(len, m)?;
                self.stack.push(Ctl {
                    kind: Kind::Opt,
                    slot,
                    body: self.pc + 1,
                    end,
                    pos: at,
                    mark: self.items.len(),
                    count: 0,
                    target: 0,
                    max: 0,
                    stride: 0,
                    marker: b"",
                    outer: self.item,
                });
            }
            Op::Repeat {
                slot,
                count,
                len,
                stride,
                max,
                signed,
            } => {
                if self.stack.iter().any(is_repetition) {
                    return Err(Fail::bad("a repetition inside a repetition", at));
                }
                let end = self.body_end(len, m)?;
                let n = match self.slots.get(usize::from(count)) {
                    // A negative count (`*-1`) is no items.
                    Some(&Slot::Int(n)) if signed && (n as i64) < 0 => 0,
                    Some(&Slot::Int(n)) => n,
                    Some(&Slot::Empty) => 0,
                    _ => return Err(Fail::bad("a repetition count slot without an integer", at)),
                };
                if n > u64::from(max) {
                    return Err(Fail::oversize(Limit::Items, max, Some(n), at));
                }
                self.push_repetition(Kind::Repeat, slot, end, n as u32, max, stride, b"");
                return if n == 0 {
                    self.finish_seq().map(|()| None)
                } else {
                    self.start_item();
                    Ok(None)
                };
            }
            Op::Many {
                slot,
                len,
                stride,
                min,
                max,
            } => {
                if !self.unit.open || self.stack.iter().any(is_repetition) {
                    return Err(Fail::bad(
                        "a repetition to the end of a unit outside a unit or inside a repetition",
                        at,
                    ));
                }
                let end = self.body_end(len, m)?;
                self.push_repetition(Kind::Many, slot, end, min, max, stride, b"");
                return self.next_many().map(|()| None);
            }
            Op::ManyUntil {
                slot,
                marker,
                len,
                stride,
                max,
            } => return self.many_until(buf, slot, marker, len, stride, max, m),
        }
        self.pc += 1;
        Ok(None)
    }

    /// Keywords match as whole words: where a separator or the end of the line should
    /// follow a keyword that ends in a letter or digit, and a letter or digit follows
    /// instead (`reservex` for `reserve`), the line is not this message at all. The miss
    /// is placed at the keyword's first byte, so that a line that matches no message is
    /// reported as unknown rather than as a malformed one of the message whose keyword is
    /// its prefix.
    pub(super) fn keyword_runs_on(&self, buf: &[u8], m: &Message, at: usize) -> Option<Fail> {
        if self.unit.frame {
            return None;
        }
        // The op before, past the openings of optional parts and repetitions whose first
        // item starts here (`"get" keys:word+`).
        let before = m.ops[..self.pc.min(m.ops.len())]
            .iter()
            .rev()
            .find(|o| !matches!(o, Op::Opt { .. } | Op::Many { .. } | Op::Repeat { .. }));
        let Some(Op::Lit(lit)) = before else {
            return None;
        };
        let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if !lit.last().is_some_and(word) || !buf.get(at).is_some_and(word) {
            return None;
        }
        let start = at.checked_sub(lit.len())?;
        // The keyword really ends here (not an optional part's field after it).
        if !self.starts(buf.get(start..at)?, lit) {
            return None;
        }
        Some(Fail::miss(
            DecodeErrorKind::Literal { expected: lit },
            start,
        ))
    }

    /// [`Op::Quoted`]: the rest of the line as words, quoted as Redis reads them.
    pub(super) fn quoted(
        &mut self,
        buf: &[u8],
        slot: u16,
        sep: bool,
        min: u32,
        max: u32,
        m: &Message,
    ) -> Result<(), Fail> {
        let at = self.pos;
        if self.unit.frame || self.item.is_some() || self.stack.iter().any(is_repetition) {
            return Err(Fail::bad(
                "quoted words outside a line, or inside a repetition",
                at,
            ));
        }
        let hay = self.content(buf)?;
        // A NUL byte ends the words, as it ends the C string Redis splits.
        let hay = &hay[..memchr(0, hay).unwrap_or(hay.len())];
        if sep && hay.first().is_some_and(|&b| !quoted::is_space(b)) {
            if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                return Err(fail);
            }
            return Err(Fail::invalid("a space or a tab", at));
        }
        let start = self.items.len();
        let (mut p, mut count) = (0, 0u32);
        let outcome = loop {
            while hay.get(p).is_some_and(|&b| quoted::is_space(b)) {
                p += 1;
            }
            if p == hay.len() {
                break Ok(());
            }
            let end = match quoted::word_end(hay, p) {
                Ok(end) => end,
                Err(bad) => break Err(Fail::invalid("balanced quotes", at + bad)),
            };
            if count == max {
                break Err(Fail::oversize(Limit::Items, max, None, at + p));
            }
            match range(at + p, at + end) {
                Ok(r) => self.items.push(r),
                Err(fail) => break Err(fail),
            }
            count += 1;
            p = end;
        };
        let outcome = outcome.and_then(|()| {
            if count < min {
                return Err(Fail::invalid("a word", at + p));
            }
            let start = u32::try_from(start).map_err(|_| Fail::bad("too many items", at))?;
            self.put(slot, Slot::Seq { start, len: count })
        });
        if outcome.is_err() {
            self.items.truncate(start);
        }
        outcome?;
        self.pos = self.unit.end;
        Ok(())
    }

    /// The end of an op's body of `len` ops: within the message and the enclosing body.
    pub(super) fn body_end(&self, len: u16, m: &Message) -> Result<usize, Fail> {
        let end = self.pc + 1 + usize::from(len);
        if end > m.ops.len() || self.stack.last().is_some_and(|top| end > top.end) {
            return Err(Fail::bad("a body runs past its enclosing ops", self.pos));
        }
        Ok(end)
    }

    /// The bytes left in the current unit.
    pub(super) fn content<'b>(&self, buf: &'b [u8]) -> Result<&'b [u8], Fail> {
        if !self.unit.open {
            return Err(Fail::bad("a field outside a unit", self.pos));
        }
        buf.get(self.pos..self.unit.end)
            .ok_or(Fail::bad("a cursor outside its unit", self.pos))
    }

    /// How many bytes the message may still span.
    pub(super) fn room(&self, m: &Message) -> usize {
        if self.discard {
            usize::MAX
        } else {
            (m.max as usize).saturating_sub(self.pos)
        }
    }

    /// [`room`](Self::room) as a line's limit.
    pub(super) fn line_room(&self, m: &Message) -> Room {
        Room {
            bytes: self.room(m),
            what: Limit::Message,
            limit: m.max,
        }
    }

    /// The number of leading bytes of class `class`.
    pub(super) fn count(&self, hay: &[u8], class: u8) -> usize {
        hay.iter()
            .position(|&b| self.class[usize::from(b)] & class == 0)
            .unwrap_or(hay.len())
    }

    /// Whether `hay` starts with `lit` (ASCII case-insensitively in a `nocase` protocol).
    pub(super) fn starts(&self, hay: &[u8], lit: &[u8]) -> bool {
        if self.nocase {
            hay.get(..lit.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(lit))
        } else {
            hay.starts_with(lit)
        }
    }

    /// Records a parsed unsigned integer.
    pub(super) fn number(
        &mut self,
        slot: u16,
        n: usize,
        value: Option<u64>,
        max: u64,
        what: &'static str,
    ) -> Result<(), Fail> {
        if n == 0 {
            return Err(Fail::invalid(what, self.pos));
        }
        match value {
            Some(v) if v <= max => {
                self.put(slot, Slot::Int(v))?;
                self.pos += n;
                Ok(())
            }
            _ => Err(Fail::miss(
                DecodeErrorKind::OutOfRange {
                    min: 0,
                    max: max.into(),
                },
                self.pos,
            )),
        }
    }

    /// The length a `Bytes` op reads from a slot.
    pub(super) fn length(&self, len: u16, in_message: bool, at: usize) -> Result<u64, Fail> {
        self.int_slot(len, in_message)
            .ok_or(Fail::bad("a length slot without an integer", at))
    }

    /// The integer in a slot of the message (`in_message`) or of the current item; an
    /// empty slot is 0. `None` for a slot of another kind, or out of range.
    pub(super) fn int_slot(&self, slot: u16, in_message: bool) -> Option<u64> {
        let slot = if in_message {
            self.slots.get(usize::from(slot))
        } else {
            self.item
                .filter(|item| slot < item.stride)
                .and_then(|item| self.items.get(item.base + usize::from(slot)))
        };
        match slot {
            Some(&Slot::Int(n)) => Some(n),
            Some(&Slot::Empty) => Some(0),
            _ => None,
        }
    }

    /// Writes a slot of the current space (the message, or the current item).
    pub(super) fn put(&mut self, slot: u16, value: Slot) -> Result<(), Fail> {
        self.put_in(self.item, slot, value)
    }

    pub(super) fn put_in(
        &mut self,
        space: Option<ItemAt>,
        slot: u16,
        value: Slot,
    ) -> Result<(), Fail> {
        let cell = match space {
            None => self.slots.get_mut(usize::from(slot)),
            Some(item) if slot < item.stride => self.items.get_mut(item.base + usize::from(slot)),
            Some(_) => None,
        };
        match cell {
            Some(cell) => {
                *cell = value;
                Ok(())
            }
            None => Err(Fail::bad("a slot number out of range", self.pos)),
        }
    }

    /// A literal between units: waits for it in the stream.
    pub(super) fn lit_between(&mut self, buf: &[u8], lit: &'static [u8], m: &Message) -> Step {
        let at = self.pos;
        if lit.len() > self.room(m) {
            let size = Some((at + lit.len()) as u64);
            return Err(Fail::oversize(Limit::Message, m.max, size, at));
        }
        let have = buf.get(at..).unwrap_or(&[]);
        let k = have.len().min(lit.len());
        if self.discard {
            // Recovering from a wrong literal that ends the message: its length goes by.
            if k < lit.len() {
                return Ok(Some(Flow::Wait));
            }
            self.pos += lit.len();
            self.pc += 1;
            return Ok(None);
        }
        if !self.starts(&have[..k], &lit[..k]) {
            let fail = Fail::miss(DecodeErrorKind::Literal { expected: lit }, at);
            if self.stack.is_empty() && self.pc + 1 == m.ops.len() {
                // The literal that ends a message after a counted run (memcached's `\r\n`
                // after a data block): the message's length is known, so as memcached
                // does, its bytes go by and the stream goes on after them.
                return Err(fail.then(Then::Discard(Resume::None)));
            }
            return Err(fail);
        }
        if k < lit.len() {
            return Ok(Some(Flow::Wait));
        }
        self.pos += lit.len();
        self.pc += 1;
        Ok(None)
    }

    /// A counted run of bytes between units: waits for all of it (or, when discarding,
    /// lets it go by as it arrives).
    pub(super) fn bytes_between(
        &mut self,
        buf: &[u8],
        slot: u16,
        n: u64,
        max: u32,
        m: &Message,
    ) -> Step {
        let at = self.pos;
        if self.discard {
            let mut left = match self.resume {
                Resume::Bytes { pc, left } if pc == self.pc => left,
                _ => n,
            };
            let avail = buf.len().saturating_sub(at);
            let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
            self.pos += take;
            left -= take as u64;
            if left > 0 {
                self.resume = Resume::Bytes { pc: self.pc, left };
                return Ok(Some(Flow::Wait));
            }
            self.resume = Resume::None;
            self.pc += 1;
            return Ok(None);
        }
        let skip = Then::Discard(Resume::Bytes {
            pc: self.pc,
            left: n,
        });
        if n > u64::from(max) {
            return Err(Fail::oversize(Limit::Bytes, max, Some(n), at).then(skip));
        }
        if n > self.room(m) as u64 {
            let size = Some((at as u64).saturating_add(n));
            return Err(Fail::oversize(Limit::Message, m.max, size, at).then(skip));
        }
        let n = n as usize;
        if buf.len().saturating_sub(at) < n {
            return Ok(Some(Flow::Wait));
        }
        self.put(slot, range(at, at + n)?)?;
        self.pos += n;
        self.pc += 1;
        Ok(None)
    }
}
