//! The binary fields of the [`Decoder`]: bit fields, varints, NUL-terminated strings,
//! conditional parts, the length field of a frame whose header the ops see, and units of
//! a fixed size.

use super::units::fixed_unit;
use super::*;
use crate::wire::bit_mask;

impl Decoder {
    /// [`Op::Bits`] (`slot` set) and [`Op::BitsLit`] (`slot` unset, the bits must equal
    /// `value`).
    pub(super) fn bits(
        &mut self,
        buf: &[u8],
        slot: Option<u16>,
        shift: u8,
        bits: u8,
        value: u8,
    ) -> Result<(), Fail> {
        let at = self.pos;
        let Some(mask) = bit_mask(shift, bits) else {
            return Err(Fail::bad(
                "a bit field of no bits, more than 8, or past the end of its byte",
                at,
            ));
        };
        let Some(&byte) = self.content(buf)?.first() else {
            return Err(Fail::invalid("a byte of bit fields", at));
        };
        // `bit_mask` holds `shift` below 8.
        let got = (byte >> shift) & mask;
        match slot {
            Some(slot) => self.put(slot, Slot::Int(got.into()))?,
            None if value & !mask != 0 => {
                return Err(Fail::bad("a bit literal wider than its field", at));
            }
            None if got != value => return Err(Fail::invalid("the bits of a literal", at)),
            None => {}
        }
        if shift == 0 {
            self.pos += 1;
        }
        Ok(())
    }

    /// [`Op::Varint`]: an unsigned LEB128 varint of at most 64 bits within the unit.
    pub(super) fn varint(&mut self, buf: &[u8], slot: u16, max: u64) -> Result<(), Fail> {
        let at = self.pos;
        let hay = self.content(buf)?;
        let mut value = 0u64;
        let mut n = 0;
        loop {
            let Some(&b) = hay.get(n) else {
                return Err(Fail::invalid("a varint within the unit", at));
            };
            // The tenth byte holds bit 63 alone, and ends the varint.
            if n == 9 && b > 1 {
                return Err(Fail::invalid("a varint of at most 64 bits", at));
            }
            value |= u64::from(b & 0x7f) << (7 * n);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if value > max {
            let kind = DecodeErrorKind::OutOfRange {
                min: 0,
                max: max.into(),
            };
            return Err(Fail::miss(kind, at));
        }
        self.put(slot, Slot::Int(value))?;
        self.pos += n;
        Ok(())
    }

    /// [`Op::CStr`]: the bytes up to the next NUL within the unit, which is skipped.
    pub(super) fn cstr(&mut self, buf: &[u8], slot: u16) -> Result<(), Fail> {
        let at = self.pos;
        let Some(n) = memchr(0, self.content(buf)?) else {
            return Err(Fail::invalid("a NUL-terminated string", at));
        };
        self.put(slot, range(at, at + n)?)?;
        self.pos += n + 1;
        Ok(())
    }

    /// [`Op::If`]: runs its body (the next ops) or jumps over it, emptying its slots.
    pub(super) fn cond(&mut self, op: Op, m: &'static Message) -> Step {
        let Op::If {
            slot,
            test,
            test_in_message,
            cmp,
            value,
            len,
        } = op
        else {
            return Err(Fail::bad("a condition without its op", self.pos));
        };
        let end = self.body_end(len, m)?;
        let Some(n) = self.int_slot(test, test_in_message) else {
            return Err(Fail::bad("a condition slot without an integer", self.pos));
        };
        let holds = cmp.holds(n, value);
        self.put(slot, Slot::Int(u64::from(holds)))?;
        if holds {
            self.pc += 1;
        } else {
            let body = m.ops.get(self.pc + 1..end).unwrap_or(&[]);
            self.clear_slots(self.item, body)?;
            self.pc = end;
        }
        Ok(None)
    }

    /// [`Op::LengthField`]: from the start of the frame's length field to its end.
    pub(super) fn length_field(&mut self) -> Result<(), Fail> {
        match self.unit.field {
            Some((from, to)) if self.unit.open && self.pos == from => {
                self.pos = to;
                Ok(())
            }
            _ => Err(Fail::bad(
                "a length field read elsewhere than at the start of its frame's length field",
                self.pos,
            )),
        }
    }

    /// [`Op::Fixed`] after a message's first unit: waits for its `n` bytes.
    pub(super) fn fixed(&mut self, buf: &[u8], n: u32, m: &Message) -> Step {
        let at = self.pos;
        if self.unit.open {
            return Err(Fail::bad("a fixed unit starts inside a unit", at));
        }
        if n as usize > self.room(m) {
            let size = Some(at as u64 + u64::from(n));
            return Err(Fail::oversize(Limit::Message, m.max, size, at));
        }
        match fixed_unit(buf, at, n)? {
            Some(unit) => {
                self.unit = unit;
                self.pc += 1;
                Ok(None)
            }
            None => Ok(Some(Flow::Wait)),
        }
    }
}
