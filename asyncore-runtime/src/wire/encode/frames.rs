//! The frames of the [`Encoder`]: a header written before the message's ops and a length
//! patched after them, for the protocol's framing or a header of the message's own.

use super::{width_max, write_bin, write_varint, EncodeError, EncodeErrorKind, Encoder};
use crate::wire::{Framing, LengthHeader};

/// A frame being written.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenFrame {
    /// Where it starts in `out`.
    start: usize,
    header: LengthHeader,
    /// Where its length field starts in `out`, once known.
    field: Option<usize>,
}

/// Whether the message writes the header bytes before the length field itself, then
/// calls [`Encoder::length_field`] (its ops see them), rather than `begin_frame` writing
/// the whole header.
fn sees_header(h: &LengthHeader) -> bool {
    h.skip <= h.offset
}

impl Encoder<'_> {
    /// Starts a length-prefixed frame of the protocol's framing: writes the header bytes
    /// the message's ops do not see, with a placeholder length, and
    /// [`end_frame`](Self::end_frame) patches the length.
    ///
    /// With the usual header, whose `skip` covers it whole, that is the whole header: the
    /// `offset` bytes before the length field as zeros, then the field (a varint is
    /// inserted by `end_frame`, once its length is known). With a header whose ops see
    /// the bytes before the length field (`skip` at most `offset`: MQTT's first byte,
    /// PostgreSQL's message type), only the first `skip` bytes (usually none): the message
    /// writes the others, then calls [`length_field`](Self::length_field) where the
    /// length goes.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// static KV: Framing = Framing::Length(LengthHeader { offset: 0, width: 4, big_endian: true, adjust: 0, skip: 4, max: 1024 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &KV);
    /// e.begin_frame();
    /// e.lit(b"\x01");
    /// e.rest("key", b"k").unwrap();
    /// e.end_frame().unwrap();
    /// e.finish().unwrap();
    /// assert_eq!(out, b"\0\0\0\x02\x01k");
    /// ```
    pub fn begin_frame(&mut self) {
        let Framing::Length(h) = *self.framing else {
            self.misused(EncodeErrorKind::Frame {
                what: "a frame cannot be written in a line protocol",
            });
            return;
        };
        self.open_frame(h);
    }

    /// Starts a length-prefixed frame with this header instead of the protocol's framing,
    /// for [`Op::FrameWith`](crate::wire::Op::FrameWith); otherwise exactly
    /// [`begin_frame`](Self::begin_frame). [`end_frame`](Self::end_frame) ends it with
    /// this header.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// // PostgreSQL: typed messages, and an untyped startup packet.
    /// static TYPED: Framing = Framing::Length(LengthHeader { offset: 1, width: 4, big_endian: true, adjust: -4, skip: 0, max: 1 << 20 });
    /// static STARTUP: LengthHeader = LengthHeader { offset: 0, width: 4, big_endian: true, adjust: -4, skip: 4, max: 10_000 };
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &TYPED);
    /// e.begin_frame_with(&STARTUP);
    /// e.bin("code", 80_877_103, 4, true)?; // SSLRequest
    /// e.end_frame()?;
    /// e.finish()?;
    /// assert_eq!(out, b"\0\0\0\x08\x04\xd2\x16\x2f");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn begin_frame_with(&mut self, h: &'static LengthHeader) {
        self.open_frame(*h);
    }

    fn open_frame(&mut self, h: LengthHeader) {
        if self.frame.is_some() || self.fixed.is_some() {
            self.misused(EncodeErrorKind::Frame {
                what: "a frame cannot start inside another",
            });
            return;
        }
        let start = self.out.len();
        let hidden = if sees_header(&h) {
            usize::from(h.skip)
        } else {
            usize::from(h.offset) + usize::from(h.width)
        };
        self.out.resize(start + hidden, 0);
        self.frame = Some(OpenFrame {
            start,
            header: h,
            field: None,
        });
    }

    /// Marks where the open frame's length field goes, for a header whose ops see the
    /// bytes before it ([`Op::LengthField`](crate::wire::Op::LengthField)): the message has
    /// written those `offset` bytes; this reserves the field (`width` bytes, nothing for a
    /// varint, which [`end_frame`](Self::end_frame) inserts), and the body is counted
    /// from after it. Called elsewhere (not at the field's offset, twice, outside such a
    /// frame), the misuse is reported by `end_frame` or [`finish`](Self::finish).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// // MQTT: a type and flags byte, then a varint length.
    /// static MQTT: Framing = Framing::Length(LengthHeader { offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 268_435_455 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// e.begin_frame();
    /// e.lit(&[0x82]); // SUBSCRIBE
    /// e.length_field();
    /// e.bin("packet_id", 10, 2, true)?;
    /// e.end_frame()?;
    /// e.finish()?;
    /// assert_eq!(out, b"\x82\x02\0\x0a");
    ///
    /// let mut e = Encoder::new(&mut out, &MQTT);
    /// e.begin_frame();
    /// e.lit(&[0xc0]);
    /// let err = e.end_frame().unwrap_err(); // no length_field
    /// assert_eq!(err.to_string(), "the length field of a frame was not marked");
    /// # Ok::<(), asyncore_runtime::wire::EncodeError>(())
    /// ```
    pub fn length_field(&mut self) {
        let at = self.out.len();
        let what = match self.frame.as_mut() {
            None => "a length field outside a frame",
            Some(f) if !sees_header(&f.header) => {
                "a length field in a frame whose header the message does not write"
            }
            Some(f) if f.field.is_some() => "a length field written twice",
            Some(f) if at.checked_sub(f.start) != Some(usize::from(f.header.offset)) => {
                "a length field away from its offset in the header"
            }
            Some(f) => {
                f.field = Some(at);
                let width = usize::from(f.header.width);
                self.out.resize(at + width, 0);
                return;
            }
        };
        self.misused(EncodeErrorKind::Frame { what });
    }

    /// Ends the frame [`begin_frame`](Self::begin_frame) or
    /// [`begin_frame_with`](Self::begin_frame_with) started: computes the body length (the
    /// bytes after the length field), checks it against the header's maximum and the
    /// field's width, and writes the field (the inverse of the decoder: the field holds
    /// the body length minus `adjust`).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Encoder, Framing, LengthHeader};
    ///
    /// // A 2-byte little-endian length that counts itself (adjust -2).
    /// static F: Framing = Framing::Length(LengthHeader { offset: 0, width: 2, big_endian: false, adjust: -2, skip: 2, max: 4 });
    /// let mut out = Vec::new();
    /// let mut e = Encoder::new(&mut out, &F);
    /// e.begin_frame();
    /// e.lit(b"abc");
    /// e.end_frame().unwrap();
    /// assert_eq!(e.written(), b"\x05\0abc");
    ///
    /// e.begin_frame();
    /// e.lit(b"too long");
    /// let err = e.end_frame().unwrap_err();
    /// assert_eq!(err.to_string(), "a frame body of 8 bytes is over the limit of 4 bytes");
    /// ```
    pub fn end_frame(&mut self) -> Result<(), EncodeError> {
        self.check_misuse()?;
        let Some(f) = self.frame else {
            return Err(self.frame_error("no frame was started"));
        };
        self.frame = None;
        let h = f.header;
        let field_at = if sees_header(&h) {
            match f.field {
                Some(at) => at,
                None => return Err(self.frame_error("the length field of a frame was not marked")),
            }
        } else {
            f.start + usize::from(h.offset)
        };
        let body = self
            .out
            .len()
            .saturating_sub(field_at + usize::from(h.width));
        if body > h.max as usize {
            return Err(self.fail(
                "",
                EncodeErrorKind::TooLong {
                    what: "a frame body",
                    len: body,
                    max: h.max as usize,
                },
            ));
        }
        let value = body as i128 - i128::from(h.adjust);
        // Ops that start inside the length field cannot be written.
        let inside = !sees_header(&h);
        if h.width == 0 {
            let Ok(value) = u64::try_from(value) else {
                return Err(self.range("", value, 0, u64::MAX.into()));
            };
            let mut varint = Vec::with_capacity(10);
            write_varint(&mut varint, value);
            if inside && usize::from(h.skip) < usize::from(h.offset) + varint.len() {
                return Err(self.hidden_header());
            }
            self.out.splice(field_at..field_at, varint);
            return Ok(());
        }
        if inside && usize::from(h.skip) < usize::from(h.offset) + usize::from(h.width) {
            return Err(self.hidden_header());
        }
        let Some(max) = width_max(h.width) else {
            return Err(self.fail("", EncodeErrorKind::Width { width: h.width }));
        };
        let value = match u64::try_from(value) {
            Ok(v) if v <= max => v,
            _ => return Err(self.range("", value, 0, max.into())),
        };
        let mut field = Vec::new();
        write_bin(&mut field, value, h.width, h.big_endian);
        let Some(slot) = self.out.get_mut(field_at..field_at + field.len()) else {
            return Err(self.frame_error("a frame's length field was overwritten"));
        };
        slot.copy_from_slice(&field);
        Ok(())
    }

    fn hidden_header(&mut self) -> EncodeError {
        self.fail(
            "",
            EncodeErrorKind::Frame {
                what: "a frame whose ops start inside its length field cannot be encoded",
            },
        )
    }
}
