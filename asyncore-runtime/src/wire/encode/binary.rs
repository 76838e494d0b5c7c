//! The binary fields of the [`Encoder`]: bit fields, varints, NUL-terminated strings,
//! fields present under a condition, and units of a fixed size.

use super::{write_varint, EncodeError, EncodeErrorKind, Encoder};
use crate::wire::bit_mask;

impl Encoder<'_> {
    /// Writes a bit field, as [`Op::Bits`](crate::wire::Op::Bits) decodes it: `v` in the
    /// `bits` bits (1 to 8) at `shift` of a byte. The fields of a byte go from its high
    /// bits to its low ones: the one with `shift + bits == 8` starts a new byte, each next
    /// one ends where the last began, and the one at shift 0 completes the byte. `v` must
    /// fit in `bits` bits.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// static MQTT: Framing = Framing::Length(LengthHeader { offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// e.bits_lit(3, 4, 4); // PUBLISH
    /// e.bits("dup", 0, 3, 1)?;
    /// e.bits("qos", 1, 1, 2)?;
    /// e.bits("retain", 1, 0, 1)?;
    /// assert_eq!(e.written(), [0x33]);
    /// let err = e.bits("qos", 4, 1, 2).unwrap_err();
    /// assert_eq!(err.to_string(), "field `qos`: 4 is out of the range 0..=3");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn bits(
        &mut self,
        field: &'static str,
        v: u64,
        shift: u8,
        bits: u8,
    ) -> Result<(), EncodeError> {
        let Some(mask) = bit_mask(shift, bits) else {
            return Err(self.fail(field, EncodeErrorKind::BitField { shift, bits }));
        };
        if v > u64::from(mask) {
            return Err(self.range(field, v.into(), 0, mask.into()));
        }
        if let Err(kind) = self.put_bits(v as u8, shift, bits) {
            return Err(self.fail(field, kind));
        }
        Ok(())
    }

    /// Writes bits of a literal, as [`Op::BitsLit`](crate::wire::Op::BitsLit) decodes
    /// them: like [`bits`](Self::bits), for a value fixed by the description. A literal
    /// that does not fit, or out of order, is reported by the next call that can fail at
    /// the end of a unit ([`end_frame`](Self::end_frame), [`end_fixed`](Self::end_fixed),
    /// [`finish`](Self::finish)).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static MQTT: Framing = Framing::Length(LengthHeader { offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// e.bits_lit(12, 4, 4); // PINGREQ
    /// e.bits_lit(0, 0, 4);
    /// assert_eq!(e.written(), [0xc0]);
    /// ```
    pub fn bits_lit(&mut self, value: u8, shift: u8, bits: u8) {
        let Some(mask) = bit_mask(shift, bits) else {
            self.misused(EncodeErrorKind::BitField { shift, bits });
            return;
        };
        if value & !mask != 0 {
            self.misused(EncodeErrorKind::Frame {
                what: "a bit literal wider than its field",
            });
            return;
        }
        if let Err(kind) = self.put_bits(value, shift, bits) {
            self.misused(kind);
        }
    }

    /// ORs a checked field into the byte of bit fields, starting it if this field is the
    /// first of its byte.
    fn put_bits(&mut self, v: u8, shift: u8, bits: u8) -> Result<(), EncodeErrorKind> {
        let top = shift + bits;
        if top == 8 {
            if self.bits.is_some() {
                return Err(EncodeErrorKind::BitOrder);
            }
            self.out.push(0);
        } else if self.bits != Some((self.out.len().wrapping_sub(1), top)) {
            return Err(EncodeErrorKind::BitOrder);
        }
        let at = self.out.len() - 1;
        self.out[at] |= v << shift;
        self.bits = (shift != 0).then_some((at, shift));
        Ok(())
    }

    /// Writes an unsigned LEB128 varint (MQTT's variable byte integer) of minimal length,
    /// as [`Op::Varint`](crate::wire::Op::Varint) decodes it; `v` must be at most `max`.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static MQTT: Framing = Framing::Length(LengthHeader { offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// e.varint("len", 321, 268_435_455)?;
    /// assert_eq!(e.written(), [0xc1, 0x02]);
    /// assert!(e.varint("len", 268_435_456, 268_435_455).is_err());
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn varint(&mut self, field: &'static str, v: u64, max: u64) -> Result<(), EncodeError> {
        if v > max {
            return Err(self.range(field, v.into(), 0, max.into()));
        }
        write_varint(self.out, v);
        Ok(())
    }

    /// Writes a NUL-terminated string, as [`Op::CStr`](crate::wire::Op::CStr) decodes it:
    /// `v`, which cannot contain a NUL, then a NUL.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static PG: Framing = Framing::Length(LengthHeader { offset: 1, width: 4, big_endian: true, adjust: -4, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &PG);
    /// e.cstr("query", b"SELECT 1")?;
    /// assert_eq!(e.written(), b"SELECT 1\0");
    /// let err = e.cstr("query", b"a\0b").unwrap_err();
    /// assert_eq!(err.to_string(), "field `query`: a NUL-terminated string cannot contain the byte 0x00 (byte 1)");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn cstr(&mut self, field: &'static str, v: &[u8]) -> Result<(), EncodeError> {
        if let Some(position) = memchr::memchr(0, v) {
            return Err(self.byte(field, "a NUL-terminated string", v, position));
        }
        self.out.extend_from_slice(v);
        self.out.push(0);
        Ok(())
    }

    /// Checks a field present only under a condition ([`Op::If`](crate::wire::Op::If)):
    /// `present` says whether the message has a value for it, `required` whether its
    /// condition holds. They must agree, or the decoder would read the message otherwise.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static MQTT: Framing = Framing::Length(LengthHeader { offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// let qos = 1;
    /// e.present("packet_id", true, qos > 0)?;
    /// let err = e.present("packet_id", false, qos > 0).unwrap_err();
    /// assert_eq!(err.to_string(), "field `packet_id`: must be present: its condition holds");
    /// let err = e.present("packet_id", true, false).unwrap_err();
    /// assert_eq!(err.to_string(), "field `packet_id`: must be absent: its condition does not hold");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn present(
        &mut self,
        field: &'static str,
        present: bool,
        required: bool,
    ) -> Result<(), EncodeError> {
        if present != required {
            return Err(self.fail(field, EncodeErrorKind::Condition { present: required }));
        }
        Ok(())
    }

    /// Starts a unit of a fixed size ([`Op::Fixed`](crate::wire::Op::Fixed)), which
    /// [`end_fixed`](Self::end_fixed) ends.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static PG: Framing = Framing::Length(LengthHeader { offset: 1, width: 4, big_endian: true, adjust: -4, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &PG);
    /// e.begin_fixed();
    /// e.lit(b"N"); // no SSL
    /// e.end_fixed(1)?;
    /// e.finish()?;
    /// assert_eq!(out, b"N");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn begin_fixed(&mut self) {
        if self.frame.is_some() || self.fixed.is_some() {
            self.misused(EncodeErrorKind::Frame {
                what: "a fixed unit cannot start inside another unit",
            });
            return;
        }
        self.fixed = Some(self.out.len());
    }

    /// Ends the unit [`begin_fixed`](Self::begin_fixed) started: exactly `n` bytes (at
    /// least one) must have been written since.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    /// # static PG: Framing = Framing::Length(LengthHeader { offset: 1, width: 4, big_endian: true, adjust: -4, skip: 0, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &PG);
    /// e.begin_fixed();
    /// e.lit(b"NO");
    /// let err = e.end_fixed(1).unwrap_err();
    /// assert_eq!(err.to_string(), "a fixed unit holds another number of bytes than its size");
    /// ```
    pub fn end_fixed(&mut self, n: u32) -> Result<(), EncodeError> {
        self.check_misuse()?;
        let Some(start) = self.fixed.take() else {
            return Err(self.frame_error("no fixed unit was started"));
        };
        if n == 0 {
            return Err(self.frame_error("a fixed unit cannot be empty"));
        }
        if self.out.len().checked_sub(start) != Some(n as usize) {
            return Err(
                self.frame_error("a fixed unit holds another number of bytes than its size")
            );
        }
        Ok(())
    }
}
